//! Which file of a crate names which other: a small Rust tokenizer that
//! finds module paths (`crate::`, `super::`, `self::`, and a declared child
//! module's name followed by `::`), in `use` groups and inline, outside
//! comments and literals, and the rings (strongly connected components) of
//! the resulting graph.
//!
//! It reads text, not the compiler's view, so it errs towards seeing an edge.
//! Items under `#[cfg(test)]` are left out: tests and their fixtures import
//! the code they test by nature; the rings that matter are the shipped
//! code's.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A module, as its path from the crate root (`[]` is the root itself).
pub type Module = Vec<String>;

/// Every `.rs` file under `dir`, sorted.
pub fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("source folder readable") {
            let path = entry.expect("source folder entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// The library's modules (a `main.rs` beside `lib.rs` is another crate and
/// is left out), each with the modules it names.
pub fn crate_graph(src: &Path) -> BTreeMap<Module, BTreeSet<Module>> {
    let has_lib = src.join("lib.rs").exists();
    let mut files = BTreeMap::new();
    for file in rust_files(src) {
        let rel = file.strip_prefix(src).expect("file under src");
        let mut parts: Module = rel
            .with_extension("")
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        let last = parts.last().cloned().unwrap_or_default();
        if parts.len() == 1 && last == "main" && has_lib {
            continue;
        }
        if last == "mod" || (parts.len() == 1 && (last == "lib" || last == "main")) {
            parts.pop();
        }
        files.insert(parts, file);
    }
    // Tokens of every file without its test-only items; test-only files
    // (`#[cfg(test)] mod tests;`, `#![cfg(test)]`) leave the graph.
    let mut shipped = BTreeMap::new();
    let mut test_only = BTreeSet::new();
    for (module, file) in &files {
        let text = std::fs::read_to_string(file).expect("source file readable");
        let (toks, test_children) = without_test_items(tokens(&text));
        if toks.first() == Some(&Token::Attr("#![cfg(test)]".into())) {
            test_only.insert(module.clone());
        }
        for child in test_children {
            let mut m = module.clone();
            m.push(child);
            test_only.insert(m);
        }
        shipped.insert(module.clone(), toks);
    }
    shipped.retain(|m, _| !test_only.iter().any(|t| m.starts_with(t)));
    let modules: BTreeSet<Module> = shipped.keys().cloned().collect();
    let mut graph = BTreeMap::new();
    for (module, toks) in shipped {
        let mut edges = BTreeSet::new();
        let toks = without_reexports(toks, module.is_empty());
        for path in paths_named(&toks, &module) {
            if let Some(target) = longest_module(&modules, &path) {
                if target != module {
                    edges.insert(target);
                }
            }
        }
        graph.insert(module, edges);
    }
    graph
}

/// The tokens without the items under `#[cfg(test)]`, and the names of the
/// child modules declared test-only. Tests and their fixtures may import the
/// code they test and be imported by its other tests: that is not coupling
/// of the shipped code, which is what the rings are about.
fn without_test_items(tokens: Vec<Token>) -> (Vec<Token>, Vec<String>) {
    let mut out = Vec::with_capacity(tokens.len());
    let mut children = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        if tokens[i] != Token::Attr("#[cfg(test)]".into()) {
            out.push(tokens[i].clone());
            i += 1;
            continue;
        }
        i += 1;
        // Further attributes of the same item.
        while matches!(tokens.get(i), Some(Token::Attr(_))) {
            i += 1;
        }
        if let (Some(Token::Ident(m)), Some(Token::Ident(name)), Some(Token::Semi)) =
            (tokens.get(i), tokens.get(i + 1), tokens.get(i + 2))
        {
            if m == "mod" {
                children.push(name.clone());
            }
        }
        // Skip the item: up to a `;` outside braces, or through the body.
        let mut depth = 0usize;
        while i < tokens.len() {
            match tokens[i] {
                Token::Open => depth += 1,
                Token::Close => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        i += 1;
                        break;
                    }
                }
                Token::Semi if depth == 0 => {
                    i += 1;
                    break;
                }
                _ => {}
            }
            i += 1;
        }
    }
    (out, children)
}

/// The tokens without the re-exports that make a module's front door: a
/// parent's `pub use child::Name` passes on what its child defines and does
/// not make the parent depend on the child (the child may well name its
/// parent's types, as an `impl Parent` block does). At the crate root every
/// `pub use` is such a front door.
fn without_reexports(tokens: Vec<Token>, root: bool) -> Vec<Token> {
    let children = declared_children(&tokens);
    let ident = |t: Option<&Token>, word: &str| matches!(t, Some(Token::Ident(w)) if w == word);
    let mut out = Vec::with_capacity(tokens.len());
    let mut i = 0;
    while i < tokens.len() {
        // `pub use` or `pub(crate) use` / `pub(super) use`
        let use_at = if !ident(tokens.get(i), "pub") {
            None
        } else if ident(tokens.get(i + 1), "use") {
            Some(i + 1)
        } else if ident(tokens.get(i + 4), "use") {
            Some(i + 4)
        } else {
            None
        };
        let front_door = use_at.is_some_and(|u| {
            let mut first = u + 1;
            if ident(tokens.get(first), "self") && tokens.get(first + 1) == Some(&Token::PathSep) {
                first += 2;
            }
            root || matches!(tokens.get(first), Some(Token::Ident(c)) if children.contains(c))
        });
        if front_door {
            while i < tokens.len() && tokens[i] != Token::Semi {
                i += 1;
            }
        } else {
            out.push(tokens[i].clone());
        }
        i += 1;
    }
    out
}

