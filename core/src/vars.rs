//! Configuration variables as the program's edge read them.
//!
//! Libraries never read the process environment: a front end (the CLI, the app, a test)
//! resolves its configuration once where it starts and passes a [`Vars`] lookup to the few
//! builders that understand `PEERDROP_*` knobs ([`crate::rtc::RtcSettings::from_vars`],
//! [`crate::fallback::FallbackPolicy::from_vars`], [`crate::identity::home_from_vars`]). A test
//! passes a map instead, so what it configures is what it sees, whatever the environment.

/// A variable lookup: `Some(value)` when `name` is set. At the edge this is
/// `&|name| std::env::var(name).ok()`.
pub type Vars<'a> = &'a dyn Fn(&str) -> Option<String>;

/// A lookup with nothing set: every builder's defaults.
pub fn none(_: &str) -> Option<String> {
    None
}

/// A lookup over fixed `(name, value)` pairs (tests, or settings read from a file).
pub fn from_pairs<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
    move |name| {
        pairs
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
    }
}

/// `name` parsed as a `T`; unset or unparsable values read as unset.
pub fn parsed<T: std::str::FromStr>(vars: Vars<'_>, name: &str) -> Option<T> {
    vars(name).and_then(|v| v.trim().parse().ok())
}
