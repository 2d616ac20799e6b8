//! History: every finished transfer, both ways, newest first — who, what, how big, how it
//! ended, when, and where it was saved ("Show in folder"), or the text with Copy. Kept by the
//! Rust side across restarts (the last 100); "Clear history" asks once more before it forgets.

use peerdrop_app_ipc::{Direction, HistoryEntry, HistoryOutcome};
use sycamore::prelude::*;
use wasm_bindgen_futures::spawn_local;

use crate::components::{humanize, Icon, OpenLinkButton};
use crate::state::AppState;
use crate::{api, format, icons};

/// "Sent to Ben's phone" / "From Ben's phone".
fn who(entry: &HistoryEntry) -> String {
    match entry.direction {
        Direction::Sent => format!("To {}", entry.peer),
        Direction::Received => format!("From {}", entry.peer),
    }
}

/// The outcome as a short label and its CSS class.
fn outcome(entry: &HistoryEntry) -> (&'static str, &'static str) {
    match entry.outcome {
        HistoryOutcome::Done => match entry.direction {
            Direction::Sent => ("Sent", "ok"),
            Direction::Received => ("Received", "ok"),
        },
        HistoryOutcome::Declined => ("Declined", "warn"),
        HistoryOutcome::Cancelled => ("Cancelled", "warn"),
        HistoryOutcome::Failed => ("Failed", "bad"),
    }
}

/// Size, average speed and duration: "3.15 MB · 41.2 MB/s average · 0.1 s".
fn facts(entry: &HistoryEntry) -> String {
    let mut parts = vec![format::bytes(entry.bytes)];
    if entry.files > 1 {
        parts.push(format::files(entry.files as u64));
    }
    if let Some(rate) = entry.average_bytes_per_sec() {
        parts.push(format!("{} average", format::speed(rate)));
        parts.push(format::duration(entry.seconds));
    }
    parts.join(" · ")
}

/// The local date and time of `ms` since the epoch.
fn when(ms: u64) -> String {
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms as f64));
    String::from(date.to_locale_string("default", &wasm_bindgen::JsValue::UNDEFINED))
}

fn copy_text(state: AppState, text: String) {
    if let Some(clipboard) = web_sys::window().map(|w| w.navigator().clipboard()) {
        let _ = clipboard.write_text(&text);
        state.notify("Text copied", false);
    }
}

