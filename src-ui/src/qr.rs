//! The QR code on the Receive page, rendered as inline SVG with the `qrcode` crate.
//!
//! It encodes this device's `peerdrop://send?to=CODE` link — with `&server=URL` when the app is
//! registered on a configured signaling server (see `NodeStatus::link_server`) — built by
//! [`peerdrop_proto::link`], the same format the app's link handler and `peerdrop receive --qr`
//! use. A phone's camera opens it in PeerDrop on the Send page with the code (and the server to
//! look it up on) filled in; a scanner that only reads text still shows the code.

use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};

/// Text encoded for `code` (reached through `server`, when given): the receiver's link, or
/// `None` when `code` is not a code or `server` not a usable `ws://`/`wss://` URL.
pub fn payload(code: &str, server: Option<&str>) -> Option<String> {
    peerdrop_proto::link::send_link(code, server).ok()
}

/// An SVG document of the QR code encoding `payload` (dark Nord modules on a light
/// background), or `None` if it cannot be encoded (a link always can).
pub fn svg(payload: &str) -> Option<String> {
    let qr = QrCode::with_error_correction_level(payload, EcLevel::M).ok()?;
    let image = qr
        .render::<svg::Color<'_>>()
        .dark_color(svg::Color("#2E3440"))
        .light_color(svg::Color("#ECEFF4"))
        .quiet_zone(true)
        .min_dimensions(200, 200)
        .build();
    // Let CSS size it: drop the fixed width/height, keep the viewBox.
    let start = image.find("<svg")?;
    let svg_only = &image[start..];
    Some(strip_fixed_size(svg_only))
}

fn strip_fixed_size(svg: &str) -> String {
    let Some(view_box) = svg.find(" viewBox=") else {
        return svg.to_string();
    };
    let head = &svg[..view_box];
    let cleaned: String = head
        .split(' ')
        .filter(|part| !part.starts_with("width=") && !part.starts_with("height="))
        .collect::<Vec<_>>()
        .join(" ");
    format!("{cleaned}{}", &svg[view_box..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_the_link_as_scalable_svg() {
        let link = payload("k7qm-2x", None).unwrap();
        assert_eq!(link, "peerdrop://send?to=K7QM-2X");
        let svg = svg(&link).unwrap();
        assert!(svg.starts_with("<svg"));
        assert!(svg.contains("viewBox"));
        let open_tag = &svg[..svg.find('>').unwrap()];
        assert!(!open_tag.contains(" width="), "{open_tag}");
        assert!(svg.contains("#2E3440"));
    }

    #[test]
    fn the_payload_is_a_link_the_app_opens() {
        let link = payload("k7qm2x", Some("wss://peerdrop.example.org/ws")).unwrap();
        let parsed = peerdrop_proto::link::parse(&link).unwrap();
        assert_eq!(parsed.to.as_deref(), Some("K7QM-2X"));
        assert_eq!(
            parsed.server.as_deref(),
            Some("wss://peerdrop.example.org/ws")
        );
        assert_eq!(payload("nope", None), None);
        assert_eq!(payload("K7QM-2X", Some("http://x")), None);
        // Still a small symbol that scans from across a desk.
        let qr = QrCode::with_error_correction_level(&link, EcLevel::M).unwrap();
        assert!(qr.width() <= 45, "{} modules", qr.width());
    }
}