/// Child modules a file declares (`mod x;`), which it may name bare.
fn declared_children(tokens: &[Token]) -> BTreeSet<String> {
    let mut children = BTreeSet::new();
    for w in tokens.windows(3) {
        if let [Token::Ident(m), Token::Ident(name), Token::Semi] = w {
            if m == "mod" {
                children.insert(name.clone());
            }
        }
    }
    children
}

/// The module a full path lands in: its longest prefix that is a module.
fn longest_module(modules: &BTreeSet<Module>, path: &[String]) -> Option<Module> {
    (0..=path.len())
        .rev()
        .map(|n| path[..n].to_vec())
        .find(|p| modules.contains(p))
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Ident(String),
    /// An attribute, `#[...]` or `#![...]`, its text without whitespace.
    Attr(String),
    PathSep,
    Open,
    Close,
    Comma,
    Semi,
    Other,
}

/// Identifiers and the punctuation paths are made of; comments, string,
/// byte-string, raw-string and char literals are skipped.
fn tokens(text: &str) -> Vec<Token> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'/' && b.get(i + 1) == Some(&b'/') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if c == b'/' && b.get(i + 1) == Some(&b'*') {
            let mut depth = 0;
            while i < b.len() {
                if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                    depth += 1;
                    i += 2;
                } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if c == b'"' {
            i = skip_string(b, i + 1);
        } else if (c == b'r' || c == b'b') && raw_string_start(b, i).is_some() {
            let (start, hashes) = raw_string_start(b, i).unwrap_or((i, 0));
            i = skip_raw(b, start, hashes);
        } else if c == b'b' && b.get(i + 1) == Some(&b'"') {
            i = skip_string(b, i + 2);
        } else if c == b'\'' {
            // A char literal ('x', '\n', '\u{..}') or a lifetime ('a).
            if b.get(i + 1) == Some(&b'\\') {
                i += 2;
                while i < b.len() && b[i] != b'\'' {
                    i += 1;
                }
                i += 1;
            } else if b.get(i + 2) == Some(&b'\'') {
                i += 3;
            } else {
                i += 1;
            }
        } else if c.is_ascii_whitespace() {
            i += 1;
        } else if c == b'#' && (b.get(i + 1) == Some(&b'[') || b[i + 1..].starts_with(b"![")) {
            let start = i;
            let mut depth = 0;
            while i < b.len() {
                match b[i] {
                    b'[' => depth += 1,
                    b']' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            let attr: String = text[start..i.min(b.len())]
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect();
            out.push(Token::Attr(attr + "]"));
            i += 1;
        } else if c.is_ascii_alphabetic() || c == b'_' {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            out.push(Token::Ident(text[start..i].to_string()));
        } else {
            out.push(match c {
                b':' if b.get(i + 1) == Some(&b':') => {
                    i += 1;
                    Token::PathSep
                }
                b'{' => Token::Open,
                b'}' => Token::Close,
                b',' => Token::Comma,
                b';' => Token::Semi,
                _ => Token::Other,
            });
            i += 1;
        }
    }
    out
}

fn skip_string(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && b[i] != b'"' {
        i += if b[i] == b'\\' { 2 } else { 1 };
    }
    i + 1
}

/// Where a raw string's body starts and how many `#` close it, if `i`
/// begins one (`r"`, `r#"`, `br"`...). Identifiers like `r` or `bar` are not.
fn raw_string_start(b: &[u8], i: usize) -> Option<(usize, usize)> {
    if i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_') {
        return None;
    }
    let mut j = i;
    if b[j] == b'b' {
        j += 1;
    }
    if b.get(j) != Some(&b'r') {
        return None;
    }
    j += 1;
    let mut hashes = 0;
    while b.get(j) == Some(&b'#') {
        hashes += 1;
        j += 1;
    }
    (b.get(j) == Some(&b'"')).then_some((j + 1, hashes))
}

fn skip_raw(b: &[u8], mut i: usize, hashes: usize) -> usize {
    while i < b.len() {
        if b[i] == b'"'
            && b[i + 1..]
                .iter()
                .take(hashes)
                .filter(|&&h| h == b'#')
                .count()
                == hashes
        {
            return i + 1 + hashes;
        }
        i += 1;
    }
    i
}

