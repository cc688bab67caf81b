//! The file offers waiting for a decision, as `files` lists them for a
//! person (each dated as `inbox` dated it).

/// The held file offers as lines for a person.
pub fn held_offers(offers: &[crate::downloads::HeldOffer]) -> String {
    if offers.is_empty() {
        return "no file offers wait for a decision".into();
    }
    let mut text = String::new();
    for o in offers {
        let who = o
            .from_name
            .as_deref()
            .map(|n| crate::display::escape_line(n).into_owned())
            .unwrap_or_else(|| format!("client {}", o.from));
        if !text.is_empty() {
            text.push('\n');
        }
        let room = o
            .room
            .as_deref()
            .map(|r| format!(" in #{}", crate::display::escape_line(r)))
            .unwrap_or_default();
        text.push_str(&format!(
            "{:>6}  {} ({}) from {who}{room}, {}: {}",
            o.message_id,
            crate::display::escape_line(&o.name),
            crate::output::size(o.size),
            crate::output::sent_time(o.sender_time_ms, o.sent_at_ms),
            crate::output::held_because(o.reason, None)
        ));
    }
    text
}
