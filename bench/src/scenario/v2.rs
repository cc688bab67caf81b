//! Scenario `v2`: the documented protocol, one request per connection, as the
//! reference client does it.
//!
//! 1. Register `users` names (request 100), `concurrency` at a time.
//! 2. Send `messages` texts (request 103) of `size` bytes, each from a random
//!    user to another random user (seeded), `concurrency` at a time; each
//!    send is timed from connect to the whole answer.
//! 3. Every user pulls (request 104) once; then every user pulls again,
//!    which must find nothing.
//! 4. Every message must have arrived exactly once, to its recipient, from
//!    its sender, with the id the send returned and identical bytes.
//!
//! A message's content is its index (8 bytes), the run's tag (8 bytes) and
//! pseudo-random filler from both, so that it can be checked without storing
//! it and cannot be confused with another run's.
//!
//! Send rate = messages / send phase; end-to-end rate = messages / (send
//! phase + first pull phase).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use protocol::{ClientId, MessageKind, Name, PublicKey, v2};
use rand::{Rng, SeedableRng};
use serde::Serialize;

use crate::cli::V2Args;
use crate::pool;
use crate::report::{Latency, Outcome, per_second, thousands};
use crate::wire::{pattern, v2_call};

/// Bytes at the start of every content that identify it.
const TAG_LEN: usize = 16;

/// Every figure of a v2 run.
#[derive(Debug, Clone, Serialize)]
pub struct V2Figures {
    /// Users registered.
    pub users: usize,
    /// Messages sent.
    pub messages: usize,
    /// Content bytes per message.
    pub size: usize,
    /// Workers.
    pub concurrency: usize,
    /// Registrations per second.
    pub register_per_s: f64,
    /// Send phase, seconds.
    pub send_seconds: f64,
    /// First pull phase, seconds.
    pub pull_seconds: f64,
    /// Messages per second in the send phase.
    pub send_msgs_per_s: f64,
    /// Messages per second from the first send to the last pull.
    pub e2e_msgs_per_s: f64,
    /// Requests per second over send and pull phases together.
    pub requests_per_s: f64,
    /// Latency of a registration (connect to answer).
    pub register_latency: Latency,
    /// Latency of a send (connect to answer).
    pub send_latency: Latency,
    /// Latency of a pull (connect to the whole answer).
    pub pull_latency: Latency,
    /// Messages delivered exactly once and intact.
    pub delivered: usize,
    /// Messages never delivered.
    pub missing: usize,
    /// Deliveries of a message already delivered.
    pub duplicates: usize,
    /// Deliveries that were not what was sent (bytes, sender, recipient, id, type).
    pub corrupted: usize,
    /// Messages found by the second pull round (should be none).
    pub leftover: usize,
    /// Messages the second pull round handed over again after the first had
    /// delivered them: a failure for Sealpost, tolerated (and counted) for
    /// the reference, which deletes only after the answer is written.
    pub redelivered: usize,
    /// Requests that failed (connect, protocol, error answer, timeout).
    pub request_errors: usize,
}

/// The content of message `i` of run `tag`.
fn content(tag: u64, i: usize, size: usize) -> Vec<u8> {
    let mut c = Vec::with_capacity(size);
    c.extend_from_slice(&(i as u64).to_le_bytes());
    c.extend_from_slice(&tag.to_le_bytes());
    c.extend_from_slice(&pattern(tag ^ (i as u64).rotate_left(32), size - TAG_LEN));
    c
}

/// What a second pull may find of messages the first pull delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecondPull {
    /// Nothing: a pull hands each message over exactly once (Sealpost).
    Empty,
    /// Copies of delivered messages are counted, not failed: the reference
    /// deletes what a pull handed over only after writing the answer, so a
    /// pull that follows at once can see them again. Messages the first pull
    /// never delivered still fail the run.
    MayRepeat,
}

