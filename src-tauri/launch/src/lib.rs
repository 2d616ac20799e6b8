//! # peerdrop-app-launch — what the OS asks PeerDrop to do
//!
//! People share from where they are: "Open with PeerDrop" in a file manager, "Send to" on
//! Windows, a `peerdrop://send?to=CODE` link, `peerdrop-app FILE...` in a terminal, or the
//! Android share sheet. Each of these reaches the app as a list of strings (a command line, the
//! command line a second launch forwarded through `tauri-plugin-single-instance`, or an Android
//! intent). This crate turns them into one [`Launch`]: paths to select on the Send page, and at
//! most one [`Link`] naming a page (and, for Send, the receiver's code and the signaling server
//! the receiver is registered on).
//!
//! It is deliberately small and free of Tauri on the desktop, so the rules are unit-tested in
//! milliseconds; the Android glue ([`android`], only on Android) type-checks for
//! `aarch64-linux-android` without the engine's C dependencies.
//!
//! Safety rules (a link can come from any web page):
//! - A link only opens a page and fills in a code and a server. It never selects files and never
//!   starts a transfer: the person still chooses what to send and presses Send, and the Send page
//!   names the server a code will be looked up on.
//! - File names offered by another Android app are reduced to a plain name
//!   ([`safe_file_name`]) before anything is written.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use peerdrop_proto::link::{self, is_peerdrop_link};
use url::Url;

#[cfg(target_os = "android")]
pub mod android;

/// The link format itself (pages, the receiver's code, the server to reach it through) is
/// [`peerdrop_proto::link`]'s, shared with the Receive page's QR code and `peerdrop receive
/// --qr`, so what one side builds the other always reads.
pub use peerdrop_proto::link::{Link, LinkError, Page, SCHEME};

/// The most text a share may hand over: what one transfer carries
/// ([`peerdrop_proto::transfer::MAX_TEXT_BYTES`]).
pub const MAX_SHARED_TEXT: usize = peerdrop_proto::transfer::MAX_TEXT_BYTES;

/// A shared text as the Send page takes it: trimmed, `None` when blank, and an over-long text
/// refused with a line for the person rather than cut (a cut link would open something else).
pub fn shared_text(text: &str) -> Result<Option<String>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    if text.len() > MAX_SHARED_TEXT {
        return Err(format!(
            "The shared text is {} KiB; PeerDrop sends texts of at most {} KiB (share it as a file)",
            text.len().div_ceil(1024),
            MAX_SHARED_TEXT / 1024
        ));
    }
    Ok(Some(text.to_string()))
}

/// One request from outside the window, from any of the ways PeerDrop is launched.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Launch {
    /// Files and folders to select on the Send page (absolute).
    pub paths: Vec<PathBuf>,
    /// The last `peerdrop://` link among the arguments.
    pub link: Option<Link>,
    /// A text shared with PeerDrop (Android's share sheet: a link or a note from another
    /// app), for the Send page's text field; at most [`MAX_SHARED_TEXT`] bytes.
    pub text: Option<String>,
    /// Arguments that could not be used, one line each for the person (a bad link, a `file:`
    /// URI that is not local).
    pub problems: Vec<String>,
}

impl Launch {
    /// True when there is nothing to show: a plain launch (or a second plain launch, which only
    /// brings the running window to the front).
    pub fn is_empty(&self) -> bool {
        self.paths.is_empty()
            && self.link.is_none()
            && self.text.is_none()
            && self.problems.is_empty()
    }
}

/// Reads a command line (without the program name), resolving relative paths against `cwd`.
///
/// - Everything after `--` is a path, so files whose names start with `-` can be passed.
/// - Before that, arguments starting with `-` are options of someone else and are ignored
///   (WebKitWebDriver adds `--automation`; GTK and Windows shells add their own).
/// - `peerdrop:` arguments are links; `file:` URIs (file managers that pass `%U`) are paths.
pub fn from_args<I, S>(args: I, cwd: &Path) -> Launch
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut launch = Launch::default();
    let mut only_paths = false;
    for arg in args {
        let arg = arg.as_ref();
        if arg.is_empty() {
            continue;
        }
        if only_paths {
            launch.paths.push(absolute(Path::new(arg), cwd));
            continue;
        }
        let text = arg.to_str();
        match text {
            Some("--") => only_paths = true,
            Some(t) if t.starts_with('-') => {}
            Some(t) if is_peerdrop_link(t) => match parse_link(t) {
                Ok(link) => launch.link = Some(link),
                Err(problem) => launch.problems.push(problem),
            },
            Some(t) if has_scheme(t, "file") => {
                match Url::parse(t).ok().and_then(|u| u.to_file_path().ok()) {
                    Some(path) => launch.paths.push(path),
                    None => launch
                        .problems
                        .push(format!("{t} is not a file on this device")),
                }
            }
            _ => launch.paths.push(absolute(Path::new(arg), cwd)),
        }
    }
    launch
}

