//! Quitting while transfers run: they stop when the screen ends, so the
//! first quit (`/quit`, Ctrl-C, Ctrl-D) only says so and the next one
//! leaves, and the line printed after the terminal is given back says
//! what was stopped and how to go on. A transfer begun after the warning
//! is warned of again. Signals (SIGTERM, SIGHUP) leave at once.

use super::app::App;
use crate::output::count;

impl App {
    /// Transfers still running.
    fn transfers_running(&self) -> usize {
        self.transfers.iter().filter(|t| !t.ended).count()
    }

    /// The user asked to quit: whether to leave now. Transfers running
    /// stop when the screen ends, so the first quit only says so.
    pub fn quit_now(&mut self) -> bool {
        let running = self.transfers_running();
        if running == 0 || self.quit_warned {
            return true;
        }
        self.quit_warned = true;
        self.flash = Some(format!(
            "{} running: quit again to stop {} (/resume or `client resume` finishes an upload \
             later; a download from a person stays offered with what arrived kept)",
            count(running, "transfer", "transfers"),
            if running == 1 { "it" } else { "them" }
        ));
        false
    }

    /// What to say once the terminal is given back, if quitting stopped
    /// transfers.
    pub fn stopped_by_quitting(&self) -> Option<String> {
        let running = self.transfers_running();
        (running > 0).then(|| {
            format!(
                "stopped {}: `client resume` finishes an upload, `client files` lists a \
                 download kept as an offer",
                count(running, "transfer", "transfers")
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quitting_with_a_transfer_running_asks_again_and_says_what_stopped() {
        let mut app = App::new("alice".into(), "s".into());
        assert!(app.quit_now(), "nothing running: leave at once");
        assert_eq!(app.stopped_by_quitting(), None);

        let done = app.transfer_started(Some(1), "a.bin".into(), 10, 0);
        app.transfer_advanced(Some(1), 10);
        app.transfer_finished(Some(1));
        assert!(app.transfers.iter().all(|t| t.id != done || t.ended));
        assert!(app.quit_now(), "a finished transfer does not hold");

        app.transfer_started(Some(2), "big.iso".into(), 100, 0);
        assert!(!app.quit_now(), "warned first");
        let flash = app.flash.clone().unwrap();
        assert!(
            flash.starts_with("1 transfer running: quit again"),
            "{flash}"
        );
        // A transfer begun after the warning is warned of again.
        app.transfer_started(Some(3), "more.iso".into(), 100, 0);
        assert!(!app.quit_now());
        assert!(
            app.flash
                .as_deref()
                .unwrap()
                .starts_with("2 transfers running")
        );
        assert!(app.quit_now(), "the second quit leaves");
        assert_eq!(
            app.stopped_by_quitting().as_deref(),
            Some(
                "stopped 2 transfers: `client resume` finishes an upload, `client files` lists \
                 a download kept as an offer"
            )
        );
    }
}