/// Runs the workload against `addr`; `name` and `target` label the outcome.
///
/// # Errors
/// Arguments out of range, or registration failed (nothing can follow).
pub async fn run(
    addr: SocketAddr,
    args: &V2Args,
    name: &str,
    target: &str,
    second_pull: SecondPull,
) -> anyhow::Result<Outcome> {
    if args.users < 2 {
        bail!("--users must be at least 2");
    }
    if args.size < TAG_LEN {
        bail!("--size must be at least {TAG_LEN}");
    }
    if args.messages == 0 || args.concurrency == 0 {
        bail!("--messages and --concurrency must be at least 1");
    }
    let deadline = Instant::now() + Duration::from_secs(args.v2_max_seconds);
    let tag: u64 = rand::random();
    let mut problems = Vec::new();

    // 1. Register.
    let prefix = format!("lg{:08x}", tag as u32);
    let registered = pool::run(args.users, args.concurrency, deadline, move |i| {
        let prefix = prefix.clone();
        async move {
            let request = v2::Request::Register(v2::Register {
                name: Name::new(format!("{prefix}-{i}"))?,
                public_key: PublicKey(key_bytes(i)),
            });
            match v2_call(addr, ClientId::NIL, request).await? {
                v2::Response::Registered(id) => Ok(id),
                other => bail!("register: answered {:?}", other.code()),
            }
        }
    })
    .await;
    if registered.errors() + registered.not_run() > 0 {
        bail!(
            "{} of {} registrations failed; first: {}",
            registered.errors() + registered.not_run(),
            args.users,
            registered
                .first_error()
                .unwrap_or_else(|| "deadline".into())
        );
    }
    let ids: Arc<Vec<ClientId>> = Arc::new(
        registered
            .results
            .iter()
            .map(|r| match r {
                Some(Ok(id)) => *id,
                _ => ClientId::NIL,
            })
            .collect(),
    );

    // 2. Send.
    let mut rng = rand::rngs::StdRng::seed_from_u64(args.seed);
    let plan: Arc<Vec<(usize, usize)>> = Arc::new(
        (0..args.messages)
            .map(|_| {
                let from = rng.gen_range(0..args.users);
                let to = (from + rng.gen_range(1..args.users)) % args.users;
                (from, to)
            })
            .collect(),
    );
    let size = args.size;
    let sent = {
        let (ids, plan) = (ids.clone(), plan.clone());
        pool::run(args.messages, args.concurrency, deadline, move |i| {
            let (from, to) = plan[i];
            let (sender, destination) = (ids[from], ids[to]);
            async move {
                let request = v2::Request::SendMessage(v2::SendMessage {
                    destination,
                    kind: MessageKind::Text,
                    content: Bytes::from(content(tag, i, size)),
                });
                match v2_call(addr, sender, request).await? {
                    v2::Response::MessageStored(m) if m.destination == destination => {
                        Ok(m.message_id)
                    }
                    other => bail!("send: answered {other:?}"),
                }
            }
        })
        .await
    };
    if let Some(e) = sent.first_error() {
        problems.push(format!("{} sends failed; first: {e}", sent.errors()));
    }
    if sent.not_run() > 0 {
        problems.push(format!(
            "{} sends not made before the deadline",
            sent.not_run()
        ));
    }

    // 3. Pull, twice.
    let pull = |ids: Arc<Vec<ClientId>>| {
        pool::run(args.users, args.concurrency, deadline, move |j| {
            let me = ids[j];
            async move {
                match v2_call(addr, me, v2::Request::Pull).await? {
                    v2::Response::Messages(m) => Ok(m),
                    other => bail!("pull: answered {:?}", other.code()),
                }
            }
        })
    };
    let pulled = pull(ids.clone()).await;
    let again = pull(ids.clone()).await;
    for (what, run) in [("pulls", &pulled), ("second pulls", &again)] {
        if let Some(e) = run.first_error() {
            problems.push(format!("{} {what} failed; first: {e}", run.errors()));
        }
        if run.not_run() > 0 {
            problems.push(format!(
                "{} {what} not made before the deadline",
                run.not_run()
            ));
        }
    }

    // 4. Verify.
    let sent_ids: Vec<Option<u32>> = sent
        .results
        .iter()
        .map(|r| r.as_ref().and_then(|r| r.as_ref().ok().copied()))
        .collect();
    let mut seen = vec![false; args.messages];
    let (mut delivered, mut duplicates, mut corrupted) = (0, 0, 0);
    for (j, result) in pulled.results.iter().enumerate() {
        let Some(Ok(messages)) = result else { continue };
        for m in messages {
            let Some(i) = check(m, j, tag, &plan, &ids, &sent_ids, size) else {
                corrupted += 1;
                continue;
            };
            if seen[i] {
                duplicates += 1;
            } else {
                seen[i] = true;
                delivered += 1;
            }
        }
    }
    // A second-round copy of a delivered message is a repeat; anything else
    // it finds was waiting all along.
    let (mut leftover, mut redelivered) = (0, 0);
    for (j, result) in again.results.iter().enumerate() {
        let Some(Ok(messages)) = result else { continue };
        for m in messages {
            match check(m, j, tag, &plan, &ids, &sent_ids, size) {
                Some(i) if seen[i] => redelivered += 1,
                _ => leftover += 1,
            }
        }
    }
    let missing = args.messages - delivered;
    if missing > 0 {
        problems.push(format!("{missing} messages never arrived"));
    }
    if duplicates > 0 {
        problems.push(format!("{duplicates} messages arrived more than once"));
    }
    if corrupted > 0 {
        problems.push(format!("{corrupted} deliveries were not what was sent"));
    }
    problems.extend(second_round_problems(leftover, redelivered, second_pull));

    let phases = sent.elapsed + pulled.elapsed;
    let figures = V2Figures {
        users: args.users,
        messages: args.messages,
        size,
        concurrency: args.concurrency,
        register_per_s: per_second(args.users as f64, registered.elapsed),
        send_seconds: sent.elapsed.as_secs_f64(),
        pull_seconds: pulled.elapsed.as_secs_f64(),
        send_msgs_per_s: per_second(args.messages as f64, sent.elapsed),
        e2e_msgs_per_s: per_second(args.messages as f64, phases),
        requests_per_s: per_second((args.messages + args.users) as f64, phases),
        register_latency: Latency::of(&registered.latency),
        send_latency: Latency::of(&sent.latency),
        pull_latency: Latency::of(&pulled.latency),
        delivered,
        missing,
        duplicates,
        corrupted,
        leftover,
        redelivered,
        request_errors: sent.errors() + pulled.errors() + again.errors(),
    };
    let verdict = if problems.is_empty() && redelivered > 0 {
        format!(
            "all {} delivered, bytes identical; {} handed over again by an immediate \
             second pull (it deletes after answering)",
            thousands(delivered as f64),
            thousands(redelivered as f64)
        )
    } else if problems.is_empty() {
        format!(
            "all {} delivered exactly once, bytes identical",
            thousands(delivered as f64)
        )
    } else {
        format!(
            "CHECKS FAILED ({} of {} delivered)",
            thousands(delivered as f64),
            thousands(args.messages as f64)
        )
    };
    let summary = format!(
        "{name} [{target}]: {} msgs x {} B, {} users, {} workers: send {} msg/s ({}), \
         end-to-end {} msg/s; {verdict}",
        thousands(args.messages as f64),
        size,
        args.users,
        args.concurrency,
        thousands(figures.send_msgs_per_s),
        figures.send_latency.short(),
        thousands(figures.e2e_msgs_per_s),
    );
    Ok(Outcome {
        name: name.into(),
        target: target.into(),
        passed: problems.is_empty(),
        problems,
        summary,
        figures: serde_json::to_value(&figures).context("serializing v2 figures")?,
        comparisons: Vec::new(),
    })
}

