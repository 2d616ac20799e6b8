//! Received names are hostile until proven safe.
//!
//! A sender announces each file as a `/`-separated relative path (`folder/sub/name.txt`). That
//! string comes from another machine and may have been crafted to escape the destination folder
//! (`../../.bashrc`, `/etc/passwd`, `C:\Windows`, `\\server\share`), to hit a Windows device
//! (`CON`, `nul.txt`), to open an NTFS alternate data stream (`a.txt:stream`), or to lie to a
//! person reading a terminal (escape sequences, right-to-left overrides that make `exe.txt`
//! look like `txt.exe`).
//!
//! [`sanitize_relative_path`] turns such a string into a [`SafePath`] — a list of components,
//! each of which is a plain file name on the target [`Platform`] — or says precisely why it
//! refused ([`UnsafePath`]). Anything that could change *where* a file lands is rejected;
//! cosmetic problems that only matter on Windows (reserved device names, trailing dots and
//! spaces, characters Windows forbids) are renamed, so an innocent Unix name still arrives.
//!
//! [`terminal_safe`] is for the other direction: any name (sanitized or not) that is printed to
//! a terminal goes through it so it can never carry an escape sequence.

use std::fmt;
use std::path::PathBuf;

use thiserror::Error;

/// Longest accepted component, in bytes (the common file-system limit, ext4/NTFS/APFS).
pub const MAX_COMPONENT_BYTES: usize = 255;
/// Most components accepted in one path; deeper trees are refused rather than half-created.
pub const MAX_DEPTH: usize = 64;
/// Longest accepted path, in bytes (Linux `PATH_MAX`).
pub const MAX_PATH_BYTES: usize = 4096;

/// Longest excerpt of a refused path quoted in an [`UnsafePath`] message.
const QUOTE_CHARS: usize = 120;

/// The file-system rules a received name is checked against.
///
/// Separate from `cfg!(windows)` so the Windows policy is unit-tested on every host.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Platform {
    /// Linux, macOS, Android: only `/` and NUL are special.
    Unix,
    /// Windows: `\` separates too, `:` opens streams, device names and trailing dots are special.
    Windows,
}

impl Platform {
    /// The platform this binary runs on: the rules the local file system enforces.
    pub fn current() -> Self {
        if cfg!(windows) {
            Platform::Windows
        } else {
            Platform::Unix
        }
    }
}

/// A received path that passed [`sanitize_relative_path`]: one or more components, each a
/// plain name that is not `.`/`..`, holds no separator, control or bidi character, and is legal
/// on the platform it was checked for.
///
/// Holding one is the proof that joining it under the destination folder stays inside it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SafePath {
    components: Vec<String>,
}

impl SafePath {
    /// The safe components, outermost first; never empty.
    pub fn components(&self) -> &[String] {
        &self.components
    }

    /// The top-level entry: the file itself, or the folder the sender picked.
    pub fn top_level(&self) -> &str {
        &self.components[0]
    }

    /// The last component: the file's own name.
    pub fn file_name(&self) -> &str {
        self.components.last().expect("SafePath is never empty")
    }

    /// Whether the file sits inside a folder (more than one component).
    pub fn is_nested(&self) -> bool {
        self.components.len() > 1
    }

    /// The relative native path (components joined with the platform separator).
    pub fn to_path_buf(&self) -> PathBuf {
        self.components.iter().collect()
    }

    /// The path joined with `/`, as shown to people and written on the wire.
    pub fn display_string(&self) -> String {
        self.components.join("/")
    }
}

impl fmt::Display for SafePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display_string())
    }
}

