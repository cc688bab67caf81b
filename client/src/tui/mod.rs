//! `client tui`: the full-screen terminal client (ratatui over crossterm),
//! after iamb and gurk-rs: the conversations on the left (people and rooms,
//! most recent first when it starts, then in a steady order so that a
//! number opens what was seen there, with unread counts and marks for a
//! changed key, a person online and a room's join rule),
//! the open one's stored history on the right (scrolling back through it),
//! a typing box that grows with its lines, a line per file transfer and a
//! status line with the connection, the server and its pinned fingerprint.
//! Each job a line starts runs on its own task with its own number, cancel
//! token and progress, so that its transfers' lines say which is which and
//! `/cancel N` stops one.
//!
//! It only calls the client library: [`Client::watch`] for what the server
//! pushes (as `client watch` and the menu do), the send and room commands,
//! [`Client::conversations`] and [`Client::history_of`] for what is shown,
//! [`Client::mark_read`] once a conversation is on screen. Its rooms:
//! `app` (the state), `input` (the typing box's text), `lines` (items
//! made safe to draw), `view` (drawing), `help` (F1), `text` (cutting and
//! wrapping), `keys` (what a key does),
//! `command` (what a `/` line means), `complete` (Tab), `actions`
//! (running what needs the client; `open` for `/open` and `/join`,
//! `done` for what a job came to),
//! `progress` (transfers' steps) and
//! `term` (the terminal, always given back).

mod actions;
pub mod app;
mod command;
mod complete;
mod done;
mod elsewhere;
mod help;
mod input;
mod keys;
mod label;
mod layout;
pub mod lines;
mod open;
mod progress;
mod quit;
mod secret;
mod term;
mod text;
pub mod view;
mod watcher;

#[cfg(test)]
mod snapshot;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_events;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use futures::StreamExt;
use ratatui::crossterm::event::EventStream;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use self::actions::{Job, Outcome};
use self::app::{App, LinkState};
use self::command::Command;
use self::keys::Action;
use self::progress::{Step, ToScreen};
use crate::client::{Client, ClientError};
use crate::display::escape_line;
use crate::event::Event;
use crate::keystore::HistoryQuery;
use crate::link::Link;
use crate::repl::explain;
use crate::repl::terminal::{Print, Printer, plain_log, route_logs};

/// How long leaving waits for the watcher.
const LEAVE_WAIT: Duration = Duration::from_secs(3);

/// Debug builds only: when this variable is set, the full-screen client
/// panics once its first screen is drawn, so that a test can see the panic
/// hook give the terminal back before the message is printed.
pub const TEST_PANIC: &str = "SEALPOST_TUI_TEST_PANIC";

/// How the full-screen client starts.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Ring the terminal bell when a message arrives in a conversation
    /// that is not on screen.
    pub bell: bool,
}

/// Runs the full-screen client until the user leaves (Ctrl-C, `/quit`) or
/// a signal (SIGTERM, SIGHUP, SIGINT) ends it; the terminal is given back
/// in every case.
///
/// # Errors
/// Not registered, the terminal cannot be used, or the server's key changed.
pub async fn run(client: Client, options: Options) -> anyhow::Result<()> {
    let me = client
        .me()
        .ok_or_else(|| ClientError::NotRegistered(client.config().home.display().to_string()))?;
    let mut app = App::new(
        escape_line(me.name.as_str()).into_owned(),
        escape_line(&client.config().server).into_owned(),
    );
    app.bell = options.bell;
    app.no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    app.fingerprint = client.server_fingerprint().await?;
    let (steps_tx, steps) = mpsc::unbounded_channel();
    client.set_progress(Arc::new(ToScreen {
        screen: steps_tx.clone(),
        job: None,
    }));
    // Log lines would break the screen: they go to the status line.
    let (printer, printed) = Printer::capture();
    let (logs_tx, logs) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        while let Ok(p) = printed.recv() {
            let text = match p {
                Print::Log(text) => plain_log(&text),
                Print::Text(text) => text,
                _ => continue,
            };
            if logs_tx.send(text).is_err() {
                break;
            }
        }
    });
    route_logs(Some(printer));
    let screen = term::Screen::enter().context("setting up the terminal")?;
    let result = Loop {
        client: client.clone(),
        app,
        screen,
        steps,
        steps_tx,
        jobs: HashMap::new(),
        logs,
    }
    .run()
    .await;
    route_logs(None);
    // Said on the normal screen, where it stays after the program ends.
    let farewell = result?;
    if let Some(line) = farewell {
        println!("{line}");
    }
    Ok(())
}

/// What a submitted line asks of the screen's loop.
enum Next {
    Stay,
    Quit,
    /// Delete the account, its name typed again.
    DeleteAccount(String),
}

