#!/usr/bin/env bash
# usage: run.sh on|off OUT
set -u
if [ "$1" = on ]; then
  sysctl -q -w net.core.rps_sock_flow_entries=32768
  echo 32768 > /sys/class/net/lo/queues/rx-0/rps_flow_cnt
  echo 3 > /sys/class/net/lo/queues/rx-0/rps_cpus
else
  echo 0 > /sys/class/net/lo/queues/rx-0/rps_cpus
  echo 0 > /sys/class/net/lo/queues/rx-0/rps_flow_cnt
  sysctl -q -w net.core.rps_sock_flow_entries=0
fi
cd /work/main
timeout 300 target/native/release/loadgen --split-cores v3 --spawn --v3-seconds 5 --v3-curve 5000,0.5x --server-bin target/release/server --json "$2.json" > "$2.out" 2> "$2.err"
echo rc=$? >> "$2.err"
