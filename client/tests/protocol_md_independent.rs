//! PROTOCOL.md's worked example, recomputed by a second implementation: the
//! Python script beside this file reads the example's inputs from the
//! document's sentences and checks every block of it with the `cryptography`
//! package, sharing no code with the client. (`crypto/protocol_md.rs` checks
//! the same blocks against the client itself; together, a change of either
//! the code or the document alone fails.)

use std::path::Path;
use std::process::Command;

/// Debian's interpreter first: `apt-get install python3-cryptography` puts
/// the package there, whatever `python3` comes first on the PATH.
const INTERPRETERS: [&str; 2] = ["/usr/bin/python3", "python3"];

fn python_with_cryptography() -> &'static str {
    INTERPRETERS
        .into_iter()
        .find(|python| {
            Command::new(python)
                .args(["-c", "import cryptography"])
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .expect(
            "no python3 with the `cryptography` package: install the Debian package \
             python3-cryptography (.ci/run does)",
        )
}

#[test]
fn a_second_implementation_recomputes_the_worked_example_from_protocol_md() {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(python_with_cryptography())
        .arg(here.join("tests/protocol_md_example.py"))
        .arg(here.join("../PROTOCOL.md"))
        .output()
        .expect("running the script");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "PROTOCOL.md's worked example does not recompute:\n{stdout}{stderr}"
    );
    assert!(stdout.starts_with("ok: "), "{stdout}");
}
