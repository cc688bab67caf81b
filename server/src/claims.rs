//! Which messages version-2 pulls in progress are handing over, so that two
//! pulls of one inbox at once never hand over the same message twice. A leaf
//! of its own: the shared server state holds the set, and v2 takes from it.

/// Messages being handed over by version-2 pulls in progress.
#[derive(Default)]
pub(crate) struct Claims {
    // A std mutex: only set operations inside.
    ids: std::sync::Mutex<std::collections::HashSet<u64>>,
}

impl Claims {
    pub(crate) fn claim(&self) -> Claim<'_> {
        Claim {
            claims: self,
            taken: Vec::new(),
        }
    }
}

/// The messages one pull claimed; released on drop.
pub(crate) struct Claim<'a> {
    claims: &'a Claims,
    taken: Vec<u64>,
}

impl Claim<'_> {
    /// Claims a message; false if another pull holds it.
    pub(crate) fn take(&mut self, id: u64) -> bool {
        let fresh = self
            .claims
            .ids
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id);
        if fresh {
            self.taken.push(id);
        }
        fresh
    }
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        let mut ids = self.claims.ids.lock().unwrap_or_else(|e| e.into_inner());
        for id in &self.taken {
            ids.remove(id);
        }
    }
}