struct Loop {
    client: Client,
    app: App,
    screen: term::Screen,
    steps: mpsc::UnboundedReceiver<Step>,
    /// For the progress of each job (`ToScreen` with its number).
    steps_tx: mpsc::UnboundedSender<Step>,
    /// The jobs running, by number: what cancels each.
    jobs: HashMap<u64, CancellationToken>,
    logs: mpsc::UnboundedReceiver<String>,
}

impl Loop {
    /// Runs until the user leaves; a line to print once the terminal is
    /// given back (the account deleted).
    async fn run(mut self) -> anyhow::Result<Option<String>> {
        // Subscribed before the watcher starts, and read once: a connection
        // made in between would otherwise never show on the status line.
        let mut link = self.client.link();
        self.show_link(link.borrow_and_update().clone()).await;
        let (mut watcher, mut events, mut stop) = watcher::start(&self.client);
        let mut elsewhere = elsewhere::start(&self.client);
        let mut watching = true;
        let (outcome_tx, mut outcomes) = mpsc::unbounded_channel();
        let mut uploads = CancellationToken::new();
        let mut input = EventStream::new();
        let mut term = signal(SignalKind::terminate())?;
        let mut hangup = signal(SignalKind::hangup())?;
        let mut interrupt = signal(SignalKind::interrupt())?;
        self.refresh().await;
        if cfg!(debug_assertions) && std::env::var_os(TEST_PANIC).is_some() {
            self.screen.draw(&self.app)?;
            panic!("{TEST_PANIC} is set: panicking on purpose");
        }
        let result = loop {
            self.screen.draw(&self.app)?;
            tokio::select! {
                key = input.next() => match key {
                    Some(Ok(key)) => {
                        let action = keys::handle(&mut self.app, key, self.screen.size());
                        match action {
                            Action::Quit => if self.app.quit_now() {
                                break Ok(self.app.stopped_by_quitting());
                            },
                            Action::Submit(text) => match self.submit(text.clone(), &outcome_tx, &mut uploads).await {
                                Next::Stay => {}
                                Next::Quit => if self.app.quit_now() {
                                    break Ok(self.app.stopped_by_quitting());
                                },
                                Next::DeleteAccount(name) => {
                                    // Stopped first: the server closes this
                                    // connection after its answer, which the
                                    // watcher would report as lost.
                                    stop.cancel();
                                    if watching {
                                        if tokio::time::timeout(LEAVE_WAIT, &mut watcher).await.is_err() {
                                            watcher.abort();
                                        }
                                        watching = false;
                                    }
                                    match self.delete_account(&name, &text).await {
                                        Some(farewell) => break Ok(Some(farewell)),
                                        // Refused: live messages go on.
                                        None => {
                                            (watcher, events, stop) = watcher::start(&self.client);
                                            watching = true;
                                        }
                                    }
                                }
                            },
                            Action::Opened
                            | Action::Search(_)
                            | Action::EndSearch => self.load_open().await,
                            Action::LoadMore => {
                                self.app.history_limit = self.app.history_limit.saturating_mul(2);
                                self.load_open().await;
                            }
                            Action::Seen => self.mark_shown().await,
                            Action::Password(purpose, typed) => {
                                let job = (Job::Password(purpose, typed), None);
                                self.spawn(job, &outcome_tx, &uploads);
                            }
                            Action::None => {}
                        }
                    }
                    Some(Err(e)) => break Err(anyhow::Error::new(e).context("reading the terminal")),
                    None => break Ok(None),
                },
                Some(first) = events.recv() => {
                    let batch = crate::inbox::arrived_together(first, &mut events);
                    self.arrived(batch).await;
                }
                Some(outcome) = outcomes.recv() => self.outcome(outcome).await,
                Some(step) = self.steps.recv() => {
                    self.app.transfer_step(step);
                    self.pending_steps();
                }
                Ok(()) = link.changed() => {
                    let now = link.borrow_and_update().clone();
                    self.show_link(now).await;
                }
                // Who is online was listed anew: the list's marks follow.
                () = self.client.presence_listed() => self.refresh().await,
                // A receipt: what we sent shows its new status.
                () = self.client.statuses_moved() => self.refresh().await,
                // Another process (a `send` in another terminal) wrote the store.
                Some(()) = elsewhere.recv() => self.refresh().await,
                Some(line) = self.logs.recv() => self.app.flash = Some(explain::one_line(&line)),
                ended = &mut watcher, if watching => {
                    watching = false;
                    let why = match ended {
                        Ok(Ok(())) => "the watcher ended".to_string(),
                        Ok(Err(e)) => explain::one_line(&explain::client_error(&e, &[])),
                        Err(e) => e.to_string(),
                    };
                    self.app.flash = Some(format!("live messages stopped: {why}"));
                }
                _ = term.recv() => break Ok(None),
                _ = hangup.recv() => break Ok(None),
                _ = interrupt.recv() => break Ok(None),
            }
        };
        stop.cancel();
        uploads.cancel();
        if watching {
            let _ = tokio::time::timeout(LEAVE_WAIT, watcher).await;
        }
        drop(self.screen);
        self.client.send_receipts_before_leaving().await;
        result
    }

