//! Settings: signaling server, device name and download folder, saved as JSON by the Rust side
//! (so they survive restarts), plus what the app is connected to right now.
//!
//! The download folder is shown, not typed: "Choose…" opens the native folder dialog on the
//! Rust side, which stores the choice itself. Save sends only the server and the name. The
//! switches (notifications, receive in background, start at login) apply when ticked.

use peerdrop_app_ipc::{NodeState, Settings, SettingsUpdate, Toggle, TrustedDevice};
use sycamore::prelude::*;
use wasm_bindgen_futures::spawn_local;

use crate::components::Icon;
use crate::state::AppState;
use crate::{api, icons};

/// The Settings page.
#[component]
pub fn SettingsPage() -> View {
    let state = use_context::<AppState>();
    let server = create_signal(String::new());
    let name = create_signal(String::new());
    let saving = create_signal(false);
    let choosing = create_signal(false);
    // The stored server and name the form was last filled from.
    let filled_from = create_signal(None::<(String, String)>);

    // Fill the form from the last known settings, and again when the stored server or name
    // change (not when only the folder does, so a choice of folder keeps what is being typed).
    create_effect(move || {
        if let Some(view) = state.settings.get_clone() {
            let stored = (
                view.settings.server_url.clone(),
                view.settings.device_name.clone(),
            );
            if filled_from.with_untracked(|f| f.as_ref() != Some(&stored)) {
                server.set(stored.0.clone());
                name.set(stored.1.clone());
                filled_from.set(Some(stored));
            }
        }
    });
    let dir = move || {
        state.settings.with(|s| {
            s.as_ref()
                .map(|s| s.settings.download_dir.clone())
                .unwrap_or_default()
        })
    };

    let choose_dir = move |_| {
        choosing.set(true);
        spawn_local(async move {
            match api::pick_download_dir().await {
                Ok(Some(view)) => {
                    state.settings.set(Some(view));
                    state.notify("Download folder changed", false);
                }
                Ok(None) => {}
                Err(e) => state.notify(e, true),
            }
            choosing.set(false);
        });
    };
    let save = move |e: web_sys::SubmitEvent| {
        e.prevent_default();
        let settings = SettingsUpdate {
            server_url: server.get_clone().trim().to_string(),
            device_name: name.get_clone().trim().to_string(),
        };
        saving.set(true);
        spawn_local(async move {
            match api::save_settings(&settings).await {
                Ok(view) => {
                    state.settings.set(Some(view));
                    state.notify("Settings saved", false);
                }
                Err(e) => state.notify(e, true),
            }
            saving.set(false);
        });
    };
    let default_server = move || {
        state.settings.with(|s| {
            s.as_ref()
                .map(|s| s.default_server.clone())
                .unwrap_or_default()
        })
    };

    view! {
        div(class="page", id="page-settings") {
            header(class="page-head") {
                h1 { "Settings" }
                p(class="muted") { "Saved on this device and kept across restarts." }
            }
            form(class="card form", id="settings-form", on:submit=save) {
                div(class="field") {
                    label(r#for="setting-name") { "Device name" }
                    input(class="input", id="setting-name", data-testid="setting-name", maxlength="64",
                          placeholder="e.g. Ana's laptop", bind:value=name)
                    p(class="help muted") { "How this device appears to others." }
                }
                div(class="field") {
                    label(r#for="setting-dir") { "Download folder" }
                    div(class="input-row") {
                        input(class="input", id="setting-dir", data-testid="setting-dir", "spellcheck"="false",
                              readonly=true, title="Use Choose… to change the folder", value=dir())
                        button(class="btn btn-secondary", r#type="button", id="choose-dir", data-testid="choose-dir",
                               disabled=choosing.get(), on:click=choose_dir) {
                            Icon(svg=icons::folder()) "Choose…"
                        }
                    }
                    p(class="help muted") { "Received files are verified before they appear here. Nothing is ever overwritten. The folder changes only through Choose…, right away." }
                }
                div(class="field") {
                    label(r#for="setting-server") { "Signaling server" }
                    input(class="input mono", id="setting-server", data-testid="setting-server", "spellcheck"="false",
                          placeholder=format!("Automatic — {}", default_server()), bind:value=server)
                    p(class="help muted") {
                        "Leave empty to use the built-in server on this computer. To reach devices on other networks, enter a shared server such as wss://peerdrop.example.org/ws (ws://192.168.1.10:8787/ws on a LAN)."
                    }
                }
                div(class="form-actions") {
                    button(class="btn btn-primary", r#type="submit", id="save-settings", data-testid="save-settings",
                           disabled=saving.get()) { Icon(svg=icons::check()) "Save" }
                }
            }
            BackgroundCard()
            section(class="card about") {
                h2 { "Connection" }
                dl(class="facts") {
                    dt { "Status" }
                    dd(id="conn-state") {
                        (state.status.with(|s| match s.as_ref().map(|s| s.state) {
                            Some(NodeState::Online) => "Online",
                            Some(NodeState::Connecting) | None => "Connecting…",
                            Some(NodeState::Offline) => "Offline",
                        }))
                    }
                    dt { "Server" }
                    dd(class="mono", id="conn-server") {
                        (state.status.with(|s| s.as_ref().map(|s| {
                            if s.embedded { format!("{} (built-in)", s.server) } else { s.server.clone() }
                        }).unwrap_or_default()))
                    }
                    (match state.status.with(|s| s.as_ref().and_then(|s| s.message.clone())) {
                        Some(note) => view! {
                            dt { "Note" }
                            dd(id="conn-note") { (note) }
                        },
                        None => view! {},
                    })
                    dt { "Settings file" }
                    dd(class="mono small") { (state.settings.with(|s| s.as_ref().map(|s| s.config_path.clone()).unwrap_or_default())) }
                }
            }
            TrustedDevicesCard()
        }
    }
}

/// One switch of the "Notifications and background" card: shows the stored value and stores
/// a change right away (put back as it was if storing fails).
#[component(inline_props)]
fn ToggleRow(
    toggle: Toggle,
    id: &'static str,
    title: &'static str,
    help: &'static str,
    read: fn(&Settings) -> bool,
) -> View {
    let state = use_context::<AppState>();
    let checked = move || {
        state
            .settings
            .with(|s| s.as_ref().is_some_and(|s| read(&s.settings)))
    };
    let change = move |e: web_sys::Event| {
        let Some(input) = e
            .target()
            .and_then(|t| wasm_bindgen::JsCast::dyn_into::<web_sys::HtmlInputElement>(t).ok())
        else {
            return;
        };
        let on = input.checked();
        spawn_local(async move {
            match api::set_toggle(toggle, on).await {
                Ok(view) => state.settings.set(Some(view)),
                Err(e) => {
                    input.set_checked(!on);
                    state.notify(e, true);
                }
            }
        });
    };
    view! {
        label(class="check-row", r#for=id) {
            input(r#type="checkbox", id=id, data-testid=id, prop:checked=checked(), on:change=change)
            span {
                strong { (title) }
                br {}
                span(class="muted small") { (help) }
            }
        }
    }
}

/// Notifications, receiving with the window closed, and starting at login.
#[component]
fn BackgroundCard() -> View {
    view! {
        section(class="card form", id="background-settings") {
            h2 { "Notifications and background" }
            ToggleRow(toggle=Toggle::Notifications, id="setting-notifications", title="Notifications",
                help="Tell me when someone wants to send me something, and when it has arrived, while PeerDrop is not in front.",
                read=|s: &Settings| s.notifications)
            ToggleRow(toggle=Toggle::ReceiveInBackground, id="setting-background", title="Receive in background",
                help="Closing the window keeps PeerDrop running in the tray, so others can still send to this device. Quit from the tray icon.",
                read=|s: &Settings| s.receive_in_background)
            ToggleRow(toggle=Toggle::StartAtLogin, id="setting-autostart", title="Start at login",
                help="Start PeerDrop when you log in; with Receive in background on, it starts in the tray without opening a window.",
                read=|s: &Settings| s.start_at_login)
        }
    }
}

/// The devices whose offers arrive without a prompt, each with "Stop trusting".
#[component]
fn TrustedDevicesCard() -> View {
    let state = use_context::<AppState>();
    let devices = create_signal(Vec::<TrustedDevice>::new());
    spawn_local(async move {
        match api::trusted_devices().await {
            Ok(list) => devices.set(list),
            Err(e) => state.notify(e, true),
        }
    });
    view! {
        section(class="card about", id="trusted-devices") {
            h2 { "Trusted devices" }
            p(class="muted small") {
                "Files and texts from these devices are accepted without asking (tick \"Always accept\" when you accept from a verified device). They are recognised by their certificate, not their name; a device whose identity changed is always asked about."
            }
            (if devices.with(Vec::is_empty) {
                view! { p(class="muted small", id="trusted-none") { "None yet." } }
            } else {
                view! {
                    ul(class="trusted-list", id="trusted-list") {
                        Keyed(
                            list=move || devices.get_clone(),
                            view=move |device| {
                                let fingerprint = device.fingerprint.clone();
                                let short = fingerprint.chars().take(23).collect::<String>();
                                let forget = move |_| {
                                    let fingerprint = fingerprint.clone();
                                    spawn_local(async move {
                                        match api::forget_trusted_device(&fingerprint).await {
                                            Ok(list) => devices.set(list),
                                            Err(e) => state.notify(e, true),
                                        }
                                    });
                                };
                                let name = device.name.clone();
                                view! {
                                    li(class="trusted-device", data-testid="trusted-device") {
                                        Icon(svg=icons::shield())
                                        div(class="trusted-main") {
                                            strong { (name) }
                                            span(class="muted small mono") { (short) "…" }
                                        }
                                        button(class="btn btn-secondary btn-small", data-testid="forget-device", on:click=forget) {
                                            "Stop trusting"
                                        }
                                    }
                                }
                            },
                            key=|device| device.fingerprint.clone(),
                        )
                    }
                }
            })
        }
    }
}
