//! Receive: this device's code in large type with its QR code (a `peerdrop://send` link that
//! also names the configured server this device is on), the name others see, a waiting
//! state, and the progress of the current receive. The Accept/Decline prompt is the
//! [`IncomingDialog`], shown over any page.

use peerdrop_app_ipc::server_label;
use sycamore::prelude::*;
use wasm_bindgen_futures::spawn_local;

use crate::components::{device_icon, Icon, TransferCard};
use crate::model::Phase;
use crate::state::AppState;
use crate::{api, format, icons, qr};

/// The Receive page.
#[component]
pub fn ReceivePage() -> View {
    let state = use_context::<AppState>();
    let copy = move |_| {
        if let Some(code) = state.code.get_clone() {
            if let Some(clipboard) = web_sys::window().map(|w| w.navigator().clipboard()) {
                let _ = clipboard.write_text(&code);
                state.notify(format!("Code {code} copied"), false);
            }
        }
    };
    let show_transfer = move || {
        state
            .receive
            .with(|t| !matches!(t.phase, Phase::Idle | Phase::Offered))
    };
    // The configured server this device is registered on, which a link to it names (none for
    // the built-in or automatic local server: other devices could not reach it).
    let link_server = create_memo(move || {
        state
            .status
            .with(|s| s.as_ref().and_then(|s| s.link_server()).map(str::to_owned))
    });
    // What the QR code encodes: `peerdrop://send?to=CODE[&server=URL]`.
    let link = create_memo(move || {
        let code = state.code.get_clone()?;
        qr::payload(&code, link_server.get_clone().as_deref())
    });

    view! {
        div(class="page", id="page-receive") {
            header(class="page-head") {
                h1 { "Receive" }
                p(class="muted") { "Keep this page open. Nearby devices see you right away; anyone else needs your code." }
            }
            section(class="card hero") {
                div(class="hero-main") {
                    span(class="eyebrow") { "Your code" }
                    div(class="code-row") {
                        (match state.code.get_clone() {
                            Some(code) => view! {
                                span(class="code", id="my-code", data-testid="my-code") { (code) }
                                button(class="icon-btn", id="copy-code", title="Copy code", aria-label="Copy code", on:click=copy) {
                                    Icon(svg=icons::copy())
                                }
                            },
                            None => view! { span(class="code code-pending", id="my-code-pending") { "····-··" } },
                        })
                    }
                    div(class="device-line") {
                        Icon(svg=device_icon(state.my_kind.get()))
                        span { "Visible as " }
                        strong(id="my-name", data-testid="my-name") {
                            (state.my_name.with(|n| if n.is_empty() { "…".to_string() } else { n.clone() }))
                        }
                    }
                    (match state.lan_addresses.with(|a| a.first().cloned()) {
                        Some(address) => view! {
                            div(class="device-line muted small", id="lan-address", data-testid="lan-address") {
                                span { "On this network also at " }
                                strong { (address) }
                                (if state.lan_blocked.get() { " (this network blocks discovery: type this address on the sender)" } else { "" })
                            }
                        },
                        None => view! {},
                    })
                    (if state.online() {
                        view! {
                            div(class="waiting", id="receive-waiting", data-testid="receive-waiting") {
                                span(class="pulse")
                                span { "Waiting for files…" }
                            }
                        }
                    } else {
                        view! {
                            div(class="waiting offline", id="receive-offline") {
                                Icon(svg=icons::alert())
                                span { (state.status.with(|s| s.as_ref().and_then(|s| s.message.clone()).unwrap_or_else(|| "Connecting to the signaling server…".into()))) }
                            }
                        }
                    })
                }
                div(class="qr", id="qr", data-testid="qr", aria-label="QR code of a link to send to this device",
                    data-payload=link.get_clone().unwrap_or_default()) {
                    (match link.get_clone().and_then(|l| qr::svg(&l)) {
                        Some(svg) => view! { div(class="qr-img", dangerously_set_inner_html=svg) },
                        None => view! { div(class="qr-img qr-placeholder") },
                    })
                    span(class="qr-caption muted") { "Scan with a phone to send here" }
                    (match link_server.get_clone() {
                        Some(server) => {
                            let label = format!("via {}", server_label(&server));
                            view! { span(class="qr-caption muted small", id="qr-server", title=server) { (label) } }
                        }
                        None => view! {},
                    })
                }
            }
            (if show_transfer() {
                view! { TransferCard(transfer=state.receive, sending=false) }
            } else {
                view! { HowItWorks() }
            })
        }
    }
}

