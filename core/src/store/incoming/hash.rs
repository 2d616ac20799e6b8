//! Reading a transfer's parts back to hash them: what gets verified is what is on disk, and
//! so what will be moved into place.

use std::io::{self, Read};

use super::parts::open_existing_part;
use super::IncomingTransfer;
use crate::store::sys::{self, Access};
use crate::store::StoreError;

impl IncomingTransfer {
    /// BLAKE3 of what is on disk for file `index`, read back in a streaming pass with bounded
    /// memory: what gets verified is what will be moved into place.
    pub fn hash_part(&self, index: u32) -> Result<blake3::Hash, StoreError> {
        let path = self.part_path(index);
        let mut file = open_existing_part(index, &self.staging, Access::Read)?;
        let mut hasher = blake3::Hasher::new();
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            match file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    hasher.update(&buf[..n]);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(StoreError::io("could not read", &path, e)),
            }
        }
        Ok(hasher.finalize())
    }

    /// Feeds bytes `[start, end)` of file `index`'s part, as written so far, to `hasher`,
    /// through `buf`. Lets a receiver keep a running hash when frames arrive out of order
    /// (several channels or stripes): what arrived ahead is read back once the gap before it
    /// is filled, usually from the page cache, instead of hashing the whole part at the end.
    pub fn hash_part_range(
        &self,
        index: u32,
        start: u64,
        end: u64,
        hasher: &mut blake3::Hasher,
        buf: &mut [u8],
    ) -> Result<(), StoreError> {
        let path = self.part_path(index);
        let reopened;
        let file = match self.open_parts.get(&index) {
            Some(file) => file,
            None => {
                reopened = open_existing_part(index, &self.staging, Access::Read)?;
                &reopened
            }
        };
        let mut pos = start;
        while pos < end {
            let n = ((end - pos) as usize).min(buf.len());
            sys::read_exact_at(file, &mut buf[..n], pos)
                .map_err(|e| StoreError::io("could not read", &path, e))?;
            hasher.update(&buf[..n]);
            pos += n as u64;
        }
        Ok(())
    }
}
