#!/bin/bash
# Runs of issue 18's curve against the shipped release server, each with
# the speed probe before it and each core's stolen time sampled every 20 ms
# beside it (steal-sampler.py), laid beside the 100 ms windows of each phase
# afterwards (steal-windows.py). Everything goes into the folder given.
#   bench/scripts/realtime-runs.sh OUT_DIR      (RUNS="1 2 3 4" by default;
#   CURVE="5000,0.5x" by default: rates in msg/s or shares of the maximum)
set -u
out=$(realpath "$1")
cd "$(dirname "$0")/../.."
for r in ${RUNS:-1 2 3 4}; do
  python3 bench/scripts/speed-probe.py "run $r" | tee $out/speed-$r.txt
  python3 bench/scripts/steal-sampler.py 45 > $out/steal-$r.tsv &
  sampler=$!
  timeout 120 target/native/release/loadgen --split-cores v3 --spawn --v3-seconds 5 --v3-curve ${CURVE:-5000,0.5x} --server-bin target/release/server --json $out/run-$r.json > $out/run-$r.out 2>&1
  kill $sampler 2>/dev/null; wait $sampler 2>/dev/null
  echo "run $r $(sed -n '/offered msg/,/where the time/p' $out/run-$r.out | sed '1d;$d' | tr -s ' ' | tr '\n' '|')"
  python3 bench/scripts/steal-windows.py $out/run-$r.json $out/steal-$r.tsv > $out/windows-$r.txt
  grep "^offered" $out/windows-$r.txt
done
