#!/usr/bin/env bash
# Interleaved runs: the release server as shipped (wait 0) against one
# whose acknowledgement-only batches wait up to $1 µs for company
# (SEALPOST_ACK_WAIT_US, an experiment build). Usage: ab.sh WAIT ROUNDS
set -euo pipefail
cd "$(dirname "$0")/../../../../.."
out=bench/results/realtime/native/t-ack-wait
for round in $(seq 1 "$2"); do
    for wait in 0 "$1"; do
        SEALPOST_ACK_WAIT_US=$wait target/native/release/loadgen --split-cores v3 --spawn \
            --v3-seconds 5 --v3-curve 5000,0.5x --server-bin target/release/server \
            --json "$out/w$wait-$round.json" > "$out/w$wait-$round.txt" 2>&1
        echo "w$wait-$round: $(grep -A3 'offered msg/s' "$out/w$wait-$round.txt" | tail -2 | tr -s ' ' | tr '\n' '|')"
    done
done
