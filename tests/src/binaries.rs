//! The `server` and `client` binaries of the source being tested.
//!
//! A file in `target/<profile>/` may be older than the source (a test run
//! after an edit does not rebuild other packages' binaries), so the first
//! test that needs a binary asks cargo for them, once per test process:
//! `cargo test --workspace --no-run`, the build of `.ci/run` and the README,
//! in the profile and target folder of this test binary. The server and
//! client packages have integration tests, so that build includes their
//! binaries, with the features that build resolves: inside a workspace test
//! run this is cargo's freshness check (a second or two), and the harness
//! takes the paths cargo reports. If the build fails, every test that needs
//! a binary fails with cargo's output.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use anyhow::{Context, anyhow, bail};

/// The binaries the tests run.
const BINARIES: [&str; 2] = ["server", "client"];

static BUILT: OnceLock<Result<HashMap<String, PathBuf>, String>> = OnceLock::new();

/// Path of the workspace binary `name` (`server` or `client`), built from
/// the current source.
///
/// # Errors
/// `cargo build` failed, or it built no binary of that name.
pub fn binary(name: &str) -> anyhow::Result<PathBuf> {
    let built = BUILT
        .get_or_init(|| build().map_err(|e| format!("{e:#}")))
        .as_ref()
        .map_err(|e| anyhow!("building the binaries under test failed: {e}"))?;
    built
        .get(name)
        .cloned()
        .with_context(|| format!("cargo built no binary named {name}"))
}

/// `target/` and the profile of the running test binary
/// (`target/<profile>/deps/e2e-<hash>`).
fn target_and_profile() -> anyhow::Result<(PathBuf, String)> {
    let exe = std::env::current_exe()?;
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .context("the test binary is not in target/<profile>/deps")?;
    let target = profile_dir
        .parent()
        .context("the test binary has no target folder")?;
    let profile = profile_dir
        .file_name()
        .and_then(|p| p.to_str())
        .context("unnamed profile folder")?;
    // Cargo's folder for the dev profile is `debug`.
    let profile = if profile == "debug" { "dev" } else { profile };
    Ok((target.to_path_buf(), profile.to_string()))
}

fn build() -> anyhow::Result<HashMap<String, PathBuf>> {
    let (target, profile) = target_and_profile()?;
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
    let mut cargo = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| env!("CARGO").into()));
    cargo
        .args([
            "test",
            "--workspace",
            "--no-run",
            "--quiet",
            "--message-format=json",
        ])
        .arg("--manifest-path")
        .arg(&manifest)
        .arg("--target-dir")
        .arg(&target);
    match profile.as_str() {
        "dev" => {}
        "release" => {
            cargo.arg("--release");
        }
        other => {
            cargo.args(["--profile", other]);
        }
    }
    let out = cargo
        .stdin(Stdio::null())
        .output()
        .context("running cargo")?;
    if !out.status.success() {
        bail!(
            "`cargo test --workspace --no-run` exited with {}:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let mut built = HashMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Ok(message) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        // A binary built as a program (not its unit tests).
        let is_program = message["reason"] == "compiler-artifact"
            && message["profile"]["test"] == false
            && message["target"]["kind"]
                .as_array()
                .is_some_and(|kinds| kinds.iter().any(|k| k == "bin"));
        if !is_program {
            continue;
        }
        if let (Some(name), Some(exe)) = (
            message["target"]["name"].as_str(),
            message["executable"].as_str(),
        ) {
            built.insert(name.to_string(), PathBuf::from(exe));
        }
    }
    for name in BINARIES {
        if !built.contains_key(name) {
            bail!("cargo built no `{name}` executable");
        }
    }
    Ok(built)
}

/// `server --port PORT --bind 127.0.0.1 --data-dir DIR ARGS...`, its
/// standard error piped (what a start and a refused start both read).
///
/// # Errors
/// The server binary is missing.
pub fn server_command(
    data_dir: &Path,
    port: u16,
    args: &[&str],
) -> anyhow::Result<tokio::process::Command> {
    let mut command = tokio::process::Command::new(binary("server")?);
    command
        .arg("--port")
        .arg(port.to_string())
        .args(["--bind", "127.0.0.1", "--data-dir"])
        .arg(data_dir)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    Ok(command)
}
