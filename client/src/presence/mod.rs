//! Who is online, as this client sees it (PROTOCOL.md "141 presence"):
//! `client online`, the marks of `room members`, and the presence events
//! of `watch` and the menu. A live client (watch, the menu) is shown as
//! online unless the user chose `--invisible`; a one-shot command never is.
//!
//! `online`: what the client keeps of presence and the `impl Client` block
//! that lists, starts a live connection's presence and turns pushes into
//! events. The wire is `connection::presence`'s business.

mod online;

pub use online::OnlineUser;
pub(crate) use online::PresenceState;
