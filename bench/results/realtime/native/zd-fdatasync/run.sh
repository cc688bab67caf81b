#!/usr/bin/env bash
# one curve run with the server's sync calls traced
set -u
cd /work/main
N=$1; BIN=${2:-target/release/server}
target/native/release/loadgen --split-cores v3 --spawn --v3-seconds 5 --v3-curve 5000,0.5x --server-bin $BIN --json /tmp/fs/run$N.json > /tmp/fs/run$N.out 2>&1 &
LG=$!
for i in $(seq 1 100); do P=$(pgrep '^server' | head -1); [ -n "$P" ] && break; sleep 0.1; done
echo "server pid $P"
perf record -q -o /tmp/fs/run$N.perf -e syscalls:sys_enter_fdatasync,syscalls:sys_exit_fdatasync,syscalls:sys_enter_fsync,syscalls:sys_exit_fsync -p $P > /dev/null 2>&1 &
PR=$!
wait $LG
sleep 0.5
kill -INT $PR 2>/dev/null; wait $PR