/// Three steps explaining a transfer, shown while nothing is being received.
#[component]
fn HowItWorks() -> View {
    let state = use_context::<AppState>();
    let name = move || {
        state.my_name.with(|n| {
            if n.is_empty() {
                "this device".to_string()
            } else {
                n.clone()
            }
        })
    };
    let folder = move || {
        state.settings.with(|s| {
            s.as_ref()
                .map(|s| s.settings.download_dir.clone())
                .unwrap_or_default()
        })
    };
    view! {
        section(class="card howto-card", id="how-it-works") {
            h2 { "How it works" }
            ol(class="howto") {
                li {
                    span(class="howto-icon") { Icon(svg=icons::laptop()) }
                    div {
                        strong { "Open PeerDrop on the other device" }
                        p(class="muted small") { "Or run " code { "peerdrop send" } " in a terminal." }
                    }
                }
                li {
                    span(class="howto-icon") { Icon(svg=icons::send()) }
                    div {
                        strong { "Choose files, tap " (name()) }
                        p(class="muted small") { "Not on the same network? Type or scan the code above." }
                    }
                }
                li {
                    span(class="howto-icon") { Icon(svg=icons::shield()) }
                    div {
                        strong { "Accept here" }
                        p(class="muted small") { "Each file is verified, then saved in " span(class="mono") { (folder()) } "." }
                    }
                }
            }
        }
    }
}

/// The incoming dialog's element id.
const DIALOG_ID: &str = "incoming-dialog";

/// Keyboard focus for a modal dialog: where it was, moving it in, keeping Tab inside.
mod dialog_focus {
    use wasm_bindgen::prelude::*;
    use wasm_bindgen::JsCast;

    fn document() -> Option<web_sys::Document> {
        web_sys::window()?.document()
    }

    /// The element that has the keyboard focus now.
    pub fn active_element() -> Option<web_sys::HtmlElement> {
        document()?.active_element()?.dyn_into().ok()
    }

    /// Focuses the element `id` once it is in the page (after this render).
    pub fn focus_later(id: &'static str) {
        let focus = Closure::once_into_js(move || {
            if let Some(el) = document()
                .and_then(|d| d.get_element_by_id(id))
                .and_then(|el| el.dyn_into::<web_sys::HtmlElement>().ok())
            {
                let _ = el.focus();
            }
        });
        if let Some(window) = web_sys::window() {
            let _ = window
                .set_timeout_with_callback_and_timeout_and_arguments_0(focus.unchecked_ref(), 0);
        }
    }

    /// On Tab from the last button (or Shift+Tab from the first, or from the dialog itself),
    /// wraps around to the other end instead of leaving the dialog.
    pub fn trap_tab(id: &str, e: &web_sys::KeyboardEvent) {
        let Some(dialog) = document().and_then(|d| d.get_element_by_id(id)) else {
            return;
        };
        let Ok(buttons) = dialog.query_selector_all("button:not([disabled])") else {
            return;
        };
        let nth = |i: u32| {
            buttons
                .item(i)
                .and_then(|n| n.dyn_into::<web_sys::HtmlElement>().ok())
        };
        let (Some(first), Some(last)) = (nth(0), nth(buttons.length().saturating_sub(1))) else {
            return;
        };
        let active = active_element();
        let on = |el: &web_sys::HtmlElement| active.as_ref().is_some_and(|a| a == el);
        let on_dialog = active.as_ref().is_some_and(|a| a.id() == id);
        if e.shift_key() && (on(&first) || on_dialog) {
            e.prevent_default();
            let _ = last.focus();
        } else if !e.shift_key() && (on(&last) || on_dialog) {
            e.prevent_default();
            let _ = first.focus();
        }
    }
}

