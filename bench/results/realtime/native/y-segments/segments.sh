#!/usr/bin/env bash
# Loopback TCP segments per second (nstat, once a second) during one
# `loadgen --split-cores v3 --spawn` run: how many segments a message
# costs at the maximum, at 5,000 msg/s and at half load.
#   segments.sh OUT_PREFIX   (run from the repository's root)
set -euo pipefail
out=${1:?usage: segments.sh OUT_PREFIX}
target/native/release/loadgen --split-cores v3 --spawn --v3-seconds 8 \
    --v3-curve 5000,0.5x --server-bin target/release/server \
    --json "$out.json" >"$out.out" 2>&1 &
gen=$!
nstat -n
: >"$out.nstat"
for i in $(seq 1 60); do
    sleep 1
    kill -0 "$gen" 2>/dev/null || break
    { echo "second $i"; nstat 2>/dev/null | grep -E "TcpOutSegs|TcpExtTCPPureAcks|TcpExtDelayedACKs" || true; } >>"$out.nstat"
done
wait "$gen"
