#!/bin/bash
# ab.sh NAME BIN
cd /work/main
target/native/release/loadgen --split-cores v3 --spawn --v3-seconds 5 --v3-curve 5000,40000,0.5x --server-bin $2 --json /tmp/q19/$1.json > /tmp/q19/$1.txt 2>&1
echo "== $1 $(grep -o '[0-9,]* msg/s end to end' /tmp/q19/$1.txt)"; grep -A3 "offered msg/s" /tmp/q19/$1.txt | tail -3
