#!/bin/bash
# run.sh NAME MODE  (MODE: base | poll)
cd /work/main
name=$1; mode=$2
if [ "$mode" = poll ]; then python3 /tmp/q19/pm.py 0 & pm=$!; sleep 0.3; fi
s0=$(grep -E '^cpu[01] ' /proc/stat)
target/native/release/loadgen --split-cores v3 --spawn --v3-seconds 5 --v3-curve 5000,0.5x --server-bin target/release/server --json /tmp/q19/$name.json > /tmp/q19/$name.txt 2>&1
[ -n "$pm" ] && kill $pm
u1=$(cat /sys/devices/system/cpu/cpu1/cpuidle/state0/usage)
echo "$name $mode"; grep -A2 "offered msg/s" /tmp/q19/$name.txt | tail -2; grep -o "end to end[^;]*" /tmp/q19/$name.txt | head -1; grep "[0-9],[0-9]* msg/s end to end" -o /tmp/q19/$name.txt
