//! `peerdrop-app`: the desktop entry point; everything lives in the library (`lib.rs`) so the
//! mobile entry point shares it.

// No console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    peerdrop_app::run();
}