/// Why a received path was refused. Each variant carries `path`, a terminal-safe, shortened
/// quote of the offending input, so the message can be logged and shown as is.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum UnsafePath {
    /// The path is the empty string.
    #[error("refused an empty path")]
    Empty,
    /// A component is empty (`a//b`, trailing `/`), or on Windows is only dots and spaces,
    /// which Windows strips to nothing.
    #[error("refused path \"{path}\": it has an empty component")]
    EmptyComponent {
        /// Quote of the refused path.
        path: String,
    },
    /// Starts with `/` or `\`: it would land outside the destination folder.
    #[error("refused path \"{path}\": it is absolute")]
    Absolute {
        /// Quote of the refused path.
        path: String,
    },
    /// A UNC or device path (`\\server\share`, `//server`, `\\?\C:`).
    #[error("refused path \"{path}\": it is a network (UNC) or device path")]
    Unc {
        /// Quote of the refused path.
        path: String,
    },
    /// Starts with a drive letter (`C:`, `c:foo`, `C:\x`).
    #[error("refused path \"{path}\": it starts with a drive letter")]
    DriveLetter {
        /// Quote of the refused path.
        path: String,
    },
    /// A `.` component (with `/` or `\` as separator).
    #[error("refused path \"{path}\": it has a `.` component")]
    CurrentDir {
        /// Quote of the refused path.
        path: String,
    },
    /// A `..` component (with `/` or `\` as separator): directory traversal.
    #[error("refused path \"{path}\": it has a `..` component")]
    ParentDir {
        /// Quote of the refused path.
        path: String,
    },
    /// Contains NUL, which truncates paths in C APIs.
    #[error("refused path \"{path}\": it contains a NUL character")]
    Nul {
        /// Quote of the refused path.
        path: String,
    },
    /// Contains a control character (C0, DEL, C1, line/paragraph separator).
    #[error("refused path \"{path}\": it contains the control character U+{codepoint:04X}")]
    ControlCharacter {
        /// Quote of the refused path.
        path: String,
        /// The offending character.
        codepoint: u32,
    },
    /// Contains a bidirectional override or isolate (U+202A–U+202E, U+2066–U+2069), which can
    /// make a name read differently from what it is.
    #[error("refused path \"{path}\": it contains the bidirectional control U+{codepoint:04X}")]
    BidiControl {
        /// Quote of the refused path.
        path: String,
        /// The offending character.
        codepoint: u32,
    },
    /// A component is longer than [`MAX_COMPONENT_BYTES`].
    #[error(
        "refused path \"{path}\": a component is {bytes} bytes long (limit {MAX_COMPONENT_BYTES})"
    )]
    ComponentTooLong {
        /// Quote of the refused path.
        path: String,
        /// Length of the offending component.
        bytes: usize,
    },
    /// More than [`MAX_DEPTH`] components.
    #[error("refused path \"{path}\": it is {depth} levels deep (limit {MAX_DEPTH})")]
    TooDeep {
        /// Quote of the refused path.
        path: String,
        /// Number of components.
        depth: usize,
    },
    /// Longer than [`MAX_PATH_BYTES`].
    #[error("refused path \"{path}\": it is {bytes} bytes long (limit {MAX_PATH_BYTES})")]
    TooLong {
        /// Quote of the refused path.
        path: String,
        /// Length of the path.
        bytes: usize,
    },
    /// Contains `:` on Windows, where it names an alternate data stream or a drive.
    #[error("refused path \"{path}\": it contains `:`, which Windows reads as a stream or drive")]
    Colon {
        /// Quote of the refused path.
        path: String,
    },
}

