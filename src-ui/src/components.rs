//! Building blocks shared by the pages: icons, progress bars, the transfer card, device badges.

use peerdrop_app_ipc::FolderToOpen;
use peerdrop_proto::events::PathKind;
use peerdrop_proto::signal::DeviceKind;
use sycamore::prelude::*;
use wasm_bindgen_futures::spawn_local;

use crate::model::{waiting_line_text, Phase, Transfer};
use crate::state::AppState;
use crate::{api, format, icons};

/// An inline SVG icon (the markup comes from [`icons`], never from user input).
#[component(inline_props)]
pub fn Icon(svg: String, #[prop(default)] class: &'static str) -> View {
    view! { span(class=format!("icon-wrap {class}"), dangerously_set_inner_html=svg) }
}

/// Icon for a device kind.
pub fn device_icon(kind: DeviceKind) -> String {
    match kind {
        DeviceKind::Desktop => icons::laptop(),
        DeviceKind::Phone => icons::phone(),
        DeviceKind::Cli => icons::terminal(),
    }
}

/// Human label for a device kind.
pub fn device_label(kind: DeviceKind) -> &'static str {
    match kind {
        DeviceKind::Desktop => "Computer",
        DeviceKind::Phone => "Phone",
        DeviceKind::Cli => "Terminal",
    }
}

/// A horizontal progress bar, `percent` in 0–100.
#[component(inline_props)]
/// `label` is its accessible name ("Total progress", a file's name): a screen reader says
/// what is progressing, not only how far.
pub fn ProgressBar(
    percent: ReadSignal<f64>,
    label: String,
    #[prop(default)] testid: &'static str,
) -> View {
    view! {
        div(class="bar", role="progressbar", aria-valuemin="0", aria-valuemax="100", aria-label=label,
            aria-valuenow=format!("{:.0}", percent.get()), data-testid=testid) {
            div(class="bar-fill", style=format!("width: {:.2}%", percent.get()))
        }
    }
}

fn path_label(path: PathKind) -> &'static str {
    match path {
        PathKind::Direct => "Direct",
        PathKind::Relayed => "Relayed (TURN)",
        PathKind::Fallback => "Relayed (encrypted fallback)",
    }
}

/// Headline for a transfer in `phase`; `sending` selects the sender's wording.
fn headline(t: &Transfer, sending: bool) -> String {
    let peer = if t.peer.is_empty() {
        "the other device".to_string()
    } else {
        t.peer.clone()
    };
    match (&t.phase, sending) {
        (Phase::Idle, _) => String::new(),
        (Phase::Offered, _) if t.text.is_some() => format!("{peer} wants to send you a text"),
        (Phase::Offered, _) => format!("{peer} wants to send you files"),
        (Phase::Connecting, _) => format!("Connecting to {peer}…"),
        (Phase::AwaitingAnswer, _) => format!("Waiting for {peer} to accept…"),
        (Phase::Running, true) => format!("Sending to {peer}"),
        (Phase::Running, false) => format!("Receiving from {peer}"),
        (Phase::Done { .. }, true) => format!("Sent to {peer}"),
        (Phase::Done { .. }, false) => format!("Received from {peer}"),
        (Phase::Declined(_), true) => format!("{peer} declined"),
        (Phase::Declined(_), false) => "You declined".to_string(),
        (Phase::Failed(_), _) => "Transfer failed".to_string(),
        (Phase::Cancelled(_), _) => "Transfer cancelled".to_string(),
    }
}

