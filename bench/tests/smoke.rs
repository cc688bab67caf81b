//! The load generator's smoke configuration, run as a user would run it:
//! the `loadgen` binary, every scenario with tiny sizes, in process, with its
//! JSON checked. This is how CI proves the load generator still works; the
//! figures themselves are not checked (CI machines are busy).

use std::fs::File;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long the smoke run may take before the test kills it and fails.
const LIMIT: Duration = Duration::from_secs(120);

/// Runs `loadgen ARGS` with stdout and stderr in files under `dir`; returns
/// the exit code and both outputs. Kills it after [`LIMIT`].
fn loadgen(dir: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let out_path = dir.join("stdout");
    let err_path = dir.join("stderr");
    let mut child = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(File::create(&out_path).unwrap())
        .stderr(File::create(&err_path).unwrap())
        .spawn()
        .expect("start loadgen");
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("loadgen {args:?} took longer than {LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    (
        status.code(),
        std::fs::read_to_string(out_path).unwrap(),
        std::fs::read_to_string(err_path).unwrap(),
    )
}

fn python3_available() -> bool {
    Command::new("python3")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn smoke_runs_every_scenario_and_writes_json() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("smoke.json");
    let json_arg = json.to_str().unwrap();
    // The reference scenario is part of the smoke run, never dropped.
    assert!(
        python3_available(),
        "python3 is missing (it runs the reference stand-in): install the Debian package \
         python3 (.ci/run does)"
    );
    let args = vec!["smoke", "--json", json_arg, "--with-reference"];
    let (code, stdout, stderr) = loadgen(dir.path(), &args);
    assert_eq!(code, Some(0), "stdout:\n{stdout}\nstderr:\n{stderr}");

    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let scenarios = report["scenarios"].as_array().unwrap();
    let names: Vec<&str> = scenarios
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    let expected = vec![
        "limits",
        "v2-reference",
        "v2",
        "idle",
        "v3",
        "room",
        "room-read",
        "presence",
    ];
    assert_eq!(names, expected, "stdout:\n{stdout}");
    for s in scenarios {
        assert_eq!(s["passed"], true, "{s:#}");
        // One human line per scenario, and it is the one in the JSON.
        assert!(stdout.contains(s["summary"].as_str().unwrap()));
    }
    assert_eq!(stdout.lines().count(), scenarios.len(), "{stdout}");

    let v2 = &scenarios[names.iter().position(|n| *n == "v2").unwrap()];
    let messages = v2["figures"]["messages"].as_u64().unwrap();
    assert!(messages > 0);
    assert_eq!(v2["figures"]["delivered"].as_u64(), Some(messages));
    assert!(v2["figures"]["send_latency"]["p99_us"].as_u64().unwrap() > 0);
    // Beside its limits and the reference.
    let limits_compared = v2["comparisons"].as_array().unwrap().len();
    assert!(limits_compared >= 5);

    let limits = &scenarios[0]["figures"];
    for key in [
        "tcp_mb_per_s",
        "chacha20poly1305_mb_per_s",
        "xchacha20poly1305_mb_per_s",
        "connects_per_s",
    ] {
        assert!(limits[key].as_f64().unwrap() > 0.0, "{key}");
    }
    assert_eq!(
        limits["sqlite_server_durability"].as_array().unwrap().len(),
        3
    );

    let v3 = &scenarios[names.iter().position(|n| *n == "v3").unwrap()];
    assert!(
        v3["figures"]["throughput_messages"].as_u64().unwrap() > 0,
        "{v3:#}"
    );
    assert!(v3["figures"]["e2e_msgs_per_s"].as_f64().unwrap() > 0.0);
    assert!(v3["figures"]["push_latency"]["count"].as_u64().unwrap() > 0);

    // room-read: both readers read every text of each size, the one
    // reading as the client releasing after each.
    let read = scenarios[names.iter().position(|n| *n == "room-read").unwrap()]["figures"]
        .as_array()
        .unwrap();
    let sizes: Vec<u64> = read.iter().map(|s| s["size"].as_u64().unwrap()).collect();
    assert_eq!(sizes, [100, 65_536]);
    for s in read {
        assert_eq!(s["texts"].as_u64(), Some(4), "{s:#}");
        assert!(
            s["release_wall"]["median_us"].as_f64().unwrap() > 0.0,
            "{s:#}"
        );
    }

    let idle = &scenarios[names.iter().position(|n| *n == "idle").unwrap()];
    assert_eq!(idle["figures"]["connections"].as_u64(), Some(40));
    assert_eq!(
        idle["figures"]["pings_answered"], idle["figures"]["pinged"],
        "{idle:#}"
    );

    // The room of three: two adding commits of one member each (the smoke
    // plan's batch), every text stored once and delivered to both others.
    let room = &scenarios[names.iter().position(|n| *n == "room").unwrap()]["figures"][0];
    assert_eq!(room["members"].as_u64(), Some(3), "{room:#}");
    let adds = room["adds"].as_array().unwrap();
    assert_eq!(adds.len(), 2, "{room:#}");
    assert_eq!(adds[1]["members_after"].as_u64(), Some(3));
    assert!(adds[0]["welcome_bytes"].as_u64().unwrap() > 0);
    assert_eq!(
        room["full_room_commit"]["process"]["count"].as_u64(),
        Some(2)
    );
    assert_eq!(room["stored"]["log_rows_per_text"].as_f64(), Some(1.0));
    assert_eq!(room["stored"]["message_rows_per_text"].as_f64(), Some(0.0));
    assert_eq!(room["stored"]["after_acks"]["room_log"].as_u64(), Some(0));
    assert_eq!(room["latency"]["to_each_member"]["count"].as_u64(), Some(6));
    assert_eq!(
        room["throughput"]["to_each_member"]["count"].as_u64(),
        Some(8)
    );
    assert_eq!(room["member_decrypt"]["count"].as_u64(), Some(2));

    // Then one more user joins the room, made public, by external commit:
    // the three members each got the commit pushed and merged it.
    let join = &room["join"];
    assert_eq!(join["members_before"].as_u64(), Some(3), "{join:#}");
    assert_eq!(join["members_after"].as_u64(), Some(4), "{join:#}");
    assert!(join["commit_bytes"].as_u64().unwrap() > 0);
    assert!(join["group_info_bytes"].as_u64().unwrap() > 0);
    for key in ["delivery", "process", "merged_own_device"] {
        assert_eq!(join[key]["count"].as_u64(), Some(3), "{key}: {join:#}");
    }

    // Presence: 30 shown, two watchers; the quiet churn pushes nothing, the
    // shown churn's changes reach both watchers.
    let presence = &scenarios[names.iter().position(|n| *n == "presence").unwrap()]["figures"];
    assert_eq!(presence["shown"].as_u64(), Some(30), "{presence:#}");
    assert_eq!(presence["quiet"]["changes_pushed"].as_u64(), Some(0));
    let shown = &presence["presence"];
    assert!(shown["events"].as_u64().unwrap() > 0, "{presence:#}");
    assert!(
        shown["changes_pushed"].as_u64().unwrap() > 0,
        "{presence:#}"
    );
    assert!(
        shown["delay"]["count"].as_u64().unwrap() > 0,
        "{presence:#}"
    );
    assert_eq!(shown["unmatched"].as_u64(), Some(0));
}

