//! Send: choose files or a folder (dialog or drop on the window), then tap a nearby device —
//! the list updates live — or type a code. A code from a `peerdrop://send?to=CODE&server=URL` link
//! is looked up on that server, which the page names (with a way back to the app's own).
//! Progress, speed, ETA and Cancel follow, with a clear message when the receiver declines,
//! goes away or the server cannot be reached.

use peerdrop_app_ipc::{server_label, ItemHandle, PickedItem, SendTarget};
use peerdrop_proto::send_to::SendTo;
use peerdrop_proto::signal::PeerInfo;
use sycamore::prelude::*;
use wasm_bindgen_futures::spawn_local;

use crate::components::{device_icon, device_label, Icon, TransferCard};
use crate::model::{Phase, Transfer};
use crate::state::AppState;
use crate::{api, format, icons};

/// Adds `items` to the selection, skipping items already in it (the Rust side gives a path
/// picked twice the same handle).
pub fn add_to_selection(state: AppState, items: Vec<PickedItem>) {
    state.selection.update(|sel| {
        for item in items {
            if !sel.iter().any(|s| s.handle == item.handle) {
                sel.push(item);
            }
        }
    });
}

/// Starts sending the selection to `target` (shown as `peer_name`).
/// Sends the selection again to the last target ("Try again" after a failure).
pub fn retry(state: AppState) {
    if let Some((target, name)) = state.last_target.get_clone() {
        start_send(state, target, name);
    }
}

/// What a send carries: the picked files and folders, else the typed text.
enum Payload {
    Items(Vec<ItemHandle>),
    Text(String),
}

fn start_send(state: AppState, target: SendTarget, peer_name: String) {
    let items: Vec<ItemHandle> = state
        .selection
        .with(|s| s.iter().map(|i| i.handle.clone()).collect());
    let text = state.send_text.get_clone();
    let payload = if !items.is_empty() {
        Payload::Items(items)
    } else if !text.trim().is_empty() {
        Payload::Text(text)
    } else {
        state.notify("Choose files or a folder, or type a text, first", true);
        return;
    };
    if state.send.with(|t| t.phase.is_active()) {
        state.notify("A transfer is already running", true);
        return;
    }
    let total = match &payload {
        Payload::Items(_) => state.selection.with(|s| s.iter().map(|i| i.size).sum()),
        Payload::Text(text) => text.len() as u64,
    };
    state.send.set(Transfer::sending(&peer_name, total));
    state.last_target.set(Some((target.clone(), peer_name)));
    spawn_local(async move {
        let on_event = move |event| state.send.update(|t| t.apply(&event));
        let sent_text = matches!(payload, Payload::Text(_));
        let result = match &payload {
            Payload::Items(items) => api::send_files(&target, items, on_event).await,
            Payload::Text(text) => api::send_text(&target, text, on_event).await,
        };
        if let Err(reason) = result {
            state.send.update(|t| {
                t.apply(&peerdrop_proto::events::TransferEvent::Failed {
                    reason,
                    cause: None,
                })
            });
        }
        if state.send.with(|t| matches!(t.phase, Phase::Done { .. })) {
            if sent_text {
                state.send_text.set(String::new());
            } else {
                state.selection.set(Vec::new());
            }
        }
    });
}

