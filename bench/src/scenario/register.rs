//! Registering many users at once, for the scenarios that hold many
//! connections (`idle`, `presence`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::bail;
use client::connection;
use client::crypto::Identity;
use protocol::Name;

use crate::pool;

/// Makes `count` identities (off the async workers) and registers them as
/// `PREFIX<tag>-<i>` with `concurrency` registrations at once; their ids in
/// the same order, and how long registering took. Any failed registration
/// fails the whole.
///
/// # Errors
/// A registration failed, or the deadline passed first.
pub(crate) async fn register_many(
    addr_text: &str,
    count: usize,
    prefix: &'static str,
    concurrency: usize,
    deadline: Instant,
) -> anyhow::Result<(Vec<Identity>, Vec<protocol::ClientId>, Duration)> {
    let identities: Arc<Vec<Identity>> = Arc::new(
        tokio::task::spawn_blocking(move || {
            (0..count)
                .map(|_| Identity::generate())
                .collect::<Result<Vec<_>, _>>()
        })
        .await??,
    );
    let tag: u32 = rand::random();
    let registered = {
        let (identities, addr_text) = (identities.clone(), addr_text.to_string());
        pool::run(count, concurrency, deadline, move |i| {
            let (identities, addr_text) = (identities.clone(), addr_text.clone());
            async move {
                let name = Name::new(format!("{prefix}{tag:08x}-{i}"))?;
                Ok(connection::register(&addr_text, &name, &identities[i].bundle()).await?)
            }
        })
        .await
    };
    if registered.errors() + registered.not_run() > 0 {
        bail!(
            "{} of {count} registrations failed; first: {}",
            registered.errors() + registered.not_run(),
            registered
                .first_error()
                .unwrap_or_else(|| "deadline".into())
        );
    }
    let ids = registered
        .results
        .iter()
        .filter_map(|r| r.as_ref().and_then(|r| r.as_ref().ok().copied()))
        .collect();
    let identities =
        Arc::try_unwrap(identities).map_err(|_| anyhow::anyhow!("identities still shared"))?;
    Ok((identities, ids, registered.elapsed))
}