/// `--split-cores`: the generator and the server it starts get disjoint
/// halves of the cores, and every phase of v3 says how busy each half was.
#[test]
fn split_cores_runs_the_server_on_its_own_cores_and_v3_reports_where_the_time_and_cpu_went() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("v3.json");
    let before_us = unix_us();
    let args = [
        "--split-cores",
        "v3",
        "--spawn",
        "--v3-users",
        "4",
        "--v3-seconds",
        "1",
        "--v3-curve",
        "200",
        "--json",
        json.to_str().unwrap(),
    ];
    let (code, stdout, stderr) = loadgen(dir.path(), &args);
    assert_eq!(code, Some(0), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stderr.contains("load generator on cores"), "{stderr}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let v3 = &report["scenarios"][0];
    assert_eq!(v3["passed"], true, "{v3:#}");
    let figures = &v3["figures"];
    let half = |side: &str| -> Vec<u64> {
        figures["cores"][side]
            .as_array()
            .unwrap_or_else(|| panic!("no {side} cores: {figures:#}"))
            .iter()
            .map(|c| c.as_u64().unwrap())
            .collect()
    };
    let (generator, server) = (half("generator"), half("server"));
    assert!(!generator.is_empty() && !server.is_empty());
    assert!(generator.iter().all(|c| !server.contains(c)));
    let busy = &figures["curve"][0]["cpu_busy"];
    for side in ["all", "generator", "server"] {
        let percent = busy[side]
            .as_f64()
            .unwrap_or_else(|| panic!("{side}: {busy:#}"));
        assert!((0.0..=100.0).contains(&percent), "{side}: {busy:#}");
    }
    // When the phase's first window began, to lay other records beside it.
    let began = figures["curve"][0]["windows"]["started_unix_us"]
        .as_u64()
        .unwrap_or_else(|| panic!("no start of the windows: {figures:#}"));
    assert!(
        (before_us..=unix_us()).contains(&began),
        "{began} not within the run"
    );
    // The server's whole part, message by message: at least its commit,
    // at most the whole push latency (its buckets read up to 1/8 high).
    let point = &figures["curve"][0];
    let stage = |name: &str| {
        point["stages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["stage"] == name)
            .unwrap_or_else(|| panic!("no stage {name}: {point:#}"))
            .clone()
    };
    let (whole, commit) = (stage("through the server"), stage("commit"));
    for q in ["p50_us", "p99_us"] {
        let w = whole[q].as_u64().unwrap();
        assert!(w >= commit[q].as_u64().unwrap(), "{q}: {point:#}");
        let total = point["push_latency"][q].as_u64().unwrap();
        assert!(w <= total + total / 8 + 1, "{q}: {point:#}");
    }
    // The writer's own work for the messages it stored and removed.
    let writer = &figures["throughput_writer"];
    assert!(writer["sends"].as_u64().unwrap() > 0, "{writer:#}");
    assert!(writer["send_ns"].as_u64().unwrap() > 0, "{writer:#}");
    assert_eq!(
        writer["acked_ids"].as_u64(),
        figures["throughput_messages"].as_u64(),
        "every message acknowledged once: {writer:#}"
    );
    assert!(writer["ack_ns"].as_u64().unwrap() > 0, "{writer:#}");
    // Both sides worked in the throughput phase.
    let throughput = &figures["throughput_cpu_busy"];
    assert!(
        throughput["generator"].as_f64().unwrap() > 0.0,
        "{throughput:#}"
    );
    assert!(
        throughput["server"].as_f64().unwrap() > 0.0,
        "{throughput:#}"
    );
}

fn unix_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64
}
