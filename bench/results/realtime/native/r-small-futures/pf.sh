#!/bin/bash
# pf.sh NAME BIN: perf of the server's core during a 40,000 msg/s phase
cd /work/main
(target/native/release/loadgen --split-cores v3 --spawn --v3-seconds 8 --v3-curve 40000 --server-bin $2 > /tmp/q19/$1-pf.txt 2>&1 &)
sleep 1; sleep 9
perf record -C 1 -g -F 999 -o /tmp/q19/$1.data -- sleep 5 2>/dev/null >/dev/null
sleep 4
echo "== $1"; grep -A1 "offered msg/s" /tmp/q19/$1-pf.txt | tail -1
perf report -i /tmp/q19/$1.data --no-children --sort comm -q -g none 2>/dev/null | head -3
perf report -i /tmp/q19/$1.data --comm server-worker --no-children --sort sym -q -g none 2>/dev/null | grep -E "memmove|memcpy|clock_gettime|Session::run" 
