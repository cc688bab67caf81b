//! A throwaway PostgreSQL for the tests and the load generator: `initdb` in
//! a temporary folder,
//! `pg_ctl start` on a free loopback port, one database, and `pg_ctl stop`
//! plus the folder's removal when dropped.
//!
//! PostgreSQL refuses to run as root, and the tests run as root (CI does):
//! then the folder belongs to the `postgres` user and every PostgreSQL
//! program runs through `runuser -u postgres --`. The binaries come from
//! Debian's `postgresql` package (/usr/lib/postgresql/<version>/bin); where
//! they are missing, starting fails with one line naming the package.
//!
//! Leaves out replication, TLS and passwords: loopback connections are
//! trusted, and nothing but the test that started it can reach the port.
//! Tests run it without fsync (they care about crashes of a process, not of
//! the machine); the load generator runs it durable, as a deployment would.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, bail};

/// The database every throwaway cluster creates.
const DATABASE: &str = "sealpost";

/// The superuser `initdb` creates (the same name whoever runs it).
const SUPERUSER: &str = "postgres";

/// Seconds `pg_ctl` may wait for a start or a stop.
const PG_CTL_WAIT_SECS: &str = "30";

/// A PostgreSQL cluster of its own, stopped and removed when dropped.
pub struct Postgres {
    bin: PathBuf,
    data: PathBuf,
    as_postgres: bool,
    port: u16,
    /// The server's options (`pg_ctl -o`), to start it again the same way.
    options: String,
    _dir: tempfile::TempDir,
}

impl Postgres {
    /// Creates and starts a cluster on a free loopback port with one
    /// database, and returns once it accepts connections.
    ///
    /// # Errors
    /// PostgreSQL is not installed ("PostgreSQL is missing: apt-get install
    /// postgresql"), or `initdb`, `pg_ctl` or `createdb` failed (their
    /// output is in the error).
    pub fn start() -> anyhow::Result<Postgres> {
        Self::start_with(false)
    }

    /// Like [`Postgres::start`], but every commit is flushed to disk before
    /// it is answered (`fsync` and `synchronous_commit` on, PostgreSQL's
    /// defaults): the durability of a server run with `--durability full`.
    ///
    /// # Errors
    /// As [`Postgres::start`].
    pub fn start_durable() -> anyhow::Result<Postgres> {
        Self::start_with(true)
    }

