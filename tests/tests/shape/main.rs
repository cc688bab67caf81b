//! The workspace's shape, checked: no two source files of one crate import
//! each other, directly or in a ring, and no source file of the server or
//! the client grows past the size one can hold in one's head.
//!
//! Rings are what make a module impossible to read, test or move on its own;
//! they creep in one convenient `use crate::...` at a time, so a test, not a
//! review, is what keeps them out. A file depends on another when it names a
//! path (`crate::a::b`, `super::x`, `self::y`, in a `use` or inline) that
//! lands in the other's module; a parent declaring `mod child;` or passing
//! on its child's names (`pub use child::Name`) is not a dependency, and
//! neither is anything under `#[cfg(test)]` (tests import what they test).

mod imports;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use imports::{Module, crate_graph, rings};

/// The most lines a source file of the server or the client may have.
const MAX_LINES: usize = 600;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate sits in the workspace")
        .to_path_buf()
}

fn describe(ring: &[Module], graph: &BTreeMap<Module, BTreeSet<Module>>) -> String {
    let members: BTreeSet<&Module> = ring.iter().collect();
    let mut out = String::new();
    for m in &members {
        for to in graph[*m].iter().filter(|t| members.contains(t)) {
            out.push_str(&format!("\n    {} -> {}", name(m), name(to)));
        }
    }
    out
}

fn name(m: &Module) -> String {
    if m.is_empty() {
        "<crate root>".into()
    } else {
        m.join("::")
    }
}

#[test]
fn no_source_file_imports_another_that_imports_it_back() {
    let mut found = Vec::new();
    for krate in ["protocol", "server", "client", "tests", "bench", "rooms"] {
        let src = workspace().join(krate).join("src");
        let graph = crate_graph(&src);
        assert!(
            !graph.is_empty(),
            "no modules found under {}",
            src.display()
        );
        for ring in rings(&graph) {
            found.push(format!(
                "{krate}: a ring of {} modules:{}",
                ring.len(),
                describe(&ring, &graph)
            ));
        }
    }
    assert!(found.is_empty(), "import rings:\n{}", found.join("\n"));
}

#[test]
fn no_server_or_client_source_file_is_longer_than_the_limit() {
    let mut long = Vec::new();
    for krate in ["server", "client"] {
        for file in imports::rust_files(&workspace().join(krate).join("src")) {
            let text = std::fs::read_to_string(&file).expect("source file readable");
            let lines = text.lines().count();
            if lines > MAX_LINES {
                long.push(format!("{} has {lines} lines", file.display()));
            }
        }
    }
    assert!(
        long.is_empty(),
        "files over {MAX_LINES} lines:\n{}",
        long.join("\n")
    );
}

#[test]
fn the_checker_sees_a_ring_through_a_use_group_and_an_inline_path() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path();
    std::fs::write(src.join("lib.rs"), "mod a;\nmod b;\nmod c;\n").unwrap();
    // a -> b through a nested use group, b -> c inline, c -> a via super.
    std::fs::write(src.join("a.rs"), "use crate::{x, b::{self, Thing}};\n").unwrap();
    std::fs::write(src.join("b.rs"), "fn f() { crate::c::go(); }\n").unwrap();
    std::fs::create_dir(src.join("c")).unwrap();
    std::fs::write(
        src.join("c/mod.rs"),
        "// crate::b::not_a_use\nuse super::a::A;\n",
    )
    .unwrap();
    let graph = crate_graph(src);
    let found = rings(&graph);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].len(), 3);
    // Breaking one edge breaks the ring; a comment naming a path is no edge.
    std::fs::write(src.join("c/mod.rs"), "// use crate::a::A;\n").unwrap();
    assert!(rings(&crate_graph(src)).is_empty());
}

#[test]
fn a_parent_passing_on_its_childs_names_is_no_ring_but_calling_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path();
    std::fs::write(src.join("lib.rs"), "pub mod store;\n").unwrap();
    std::fs::create_dir(src.join("store")).unwrap();
    // The child is an `impl Store` block; the parent re-exports its type.
    std::fs::write(
        src.join("store/mod.rs"),
        "mod pins;\npub use pins::Pin;\npub struct Store;\n",
    )
    .unwrap();
    std::fs::write(
        src.join("store/pins.rs"),
        "use super::Store;\npub struct Pin;\nimpl Store { fn pin(&self) {} }\n",
    )
    .unwrap();
    assert!(rings(&crate_graph(src)).is_empty());
    // The parent's own code naming the child, bare, closes the ring.
    std::fs::write(
        src.join("store/mod.rs"),
        "mod pins;\npub use pins::Pin;\npub struct Store;\nfn f() { pins::helper(); }\n",
    )
    .unwrap();
    assert_eq!(rings(&crate_graph(src)).len(), 1);
}

#[test]
fn tests_and_their_fixtures_are_left_out_of_the_shipped_shape() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path();
    std::fs::write(
        src.join("lib.rs"),
        "mod a;\nmod b;\n#[cfg(test)]\nmod fixtures;\n",
    )
    .unwrap();
    std::fs::write(src.join("a.rs"), "use crate::b::B;\n").unwrap();
    std::fs::write(src.join("fixtures.rs"), "use crate::a::A;\n").unwrap();
    // b's tests name a and the fixtures; shipped b names neither.
    std::fs::write(
        src.join("b.rs"),
        "pub struct B;\n#[cfg(test)]\nmod tests {\n    use crate::a::A;\n    use crate::fixtures::f;\n}\n",
    )
    .unwrap();
    assert!(rings(&crate_graph(src)).is_empty());
    std::fs::write(
        src.join("b.rs"),
        "pub struct B;\nfn f() { crate::a::go(); }\n",
    )
    .unwrap();
    assert_eq!(rings(&crate_graph(src)).len(), 1);
}
