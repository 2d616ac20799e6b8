//! Building an offer: the files and folders a person picked, walked without following links
//! into numbered [`FileEntry`]s whose wire paths a receiver will accept.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use peerdrop_proto::transfer::{
    FileEntry, MAX_FILES_PER_TRANSFER, MAX_MESSAGE_BYTES, MAX_TEXT_BYTES,
};
use walkdir::WalkDir;

use crate::store::names::{sanitize_relative_path, Platform};
use crate::store::StoreError;

/// One file of an offer and where its bytes come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutgoingFile {
    /// What is announced on the wire.
    pub entry: FileEntry,
    /// The local file.
    pub source: PathBuf,
}

/// Everything a sender offers in one transfer, in index order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SendPlan {
    files: Vec<OutgoingFile>,
    total_size: u64,
    /// Modification time of each file when it was picked (`None`: unknown).
    modified: Vec<Option<SystemTime>>,
    /// A text (or link) sent instead of files ([`SendPlan::text`]).
    text: Option<String>,
}

impl SendPlan {
    /// Builds the offer for the files and folders a person picked. Fails, naming the path, if
    /// one is missing or unreadable, not a file or folder, not sendable by name, or if two
    /// picked items share a name; also if nothing at all is left to send.
    pub fn from_paths<P: AsRef<Path>>(paths: &[P]) -> Result<SendPlan, StoreError> {
        let mut found: Vec<(String, PathBuf, u64, Option<SystemTime>)> = Vec::new();
        let mut tops: HashMap<String, PathBuf> = HashMap::new();
        for arg in paths {
            let arg = arg.as_ref();
            // An explicitly named path is followed if it is a link: the person chose it.
            let meta = fs::metadata(arg).map_err(|e| StoreError::io("could not read", arg, e))?;
            let name = top_level_name(arg)?;
            if let Some(first) = tops.insert(name.clone(), arg.to_owned()) {
                return Err(StoreError::DuplicateName {
                    name,
                    first,
                    second: arg.to_owned(),
                });
            }
            if meta.is_file() {
                found.push((name, arg.to_owned(), meta.len(), meta.modified().ok()));
            } else if meta.is_dir() {
                walk_folder(arg, &name, &mut found)?;
            } else {
                return Err(StoreError::NotARegularFile {
                    path: arg.to_owned(),
                });
            }
            if found.len() > MAX_FILES_PER_TRANSFER as usize {
                return Err(StoreError::TooManyFiles {
                    path: arg.to_owned(),
                    count: found.len(),
                    limit: MAX_FILES_PER_TRANSFER,
                });
            }
        }
        if found.is_empty() {
            return Err(StoreError::NothingToSend {
                paths: paths.iter().map(|p| p.as_ref().to_owned()).collect(),
            });
        }
        let mut files = Vec::with_capacity(found.len());
        let mut modified = Vec::with_capacity(found.len());
        for (index, (path, source, size, mtime)) in found.into_iter().enumerate() {
            if let Err(reason) = sanitize_relative_path(&path, Platform::Unix) {
                return Err(StoreError::UnsendableName {
                    path: source,
                    reason,
                });
            }
            let index = u32::try_from(index).expect("bounded by MAX_FILES_PER_TRANSFER");
            files.push(OutgoingFile {
                entry: FileEntry { index, path, size },
                source,
            });
            modified.push(mtime);
        }
        let mut plan = SendPlan::from_entries(files);
        plan.modified = modified;
        Ok(plan)
    }

    /// Wraps entries as given, without any check: for tests that need a hostile or odd plan
    /// (duplicate paths, `../` names, wrong sizes).
    pub fn from_entries(files: Vec<OutgoingFile>) -> SendPlan {
        let total_size = files
            .iter()
            .fold(0u64, |sum, f| sum.saturating_add(f.entry.size));
        let modified = vec![None; files.len()];
        SendPlan {
            files,
            total_size,
            modified,
            text: None,
        }
    }

