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
//!
//! `initdb` and `createdb` take most of a cluster's start (about a second
//! on 2 cores), so they run once a machine: the first cluster leaves a
//! stopped one in the temporary folder (`sealpost-pg-template-*`, about 40
//! MB), and every cluster after it starts from a copy.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use anyhow::{Context, bail};

/// The database every throwaway cluster creates.
const DATABASE: &str = "sealpost";

/// The superuser `initdb` creates (the same name whoever runs it).
const SUPERUSER: &str = "postgres";

/// Changes with how the template cluster is made (`initdb`'s options, the
/// database), so that a template made otherwise is never copied.
const TEMPLATE_FORMAT: u32 = 1;

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
        let template = template()?;
        let (mut pg, sockets) =
            Self::in_folder(tempfile::Builder::new().prefix("sealpost-pg").tempdir()?)?;
        // `cp -a` keeps the modes PostgreSQL insists on (0700 or 0750).
        run(pg
            .command_at(Path::new("/bin/cp"))
            .arg("-a")
            .arg(&template)
            .arg(&pg.data))
        .context("copying the template cluster")?;
        pg.configure(&sockets, durable)?;
        pg.start_again()?;
        Ok(pg)
    }

    /// A cluster to be made in `dir` (its `data`), not yet started, and the
    /// folder for its sockets.
    fn in_folder(dir: tempfile::TempDir) -> anyhow::Result<(Postgres, PathBuf)> {
        let bin = find_bin()?;
        let as_postgres = rustix::process::geteuid().is_root();
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
        let pg = Postgres {
            bin,
            data: dir.path().join("data"),
            as_postgres,
            port: 0,
            options: String::new(),
            _dir: dir,
        };
        Ok((pg, sockets))
    }

    /// Picks a port and the server's options (sockets in `sockets`).
    fn configure(&mut self, sockets: &Path, durable: bool) -> anyhow::Result<()> {
        self.port = free_port()?;
        self.options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync={} -c max_connections=200",
            self.port,
            sockets.display(),
            if durable { "on" } else { "off" }
        );
        Ok(())
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
        self.command_at(&self.bin.join(program))
    }

    /// The program at `path`, run as [`Self::command`].
    fn command_at(&self, path: &Path) -> Command {
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
        // A template's cluster renamed into place was stopped cleanly.
        if !self.data.exists() {
            return;
        }
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

/// The stopped cluster, with its database made, that new ones are copied
/// from: made by the first cluster on this machine (for this version and
/// owner) and kept in the temporary folder; made once a process at most.
fn template() -> anyhow::Result<PathBuf> {
    static MADE: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    MADE.get_or_init(|| make_template().map_err(|e| format!("{e:#}")))
        .clone()
        .map_err(|e| anyhow::anyhow!("making the template cluster: {e}"))
}

fn make_template() -> anyhow::Result<PathBuf> {
    let bin = find_bin()?;
    let version = bin
        .parent()
        .and_then(Path::file_name)
        .and_then(|v| v.to_str())
        .unwrap_or("pg");
    // Root's clusters belong to `postgres`, anyone else's to them.
    let uid = rustix::process::geteuid().as_raw();
    let kept = std::env::temp_dir().join(format!(
        "sealpost-pg-template-{TEMPLATE_FORMAT}-{version}-{uid}"
    ));
    // Renamed into place whole, so a folder there is a finished cluster.
    if kept.join("PG_VERSION").is_file() {
        return Ok(kept);
    }
    // Dropped, it stops the server only if the cluster is still there
    // (something failed before the rename). Made beside the kept one, so
    // that the rename stays on one file system.
    let (mut making, sockets) = Postgres::in_folder(
        tempfile::Builder::new()
            .prefix("sealpost-pg-template-new")
            .tempdir_in(std::env::temp_dir())?,
    )?;
    run(making
        .command("initdb")
        .arg("-D")
        .arg(&making.data)
        .args(["-U", SUPERUSER, "--auth=trust", "--no-sync"])
        .args(["--encoding=UTF8", "--locale=C"]))?;
    making.configure(&sockets, false)?;
    making.start_again()?;
    run(making
        .command("createdb")
        .args(["-h", "127.0.0.1", "-p", &making.port.to_string()])
        .args(["-U", SUPERUSER, DATABASE]))?;
    // A clean stop: a copy starts without recovery.
    making.stop()?;
    match std::fs::rename(&making.data, &kept) {
        Ok(()) => {}
        // Another process put its own there first: the same cluster.
        Err(_) if kept.join("PG_VERSION").is_file() => {}
        Err(e) => return Err(e).context("keeping the template cluster"),
    }
    Ok(kept)
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

    #[test]
    fn clusters_copied_from_the_template_are_each_their_own() {
        let first = Postgres::start().unwrap();
        first.query("CREATE TABLE mine (n int)").unwrap();
        first.query("INSERT INTO mine VALUES (7)").unwrap();
        let second = Postgres::start_durable().unwrap();
        assert_ne!(first.port(), second.port());
        assert_eq!(first.query("SELECT n FROM mine").unwrap(), "7");
        let missing = second.query("SELECT n FROM mine").unwrap_err();
        assert!(
            format!("{missing:#}").contains("does not exist"),
            "{missing:#}"
        );
        assert_eq!(second.query("SHOW fsync").unwrap(), "on");
        assert_eq!(first.query("SHOW fsync").unwrap(), "off");
        assert_eq!(second.query("SELECT current_database()").unwrap(), DATABASE);
        assert!(template().unwrap().join("PG_VERSION").is_file());
    }
}
