//! The registered clients, kept in memory so that lookups, lists and
//! existence checks never touch SQLite. The database is the durable copy;
//! this is loaded from it at startup and grows only after a registration has
//! committed.
//!
//! Every account belongs to the protocol version it registered through, and
//! each lookup names the version asking: version 2, which has no
//! authentication, never sees or touches a version-3 account, and the
//! reverse (PROTOCOL.md, Version 2).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use protocol::{ClientId, Name, PublicKey};
use rusqlite::Connection;

use super::rows::fixed;
use crate::error::StoreError;

/// The protocol version an account was registered through, and the only one
/// through which it can be seen or used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// Version 2: no authentication.
    V2,
    /// Version 3.
    V3,
}

impl Protocol {
    /// The value stored in `clients.protocol`.
    pub fn code(self) -> u8 {
        match self {
            Self::V2 => 2,
            Self::V3 => 3,
        }
    }

    /// The version of a stored value.
    pub fn from_code(code: u8) -> Option<Self> {
        match code {
            2 => Some(Self::V2),
            3 => Some(Self::V3),
            _ => None,
        }
    }
}

/// One registered client.
#[derive(Debug, Clone)]
pub struct ClientRecord {
    /// Its id.
    pub id: ClientId,
    /// Its name.
    pub name: Name,
    /// Its public key field.
    pub public_key: PublicKey,
    /// The protocol version it registered through.
    pub protocol: Protocol,
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

    /// Adds a client registered elsewhere (another node of a cluster) unless
    /// it is known already: notifications and reloads may repeat one.
    pub(crate) fn insert_if_new(&self, record: ClientRecord) {
        if !self.contains_any(&record.id) {
            self.insert(record);
        }
    }

    /// Every client's id.
    pub(crate) fn ids(&self) -> Vec<ClientId> {
        self.read().by_id.keys().copied().collect()
    }

