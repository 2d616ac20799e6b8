//! The app shell: navigation (a sidebar on wide windows, a bottom tab bar on phones), the
//! connection status, the page in view, the incoming-transfer dialog, drop handling and toasts.

use peerdrop_app_ipc::{Dropped, LaunchRequest, NodeState, Page, DROP_EVENT};
use sycamore::prelude::*;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::spawn_local;

use crate::components::Icon;
use crate::pages::history::HistoryPage;
use crate::pages::receive::{IncomingDialog, ReceivePage};
use crate::pages::send::{add_to_selection, SendPage};
use crate::pages::settings::SettingsPage;
use crate::state::{AppState, Tab};
use crate::{api, icons, tauri};

/// Window event announcing files or a link from outside the window (`src-tauri/src/launch.rs`).
const LAUNCH_EVENT: &str = "peerdrop-launch";
/// A setting changed outside the page (the tray menu): reload them (`SETTINGS_EVENT` in
/// `src-tauri/src/background.rs`).
const SETTINGS_EVENT: &str = "peerdrop-settings";

/// Shows what the app was asked to do from outside: the page, the files selected on Send (they
/// replace the selection, unless a send is running), a shared text in Send's text field (kept
/// out while a send runs), the receiver's code and the server to find
/// it on (a link with a code but no server means the app's own server, so it clears one an
/// earlier link left). Nothing is sent until the person picks a device or presses Send.
fn apply_launch(state: AppState, request: LaunchRequest) {
    if let Some(page) = request.page {
        state.tab.set(match page {
            Page::Send => Tab::Send,
            Page::Receive => Tab::Receive,
            Page::Settings => Tab::Settings,
        });
    }
    if !request.items.is_empty() {
        if state.send.with(|t| t.phase.is_active()) {
            add_to_selection(state, request.items);
        } else {
            state.selection.set(request.items);
        }
    }
    if let Some(text) = request.text {
        if !state.send.with(|t| t.phase.is_active()) {
            state.send_text.set(text);
        }
    }
    match (request.code, request.server) {
        (Some(code), server) => {
            state.send_code.set(code);
            state.send_server.set(server);
        }
        (None, Some(server)) => state.send_server.set(Some(server)),
        (None, None) => {}
    }
    if !request.problems.is_empty() {
        state.notify(request.problems.join(" · "), true);
    }
}

/// Takes the queued launch requests and shows them.
fn take_launches(state: AppState) {
    spawn_local(async move {
        match api::take_launch_requests().await {
            Ok(requests) => requests
                .into_iter()
                .for_each(|request| apply_launch(state, request)),
            Err(e) => state.notify(e, true),
        }
    });
}

/// Loads settings, registers the node and wires window events; runs once at start.
fn boot(state: AppState, dragging: Signal<bool>) {
    spawn_local(async move {
        match api::get_settings().await {
            Ok(view) => state.settings.set(Some(view)),
            Err(e) => state.notify(e, true),
        }
        match api::history().await {
            Ok(entries) => state.history.set(entries),
            Err(e) => state.notify(format!("Could not load the history: {e}"), true),
        }
        if let Err(e) = api::start_node(move |update| state.apply_node_update(update)).await {
            state.notify(format!("Could not start: {e}"), true);
        }
    });
    spawn_local(async move {
        // Listen first, then take: a request queued before the page loaded is taken now, any
        // later one announces itself.
        let launch_hook = tauri::listen_forever(LAUNCH_EVENT, move |_: serde_json::Value| {
            take_launches(state)
        })
        .await;
        if let Err(e) = launch_hook {
            web_sys::console::warn_1(&format!("launch requests unavailable: {e}").into());
        }
        take_launches(state);
        let hooks = [
            tauri::listen_forever(SETTINGS_EVENT, move |_: serde_json::Value| {
                spawn_local(async move {
                    if let Ok(view) = api::get_settings().await {
                        state.settings.set(Some(view));
                    }
                })
            })
            .await,
            tauri::listen_forever("tauri://drag-enter", move |_: serde_json::Value| {
                dragging.set(true)
            })
            .await,
            tauri::listen_forever("tauri://drag-leave", move |_: serde_json::Value| {
                dragging.set(false)
            })
            .await,
            // Tauri's own `tauri://drag-drop` (with raw paths) only ends the overlay: what was
            // dropped arrives from the Rust side, registered, as `peerdrop-drop`.
            tauri::listen_forever("tauri://drag-drop", move |_: serde_json::Value| {
                dragging.set(false)
            })
            .await,
            tauri::listen_forever(DROP_EVENT, move |dropped: Dropped| {
                dragging.set(false);
                state.tab.set(Tab::Send);
                add_to_selection(state, dropped.items);
                if !dropped.problems.is_empty() {
                    state.notify(dropped.problems.join(" · "), true);
                }
            })
            .await,
        ];
        if let Some(Err(e)) = hooks.into_iter().find(Result::is_err) {
            web_sys::console::warn_1(&format!("drag and drop unavailable: {e}").into());
        }
    });
}