/// Every full module path the file at `module` names.
fn paths_named(tokens: &[Token], module: &Module) -> Vec<Vec<String>> {
    let children = declared_children(tokens);
    // Inline modules (`mod tests { ... }`) open at a brace depth; `super`
    // inside one first leaves the inline module, staying in this file.
    let mut inline: Vec<usize> = Vec::new();
    let mut depth = 0usize;
    let mut out = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        match &tokens[i] {
            Token::Open => depth += 1,
            Token::Close => {
                if inline.last() == Some(&depth) {
                    inline.pop();
                }
                depth = depth.saturating_sub(1);
            }
            Token::Ident(m)
                if m == "mod"
                    && matches!(tokens.get(i + 1), Some(Token::Ident(_)))
                    && tokens.get(i + 2) == Some(&Token::Open) =>
            {
                inline.push(depth + 1);
            }
            Token::Ident(first)
                if tokens.get(i + 1) == Some(&Token::PathSep)
                    && (i == 0 || tokens[i - 1] != Token::PathSep) =>
            {
                let base = match first.as_str() {
                    "crate" => Some(Vec::new()),
                    "super" | "self" => Some(module.clone()),
                    name if children.contains(name) => Some(module.clone()),
                    _ => None,
                };
                if let Some(base) = base {
                    let (trees, next) = parse_tree(tokens, i);
                    for tree in trees {
                        out.push(resolve(&base, &tree, inline.len()));
                    }
                    i = next;
                    continue;
                }
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// Reads a path tree starting at `i` (`a::b::{c, d::{self, e}}`) and returns
/// every path it spells, with the index after it.
fn parse_tree(tokens: &[Token], mut i: usize) -> (Vec<Vec<String>>, usize) {
    let mut prefix = Vec::new();
    loop {
        match tokens.get(i) {
            Some(Token::Ident(name)) => {
                prefix.push(name.clone());
                i += 1;
            }
            Some(Token::Open) => {
                i += 1;
                let mut all = Vec::new();
                loop {
                    match tokens.get(i) {
                        Some(Token::Close) => return (all, i + 1),
                        Some(Token::Comma) => i += 1,
                        Some(Token::Ident(_)) => {
                            let (inner, next) = parse_tree(tokens, i);
                            for p in inner {
                                let mut full = prefix.clone();
                                full.extend(p.into_iter().filter(|s| s != "self"));
                                all.push(full);
                            }
                            i = next;
                        }
                        None => return (all, i),
                        // `*`, `as`-less glob and anything unexpected.
                        Some(_) => {
                            all.push(prefix.clone());
                            i += 1;
                        }
                    }
                }
            }
            _ => return (vec![prefix], i),
        }
        if tokens.get(i) == Some(&Token::PathSep) {
            i += 1;
        } else {
            return (vec![prefix], i);
        }
    }
}

/// The absolute module path of `path` written in the file at `base`, inside
/// `inline` levels of inline modules.
fn resolve(base: &Module, path: &[String], mut inline: usize) -> Vec<String> {
    let mut at = base.clone();
    let mut rest = path;
    match rest.first().map(String::as_str) {
        Some("crate") => {
            at.clear();
            rest = &rest[1..];
        }
        Some("self") => rest = &rest[1..],
        _ => {}
    }
    while rest.first().map(String::as_str) == Some("super") {
        if inline > 0 {
            inline -= 1;
        } else {
            at.pop();
        }
        rest = &rest[1..];
    }
    at.extend(rest.iter().cloned());
    at
}

/// Rings: strongly connected components of more than one module (Tarjan).
pub fn rings(graph: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<Vec<Module>> {
    struct Walk<'g> {
        graph: &'g BTreeMap<Module, BTreeSet<Module>>,
        index: BTreeMap<&'g Module, usize>,
        low: BTreeMap<&'g Module, usize>,
        stack: Vec<&'g Module>,
        on_stack: BTreeSet<&'g Module>,
        found: Vec<Vec<Module>>,
    }
    impl<'g> Walk<'g> {
        fn visit(&mut self, v: &'g Module) {
            let n = self.index.len();
            self.index.insert(v, n);
            self.low.insert(v, n);
            self.stack.push(v);
            self.on_stack.insert(v);
            for w in &self.graph[v] {
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let lw = self.low[w];
                    let lv = self.low.get_mut(v).expect("visited");
                    *lv = (*lv).min(lw);
                } else if self.on_stack.contains(w) {
                    let iw = self.index[w];
                    let lv = self.low.get_mut(v).expect("visited");
                    *lv = (*lv).min(iw);
                }
            }
            if self.low[v] == self.index[v] {
                let mut component = Vec::new();
                while let Some(w) = self.stack.pop() {
                    self.on_stack.remove(w);
                    component.push(w.clone());
                    if w == v {
                        break;
                    }
                }
                if component.len() > 1 {
                    component.sort();
                    self.found.push(component);
                }
            }
        }
    }
    let mut walk = Walk {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !walk.index.contains_key(v) {
            walk.visit(v);
        }
    }
    walk.found
}