/// One entry of the list.
#[component(inline_props)]
fn HistoryItem(entry: HistoryEntry) -> View {
    let state = use_context::<AppState>();
    let (label, class) = outcome(&entry);
    let id = entry.id;
    let icon = match entry.direction {
        Direction::Sent => icons::send(),
        Direction::Received => icons::receive(),
    };
    let show = move |_| {
        spawn_local(async move {
            if let Err(e) = api::open_history_item(id).await {
                state.notify(e, true);
            }
        })
    };
    let can_show = entry.direction == Direction::Received
        && entry.outcome == HistoryOutcome::Done
        && entry.saved_to.is_some();
    // Everything computed up front: the view below only places plain values.
    let what = entry.what.clone();
    let who = who(&entry);
    let when = when(entry.finished_at_ms);
    let facts = facts(&entry);
    let outcome_slug = label.to_lowercase();
    let verified = if entry.peer_verified {
        view! { span(class="verified", title="This device's identity was verified before") { Icon(svg=icons::shield()) "verified" } }
    } else {
        view! {}
    };
    let reason = match entry
        .reason
        .as_deref()
        .filter(|_| entry.outcome != HistoryOutcome::Done)
    {
        Some(reason) => {
            let reason = humanize(reason);
            view! { div(class="history-line small history-reason") { (reason) } }
        }
        None => view! {},
    };
    let place = match entry.saved_to.clone().filter(|_| can_show) {
        Some(folder) => {
            view! { div(class="history-line muted small mono history-where") { (folder) } }
        }
        None => view! {},
    };
    let shown_text = match entry.text.clone() {
        Some(text) => view! { pre(class="history-text", data-testid="history-text") { (text) } },
        None => view! {},
    };
    let show_button = if can_show {
        view! {
            button(class="btn btn-secondary btn-small", data-testid="history-show",
                   title="Show in the file manager", on:click=show) {
                Icon(svg=icons::folder()) "Show in folder"
            }
        }
    } else {
        view! {}
    };
    let copy_button = match entry.text.clone() {
        Some(text) => view! {
            button(class="btn btn-secondary btn-small", data-testid="history-copy",
                   on:click=move |_| copy_text(state, text.clone())) {
                Icon(svg=icons::copy()) "Copy"
            }
        },
        None => view! {},
    };
    // A received text that is exactly one web link can be opened (the app checks again).
    let link = entry
        .text
        .as_deref()
        .and_then(peerdrop_proto::web_link::web_link)
        .map(str::to_string);
    let open_button = match link {
        Some(link) => view! {
            OpenLinkButton(link=link, class="btn btn-secondary btn-small", testid="history-open-link")
        },
        None => view! {},
    };
    let badge_class = format!("badge badge-{class}");
    let data_id = id.to_string();
    view! {
        li(class="history-entry", data-testid="history-entry", data-id=data_id,
           data-outcome=outcome_slug) {
            span(class="history-icon") { Icon(svg=icon) }
            div(class="history-body") {
                div(class="history-line") {
                    strong(class="history-what") { (what) }
                    span(class=badge_class, data-testid="history-outcome") { (label) }
                }
                div(class="history-line muted small") {
                    span(class="history-who") { (who) }
                    (verified)
                    span { "·" }
                    span(class="history-when") { (when) }
                }
                div(class="history-line muted small history-facts") { (facts) }
                (reason)
                (place)
                (shown_text)
            }
            div(class="history-actions") {
                (show_button)
                (open_button)
                (copy_button)
            }
        }
    }
}

/// The History page.
#[component]
pub fn HistoryPage() -> View {
    let state = use_context::<AppState>();
    // "Clear history" first asks: forgetting is not undone.
    let confirming = create_signal(false);
    let clear = move |_| {
        spawn_local(async move {
            match api::clear_history().await {
                Ok(()) => {
                    state.history.set(Vec::new());
                    state.notify("History cleared", false);
                }
                Err(e) => state.notify(e, true),
            }
            confirming.set(false);
        })
    };
    let count = move || state.history.with(Vec::len);

    view! {
        div(class="page", id="page-history") {
            header(class="page-head") {
                h1 { "History" }
                p(class="muted") { "The last 100 transfers, both ways. Kept on this device until you clear it." }
            }
            (if count() == 0 {
                view! {
                    section(class="card empty", id="history-empty", data-testid="history-empty") {
                        p(class="muted") { "Nothing sent or received yet." }
                    }
                }
            } else {
                view! {
                    section(class="card") {
                        div(class="step-head") {
                            h2 { (format!("{} transfer{}", count(), if count() == 1 { "" } else { "s" })) }
                            div(class="history-clear") {
                                (if confirming.get() {
                                    view! {
                                        span(class="muted small") { "Forget them all?" }
                                        button(class="btn btn-danger btn-small", id="history-clear-confirm",
                                               data-testid="history-clear-confirm", on:click=clear) { "Clear" }
                                        button(class="btn btn-secondary btn-small", id="history-clear-keep",
                                               on:click=move |_| confirming.set(false)) { "Keep" }
                                    }
                                } else {
                                    view! {
                                        button(class="btn btn-secondary btn-small", id="history-clear",
                                               data-testid="history-clear", on:click=move |_| confirming.set(true)) {
                                            "Clear history"
                                        }
                                    }
                                })
                            }
                        }
                        ul(class="history-list", id="history-list", data-testid="history-list") {
                            Keyed(
                                list=move || state.history.get_clone(),
                                view=|entry| view! { HistoryItem(entry=entry) },
                                key=|entry| entry.id,
                            )
                        }
                    }
                }
            })
        }
    }
}
