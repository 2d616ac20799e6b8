//! The pieces every PeerDrop harness needs to run real processes, written once: the CLI's
//! integration tests, the network test bed, the app's end-to-end tests and the benchmarks
//! depend on this crate instead of keeping copies.
//!
//! - [`process`]: a child killed on drop, a child stopped politely (SIGTERM first), a bounded
//!   wait, and the `listening on ADDR` line every PeerDrop server prints once it has bound.
//! - [`files`]: seeded pseudo-random files and their BLAKE3.

pub mod files;
pub mod process;

pub use files::{blake3_file, random_bytes, random_file};
pub use process::{
    read_listening_line, spawn_listening, terminate, wait_timeout, KillOnDrop, ListenError,
};
