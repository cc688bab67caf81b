//! The directory of version-3 clients: list clients (101), get a public key
//! by id (102), look a client up by name (106). Read from the store's
//! in-memory directory, so none of these waits on the database.

use protocol::v3;
use protocol::{ClientId, ErrorReason, MAX_LIST_PAGE};

use crate::names;
use crate::shared::Shared;
use crate::store::Protocol;
use crate::v3::reply::error;

/// In a cluster, makes sure the directory knows the client a request names
/// (the caller of a hello, the recipient of a send or an upload, the client
/// asked about) even if its registration through another node has not been
/// heard yet: a miss is read from the database. Called only for a shared
/// store (the session checks, so that a single node never builds this
/// future).
pub(crate) async fn read_through(shared: &Shared, header_id: ClientId, request: &v3::Request) {
    let store = &shared.store;
    match request {
        v3::Request::Hello(_) => store.know_client(&header_id).await,
        v3::Request::SendMessage(m) => store.know_client(&m.destination).await,
        v3::Request::UploadBegin(u) => store.know_client(&u.destination).await,
        v3::Request::GetPublicKey(id) => store.know_client(id).await,
        v3::Request::LookupName(name) => store.know_name(&names::normalise(name.as_str())).await,
        _ => {}
    }
}

/// A page of the other clients, by id, after `after` (all zero: from the
/// start).
pub(crate) fn list_clients(shared: &Shared, me: ClientId, after: ClientId) -> v3::Response {
    let (page, more) = shared
        .store
        .directory()
        .page(Protocol::V3, &me, &after, MAX_LIST_PAGE);
    v3::Response::ClientList(v3::ClientPage {
        more,
        clients: page
            .iter()
            .map(|r| v3::ClientEntry {
                id: r.id,
                name: r.name.clone(),
            })
            .collect(),
    })
}

/// A client's public key and name, by id.
pub(crate) fn get_public_key(shared: &Shared, id: ClientId) -> v3::Response {
    match shared.store.directory().get(Protocol::V3, &id) {
        Some(r) => v3::Response::PublicKey(v3::PeerKey {
            client_id: r.id,
            public_key: r.public_key,
            name: r.name.clone(),
        }),
        None => error(ErrorReason::UnknownClient, format!("no client {id}")),
    }
}

/// A client's id and public key, by name (in NFC, as names are stored;
/// ASCII case is ignored).
pub(crate) fn lookup_name(shared: &Shared, name: &str) -> v3::Response {
    match shared
        .store
        .directory()
        .find_name(Protocol::V3, &names::normalise(name))
    {
        Some(r) => v3::Response::PublicKey(v3::PeerKey {
            client_id: r.id,
            public_key: r.public_key,
            name: r.name.clone(),
        }),
        None => error(ErrorReason::UnknownClient, "no client has that name"),
    }
}
