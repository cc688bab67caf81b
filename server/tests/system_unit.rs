//! `deploy/sealpost-server.service`, the unit the package installs, checked
//! by systemd's own tools: `systemd-analyze verify` accepts it, and
//! `systemd-analyze security` rates its sandbox "OK" or better (an exposure
//! of at most 2.0 of 10, where "OK" ends at 4.9), so that a client gaining
//! code execution in the server gets as little as the unit can take away.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The most exposure `systemd-analyze security` may find, in tenths.
const MAX_EXPOSURE_TENTHS: u32 = 20;

fn unit_text() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/sealpost-server.service");
    std::fs::read_to_string(&path).expect("deploy/sealpost-server.service readable")
}

/// The unit as it would be installed, with the binary this build made in
/// place of `/usr/bin/sealpost-server` (verify checks that it exists) and
/// without its man page link (verify runs `man`, and the page is installed
/// only by the package).
fn installable_copy(dir: &Path) -> PathBuf {
    let text = unit_text()
        .replace("/usr/bin/sealpost-server", env!("CARGO_BIN_EXE_server"))
        .lines()
        .filter(|l| !l.starts_with("Documentation="))
        .collect::<Vec<_>>()
        .join("\n");
    let path = dir.join("sealpost-server.service");
    std::fs::write(&path, text + "\n").expect("writing the unit copy");
    path
}

fn systemd_analyze(args: &[&str]) -> std::process::Output {
    Command::new("systemd-analyze")
        .args(args)
        .output()
        .expect("running systemd-analyze: install the Debian package `systemd`")
}

#[test]
fn the_unit_passes_systemd_analyze_verify() {
    let dir = tempfile::tempdir().unwrap();
    let unit = installable_copy(dir.path());
    let out = systemd_analyze(&["verify", unit.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "systemd-analyze verify: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_units_sandbox_is_rated_ok_or_better() {
    let dir = tempfile::tempdir().unwrap();
    let unit = installable_copy(dir.path());
    let threshold = MAX_EXPOSURE_TENTHS.to_string();
    let out = systemd_analyze(&[
        "security",
        "--offline=true",
        "--no-pager",
        &format!("--threshold={threshold}"),
        unit.to_str().unwrap(),
    ]);
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "exposure over {MAX_EXPOSURE_TENTHS} tenths:\n{report}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let overall = report
        .lines()
        .find(|l| l.contains("Overall exposure level"))
        .unwrap_or_else(|| panic!("no overall rating in:\n{report}"));
    assert!(
        overall.contains(" OK ") || overall.contains(" SAFE "),
        "{overall}"
    );
}

#[test]
fn the_unit_sets_the_sandbox_and_lifecycle_options_the_readme_lists() {
    let text = unit_text();
    for line in [
        "DynamicUser=yes",
        "StateDirectory=sealpost",
        "StateDirectoryMode=0700",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "NoNewPrivileges=yes",
        "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
        "CapabilityBoundingSet=",
        "Restart=on-failure",
        "KillSignal=SIGTERM",
    ] {
        assert!(
            text.lines().any(|l| l.trim() == line),
            "the unit lacks `{line}`"
        );
    }
    assert!(
        text.lines()
            .any(|l| l.starts_with("SystemCallFilter=@system-service")),
        "the unit has no system-call filter"
    );
    // systemd must wait out the server's drain (--shutdown-grace, 10 s by
    // default) before it escalates to SIGKILL.
    let stop: u32 = text
        .lines()
        .find_map(|l| l.strip_prefix("TimeoutStopSec="))
        .expect("the unit sets TimeoutStopSec")
        .trim()
        .parse()
        .expect("TimeoutStopSec in whole seconds");
    assert!(
        stop > 10,
        "TimeoutStopSec={stop} does not outlast the drain"
    );
}
