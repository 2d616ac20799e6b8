//! # peerdrop-ui — the PeerDrop app's user interface (Sycamore 0.9, compiled to wasm)
//!
//! Three pages — Receive, Send, Settings — in the Nord palette, from a 360 px phone to a
//! desktop window. The UI never touches files or the network: it calls the Tauri commands of
//! `src-tauri` and renders the [`peerdrop_proto::events::TransferEvent`]s they stream back.
//!
//! Built with plain cargo for `wasm32-unknown-unknown` and `wasm-bindgen --target web` into
//! `src-ui/dist` (see `scripts/app-build.sh`).

mod api;
mod app;
mod components;
mod format;
mod icons;
mod model;
mod pages;
mod qr;
mod state;
mod tauri;

fn main() {
    sycamore::render(app::App);
}