    fn start_with(durable: bool) -> anyhow::Result<Postgres> {
        let bin = find_bin()?;
        let as_postgres = rustix::process::geteuid().is_root();
        let dir = tempfile::Builder::new().prefix("sealpost-pg").tempdir()?;
        let data = dir.path().join("data");
        let sockets = dir.path().join("sockets");
        std::fs::create_dir(&sockets)?;
        if as_postgres {
            // The tempdir is root's (0700); the server needs its own.
            run(Command::new("chown")
                .arg("-R")
                .arg("postgres:postgres")
                .arg(dir.path()))
            .context("giving the cluster's folder to the postgres user")?;
        }
        let mut pg = Postgres {
            bin,
            data,
            as_postgres,
            port: 0,
            options: String::new(),
            _dir: dir,
        };
        run(pg
            .command("initdb")
            .arg("-D")
            .arg(&pg.data)
            .args(["-U", SUPERUSER, "--auth=trust", "--no-sync"])
            .args(["--encoding=UTF8", "--locale=C"]))?;
        pg.port = free_port()?;
        pg.options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync={} -c max_connections=200",
            pg.port,
            sockets.display(),
            if durable { "on" } else { "off" }
        );
        pg.start_again()?;
        run(pg
            .command("createdb")
            .args(["-h", "127.0.0.1", "-p", &pg.port.to_string()])
            .args(["-U", SUPERUSER, DATABASE]))?;
        Ok(pg)
    }

    /// The connection string of its database (`server --database`).
    pub fn url(&self) -> String {
        format!("postgres://{SUPERUSER}@127.0.0.1:{}/{DATABASE}", self.port)
    }

    /// Its port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Runs one SQL statement through `psql` and returns its rows, one a
    /// line, columns separated by `|` (for tests that look at what the
    /// database holds).
    ///
    /// # Errors
    /// `psql` failed (its output is in the error).
    pub fn query(&self, sql: &str) -> anyhow::Result<String> {
        let output = self
            .command("psql")
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(["-U", SUPERUSER, "-d", DATABASE, "-X", "-A", "-t", "-c", sql])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .context("running psql")?;
        if !output.status.success() {
            bail!(
                "psql failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
    }

    /// Stops the server the way an operator restarting it does (`pg_ctl
    /// stop -m fast`: sessions are ended, committed work is kept), for tests
    /// of a database that goes away and comes back.
    ///
    /// # Errors
    /// `pg_ctl` failed (its output is in the error).
    pub fn stop(&self) -> anyhow::Result<()> {
        run(self.command("pg_ctl").arg("-D").arg(&self.data).args([
            "-w",
            "-t",
            PG_CTL_WAIT_SECS,
            "-m",
            "fast",
            "stop",
        ]))
        .context("stopping PostgreSQL")
    }

    /// Starts the server again on its data and port after [`Postgres::stop`],
    /// and returns once it accepts connections.
    ///
    /// # Errors
    /// `pg_ctl` failed (its output is in the error), for one because
    /// another program took the port meanwhile.
    pub fn start_again(&self) -> anyhow::Result<()> {
        run(self
            .command("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .args(["-w", "-t", PG_CTL_WAIT_SECS, "-l"])
            .arg(self.data.join("server.log"))
            .arg("-o")
            .arg(&self.options)
            .arg("start"))
        .with_context(|| format!("starting PostgreSQL on port {}", self.port))
    }

    /// A PostgreSQL program, run as `postgres` when the tests run as root.
    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        let mut command = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        };
        // The postgres user may not enter the tests' working folder.
        command.current_dir(self._dir.path()).stdin(Stdio::null());
        command
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        // Immediate: the data is thrown away, nothing needs flushing; -t
        // bounds the wait.
        let stopped = run(self.command("pg_ctl").arg("-D").arg(&self.data).args([
            "-w",
            "-t",
            PG_CTL_WAIT_SECS,
            "-m",
            "immediate",
            "stop",
        ]));
        if let Err(e) = stopped {
            eprintln!("stopping the test PostgreSQL: {e:#}");
        }
    }
}

/// The newest installed PostgreSQL's `bin` folder.
fn find_bin() -> anyhow::Result<PathBuf> {
    let root = Path::new("/usr/lib/postgresql");
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            (bin.join("initdb").is_file() && bin.join("pg_ctl").is_file()).then_some((version, bin))
        })
        .collect();
    found.sort();
    match found.pop() {
        Some((_, bin)) => Ok(bin),
        None => bail!("PostgreSQL is missing: apt-get install postgresql"),
    }
}

/// A port no one listened on a moment ago (bound to port 0, read, released).
fn free_port() -> anyhow::Result<u16> {
    let socket = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(socket.local_addr()?.port())
}

/// Runs `command` to its end; fails with its output unless it succeeds.
fn run(command: &mut Command) -> anyhow::Result<()> {
    let output = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .with_context(|| format!("running {:?}", command.get_program()))?;
    if !output.status.success() {
        bail!(
            "{:?} failed ({}): {}{}",
            command.get_program(),
            output.status,
            String::from_utf8_lossy(&output.stdout).trim(),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_throwaway_cluster_accepts_connections_restarts_and_is_gone_after_drop() {
        let pg = Postgres::start().unwrap();
        let ready = |pg: &Postgres| {
            pg.command("pg_isready")
                .args([
                    "-h",
                    "127.0.0.1",
                    "-p",
                    &pg.port().to_string(),
                    "-d",
                    DATABASE,
                ])
                .output()
                .unwrap()
                .status
                .success()
        };
        assert!(ready(&pg), "{}", pg.url());
        pg.stop().unwrap();
        assert!(!ready(&pg));
        pg.start_again().unwrap();
        assert!(ready(&pg), "{}", pg.url());
        let folder = pg._dir.path().to_path_buf();
        let port = pg.port();
        drop(pg);
        assert!(!folder.exists());
        assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
    }
}
