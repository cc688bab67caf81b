#!/bin/bash
# pwsum.sh DIR : per-second samples of the server's threads on its core
cd $1
perf script -i all.data -F comm,time 2>/dev/null | awk '{t=int($NF); c=$1; if (c ~ /writer/) w[t]++; else if (c ~ /worker/) k[t]++; else o[t]++; a[t]++} END {for (t in a) printf "%d writer %d worker %d other %d\n", t, w[t], k[t], o[t]}' | sort -n
grep -E '^ +[0-9,]+ +[0-9]+%|end to end' lg.txt
