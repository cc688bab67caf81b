#!/bin/bash
cd /work/main
name=$1; mode=$2
target/native/release/loadgen --split-cores v3 --spawn --v3-seconds 5 --v3-curve 5000,0.5x --server-bin target/release/server --json /tmp/b18/$name.json > /tmp/b18/$name.txt 2>&1 &
lg=$!
pid=""
for i in $(seq 1 200); do pid=$(pgrep -x server | head -1); [ -n "$pid" ] && break; sleep 0.02; done
sleep 0.3
if [ "$mode" = batch ]; then chrt -a -b -p 0 $pid; fi
chrt -p $(ls /proc/$pid/task | tail -1) | head -1 > /tmp/b18/$name.pol
cs() { cat /proc/$pid/task/*/status 2>/dev/null | awk '/^voluntary_ctxt/ {v+=$2} /nonvoluntary/ {n+=$2} END {print v, n}'; }
prev=$(cs)
while kill -0 $lg 2>/dev/null; do sleep 1; cur=$(cs); echo "$prev $cur" | awk '{printf "%d/%d ", $3-$1, $4-$2}' >> /tmp/b18/$name.cs; prev=$cur; done
echo "$name $mode $(cat /tmp/b18/$name.pol)"; echo "cs/s (vol/invol): $(cat /tmp/b18/$name.cs)"
grep -A3 "offered msg/s" /tmp/b18/$name.txt | head -3 | tail -2
