//! `client watch`: prints what the server pushes until Ctrl-C. A batch is
//! acknowledged once the watcher handed it over, before it is printed, so
//! when printing fails (standard output full or closed) the watch stops
//! and keeps every notice it took but did not show for the next `inbox`,
//! `watch` or full-screen client to show first.

use std::io::Write;

use anyhow::Context;
use tokio::sync::mpsc;

use crate::client::Client;
use crate::event::Event;
use crate::script::{Flags, cancel_on_signal};

pub(crate) async fn watch(client: &Client, flags: Flags) -> anyhow::Result<()> {
    let stop = cancel_on_signal();
    let (tx, mut rx) = mpsc::unbounded_channel();
    // Subscribed before the watcher connects, so no change is missed.
    let link = client.link();
    let watcher = {
        let client = client.clone();
        let stop = stop.clone();
        tokio::spawn(async move { client.watch(tx, stop).await })
    };
    if !flags.json {
        eprintln!("watching for messages; Ctrl-C stops");
    }
    let json = flags.json;
    tokio::spawn(crate::link::follow(link, stop.clone(), move |change| {
        // A line about the connection that cannot be written is not worth
        // stopping for: the next notice's write fails the same way.
        let _ = match json {
            true => writeln!(std::io::stdout().lock(), "{}", change.json()),
            false => writeln!(std::io::stderr().lock(), "{}", change.line()),
        };
    }));
    let mut failed = None;
    while let Some(first) = rx.recv().await {
        // What arrived together is marked shown together (one read
        // receipt a person for it); the rooms are told a moment later, one
        // receipt a room for what showed meanwhile.
        let batch = crate::inbox::arrived_together(first, &mut rx);
        if let Err(e) = print(&batch, json) {
            stop.cancel();
            failed = Some((e, batch));
            break;
        }
        client.shown_live(&batch).await;
    }
    let ended = watcher.await;
    if let Some((e, mut unshown)) = failed {
        // The watcher has ended: what it handed over after the failed
        // batch is all here.
        while let Ok(event) = rx.try_recv() {
            unshown.push(event);
        }
        client
            .keep_unshown(&unshown)
            .await
            .context("keeping what could not be shown")?;
        client.send_receipts_before_leaving().await;
        return Err(anyhow::Error::new(e).context(
            "cannot write to standard output; what was not shown is kept for the next `client inbox`",
        ));
    }
    client.send_receipts_before_leaving().await;
    ended.context("the watcher failed")??;
    Ok(())
}

/// Writes and flushes one batch: one JSON object a line, or the lines a
/// person reads.
fn print(batch: &[Event], json: bool) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        for e in batch {
            serde_json::to_writer(&mut out, e)?;
            out.write_all(b"\n")?;
        }
    } else {
        for line in crate::rejections::event_lines(batch, crate::output::event) {
            writeln!(out, "{line}")?;
        }
    }
    out.flush()
}
