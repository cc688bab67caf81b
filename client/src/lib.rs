//! The Sealpost client library: everything the `client` binary, its menu,
//! its self-test and the end-to-end tests share.
//!
//! - [`connection`]: one authenticated version-3 connection (pipelined
//!   requests, pushed deliveries).

#![forbid(unsafe_code)]

pub mod connection;
