//! A server given as several nodes of one cluster (`--server A,B`, or one
//! address a line in `server.info`): the client starts at a random node, so
//! that clients spread over the nodes, and moves to the next when a node is
//! down, silent or refuses the connection (its connection limit, a drain),
//! within [`NODE_TIMEOUT`] of trying it. After a connection to a node is
//! lost, that node is tried last: it is the one most likely down. The nodes
//! share one server key, so the pin does not change with the node; a node
//! presenting another key is refused as a single server would be, naming
//! the node (an attack, or a node provisioned with the wrong key), never
//! skipped.

use std::time::Duration;

use rand::Rng;

use super::timeouts::{CONNECT_TIMEOUT, HANDSHAKE_TIMEOUT};

/// How long one node of several may take to connect, and then to answer the
/// handshake, before the client moves on to the next.
pub const NODE_TIMEOUT: Duration = Duration::from_secs(2);

/// The nodes of `addrs` (comma-separated) in the order to try them: from a
/// random one on, wrapping around; or, when the connection to `lost` was
/// lost, from the node after it on, `lost` last.
pub(crate) fn nodes<'a>(addrs: &'a str, lost: Option<&str>) -> Vec<&'a str> {
    let mut all: Vec<&str> = addrs
        .split(',')
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .collect();
    if all.len() > 1 {
        let start = match lost.and_then(|l| all.iter().position(|a| *a == l)) {
            Some(i) => (i + 1) % all.len(),
            None => rand::thread_rng().gen_range(0..all.len()),
        };
        all.rotate_left(start);
    }
    all
}

/// The time limits for each node: a single server keeps the longer ones (a
/// slow network is no reason to fail), several move on sooner.
pub(super) fn limits(count: usize) -> (Duration, Duration) {
    if count > 1 {
        (NODE_TIMEOUT, NODE_TIMEOUT)
    } else {
        (CONNECT_TIMEOUT, HANDSHAKE_TIMEOUT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_node_is_tried_once_from_some_start() {
        for _ in 0..50 {
            let mut got = nodes(" a:1, b:2 ,c:3,,", None);
            assert_eq!(got.len(), 3);
            let i = got.iter().position(|n| *n == "a:1").unwrap();
            got.rotate_left(i);
            assert_eq!(got, ["a:1", "b:2", "c:3"]);
        }
        assert_eq!(nodes("a:1", None), ["a:1"]);
        assert_eq!(nodes("a:1", Some("a:1")), ["a:1"]);
    }

    #[test]
    fn a_lost_node_is_tried_last_and_the_next_one_first() {
        for _ in 0..20 {
            assert_eq!(nodes("a:1,b:2,c:3", Some("b:2")), ["c:3", "a:1", "b:2"]);
            assert_eq!(nodes("a:1,b:2,c:3", Some("c:3")), ["a:1", "b:2", "c:3"]);
        }
        // A node no longer listed changes nothing: a random start.
        assert_eq!(nodes("a:1,b:2", Some("z:9")).len(), 2);
    }
}