/// Checks a received wire path and returns its safe components, renaming what is only
/// cosmetically illegal on `platform`, refusing everything that could escape the destination.
///
/// Backslashes are judged both ways: if treating `\` as a separator would make the path
/// absolute, UNC, drive-relative or traversing, it is refused on every platform (a Unix
/// receiver may later hand the file to a Windows tool). Otherwise a backslash is kept on Unix,
/// where it is an ordinary character, and replaced by `_` on Windows.
pub fn sanitize_relative_path(raw: &str, platform: Platform) -> Result<SafePath, UnsafePath> {
    let quoted = || quote(raw);
    if raw.is_empty() {
        return Err(UnsafePath::Empty);
    }
    if raw.len() > MAX_PATH_BYTES {
        return Err(UnsafePath::TooLong {
            path: quoted(),
            bytes: raw.len(),
        });
    }
    for c in raw.chars() {
        if c == '\0' {
            return Err(UnsafePath::Nul { path: quoted() });
        }
        if is_control(c) {
            return Err(UnsafePath::ControlCharacter {
                path: quoted(),
                codepoint: c as u32,
            });
        }
        if is_bidi_control(c) {
            return Err(UnsafePath::BidiControl {
                path: quoted(),
                codepoint: c as u32,
            });
        }
    }
    // Structure, judged with both separators so `\` tricks fail on every platform.
    if raw.starts_with("//")
        || raw.starts_with("\\\\")
        || raw.starts_with("/\\")
        || raw.starts_with("\\/")
    {
        return Err(UnsafePath::Unc { path: quoted() });
    }
    if raw.starts_with('/') || raw.starts_with('\\') {
        return Err(UnsafePath::Absolute { path: quoted() });
    }
    if has_drive_prefix(raw) {
        return Err(UnsafePath::DriveLetter { path: quoted() });
    }
    let parts: Vec<&str> = raw.split('/').collect();
    if parts.len() > MAX_DEPTH {
        return Err(UnsafePath::TooDeep {
            path: quoted(),
            depth: parts.len(),
        });
    }
    let mut components = Vec::with_capacity(parts.len());
    for part in parts {
        if part.is_empty() {
            return Err(UnsafePath::EmptyComponent { path: quoted() });
        }
        for piece in part.split('\\') {
            match piece {
                "." => return Err(UnsafePath::CurrentDir { path: quoted() }),
                ".." => return Err(UnsafePath::ParentDir { path: quoted() }),
                _ => {}
            }
        }
        if part.len() > MAX_COMPONENT_BYTES {
            return Err(UnsafePath::ComponentTooLong {
                path: quoted(),
                bytes: part.len(),
            });
        }
        let name = match platform {
            Platform::Unix => part.to_owned(),
            Platform::Windows => windows_component(part).map_err(|e| e.with_path(quoted()))?,
        };
        if name.len() > MAX_COMPONENT_BYTES {
            return Err(UnsafePath::ComponentTooLong {
                path: quoted(),
                bytes: name.len(),
            });
        }
        components.push(name);
    }
    Ok(SafePath { components })
}

/// Why a Windows component was refused, before the quote is attached.
enum WindowsRefusal {
    Colon,
    Empty,
}

impl WindowsRefusal {
    fn with_path(self, path: String) -> UnsafePath {
        match self {
            WindowsRefusal::Colon => UnsafePath::Colon { path },
            WindowsRefusal::Empty => UnsafePath::EmptyComponent { path },
        }
    }
}

/// Makes one component (already free of separators' traversal, controls and bidi) legal on
/// Windows: refuses `:`, replaces `\ < > " | ? *`, trims trailing dots and spaces, and
/// prefixes reserved device names with `_`.
fn windows_component(part: &str) -> Result<String, WindowsRefusal> {
    if part.contains(':') {
        return Err(WindowsRefusal::Colon);
    }
    let replaced: String = part
        .chars()
        .map(|c| {
            if matches!(c, '\\' | '<' | '>' | '"' | '|' | '?' | '*') {
                '_'
            } else {
                c
            }
        })
        .collect();
    let trimmed = replaced.trim_end_matches(['.', ' ']);
    if trimmed.is_empty() {
        return Err(WindowsRefusal::Empty);
    }
    if is_windows_reserved(trimmed) {
        Ok(format!("_{trimmed}"))
    } else {
        Ok(trimmed.to_owned())
    }
}

/// Whether Windows would open a device instead of a file for this name: `CON`, `PRN`, `AUX`,
/// `NUL`, `COM0`–`COM9`, `LPT0`–`LPT9` (also with superscript digits; `0` found by fuzzing), `CONIN$`, `CONOUT$`,
/// case-insensitive, with or without an extension (`nul.txt`, `Com1.tar.gz`).
fn is_windows_reserved(name: &str) -> bool {
    let stem = name.split('.').next().unwrap_or(name).trim_end_matches(' ');
    let upper = stem.to_ascii_uppercase();
    match upper.as_str() {
        "CON" | "PRN" | "AUX" | "NUL" | "CONIN$" | "CONOUT$" => true,
        _ => {
            let mut chars = upper.chars();
            let prefix: String = chars.by_ref().take(3).collect();
            let rest: Vec<char> = chars.collect();
            (prefix == "COM" || prefix == "LPT")
                && rest.len() == 1
                && matches!(rest[0], '0'..='9' | '¹' | '²' | '³')
        }
    }
}