/// Clears an information toast a few seconds after it was shown.
fn schedule_toast_clear(state: AppState, serial: u32) {
    let clear = Closure::once_into_js(move || {
        if state
            .toast
            .with_untracked(|t| t.as_ref().is_some_and(|t| t.serial == serial))
        {
            state.toast.set(None);
        }
    });
    if let Some(window) = web_sys::window() {
        let _ = window
            .set_timeout_with_callback_and_timeout_and_arguments_0(clear.unchecked_ref(), 4000);
    }
}

/// One navigation entry.
#[component(inline_props)]
fn NavItem(tab: Tab, svg: String) -> View {
    let state = use_context::<AppState>();
    view! {
        button(class=if state.tab.get() == tab { "nav-item active" } else { "nav-item" },
               id=format!("nav-{}", tab.slug()), data-testid=format!("nav-{}", tab.slug()),
               aria-current=if state.tab.get() == tab { "page" } else { "false" },
               on:click=move |_| state.tab.set(tab)) {
            Icon(svg=svg)
            span(class="nav-label") { (tab.label()) }
            (if tab == Tab::Receive && state.offer_pending() { view! { span(class="nav-dot") } } else { view! {} })
        }
    }
}

/// Connection status pill: the state and, always, the server in use; below it, why (e.g. the
/// built-in server stands in because the configured one is unreachable).
#[component]
fn StatusPill() -> View {
    let state = use_context::<AppState>();
    let class = move || {
        state.status.with(|s| match s.as_ref().map(|s| s.state) {
            Some(NodeState::Online) => "status online",
            Some(NodeState::Offline) => "status offline",
            _ => "status connecting",
        })
    };
    let text = move || {
        state.status.with(|s| match s.as_ref() {
            Some(s) => s.headline(),
            None => "Connecting…".to_string(),
        })
    };
    let note = move || {
        state
            .status
            .with(|s| s.as_ref().and_then(|s| s.message.clone()))
    };
    let title = move || {
        state
            .status
            .with(|s| s.as_ref().map(|s| s.server.clone()).unwrap_or_default())
    };
    view! {
        div(class=class(), id="status", data-testid="status", title=title()) {
            span(class="status-dot")
            span(class="status-body") {
                span(class="status-text", id="status-text") { (text()) }
                (match note() {
                    Some(note) => view! { span(class="status-note", id="status-note") { (note) } },
                    None => view! {},
                })
            }
        }
    }
}

/// The whole app.
#[component]
pub fn App() -> View {
    let state = AppState::new();
    provide_context(state);
    let dragging = create_signal(false);
    boot(state, dragging);
    // Information fades after a few seconds; an error stays until it is dismissed, so a
    // person who looked away still learns what went wrong.
    create_effect(move || {
        if let Some(serial) = state
            .toast
            .with(|t| t.as_ref().filter(|t| !t.error).map(|t| t.serial))
        {
            schedule_toast_clear(state, serial);
        }
    });

    let logo = icons::logo();

    view! {
        div(class="shell") {
            nav(class="sidebar", aria-label="Main") {
                div(class="brand") {
                    span(class="brand-mark", dangerously_set_inner_html=logo)
                    span(class="brand-name") { "PeerDrop" }
                }
                div(class="nav-items") {
                    NavItem(tab=Tab::Receive, svg=icons::receive())
                    NavItem(tab=Tab::Send, svg=icons::send())
                    NavItem(tab=Tab::History, svg=icons::history())
                    NavItem(tab=Tab::Settings, svg=icons::settings())
                }
                StatusPill()
            }
            main(class="content") {
                (match state.tab.get() {
                    Tab::Receive => view! { ReceivePage() },
                    Tab::Send => view! { SendPage() },
                    Tab::History => view! { HistoryPage() },
                    Tab::Settings => view! { SettingsPage() },
                })
            }
            IncomingDialog()
            (if dragging.get() {
                view! {
                    div(class="drop-overlay", id="drop-overlay") {
                        div(class="drop-overlay-inner") {
                            Icon(svg=icons::upload(), class="drop-icon")
                            p { "Drop to add to your selection" }
                        }
                    }
                }
            } else { view! {} })
            (match state.toast.get_clone() {
                Some(t) => view! {
                    div(class=if t.error { "toast error" } else { "toast" }, role=if t.error { "alert" } else { "status" },
                        id="toast", data-testid="toast") {
                        Icon(svg=if t.error { icons::alert() } else { icons::check() })
                        span { (t.text.clone()) }
                        (if t.error {
                            view! {
                                button(class="icon-btn toast-close", id="toast-close", title="Dismiss", aria-label="Dismiss",
                                       on:click=move |_| state.toast.set(None)) {
                                    Icon(svg=icons::close())
                                }
                            }
                        } else { view! {} })
                    }
                },
                None => view! {},
            })
        }
    }
}
