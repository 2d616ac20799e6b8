//! `peerdrop receive --qr`: this receiver's `peerdrop://send?to=CODE&server=URL` link, and the
//! same link as a QR code drawn in the terminal, so a phone can scan it and send here.
//!
//! The link is [`peerdrop_proto::link`]'s — the format the app's Receive page encodes and the
//! app's link handler opens — so a phone with PeerDrop opens Send with the code and this
//! receiver's server filled in.
//!
//! Output: the `code: CODE` line stays the first line on stdout (scripts read it); a
//! `link: URL` line follows it. The QR code goes to stderr, like the other words for a person.
//! With `--json`, stdout carries only JSON events, so the link line goes to stderr too.

use anyhow::{Context, Result};
use peerdrop_proto::link::send_link;
use qrcode::render::unicode::Dense1x2;
use qrcode::{EcLevel, QrCode};

/// The server a link to this receiver names: the one given with `--server` or
/// `PEERDROP_SERVER`, if any. With none, the receiver is on its LAN only and the link carries
/// just the code: a sender on the same network finds that code by mDNS.
pub fn link_server(server: Option<&str>) -> Option<&str> {
    server.map(str::trim).filter(|s| !s.is_empty())
}

/// The link and its QR code as the terminal shows them: `link: URL` and the QR code under it.
pub fn render(code: &str, server: Option<&str>) -> Result<(String, String)> {
    let link = send_link(code, server).context("cannot build a link to this receiver")?;
    let qr = QrCode::with_error_correction_level(&link, EcLevel::M)
        .context("the link does not fit in a QR code")?;
    // Two modules per character cell (▀ ▄ █). Light modules are drawn and dark ones left
    // blank, as `qrencode -t UTF8` does: on the usual light-on-dark terminal that gives dark
    // modules on a light field, quiet zone included, which is what cameras expect.
    let image = qr
        .render::<Dense1x2>()
        .dark_color(Dense1x2::Light)
        .light_color(Dense1x2::Dark)
        .quiet_zone(true)
        .build();
    Ok((link, image))
}

/// Prints the link (stdout, or stderr with `--json`) and the QR code (stderr).
pub fn show(code: &str, server: Option<&str>, json: bool) -> Result<()> {
    let (link, image) = render(code, server)?;
    if json {
        eprintln!("link: {link}");
    } else {
        println!("link: {link}");
    }
    eprintln!("{image}");
    eprintln!("Scan with a phone to send here (code {code}).");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_given_server_is_named() {
        assert_eq!(link_server(None), None);
        assert_eq!(link_server(Some(" ")), None);
        assert_eq!(
            link_server(Some("wss://peerdrop.example.org/ws")),
            Some("wss://peerdrop.example.org/ws")
        );
    }

    #[test]
    fn draws_every_module_of_the_links_qr_code() {
        let (link, image) = render("k7qm2x", Some("ws://192.168.1.10:8787/ws")).unwrap();
        assert_eq!(
            link,
            "peerdrop://send?to=K7QM-2X&server=ws%3A%2F%2F192.168.1.10%3A8787%2Fws"
        );
        let modules = QrCode::with_error_correction_level(&link, EcLevel::M)
            .unwrap()
            .width();
        let side = modules + 8; // 4 modules of quiet zone each side
        let lines: Vec<&str> = image.lines().collect();
        assert_eq!(lines.len(), side.div_ceil(2));
        assert!(lines.iter().all(|l| l.chars().count() == side));
        // The quiet zone is light, so drawn: the first line is solid blocks.
        assert!(lines[0].chars().all(|c| c == '█'), "{}", lines[0]);
    }

    #[test]
    fn a_bad_server_is_an_error_not_a_link() {
        assert!(render("K7QM-2X", Some("https://x/")).is_err());
    }
}