/// `C:`, `c:foo`, `C:\x`: a letter then a colon at the very start.
fn has_drive_prefix(raw: &str) -> bool {
    let bytes = raw.as_bytes();
    bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':'
}

/// C0 controls (incl. NUL and ESC), DEL, C1 controls, and the Unicode line and paragraph
/// separators, which some terminals and JSON consumers treat as line breaks.
fn is_control(c: char) -> bool {
    c.is_control() || c == '\u{2028}' || c == '\u{2029}'
}

/// Bidirectional embeddings, overrides and isolates ("Trojan Source" characters).
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// A shortened, terminal-safe quote of hostile input for error messages.
/// A terminal-safe quote of peer-supplied `raw`, cut to a few dozen characters: what every
/// message that names a hostile path or device may show (a 21,000-character name must not make
/// a 168 KB refusal).
pub fn quote(raw: &str) -> String {
    let mut out = terminal_safe(&raw.chars().take(QUOTE_CHARS).collect::<String>());
    if raw.chars().count() > QUOTE_CHARS {
        out.push('…');
    }
    out
}

/// Returns `name` with every control character (C0 incl. ESC, DEL, C1 incl. CSI), line or
/// paragraph separator and bidirectional control replaced by `�`, so printing it to a terminal
/// can never start an escape sequence, move the cursor or reorder text.
///
/// Use it for every peer-supplied string that reaches a terminal: file names, device names,
/// reasons in `Decline`/`Error` messages.
pub fn terminal_safe(name: &str) -> String {
    name.chars()
        .map(|c| {
            if is_control(c) || is_bidi_control(c) {
                '\u{FFFD}'
            } else {
                c
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    use Platform::{Unix, Windows};

    /// Which variant a refusal is, without its payload.
    fn reason(e: &UnsafePath) -> &'static str {
        match e {
            UnsafePath::Empty => "Empty",
            UnsafePath::EmptyComponent { .. } => "EmptyComponent",
            UnsafePath::Absolute { .. } => "Absolute",
            UnsafePath::Unc { .. } => "Unc",
            UnsafePath::DriveLetter { .. } => "DriveLetter",
            UnsafePath::CurrentDir { .. } => "CurrentDir",
            UnsafePath::ParentDir { .. } => "ParentDir",
            UnsafePath::Nul { .. } => "Nul",
            UnsafePath::ControlCharacter { .. } => "ControlCharacter",
            UnsafePath::BidiControl { .. } => "BidiControl",
            UnsafePath::ComponentTooLong { .. } => "ComponentTooLong",
            UnsafePath::TooDeep { .. } => "TooDeep",
            UnsafePath::TooLong { .. } => "TooLong",
            UnsafePath::Colon { .. } => "Colon",
        }
    }

    #[test]
    fn hostile_paths_are_refused_on_both_platforms_for_the_right_reason() {
        let long_component = "a".repeat(256);
        let deep = vec!["d"; 65].join("/");
        let long_path = vec!["x".repeat(200); 21].join("/");
        let table: &[(&str, &str)] = &[
            ("", "Empty"),
            ("a//b", "EmptyComponent"),
            ("a/", "EmptyComponent"),
            ("/etc/passwd", "Absolute"),
            ("/x", "Absolute"),
            ("\\x", "Absolute"),
            ("\\Windows\\System32", "Absolute"),
            ("//server/share", "Unc"),
            ("\\\\server\\share\\x", "Unc"),
            ("\\\\?\\C:\\x", "Unc"),
            ("C:", "DriveLetter"),
            ("c:foo", "DriveLetter"),
            ("C:\\Windows\\evil.dll", "DriveLetter"),
            ("z:/x", "DriveLetter"),
            (".", "CurrentDir"),
            ("./a", "CurrentDir"),
            ("a/./b", "CurrentDir"),
            (".\\a", "CurrentDir"),
            ("..", "ParentDir"),
            ("../etc/passwd", "ParentDir"),
            ("a/../../b", "ParentDir"),
            ("a/..", "ParentDir"),
            ("..\\..\\evil", "ParentDir"),
            ("a\\..\\b", "ParentDir"),
            ("ok/..\\x", "ParentDir"),
            ("a\0b", "Nul"),
            ("\0", "Nul"),
            ("a\nb", "ControlCharacter"),
            ("tab\there", "ControlCharacter"),
            ("evil\u{1b}[2Jname", "ControlCharacter"),
            ("del\u{7f}", "ControlCharacter"),
            ("c1\u{9b}31m", "ControlCharacter"),
            ("x\u{85}y", "ControlCharacter"),
            ("line\u{2028}sep", "ControlCharacter"),
            ("invoice\u{202E}fdp.exe", "BidiControl"),
            ("a\u{202A}b", "BidiControl"),
            ("a\u{2066}b", "BidiControl"),
            ("a\u{2069}b", "BidiControl"),
            (long_component.as_str(), "ComponentTooLong"),
            (deep.as_str(), "TooDeep"),
            (long_path.as_str(), "TooLong"),
        ];
        for platform in [Unix, Windows] {
            for (raw, expected) in table {
                match sanitize_relative_path(raw, platform) {
                    Ok(safe) => panic!("{platform:?}: {raw:?} was accepted as {safe:?}"),
                    Err(e) => assert_eq!(reason(&e), *expected, "{platform:?}: {raw:?} -> {e}"),
                }
            }
        }
    }

    #[test]
    fn windows_only_refusals() {
        for raw in ["a.txt:stream", "file::$DATA", "dir/x:y", "a/C:"] {
            let e = sanitize_relative_path(raw, Windows).unwrap_err();
            assert_eq!(reason(&e), "Colon", "{raw:?}");
            // Legal on Unix, where a colon is an ordinary character.
            assert_eq!(
                sanitize_relative_path(raw, Unix).unwrap().display_string(),
                raw
            );
        }
        for raw in ["...", "a/. .", "   ", "x/ . "] {
            let e = sanitize_relative_path(raw, Windows).unwrap_err();
            assert_eq!(reason(&e), "EmptyComponent", "{raw:?}");
        }
        // `...` is an ordinary (if odd) name on Unix.
        assert!(sanitize_relative_path("...", Unix).is_ok());
    }

    #[test]
    fn safe_names_are_kept_on_both_platforms() {
        let longest_component = "x".repeat(MAX_COMPONENT_BYTES);
        let deepest = vec!["d"; MAX_DEPTH].join("/");
        for raw in [
            "photo.jpg",
            "folder/sub/name.txt",
            "ünïcødé/日本語のファイル.txt",
            "emoji 🎉 party.png",
            "with spaces/and more spaces.txt",
            " leading space.txt",
            "-rf",
            "-dash/--double.txt",
            ".hidden",
            "..dots-in-name..x",
            "a.b.c.tar.gz",
            "CONFIG.txt",
            "console.log",
            "COM10",
            "LPT10.txt",
            "nul-terminated.txt",
            longest_component.as_str(),
            deepest.as_str(),
        ] {
            for platform in [Unix, Windows] {
                let safe = sanitize_relative_path(raw, platform)
                    .unwrap_or_else(|e| panic!("{platform:?}: {raw:?} refused: {e}"));
                assert_eq!(safe.display_string(), raw, "{platform:?}");
                assert_eq!(safe.components().len(), raw.split('/').count());
            }
        }
    }

    #[test]
    fn unix_keeps_backslashes_and_windows_characters() {
        for raw in [
            "back\\slash.txt",
            "a\\b\\c",
            "trailing\\",
            "what?.txt",
            "a<b>c|d*e\"f",
            "end. ",
        ] {
            let safe = sanitize_relative_path(raw, Unix).unwrap();
            assert_eq!(safe.components(), [raw.to_owned()]);
        }
    }

    #[test]
    fn windows_renames_what_it_cannot_store() {
        let table: &[(&str, &str)] = &[
            ("CON", "_CON"),
            ("con", "_con"),
            ("Con.txt", "_Con.txt"),
            ("PRN.tar.gz", "_PRN.tar.gz"),
            ("aux", "_aux"),
            ("NUL.txt", "_NUL.txt"),
            ("nul .txt", "_nul .txt"),
            ("COM1", "_COM1"),
            ("com9.log", "_com9.log"),
            ("LPT1", "_LPT1"),
            ("lpt5.doc", "_lpt5.doc"),
            ("COM¹", "_COM¹"),
            ("CONOUT$", "_CONOUT$"),
            ("dir/CON/x.txt", "dir/_CON/x.txt"),
            ("name.", "name"),
            ("name...", "name"),
            ("name   ", "name"),
            ("name. . ", "name"),
            ("folder./file ", "folder/file"),
            ("CON.", "_CON"),
            ("back\\slash.txt", "back_slash.txt"),
            ("trailing\\", "trailing_"),
            ("what?.txt", "what_.txt"),
            ("a<b>c|d*e\"f", "a_b_c_d_e_f"),
            (" leading space.txt", " leading space.txt"),
        ];
        for (raw, expected) in table {
            let safe = sanitize_relative_path(raw, Windows)
                .unwrap_or_else(|e| panic!("{raw:?} refused: {e}"));
            assert_eq!(safe.display_string(), *expected, "{raw:?}");
        }
    }

    /// Found by `fuzz/` (target `sanitize_path`, input `LPT0`): Windows reserves `COM0` and
    /// `LPT0` too, so they must be renamed like `COM1`.
    #[test]
    fn fuzz_regression_com0_and_lpt0_are_windows_devices() {
        for (raw, expected) in [
            ("LPT0", "_LPT0"),
            ("com0.txt", "_com0.txt"),
            ("dir/Lpt0 .log", "dir/_Lpt0 .log"),
        ] {
            let safe = sanitize_relative_path(raw, Windows).unwrap();
            assert_eq!(safe.display_string(), expected, "{raw:?}");
        }
        assert_eq!(
            sanitize_relative_path("LPT0", Unix)
                .unwrap()
                .display_string(),
            "LPT0",
            "an ordinary name on Unix"
        );
    }

    #[test]
    fn safe_path_accessors() {
        let safe = sanitize_relative_path("photos/2024/beach.jpg", Unix).unwrap();
        assert_eq!(safe.top_level(), "photos");
        assert_eq!(safe.file_name(), "beach.jpg");
        assert!(safe.is_nested());
        assert_eq!(
            safe.to_path_buf(),
            PathBuf::from("photos").join("2024").join("beach.jpg")
        );
        assert_eq!(safe.to_string(), "photos/2024/beach.jpg");
        let single = sanitize_relative_path("a.txt", Unix).unwrap();
        assert!(!single.is_nested());
        assert_eq!(single.top_level(), single.file_name());
    }

    #[test]
    fn error_messages_are_terminal_safe_and_short() {
        let raw = format!("\u{1b}]0;pwned\u{7}{}", "y".repeat(1000));
        let e = sanitize_relative_path(&raw, Unix).unwrap_err();
        let message = e.to_string();
        assert!(!message.chars().any(|c| c.is_control()), "{message:?}");
        assert!(message.len() < 400, "{message}");
        assert!(message.contains("U+001B"), "{message}");
    }

    #[test]
    fn terminal_safe_strips_every_escape() {
        assert_eq!(
            terminal_safe("plain ünï 🎉 name.txt"),
            "plain ünï 🎉 name.txt"
        );
        assert_eq!(terminal_safe("a\u{1b}[31mred"), "a\u{FFFD}[31mred");
        assert_eq!(terminal_safe("csi\u{9b}2J"), "csi\u{FFFD}2J");
        assert_eq!(
            terminal_safe("bell\u{7}del\u{7f}"),
            "bell\u{FFFD}del\u{FFFD}"
        );
        assert_eq!(terminal_safe("nl\nnul\0"), "nl\u{FFFD}nul\u{FFFD}");
        assert_eq!(
            terminal_safe("invoice\u{202E}fdp.exe"),
            "invoice\u{FFFD}fdp.exe"
        );
        assert_eq!(terminal_safe("\u{2066}x\u{2069}"), "\u{FFFD}x\u{FFFD}");
        for c in (0u32..0x20).chain(0x7f..0xa0).filter_map(char::from_u32) {
            let out = terminal_safe(&c.to_string());
            assert_eq!(out, "\u{FFFD}", "U+{:04X}", c as u32);
        }
    }

    #[test]
    fn current_platform_matches_the_build() {
        assert_eq!(Platform::current() == Windows, cfg!(windows));
    }
}
