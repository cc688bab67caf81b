//! A bounded pool of workers: `n` numbered jobs, at most `concurrency` at a
//! time, each timed into a latency histogram. Workers stop taking jobs at the
//! deadline, so every phase ends in bounded time.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::report::{histogram, record};

/// What a pool run produced.
pub struct PoolRun<T> {
    /// Job `i`'s result, or `None` if the deadline came before it started.
    pub results: Vec<Option<anyhow::Result<T>>>,
    /// Latency of every job that ran, microseconds.
    pub latency: Histogram<u64>,
    /// Wall-clock time from the first job's start to the last one's end.
    pub elapsed: Duration,
}

impl<T> PoolRun<T> {
    /// Jobs that failed.
    pub fn errors(&self) -> usize {
        self.results
            .iter()
            .filter(|r| matches!(r, Some(Err(_))))
            .count()
    }

    /// Jobs the deadline stopped from running.
    pub fn not_run(&self) -> usize {
        self.results.iter().filter(|r| r.is_none()).count()
    }

    /// The first error, for the report.
    pub fn first_error(&self) -> Option<String> {
        self.results.iter().find_map(|r| match r {
            Some(Err(e)) => Some(format!("{e:#}")),
            _ => None,
        })
    }
}

/// Runs jobs `0..n` with `concurrency` workers on the current runtime.
pub async fn run<T, F, Fut>(n: usize, concurrency: usize, deadline: Instant, job: F) -> PoolRun<T>
where
    T: Send + 'static,
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = anyhow::Result<T>> + Send + 'static,
{
    let job = Arc::new(job);
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency.clamp(1, n.max(1)) {
        let job = job.clone();
        let next = next.clone();
        workers.push(tokio::spawn(async move {
            let mut latency = histogram();
            let mut done = Vec::new();
            loop {
                if Instant::now() >= deadline {
                    break;
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let t = Instant::now();
                let result = job(i).await;
                record(&mut latency, t.elapsed());
                done.push((i, result));
            }
            (latency, done)
        }));
    }
    let mut results: Vec<Option<anyhow::Result<T>>> = (0..n).map(|_| None).collect();
    let mut latency = histogram();
    for worker in workers {
        match worker.await {
            Ok((h, done)) => {
                // Both histograms have the same bounds, so adding cannot fail.
                let _ = latency.add(&h);
                for (i, r) in done {
                    results[i] = Some(r);
                }
            }
            Err(e) => tracing::error!(error = %e, "a pool worker panicked"),
        }
    }
    PoolRun {
        results,
        latency,
        elapsed: start.elapsed(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn runs_every_job_once_and_times_it() {
        let deadline = Instant::now() + Duration::from_secs(10);
        let run = run(50, 4, deadline, |i| async move {
            if i == 7 {
                anyhow::bail!("seven")
            }
            Ok(i * 2)
        })
        .await;
        assert_eq!(run.results.len(), 50);
        assert_eq!(run.errors(), 1);
        assert_eq!(run.not_run(), 0);
        assert_eq!(run.latency.len(), 50);
        assert!(matches!(run.results[3], Some(Ok(6))));
        assert_eq!(run.first_error().as_deref(), Some("seven"));
    }

    #[tokio::test]
    async fn stops_at_the_deadline() {
        let run = run(10, 2, Instant::now(), |i| async move { Ok(i) }).await;
        assert_eq!(run.not_run(), 10);
    }
}
