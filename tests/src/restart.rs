//! Starting a test server again on the folder it stopped on: plainly, or
//! after changing what its database hands out.

use std::time::Duration;

use protocol::ClientId;
use server::Config;

use crate::{TestIdentity, TestServer};

impl TestServer {
    /// Starts a server again on a folder a stopped one released. A child
    /// process another test forks in the same instant holds a copy of the
    /// lock's open file until it execs (the lock belongs to the open file,
    /// which a fork shares), so the folder can read as in use for a moment:
    /// tried again for up to 5 s then.
    async fn start_again(config: Config) -> anyhow::Result<TestServer> {
        for _ in 0..250 {
            match Self::start_with(config.clone()).await {
                Err(e) if matches!(e.downcast_ref(), Some(server::DataDirError::InUse(_))) => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                started => return started,
            }
        }
        Self::start_with(config).await
    }

    /// Stops the server and starts it again on the same data (new port).
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        self.stop().await?;
        let dir = self._dir.take();
        let mut fresh = Self::start_again(self.config.clone()).await?;
        fresh._dir = dir;
        fresh.postgres = self.postgres.take();
        *self = fresh;
        Ok(())
    }

    /// Stops the server, makes its database hand out another (validly
    /// signed) bundle as `id`'s key, what a compromised server or a man in
    /// the middle would do, and starts it again on the same folder (a new
    /// port).
    pub async fn restart_handing_out_another_key(&mut self, id: ClientId) -> anyhow::Result<()> {
        self.stop().await?;
        let other = TestIdentity::generate();
        let db = rusqlite::Connection::open(self.config.db_path())?;
        db.execute(
            "UPDATE clients SET public_key = ?1 WHERE id = ?2",
            rusqlite::params![&other.bundle.0[..], &id.0[..]],
        )?;
        drop(db);
        let mut again = TestServer::start_again(self.config.clone()).await?;
        again._dir = self._dir.take();
        again.postgres = self.postgres.take();
        *self = again;
        Ok(())
    }
}
