//! Showing engine events: newline-delimited JSON with `--json`, otherwise a progress bar with
//! speed and ETA on a terminal and short status lines.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use peerdrop_core::store::terminal_safe;
use peerdrop_core::EventSink;
use peerdrop_proto::events::TransferEvent;
use std::io::Write;
use std::sync::{Arc, Mutex};

/// Builds the event sink for `--json` or human output.
pub fn sink(json: bool) -> EventSink {
    sink_with(json, false)
}

/// Like [`sink`]; with `text_to_stdout` (`receive --stdout`) a received text is written to
/// stdout exactly as sent, for a pipe, instead of made safe for a terminal.
pub fn sink_with(json: bool, text_to_stdout: bool) -> EventSink {
    if json {
        Arc::new(|event: TransferEvent| print_json(&event))
    } else {
        let human = Mutex::new(Human {
            bar: None,
            text_to_stdout,
            prefix: None,
            quarters_shown: 0,
            queued_shown: None,
        });
        Arc::new(move |event: TransferEvent| {
            if let Ok(mut h) = human.lock() {
                h.show(event);
            }
        })
    }
}

/// The sink for one receiver of a send to several (`--to` repeated): JSON lines carry
/// `"to": TO` (as typed), human lines start with `[TO]`, and progress is a line per quarter
/// instead of a bar.
pub fn sink_for_receiver(json: bool, to: &str) -> EventSink {
    let to = to.to_string();
    if json {
        Arc::new(move |event: TransferEvent| print_json_value(tagged(&event, &to)))
    } else {
        let human = Mutex::new(Human {
            bar: None,
            text_to_stdout: false,
            prefix: Some(terminal_safe(&to)),
            quarters_shown: 0,
            queued_shown: None,
        });
        Arc::new(move |event: TransferEvent| {
            if let Ok(mut h) = human.lock() {
                h.show(event);
            }
        })
    }
}

/// `event` as a JSON object with `"to"` added.
fn tagged(event: &TransferEvent, to: &str) -> serde_json::Value {
    let mut value = serde_json::to_value(event).expect("TransferEvent always serialises");
    if let Some(object) = value.as_object_mut() {
        object.insert("to".into(), serde_json::Value::String(to.to_string()));
    }
    value
}

fn print_json_value(value: serde_json::Value) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{value}");
    let _ = out.flush();
}

/// One JSON line on stdout, flushed so a reading process sees it at once.
pub fn print_json(event: &TransferEvent) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", event.to_json());
    let _ = out.flush();
}

struct Human {
    bar: Option<ProgressBar>,
    text_to_stdout: bool,
    /// The receiver's name as typed, when a send goes to several (`[A] …` on every line).
    prefix: Option<String>,
    /// Quarters of the transfer already shown as a line (several receivers only).
    quarters_shown: u8,
    /// The place in a busy receiver's line last shown (its refreshes repeat it).
    queued_shown: Option<u32>,
}

impl Human {
    fn status(&self, line: &str) {
        match &self.prefix {
            Some(to) => status(&format!("[{to}] {line}")),
            None => status(line),
        }
    }

