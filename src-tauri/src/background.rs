//! Receiving in the background: the tray icon, what closing the window does, and starting
//! hidden.
//!
//! - The tray icon's menu has "Show PeerDrop", "Receive in background" (a check item that
//!   mirrors the setting both ways) and "Quit" (which always quits).
//! - Closing the window with "Receive in background" off ends the app, as closing a window
//!   does everywhere. With it on, the app keeps running — its node stays registered on the
//!   server and visible on the LAN, so a sender still reaches it and trusted devices' files
//!   still arrive — and the window goes out of the way:
//!   - hidden, when a tray host shows the icon (the icon is the way back);
//!   - minimised, when nothing shows the icon (Linux with neither a StatusNotifier host nor an
//!     XEmbed tray: GNOME without the AppIndicator extension, a bare X server). Hiding there
//!     would leave a running app nobody can see or find; minimised, it stays in the taskbar
//!     or window list, and launching PeerDrop again also brings it back (the single-instance
//!     hand-over shows the window). This is logged, once per close.
//! - Started with [`crate::autostart::HIDDEN_ARG`] (the login entry) and "Receive in
//!   background" on, the window is put away the same way right after start; with the setting
//!   off the argument is ignored and the window shows (nothing would receive otherwise).
//!
//! Whether a tray host is there is asked at the moment it matters (on close), not once at
//! start: at login the panel often appears after the apps it autostarts.

use std::sync::Arc;

use peerdrop_app_ipc::Toggle;
use tauri::menu::{CheckMenuItem, Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Emitter, Manager, Runtime, WebviewWindow, Window, WindowEvent};

use crate::Shared;

/// Window event telling the UI that a setting changed outside the page (the tray menu): it
/// reloads the settings.
pub const SETTINGS_EVENT: &str = "peerdrop-settings";

const MENU_SHOW: &str = "show";
const MENU_BACKGROUND: &str = "background";
const MENU_QUIT: &str = "quit";

/// The tray menu's check item, kept so the page's changes show in the menu too.
pub struct TrayMenu<R: Runtime> {
    background: CheckMenuItem<R>,
}

/// Creates the tray icon (call once, in setup). A failure is logged: the app then works as
/// without a tray host. On Linux the indicator library is loaded at run time and its loader
/// panics when neither libayatana-appindicator3 nor libappindicator3 is installed (the `.deb`
/// depends on the first); that panic is caught here, so a missing library costs the tray
/// icon, not the app.
pub fn create_tray<R: Runtime>(app: &AppHandle<R>, background_on: bool) {
    let made = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        try_create_tray(app, background_on)
    }));
    match made {
        Ok(Ok(())) => tracing::debug!("tray icon created"),
        Ok(Err(e)) => tracing::warn!(error = %e, "no tray icon"),
        Err(_) => tracing::warn!("no tray icon (is libayatana-appindicator3-1 installed?)"),
    }
}

fn try_create_tray<R: Runtime>(app: &AppHandle<R>, background_on: bool) -> tauri::Result<()> {
    let show = MenuItem::with_id(app, MENU_SHOW, "Show PeerDrop", true, None::<&str>)?;
    let background = CheckMenuItem::with_id(
        app,
        MENU_BACKGROUND,
        "Receive in background",
        true,
        background_on,
        None::<&str>,
    )?;
    let quit = MenuItem::with_id(app, MENU_QUIT, "Quit", true, None::<&str>)?;
    let separator = PredefinedMenuItem::separator(app)?;
    let menu = Menu::with_items(app, &[&show, &background, &separator, &quit])?;
    let mut tray = TrayIconBuilder::with_id("peerdrop")
        .tooltip("PeerDrop")
        .menu(&menu)
        .on_menu_event(|app, event| on_menu(app, event.id().as_ref()));
    if let Some(icon) = app.default_window_icon() {
        tray = tray.icon(icon.clone());
    }
    tray.build(app)?;
    app.manage(TrayMenu { background });
    Ok(())
}

fn on_menu<R: Runtime>(app: &AppHandle<R>, id: &str) {
    match id {
        MENU_SHOW => crate::launch::show_window(app),
        MENU_BACKGROUND => {
            // The menu toggled its own tick already; the setting follows it.
            let on = app
                .try_state::<TrayMenu<R>>()
                .and_then(|m| m.background.is_checked().ok())
                .unwrap_or(false);
            if let Some(shared) = app.try_state::<Arc<Shared>>() {
                if let Err(e) = shared.settings.set_toggle(Toggle::ReceiveInBackground, on) {
                    tracing::warn!(error = %e, "cannot store \"Receive in background\"");
                }
            }
            tracing::info!(on, "receive in background (tray menu)");
            if let Err(e) = app.emit(SETTINGS_EVENT, ()) {
                tracing::warn!(error = %e, "could not tell the UI about a settings change");
            }
        }
        MENU_QUIT => {
            tracing::info!("quit from the tray menu");
            app.exit(0);
        }
        _ => {}
    }
}