fn has_scheme(text: &str, scheme: &str) -> bool {
    text.as_bytes().get(scheme.len()) == Some(&b':')
        && text
            .get(..scheme.len())
            .is_some_and(|s| s.eq_ignore_ascii_case(scheme))
}

fn absolute(path: &Path, cwd: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        cwd.join(path)
    }
}

/// Parses a `peerdrop://` link ([`peerdrop_proto::link::parse`]: `peerdrop://send?to=CODE`
/// with an optional `&server=URL`, `peerdrop://send`, `peerdrop://receive`,
/// `peerdrop://settings`). The code is checked and normalised like a typed one and the server
/// must be a plain `ws://`/`wss://` URL; a link with either wrong is refused as a whole, so a
/// half-understood link never opens anything. The error is one line for the person.
pub fn parse_link(text: &str) -> Result<Link, String> {
    link::parse(text).map_err(|e| format!("This PeerDrop link cannot be opened: {e}"))
}

/// Whether a URI another app shared may be read: only `content://`, which the sharing app
/// grants us. A `file://` URI would be opened with PeerDrop's own rights (its private folders,
/// its identity key), whoever shared it.
pub fn is_shareable_uri(uri: &str) -> bool {
    uri.get(..10)
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("content://"))
}

/// A plain file name for content another app shared with us (Android's display name), safe to
/// join to a folder of ours: only the last component, no `.`/`..`, no separators or control
/// characters, at most 200 bytes; `shared-N` when nothing usable is left.
pub fn safe_file_name(offered: Option<&str>, index: usize) -> String {
    let fallback = || format!("shared-{}", index + 1);
    let Some(offered) = offered else {
        return fallback();
    };
    let last = offered
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or_default()
        .trim();
    let mut name: String = last
        .chars()
        .filter(|c| !c.is_control() && *c != ':')
        .collect();
    while name.len() > 200 {
        name.pop();
    }
    if name.is_empty() || name.chars().all(|c| c == '.') {
        fallback()
    } else {
        name
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_shared_text_is_trimmed_and_an_over_long_one_refused_not_cut() {
        assert_eq!(
            shared_text("  https://example.org/a \n"),
            Ok(Some("https://example.org/a".into()))
        );
        assert_eq!(shared_text(" \n\t"), Ok(None));
        let long = "x".repeat(MAX_SHARED_TEXT + 1);
        let refused = shared_text(&long).unwrap_err();
        assert!(refused.contains("at most 32 KiB"), "{refused}");
        let launch = Launch {
            text: Some("hi".into()),
            ..Launch::default()
        };
        assert!(!launch.is_empty(), "a shared text alone is a request");
    }

    use super::*;

    #[test]
    fn a_file_uri_shared_into_peerdrop_is_refused() {
        assert!(is_shareable_uri(
            "content://com.android.providers.media/document/image%3A12"
        ));
        assert!(is_shareable_uri("CONTENT://x/y"));
        assert!(!is_shareable_uri(
            "file:///data/data/org.peerdrop.PeerDrop/files/identity.pem"
        ));
        assert!(!is_shareable_uri("file:///sdcard/x"));
        assert!(!is_shareable_uri("contentx://a"));
        assert!(!is_shareable_uri(""));
        assert!(!is_shareable_uri(
            "/data/data/org.peerdrop.PeerDrop/files/identity.pem"
        ));
    }

    fn cwd() -> PathBuf {
        PathBuf::from("/home/ana/Pictures")
    }

    #[test]
    fn files_relative_and_absolute() {
        let l = from_args(["beach.jpg", "/tmp/notes.txt", "trip/"], &cwd());
        assert_eq!(
            l.paths,
            vec![
                PathBuf::from("/home/ana/Pictures/beach.jpg"),
                PathBuf::from("/tmp/notes.txt"),
                PathBuf::from("/home/ana/Pictures/trip/"),
            ]
        );
        assert!(l.link.is_none() && l.problems.is_empty());
    }

    #[test]
    fn options_are_ignored_until_double_dash() {
        let l = from_args(["--automation", "-x", "a", "--", "-odd name", "--"], &cwd());
        assert_eq!(
            l.paths,
            vec![
                PathBuf::from("/home/ana/Pictures/a"),
                PathBuf::from("/home/ana/Pictures/-odd name"),
                PathBuf::from("/home/ana/Pictures/--"),
            ]
        );
    }

    #[test]
    fn plain_launch_is_empty() {
        assert!(from_args(Vec::<String>::new(), &cwd()).is_empty());
        assert!(from_args(["--automation"], &cwd()).is_empty());
    }

    #[test]
    fn file_uris_become_paths() {
        let l = from_args(["file:///home/ana/My%20Photos/a%C3%A9.jpg"], &cwd());
        assert_eq!(l.paths, vec![PathBuf::from("/home/ana/My Photos/aé.jpg")]);
        let l = from_args(["file://otherhost/share/x"], &cwd());
        assert!(l.paths.is_empty());
        assert_eq!(l.problems.len(), 1);
    }

    #[test]
    fn send_link_with_code() {
        let l = from_args(["peerdrop://send?to=k7qm2x"], &cwd());
        assert_eq!(
            l.link,
            Some(Link {
                page: Page::Send,
                to: Some("K7QM-2X".into()),
                server: None,
            })
        );
        assert!(l.paths.is_empty());
        for form in [
            "PeerDrop://SEND?to=K7QM-2X",
            "peerdrop:send?to=K7QM-2X",
            "peerdrop://send/?to=K7QM-2X",
            "peerdrop://send?code=k7qm-2x",
        ] {
            assert_eq!(
                parse_link(form).unwrap().to.as_deref(),
                Some("K7QM-2X"),
                "{form}"
            );
        }
    }

    #[test]
    fn other_pages_and_bad_links() {
        assert_eq!(
            parse_link("peerdrop://receive").unwrap().page,
            Page::Receive
        );
        assert_eq!(parse_link("peerdrop://").unwrap().page, Page::Receive);
        assert_eq!(
            parse_link("peerdrop://settings").unwrap().page,
            Page::Settings
        );
        assert_eq!(
            parse_link("peerdrop://send").unwrap(),
            Link {
                page: Page::Send,
                to: None,
                server: None,
            }
        );
        assert!(parse_link("peerdrop://send?to=nope").is_err());
        assert!(parse_link("peerdrop://format-disk").is_err());
        let l = from_args(["peerdrop://send?to=x", "a.txt"], &cwd());
        assert!(l.link.is_none());
        assert_eq!(l.problems.len(), 1);
        assert_eq!(l.paths.len(), 1);
    }

    #[test]
    fn a_receivers_link_carries_its_server() {
        let built =
            peerdrop_proto::link::send_link("m4n5p6", Some("wss://peerdrop.example.org/ws"))
                .unwrap();
        let l = from_args([built.as_str(), "notes.txt"], &cwd());
        assert_eq!(
            l.link,
            Some(Link {
                page: Page::Send,
                to: Some("M4N5-P6".into()),
                server: Some("wss://peerdrop.example.org/ws".into()),
            })
        );
        assert_eq!(l.paths, vec![PathBuf::from("/home/ana/Pictures/notes.txt")]);
        assert!(l.problems.is_empty());
    }

    #[test]
    fn a_link_with_a_bad_server_opens_nothing_and_says_why() {
        for bad in [
            "peerdrop://send?to=K7QM-2X&server=https%3A%2F%2Fevil.example%2F",
            "peerdrop://send?to=K7QM-2X&server=javascript:alert(1)",
            "peerdrop://send?to=K7QM-2X&server=wss%3A%2F%2Fok.example%40evil.example%2Fws",
        ] {
            let l = from_args([bad], &cwd());
            assert!(l.link.is_none(), "{bad}");
            assert_eq!(l.problems.len(), 1, "{bad}");
            assert!(
                l.problems[0].starts_with("This PeerDrop link cannot be opened: its server "),
                "{}",
                l.problems[0]
            );
        }
        let huge = format!("peerdrop://send?to=K7QM-2X&x={}", "a".repeat(100_000));
        let l = from_args([huge], &cwd());
        assert!(l.link.is_none() && l.paths.is_empty());
        assert!(l.problems[0].contains("too long"), "{}", l.problems[0]);
    }

    #[test]
    fn non_ascii_arguments_are_paths() {
        let l = from_args(["péerdrop://x", "日本語.txt"], &cwd());
        assert_eq!(l.paths.len(), 2);
    }

    #[test]
    fn links_never_select_files() {
        let l = from_args(["peerdrop://send?to=K7QM-2X&file=/etc/passwd"], &cwd());
        assert!(l.paths.is_empty());
    }

    #[test]
    fn offered_names_are_reduced_to_a_plain_name() {
        assert_eq!(safe_file_name(Some("IMG_1.jpg"), 0), "IMG_1.jpg");
        assert_eq!(safe_file_name(Some("../../etc/passwd"), 0), "passwd");
        assert_eq!(safe_file_name(Some("a\\b\\c.txt"), 0), "c.txt");
        assert_eq!(safe_file_name(Some(".."), 1), "shared-2");
        assert_eq!(safe_file_name(Some("x/"), 2), "shared-3");
        assert_eq!(safe_file_name(Some("a\u{0}b\nc:d"), 0), "abcd");
        assert_eq!(safe_file_name(None, 0), "shared-1");
        assert!(safe_file_name(Some(&"é".repeat(300)), 0).len() <= 200);
    }
}
