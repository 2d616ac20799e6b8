//! Desktop notifications: an offer waiting for an answer and a receive that ended, told when
//! PeerDrop is not the window the person is looking at (a focused window already shows it).
//! Linux: freedesktop notifications over the session bus (`notify-rust`); on other platforms
//! nothing is shown yet. Showing never blocks the engine and never fails a transfer: a missing
//! notification server is logged and ignored. The person can turn them off (Settings →
//! Notifications); the notifier asks before each one, so the switch applies at once.

use peerdrop_core::OfferSummary;

/// Decides whether to notify and words the notification.
pub struct Notifier {
    /// Whether the app's window has the focus now (then nothing is shown).
    focused: Box<dyn Fn() -> bool + Send + Sync>,
    /// Whether the person wants notifications (the setting), asked each time.
    wanted: Box<dyn Fn() -> bool + Send + Sync>,
}

impl Notifier {
    /// Shows nothing (tests, or a platform without notifications).
    pub fn off() -> Self {
        Notifier {
            focused: Box::new(|| true),
            wanted: Box::new(|| false),
        }
    }

    /// Notifies while `wanted` says notifications are on and `focused` says the window does
    /// not have the focus.
    pub fn desktop(
        focused: impl Fn() -> bool + Send + Sync + 'static,
        wanted: impl Fn() -> bool + Send + Sync + 'static,
    ) -> Self {
        Notifier {
            focused: Box::new(focused),
            wanted: Box::new(wanted),
        }
    }

    /// An offer waits for the person's answer.
    pub fn offer_waiting(&self, offer: &OfferSummary) {
        let (summary, body) = offer_text(offer);
        self.show(summary, body);
    }

    /// A receive ended: `Ok(files, bytes)` when everything arrived, else why not.
    pub fn receive_ended(&self, from: &str, result: Result<(u32, u64), &str>) {
        let (summary, body) = ended_text(from, result);
        self.show(summary, body);
    }

    /// Whether a notification would be shown now.
    fn should_show(&self) -> bool {
        (self.wanted)() && !(self.focused)()
    }

    fn show(&self, summary: String, body: String) {
        if !self.should_show() {
            return;
        }
        tauri::async_runtime::spawn_blocking(move || show_now(&summary, &body));
    }
}

#[cfg(target_os = "linux")]
fn show_now(summary: &str, body: &str) {
    let shown = notify_rust::Notification::new()
        .appname("PeerDrop")
        .summary(summary)
        .body(body)
        .icon("peerdrop")
        .show();
    match shown {
        Ok(_) => tracing::debug!(%summary, "notification shown"),
        Err(e) => tracing::info!(error = %e, "no notification shown (no notification server?)"),
    }
}

#[cfg(not(target_os = "linux"))]
fn show_now(summary: &str, _body: &str) {
    tracing::debug!(%summary, "notifications are not implemented on this platform");
}

/// "Ben's phone wants to send you 2 files" / "3.2 MB: photo.jpg, notes.txt".
fn offer_text(offer: &OfferSummary) -> (String, String) {
    if offer.text.is_some() {
        return (
            format!("{} wants to send you a text", offer.from),
            "Open PeerDrop to see it and accept or decline.".to_string(),
        );
    }
    let n = offer.files.len();
    let summary = format!(
        "{} wants to send you {}",
        offer.from,
        if n == 1 {
            "1 file".to_string()
        } else {
            format!("{n} files")
        }
    );
    let mut names: Vec<&str> = offer
        .files
        .iter()
        .take(3)
        .map(|f| f.path.rsplit('/').next().unwrap_or(&f.path))
        .collect();
    if n > 3 {
        names.push("…");
    }
    (
        summary,
        format!("{}: {}", megabytes(offer.total_size), names.join(", ")),
    )
}

fn ended_text(from: &str, result: Result<(u32, u64), &str>) -> (String, String) {
    match result {
        Ok((files, bytes)) => (
            format!(
                "Received {} from {from}",
                if files == 1 {
                    "1 file".to_string()
                } else {
                    format!("{files} files")
                }
            ),
            format!("{}, every file verified", megabytes(bytes)),
        ),
        Err(reason) => (
            format!("The transfer from {from} failed"),
            reason.to_string(),
        ),
    }
}

/// Decimal megabytes, as the app shows sizes.
fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

#[cfg(test)]
mod tests {
    use super::*;
    use peerdrop_proto::events::FileSummary;

    fn offer(files: &[(&str, u64)], text: Option<&str>) -> OfferSummary {
        OfferSummary {
            transfer_id: uuid::Uuid::nil(),
            from: "Ben's phone".into(),
            files: files
                .iter()
                .map(|(path, size)| FileSummary {
                    path: path.to_string(),
                    size: *size,
                })
                .collect(),
            total_size: files.iter().map(|(_, s)| s).sum(),
            resumable_bytes: 0,
            verification: None,
            text: text.map(str::to_string),
        }
    }

    #[test]
    fn an_offer_says_who_how_many_and_what() {
        let (summary, body) = offer_text(&offer(
            &[("album/one.jpg", 2_000_000), ("b.txt", 150_000)],
            None,
        ));
        assert_eq!(summary, "Ben's phone wants to send you 2 files");
        assert_eq!(body, "2.1 MB: one.jpg, b.txt");
        let many = offer(&[("a", 1), ("b", 1), ("c", 1), ("d", 1)], None);
        assert!(offer_text(&many).1.ends_with("a, b, c, …"));
        let (summary, _) = offer_text(&offer(&[], Some("hi")));
        assert_eq!(summary, "Ben's phone wants to send you a text");
    }

    #[test]
    fn an_ending_says_what_arrived_or_why_not() {
        assert_eq!(
            ended_text("Ben's phone", Ok((1, 3_150_000))),
            (
                "Received 1 file from Ben's phone".into(),
                "3.1 MB, every file verified".into()
            )
        );
        let (summary, body) = ended_text("Ben's phone", Err("peer disconnected"));
        assert_eq!(summary, "The transfer from Ben's phone failed");
        assert_eq!(body, "peer disconnected");
    }

    #[test]
    fn only_an_unfocused_window_gets_notifications() {
        assert!(!Notifier::off().should_show());
        assert!(
            !Notifier::desktop(|| true, || true).should_show(),
            "the window shows it already"
        );
        assert!(Notifier::desktop(|| false, || true).should_show());
        assert!(
            !Notifier::desktop(|| false, || false).should_show(),
            "turned off in Settings"
        );
    }
}
