//! What gets sent: one big pseudo-random file or a folder of many small ones, and how the
//! received copy is checked (BLAKE3 of every file, relative paths included).

use anyhow::{bail, Context, Result};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

const BLOCK: usize = 1 << 20;

/// Fast xorshift bytes (incompressible enough that no tool gains by compressing).
struct Noise(u64);

impl Noise {
    fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            let bytes = self.0.to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
    }
}

/// Writes `len` pseudo-random bytes to `path` (fsynced, so the first run does not pay for
/// writeback of the source).
pub fn write_random_file(path: &Path, len: u64) -> Result<()> {
    let mut file = File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut noise = Noise(0x9E37_79B9_7F4A_7C15 ^ len);
    let mut block = vec![0u8; BLOCK];
    let mut left = len;
    while left > 0 {
        let n = left.min(BLOCK as u64) as usize;
        noise.fill(&mut block[..n]);
        file.write_all(&block[..n])
            .with_context(|| format!("writing {}", path.display()))?;
        left -= n as u64;
    }
    file.sync_all()?;
    Ok(())
}

/// Creates `dir` with `count` files of `size` bytes, 100 per subfolder (`d000/f00000.bin`),
/// as a real photo or source tree would spread them.
pub fn write_small_files(dir: &Path, count: usize, size: usize) -> Result<()> {
    let mut noise = Noise(0x5151_a11f_11e5 ^ count as u64);
    let mut buf = vec![0u8; size];
    for i in 0..count {
        let sub = dir.join(format!("d{:03}", i / 100));
        if i % 100 == 0 {
            std::fs::create_dir_all(&sub).with_context(|| format!("creating {}", sub.display()))?;
        }
        noise.fill(&mut buf);
        let path = sub.join(format!("f{i:05}.bin"));
        std::fs::write(&path, &buf).with_context(|| format!("writing {}", path.display()))?;
    }
    // One sync for the whole tree (syncfs of the file system holding it).
    let root = File::open(dir)?;
    // SAFETY: syncfs on a valid descriptor.
    unsafe { libc::syncfs(std::os::fd::AsRawFd::as_raw_fd(&root)) };
    Ok(())
}

/// Every regular file under `root`, as sorted relative paths.
pub fn list_files(root: &Path) -> Result<Vec<PathBuf>> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
        for entry in std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                walk(root, &entry.path(), out)?;
            } else if kind.is_file() {
                out.push(entry.path().strip_prefix(root)?.to_path_buf());
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    if root.is_file() {
        out.push(PathBuf::from(root.file_name().context("file name")?));
        return Ok(out);
    }
    walk(root, root, &mut out)?;
    out.sort();
    Ok(out)
}

/// One BLAKE3 over every file's relative path and contents (a file: its name and contents).
pub fn digest(root: &Path) -> Result<String> {
    let mut all = blake3::Hasher::new();
    let base = if root.is_file() {
        root.parent().context("file has a folder")?.to_path_buf()
    } else {
        root.to_path_buf()
    };
    for rel in list_files(root)? {
        let path = base.join(&rel);
        let mut one = blake3::Hasher::new();
        one.update_reader(
            File::open(&path).with_context(|| format!("opening {}", path.display()))?,
        )?;
        all.update(rel.to_string_lossy().as_bytes());
        all.update(one.finalize().as_bytes());
    }
    Ok(all.finalize().to_hex().to_string())
}

/// Fails unless `received` holds exactly what `source` holds.
pub fn verify(source_digest: &str, received: &Path, tool: &str) -> Result<()> {
    if !received.exists() {
        bail!("{tool}: nothing at {}", received.display());
    }
    let got = digest(received)?;
    if got != source_digest {
        bail!(
            "{tool}: received copy at {} differs from the source",
            received.display()
        );
    }
    Ok(())
}

/// After a tool's run: checks that `dest` received exactly `source` (by its `source_digest`),
/// empties `dest` for the next run, and returns the payload size the rates are computed from.
/// Every tool ends its run through this, so all are judged the same way.
pub fn verify_and_clear(
    source_digest: &str,
    source: &Path,
    dest: &Path,
    tool: &str,
) -> Result<u64> {
    verify(
        source_digest,
        &dest.join(source.file_name().context("source has a file name")?),
        tool,
    )?;
    let bytes = total_bytes(source)?;
    std::fs::remove_dir_all(dest)?;
    Ok(bytes)
}

/// Total bytes of every file under `root` (or of the file `root`).
pub fn total_bytes(root: &Path) -> Result<u64> {
    if root.is_file() {
        return Ok(std::fs::metadata(root)?.len());
    }
    let mut sum = 0;
    for rel in list_files(root)? {
        sum += std::fs::metadata(root.join(rel))?.len();
    }
    Ok(sum)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_sees_content_and_names() {
        let dir = std::env::temp_dir().join(format!("pdbench-digest-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (a, b) = (dir.join("a"), dir.join("b"));
        write_small_files(&a, 150, 64).unwrap();
        write_small_files(&b, 150, 64).unwrap();
        assert_eq!(digest(&a).unwrap(), digest(&b).unwrap());
        assert_eq!(list_files(&a).unwrap().len(), 150);
        assert_eq!(total_bytes(&a).unwrap(), 150 * 64);
        // One flipped byte and one renamed file are both differences.
        let f = b.join("d001/f00120.bin");
        let mut data = std::fs::read(&f).unwrap();
        data[3] ^= 1;
        std::fs::write(&f, &data).unwrap();
        assert_ne!(digest(&a).unwrap(), digest(&b).unwrap());
        data[3] ^= 1;
        std::fs::write(&f, &data).unwrap();
        std::fs::rename(&f, b.join("d001/renamed.bin")).unwrap();
        assert_ne!(digest(&a).unwrap(), digest(&b).unwrap());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