/// What the second pull round's findings say is wrong under `policy`.
fn second_round_problems(leftover: usize, redelivered: usize, policy: SecondPull) -> Vec<String> {
    let mut problems = Vec::new();
    if leftover > 0 {
        problems.push(format!(
            "{leftover} messages were still waiting after a pull"
        ));
    }
    if redelivered > 0 && policy == SecondPull::Empty {
        problems.push(format!(
            "{redelivered} delivered messages were handed over again by the next pull"
        ));
    }
    problems
}

/// The message index of `m` if it is exactly what was sent to user `j`.
fn check(
    m: &v2::PulledMessage,
    j: usize,
    tag: u64,
    plan: &[(usize, usize)],
    ids: &[ClientId],
    sent_ids: &[Option<u32>],
    size: usize,
) -> Option<usize> {
    let head: [u8; 8] = m.content.get(..8)?.try_into().ok()?;
    let i = usize::try_from(u64::from_le_bytes(head)).ok()?;
    let &(from, to) = plan.get(i)?;
    let intact = to == j
        && m.sender == ids[from]
        && m.kind == MessageKind::Text
        && sent_ids.get(i).copied().flatten() == Some(m.message_id)
        && m.content.len() == size
        && m.content[..] == content(tag, i, size)[..];
    intact.then_some(i)
}

