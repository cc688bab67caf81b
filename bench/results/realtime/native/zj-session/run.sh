#!/bin/bash
# Runs of the shipped server with each core's stolen time sampled every 20 ms
# beside them (bench/scripts/steal-sampler.py), laid beside the 100 ms
# windows of each phase afterwards (bench/scripts/steal-windows.py).
cd /work/main
out=/work/main/bench/results/realtime/native/zj-session
for r in ${RUNS:-1 2 3 4}; do
  # How fast each core is this minute (runs 5 on; the probe script from run 9 on).
  python3 bench/scripts/speed-probe.py "run $r" | tee $out/speed-$r.txt
  python3 bench/scripts/steal-sampler.py 45 > $out/steal-$r.tsv &
  sampler=$!
  timeout 120 target/native/release/loadgen --split-cores v3 --spawn --v3-seconds 5 --v3-curve 5000,0.5x --server-bin target/release/server --json $out/run-$r.json > $out/run-$r.out 2>&1
  kill $sampler 2>/dev/null; wait $sampler 2>/dev/null
  echo "run $r $(sed -n '/offered msg/,/where the time/p' $out/run-$r.out | sed -n 2,3p | tr -s ' ' | tr '\n' '|')"
  python3 bench/scripts/steal-windows.py $out/run-$r.json $out/steal-$r.tsv > $out/windows-$r.txt
  grep "^offered" $out/windows-$r.txt
done
