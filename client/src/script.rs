//! What every scripted command shares: printing one JSON value, and
//! reading a message's text from standard input.

use std::io::Read;

use anyhow::{Context, bail};

/// Prints `value` as JSON on standard output.
pub(crate) fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// The text of a message from standard input (not empty).
pub(crate) fn read_stdin() -> anyhow::Result<String> {
    let mut buf = String::new();
    std::io::stdin()
        .read_to_string(&mut buf)
        .context("reading the text from standard input")?;
    if buf.is_empty() {
        bail!("the text is empty");
    }
    Ok(buf)
}
