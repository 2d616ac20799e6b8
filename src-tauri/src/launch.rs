//! Requests from outside the window: files opened with PeerDrop and `peerdrop://` links.
//!
//! They arrive as the app's own command line (`peerdrop-app FILE...`, "Open with PeerDrop",
//! Windows "Send to", a link handed over by the OS), as the command line of a second launch that
//! `tauri-plugin-single-instance` forwards to this process before the second one exits, or on
//! Android from the share sheet. [`peerdrop_app_launch`] parses them; here each path is
//! summarised and registered ([`crate::pick::describe_each`], on the Rust side, as for a
//! dialog: the UI gets handles, never paths), queued in
//! [`Launches`], announced to the UI with the [`LAUNCH_EVENT`] window event, and the window is
//! brought to the front. The UI drains the queue with the `take_launch_requests` command when it
//! starts and whenever the event fires, so a request that arrives before the page has loaded is
//! not lost.

use std::sync::{Arc, Mutex};

use peerdrop_app_ipc::{LaunchRequest, Page};
use peerdrop_app_launch::Launch;
use tauri::{AppHandle, Emitter, Manager, Runtime};

use crate::grants::Grants;
use crate::{pick, Shared};

/// Window event telling the UI that [`Launches`] has something (no payload: the UI takes the
/// queue, so nothing is lost if it was not listening yet).
pub const LAUNCH_EVENT: &str = "peerdrop-launch";

/// Requests waiting for the UI.
#[derive(Default)]
pub struct Launches {
    queue: Mutex<Vec<LaunchRequest>>,
}

impl Launches {
    /// Queues one request.
    pub fn push(&self, request: LaunchRequest) {
        self.queue.lock().expect("launch lock").push(request);
    }

    /// Everything queued, oldest first; empties the queue.
    pub fn take(&self) -> Vec<LaunchRequest> {
        std::mem::take(&mut *self.queue.lock().expect("launch lock"))
    }
}

/// Summarises `launch` and hands it to the UI; also brings the window to the front (a second
/// launch without arguments does only that).
pub fn deliver<R: Runtime>(app: &AppHandle<R>, launch: Launch) {
    show_window(app);
    if launch.is_empty() {
        return;
    }
    tracing::info!(
        paths = launch.paths.len(),
        link = launch.link.is_some(),
        problems = launch.problems.len(),
        "asked from outside the window"
    );
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let Some(shared) = app.try_state::<Arc<Shared>>() else {
            return;
        };
        let request = summarise(&shared.grants, launch).await;
        shared.launches.push(request);
        if let Err(e) = app.emit(LAUNCH_EVENT, ()) {
            tracing::warn!(error = %e, "could not tell the UI about a launch request");
        }
    });
}

/// Builds the UI's view of `launch`: every path summarised and registered in `grants` on its
/// own, so one missing file does not drop the others.
pub async fn summarise(grants: &Grants, launch: Launch) -> LaunchRequest {
    let (items, more_problems) = pick::describe_each(grants, launch.paths).await;
    let mut problems = launch.problems;
    problems.extend(more_problems);
    let (mut page, mut code, mut server) = (None, None, None);
    if let Some(link) = launch.link {
        page = Some(match link.page {
            peerdrop_app_launch::Page::Send => Page::Send,
            peerdrop_app_launch::Page::Receive => Page::Receive,
            peerdrop_app_launch::Page::Settings => Page::Settings,
        });
        code = link.to;
        server = link.server;
    }
    if !items.is_empty() || launch.text.is_some() {
        page = Some(Page::Send);
    }
    LaunchRequest {
        page,
        items,
        code,
        server,
        problems,
        text: launch.text,
    }
}

/// Brings the main window back and to the front (also from the tray, or after it was put
/// away while receiving in the background).
pub fn show_window<R: Runtime>(app: &AppHandle<R>) {
    if let Some(window) = app.get_webview_window("main") {
        let _ = window.unminimize();
        let _ = window.show();
        let _ = window.set_focus();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn summarises_files_links_and_missing_paths() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("beach.jpg");
        std::fs::write(&file, b"sand").unwrap();
        let launch = peerdrop_app_launch::from_args(
            [
                "--automation",
                "beach.jpg",
                "missing.txt",
                "beach.jpg",
                "peerdrop://send?to=k7qm2x",
            ],
            tmp.path(),
        );
        let grants = Grants::default();
        let request = summarise(&grants, launch).await;
        assert_eq!(request.page, Some(Page::Send));
        assert_eq!(request.code.as_deref(), Some("K7QM-2X"));
        assert_eq!(request.server, None);
        assert_eq!(request.items.len(), 1);
        assert_eq!(request.items[0].name, "beach.jpg");
        assert_eq!(request.items[0].size, 4);
        assert_eq!(request.problems.len(), 1);
        assert!(request.problems[0].contains("missing.txt"));
        // The launched file is granted: the UI can send it by its handle.
        assert_eq!(
            grants.resolve(&[request.items[0].handle.clone()]).unwrap(),
            [file]
        );
    }

    #[tokio::test]
    async fn a_shared_text_opens_send_with_it() {
        let launch = peerdrop_app_launch::Launch {
            text: Some("https://example.org/recipe".into()),
            ..Default::default()
        };
        let request = summarise(&Grants::default(), launch).await;
        assert_eq!(request.page, Some(Page::Send));
        assert_eq!(request.text.as_deref(), Some("https://example.org/recipe"));
        assert!(request.items.is_empty() && request.problems.is_empty());
    }

    #[tokio::test]
    async fn a_link_alone_opens_its_page() {
        let launch =
            peerdrop_app_launch::from_args(["peerdrop://settings"], std::path::Path::new("/"));
        let request = summarise(&Grants::default(), launch).await;
        assert_eq!(request.page, Some(Page::Settings));
        assert!(request.items.is_empty() && request.code.is_none());
    }

    #[tokio::test]
    async fn a_receivers_link_brings_its_server_to_the_send_page() {
        let link = "peerdrop://send?to=m4n5p6&server=ws%3A%2F%2F192.168.1.10%3A8787%2Fws";
        let launch = peerdrop_app_launch::from_args([link], std::path::Path::new("/"));
        let request = summarise(&Grants::default(), launch).await;
        assert_eq!(request.page, Some(Page::Send));
        assert_eq!(request.code.as_deref(), Some("M4N5-P6"));
        assert_eq!(request.server.as_deref(), Some("ws://192.168.1.10:8787/ws"));
        assert!(request.items.is_empty() && request.problems.is_empty());
    }

    #[test]
    fn queue_drains_in_order() {
        let q = Launches::default();
        q.push(LaunchRequest {
            code: Some("A".into()),
            ..Default::default()
        });
        q.push(LaunchRequest::default());
        let taken = q.take();
        assert_eq!(taken.len(), 2);
        assert_eq!(taken[0].code.as_deref(), Some("A"));
        assert!(q.take().is_empty());
    }
}
