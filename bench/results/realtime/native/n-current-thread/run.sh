#!/usr/bin/env bash
# Five interleaved pairs, the runtime chosen by SEALPOST_EXP_RT (multi|current).
# The experiment build (not committed) made startup::runtime start with
#   if std::env::var("SEALPOST_EXP_RT").as_deref() == Ok("current") {
#       tokio::runtime::Builder::new_current_thread() } else { ...new_multi_thread() }
set -u
cd /work/main
# Pairs 1-2 ran the shipped runtime first, pairs 3-5 the current-thread one.
for i in 1 2 3 4 5; do
  order="multi current"; [ "$i" -ge 3 ] && order="current multi"
  for rt in $order; do
    SEALPOST_EXP_RT=$rt timeout 120 target/native/release/loadgen --split-cores v3 --spawn \
      --v3-seconds 5 --v3-curve 5000,0.5x --server-bin target/release/server \
      > "$rt-$i.json" 2> "$rt-$i.err"
  done
done
