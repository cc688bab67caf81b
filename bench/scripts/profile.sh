#!/usr/bin/env bash
# Profiles a loadgen scenario against the release server with perf
# (cpu-clock sampling: this VM has no hardware counters). Loopback only;
# every process it starts is stopped at the end.
#
#   bench/scripts/profile.sh SCENARIO [OUT_DIR] [extra loadgen flags...]
#
# SCENARIO is v2, v3 or file. Writes to OUT_DIR (default
# /tmp/sealpost-profile-SCENARIO):
#   system.perf.data   the whole machine with DWARF call graphs (server,
#                      load generator and, for file, the client processes)
#   system-comm.txt    shares by thread name and library
#   categories.txt     bench/scripts/perf_categories.py over every thread
#   server-categories.txt   the same over the server's threads only
#   client-categories.txt   (file) the client processes' threads only
#   loadgen-categories.txt  (v2, v3) the load generator's threads only
#   syscalls.txt       syscall counts of the server process during the run
#   loadgen.json       the scenario's figures
set -euo pipefail
cd "$(dirname "$0")/../.."
scenario=${1:?usage: profile.sh v2|v3|file [OUT_DIR] [loadgen flags...]}
shift
case "$scenario" in
v2) server_flags=(--legacy-v2) ;;
v3 | file) server_flags=() ;;
*) echo "unknown scenario $scenario (v2, v3 or file)" >&2; exit 2 ;;
esac
out=${1:-/tmp/sealpost-profile-$scenario}
shift || true
mkdir -p "$out"
data=$(mktemp -d)
server_log="$out/server.log"

cargo build --release -p sealpost-server -p sealpost-client -p sealpost-bench >/dev/null
target/release/server --port 0 --bind 127.0.0.1 --data-dir "$data/data" "${server_flags[@]}" \
    --log-level info 2>"$server_log" &
server_pid=$!
perf_pids=()
cleanup() {
    for p in "${perf_pids[@]}"; do kill -INT "$p" 2>/dev/null || true; done
    kill "$server_pid" 2>/dev/null || true
    wait 2>/dev/null || true
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

if [ "$scenario" = v2 ]; then
    # Warm up (registrations, page cache) before the profiled run.
    target/release/loadgen v2 --server "$addr" --messages 2000 >/dev/null
fi
perf record -F 499 -a --call-graph dwarf,16384 -o "$out/system.perf.data" 2>/dev/null &
perf_pids+=($!)
perf stat -p "$server_pid" -o "$out/syscalls.txt" -e 'syscalls:sys_enter_fsync' \
    -e 'syscalls:sys_enter_fdatasync' -e 'syscalls:sys_enter_pwrite64' \
    -e 'syscalls:sys_enter_pread64' -e 'syscalls:sys_enter_accept4' \
    -e 'syscalls:sys_enter_futex' -e 'syscalls:sys_enter_epoll_ctl' \
    -e 'syscalls:sys_enter_epoll_wait' -e 'syscalls:sys_enter_writev' \
    -e 'syscalls:sys_enter_write' -e 'syscalls:sys_enter_recvfrom' \
    -e 'syscalls:sys_enter_read' -e 'context-switches' -e 'task-clock' 2>/dev/null &
perf_pids+=($!)
sleep 1
target/release/loadgen "$scenario" --server "$addr" --json "$out/loadgen.json" "$@"
kill -INT "${perf_pids[@]}"
wait "${perf_pids[@]}" 2>/dev/null || true
perf_pids=()

perf report -i "$out/system.perf.data" --sort comm,dso --stdio -g none \
    --percent-limit 1 2>/dev/null >"$out/system-comm.txt"
perf script -i "$out/system.perf.data" 2>/dev/null >"$out/system.script"
python3 bench/scripts/perf_categories.py <"$out/system.script" >"$out/categories.txt"
python3 bench/scripts/perf_categories.py --comm '^(server|store-writer)' \
    <"$out/system.script" >"$out/server-categories.txt"
if [ "$scenario" = file ]; then
    python3 bench/scripts/perf_categories.py --comm '^(client|download-writer)' \
        <"$out/system.script" >"$out/client-categories.txt"
else
    python3 bench/scripts/perf_categories.py --comm '^loadgen' \
        <"$out/system.script" >"$out/loadgen-categories.txt"
fi
rm -f "$out/system.script"
cat "$out/categories.txt"
echo "profile written to $out"
