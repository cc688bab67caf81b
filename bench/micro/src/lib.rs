//! Nothing but a home for the micro-benchmarks in `benches/`:
//! `cargo bench -p sealpost-micro` (see BENCHMARKS.md).
