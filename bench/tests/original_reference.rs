//! `--spawn-original-reference DIR`: the original reference server is
//! started from a checkout (its `server/server_main.py`, in a working
//! folder of its own with its port in `port.info`) and the v2 workload runs
//! against it. The checkout here is a stand-in for the original's: an entry
//! point that reads `port.info` from its working folder, as the original
//! does, and runs the reference stand-in there, which speaks the same
//! bytes. (The original itself cannot be fetched by CI.)

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long the run may take before the test kills it and fails.
const LIMIT: Duration = Duration::from_secs(120);

/// A checkout whose entry point behaves as the original's does at start:
/// the port from `./port.info`, the database and files in `.`, and nothing
/// printed about where it listens.
fn fake_checkout(root: &Path) {
    let stand_in = Path::new(env!("CARGO_MANIFEST_DIR")).join("reference/server.py");
    std::fs::create_dir_all(root.join("server")).unwrap();
    std::fs::write(
        root.join("server/server_main.py"),
        format!(
            "import os, sys\n\
             port = open('port.info').read().strip()\n\
             sys.stderr = open(os.devnull, 'w')\n\
             os.execv(sys.executable, [sys.executable, {stand_in:?}, '--host', '127.0.0.1',\n\
             \x20   '--port', port, '--db', 'server.db', '--files', 'files'])\n",
            stand_in = stand_in.to_str().unwrap()
        ),
    )
    .unwrap();
}

fn run(args: &[&str]) -> (Option<i32>, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start loadgen");
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("loadgen {args:?} took longer than {LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn v2_runs_against_a_reference_started_from_a_checkout_by_its_port_file() {
    let python3 = Command::new("python3")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    assert!(
        python3.is_ok_and(|s| s.success()),
        "python3 is missing (it runs the reference): install the Debian package python3 \
         (.ci/run does)"
    );
    let dir = tempfile::tempdir().unwrap();
    let checkout = dir.path().join("messaging-system");
    fake_checkout(&checkout);
    let json = dir.path().join("v2.json");
    let (code, stdout, stderr) = run(&[
        "v2",
        "--users",
        "5",
        "--messages",
        "200",
        "--concurrency",
        "4",
        "--spawn-original-reference",
        checkout.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(0), "stdout:\n{stdout}\nstderr:\n{stderr}");

    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let scenarios = report["scenarios"].as_array().unwrap();
    let reference = scenarios
        .iter()
        .find(|s| s["name"] == "v2-reference")
        .expect("a v2-reference scenario");
    assert_eq!(reference["passed"], true, "{reference}");
    assert!(
        reference["summary"]
            .as_str()
            .unwrap()
            .contains("original reference (rdar-lab/messaging-system)"),
        "{reference}"
    );
    let v2 = scenarios.iter().find(|s| s["name"] == "v2").expect("v2");
    assert!(
        v2["summary"]
            .as_str()
            .unwrap()
            .contains("the original reference (rdar-lab/messaging-system) end to end"),
        "{v2}"
    );
}

#[test]
fn a_checkout_without_the_entry_point_is_refused_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = run(&[
        "v2",
        "--messages",
        "10",
        "--spawn-original-reference",
        dir.path().to_str().unwrap(),
    ]);
    assert_ne!(code, Some(0), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(
        stderr.contains("no server/server_main.py in")
            && stderr.contains("rdar-lab/messaging-system"),
        "{stderr}"
    );
}
