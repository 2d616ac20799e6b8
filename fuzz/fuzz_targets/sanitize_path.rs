//! The received-path sanitizer: whatever a sender announces, an accepted path must stay
//! inside the destination folder. Invariants, for both platforms' rules:
//! never absolute, no `.`/`..`, no separator, control, bidi or NUL character in a component,
//! no drive letter or stream on Windows, bounded length and depth; and `terminal_safe` output
//! never carries a control character.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::{Component, Path};

use peerdrop_machine::names::{
    sanitize_relative_path, terminal_safe, Platform, MAX_COMPONENT_BYTES, MAX_DEPTH, MAX_PATH_BYTES,
};

fn is_bidi(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

fuzz_target!(|data: &[u8]| {
    let raw = String::from_utf8_lossy(data);
    for platform in [Platform::Unix, Platform::Windows] {
        let Ok(safe) = sanitize_relative_path(&raw, platform) else {
            continue;
        };
        let components = safe.components();
        assert!(!components.is_empty(), "{raw:?}");
        assert!(components.len() <= MAX_DEPTH);
        let mut total = 0;
        for c in components {
            total += c.len() + 1;
            assert!(!c.is_empty(), "{raw:?} → empty component");
            assert!(c != "." && c != "..", "{raw:?} → {c:?}");
            assert!(c.len() <= MAX_COMPONENT_BYTES, "{raw:?}");
            assert!(!c.contains('/') && !c.contains('\0'), "{raw:?} → {c:?}");
            assert!(
                !c.chars().any(|ch| ch.is_control() || is_bidi(ch)),
                "{raw:?} → {c:?}"
            );
            if platform == Platform::Windows {
                assert!(!c.contains('\\') && !c.contains(':'), "{raw:?} → {c:?}");
                assert!(!c.ends_with('.') && !c.ends_with(' '), "{raw:?} → {c:?}");
                assert!(
                    !c.chars()
                        .any(|ch| matches!(ch, '<' | '>' | '"' | '|' | '?' | '*')),
                    "{raw:?} → {c:?}"
                );
                let stem = c
                    .split('.')
                    .next()
                    .unwrap_or("")
                    .trim_end_matches(' ')
                    .to_ascii_uppercase();
                let reserved = matches!(stem.as_str(), "CON" | "PRN" | "AUX" | "NUL")
                    || ((stem.starts_with("COM") || stem.starts_with("LPT"))
                        && stem.len() == 4
                        && stem.as_bytes()[3].is_ascii_digit());
                assert!(!reserved, "{raw:?} → device name {c:?}");
            }
            // Each component alone is one normal path component here too.
            let mut parts = Path::new(c).components();
            assert!(
                matches!(parts.next(), Some(Component::Normal(_))) && parts.next().is_none(),
                "{raw:?} → {c:?}"
            );
        }
        // Windows renames (`CON` → `_CON`) may add a byte per component, never more.
        assert!(total <= MAX_PATH_BYTES + 2 * MAX_DEPTH, "{raw:?}");
        let joined = safe.to_path_buf();
        assert!(joined.is_relative(), "{raw:?} → absolute {joined:?}");
        assert!(
            joined
                .components()
                .all(|c| matches!(c, Component::Normal(_))),
            "{raw:?} → {joined:?}"
        );
        // Sanitizing the result again accepts it unchanged (the rules are stable).
        let again = sanitize_relative_path(&safe.display_string(), platform)
            .unwrap_or_else(|e| panic!("{raw:?} → {safe:?} refused on re-check: {e}"));
        assert_eq!(again, safe, "{raw:?}");
    }
    let shown = terminal_safe(&raw);
    assert!(
        !shown.chars().any(|c| c.is_control() || is_bidi(c)),
        "{raw:?}"
    );
});
