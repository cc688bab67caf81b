#!/bin/bash
# interleaved: shipped server vs experiment server with SEALPOST_EXP_GQI
cd /work/main
out=/work/main/bench/results/realtime/native/zg-session
for r in 1 2 3 4; do
  for v in ship gqi1; do
    if [ $v = ship ]; then bin=/work/main/target/release/server; env=""; else bin=/work/wt-exp/target/release/server; env="SEALPOST_EXP_GQI=1"; fi
    env $env timeout 120 target/native/release/loadgen --split-cores v3 --spawn --v3-seconds 5 --v3-curve 5000,0.5x --server-bin $bin --json $out/$v-$r.json > $out/$v-$r.out 2>&1
    echo "$v $r $(sed -n '/offered msg/,/where the time/p' $out/$v-$r.out | sed -n 2,3p | tr -s ' ' | tr '\n' '|')"
  done
done
