//! Device names as people see and compare them.
//!
//! A device's name is chosen by whoever runs it, so it is never proof of who it is: a
//! lookalike ("laptop-a", "Lаptop-A" with a Cyrillic а, "Laptop\u{200B}-A") must neither pass
//! for a device the user knows nor hide from the warning that an identity changed. Two
//! functions serve the two uses:
//! - [`display_form`]: what to show — NFKC, with invisible and control characters removed
//!   and whitespace collapsed, so what the person reads is what the name is;
//! - [`lookalike_key`]: what to compare — the display form, case-folded and reduced to its
//!   Unicode confusable skeleton (UTS #39), so names a person could mistake for each other
//!   have the same key.

use unicode_normalization::UnicodeNormalization;
use unicode_security::confusable_detection::skeleton;

/// The name as it should be shown: NFKC-normalised, with control characters, bidirectional
/// formatting and other invisible characters removed, runs of whitespace turned into one
/// space, and trimmed.
pub fn display_form(raw: &str) -> String {
    let visible: String = raw.nfkc().filter(|c| !is_invisible(*c)).collect();
    visible.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A key under which names a person could confuse are equal: the confusable skeleton of the
/// [`display_form`], case-folded, and skeletonised again.
pub fn lookalike_key(name: &str) -> String {
    // Skeleton first, so a capital I and a small l (both drawn as one stroke) meet before
    // case folding turns the I into an i; then fold case, and map what folding produced.
    let shapes: String = skeleton(&display_form(name)).collect();
    skeleton(&shapes.to_lowercase()).collect()
}

/// Whether two names could be mistaken for one another by a person reading them.
pub fn looks_like(a: &str, b: &str) -> bool {
    lookalike_key(a) == lookalike_key(b)
}

/// Characters that render as nothing (or rearrange what follows) and so can make two
/// different names look the same: controls, the bidirectional marks and overrides, zero-width
/// characters, soft hyphen, the combining grapheme joiner, variation selectors, tag
/// characters and the other default-ignorable code points.
fn is_invisible(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{00AD}'
                | '\u{034F}'
                | '\u{061C}'
                | '\u{115F}'..='\u{1160}'
                | '\u{17B4}'..='\u{17B5}'
                | '\u{180B}'..='\u{180F}'
                | '\u{200B}'..='\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2060}'..='\u{206F}'
                | '\u{3164}'
                | '\u{FE00}'..='\u{FE0F}'
                | '\u{FEFF}'
                | '\u{FFA0}'
                | '\u{FFF0}'..='\u{FFF8}'
                | '\u{1BCA0}'..='\u{1BCA3}'
                | '\u{1D173}'..='\u{1D17A}'
                | '\u{E0000}'..='\u{E0FFF}'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_names_are_shown_as_they_are() {
        assert_eq!(display_form("Ana's laptop"), "Ana's laptop");
        assert_eq!(display_form("Łukasz 📱"), "Łukasz 📱");
    }

    #[test]
    fn invisible_and_control_characters_are_not_shown() {
        assert_eq!(display_form("Laptop\u{200B}-A"), "Laptop-A");
        assert_eq!(display_form("evil\u{202E}txt.exe"), "eviltxt.exe");
        assert_eq!(display_form("  two \t\n spaces  "), "two spaces");
        assert_eq!(display_form("tag\u{E0041}\u{FEFF}"), "tag");
    }

    #[test]
    fn compatibility_forms_are_normalised() {
        // Full-width letters and the "ﬁ" ligature are NFKC-equal to plain ones.
        assert_eq!(display_form("Ｌａｐｔｏｐ"), "Laptop");
        assert_eq!(display_form("ﬁle server"), "file server");
    }

    #[test]
    fn lookalike_names_share_a_key() {
        assert!(looks_like("Laptop-A", "laptop-a"), "case");
        assert!(
            looks_like("Laptop-A", "Laptop\u{200B}-A"),
            "zero-width space"
        );
        assert!(looks_like("Laptop-A", "L\u{0430}ptop-A"), "Cyrillic a");
        assert!(looks_like("Laptop-A", "Ｌａｐｔｏｐ-Ａ"), "full width");
        assert!(looks_like("Laptop-A", " Laptop-A "), "spaces");
        assert!(looks_like("Paypal", "PayPaI"), "capital I for l");
        assert!(!looks_like("Laptop-A", "Laptop-B"));
        assert!(!looks_like("Ana", "Ben"));
    }
}
