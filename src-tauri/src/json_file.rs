//! Small JSON files the app keeps (history, trusted devices): written whole, atomically (a
//! temporary file renamed over the old one), so a crash mid-write never leaves half a file.

use std::path::Path;

use serde::Serialize;

use crate::error::{AppError, AppResult};

/// Writes `value` as JSON to `path` atomically, creating its folder; `what` names the file in
/// errors ("the history").
pub fn write_atomic<T: Serialize>(path: &Path, value: &T, what: &str) -> AppResult<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| AppError::io(format!("cannot create the folder of {what}"), e))?;
    }
    let json = serde_json::to_string(value).expect("app files serialise");
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, json).map_err(|e| AppError::io(format!("cannot write {what}"), e))?;
    std::fs::rename(&tmp, path).map_err(|e| AppError::io(format!("cannot write {what}"), e))
}

/// Reads `path` as JSON. A missing file is `None`; a file that cannot be read as `T` is moved
/// aside to `<name>.unreadable` (nothing is lost) and is `None` too.
pub fn read_or_set_aside<T: serde::de::DeserializeOwned>(path: &Path, what: &str) -> Option<T> {
    let text = std::fs::read_to_string(path).ok()?;
    match serde_json::from_str::<T>(&text) {
        Ok(value) => Some(value),
        Err(e) => {
            let aside = path.with_extension("json.unreadable");
            tracing::warn!(path = %path.display(), error = %e, aside = %aside.display(),
                "unreadable {what} moved aside; starting a new one");
            if let Err(e) = std::fs::rename(path, &aside) {
                tracing::warn!(error = %e, "could not move the unreadable {what} aside");
            }
            None
        }
    }
}
