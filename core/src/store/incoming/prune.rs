//! Pruning abandoned staging: transfer folders nobody touched for a long time are deleted
//! when the next transfer starts, through handles so a swapped-in link cannot redirect it.

use std::path::Path;
use std::time::{Duration, SystemTime};

use super::journal::JOURNAL_FILE;
use super::{IncomingTransfer, STAGING_DIR_NAME};
use crate::store::dir;

impl IncomingTransfer {
    /// Deletes the staging directories of transfers nobody touched for `max_age` (abandoned
    /// for good), so kept parts do not pile up forever. Returns how many were removed.
    ///
    /// Works through handles: the staging root is opened (not following a link) and checked
    /// like [`open`](Self::open) does, each transfer folder is looked at and removed relative
    /// to it, and the root itself is removed only while its name still means the folder that
    /// was opened. A root or transfer folder of another user is left alone.
    pub fn prune_stale(dest: &Path, max_age: Duration) -> usize {
        let dest_dir = match dir::open_existing(dest) {
            Ok(Some(dest_dir)) => dest_dir,
            _ => return 0,
        };
        let root = match dir::open_private(&dest_dir, STAGING_DIR_NAME, false) {
            Ok(Some(root)) => root,
            Ok(None) => return 0,
            Err(e) => {
                tracing::warn!(error = %e, "not pruning stale staging");
                return 0;
            }
        };
        let Ok(names) = root.names() else {
            return 0;
        };
        let now = SystemTime::now();
        let mut removed = 0;
        for name in names {
            let Some(name) = name.to_str() else {
                continue;
            };
            let Ok(Some(entry)) = root.entry(name) else {
                continue;
            };
            if !entry.is_dir || entry.is_symlink || !entry.ours {
                continue;
            }
            let journal = match dir::open_private(&root, name, false) {
                Ok(Some(folder)) => folder.entry(JOURNAL_FILE).ok().flatten(),
                Ok(None) => continue,
                Err(e) => {
                    tracing::warn!(error = %e, "leaving a staging folder alone");
                    continue;
                }
            };
            let newest = journal
                .and_then(|j| j.modified)
                .or(entry.modified)
                .unwrap_or(now);
            if now.duration_since(newest).unwrap_or_default() > max_age
                && root.remove_tree(name).is_ok()
            {
                removed += 1;
            }
        }
        let _ = dest_dir.remove_child_if_empty(STAGING_DIR_NAME, &root);
        removed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::incoming::test_util::*;
    use std::fs;
    use uuid::Uuid;

    #[test]
    fn stale_staging_is_pruned_and_fresh_staging_kept() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path();
        let old = IncomingTransfer::open(dest, Uuid::new_v4()).unwrap();
        let old_dir = old.staging_dir().to_owned();
        drop(old);
        let fresh = IncomingTransfer::open(dest, Uuid::new_v4()).unwrap();
        let fresh_dir = fresh.staging_dir().to_owned();
        drop(fresh);
        let ancient = SystemTime::now() - Duration::from_secs(90 * 24 * 3600);
        fs::File::open(&old_dir)
            .unwrap()
            .set_modified(ancient)
            .unwrap();
        assert_eq!(
            IncomingTransfer::prune_stale(dest, Duration::from_secs(30 * 24 * 3600)),
            1
        );
        assert!(!old_dir.exists());
        assert!(fresh_dir.exists());
    }

    /// Another local user who can write to a shared DEST.
    #[cfg(unix)]
    mod shared_destination {
        use super::*;
        use std::os::unix::fs::symlink;
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::{Arc, Mutex};

        #[test]
        fn prune_stale_cannot_be_redirected_by_a_symlink() {
            let dir = tempfile::tempdir().unwrap();
            let dest = dir.path().join("shared");
            fs::create_dir(&dest).unwrap();
            // The victim's folder, named like a stale transfer folder the attacker plants.
            let home = dir.path().join("home");
            let victim = home.join("Documents");
            fs::create_dir_all(&victim).unwrap();
            fs::write(victim.join("thesis.odt"), b"years of work").unwrap();
            make_old(&victim);

            let root = dest.join(STAGING_DIR_NAME);
            let aside = dest.join(".moved-aside");
            let plant = |root: &Path| {
                let stale = root.join("Documents");
                if !stale.exists() {
                    fs::create_dir_all(&stale).unwrap();
                    make_old(&stale);
                }
            };
            // While prune_stale runs, the attacker keeps swapping the staging root for a
            // symlink to the victim's home and back (renames in a folder they can write to).
            let turn = Arc::new(Mutex::new(()));
            let stop = Arc::new(AtomicBool::new(false));
            let swapper = {
                let (turn, stop, root, aside, home) = (
                    turn.clone(),
                    stop.clone(),
                    root.clone(),
                    aside.clone(),
                    home.clone(),
                );
                std::thread::spawn(move || {
                    let mut swaps = 0u32;
                    while !stop.load(Ordering::Relaxed) {
                        {
                            let _turn = turn.lock().unwrap();
                            if fs::rename(&root, &aside).is_ok() {
                                symlink(&home, &root).unwrap();
                                swaps += 1;
                                std::thread::sleep(Duration::from_micros(40));
                                fs::remove_file(&root).unwrap();
                                fs::rename(&aside, &root).unwrap();
                            }
                        }
                        std::thread::sleep(Duration::from_micros(40));
                    }
                    swaps
                })
            };
            let mut pruned = 0;
            let deadline = std::time::Instant::now() + Duration::from_secs(3);
            let mut rounds = 0;
            while std::time::Instant::now() < deadline && victim.exists() {
                {
                    let _turn = turn.lock().unwrap();
                    plant(&root);
                }
                pruned += IncomingTransfer::prune_stale(&dest, Duration::from_secs(3600));
                rounds += 1;
            }
            stop.store(true, Ordering::Relaxed);
            let swaps = swapper.join().unwrap();
            assert!(
                victim.join("thesis.odt").is_file(),
                "prune_stale deleted the victim's folder through the swapped root ({rounds} rounds)"
            );
            assert!(swaps > 100, "the root was swapped only {swaps} times");
            assert!(
                pruned > 0,
                "prune_stale never removed the real stale folder"
            );
            assert!(fs::symlink_metadata(&root)
                .map(|m| !m.file_type().is_symlink())
                .unwrap_or(true));
        }
    }
}
