#!/usr/bin/env bash
# Runs loadgen compiled for this machine's CPU against the portable release
# server, built as the README builds it.
#
#   bench/scripts/native-loadgen.sh SCENARIO [loadgen flags...]
#   bench/scripts/native-loadgen.sh --split-cores v3 --spawn --v3-curve 0.5x
#
# The load generator stands in for clients on other machines, so what it
# costs is a limit of the measurement, not a figure of the server. Built
# portably, the client crypto's AVX2 code is not inlined (the `chacha20` and
# `poly1305` backends call each intrinsic as a function) and sealing and
# opening take about a quarter of the generator's time; with
# `-C target-cpu=native` they take a few percent (BENCHMARKS.md, "A load
# generator built for its CPU"). The server keeps the README's portable
# build: `--server-bin target/release/server` is added to the flags, so the
# scenario must be one that starts servers (`--spawn`, cluster, idle).
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release -p sealpost-server >/dev/null
RUSTFLAGS="-C target-cpu=native" CARGO_TARGET_DIR=target/native \
    cargo build --release -p sealpost-bench >/dev/null
exec target/native/release/loadgen "$@" --server-bin target/release/server