    /// A text (or link) to send instead of files. Refused when empty, or over
    /// [`MAX_TEXT_BYTES`] (it travels inside the offer; longer texts go better as a file).
    pub fn text(text: String) -> Result<SendPlan, StoreError> {
        if text.trim().is_empty() {
            return Err(StoreError::UnsendableText {
                reason: "the text to send is empty".into(),
            });
        }
        // Escaped, the offer must still fit one control message (a control character costs
        // six bytes in JSON); 4 KiB is left for the offer's other fields.
        let escaped = serde_json::to_string(&text).map_or(usize::MAX, |json| json.len());
        if text.len() > MAX_TEXT_BYTES || escaped > MAX_MESSAGE_BYTES - 4096 {
            return Err(StoreError::UnsendableText {
                reason: format!(
                    "the text is {} bytes; at most {} KiB go as text: save it to a file and send the file",
                    text.len(),
                    MAX_TEXT_BYTES >> 10
                ),
            });
        }
        Ok(SendPlan {
            text: Some(text),
            ..SendPlan::default()
        })
    }

    /// The text on offer, for a text plan.
    pub fn text_on_offer(&self) -> Option<&str> {
        self.text.as_deref()
    }

    /// When file `index` was last modified at the time it was picked (`None` if unknown).
    /// Part of a transfer's identity (resume), and the reference a [`SourceReader`](super::SourceReader) checks.
    pub fn modified(&self, index: u32) -> Option<SystemTime> {
        self.files
            .iter()
            .position(|f| f.entry.index == index)
            .and_then(|i| self.modified.get(i).copied().flatten())
    }

    /// The files, in the order they are announced.
    pub fn files(&self) -> &[OutgoingFile] {
        &self.files
    }

    /// The file announced as `index`, if any.
    pub fn file(&self, index: u32) -> Option<&OutgoingFile> {
        self.files
            .get(index as usize)
            .filter(|f| f.entry.index == index)
            .or_else(|| self.files.iter().find(|f| f.entry.index == index))
    }

    /// The wire entries, for `Offer`/`Files` messages.
    pub fn entries(&self) -> Vec<FileEntry> {
        self.files.iter().map(|f| f.entry.clone()).collect()
    }

    /// Sum of all sizes, as announced in the offer.
    pub fn total_size(&self) -> u64 {
        self.total_size
    }

