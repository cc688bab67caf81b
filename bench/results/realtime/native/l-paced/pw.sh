#!/bin/bash
# pw.sh OUT BIN : perf of the server's core over a whole run (max then half load)
cd /work/main
out=$1; bin=$2; mkdir -p $out
perf record -C 1 -F 999 -g -o $out/all.data -- target/native/release/loadgen --split-cores v3 --spawn --v3-seconds 6 --v3-curve 0.5x --server-bin $bin --json $out/lg.json > $out/lg.txt 2>&1
grep -E '^ +[0-9,]+ +[0-9]+%|end to end' $out/lg.txt
for s in 0 1 2 3 4 5 6 7 8 9; do echo "slice $s: $(perf report -i $out/all.data --time $((s*10))%/10-$((s*10+10))%/10 --no-children --sort comm -q -g none 2>/dev/null | head -4 | tr -s ' ' | tr '\n' ';')"; done
