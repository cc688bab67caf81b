#!/usr/bin/env bash
# Profiles the release server under the v2 workload with perf (cpu-clock
# sampling: this VM has no hardware counters). Loopback only; every process
# it starts is stopped at the end.
#
#   bench/scripts/profile-v2.sh [OUT_DIR] [extra loadgen v2 flags...]
#
# Writes OUT_DIR/server.perf.data (call graphs of the server process),
# OUT_DIR/system.perf.data (whole machine, no call graphs), the reports
# OUT_DIR/categories.txt (bench/scripts/perf_categories.py), OUT_DIR/server-self.txt,
# OUT_DIR/system-comm.txt, OUT_DIR/syscalls.txt (syscall counts of the
# server during the run) and OUT_DIR/loadgen.json.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-/tmp/sealpost-profile}
shift || true
mkdir -p "$out"
data=$(mktemp -d)
server_log="$out/server.log"

cargo build --release -p sealpost-server -p sealpost-bench >/dev/null
target/release/server --port 0 --bind 127.0.0.1 --data-dir "$data/data" --legacy-v2 \
    --log-level info 2>"$server_log" &
server_pid=$!
cleanup() {
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    rm -rf "$data"
}
trap cleanup EXIT

addr=""
for _ in $(seq 1 100); do
    addr=$(grep -o 'address=[0-9.:]*' "$server_log" | head -1 | cut -d= -f2 || true)
    [ -n "$addr" ] && break
    sleep 0.1
done
[ -n "$addr" ] || { echo "server did not start" >&2; exit 1; }

# Warm up (registrations, page cache), then profile one full run.
target/release/loadgen v2 --server "$addr" --messages 2000 >/dev/null
perf record -F 999 --call-graph dwarf,32768 -p "$server_pid" -o "$out/server.perf.data" \
    2>/dev/null &
perf_server=$!
perf record -F 999 -a -o "$out/system.perf.data" 2>/dev/null &
perf_system=$!
perf stat -p "$server_pid" -o "$out/syscalls.txt" -e 'syscalls:sys_enter_fsync' \
    -e 'syscalls:sys_enter_fdatasync' -e 'syscalls:sys_enter_pwrite64' \
    -e 'syscalls:sys_enter_pread64' -e 'syscalls:sys_enter_accept4' \
    -e 'syscalls:sys_enter_futex' -e 'syscalls:sys_enter_epoll_ctl' \
    -e 'syscalls:sys_enter_epoll_wait' -e 'context-switches' -e 'task-clock' 2>/dev/null &
perf_stat=$!
sleep 1
target/release/loadgen v2 --server "$addr" --json "$out/loadgen.json" "$@"
kill -INT "$perf_server" "$perf_system" "$perf_stat"
wait "$perf_server" "$perf_system" "$perf_stat" 2>/dev/null || true

perf report -i "$out/server.perf.data" --no-children --sort symbol --stdio \
    --percent-limit 0.7 -g none 2>/dev/null >"$out/server-self.txt"
perf script -i "$out/server.perf.data" 2>/dev/null \
    | python3 bench/scripts/perf_categories.py >"$out/categories.txt"
perf report -i "$out/system.perf.data" --sort comm,dso --stdio \
    --percent-limit 1 2>/dev/null >"$out/system-comm.txt"
cat "$out/categories.txt"
echo "profile written to $out"
