//! The transfer-id vectors of docs/protocol.md, checked against
//! [`crate::engine::send::transfer_id`]: read out of the document's `peerdrop-vectors` block,
//! so the document and the code cannot drift apart (a change to either fails here). The
//! commitment and phrase vectors of the same block are checked by `peerdrop-machine`.

use std::fs::File;
use std::time::{Duration, SystemTime};

use peerdrop_proto::transfer::FileEntry;

use crate::engine::send::transfer_id;
use crate::store::{OutgoingFile, SendPlan};

/// The protocol document, read at build time (a change to it rebuilds this test).
const PROTOCOL_MD: &str = include_str!("../../docs/protocol.md");

/// The `key value` lines of each `vector transfer_id` group of the `peerdrop-vectors` block
/// (groups are separated by blank lines; `#` starts a comment line).
fn transfer_id_vectors() -> Vec<Vec<(String, String)>> {
    let open = "```peerdrop-vectors\n";
    let start = PROTOCOL_MD.find(open).expect("a peerdrop-vectors block") + open.len();
    let len = PROTOCOL_MD[start..]
        .find("```")
        .expect("the block is closed");
    let found: Vec<Vec<(String, String)>> = PROTOCOL_MD[start..start + len]
        .split("\n\n")
        .filter_map(|group| {
            let mut lines = group
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'));
            (lines.next()? == "vector transfer_id").then(|| {
                lines
                    .map(|l| {
                        let (k, v) = l.split_once(' ').unwrap_or((l, ""));
                        (k.to_owned(), v.trim().to_owned())
                    })
                    .collect()
            })
        })
        .collect();
    assert!(
        !found.is_empty(),
        "no transfer_id vector in docs/protocol.md"
    );
    found
}

fn all<'a>(fields: &'a [(String, String)], key: &str) -> Vec<&'a str> {
    fields
        .iter()
        .filter(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .collect()
}

fn one<'a>(fields: &'a [(String, String)], key: &str) -> &'a str {
    match all(fields, key)[..] {
        [value] => value,
        _ => panic!("a transfer_id vector needs exactly one {key}"),
    }
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
        .collect()
}

/// A plan with the vector's files, as a sender builds it: from real files (picked as the
/// folder they share) when their modification times are given, else as bare entries (time
/// unknown). `file INDEX PATH SIZE MTIME_NS|unknown`.
fn plan_of(fields: &[(String, String)], dir: &std::path::Path) -> SendPlan {
    if let [text] = all(fields, "text")[..] {
        return SendPlan::text(text.to_owned()).expect("a sendable text");
    }
    let files: Vec<(FileEntry, Option<u128>)> = all(fields, "file")
        .into_iter()
        .map(|line| {
            let parts: Vec<&str> = line.split_whitespace().collect();
            let [index, path, size, mtime] = parts[..] else {
                panic!("file INDEX PATH SIZE MTIME: {line}");
            };
            let entry = FileEntry {
                index: index.parse().unwrap(),
                path: path.to_owned(),
                size: size.parse().unwrap(),
            };
            (entry, mtime.parse::<u128>().ok())
        })
        .collect();
    if files.iter().all(|(_, mtime)| mtime.is_none()) {
        return SendPlan::from_entries(
            files
                .into_iter()
                .map(|(entry, _)| OutgoingFile {
                    source: dir.join(&entry.path),
                    entry,
                })
                .collect(),
        );
    }
    let mut tops = Vec::new();
    for (entry, mtime) in &files {
        let path = dir.join(&entry.path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, vec![0u8; entry.size as usize]).unwrap();
        let nanos = mtime.expect("all times given, or none");
        let at = SystemTime::UNIX_EPOCH + Duration::from_nanos(nanos as u64);
        File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(at)
            .unwrap();
        let top = dir.join(entry.path.split('/').next().unwrap());
        if !tops.contains(&top) {
            tops.push(top);
        }
    }
    let plan = SendPlan::from_paths(&tops).unwrap();
    let entries: Vec<FileEntry> = files.into_iter().map(|(e, _)| e).collect();
    assert_eq!(
        plan.entries(),
        entries,
        "the plan offers the vector's files"
    );
    plan
}

#[test]
fn transfer_id_vectors_match_the_code_and_the_documented_input() {
    for fields in transfer_id_vectors() {
        let dir = tempfile::tempdir().unwrap();
        let plan = plan_of(&fields, dir.path());
        let (sender, receiver) = (one(&fields, "sender_fp"), one(&fields, "receiver_fp"));
        let id = transfer_id(sender, receiver, &plan);
        assert_eq!(id.to_string(), one(&fields, "id"), "{fields:?}");
        // Where the document spells the hashed bytes out, they give the same id.
        let input: String = all(&fields, "input").concat();
        if !input.is_empty() {
            let digest = blake3::Hasher::new_derive_key(one(&fields, "context"))
                .update(&unhex(&input))
                .finalize();
            let mut bytes = [0u8; 16];
            bytes.copy_from_slice(&digest.as_bytes()[..16]);
            bytes[6] = (bytes[6] & 0x0f) | 0x80;
            bytes[8] = (bytes[8] & 0x3f) | 0x80;
            assert_eq!(uuid::Uuid::from_bytes(bytes), id, "the documented input");
        }
    }
}
