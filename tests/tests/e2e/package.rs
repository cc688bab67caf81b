//! The Debian package (issue 19): `deploy/build-deb --profile dev` packs the
//! debug binaries this test run built (no release build) with the unit, the
//! default config and the man pages and completions generated from the clap
//! definitions; its file list and a man page's content are checked.

use std::path::Path;
use std::process::Command;

use e2e::binary;

fn run(command: &mut Command, what: &str, package: &str) -> String {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("running {what}: {e} (install the Debian package `{package}`)"));
    assert!(
        out.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_package_holds_both_binaries_the_unit_the_config_man_pages_and_completions() {
    let server = binary("server").unwrap();
    binary("client").unwrap();
    let target = server.parent().and_then(Path::parent).unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = tempfile::tempdir().unwrap();
    let cargo_deb = Command::new("cargo").args(["deb", "--version"]).output();
    assert!(
        cargo_deb.is_ok_and(|o| o.status.success()),
        "cargo-deb is missing: cargo install cargo-deb --locked --version 3.8.0 (.ci/run does)"
    );
    run(
        Command::new(root.join("deploy/build-deb"))
            .args(["--profile", "dev", "-o"])
            .arg(out.path())
            .env("CARGO_TARGET_DIR", target),
        "deploy/build-deb",
        "cargo-deb",
    );
    let deb = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "deb"))
        .expect("a .deb file");
    let list = run(
        Command::new("dpkg-deb").arg("-c").arg(&deb),
        "dpkg-deb -c",
        "dpkg",
    );
    println!("{list}");
    for path in [
        "./usr/bin/sealpost-server",
        "./usr/bin/sealpost-client",
        "./lib/systemd/system/sealpost-server.service",
        "./etc/sealpost/server.toml",
        "./usr/share/man/man1/sealpost-server.1",
        "./usr/share/man/man1/sealpost-server-status.1",
        "./usr/share/man/man1/sealpost-server-backup.1",
        "./usr/share/man/man1/sealpost-client.1",
        "./usr/share/bash-completion/completions/sealpost-server",
        "./usr/share/bash-completion/completions/sealpost-client",
        "./usr/share/zsh/vendor-completions/_sealpost-server",
        "./usr/share/zsh/vendor-completions/_sealpost-client",
        "./usr/share/fish/vendor_completions.d/sealpost-server.fish",
        "./usr/share/fish/vendor_completions.d/sealpost-client.fish",
    ] {
        assert!(
            list.lines()
                .any(|l| l.ends_with(path) || l.ends_with(&format!("{path}.gz"))),
            "{path} is not in the package:\n{list}"
        );
    }
    assert!(
        !list.contains("generate-assets"),
        "a hidden command got a page:\n{list}"
    );

    // The page is the clap definition's: its name, the config flag, the
    // operator's commands.
    let unpacked = tempfile::tempdir().unwrap();
    run(
        Command::new("dpkg-deb")
            .arg("-x")
            .arg(&deb)
            .arg(unpacked.path()),
        "dpkg-deb -x",
        "dpkg",
    );
    let man = unpacked.path().join("usr/share/man/man1");
    let page = match std::fs::read(man.join("sealpost-server.1")) {
        Ok(text) => String::from_utf8(text).unwrap(),
        Err(_) => run(
            Command::new("gzip")
                .arg("-dc")
                .arg(man.join("sealpost-server.1.gz")),
            "gzip -dc",
            "gzip",
        ),
    };
    assert!(page.contains(".TH sealpost-server 1"), "{page}");
    for words in ["\\-\\-config", "status", "backup", "restore", "user"] {
        assert!(page.contains(words), "{words} is not in the page:\n{page}");
    }
    let conf = std::fs::read_to_string(unpacked.path().join("etc/sealpost/server.toml")).unwrap();
    assert_eq!(
        conf,
        std::fs::read_to_string(root.join("deploy/server.toml")).unwrap()
    );
}
