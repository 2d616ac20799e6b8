//! The QR code on the Receive page, rendered as inline SVG with the `qrcode` crate.
//!
//! It encodes `PEERDROP:<CODE>` (e.g. `PEERDROP:K7QM-2X`): every character is in the QR
//! alphanumeric set, which keeps the symbol small and easy to scan from across a desk, and the
//! prefix lets a scanner tell a PeerDrop code from any other text.

use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};

/// Text encoded for `code`.
pub fn payload(code: &str) -> String {
    format!("PEERDROP:{}", code.to_ascii_uppercase())
}

/// An SVG document of the QR code for `code` (dark Nord modules on a light background), or
/// `None` if it cannot be encoded (it always can for a real code).
pub fn svg(code: &str) -> Option<String> {
    let qr = QrCode::with_error_correction_level(payload(code), EcLevel::M).ok()?;
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
    fn encodes_code_as_scalable_svg() {
        let svg = svg("k7qm-2x").unwrap();
        assert!(svg.starts_with("<svg"));
        assert!(svg.contains("viewBox"));
        let open_tag = &svg[..svg.find('>').unwrap()];
        assert!(!open_tag.contains(" width="), "{open_tag}");
        assert!(svg.contains("#2E3440"));
        assert_eq!(payload("k7qm-2x"), "PEERDROP:K7QM-2X");
    }
}