    fn show(&mut self, event: TransferEvent) {
        match event {
            TransferEvent::Connecting { peer } => {
                self.status(&format!("Connecting to {}…", terminal_safe(&peer)))
            }
            TransferEvent::Connected { connect_ms, .. } => {
                self.status(&format!("Connected in {connect_ms} ms"))
            }
            TransferEvent::Path { path } => self.status(&format!("Path: {path:?}").to_lowercase()),
            TransferEvent::Accepted => self.status("Accepted"),
            TransferEvent::IdentityChanged {
                peer,
                pinned_as,
                previous,
                fingerprint,
            } => self.status(&format!(
                "\n!!! WARNING: \"{}\" is NOT the device you trusted as \"{}\": its identity is different.\n\
                 !!! Either it was reinstalled, or someone is pretending to be it (or sitting in the middle).\n\
                 !!! (trusted fingerprint {previous}, now {fingerprint})\n",
                terminal_safe(&peer),
                terminal_safe(&pinned_as)
            )),
            TransferEvent::Verify {
                phrase,
                known,
                peer,
                changed,
                fingerprint,
                pinned_as,
            } => {
                let peer = terminal_safe(&peer);
                let pinned_as = pinned_as.map(|name| terminal_safe(&name));
                if changed {
                    self.status(&format!(
                        "\n!!! WARNING: \"{peer}\" now presents a DIFFERENT identity than the one you trusted before.\n\
                         !!! Either it was reinstalled, or someone is pretending to be it (or sitting in the middle).\n\
                         !!! Only go on if the other screen shows exactly: {phrase}\n\
                         !!! (new fingerprint {fingerprint})\n"
                    ));
                } else if let (true, Some(pinned)) = (known, &pinned_as) {
                    self.status(&format!(
                        "Verification phrase: {phrase}  (known device \"{pinned}\", now calling itself \"{peer}\")"
                    ));
                } else if known {
                    self.status(&format!(
                        "Verification phrase: {phrase}  ({peer} is a known device)"
                    ));
                } else {
                    self.status(&format!(
                        "Verification phrase: {phrase}  (new device: check that {peer} shows the same words)"
                    ));
                }
            }
            TransferEvent::Resumed { file, offset, size } => {
                let percent = if size == 0 {
                    100.0
                } else {
                    offset as f64 * 100.0 / size as f64
                };
                let line = format!("Resumed {} at {percent:.0}%", terminal_safe(&file));
                match &self.bar {
                    Some(bar) => bar.println(line),
                    None => self.status(&line),
                }
            }
            TransferEvent::Queued { position } => {
                if self.queued_shown.replace(position) != Some(position) {
                    let place = match position {
                        0 | 1 => "you are next".to_string(),
                        n => format!("{} ahead of you", n - 1),
                    };
                    self.status(&format!("waiting: the receiver is busy ({place})"));
                }
            }
            TransferEvent::Reconnecting { reason } => {
                let line = format!(
                    "Connection lost ({}); reconnecting to resume…",
                    terminal_safe(&reason)
                );
                match &self.bar {
                    Some(bar) => bar.println(line),
                    None => self.status(&line),
                }
            }
            TransferEvent::Progress { done, total, .. } if self.prefix.is_some() => {
                // Several receivers: one bar each would overwrite each other; a line a quarter.
                let quarter = (done * 4).checked_div(total).unwrap_or(4) as u8;
                if quarter > self.quarters_shown {
                    self.quarters_shown = quarter;
                    self.status(&format!("{}%", quarter as u32 * 25));
                }
            }
            TransferEvent::Progress { done, total, .. } => {
                let bar = self.bar.get_or_insert_with(|| new_bar(total));
                bar.set_length(total);
                bar.set_position(done);
            }
            TransferEvent::FileVerified { path, .. } => {
                let line = format!("✓ {}", terminal_safe(&path));
                match &self.bar {
                    Some(bar) => bar.println(line),
                    None => self.status(&line),
                }
            }
            TransferEvent::Text { text } => {
                let mut out = std::io::stdout().lock();
                if self.text_to_stdout {
                    let _ = out.write_all(text.as_bytes());
                } else {
                    self.status("Text received:");
                    let _ = writeln!(out, "{}", terminal_safe(&text));
                }
                let _ = out.flush();
            }
            TransferEvent::Done { files: 0, .. } => {
                if let Some(bar) = self.bar.take() {
                    bar.finish_and_clear();
                }
                self.status("Done: the text went across");
            }
            TransferEvent::Done {
                files,
                bytes,
                seconds,
                saved_to,
            } => {
                if let Some(bar) = self.bar.take() {
                    bar.finish_and_clear();
                }
                let rate = if seconds > 0.0 {
                    bytes as f64 / seconds
                } else {
                    0.0
                };
                let place = saved_to
                    .map(|d| format!(" into {}", terminal_safe(&d)))
                    .unwrap_or_default();
                self.status(&format!(
                    "Done: {files} file(s), {} in {seconds:.1} s ({}/s){place}, all verified",
                    indicatif::HumanBytes(bytes),
                    indicatif::HumanBytes(rate as u64)
                ));
            }
            TransferEvent::Failed { .. }
            | TransferEvent::Declined { .. }
            | TransferEvent::Cancelled { .. } => {
                // The one-line reason is printed by main on exit.
                if let Some(bar) = self.bar.take() {
                    bar.abandon();
                }
            }
            TransferEvent::Code { .. }
            | TransferEvent::Lan { .. }
            | TransferEvent::Nearby { .. }
            | TransferEvent::Incoming { .. } => {}
        }
    }
}

fn status(line: &str) {
    eprintln!("{line}");
}

fn new_bar(total: u64) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(
            "{bar:32.cyan/blue} {bytes}/{total_bytes}  {binary_bytes_per_sec}  ETA {eta}",
        )
        .expect("static template is valid")
        .progress_chars("█▉▊▋▌▍▎▏ "),
    );
    bar
}
