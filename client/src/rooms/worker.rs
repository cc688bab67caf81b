//! The rooms engine on a thread of its own: the engine's SQLite storage is
//! synchronous and not shareable, so one thread owns it and runs the jobs
//! the async code sends, one at a time, in order. Nothing of it runs on the
//! async workers.

use std::path::PathBuf;
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;

use sealpost_rooms::{RoomEngine, RoomsError};
use tokio::sync::oneshot;

use super::MeSigner;
use crate::keystore::StoreKey;

type Job = Box<dyn FnOnce(&RoomEngine) + Send>;

/// A handle on the engine's thread; the thread ends when the last handle
/// is dropped, and that drop waits for it.
#[derive(Clone)]
pub struct RoomWorker {
    shared: Arc<Thread>,
}

/// The engine's thread and its queue.
///
/// Dropping it closes the queue and joins the thread, so the engine (its
/// SQLCipher connection and OpenSSL state) is closed before the process's
/// exit handlers run: a thread still closing it while `main` returned made
/// the client abort at exit with glibc's "double free".
struct Thread {
    jobs: Option<mpsc::Sender<Job>>,
    handle: Option<JoinHandle<()>>,
}

impl Drop for Thread {
    fn drop(&mut self) {
        // No sender left: the thread runs what is queued, then ends.
        self.jobs.take();
        if let Some(handle) = self.handle.take()
            && handle.thread().id() != std::thread::current().id()
        {
            let _ = handle.join();
        }
    }
}

impl RoomWorker {
    /// Opens (or creates) the engine's state file on a new thread, keyed
    /// with the home's store key (`KeyStore::key`; `None`: plain).
    ///
    /// # Errors
    /// The file cannot be opened (or not with `key`), or belongs to another
    /// identity.
    pub async fn open(
        path: PathBuf,
        me: MeSigner,
        key: Option<StoreKey>,
        leaf: Option<sealpost_rooms::LeafKey>,
    ) -> Result<Self, RoomsError> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let (opened, result) = oneshot::channel();
        let handle = std::thread::Builder::new()
            .name("rooms".into())
            .spawn(move || {
                let key = key.as_ref().map(StoreKey::bytes);
                let engine = match RoomEngine::open_keyed_with(&path, &me, key, leaf.as_ref()) {
                    Ok(engine) => {
                        let _ = opened.send(Ok(()));
                        engine
                    }
                    Err(e) => {
                        let _ = opened.send(Err(e));
                        return;
                    }
                };
                while let Ok(job) = queue.recv() {
                    job(&engine);
                }
            })
            .map_err(|e| RoomsError::Migration(format!("starting the rooms thread: {e}")))?;
        let shared = Arc::new(Thread {
            jobs: Some(jobs),
            handle: Some(handle),
        });
        result.await.map_err(|_| gone())??;
        Ok(Self { shared })
    }

    /// Runs `f` on the engine's thread and returns its result.
    ///
    /// # Errors
    /// Whatever `f` returns.
    pub async fn run<T, F>(&self, f: F) -> Result<T, RoomsError>
    where
        T: Send + 'static,
        F: FnOnce(&RoomEngine) -> Result<T, RoomsError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let jobs = self.shared.jobs.as_ref().ok_or_else(gone)?;
        jobs.send(Box::new(move |engine| {
            let _ = reply.send(f(engine));
        }))
        .map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }
}

/// The engine's thread ended (it panicked): nothing more can be done.
fn gone() -> RoomsError {
    RoomsError::Migration("the rooms thread ended".into())
}
