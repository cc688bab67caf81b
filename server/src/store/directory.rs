//! The registered clients, kept in memory so that lookups, lists and
//! existence checks never touch SQLite. The database is the durable copy;
//! this is loaded from it at startup and grows only after a registration has
//! committed.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use protocol::{ClientId, Name, PublicKey};

/// One registered client.
#[derive(Debug, Clone)]
pub struct ClientRecord {
    /// Its id.
    pub id: ClientId,
    /// Its name.
    pub name: Name,
    /// Its public key field.
    pub public_key: PublicKey,
}

#[derive(Default)]
struct Inner {
    by_id: HashMap<ClientId, Arc<ClientRecord>>,
    by_name_key: HashMap<String, ClientId>,
    /// Registration order, for the version-2 list.
    in_order: Vec<Arc<ClientRecord>>,
    /// Id order, for version-3 pages.
    sorted: BTreeMap<ClientId, Arc<ClientRecord>>,
}

/// A cheap-to-clone handle on the client directory.
#[derive(Clone, Default)]
pub struct Directory {
    // A std lock: every critical section is a map operation, never held
    // across an await.
    inner: Arc<RwLock<Inner>>,
}

/// The key under which names are unique: ASCII letters lower-cased.
pub fn name_key(name: &str) -> String {
    name.to_ascii_lowercase()
}

impl Directory {
    pub(crate) fn insert(&self, record: ClientRecord) {
        let record = Arc::new(record);
        let mut inner = self.write();
        inner
            .by_name_key
            .insert(name_key(record.name.as_str()), record.id);
        inner.by_id.insert(record.id, record.clone());
        inner.sorted.insert(record.id, record.clone());
        inner.in_order.push(record);
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        // A poisoned lock only means another thread panicked mid-insert of a
        // map entry; the maps are still usable.
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }

    /// The client with this id.
    pub fn get(&self, id: &ClientId) -> Option<Arc<ClientRecord>> {
        self.read().by_id.get(id).cloned()
    }

    /// Whether a client has this id.
    pub fn contains(&self, id: &ClientId) -> bool {
        self.read().by_id.contains_key(id)
    }

    /// The client whose name equals `name` ignoring ASCII case.
    pub fn find_name(&self, name: &str) -> Option<Arc<ClientRecord>> {
        let inner = self.read();
        let id = inner.by_name_key.get(&name_key(name))?;
        inner.by_id.get(id).cloned()
    }

    /// Whether the name is taken (ignoring ASCII case).
    pub fn name_taken(&self, name: &str) -> bool {
        self.read().by_name_key.contains_key(&name_key(name))
    }

    /// Every client but `except`, in registration order.
    pub fn all_except(&self, except: &ClientId) -> Vec<Arc<ClientRecord>> {
        self.read()
            .in_order
            .iter()
            .filter(|r| r.id != *except)
            .cloned()
            .collect()
    }

    /// Up to `limit` clients other than `except` with ids after `after`, and
    /// whether more follow.
    pub fn page(
        &self,
        except: &ClientId,
        after: &ClientId,
        limit: usize,
    ) -> (Vec<Arc<ClientRecord>>, bool) {
        use std::ops::Bound::{Excluded, Unbounded};
        let inner = self.read();
        let start = if after.is_nil() {
            Unbounded
        } else {
            Excluded(*after)
        };
        let mut page: Vec<_> = inner
            .sorted
            .range((start, Unbounded))
            .map(|(_, r)| r)
            .filter(|r| r.id != *except)
            .take(limit + 1)
            .cloned()
            .collect();
        let more = page.len() > limit;
        page.truncate(limit);
        (page, more)
    }

    /// Number of registered clients.
    pub fn len(&self) -> usize {
        self.read().by_id.len()
    }

    /// Whether no client is registered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: u8, name: &str) -> ClientRecord {
        ClientRecord {
            id: ClientId([id; 16]),
            name: Name::new(name).unwrap(),
            public_key: PublicKey([id; 160]),
        }
    }

    #[test]
    fn names_are_unique_ignoring_ascii_case() {
        let d = Directory::default();
        d.insert(record(1, "Bob"));
        assert!(d.name_taken("bob"));
        assert!(d.name_taken("BOB"));
        assert_eq!(d.find_name("bOb").unwrap().id, ClientId([1; 16]));
        assert!(!d.name_taken("bób"));
    }

    #[test]
    fn pages_by_id_skipping_the_caller() {
        let d = Directory::default();
        for i in [5u8, 1, 3, 2, 4] {
            d.insert(record(i, &format!("u{i}")));
        }
        let me = ClientId([3; 16]);
        let (p1, more) = d.page(&me, &ClientId::NIL, 2);
        assert_eq!(p1.iter().map(|r| r.id.0[0]).collect::<Vec<_>>(), vec![1, 2]);
        assert!(more);
        let (p2, more) = d.page(&me, &p1[1].id, 2);
        assert_eq!(p2.iter().map(|r| r.id.0[0]).collect::<Vec<_>>(), vec![4, 5]);
        assert!(!more);
        let order: Vec<_> = d.all_except(&me).iter().map(|r| r.id.0[0]).collect();
        assert_eq!(order, vec![5, 1, 2, 4]);
    }
}