    /// The connection's state on the status line, with the server's
    /// fingerprint as pinned once it is up.
    async fn show_link(&mut self, now: Link) {
        self.app.link = match now {
            Link::Unknown => LinkState::Connecting,
            Link::Up => LinkState::Up,
            Link::Down(why) => LinkState::Down(explain::one_line(&why)),
        };
        // Who is online is not known while down: the list's marks go.
        if matches!(self.app.link, LinkState::Down(_)) {
            self.refresh().await;
        }
        if self.app.link == LinkState::Up
            && let Ok(f) = self.client.server_fingerprint().await
        {
            self.app.fingerprint = f;
        }
    }

    /// Deletes our account (`typed` is the command line, back in the box if
    /// the server refuses): the summary to print on leaving, or `None`,
    /// the reason on the status line.
    async fn delete_account(&mut self, name: &str, typed: &str) -> Option<String> {
        self.app.flash = Some("deleting your account on the server".into());
        // On screen while the request runs: nothing else is drawn meanwhile.
        let _ = self.screen.draw(&self.app);
        match self.client.delete_account(name).await {
            Ok(deleted) => {
                let own = self
                    .client
                    .me()
                    .map_or_else(|| name.to_string(), |m| m.name.to_string());
                Some(crate::account::deletion_summary(
                    &own,
                    &deleted,
                    "client history",
                ))
            }
            Err(e) => {
                let known = self.client.pinned_names().await.unwrap_or_default();
                let why = explain::one_line(&explain::client_error(&e, &known));
                self.app.unsent(typed);
                self.app.flash = Some(format!("{why}; the command is back in the box"));
                None
            }
        }
    }

    /// Sends a text or runs a command.
    async fn submit(
        &mut self,
        text: String,
        outcomes: &mpsc::UnboundedSender<Outcome>,
        uploads: &mut CancellationToken,
    ) -> Next {
        // `//x` sends `/x` as a text.
        let job = match text.strip_prefix('/') {
            Some(rest) if rest.starts_with('/') => Job::Text(rest.to_string()),
            Some(_) => match command::parse(&text) {
                Ok(c) => Job::Command(c),
                Err(usage) => {
                    self.app.unsent(&text);
                    self.app.flash = Some(format!(
                        "{}; the command is back in the box",
                        escape_line(&usage)
                    ));
                    return Next::Stay;
                }
            },
            None => Job::Text(text.clone()),
        };
        if let Job::Command(c) = &job {
            match c {
                Command::Quit => return Next::Quit,
                Command::DeleteAccount(name) => return Next::DeleteAccount(name.clone()),
                Command::Help => {
                    self.app.help = true;
                    self.app.help_scroll = 0;
                    return Next::Stay;
                }
                Command::Bell(on) => {
                    self.app.bell = *on;
                    self.app.flash = Some(format!(
                        "bell {}",
                        if *on {
                            "on for messages in other conversations"
                        } else {
                            "off"
                        }
                    ));
                    return Next::Stay;
                }
                Command::History(n) => {
                    self.app.history_limit = n.unwrap_or(usize::MAX);
                    self.app.scroll = 0;
                    self.load_open().await;
                    return Next::Stay;
                }
                Command::Cancel(None) => {
                    // Every job's token is a child of this one.
                    uploads.cancel();
                    *uploads = CancellationToken::new();
                    self.app.flash = Some("cancelling the transfers you started".into());
                    return Next::Stay;
                }
                Command::Cancel(Some(id)) => {
                    self.app.flash = Some(self.cancel(*id));
                    return Next::Stay;
                }
                _ => {}
            }
        }
        self.spawn((job, Some(text)), outcomes, uploads);
        Next::Stay
    }

    /// Runs `job` for the open conversation on a task of its own; the line
    /// typed for it goes back into the box if it fails.
    fn spawn(
        &mut self,
        job: (Job, Option<String>),
        outcomes: &mpsc::UnboundedSender<Outcome>,
        uploads: &CancellationToken,
    ) {
        // Each job has its number, its own cancel and its own progress, so
        // that its transfers' lines and `/cancel N` name it.
        let number = self.app.take_id();
        let cancel = uploads.child_token();
        self.jobs.insert(number, cancel.clone());
        let progress = Arc::new(ToScreen {
            screen: self.steps_tx.clone(),
            job: Some(number),
        });
        let work = actions::run(
            self.client.clone(),
            self.app.current().cloned(),
            job,
            cancel,
            outcomes.clone(),
        );
        let outcomes = outcomes.clone();
        tokio::spawn(async move {
            Client::with_progress(progress, work).await;
            let _ = outcomes.send(Outcome::Ended(number));
        });
    }

