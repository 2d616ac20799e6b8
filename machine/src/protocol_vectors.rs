//! The test vectors of docs/protocol.md, checked against this crate: the commitment, the
//! verification phrase (with the bytes it hashes) and the word list are read out of the
//! document's `peerdrop-vectors` and `peerdrop-words` blocks, so the document and the code
//! cannot drift apart: a change to either fails here. (The transfer-id vectors in the same
//! block are checked by `peerdrop-core`, where the id is derived.)

use crate::sas;
use crate::words::WORDS;

/// The protocol document, read at build time (a change to it rebuilds this test).
const PROTOCOL_MD: &str = include_str!("../../docs/protocol.md");

/// The body of the fenced block whose info string is `tag`.
fn fenced(tag: &str) -> &'static str {
    let open = format!("```{tag}\n");
    let start = PROTOCOL_MD
        .find(&open)
        .unwrap_or_else(|| panic!("docs/protocol.md has no ```{tag} block"))
        + open.len();
    let len = PROTOCOL_MD[start..]
        .find("```")
        .expect("the block is closed");
    &PROTOCOL_MD[start..start + len]
}

/// One vector: its kind and its `key value` lines, in order.
struct Vector {
    kind: String,
    fields: Vec<(String, String)>,
}

impl Vector {
    /// The values of every `key` line, in order.
    fn all(&self, key: &str) -> Vec<&str> {
        self.fields
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The value of the one `key` line.
    fn get(&self, key: &str) -> &str {
        match self.all(key)[..] {
            [value] => value,
            _ => panic!("a {} vector needs exactly one {key}", self.kind),
        }
    }
}

/// The vectors of the `peerdrop-vectors` block: groups of `key value` lines separated by blank
/// lines, each opened by `vector KIND`; `#` starts a comment line.
fn vectors(kind: &str) -> Vec<Vector> {
    let all: Vec<Vector> = fenced("peerdrop-vectors")
        .split("\n\n")
        .filter_map(|group| {
            let mut lines = group
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'));
            let kind = lines.next()?.strip_prefix("vector ")?.trim().to_owned();
            let fields = lines
                .map(|l| {
                    let (k, v) = l.split_once(' ').unwrap_or((l, ""));
                    (k.to_owned(), v.trim().to_owned())
                })
                .collect();
            Some(Vector { kind, fields })
        })
        .collect();
    let found: Vec<Vector> = all.into_iter().filter(|v| v.kind == kind).collect();
    assert!(!found.is_empty(), "no {kind} vector in docs/protocol.md");
    found
}

fn unhex(text: &str) -> Vec<u8> {
    assert!(text.len().is_multiple_of(2), "odd hex: {text}");
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
        .collect()
}

#[test]
fn the_documented_word_list_is_the_one_phrases_are_made_of() {
    let documented: Vec<&str> = fenced("peerdrop-words")
        .lines()
        .filter_map(|l| l.split_once(':').map(|(_, words)| words))
        .flat_map(str::split_whitespace)
        .collect();
    assert_eq!(
        documented, WORDS,
        "docs/protocol.md lists another word list"
    );
    // Each line starts with the index of its first word, so a reader can look a byte up.
    let mut index = 0;
    for line in fenced("peerdrop-words").lines().filter(|l| !l.is_empty()) {
        let (at, words) = line.split_once(':').expect("`INDEX: words` lines");
        assert_eq!(at.trim().parse::<usize>().unwrap(), index, "{line}");
        index += words.split_whitespace().count();
    }
}

#[test]
fn commitment_vectors_match_the_code() {
    for v in vectors("commitment") {
        let nonce = v.get("nonce");
        assert!(sas::is_valid_nonce(nonce), "{nonce}");
        assert_eq!(sas::commitment(nonce), v.get("commit"), "nonce {nonce}");
        // Over the nonce's hex text, not its 32 bytes.
        let by_hand = blake3::Hasher::new_derive_key(v.get("context"))
            .update(nonce.as_bytes())
            .finalize();
        assert_eq!(by_hand.to_hex().as_str(), v.get("commit"));
    }
}

#[test]
fn phrase_vectors_match_the_code_and_the_documented_input() {
    for v in vectors("phrase") {
        let (fp_s, fp_r) = (v.get("sender_fp"), v.get("receiver_fp"));
        let (n_s, n_r) = (v.get("sender_nonce"), v.get("receiver_nonce"));
        let binding = v.all("binding").first().copied();
        let words = v.get("words");
        // What the code shows on either side, whatever the case of the fingerprints.
        for (local, remote) in [(fp_s, fp_r), (fp_r, fp_s)] {
            assert_eq!(
                sas::bound_transfer_phrase(local, remote, n_s, n_r, binding),
                words
            );
            assert_eq!(
                sas::bound_transfer_phrase(&local.to_uppercase(), remote, n_s, n_r, binding),
                words
            );
        }
        // The documented bytes hash to the documented digest, whose first four bytes pick
        // the words from the documented list.
        let input = unhex(&v.all("input").concat());
        let digest = blake3::Hasher::new_derive_key(v.get("context"))
            .update(&input)
            .finalize();
        assert_eq!(digest.to_hex().as_str(), v.get("digest"));
        let picked: Vec<&str> = digest.as_bytes()[..sas::PHRASE_WORDS]
            .iter()
            .map(|b| WORDS[*b as usize])
            .collect();
        assert_eq!(picked.join(" "), words);
        // And the documented bytes are the documented layout: three parts, each after its
        // length as a u64 little-endian (the smaller fingerprint first).
        let (first, second) = if fp_s <= fp_r {
            (fp_s, fp_r)
        } else {
            (fp_r, fp_s)
        };
        let mut extra = format!("{n_s}\n{n_r}");
        if let Some(b) = binding {
            extra.push_str("\nbinding:");
            extra.push_str(b);
        }
        let mut layout = Vec::new();
        for part in [first, second, extra.as_str()] {
            layout.extend_from_slice(&(part.len() as u64).to_le_bytes());
            layout.extend_from_slice(part.as_bytes());
        }
        assert_eq!(input, layout, "the input is the documented layout");
    }
}