/// The Accept/Decline prompt for an incoming transfer: who sends, what, and how much.
#[component]
pub fn IncomingDialog() -> View {
    let state = use_context::<AppState>();
    let busy = create_signal(false);
    // "Always accept from …": offered for a verified (not changed) sender, off each time.
    let always = create_signal(false);
    let answer = move |accept: bool| {
        busy.set(true);
        let always = accept && always.get_untracked();
        spawn_local(async move {
            if let Err(e) = api::respond_incoming(accept, always).await {
                state.notify(e, true);
            }
            busy.set(false);
        });
    };
    let files = create_memo(move || state.receive.with(|t| t.files.clone()));
    // Focus moves into the dialog when it opens (onto the dialog itself, so a stray Enter
    // accepts nothing) and back to where it was when it closes.
    let return_focus = std::rc::Rc::new(std::cell::RefCell::new(None::<web_sys::HtmlElement>));
    create_effect(move || {
        if state.offer_pending() {
            always.set(false);
            *return_focus.borrow_mut() = dialog_focus::active_element();
            dialog_focus::focus_later(DIALOG_ID);
        } else if let Some(previous) = return_focus.borrow_mut().take() {
            let _ = previous.focus();
        }
    });
    // Escape declines (the safe answer); Tab and Shift+Tab stay inside the dialog.
    let keydown = move |e: web_sys::KeyboardEvent| match e.key().as_str() {
        "Escape" if !busy.get_untracked() => {
            e.prevent_default();
            answer(false);
        }
        "Tab" => dialog_focus::trap_tab(DIALOG_ID, &e),
        _ => {}
    };

    view! {
        (if state.offer_pending() {
            view! {
                div(class="scrim") {
                    div(class="dialog", role="dialog", aria-modal="true", aria-labelledby="incoming-title",
                        aria-describedby="incoming-summary", tabindex="-1", on:keydown=keydown,
                        id=DIALOG_ID, data-testid="incoming-dialog") {
                        div(class="dialog-head") {
                            div(class="avatar") { Icon(svg=icons::receive()) }
                            div {
                                h2(id="incoming-title") { (state.receive.with(|t| if t.text.is_some() { "Incoming text" } else { "Incoming files" })) }
                                p(class="muted") {
                                    strong(id="incoming-from", data-testid="incoming-from") { (state.receive.with(|t| t.peer.clone())) }
                                    " wants to send you "
                                    span(id="incoming-summary") {
                                        (state.receive.with(|t| if t.text.is_some() { "a text".to_string() } else { format!("{} · {}", format::files(t.files.len() as u64), format::bytes(t.total)) }))
                                    }
                                }
                            }
                        }
                        ul(class="offer-list", id="incoming-files", data-testid="incoming-files") {
                            Indexed(list=files, view=|f| {
                                let title = f.path.clone();
                                let name = f.path;
                                let size = format::bytes(f.size);
                                view! {
                                    li(class="offer-file") {
                                        Icon(svg=icons::file(), class="file-icon")
                                        span(class="file-name", title=title) { (name) }
                                        span(class="file-size muted") { (size) }
                                    }
                                }
                            })
                        }
                        (match state.receive.with(|t| t.text.clone()) {
                            // Text nodes are escaped: an offered text is shown, never run.
                            Some(text) => view! {
                                pre(class="offered-text", id="incoming-text", data-testid="incoming-text") { (text) }
                            },
                            None => view! {},
                        })
                        (match state.receive.with(|t| t.verify.clone()) {
                            Some(v) => {
                                let peer = state.receive.with(|t| t.peer.clone());
                                let note = if v.changed {
                                    format!("Warning: {peer} has a different identity than last time. It may be reinstalled — or someone may be impersonating it. Decline unless you are sure.")
                                } else if v.known {
                                    format!("{peer} is a device you verified before.")
                                } else {
                                    format!("Check that {peer} shows the same four words.")
                                };
                                let phrase = v.phrase.clone();
                                view! {
                                    div(class=if v.changed { "phrase-box danger" } else if v.known { "phrase-box known" } else { "phrase-box" },
                                        id="incoming-verify") {
                                        Icon(svg=if v.changed { icons::alert() } else { icons::shield() })
                                        div(class="phrase-main") {
                                            span(class="eyebrow") { "Verification phrase" }
                                            span(class="phrase", id="incoming-phrase", data-testid="incoming-phrase") { (phrase) }
                                            p(class="small") { (note) }
                                        }
                                    }
                                }
                            }
                            None => view! {
                                div(class="verify") {
                                    Icon(svg=icons::shield())
                                    span { "Only accept files you expect. Nothing is opened automatically." }
                                }
                            },
                        })
                        (match state.receive.with(|t| t.verify.clone().filter(|v| !v.changed)) {
                            Some(_) => {
                                let label = format!("Always accept from {} (this device only, not others using its name)", state.receive.with(|t| t.peer.clone()));
                                view! {
                                    label(class="check-row small", r#for="always-accept") {
                                        input(r#type="checkbox", id="always-accept", data-testid="always-accept", bind:checked=always)
                                        span { (label) }
                                    }
                                }
                            }
                            None => view! {},
                        })
                        div(class="dialog-actions") {
                            button(class="btn btn-ghost", id="decline", data-testid="decline",
                                   disabled=busy.get(), on:click=move |_| answer(false)) { "Decline" }
                            button(class="btn btn-primary", id="accept", data-testid="accept",
                                   disabled=busy.get(), on:click=move |_| answer(true)) {
                                Icon(svg=icons::check()) "Accept"
                            }
                        }
                    }
                }
            }
        } else {
            view! {}
        })
    }
}
