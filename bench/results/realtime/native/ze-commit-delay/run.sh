#!/usr/bin/env bash
set -u
cd /work/main
for r in 1 2 3 4; do
 for d in 0 300 700; do
  SEALPOST_COMMIT_DELAY_US=$d SEALPOST_COMMIT_SIBLINGS=32 timeout 300 target/native/release/loadgen --split-cores v3 --spawn --v3-seconds 5 --v3-curve 5000,0.5x --server-bin /work/exp/target/release/server --json /tmp/cd2/d$d-r$r.json > /tmp/cd2/d$d-r$r.txt 2>&1
  echo "d=$d r=$r $(date +%T)" >> /tmp/cd2/progress
 done
done
