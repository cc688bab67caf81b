//! Transfer progress in the menu: a bar for a transfer the user started
//! (the command in the foreground), one line for a file that arrives while
//! the user types, as a bar would break the line being edited.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::terminal::Printer;
use crate::client::Progress;
use crate::output;

/// Progress bars for transfers the user started (the command in the
/// foreground); a line for a file that arrives while the user types, as a
/// bar would break the line being edited.
pub(super) struct MenuProgress {
    pub(super) bars: Arc<dyn Progress>,
    pub(super) foreground: AtomicBool,
    pub(super) printer: Printer,
}

impl MenuProgress {
    /// A bar in the foreground, else one line: `verb` (receiving, sending)
    /// and the label.
    fn begin(&self, verb: &str, label: &str, total: u64, done: u64) {
        if self.foreground.load(Ordering::Acquire) {
            self.bars.start(label, total, done);
        } else {
            // The label is escaped by whoever made it. The total counts the
            // encryption's overhead too: shown only where that is negligible.
            let size = if total >= 1_000_000 {
                format!(" (about {})", output::size(total))
            } else {
                String::new()
            };
            self.printer.print(format!("{verb} {label}{size}..."));
        }
    }
}

impl Progress for MenuProgress {
    fn start(&self, label: &str, total: u64, done: u64) {
        self.begin("receiving", label, total, done);
    }

    fn start_sending(&self, label: &str, total: u64, done: u64) {
        self.begin("sending", label, total, done);
    }

    fn advance(&self, n: u64) {
        if self.foreground.load(Ordering::Acquire) {
            self.bars.advance(n);
        }
    }

    fn finish(&self) {
        self.bars.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repl::terminal;

    #[test]
    fn background_transfers_print_a_line_instead_of_a_bar() {
        let (printer, lines) = Printer::capture();
        let p = MenuProgress {
            bars: Arc::new(crate::client::NoProgress),
            foreground: AtomicBool::new(false),
            printer,
        };
        p.start("a.bin from bob", 2_000_000, 0);
        p.advance(10);
        p.finish();
        match lines.try_recv().unwrap() {
            terminal::Print::Text(t) => {
                assert_eq!(t, "receiving a.bin from bob (about 2.00 MB)...")
            }
            _ => panic!("not a text"),
        }
        // A file the menu sends again by itself is not said to be received.
        p.start_sending("to carol", 70_020_000, 0);
        match lines.try_recv().unwrap() {
            terminal::Print::Text(t) => assert_eq!(t, "sending to carol (about 70.02 MB)..."),
            _ => panic!("not a text"),
        }
        p.foreground.store(true, Ordering::Release);
        p.start("x", 1, 0);
        p.start_sending("y", 1, 0);
        assert!(lines.try_recv().is_err());
    }
}