    /// Stops transfer `id`; what the status line says.
    fn cancel(&mut self, id: u64) -> String {
        match self.app.job_of(id) {
            Ok(Some(job)) => match self.jobs.get(&job) {
                Some(token) => {
                    token.cancel();
                    format!("cancelling transfer {id}")
                }
                None => format!("transfer {id} has ended"),
            },
            // One the client runs by itself (a received file): the library
            // says in its conversation what became of it.
            Ok(None) => {
                self.client.cancel_downloads();
                format!(
                    "stopping download {id}: a file from a person waits as an offer with what \
                     arrived kept (/files, /accept N resumes it); a room file is passed over"
                )
            }
            Err(why) => why,
        }
    }

    async fn outcome(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Refresh => self.refresh().await,
            Outcome::Ended(job) => {
                self.jobs.remove(&job);
                // Its last steps were sent before it ended: applied first,
                // then a transfer it left running (failed, cancelled) ends.
                self.pending_steps();
                self.app.job_ended(job);
            }
            Outcome::Unsent(text) => self.app.unsent(&text),
            Outcome::Open(c) => {
                self.app.open(Some(c));
                self.refresh().await;
            }
            Outcome::AskPassword(purpose, why) => {
                self.app.ask_secret(purpose);
                self.app.flash = why.map(|w| escape_line(&w).into_owned());
            }
            Outcome::Notice {
                conversation,
                lines,
                tone,
            } => {
                let now = now_ms();
                let item = lines::escaped_notice(now, now, lines, tone);
                self.app.notice(conversation.as_ref(), item);
            }
        }
    }

    /// Applies the transfers' progress already sent.
    fn pending_steps(&mut self) {
        while let Ok(s) = self.steps.try_recv() {
            self.app.transfer_step(s);
        }
    }

    /// What the server pushed: notices where they happened, the bell for
    /// messages elsewhere, then the list and the open conversation again
    /// (which marks what is on screen read).
    async fn arrived(&mut self, events: Vec<Event>) {
        let now = now_ms();
        let mut ring = false;
        for (i, e) in events.iter().enumerate() {
            let place = e.conversation();
            // A leave request whose leave came with it: the leave tells it.
            let told_later = crate::rejections::leave_told_later(e, &events[i + 1..]);
            if let Some(item) = lines::event_notice(e, now).filter(|_| !told_later) {
                self.app.notice(place.as_ref(), item);
            }
            if e.is_message() && place != self.app.selected {
                ring = true;
            }
        }
        if ring && self.app.bell {
            self.screen.bell();
        }
        self.refresh().await;
    }

    /// Reloads the list and the open conversation.
    async fn refresh(&mut self) {
        match self.client.conversations().await {
            Ok(list) => {
                self.app.set_conversations(list);
            }
            Err(e) => {
                self.app.flash = Some(explain::one_line(&explain::client_error(&e, &[])));
            }
        }
        self.load_open().await;
    }

    /// Loads the open conversation's history (or its search), and marks it
    /// read if its newest entries are on screen.
    async fn load_open(&mut self) {
        let Some(open) = self.app.current().cloned() else {
            self.app.items.clear();
            return;
        };
        let query = HistoryQuery {
            limit: Some(self.app.history_limit),
            since_ms: None,
            search: self.app.search.clone(),
        };
        let loaded = async {
            let history = self.client.history_of(&open.conversation, query).await?;
            let names = self.client.pinned_labels().await?;
            Ok::<_, ClientError>((history, names))
        }
        .await;
        match loaded {
            Ok((history, names)) => {
                let now = now_ms();
                let items = history
                    .iter()
                    .map(|e| lines::entry(e, &open.label, &names, now))
                    .collect();
                self.app.set_history(items);
            }
            Err(e) => {
                self.app.flash = Some(explain::one_line(&explain::client_error(&e, &[])));
            }
        }
        self.mark_shown().await;
    }

    /// Marks the open conversation read (sending read receipts, unless they
    /// are off) when what it holds is on screen: not while scrolled back,
    /// under the help or a search, where it stays counted as unread.
    async fn mark_shown(&mut self) {
        let Some(open) = self.app.current().cloned() else {
            return;
        };
        if open.unread > 0 && self.app.newest_on_screen() {
            match self.client.mark_read(&open.conversation).await {
                Ok(_) => self.app.clear_unread(),
                Err(e) => {
                    self.app.flash = Some(explain::one_line(&explain::client_error(&e, &[])));
                }
            }
        }
    }
}

fn now_ms() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or(0)
}