/// The Send page.
#[component]
pub fn SendPage() -> View {
    let state = use_context::<AppState>();
    let code = state.send_code;
    let picking = create_signal(false);

    let pick = move |folder: bool| {
        picking.set(true);
        spawn_local(async move {
            let picked = if folder {
                api::pick_folder().await
            } else {
                api::pick_files().await
            };
            match picked {
                Ok(p) => add_to_selection(state, p.items),
                Err(e) => state.notify(e, true),
            }
            picking.set(false);
        });
    };
    let send_to_code = move || {
        let typed = code.get_clone();
        let server = state.send_server.get_clone();
        match SendTo::parse(&typed) {
            SendTo::Code(c) => start_send(
                state,
                SendTarget::Code {
                    code: c.clone(),
                    server,
                },
                c,
            ),
            // A typed LAN address (`192.168.1.20:8788`), for networks that block discovery.
            SendTo::Address(address) => {
                start_send(
                    state,
                    SendTarget::Code {
                        code: address.clone(),
                        server: None,
                    },
                    address,
                )
            }
            SendTo::Name(_) => state.notify(
                "A code looks like K7QM-2X (6 letters and digits); an address like 192.168.1.20:8788",
                true,
            ),
        }
    };
    let total = move || {
        state.selection.with(|s| {
            (
                s.iter().map(|i| i.files).sum::<u64>(),
                s.iter().map(|i| i.size).sum::<u64>(),
            )
        })
    };
    let has_selection = move || state.selection.with(|s| !s.is_empty());
    // Something to send: picked files, or else a typed text.
    let has_payload = move || has_selection() || state.send_text.with(|t| !t.trim().is_empty());
    let busy = move || state.send.with(|t| t.phase.is_active());
    let show_transfer = move || state.send.with(|t| t.phase != Phase::Idle);
    let selection = state.selection;
    let nearby = state.nearby;

    view! {
        div(class="page", id="page-send") {
            header(class="page-head") {
                h1 { "Send" }
                p(class="muted") { "Pick what to send, then tap a device. Files go straight to it, end-to-end encrypted." }
            }
            (if show_transfer() {
                view! { TransferCard(transfer=state.send, sending=true, retry=retry) }
            } else {
                view! {}
            })
            section(class="card") {
                div(class="step-head") { span(class="step") { "1" } h2 { "Choose files" } }
                div(class=if has_selection() { "dropzone compact" } else { "dropzone" }, id="dropzone", data-testid="dropzone") {
                    Icon(svg=icons::upload(), class="drop-icon")
                    p(class="drop-title") { "Drop files or folders here" }
                    div(class="drop-actions") {
                        button(class="btn btn-secondary", id="choose-files", data-testid="choose-files",
                               disabled=picking.get(), on:click=move |_| pick(false)) { Icon(svg=icons::file()) "Choose files" }
                        button(class="btn btn-secondary", id="choose-folder", data-testid="choose-folder",
                               disabled=picking.get(), on:click=move |_| pick(true)) { Icon(svg=icons::folder()) "Choose folder" }
                    }
                }
                (if has_selection() {
                    view! {
                        ul(class="selection", id="selection", data-testid="selection") {
                            Keyed(list=selection, key=|i| i.handle.clone(), view=move |item: PickedItem| {
                                let handle = item.handle.clone();
                                let title = item.name.clone();
                                let name = item.name.clone();
                                let detail = if item.is_dir { format!("{} · {}", format::files(item.files), format::bytes(item.size)) } else { format::bytes(item.size) };
                                let svg = if item.is_dir { icons::folder() } else { icons::file() };
                                view! {
                                    li(class="sel-item", data-testid="selected-item") {
                                        Icon(svg=svg, class="file-icon")
                                        div(class="file-main") {
                                            span(class="file-name", title=title) { (name) }
                                            span(class="muted small") { (detail) }
                                        }
                                        button(class="icon-btn", title="Remove", aria-label="Remove",
                                               on:click=move |_| { let h = handle.clone(); selection.update(|s| s.retain(|i| i.handle != h)) }) {
                                            Icon(svg=icons::close())
                                        }
                                    }
                                }
                            })
                        }
                        p(class="muted small total", id="selection-total") {
                            ({ let (n, size) = total(); format!("{} · {}", format::files(n), format::bytes(size)) })
                        }
                    }
                } else {
                    view! {}
                })
                (if has_selection() {
                    view! {}
                } else {
                    view! {
                        div(class="text-entry") {
                            label(class="muted small", r#for="send-text") { "…or send a text or a link" }
                            textarea(class="input", id="send-text", data-testid="send-text", rows="2",
                                     placeholder="Type or paste a text or a link", bind:value=state.send_text)
                        }
                    }
                })
            }
            section(class="card") {
                div(class="step-head") {
                    span(class="step") { "2" } h2 { "Choose a device" }
                    span(class="live muted small") { span(class="live-dot") "Live" }
                }
                (if state.online() {
                    view! {}
                } else {
                    view! {
                        div(class="banner warn", id="send-offline", data-testid="send-offline") {
                            Icon(svg=icons::alert())
                            span {
                                (state.status.with(|s| s.as_ref().and_then(|s| s.message.clone())
                                    .unwrap_or_else(|| "Connecting to the signaling server…".to_string())))
                            }
                        }
                    }
                })
                (if nearby.with(|n| n.is_empty()) {
                    view! {
                        div(class="empty", id="nearby-empty") {
                            div(class="radar") { Icon(svg=icons::wifi()) }
                            (if state.lan_blocked.get() {
                                view! {
                                    div(id="lan-blocked", data-testid="lan-blocked") {
                                        p { "This network blocks device discovery" }
                                        p(class="muted small") { "Wi-Fi client isolation, a VPN or a firewall stops devices here from finding each other. Type the other device's address (shown on its Receive page, e.g. 192.168.1.20:8788) or its code below." }
                                    }
                                }
                            } else {
                                view! {
                                    div {
                                        p { "Looking for devices on your network…" }
                                        p(class="muted small") { "Open PeerDrop on the other device and go to Receive. On another network, use its code below." }
                                    }
                                }
                            })
                        }
                    }
                } else {
                    view! {
                        div(class="peers", id="nearby-list", data-testid="nearby-list") {
                            Keyed(list=nearby, key=|p| p.id, view=move |peer: PeerInfo| {
                                let name = peer.name.clone();
                                let data_name = peer.name.clone();
                                let title = format!("Send to {name}");
                                let p2 = peer.clone();
                                let svg = device_icon(peer.kind);
                                let kind = device_label(peer.kind);
                                view! {
                                    button(class="peer", data-testid="peer", data-name=data_name, title=title,
                                           disabled=!has_payload() || busy(),
                                           on:click=move |_| start_send(state, SendTarget::Peer { peer: p2.clone() }, p2.name.clone())) {
                                        div(class="peer-avatar") { Icon(svg=svg) }
                                        span(class="peer-name") { (name) }
                                        span(class="peer-kind muted small") { (kind) }
                                    }
                                }
                            })
                        }
                    }
                })
                div(class="divider") { span { "or send by code" } }
                form(class="code-form", on:submit=move |e: web_sys::SubmitEvent| { e.prevent_default(); send_to_code(); }) {
                    input(class="input code-input", id="code-input", data-testid="code-input", placeholder="K7QM-2X or 192.168.1.20:8788",
                          autocomplete="off", "spellcheck"="false", maxlength="64", aria-label="Receiver's code or address", bind:value=code)
                    button(class="btn btn-primary", r#type="submit", id="send-code", data-testid="send-code",
                           disabled=!has_payload() || busy() || code.with(|c| c.trim().is_empty())) {
                        Icon(svg=icons::send()) "Send"
                    }
                }
                (match state.send_server.get_clone() {
                    Some(server) => {
                        let label = server_label(&server);
                        let title = server.clone();
                        view! {
                            div(class="banner via", id="send-via", data-testid="send-via", data-server=server) {
                                Icon(svg=icons::wifi())
                                span(class="via-text") {
                                    "Sends by code through "
                                    strong(id="send-via-server", title=title) { (label) }
                                    ", the receiver's server (from the link)."
                                }
                                button(class="btn btn-ghost btn-small", id="send-via-clear", data-testid="send-via-clear",
                                       title="Look the code up on this device's own server instead",
                                       on:click=move |_| state.send_server.set(None)) { "Use my server" }
                            }
                        }
                    }
                    None => view! {},
                })
                (if !has_selection() {
                    view! { p(class="muted small hint") { "Choose files first, then pick a device." } }
                } else { view! {} })
            }
        }
    }
}