    /// Forgets a removed client; its name is free again.
    pub(crate) fn remove(&self, id: &ClientId) {
        let mut inner = self.write();
        if let Some(record) = inner.by_id.remove(id) {
            inner.by_name_key.remove(&name_key(record.name.as_str()));
            inner.sorted.remove(id);
            inner.in_order.retain(|r| r.id != *id);
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        // A poisoned lock only means another thread panicked mid-insert of a
        // map entry; the maps are still usable.
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }

    /// The client of version `protocol` with this id.
    pub fn get(&self, protocol: Protocol, id: &ClientId) -> Option<Arc<ClientRecord>> {
        self.read()
            .by_id
            .get(id)
            .filter(|r| r.protocol == protocol)
            .cloned()
    }

    /// Whether a client of version `protocol` has this id.
    pub fn contains(&self, protocol: Protocol, id: &ClientId) -> bool {
        self.get(protocol, id).is_some()
    }

    /// Whether any client, of either version, has this id.
    pub fn contains_any(&self, id: &ClientId) -> bool {
        self.read().by_id.contains_key(id)
    }

    /// The client of version `protocol` whose name equals `name` ignoring
    /// ASCII case.
    pub fn find_name(&self, protocol: Protocol, name: &str) -> Option<Arc<ClientRecord>> {
        let inner = self.read();
        let id = inner.by_name_key.get(&name_key(name))?;
        inner
            .by_id
            .get(id)
            .filter(|r| r.protocol == protocol)
            .cloned()
    }

    /// The client of either version whose name equals `name` ignoring
    /// ASCII case (a name is one client's, whatever its version).
    pub fn find_any_name(&self, name: &str) -> Option<Arc<ClientRecord>> {
        let inner = self.read();
        let id = inner.by_name_key.get(&name_key(name))?;
        inner.by_id.get(id).cloned()
    }

    /// Whether the name is taken (ignoring ASCII case).
    #[cfg(test)]
    pub fn name_taken(&self, name: &str) -> bool {
        self.read().by_name_key.contains_key(&name_key(name))
    }

    /// Every client of version `protocol` but `except`, in registration order.
    pub fn all_except(&self, protocol: Protocol, except: &ClientId) -> Vec<Arc<ClientRecord>> {
        self.read()
            .in_order
            .iter()
            .filter(|r| r.id != *except && r.protocol == protocol)
            .cloned()
            .collect()
    }

    /// Up to `limit` clients of version `protocol` other than `except` with
    /// ids after `after`, and whether more follow.
    pub fn page(
        &self,
        protocol: Protocol,
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
            .filter(|r| r.id != *except && r.protocol == protocol)
            .take(limit + 1)
            .cloned()
            .collect();
        let more = page.len() > limit;
        page.truncate(limit);
        (page, more)
    }
}

impl Directory {
    /// Every registered client, in registration order.
    pub(super) fn load(conn: &Connection) -> Result<Directory, StoreError> {
        let directory = Directory::default();
        let mut stmt =
            conn.prepare("SELECT id, name, public_key, protocol FROM clients ORDER BY seq")?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, Vec<u8>>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Vec<u8>>(2)?,
                r.get::<_, u8>(3)?,
            ))
        })?;
        for row in rows {
            let (id, name, key, protocol) = row?;
            directory.insert(ClientRecord {
                id: ClientId(fixed(&id, "client id")?),
                name: Name::new(name).map_err(|e| StoreError::Corrupt(e.to_string()))?,
                public_key: PublicKey(fixed(&key, "public key")?),
                protocol: Protocol::from_code(protocol).ok_or_else(|| {
                    StoreError::Corrupt(format!("account of protocol version {protocol}"))
                })?,
            });
        }
        Ok(directory)
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
            protocol: Protocol::V3,
        }
    }

    #[test]
    fn names_are_unique_ignoring_ascii_case() {
        let d = Directory::default();
        d.insert(record(1, "Bob"));
        assert!(d.name_taken("bob"));
        assert!(d.name_taken("BOB"));
        assert_eq!(
            d.find_name(Protocol::V3, "bOb").unwrap().id,
            ClientId([1; 16])
        );
        assert!(!d.name_taken("bób"));
    }

    #[test]
    fn pages_by_id_skipping_the_caller() {
        let d = Directory::default();
        for i in [5u8, 1, 3, 2, 4] {
            d.insert(record(i, &format!("u{i}")));
        }
        let me = ClientId([3; 16]);
        let (p1, more) = d.page(Protocol::V3, &me, &ClientId::NIL, 2);
        assert_eq!(p1.iter().map(|r| r.id.0[0]).collect::<Vec<_>>(), vec![1, 2]);
        assert!(more);
        let (p2, more) = d.page(Protocol::V3, &me, &p1[1].id, 2);
        assert_eq!(p2.iter().map(|r| r.id.0[0]).collect::<Vec<_>>(), vec![4, 5]);
        assert!(!more);
        let order: Vec<_> = d
            .all_except(Protocol::V3, &me)
            .iter()
            .map(|r| r.id.0[0])
            .collect();
        assert_eq!(order, vec![5, 1, 2, 4]);
    }

    #[test]
    fn each_version_sees_only_its_own_accounts() {
        let d = Directory::default();
        d.insert(record(1, "v3user"));
        d.insert(ClientRecord {
            protocol: Protocol::V2,
            ..record(2, "v2user")
        });
        let (one, two) = (ClientId([1; 16]), ClientId([2; 16]));
        assert!(d.contains(Protocol::V3, &one) && !d.contains(Protocol::V2, &one));
        assert!(d.contains(Protocol::V2, &two) && !d.contains(Protocol::V3, &two));
        assert!(d.find_name(Protocol::V2, "v3user").is_none());
        assert!(d.find_name(Protocol::V3, "v2user").is_none());
        let v2: Vec<_> = d.all_except(Protocol::V2, &ClientId::NIL);
        assert_eq!(v2.len(), 1);
        assert_eq!(v2[0].id, two);
        let (v3, _) = d.page(Protocol::V3, &ClientId::NIL, &ClientId::NIL, 10);
        assert_eq!(v3.len(), 1);
        assert_eq!(v3[0].id, one);
        // Names stay unique across both.
        assert!(d.name_taken("V2USER"));
    }
}
