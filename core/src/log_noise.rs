//! Dependency log lines that are expected and harmless, kept off the terminal.
//!
//! The WebRTC stack logs two things at ERROR that a person can do nothing about and that do
//! not mean anything went wrong:
//! - `TURN permission request failed: … 403 …` — coturn refuses permissions towards private
//!   and loopback peer addresses by design (`denied-peer-ip`, docs/network.md); the other
//!   candidate pairs carry the transfer.
//! - `TURN transaction timed out` — the TURN server cannot be reached over UDP (a network
//!   that blocks UDP); PeerDrop then says it uses the encrypted relay over the signaling
//!   connection, which is what the person needs to know.
//! - `handle_read error: abort chunk, …` — the peer closed its SCTP association after the
//!   transfer ended; the transfer's own outcome (which PeerDrop reports) already says how it went.
//!
//! [`ExpectedNoise`] drops exactly those events, matched by target and message, and nothing
//! else from the same modules. The CLI and the app install it in front of their output;
//! `PEERDROP_LOG_NOISE=1` (read at their edge) shows them again for debugging.

use std::fmt;

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

/// One expected line: the module that logs it and words its message contains.
struct Known {
    target_prefix: &'static str,
    message_contains: &'static [&'static str],
}

const KNOWN: &[Known] = &[
    Known {
        target_prefix: "webrtc::peer_connection::transport::turn_relayer",
        message_contains: &["TURN permission request failed", "403"],
    },
    Known {
        target_prefix: "webrtc::peer_connection::transport::turn_relayer",
        message_contains: &["TURN transaction timed out"],
    },
    Known {
        target_prefix: "webrtc::peer_connection::driver",
        message_contains: &["handle_read error", "abort chunk"],
    },
];

/// A layer that disables the expected, harmless dependency events listed in this module for
/// every layer beneath it (see the module docs for which and why).
#[derive(Clone, Copy, Debug, Default)]
pub struct ExpectedNoise;

impl<S: Subscriber> Layer<S> for ExpectedNoise {
    fn event_enabled(&self, event: &Event<'_>, _ctx: Context<'_, S>) -> bool {
        let target = event.metadata().target();
        // The WebRTC stack logs through the `log` crate: bridged events arrive with the
        // target "log" and the real one in their `log.target` field.
        if target != "log" && !KNOWN.iter().any(|k| target.starts_with(k.target_prefix)) {
            return true;
        }
        let fields = Fields::of(event);
        let target = fields.log_target.as_deref().unwrap_or(target);
        !is_expected_noise(target, &fields.message)
    }
}

/// Whether an event from `target` with `message` is one of the known harmless lines.
fn is_expected_noise(target: &str, message: &str) -> bool {
    KNOWN.iter().any(|k| {
        target.starts_with(k.target_prefix)
            && k.message_contains.iter().all(|w| message.contains(w))
    })
}

/// The two fields of an event the filter looks at.
#[derive(Default)]
struct Fields {
    message: String,
    log_target: Option<String>,
}

impl Fields {
    fn of(event: &Event<'_>) -> Fields {
        let mut fields = Fields::default();
        event.record(&mut fields);
        fields
    }
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        match field.name() {
            "message" => self.message = format!("{value:?}"),
            "log.target" => self.log_target = Some(format!("{value:?}")),
            _ => {}
        }
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "message" => self.message = value.to_string(),
            "log.target" => self.log_target = Some(value.to_string()),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use tracing_subscriber::layer::SubscriberExt;

    /// Collects the messages that reach it.
    #[derive(Clone, Default)]
    struct Seen(Arc<Mutex<Vec<String>>>);
    impl<S: Subscriber> Layer<S> for Seen {
        fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
            self.0.lock().unwrap().push(Fields::of(event).message);
        }
    }

    #[test]
    fn the_known_harmless_lines_are_dropped_and_everything_else_passes() {
        let seen = Seen::default();
        let subscriber = tracing_subscriber::registry()
            .with(ExpectedNoise)
            .with(seen.clone());
        tracing::subscriber::with_default(subscriber, || {
            tracing::error!(
                target: "webrtc::peer_connection::transport::turn_relayer",
                "TURN permission request failed: {}",
                "Error: 403 Forbidden IP"
            );
            tracing::error!(
                target: "webrtc::peer_connection::driver",
                "handle_read error: {}",
                "abort chunk, with following errors: User Initiated Abort"
            );
            // Through the `log` bridge, as the WebRTC stack logs: target "log", the real
            // target in a field.
            let bridged = |message: std::fmt::Arguments<'_>| {
                let record = log::Record::builder()
                    .level(log::Level::Error)
                    .target("webrtc::peer_connection::transport::turn_relayer")
                    .args(message)
                    .build();
                tracing_log::format_trace(&record).unwrap();
            };
            bridged(format_args!(
                "TURN permission request failed: CreatePermission error response (error 403: Forbidden IP)"
            ));
            bridged(format_args!(
                "TURN permission request failed: CreatePermission error response (error 401)"
            ));
            bridged(format_args!(
                "TURN transaction timed out: TransactionId([251, 199, 130])"
            ));
            // Same modules, other messages: real problems, kept.
            tracing::error!(
                target: "webrtc::peer_connection::transport::turn_relayer",
                "TURN permission request failed: {}",
                "Error: 401 Unauthorized"
            );
            tracing::error!(
                target: "webrtc::peer_connection::driver",
                "handle_read error: {}",
                "DTLS alert"
            );
            // The same words from another module: kept.
            tracing::error!(target: "peerdrop_core::engine", "abort chunk 403 handle_read error");
        });
        let seen = seen.0.lock().unwrap();
        assert_eq!(
            *seen,
            vec![
                "TURN permission request failed: CreatePermission error response (error 401)",
                "TURN permission request failed: Error: 401 Unauthorized",
                "handle_read error: DTLS alert",
                "abort chunk 403 handle_read error",
            ]
        );
    }
}
