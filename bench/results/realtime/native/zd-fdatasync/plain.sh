#!/usr/bin/env bash
# one curve run, untraced; disk requests sampled each 0.5 s
set -u
cd /work/main
N=$1; BIN=$2
( while true; do echo "$(date +%s.%N) $(cat /sys/block/vda/stat)"; sleep 0.5; done ) > /tmp/fs/disk$N.txt &
DS=$!
target/native/release/loadgen --split-cores v3 --spawn --v3-seconds 5 --v3-curve 5000,0.5x --server-bin $BIN --json /tmp/fs/run$N.json > /tmp/fs/run$N.out 2>&1
kill $DS
grep -A3 "latency curve" /tmp/fs/run$N.out | tail -2
grep "slower than 5 ms" /tmp/fs/run$N.out | tail -1
