//! One typed method per request kind on an authenticated [`Connection`]:
//! each sends its request through [`Connection::call`] (or
//! [`Connection::submit`]) and turns the answer into what the caller wants,
//! or an error for an answer that does not fit.
//!
//! Apart from `connection.rs` so that a new request kind is one method here
//! and nothing in the connection's plumbing.

use bytes::Bytes;
use protocol::v3;
use protocol::{ClientId, MessageKind, Name, UploadId};

use super::Connection;
use super::error::ConnectionError;
use super::queue::PushQueue;

impl Connection {
    /// Every other client, page by page.
    ///
    /// # Errors
    /// See [`Connection::call`].
    pub async fn list_clients(&self) -> Result<Vec<v3::ClientEntry>, ConnectionError> {
        let mut all = Vec::new();
        let mut after = ClientId::NIL;
        loop {
            match self.call(v3::Request::ListClients { after }).await? {
                v3::Response::ClientList(page) => {
                    let more = page.more;
                    if let Some(last) = page.clients.last() {
                        after = last.id;
                    }
                    all.extend(page.clients);
                    if !more {
                        return Ok(all);
                    }
                }
                other => return Err(unexpected(&other)),
            }
        }
    }

    /// A client's key bundle and name by id.
    ///
    /// # Errors
    /// Unknown client, or see [`Connection::call`].
    pub async fn public_key(&self, id: ClientId) -> Result<v3::PeerKey, ConnectionError> {
        match self.call(v3::Request::GetPublicKey(id)).await? {
            v3::Response::PublicKey(k) => Ok(k),
            other => Err(unexpected(&other)),
        }
    }

    /// Deletes our own account, named again as the server asks (114); the
    /// server closes this connection after answering.
    ///
    /// # Errors
    /// `NAME_MISMATCH`, or see [`Connection::call`].
    pub async fn delete_account(&self, name: &Name) -> Result<v3::AccountDeleted, ConnectionError> {
        match self.call(v3::Request::DeleteAccount(name.clone())).await? {
            v3::Response::AccountDeleted(d) => Ok(d),
            other => Err(unexpected(&other)),
        }
    }

    /// A client's id, key bundle and name by name (ignoring ASCII case).
    ///
    /// # Errors
    /// Unknown client, or see [`Connection::call`].
    pub async fn lookup(&self, name: &Name) -> Result<v3::PeerKey, ConnectionError> {
        match self.call(v3::Request::LookupName(name.clone())).await? {
            v3::Response::PublicKey(k) => Ok(k),
            other => Err(unexpected(&other)),
        }
    }

    /// Stores a message of type 1, 2 or 3; returns its id once durable.
    ///
    /// # Errors
    /// Refused (unknown recipient, quotas), or see [`Connection::call`].
    pub async fn send_message(
        &self,
        destination: ClientId,
        kind: MessageKind,
        content: Bytes,
    ) -> Result<u64, ConnectionError> {
        let request = v3::Request::SendMessage(v3::SendMessage {
            destination,
            kind,
            content,
        });
        match self.call(request).await? {
            v3::Response::MessageStored(m) => Ok(m.message_id),
            other => Err(unexpected(&other)),
        }
    }

    /// A batch of waiting messages (nothing is removed), type 7 included:
    /// every pull says this client reads it.
    ///
    /// # Errors
    /// See [`Connection::call`].
    pub async fn pull(&self, max_messages: u16) -> Result<v3::MessageBatch, ConnectionError> {
        let request = v3::Request::Pull(v3::Pull {
            max_messages: max_messages | v3::PULL_READS_NOT_DELIVERED,
            max_bytes: 0,
        });
        match self.call(request).await? {
            v3::Response::Messages(b) => Ok(b),
            other => Err(unexpected(&other)),
        }
    }

    /// Removes handled messages; one status per id.
    ///
    /// # Errors
    /// See [`Connection::call`].
    pub async fn ack(&self, ids: Vec<u64>) -> Result<Vec<v3::AckStatus>, ConnectionError> {
        let mut statuses = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(usize::from(self.limits.max_ack_ids).max(1)) {
            match self.call(v3::Request::Ack(chunk.to_vec())).await? {
                v3::Response::Acked(s) => statuses.extend(s),
                other => return Err(unexpected(&other)),
            }
        }
        Ok(statuses)
    }

