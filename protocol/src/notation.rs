//! The notation of PROTOCOL.md's example frames, so that tests on both
//! sides of the protocol read the document the same way.
//!
//! Hex digits come in pairs and white space does not matter; `#` starts a
//! comment; `XX*N` stands for N bytes of value XX. Examples sit in fenced
//! blocks whose info string is a tag and a name (```` ```hex v2-register ````).

use std::collections::BTreeMap;

/// Why a block of notation could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {problem}")]
pub struct NotationError {
    /// 1-based line within the block.
    pub line: usize,
    /// What was wrong.
    pub problem: String,
}

/// The bytes a block of notation stands for.
///
/// # Errors
/// A token that is not hex pairs or `XX*N`.
pub fn parse_hex(text: &str) -> Result<Vec<u8>, NotationError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let fail = |problem: String| NotationError {
            line: i + 1,
            problem,
        };
        let line = line.split('#').next().unwrap_or("");
        for token in line.split_whitespace() {
            if let Some((byte, count)) = token.split_once('*') {
                let byte = u8::from_str_radix(byte, 16)
                    .map_err(|e| fail(format!("bad byte {byte:?}: {e}")))?;
                let count: usize = count
                    .parse()
                    .map_err(|e| fail(format!("bad count {count:?}: {e}")))?;
                out.extend(std::iter::repeat_n(byte, count));
            } else {
                out.extend(
                    hex::decode(token).map_err(|e| fail(format!("bad hex {token:?}: {e}")))?,
                );
            }
        }
    }
    Ok(out)
}

/// The bodies of the fenced blocks tagged `tag NAME` in a markdown text, by
/// name.
///
/// # Errors
/// A name used twice (`line` is then 0).
pub fn blocks(markdown: &str, tag: &str) -> Result<BTreeMap<String, String>, NotationError> {
    let prefix = format!("```{tag} ");
    let mut out = BTreeMap::new();
    let mut lines = markdown.lines();
    while let Some(line) = lines.next() {
        let Some(name) = line.trim().strip_prefix(&prefix) else {
            continue;
        };
        let mut body = String::new();
        for l in lines.by_ref() {
            if l.trim() == "```" {
                break;
            }
            body.push_str(l);
            body.push('\n');
        }
        let name = name.trim().to_string();
        if out.insert(name.clone(), body).is_some() {
            return Err(NotationError {
                line: 0,
                problem: format!("block {name} appears twice"),
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_pairs_runs_and_comments() {
        assert_eq!(
            parse_hex("0102 # a comment\n ff*3 0a\n").unwrap(),
            vec![1, 2, 0xff, 0xff, 0xff, 0x0a]
        );
        assert_eq!(parse_hex("zz").unwrap_err().line, 1);
        assert!(parse_hex("\n01*x").is_err());
    }

    #[test]
    fn finds_tagged_blocks() {
        let md = "text\n```hex one\n01\n```\n```rust\nx\n```\n```hex two\n02\n```\n";
        let b = blocks(md, "hex").unwrap();
        assert_eq!(b.len(), 2);
        assert_eq!(b["one"], "01\n");
        assert!(blocks("```hex a\n```\n```hex a\n```\n", "hex").is_err());
    }
}
