//! Inline SVG icons (stroke style, `currentColor`, 24×24 grid), so the app ships no icon font
//! and every icon follows the text colour of its context.

/// Wraps path data in an `<svg>` of the icon grid.
fn icon(body: &str) -> String {
    format!(
        r#"<svg class="icon" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true">{body}</svg>"#
    )
}

/// Arrow into a tray: Receive.
pub fn receive() -> String {
    icon(
        r#"<path d="M21 15v4a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2v-4"/><polyline points="7 10 12 15 17 10"/><line x1="12" y1="15" x2="12" y2="3"/>"#,
    )
}

/// Paper plane: Send.
pub fn send() -> String {
    icon(r#"<line x1="22" y1="2" x2="11" y2="13"/><polygon points="22 2 15 22 11 13 2 9 22 2"/>"#)
}

/// Gear: Settings.
pub fn settings() -> String {
    icon(
        r#"<circle cx="12" cy="12" r="3"/><path d="M19.4 15a1.65 1.65 0 0 0 .33 1.82l.06.06a2 2 0 1 1-2.83 2.83l-.06-.06a1.65 1.65 0 0 0-1.82-.33 1.65 1.65 0 0 0-1 1.51V21a2 2 0 1 1-4 0v-.09A1.65 1.65 0 0 0 9 19.4a1.65 1.65 0 0 0-1.82.33l-.06.06a2 2 0 1 1-2.83-2.83l.06-.06A1.65 1.65 0 0 0 4.6 15a1.65 1.65 0 0 0-1.51-1H3a2 2 0 1 1 0-4h.09A1.65 1.65 0 0 0 4.6 9a1.65 1.65 0 0 0-.33-1.82l-.06-.06a2 2 0 1 1 2.83-2.83l.06.06A1.65 1.65 0 0 0 9 4.6a1.65 1.65 0 0 0 1-1.51V3a2 2 0 1 1 4 0v.09a1.65 1.65 0 0 0 1 1.51 1.65 1.65 0 0 0 1.82-.33l.06-.06a2 2 0 1 1 2.83 2.83l-.06.06A1.65 1.65 0 0 0 19.4 9a1.65 1.65 0 0 0 1.51 1H21a2 2 0 1 1 0 4h-.09a1.65 1.65 0 0 0-1.51 1z"/>"#,
    )
}

/// Clock: History.
pub fn history() -> String {
    icon(r#"<circle cx="12" cy="12" r="9"/><polyline points="12 7 12 12 15.5 14"/>"#)
}

/// Laptop: a desktop device.
pub fn laptop() -> String {
    icon(
        r#"<rect x="3" y="4" width="18" height="12" rx="2"/><line x1="1.5" y1="20" x2="22.5" y2="20"/>"#,
    )
}

/// Phone: a mobile device.
pub fn phone() -> String {
    icon(
        r#"<rect x="6" y="2" width="12" height="20" rx="2"/><line x1="11" y1="18" x2="13" y2="18"/>"#,
    )
}

/// Terminal prompt: the CLI.
pub fn terminal() -> String {
    icon(
        r#"<rect x="2" y="3" width="20" height="18" rx="2"/><polyline points="6 9 10 12 6 15"/><line x1="12" y1="15" x2="17" y2="15"/>"#,
    )
}

/// A document.
pub fn file() -> String {
    icon(
        r#"<path d="M14 2H6a2 2 0 0 0-2 2v16a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2V8z"/><polyline points="14 2 14 8 20 8"/>"#,
    )
}

/// A folder.
pub fn folder() -> String {
    icon(
        r#"<path d="M22 19a2 2 0 0 1-2 2H4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2h5l2 3h9a2 2 0 0 1 2 2z"/>"#,
    )
}

/// Check mark.
pub fn check() -> String {
    icon(r#"<polyline points="20 6 9 17 4 12"/>"#)
}

/// Cross.
pub fn close() -> String {
    icon(r#"<line x1="18" y1="6" x2="6" y2="18"/><line x1="6" y1="6" x2="18" y2="18"/>"#)
}

/// Copy (two sheets).
pub fn copy() -> String {
    icon(
        r#"<rect x="9" y="9" width="13" height="13" rx="2"/><path d="M5 15H4a2 2 0 0 1-2-2V4a2 2 0 0 1 2-2h9a2 2 0 0 1 2 2v1"/>"#,
    )
}

/// Warning triangle.
pub fn alert() -> String {
    icon(
        r#"<path d="M10.29 3.86L1.82 18a2 2 0 0 0 1.71 3h16.94a2 2 0 0 0 1.71-3L13.71 3.86a2 2 0 0 0-3.42 0z"/><line x1="12" y1="9" x2="12" y2="13"/><line x1="12" y1="17" x2="12.01" y2="17"/>"#,
    )
}

/// Wi-Fi waves: nearby.
pub fn wifi() -> String {
    icon(
        r#"<path d="M5 12.55a11 11 0 0 1 14.08 0"/><path d="M1.42 9a16 16 0 0 1 21.16 0"/><path d="M8.53 16.11a6 6 0 0 1 6.95 0"/><line x1="12" y1="20" x2="12.01" y2="20"/>"#,
    )
}

/// Shield: verification.
pub fn shield() -> String {
    icon(r#"<path d="M12 22s8-4 8-10V5l-8-3-8 3v7c0 6 8 10 8 10z"/>"#)
}

/// Upload cloud: drop zone.
pub fn upload() -> String {
    icon(
        r#"<polyline points="16 16 12 12 8 16"/><line x1="12" y1="12" x2="12" y2="21"/><path d="M20.39 18.39A5 5 0 0 0 18 9h-1.26A8 8 0 1 0 3 16.3"/>"#,
    )
}

/// The PeerDrop mark (same drawing as the app icon, `icons/icon.svg`).
pub fn logo() -> String {
    r##"<svg class="logo" viewBox="64 64 896 896" aria-hidden="true"><defs><linearGradient id="pd-bg" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="#8FBCBB"/><stop offset="1" stop-color="#5E81AC"/></linearGradient></defs><rect x="64" y="64" width="896" height="896" rx="208" fill="url(#pd-bg)"/><path d="M512 214 C628 352 708 462 708 566 A196 196 0 0 1 316 566 C316 462 396 352 512 214 Z" fill="#ECEFF4"/><path d="M512 470 L512 660 M436 590 L512 666 L588 590" fill="none" stroke="#5E81AC" stroke-width="44" stroke-linecap="round" stroke-linejoin="round"/></svg>"##.to_string()
}