/// A patterned 160-byte public key field for user `i` (version 2 does not
/// check it).
fn key_bytes(i: usize) -> [u8; 160] {
    let mut key = [0u8; 160];
    key.copy_from_slice(&pattern(i as u64 + 1, 160));
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contents_carry_their_index_and_tag() {
        let c = content(0xabcd, 42, 100);
        assert_eq!(c.len(), 100);
        assert_eq!(u64::from_le_bytes(c[..8].try_into().unwrap()), 42);
        assert_eq!(u64::from_le_bytes(c[8..16].try_into().unwrap()), 0xabcd);
        assert_ne!(content(0xabcd, 43, 100)[16..], c[16..]);
        assert_eq!(content(0xabcd, 42, 16).len(), 16);
    }

    #[test]
    fn a_repeat_fails_sealpost_and_is_only_counted_for_the_reference() {
        assert!(second_round_problems(0, 0, SecondPull::Empty).is_empty());
        assert_eq!(second_round_problems(0, 3, SecondPull::Empty).len(), 1);
        assert!(second_round_problems(0, 3, SecondPull::MayRepeat).is_empty());
        // Something the first pull never delivered fails either way.
        assert_eq!(second_round_problems(2, 0, SecondPull::MayRepeat).len(), 1);
    }

    #[test]
    fn check_accepts_only_the_exact_message() {
        let ids = [ClientId([1; 16]), ClientId([2; 16])];
        let plan = [(0, 1)];
        let sent = [Some(7)];
        let good = v2::PulledMessage {
            sender: ids[0],
            message_id: 7,
            kind: MessageKind::Text,
            content: Bytes::from(content(9, 0, 32)),
        };
        assert_eq!(check(&good, 1, 9, &plan, &ids, &sent, 32), Some(0));
        assert_eq!(
            check(&good, 0, 9, &plan, &ids, &sent, 32),
            None,
            "recipient"
        );
        assert_eq!(check(&good, 1, 8, &plan, &ids, &sent, 32), None, "tag");
        let mut bad = good.clone();
        bad.message_id = 8;
        assert_eq!(check(&bad, 1, 9, &plan, &ids, &sent, 32), None, "id");
        let mut bad = good.clone();
        let mut bytes = bad.content.to_vec();
        bytes[31] ^= 1;
        bad.content = Bytes::from(bytes);
        assert_eq!(check(&bad, 1, 9, &plan, &ids, &sent, 32), None, "bytes");
        let mut bad = good;
        bad.sender = ids[1];
        assert_eq!(check(&bad, 1, 9, &plan, &ids, &sent, 32), None, "sender");
    }
}