/// Shows `on` in the tray menu's check item (the page changed the setting).
pub fn mirror_in_tray<R: Runtime>(app: &AppHandle<R>, on: bool) {
    if let Some(menu) = app.try_state::<TrayMenu<R>>() {
        let _ = menu.background.set_checked(on);
    }
}

/// Whether "Receive in background" is on.
fn background_on<R: Runtime>(app: &AppHandle<R>) -> bool {
    app.try_state::<Arc<Shared>>()
        .is_some_and(|s| s.settings.toggle(Toggle::ReceiveInBackground))
}

/// The window's events: a close request with "Receive in background" on puts the window away
/// instead (see the module doc); everything else goes on to `next`.
pub fn on_window_event<R: Runtime>(window: &Window<R>, event: &WindowEvent) {
    if let WindowEvent::CloseRequested { api, .. } = event {
        if window.label() == "main" && background_on(window.app_handle()) {
            api.prevent_close();
            if let Some(window) = window.app_handle().get_webview_window("main") {
                put_away(window, "window closed");
            }
        }
    }
}

/// Started hidden (`--hidden`): puts the window away when "Receive in background" is on.
pub fn start_hidden<R: Runtime>(app: &AppHandle<R>) {
    if !background_on(app) {
        tracing::info!("started hidden, but \"Receive in background\" is off: showing the window");
        return;
    }
    if let Some(window) = app.get_webview_window("main") {
        put_away(window, "started hidden");
    }
}

/// Hides the window when a tray host shows the icon, else minimises it (logged).
fn put_away<R: Runtime>(window: WebviewWindow<R>, why: &'static str) {
    tauri::async_runtime::spawn(async move {
        if tray_host_present().await {
            tracing::info!(
                why,
                "receiving in the background: window hidden (tray icon shown)"
            );
            let _ = window.hide();
        } else {
            tracing::info!(
                why,
                "receiving in the background: no tray host shows the icon, so the window is \
                 minimised instead of hidden (it stays in the taskbar; launching PeerDrop again \
                 also shows it)"
            );
            let _ = window.minimize();
        }
    });
}

/// Whether something shows the tray icon on Linux: a StatusNotifier host (what current panels
/// are: `org.kde.StatusNotifierWatcher` has an owner on the session bus), or, without one, an
/// XEmbed system tray on the X display (older panels, trayer, stalonetray), which the indicator
/// library falls back to when no StatusNotifier host is there.
#[cfg(target_os = "linux")]
pub async fn tray_host_present() -> bool {
    if status_notifier_host().await {
        return true;
    }
    tauri::async_runtime::spawn_blocking(xembed_tray_present)
        .await
        .unwrap_or(false)
}

/// Whether an XEmbed system tray manager owns `_NET_SYSTEM_TRAY_S<screen>` on the X display
/// GTK uses (none on a Wayland session: GTK draws there through Wayland, not X).
#[cfg(target_os = "linux")]
fn xembed_tray_present() -> bool {
    use x11::xlib;
    let wayland = std::env::var_os("WAYLAND_DISPLAY").is_some()
        && std::env::var("GDK_BACKEND").map_or(true, |b| !b.starts_with("x11"));
    if wayland || std::env::var_os("DISPLAY").is_none() {
        return false;
    }
    // SAFETY: a display connection opened, queried and closed here; the atom name is a valid
    // C string that outlives the call.
    unsafe {
        let display = xlib::XOpenDisplay(std::ptr::null());
        if display.is_null() {
            return false;
        }
        let screen = xlib::XDefaultScreen(display);
        let name = std::ffi::CString::new(format!("_NET_SYSTEM_TRAY_S{screen}"))
            .expect("no NUL in an atom name");
        let selection = xlib::XInternAtom(display, name.as_ptr(), xlib::False);
        let owner = xlib::XGetSelectionOwner(display, selection);
        xlib::XCloseDisplay(display);
        owner != 0
    }
}

/// Whether `org.kde.StatusNotifierWatcher` has an owner on the session bus.
#[cfg(target_os = "linux")]
async fn status_notifier_host() -> bool {
    let ask = async {
        let bus = zbus::Connection::session().await?;
        let dbus = zbus::fdo::DBusProxy::new(&bus).await?;
        let name = zbus::names::BusName::try_from("org.kde.StatusNotifierWatcher")?;
        dbus.name_has_owner(name).await.map_err(zbus::Error::from)
    };
    match tokio::time::timeout(std::time::Duration::from_secs(2), ask).await {
        Ok(Ok(present)) => present,
        Ok(Err(e)) => {
            tracing::info!(error = %e, "cannot ask the session bus for a tray host");
            false
        }
        Err(_) => false,
    }
}

/// Windows and macOS always have a notification area / menu bar for the icon.
#[cfg(not(target_os = "linux"))]
pub async fn tray_host_present() -> bool {
    true
}
