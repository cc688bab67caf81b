#!/bin/bash
# Runs of the shipped server with each core's stolen time sampled every 20 ms
# beside them (bench/scripts/steal-sampler.py), laid beside the 100 ms
# windows of each phase afterwards (bench/scripts/steal-windows.py).
cd /work/main
out=/work/main/bench/results/realtime/native/zh-steal
for r in ${RUNS:-1 2 3 4}; do
  # How fast each core is this minute: a fixed amount of hashing.
  for c in 0 1; do
    taskset -c $c python3 -c "import hashlib,time; b=b'x'*1048576; h=hashlib.sha256(); t=time.perf_counter(); [h.update(b) for _ in range(300)]; print('run $r core $c: sha256 %.0f MB/s' % (300*1.048576/(time.perf_counter()-t)))"
  done | tee $out/speed-$r.txt
  python3 bench/scripts/steal-sampler.py 45 > $out/steal-$r.tsv &
  sampler=$!
  timeout 120 target/native/release/loadgen --split-cores v3 --spawn --v3-seconds 5 --v3-curve 5000,0.5x --server-bin target/release/server --json $out/run-$r.json > $out/run-$r.out 2>&1
  kill $sampler 2>/dev/null; wait $sampler 2>/dev/null
  echo "run $r $(sed -n '/offered msg/,/where the time/p' $out/run-$r.out | sed -n 2,3p | tr -s ' ' | tr '\n' '|')"
  python3 bench/scripts/steal-windows.py $out/run-$r.json $out/steal-$r.tsv > $out/windows-$r.txt
  grep "^offered" $out/windows-$r.txt
done