    /// Number of files.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Whether the plan holds no file (only possible through [`SendPlan::from_entries`]).
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

/// The name a picked path is offered under: its last component (`.` and `..` resolved).
fn top_level_name(arg: &Path) -> Result<String, StoreError> {
    let resolved;
    let name: &OsStr = match arg.file_name() {
        Some(name) => name,
        None => {
            resolved =
                fs::canonicalize(arg).map_err(|e| StoreError::io("could not resolve", arg, e))?;
            resolved
                .file_name()
                .ok_or_else(|| StoreError::NotARegularFile {
                    path: arg.to_owned(),
                })?
        }
    };
    name.to_str()
        .map(str::to_owned)
        .ok_or_else(|| StoreError::NonUtf8Name {
            path: arg.to_owned(),
        })
}

/// Adds every regular file under `root` as `name/relative/path`, sorted, skipping links,
/// special files and (implicitly) empty folders.
fn walk_folder(
    root: &Path,
    name: &str,
    found: &mut Vec<(String, PathBuf, u64, Option<SystemTime>)>,
) -> Result<(), StoreError> {
    let walker = WalkDir::new(root)
        .follow_links(false)
        .follow_root_links(true)
        .sort_by_file_name();
    for item in walker {
        let item = item.map_err(|e| {
            let path = e.path().unwrap_or(root).to_owned();
            StoreError::io("could not read", &path, io::Error::from(e))
        })?;
        if item.depth() == 0 {
            continue;
        }
        let file_type = item.file_type();
        if file_type.is_symlink() {
            tracing::warn!(path = %item.path().display(), "skipping symbolic link (links are never followed)");
            continue;
        }
        if file_type.is_dir() {
            continue;
        }
        if !file_type.is_file() {
            tracing::warn!(path = %item.path().display(), "skipping special file (not a regular file)");
            continue;
        }
        let relative = item
            .path()
            .strip_prefix(root)
            .expect("walkdir yields paths under its root");
        let mut wire = name.to_owned();
        for component in relative.components() {
            let part = component
                .as_os_str()
                .to_str()
                .ok_or_else(|| StoreError::NonUtf8Name {
                    path: item.path().to_owned(),
                })?;
            wire.push('/');
            wire.push_str(part);
        }
        let meta = item
            .metadata()
            .map_err(|e| StoreError::io("could not read", item.path(), io::Error::from(e)))?;
        found.push((
            wire,
            item.path().to_owned(),
            meta.len(),
            meta.modified().ok(),
        ));
        if found.len() > MAX_FILES_PER_TRANSFER as usize {
            return Err(StoreError::TooManyFiles {
                path: root.to_owned(),
                count: found.len(),
                limit: MAX_FILES_PER_TRANSFER,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::outgoing::test_util::write;

    #[test]
    fn an_empty_or_blank_text_is_refused_and_a_short_one_goes_as_is() {
        for blank in ["", "   ", "\n\t"] {
            assert!(
                matches!(
                    SendPlan::text(blank.into()),
                    Err(StoreError::UnsendableText { .. })
                ),
                "{blank:?}"
            );
        }
        let plan = SendPlan::text(" hi ".into()).unwrap();
        assert_eq!(plan.text_on_offer(), Some(" hi "));
    }

    fn wire_paths(plan: &SendPlan) -> Vec<&str> {
        plan.files().iter().map(|f| f.entry.path.as_str()).collect()
    }

    #[test]
    fn a_file_is_offered_under_its_name() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("report.pdf");
        write(&file, b"12345");
        let plan = SendPlan::from_paths(&[&file]).unwrap();
        assert_eq!(
            plan.entries(),
            vec![FileEntry {
                index: 0,
                path: "report.pdf".into(),
                size: 5
            }]
        );
        assert_eq!(plan.files()[0].source, file);
        assert_eq!(plan.total_size(), 5);
        assert_eq!(plan.len(), 1);
        assert!(!plan.is_empty());
        assert_eq!(plan.file(0).unwrap().entry.path, "report.pdf");
        assert!(plan.file(1).is_none());
    }

    #[cfg(unix)]
    #[test]
    fn a_folder_is_walked_sorted_with_odd_names_and_without_links() {
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("secret.txt");
        write(&outside, b"do not send");
        let root = dir.path().join("My Stuff");
        write(&root.join("b.txt"), b"bb");
        write(&root.join("-dash.txt"), b"-");
        write(&root.join(" leading space.txt"), b" ");
        write(&root.join("back\\slash.txt"), b"\\");
        write(&root.join("ünïcødé 日本.txt"), b"u");
        write(
            &root.join("sub dir").join("deeper").join("x.bin"),
            &[0u8; 1000],
        );
        write(&root.join("a").join("empty.txt"), b"");
        fs::create_dir_all(root.join("empty folder")).unwrap();
        std::os::unix::fs::symlink(&outside, root.join("link-to-secret")).unwrap();
        std::os::unix::fs::symlink(dir.path(), root.join("link-to-dir")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("gone"), root.join("dangling")).unwrap();
        let status = std::process::Command::new("mkfifo")
            .arg(root.join("fifo"))
            .status()
            .unwrap();
        assert!(status.success());

        let plan = SendPlan::from_paths(&[&root]).unwrap();
        assert_eq!(
            wire_paths(&plan),
            [
                "My Stuff/ leading space.txt",
                "My Stuff/-dash.txt",
                "My Stuff/a/empty.txt",
                "My Stuff/b.txt",
                "My Stuff/back\\slash.txt",
                "My Stuff/sub dir/deeper/x.bin",
                "My Stuff/ünïcødé 日本.txt",
            ]
        );
        for (i, f) in plan.files().iter().enumerate() {
            assert_eq!(f.entry.index as usize, i);
            assert!(f.source.starts_with(&root));
        }
        assert_eq!(plan.total_size(), 2 + 1 + 1 + 1 + 1 + 1000);
        assert_eq!(
            plan.file(5).unwrap().source,
            root.join("sub dir/deeper/x.bin")
        );
    }

    #[test]
    fn several_paths_keep_their_order_and_trailing_slashes_and_dots_resolve() {
        let dir = tempfile::tempdir().unwrap();
        write(&dir.path().join("z.txt"), b"z");
        write(&dir.path().join("folder").join("in.txt"), b"in");
        let with_slash = PathBuf::from(format!("{}/", dir.path().join("folder").display()));
        let plan = SendPlan::from_paths(&[dir.path().join("z.txt"), with_slash]).unwrap();
        assert_eq!(wire_paths(&plan), ["z.txt", "folder/in.txt"]);

        let dotdot = dir.path().join("folder").join("..");
        let plan = SendPlan::from_paths(&[dotdot]).unwrap();
        let top = dir.path().file_name().unwrap().to_str().unwrap();
        assert_eq!(
            wire_paths(&plan),
            [format!("{top}/folder/in.txt"), format!("{top}/z.txt")]
        );
    }

    #[test]
    fn missing_path_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.txt");
        let err = SendPlan::from_paths(&[&missing]).unwrap_err();
        assert!(
            matches!(&err, StoreError::Io { path, .. } if *path == missing),
            "{err:?}"
        );
        assert!(err.to_string().contains("nope.txt"), "{err}");
    }

    #[test]
    fn duplicate_names_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a").join("same.txt");
        let b = dir.path().join("b").join("same.txt");
        write(&a, b"1");
        write(&b, b"2");
        let err = SendPlan::from_paths(&[a.clone(), b.clone()]).unwrap_err();
        match err {
            StoreError::DuplicateName {
                name,
                first,
                second,
            } => {
                assert_eq!((name.as_str(), first, second), ("same.txt", a, b));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn nothing_to_send_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty");
        fs::create_dir(&empty).unwrap();
        let err = SendPlan::from_paths(&[&empty]).unwrap_err();
        assert!(matches!(err, StoreError::NothingToSend { .. }), "{err:?}");
        assert!(err.to_string().contains("empty"), "{err}");
        let none: [PathBuf; 0] = [];
        assert!(matches!(
            SendPlan::from_paths(&none),
            Err(StoreError::NothingToSend { .. })
        ));
    }

    #[cfg(unix)]
    #[test]
    fn names_a_receiver_would_refuse_fail_early() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("folder");
        let bad = root.join("new\nline.txt");
        write(&bad, b"x");
        let err = SendPlan::from_paths(&[root]).unwrap_err();
        assert!(
            matches!(&err, StoreError::UnsendableName { path, .. } if *path == bad),
            "{err:?}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn an_explicitly_named_link_is_followed_but_special_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target.txt");
        write(&target, b"abc");
        let link = dir.path().join("link.txt");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let plan = SendPlan::from_paths(&[link]).unwrap();
        assert_eq!(plan.entries()[0].path, "link.txt");
        assert_eq!(plan.entries()[0].size, 3);

        let fifo = dir.path().join("fifo");
        assert!(std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success());
        let err = SendPlan::from_paths(&[&fifo]).unwrap_err();
        assert!(
            matches!(&err, StoreError::NotARegularFile { path } if *path == fifo),
            "{err:?}"
        );
    }

    #[test]
    fn from_entries_keeps_hostile_plans_as_given() {
        let files = vec![
            OutgoingFile {
                entry: FileEntry {
                    index: 3,
                    path: "../../evil".into(),
                    size: 7,
                },
                source: "/x".into(),
            },
            OutgoingFile {
                entry: FileEntry {
                    index: 3,
                    path: "../../evil".into(),
                    size: u64::MAX,
                },
                source: "/y".into(),
            },
        ];
        let plan = SendPlan::from_entries(files);
        assert_eq!(plan.total_size(), u64::MAX);
        assert_eq!(plan.file(3).unwrap().source, PathBuf::from("/x"));
        assert_eq!(plan.entries()[1].path, "../../evil");
    }
}
