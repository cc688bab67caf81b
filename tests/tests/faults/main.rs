//! Storage faults. For each: nothing answered is lost, reads and
//! acknowledgements go on, the refusal names the condition, and the server
//! recovers by itself when it clears (or, after a failed database sync,
//! refuses writes until restarted).
//!
//! Failpoints (the server's `failpoints` feature) are global to a process, so
//! these tests have their own binary and take [`fail::FailScenario`] (a lock)
//! one at a time.

mod client;
mod disk;
mod injected;
mod network;