/// Turns an engine reason into a sentence: drops the technical "declined by receiver:" style
/// prefix the headline already says, and starts with a capital letter.
pub fn humanize(reason: &str) -> String {
    let trimmed = ["declined by receiver: ", "declined by sender: "]
        .iter()
        .find_map(|p| reason.strip_prefix(p))
        .unwrap_or(reason)
        .trim();
    let mut chars = trimmed.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Detail line under the headline for finished transfers.
fn outcome_detail(t: &Transfer) -> Option<String> {
    match &t.phase {
        Phase::Done { .. } if t.text.is_some() => Some("A text".to_string()),
        Phase::Done { seconds, .. } => Some(format!(
            "{} · {} in {} ({} average), every file verified",
            format::files(t.files.len().max(1) as u64),
            format::bytes(t.total),
            format::duration(*seconds),
            format::speed(average_speed(t.total, *seconds)),
        )),
        Phase::Declined(reason) | Phase::Failed(reason) | Phase::Cancelled(reason) => {
            Some(humanize(reason))
        }
        _ => None,
    }
}

/// Bytes per second over a whole transfer (what a summary shows, rather than the last
/// sample); 0 when it took no measurable time.
fn average_speed(bytes: u64, seconds: f64) -> f64 {
    if seconds > 0.0 {
        bytes as f64 / seconds
    } else {
        0.0
    }
}

/// "Open link" for a received web link: the app opens it in the browser (after checking it is
/// one); a refusal shows as an error toast.
#[component(inline_props)]
pub fn OpenLinkButton(link: String, class: &'static str, testid: &'static str) -> View {
    let state = use_context::<AppState>();
    let open = move |_| {
        let link = link.clone();
        spawn_local(async move {
            if let Err(e) = api::open_link(&link).await {
                state.notify(e, true);
            }
        });
    };
    view! {
        button(class=class, data-testid=testid, on:click=open) {
            Icon(svg=icons::send()) "Open link"
        }
    }
}

/// The progress card of a send or a receive: headline, total bar with speed and ETA, one row
/// per file, and the actions that fit the phase (Cancel, Open folder, Done, and "Try again"
/// when the page gives a `retry`: the card does not know how a page starts a transfer).
#[component(inline_props)]
pub fn TransferCard(
    transfer: Signal<Transfer>,
    sending: bool,
    retry: Option<fn(AppState)>,
) -> View {
    let state = use_context::<AppState>();
    let role = if sending { "send" } else { "receive" };
    let percent = create_memo(move || transfer.with(|t| format::percent(t.done, t.total)));
    let phase_class = move || {
        transfer.with(|t| match t.phase {
            Phase::Done { .. } => "transfer done",
            Phase::Declined(_) | Phase::Failed(_) | Phase::Cancelled(_) => "transfer problem",
            _ => "transfer active",
        })
    };
    let cancel = move |_| {
        spawn_local(async move {
            let result = if sending {
                api::cancel_send().await
            } else {
                api::cancel_receive().await
            };
            if let Err(e) = result {
                state.notify(e, true);
            }
        });
    };
    let open = move |_| {
        let folder = transfer.with(|t| match &t.phase {
            Phase::Done {
                saved_to: Some(_), ..
            } => FolderToOpen::LastReceived,
            _ => FolderToOpen::Downloads,
        });
        spawn_local(async move {
            if let Err(e) = api::open_folder(folder).await {
                state.notify(e, true);
            }
        });
    };
    let dismiss = move |_| transfer.set(Transfer::default());
    let files = create_memo(move || transfer.with(|t| t.files.clone()));

    view! {
        section(class=format!("card {}", phase_class()), id=format!("{role}-transfer"),
                data-testid=format!("{role}-progress"), data-phase=transfer.with(|t| phase_slug(&t.phase))) {
            div(class="transfer-head") {
                div(class="transfer-title") {
                    h2(data-testid=format!("{role}-headline")) { (transfer.with(|t| headline(t, sending))) }
                    (transfer.with(outcome_detail).map(|d| view! {
                        p(class="muted outcome", data-testid=format!("{role}-outcome")) { (d) }
                    }))
                    (transfer.with(|t| t.reconnecting.clone()).map(|r| view! {
                        p(class="reconnecting small") { "Connection lost (" (r) "). Reconnecting to resume…" }
                    }))
                    (transfer.with(|t| if t.phase.is_finished() { None } else { t.queued.map(|p| (t.peer.clone(), p)) }).map(|(peer, position)| view! {
                        p(class="reconnecting small", data-testid=format!("{role}-queued")) { (waiting_line_text(&peer, position)) }
                    }))
                    (transfer.with(|t| if t.phase.is_finished() { None } else { t.identity_warning.clone() }).map(|w| {
                        let answer = move |send_anyway: bool| {
                            transfer.update(|t| t.identity_warning = None);
                            spawn_local(async move {
                                if let Err(e) = api::answer_changed_identity(send_anyway).await {
                                    state.notify(e, true);
                                }
                            });
                        };
                        view! {
                            div(class="identity-warning danger", data-testid="identity-changed", role="alertdialog") {
                                p(class="small") {
                                    Icon(svg=icons::alert())
                                    strong { "Not the device you trusted. " }
                                    (format!("\"{}\" presents a different identity than \"{}\" had when you trusted it: it was reinstalled, or someone is pretending to be it. Nothing has been sent.", w.peer, w.pinned_as))
                                }
                                p(class="muted small mono") { (format!("trusted {} · now {}", w.previous, w.fingerprint)) }
                                div(class="actions") {
                                    button(class="btn btn-secondary", data-testid="identity-cancel", on:click=move |_| answer(false)) { "Cancel" }
                                    button(class="btn btn-primary", data-testid="identity-send-anyway", on:click=move |_| answer(true)) { "Send anyway" }
                                }
                            }
                        }
                    }))
                    (transfer.with(|t| if t.phase.is_finished() { None } else { t.verify.clone() }).map(|v| {
                        let phrase = v.phrase.clone();
                        let known_label = match (&v.pinned_as, v.known) {
                            (Some(pinned), true) => format!("Known device (trusted as \"{pinned}\") ·"),
                            _ => "Known device ·".to_string(),
                        };
                        view! {
                            p(class=if v.changed { "phrase-line danger small" } else { "phrase-line small" }, data-testid=format!("{role}-phrase")) {
                                Icon(svg=if v.changed { icons::alert() } else { icons::shield() })
                                span(class="muted") { (if v.changed { "Identity changed! Phrase:".to_string() } else if v.known { known_label.clone() } else { "Verification phrase:".to_string() }) }
                                span(class="phrase-inline") { (phrase) }
                            }
                        }
                    }))
                }
                (transfer.with(|t| t.path).map(|p| view! {
                    span(class=if p == PathKind::Direct { "badge badge-ok" } else { "badge badge-warn" },
                         data-testid="path-badge") { (path_label(p)) }
                }))
            }
            (match transfer.with(|t| t.text.clone().filter(|_| !sending && matches!(t.phase, Phase::Done { .. }))) {
                // Text nodes are escaped: a received text is shown, never run.
                Some(text) => {
                    let copied = text.clone();
                    let copy = move |_| {
                        if let Some(clipboard) = web_sys::window().map(|w| w.navigator().clipboard()) {
                            let _ = clipboard.write_text(&copied);
                            state.notify("Text copied", false);
                        }
                    };
                    // A text that is exactly one web link can be opened (the app checks again).
                    let link = peerdrop_proto::web_link::web_link(&text).map(str::to_string);
                    view! {
                        pre(class="offered-text", id="received-text", data-testid="received-text") { (text) }
                        div(class="actions") {
                            (match link.clone() {
                                Some(link) => view! { OpenLinkButton(link=link, class="btn btn-secondary", testid="open-link") },
                                None => view! {},
                            })
                            button(class="btn btn-primary", id="copy-text", data-testid="copy-text", on:click=copy) {
                                Icon(svg=icons::copy()) "Copy"
                            }
                        }
                    }
                }
                None => view! {},
            })
            (if transfer.with(|t| t.text.is_none() && matches!(t.phase, Phase::Running | Phase::Done { .. })) {
                view! {
                    ProgressBar(percent=percent, label=if sending { "Sending, total".to_string() } else { "Receiving, total".to_string() }, testid="total-bar")
                    div(class="stats") {
                        span(class="stat") { strong { (format::bytes(transfer.with(|t| t.done))) } " of " (format::bytes(transfer.with(|t| t.total))) }
                        span(class="stat", data-testid="speed") {
                            (transfer.with(|t| match t.phase {
                                Phase::Done { seconds, .. } => format!("{} average", format::speed(average_speed(t.total, seconds))),
                                _ if t.bytes_per_sec > 0.0 => format::speed(t.bytes_per_sec),
                                _ => "measuring speed…".to_string(),
                            }))
                        }
                        span(class="stat", data-testid="eta") {
                            (transfer.with(|t| match (&t.phase, t.eta_secs) {
                                (Phase::Done { .. }, _) => "complete".to_string(),
                                (_, Some(eta)) => format!("{} left", format::eta(Some(eta))),
                                (_, None) => String::new(),
                            }))
                        }
                        (if sending { view! {} } else {
                            view! {
                                span(class="stat", data-testid="verified") {
                                    (transfer.with(|t| format!("{} of {} verified", t.verified_count(), format::files(t.files.len() as u64))))
                                }
                            }
                        })
                        span(class="stat pct") { (format!("{:.0}%", percent.get())) }
                    }
                }
            } else if transfer.with(|t| matches!(t.phase, Phase::Connecting | Phase::AwaitingAnswer)) {
                view! { div(class="bar indeterminate") { div(class="bar-fill") } }
            } else {
                view! {}
            })
            (if files.with(|f| !f.is_empty()) {
                view! {
                    ul(class="file-list", data-testid=format!("{role}-files")) {
                        Indexed(list=files, view=move |f| {
                            let pct = create_signal(format::percent(f.done, f.size.max(f.done)));
                            let title = f.path.clone();
                            let name = f.path.clone();
                            let bar_label = f.path.clone();
                            let size = format::bytes(f.size.max(f.done));
                            let verified = f.verified;
                            view! {
                                li(class=if verified { "file-row verified" } else { "file-row" }) {
                                    Icon(svg=if verified { icons::check() } else { icons::file() }, class="file-icon")
                                    div(class="file-main") {
                                        div(class="file-line") {
                                            span(class="file-name", title=title) { (name) }
                                            span(class="file-size muted") { (size) }
                                        }
                                        (if !verified { view! { ProgressBar(percent=*pct, label=bar_label.clone()) } } else { view! {} })
                                    }
                                }
                            }
                        })
                    }
                }
            } else {
                view! {}
            })
            div(class="actions") {
                (if transfer.with(|t| t.phase.is_active() && t.phase != Phase::Offered) {
                    view! { button(class="btn btn-ghost", id=format!("cancel-{role}"), on:click=cancel) { "Cancel" } }
                } else { view! {} })
                (if !sending && transfer.with(|t| t.text.is_none() && matches!(t.phase, Phase::Done { .. })) {
                    view! {
                        button(class="btn btn-primary", id="open-folder", on:click=open) {
                            Icon(svg=icons::folder()) "Open folder"
                        }
                    }
                } else { view! {} })
                (match retry {
                    Some(retry) if transfer.with(|t| matches!(t.phase, Phase::Failed(_) | Phase::Cancelled(_))) => view! {
                        button(class="btn btn-primary", id=format!("retry-{role}"), on:click=move |_| retry(state)) {
                            Icon(svg=icons::send()) "Try again"
                        }
                    },
                    _ => view! {},
                })
                (if transfer.with(|t| t.phase.is_finished()) {
                    view! { button(class="btn btn-ghost", id=format!("dismiss-{role}"), on:click=dismiss) { "Dismiss" } }
                } else { view! {} })
            }
        }
    }
}

/// Stable name of a phase for `data-phase` (tests wait on it).
pub fn phase_slug(phase: &Phase) -> &'static str {
    match phase {
        Phase::Idle => "idle",
        Phase::Offered => "offered",
        Phase::Connecting => "connecting",
        Phase::AwaitingAnswer => "awaiting",
        Phase::Running => "running",
        Phase::Done { .. } => "done",
        Phase::Declined(_) => "declined",
        Phase::Failed(_) => "failed",
        Phase::Cancelled(_) => "cancelled",
    }
}

#[cfg(test)]
mod tests {
    use super::humanize;

    #[test]
    fn reasons_read_as_sentences() {
        assert_eq!(
            humanize("declined by receiver: the receiver declined"),
            "The receiver declined"
        );
        assert_eq!(humanize("peer disconnected"), "Peer disconnected");
        assert_eq!(humanize(""), "");
    }
}