    /// Subscribes to pushes; returns how many messages were waiting and the
    /// stream of deliveries (only the first call gets the stream).
    ///
    /// # Errors
    /// See [`Connection::call`].
    pub async fn subscribe(
        &self,
    ) -> Result<(u32, Option<PushQueue<v3::Delivery>>), ConnectionError> {
        // The server pushes type 7 only to a connection that pulled saying
        // it reads it (PROTOCOL.md "112 subscribe").
        self.pull(1).await?;
        match self.call(v3::Request::Subscribe).await? {
            v3::Response::Subscribed { waiting } => {
                let stream = self.pushes.lock().unwrap_or_else(|e| e.into_inner()).take();
                Ok((waiting, stream))
            }
            other => Err(unexpected(&other)),
        }
    }

    /// Measures nothing; keeps the connection alive.
    ///
    /// # Errors
    /// See [`Connection::call`].
    pub async fn ping(&self) -> Result<(), ConnectionError> {
        let token = rand::random();
        match self.call(v3::Request::Ping(token)).await? {
            v3::Response::Pong(t) if t == token => Ok(()),
            other => Err(unexpected(&other)),
        }
    }

    /// Begins an upload.
    ///
    /// # Errors
    /// Refused (size, quotas, recipient), or see [`Connection::call`].
    pub async fn upload_begin(
        &self,
        destination: ClientId,
        file_size: u64,
        meta: Bytes,
    ) -> Result<v3::UploadStatus, ConnectionError> {
        let request = v3::Request::UploadBegin(v3::UploadBegin {
            destination,
            file_size,
            meta,
        });
        match self.call(request).await? {
            v3::Response::UploadStatus(s) => Ok(s),
            other => Err(unexpected(&other)),
        }
    }

    /// Where an unfinished upload stands.
    ///
    /// # Errors
    /// Unknown upload, or see [`Connection::call`].
    pub async fn upload_resume(&self, id: UploadId) -> Result<v3::UploadStatus, ConnectionError> {
        match self.call(v3::Request::UploadResume(id)).await? {
            v3::Response::UploadStatus(s) => Ok(s),
            other => Err(unexpected(&other)),
        }
    }

    /// Queues one chunk now; the future says `None` when it is stored and
    /// `Some(message id)` when it completed the file.
    pub fn upload_chunk(
        &self,
        upload_id: UploadId,
        offset: u64,
        data: Bytes,
    ) -> impl std::future::Future<Output = Result<Option<u64>, ConnectionError>> + Send + 'static
    {
        let answer = self.submit(v3::Request::UploadChunk(v3::UploadChunk {
            upload_id,
            offset,
            data,
        }));
        async move {
            match answer.await? {
                v3::Response::ChunkStored(_) => Ok(None),
                v3::Response::FileSent(f) => Ok(Some(f.message_id)),
                other => Err(unexpected(&other)),
            }
        }
    }

    /// Abandons an unfinished upload.
    ///
    /// # Errors
    /// Unknown upload, or see [`Connection::call`].
    pub async fn upload_cancel(&self, id: UploadId) -> Result<(), ConnectionError> {
        match self.call(v3::Request::UploadCancel(id)).await? {
            v3::Response::UploadCancelled(_) => Ok(()),
            other => Err(unexpected(&other)),
        }
    }

    /// Reads up to `max_len` bytes of a waiting file from `offset`.
    ///
    /// # Errors
    /// Unknown message, bad offset, or see [`Connection::call`].
    pub async fn download(
        &self,
        message_id: u64,
        offset: u64,
        max_len: u32,
    ) -> Result<Bytes, ConnectionError> {
        let request = v3::Request::Download(v3::Download {
            message_id,
            offset,
            max_len,
        });
        match self.call(request).await? {
            v3::Response::FileChunk(c) if c.offset == offset => Ok(c.data),
            other => Err(unexpected(&other)),
        }
    }
}

fn unexpected(response: &v3::Response) -> ConnectionError {
    ConnectionError::Unexpected(format!("{:?}", response.code()))
}
