//! End-to-end tests of the app in real WebKit. They need the built app, tauri-driver,
//! WebKitWebDriver and an X display, so the crate is not a default workspace member (a plain
//! `cargo test` does not build it); `scripts/app-e2e.sh` builds everything and runs them under
//! `xvfb-run` with `--test-threads=1`. Run without that environment they fail, loudly.
//!
//! They also save the README screenshots to `docs/screenshots/`.

use std::time::Duration;

use anyhow::{ensure, Context, Result};
use peerdrop_e2e::{blake3_file, write_random_file, App, Cli, SignalServer, UI_TIMEOUT};
use tokio::sync::Mutex;

/// One app at a time: WebKit is heavy and the screenshots share a folder.
static SERIAL: Mutex<()> = Mutex::const_new(());

/// The environment that makes the download-folder dialog choose `dir` (the app's test seam,
/// debug builds only): pass it to [`App::launch`] for a test that calls [`configure`].
fn download_dir_pick(dir: &std::path::Path) -> (&'static str, String) {
    ("PEERDROP_TEST_PICK_DIR", dir.display().to_string())
}

/// Chooses the download folder with Settings → "Choose…" (the app was launched with
/// [`download_dir_pick`] for `dir`), then sets the device name and saves.
async fn configure(
    app: &App,
    name: &str,
    dir: &std::path::Path,
    screenshot: Option<&str>,
) -> Result<()> {
    app.click("#nav-settings").await?;
    let field = app.wait_css("#setting-dir", UI_TIMEOUT).await?;
    ensure!(
        field.attr("readonly").await?.is_some(),
        "the download folder can be typed into"
    );
    app.click("#choose-dir").await?;
    wait_value(app, "#setting-dir", &dir.display().to_string()).await?;
    app.fill("#setting-name", name).await?;
    app.click("#save-settings").await?;
    app.wait_text("#toast", "\"Settings saved\"", |t| {
        t.contains("Settings saved")
    })
    .await?;
    app.wait_gone("#toast", Duration::from_secs(10)).await?;
    // The name change re-registers the node; wait until it is back online under the new name.
    app.click("#nav-receive").await?;
    wait_text(app, "#my-name", name).await?;
    if let Some(shot) = screenshot {
        app.click("#nav-settings").await?;
        app.wait_css("#conn-state", UI_TIMEOUT).await?;
        wait_text(app, "#conn-state", "Online").await?;
        app.screenshot(shot).await?;
        app.click("#nav-receive").await?;
    }
    Ok(())
}

/// Waits until the input's value equals `want`.
async fn wait_value(app: &App, css: &str, want: &str) -> Result<()> {
    let deadline = std::time::Instant::now() + UI_TIMEOUT;
    let mut value = String::new();
    while std::time::Instant::now() < deadline {
        value = app
            .wait_css(css, UI_TIMEOUT)
            .await?
            .prop("value")
            .await?
            .unwrap_or_default();
        if value == want {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("{css} shows {value:?}, not {want:?}")
}

/// Waits until the element's text equals `want`.
async fn wait_text(app: &App, css: &str, want: &str) -> Result<()> {
    app.wait_text(css, &format!("{want:?}"), |t| t == want)
        .await
        .map(|_| ())
}

/// Screenshot at phone size (390×780), then back to the desktop size.
async fn phone_screenshot(app: &App, name: &str) -> Result<()> {
    let (w, h) = app.client.get_window_size().await?;
    app.client.set_window_size(390, 780).await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    app.screenshot(name).await?;
    app.client.set_window_size(w as u32, h as u32).await?;
    Ok(())
}

/// The app's code, once registered.
async fn my_code(app: &App) -> Result<String> {
    let code = app.text("#my-code").await?;
    ensure!(
        code.len() == 7 && code.as_bytes()[4] == b'-',
        "odd code {code:?}"
    );
    Ok(code)
}

#[tokio::test]
async fn app_receives_from_cli_sender() -> Result<()> {
    let _one = SERIAL.lock().await;
    let server = SignalServer::start()?;
    let work = tempfile::tempdir()?;
    let inbox = work.path().join("inbox");
    let source = work.path().join("holiday-photos.bin");
    write_random_file(&source, 3 * 1024 * 1024 + 17, 7)?;

    let app = App::launch(&server.url, &[download_dir_pick(&inbox)]).await?;
    configure(&app, "Ana's laptop", &inbox, Some("settings")).await?;
    app.wait_css("#receive-waiting", UI_TIMEOUT).await?;
    let code = my_code(&app).await?;
    app.wait_css("#qr svg", UI_TIMEOUT).await?;
    // The page follows the system's colour preference (WebKit under Xvfb here reports light):
    // the body is painted with that theme's background, not a fixed one.
    let theme = app
        .client
        .execute(
            "return [matchMedia('(prefers-color-scheme: light)').matches, \
             getComputedStyle(document.body).backgroundColor]",
            vec![],
        )
        .await?;
    let light = theme[0].as_bool().unwrap_or(false);
    let background = theme[1].as_str().unwrap_or_default().to_string();
    let want = if light {
        "rgb(236, 239, 244)"
    } else {
        "rgb(43, 48, 59)"
    };
    ensure!(
        background == want,
        "prefers light: {light}, body background {background}, want {want}"
    );
    app.screenshot("receive-waiting").await?;
    phone_screenshot(&app, "receive-phone").await?;

    ensure!(app.notifications()?.is_empty(), "nothing to tell yet");
    // In the background when the offer comes.
    app.client.minimize_window().await?;
    let sender = Cli::start(
        &server.url,
        &[
            "send",
            "--name",
            "Ben's phone",
            "--to",
            &code,
            &source.display().to_string(),
        ],
    )?;
    app.wait_css("#incoming-dialog", Duration::from_secs(60))
        .await?;
    wait_notifications(&app, 1).await?;
    app.client.maximize_window().await?;
    wait_text(&app, "#incoming-from", "Ben's phone").await?;
    app.screenshot("receive-incoming").await?;
    app.wait_text("#incoming-files", "the file", |t| {
        t.contains("holiday-photos.bin")
    })
    .await?;
    app.wait_text("#incoming-summary", "the summary", |t| {
        t.starts_with("1 file")
    })
    .await?;

    app.click("#accept").await?;
    let phase = app
        .wait_phase(
            "receive-transfer",
            &["done", "failed", "cancelled"],
            Duration::from_secs(120),
        )
        .await?;
    ensure!(
        phase == "done",
        "receive ended {phase}: {}",
        app.text("#receive-transfer").await?
    );
    app.wait_css("#open-folder", UI_TIMEOUT).await?;
    app.screenshot("receive-done").await?;
    // The offer came while the window was minimised: it was told through the desktop's
    // notification server (dunst on the test bus). The end came while the window had the
    // focus again: the window showed it, nothing more was raised.
    let notified = wait_notifications(&app, 1).await?;
    ensure!(
        notified[0].app == "PeerDrop"
            && notified[0].summary == "Ben's phone wants to send you 1 file"
            && notified[0].body.contains("holiday-photos.bin"),
        "{notified:?}"
    );

    let (ok, stderr) = sender.wait(Duration::from_secs(60))?;
    ensure!(ok, "peerdrop send failed: {stderr}");
    let received = inbox.join("holiday-photos.bin");
    ensure!(
        blake3_file(&received)? == blake3_file(&source)?,
        "received file differs"
    );
    app.close().await
}

/// The app's desktop notifications, oldest first, once there are `n` (within the UI timeout).
async fn wait_notifications(app: &App, n: usize) -> Result<Vec<peerdrop_e2e::Notification>> {
    let deadline = std::time::Instant::now() + UI_TIMEOUT;
    loop {
        let mut shown = app.notifications()?;
        if shown.len() >= n || std::time::Instant::now() > deadline {
            // dunst lists its history newest first.
            shown.reverse();
            ensure!(shown.len() == n, "notifications: {shown:?}");
            return Ok(shown);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Calls the app's command `cmd` from the page itself, as a compromised page could (its
/// scripts have the same `window.__TAURI__` the UI uses); `with_channel` adds the `onEvent`
/// channel `send_files` wants. `Ok` with the answer, or `Err` with the rejection.
async fn invoke_from_page(
    app: &App,
    cmd: &str,
    args: serde_json::Value,
    with_channel: bool,
) -> Result<std::result::Result<serde_json::Value, String>> {
    let answer = app
        .client
        .execute_async(
            "const [cmd, args, withChannel, done] = arguments;
             const core = window.__TAURI__.core;
             if (withChannel) { args.onEvent = new core.Channel(); }
             core.invoke(cmd, args).then(
               (v) => done({ ok: v === undefined ? null : v }),
               (e) => done({ err: typeof e === 'string' ? e : JSON.stringify(e) }));",
            vec![cmd.into(), args, with_channel.into()],
        )
        .await?;
    Ok(match answer.get("err") {
        Some(err) => Err(err.as_str().unwrap_or_default().to_string()),
        None => Ok(answer.get("ok").cloned().unwrap_or_default()),
    })
}

#[tokio::test]
async fn a_compromised_page_can_neither_send_a_path_nor_move_the_download_folder() -> Result<()> {
    let _one = SERIAL.lock().await;
    let server = SignalServer::start()?;
    let work = tempfile::tempdir()?;
    let secret = work.path().join(".ssh").join("id_ed25519");
    std::fs::create_dir_all(secret.parent().unwrap())?;
    std::fs::write(&secret, b"PRIVATE KEY")?;
    // A receiver that takes anything, waiting for the page's attempt.
    let inbox = work.path().join("eve-inbox");
    let mut receiver = Cli::receive_yes(&server.url, "Eve's sink", &inbox)?;
    let code = receiver.read_code()?;
    let app = App::launch(&server.url, &[]).await?;
    app.wait_css("#page-receive", UI_TIMEOUT).await?;
    my_code(&app).await?;

    // `send_files` with paths where the handles go: refused, naming why.
    let target = serde_json::json!({ "by": "code", "code": code });
    for items in [
        serde_json::json!([secret.display().to_string()]),
        serde_json::json!([secret.parent().unwrap().display().to_string()]),
    ] {
        let answer = invoke_from_page(
            &app,
            "send_files",
            serde_json::json!({ "target": target, "items": items }),
            true,
        )
        .await?;
        let err = answer
            .err()
            .context("send_files took a path from the page")?;
        ensure!(
            err.contains("is not a file or folder chosen in this app"),
            "unexpected refusal: {err}"
        );
    }
    // The command that described any path the page named is gone.
    let answer = invoke_from_page(
        &app,
        "describe_paths",
        serde_json::json!({ "paths": [secret.display().to_string()] }),
        false,
    )
    .await?;
    ensure!(answer.is_err(), "describe_paths still answers: {answer:?}");

    // `save_settings` naming a folder: refused; the download folder stays the default.
    let autostart = work.path().join(".config").join("autostart");
    let answer = invoke_from_page(
        &app,
        "save_settings",
        serde_json::json!({ "settings": {
            "server_url": "", "device_name": "Eve",
            "download_dir": autostart.display().to_string(),
        }}),
        false,
    )
    .await?;
    let err = answer
        .err()
        .context("save_settings took a download folder from the page")?;
    ensure!(err.contains("download_dir"), "unexpected refusal: {err}");
    let view = invoke_from_page(&app, "get_settings", serde_json::json!({}), false)
        .await?
        .map_err(anyhow::Error::msg)?;
    let dir = view["settings"]["download_dir"]
        .as_str()
        .unwrap_or_default();
    ensure!(
        !dir.contains("autostart") && view["settings"]["device_name"] != "Eve",
        "the settings changed: {view}"
    );
    // `open_folder` takes a kind of folder, not a path.
    let answer = invoke_from_page(
        &app,
        "open_folder",
        serde_json::json!({ "folder": secret.parent().unwrap().display().to_string() }),
        false,
    )
    .await?;
    ensure!(answer.is_err(), "open_folder took a path: {answer:?}");

    ensure!(!autostart.exists(), "the page's folder was created");
    ensure!(
        !inbox.join("id_ed25519").exists() && !inbox.join(".ssh").exists(),
        "the secret reached the receiver"
    );
    drop(receiver);
    app.close().await
}

#[tokio::test]
async fn app_sends_to_nearby_cli_receiver() -> Result<()> {
    let _one = SERIAL.lock().await;
    let server = SignalServer::start()?;
    let work = tempfile::tempdir()?;
    let outbox = work.path().join("out");
    std::fs::create_dir_all(outbox.join("album"))?;
    let big = outbox.join("video.mov");
    write_random_file(&big, 48 * 1024 * 1024, 11)?;
    write_random_file(&outbox.join("album/one.jpg"), 200_000, 12)?;
    write_random_file(&outbox.join("album/two.jpg"), 300_001, 13)?;
    let inbox = work.path().join("cli-inbox");

    let mut receiver = Cli::receive_yes(&server.url, "Ben's desktop", &inbox)?;
    let _cli_code = receiver.read_code()?;

    let pick = std::env::join_paths([&big, &outbox.join("album")])?
        .into_string()
        .expect("utf-8 paths");
    let app = App::launch(&server.url, &[("PEERDROP_TEST_PICK", pick)]).await?;
    app.click("#nav-send").await?;
    app.click("#choose-files").await?;
    app.wait_css("#selection", UI_TIMEOUT).await?;
    let total = app.text("#selection-total").await?;
    ensure!(total.starts_with("3 files"), "selection total {total:?}");

    // The receiver shows up in the live nearby list without any refresh.
    let peer = app
        .wait_css(
            r#"#nearby-list .peer[data-name="Ben's desktop"]"#,
            Duration::from_secs(30),
        )
        .await?;
    app.screenshot("send-peers").await?;
    peer.click().await?;

    let phase = app
        .wait_phase(
            "send-transfer",
            &["running", "done", "failed", "declined"],
            Duration::from_secs(60),
        )
        .await?;
    let caught_running = phase == "running";
    if caught_running {
        // Catch it mid-flight, once a speed is known, for the screenshot.
        let _ = app
            .wait_text("#send-transfer [data-testid=speed]", "a speed", |t| {
                t.ends_with("/s")
            })
            .await;
        app.screenshot("send-progress").await?;
    }
    wait_send_done(&app, Duration::from_secs(180)).await?;
    app.screenshot(if caught_running {
        "send-done"
    } else {
        "send-progress"
    })
    .await?;

    let (ok, stderr) = receiver.wait(Duration::from_secs(60))?;
    ensure!(ok, "peerdrop receive failed: {stderr}");
    for rel in ["video.mov", "album/one.jpg", "album/two.jpg"] {
        let got = blake3_file(&inbox.join(rel)).with_context(|| format!("{rel} missing"))?;
        ensure!(got == blake3_file(&outbox.join(rel))?, "{rel} differs");
    }
    app.close().await
}

#[tokio::test]
async fn decline_in_app_fails_the_cli_sender() -> Result<()> {
    let _one = SERIAL.lock().await;
    let server = SignalServer::start()?;
    let work = tempfile::tempdir()?;
    let source = work.path().join("unwanted.txt");
    std::fs::write(&source, b"you do not want this")?;
    let inbox = work.path().join("inbox");

    let app = App::launch(&server.url, &[download_dir_pick(&inbox)]).await?;
    configure(&app, "Ana's laptop", &inbox, None).await?;
    let code = my_code(&app).await?;
    let sender = Cli::start(
        &server.url,
        &[
            "send",
            "--name",
            "Mallory",
            "--to",
            &code,
            &source.display().to_string(),
        ],
    )?;
    app.wait_css("#incoming-dialog", Duration::from_secs(60))
        .await?;
    wait_text(&app, "#incoming-from", "Mallory").await?;
    app.click("#decline").await?;

    let (ok, stderr) = sender.wait(Duration::from_secs(60))?;
    ensure!(!ok, "peerdrop send succeeded although the app declined");
    ensure!(
        stderr.to_lowercase().contains("declined"),
        "stderr lacks 'declined': {stderr}"
    );
    let phase = app
        .wait_phase("receive-transfer", &["declined"], UI_TIMEOUT)
        .await?;
    ensure!(phase == "declined");
    ensure!(
        !inbox.join("unwanted.txt").exists(),
        "a declined file was saved"
    );
    app.close().await
}

#[tokio::test]
async fn a_text_typed_in_the_app_reaches_the_cli_exactly() -> Result<()> {
    let _one = SERIAL.lock().await;
    let server = SignalServer::start()?;
    let work = tempfile::tempdir()?;
    let inbox = work.path().join("in");
    let mut receiver = Cli::start(
        &server.url,
        &[
            "receive",
            "--name",
            "Cy's laptop",
            "--yes",
            "--stdout",
            "--dir",
            &inbox.display().to_string(),
        ],
    )?;
    let code = receiver.wait_stderr_value("code", Duration::from_secs(30))?;

    let app = App::launch(&server.url, &[]).await?;
    app.click("#nav-send").await?;
    let text = "Tickets: https://example.org/t?id=42 — gate B7, 18:05 ✓";
    app.fill("#send-text", text).await?;
    app.fill("#code-input", &code).await?;
    app.click("#send-code").await?;
    wait_send_done(&app, Duration::from_secs(60)).await?;
    let (ok, stderr) = receiver.wait_exit(Duration::from_secs(30))?;
    ensure!(ok, "peerdrop receive failed: {stderr}");
    let printed = receiver.rest_of_stdout()?;
    ensure!(printed == text, "the CLI printed {printed:?}, not {text:?}");
    ensure!(
        !inbox.exists() || std::fs::read_dir(&inbox)?.next().is_none(),
        "a text writes no file"
    );
    // Sent: the field is cleared for the next one.
    wait_value(&app, "#send-text", "").await?;
    app.close().await
}

#[tokio::test]
async fn app_sends_by_code_and_shows_the_receivers_decline() -> Result<()> {
    let _one = SERIAL.lock().await;
    let server = SignalServer::start()?;
    let work = tempfile::tempdir()?;
    let source = work.path().join("notes.txt");
    std::fs::write(&source, b"meeting notes")?;
    // Without --yes and with no terminal to answer, the CLI declines.
    let mut receiver = Cli::start(
        &server.url,
        &[
            "receive",
            "--name",
            "Cy's laptop",
            "--dir",
            &work.path().join("in").display().to_string(),
        ],
    )?;
    let code = receiver.read_code()?;

    let app = App::launch(
        &server.url,
        &[("PEERDROP_TEST_PICK", source.display().to_string())],
    )
    .await?;
    app.click("#nav-send").await?;
    app.click("#choose-files").await?;
    app.wait_css("#selection", UI_TIMEOUT).await?;
    // Typed in lower case without the dash: the app normalises it.
    app.fill("#code-input", &code.to_lowercase().replace('-', ""))
        .await?;
    app.click("#send-code").await?;
    let phase = app
        .wait_phase(
            "send-transfer",
            &["declined", "failed", "done"],
            Duration::from_secs(60),
        )
        .await?;
    ensure!(phase == "declined", "send ended {phase}");
    app.wait_text("[data-testid=send-headline]", "who declined", |t| {
        t == "Cy's laptop declined"
    })
    .await?;
    app.wait_text("[data-testid=send-outcome]", "the reason", |t| {
        t.contains("declined")
    })
    .await?;
    app.screenshot("send-declined").await?;
    let (ok, _) = receiver.wait(Duration::from_secs(30))?;
    ensure!(!ok, "a declining receiver exits non-zero");
    app.close().await
}

/// Names of the items selected on the Send page.
async fn selected_names(app: &App) -> Result<Vec<String>> {
    let mut names = Vec::new();
    for item in app
        .client
        .find_all(fantoccini::Locator::Css("#selection .file-name"))
        .await?
    {
        names.push(item.prop("textContent").await?.unwrap_or_default());
    }
    Ok(names)
}

/// Waits until the Send page shows exactly `want` as the selection.
async fn wait_selection(app: &App, want: &[&str]) -> Result<()> {
    let deadline = std::time::Instant::now() + UI_TIMEOUT;
    let mut last = Vec::new();
    while std::time::Instant::now() < deadline {
        if app
            .client
            .find(fantoccini::Locator::Css("#page-send"))
            .await
            .is_ok()
        {
            last = selected_names(app).await?;
            if last == want {
                return Ok(());
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("the Send page never showed {want:?} selected (last: {last:?})")
}

#[tokio::test]
async fn files_on_the_command_line_and_from_a_second_launch_open_send() -> Result<()> {
    let _one = SERIAL.lock().await;
    let server = SignalServer::start()?;
    let work = tempfile::tempdir()?;
    let first = work.path().join("first.txt");
    std::fs::write(&first, b"from the command line")?;
    std::fs::create_dir(work.path().join("shared"))?;
    let report = work.path().join("shared").join("report 2024.pdf");
    write_random_file(&report, 200_000, 3)?;

    // `peerdrop-app FILE`: the first instance starts on Send with the file selected.
    let app = App::launch_with_args(&server.url, &[], &[first.display().to_string()]).await?;
    wait_selection(&app, &["first.txt"]).await?;

    // "Open with PeerDrop" while it runs: a second process with a relative path, started in
    // the file's folder, hands it over and exits; the first instance selects it.
    app.click("#nav-receive").await?;
    app.wait_css("#page-receive", UI_TIMEOUT).await?;
    let status = app.launch_again(&["report 2024.pdf".into()], &work.path().join("shared"))?;
    ensure!(status.success(), "second launch exited with {status}");
    wait_selection(&app, &["report 2024.pdf"]).await?;
    app.wait_text("#selection-total", "1 file", |t| t.starts_with("1 file"))
        .await?;
    ensure!(
        app.client.windows().await?.len() == 1,
        "the second launch opened a window"
    );
    app.screenshot("send-shared").await?;

    // A missing file is reported, not silently dropped.
    let status = app.launch_again(&["/no/such/file.bin".into()], work.path())?;
    ensure!(status.success(), "second launch exited with {status}");
    app.wait_text("#toast", "the missing file", |t| {
        t.contains("/no/such/file.bin")
    })
    .await?;
    app.close().await
}

#[tokio::test]
async fn deep_link_opens_send_with_the_code_filled_in() -> Result<()> {
    let _one = SERIAL.lock().await;
    let server = SignalServer::start()?;
    let work = tempfile::tempdir()?;
    let app = App::launch(&server.url, &[]).await?;
    app.wait_css("#page-receive", UI_TIMEOUT).await?;

    let status = app.launch_again(&["peerdrop://send?to=k7qm2x".into()], work.path())?;
    ensure!(status.success(), "second launch exited with {status}");
    app.wait_css("#page-send", UI_TIMEOUT).await?;
    let deadline = std::time::Instant::now() + UI_TIMEOUT;
    let mut value = String::new();
    while std::time::Instant::now() < deadline {
        value = app
            .wait_css("#code-input", UI_TIMEOUT)
            .await?
            .prop("value")
            .await?
            .unwrap_or_default();
        if value == "K7QM-2X" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    ensure!(value == "K7QM-2X", "code field shows {value:?}");
    // A link never selects files: the person still chooses what to send.
    ensure!(selected_names(&app).await?.is_empty());

    // A link with a bad code opens nothing and says why.
    let status = app.launch_again(&["peerdrop://send?to=nope".into()], work.path())?;
    ensure!(status.success());
    app.wait_text("#toast", "why the link was refused", |t| {
        t.contains("cannot be opened")
    })
    .await?;
    app.close().await
}

#[tokio::test]
async fn status_follows_the_configured_server_from_fallback_back_to_it() -> Result<()> {
    let _one = SERIAL.lock().await;
    // The configured server is down when the app starts: nothing listens on its port yet.
    let port = peerdrop_e2e::free_port();
    let url = format!("ws://127.0.0.1:{port}/ws");
    let app = App::launch(&url, &[]).await?;
    wait_text(&app, "#status-text", "Online · built-in server").await?;
    let note = app
        .wait_text("#status-note", "why the built-in server stands in", |t| {
            t.starts_with(&format!("{url} is unreachable ("))
                && t.contains("using the built-in server on this computer")
        })
        .await?;
    eprintln!("fallback note: {note}");

    // It comes up: the app goes back to it by itself (tries at most 30 s apart).
    let _server = SignalServer::start_on(&format!("127.0.0.1:{port}"))?;
    let back = format!("Online · 127.0.0.1:{port}");
    let mut shown = Err(anyhow::anyhow!("not waited yet"));
    for _ in 0..3 {
        shown = app
            .wait_text("#status-text", "the configured server", |t| t == back)
            .await;
        if shown.is_ok() {
            break;
        }
    }
    shown?;
    app.wait_gone("#status-note", UI_TIMEOUT).await?;
    // Settings → Connection names it too.
    app.click("#nav-settings").await?;
    wait_text(&app, "#conn-server", &url).await?;
    app.close().await
}

/// The Receive page's QR code as the page draws it, decoded: its SVG path (one `M x y h w v h
/// H x V y` rectangle per dark run, in viewBox units) painted onto a greyscale image and read
/// back with rqrr, an independent decoder.
async fn decode_page_qr(app: &App) -> Result<String> {
    let drawn = app
        .client
        .execute(
            "const svg = document.querySelector('#qr .qr-img svg');
             const path = svg && svg.querySelector('path');
             return path ? [svg.getAttribute('viewBox'), path.getAttribute('d')] : null;",
            vec![],
        )
        .await?;
    let parts: Vec<String> = serde_json::from_value(drawn).context("no QR path on the page")?;
    let size: Vec<usize> = parts[0]
        .split_whitespace()
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    let (w, h) = (size[2], size[3]);
    let mut dark = vec![false; w * h];
    for rect in parts[1].split('M').filter(|r| !r.is_empty()) {
        // "left top" "h" width "v" height "H" left "V" top
        let nums: Vec<usize> = rect
            .split(|c: char| c.is_ascii_alphabetic() || c == ' ')
            .filter(|n| !n.is_empty())
            .map(str::parse)
            .collect::<Result<_, _>>()
            .with_context(|| format!("odd QR path segment {rect:?}"))?;
        let (left, top, width, height) = (nums[0], nums[1], nums[2], nums[3]);
        for y in top..(top + height).min(h) {
            for x in left..(left + width).min(w) {
                dark[y * w + x] = true;
            }
        }
    }
    let mut image =
        rqrr::PreparedImage::prepare_from_greyscale(
            w,
            h,
            |x, y| if dark[y * w + x] { 0 } else { 255 },
        );
    let grids = image.detect_grids();
    ensure!(
        grids.len() == 1,
        "{} QR codes found on the page",
        grids.len()
    );
    let (_, content) = grids[0]
        .decode()
        .map_err(|e| anyhow::anyhow!("the page's QR code does not decode: {e:?}"))?;
    Ok(content)
}

/// The value of the Send page's code field, once it equals `want`.
async fn wait_code_field(app: &App, want: &str) -> Result<()> {
    let deadline = std::time::Instant::now() + UI_TIMEOUT;
    let mut value = String::new();
    while std::time::Instant::now() < deadline {
        value = app
            .wait_css("#code-input", UI_TIMEOUT)
            .await?
            .prop("value")
            .await?
            .unwrap_or_default();
        if value == want {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("code field shows {value:?}, not {want:?}")
}

/// The server the Send page says a code is looked up on, once it shows one.
async fn send_via(app: &App) -> Result<String> {
    let via = app.wait_css("#send-via", UI_TIMEOUT).await?;
    via.attr("data-server")
        .await?
        .context("#send-via without data-server")
}

#[tokio::test]
async fn the_receive_qr_link_opens_send_with_code_and_server_and_sends_through_it() -> Result<()> {
    let _one = SERIAL.lock().await;
    let own = SignalServer::start()?;
    let theirs = SignalServer::start()?;
    let work = tempfile::tempdir()?;
    let source = work.path().join("via-the-link.bin");
    write_random_file(&source, 700_000, 21)?;
    let app = App::launch(
        &own.url,
        &[("PEERDROP_TEST_PICK", source.display().to_string())],
    )
    .await?;

    // Receive: the QR code is this device's link, naming its configured server.
    let code = my_code(&app).await?;
    let qr = app.wait_css("#qr", UI_TIMEOUT).await?;
    let deadline = std::time::Instant::now() + UI_TIMEOUT;
    let mut payload = String::new();
    // (The status, which names the server, and the code arrive one after the other.)
    while !payload.contains("&server=") && std::time::Instant::now() < deadline {
        payload = qr.attr("data-payload").await?.unwrap_or_default();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let link = peerdrop_proto::link::parse(&payload)
        .with_context(|| format!("the QR payload {payload:?} is not a link the app opens"))?;
    ensure!(link.page == peerdrop_proto::link::Page::Send, "{link:?}");
    ensure!(
        link.to.as_deref() == Some(code.as_str()),
        "{link:?} vs {code}"
    );
    ensure!(link.server.as_deref() == Some(own.url.as_str()), "{link:?}");
    ensure!(
        decode_page_qr(&app).await? == payload,
        "the QR code drawn is not the payload"
    );
    let host = own.url.trim_start_matches("ws://").trim_end_matches("/ws");
    wait_text(&app, "#qr-server", &format!("via {host}")).await?;
    app.screenshot("receive-qr-link").await?;

    // That payload, handed to the app's link handler (as a phone's camera or the OS would):
    // Send, with the code and the server filled in.
    let status = app.launch_again(&[payload.clone()], work.path())?;
    ensure!(status.success(), "second launch exited with {status}");
    app.wait_css("#page-send", UI_TIMEOUT).await?;
    wait_code_field(&app, &code).await?;
    ensure!(send_via(&app).await? == own.url);
    // The person can go back to the app's own server.
    app.click("#send-via-clear").await?;
    app.wait_gone("#send-via", UI_TIMEOUT).await?;

    // A `peerdrop receive --qr` on another server: its link alone gets the file there; the
    // app's own server has never heard of that code.
    let inbox = work.path().join("cli-inbox");
    let mut receiver = Cli::start(
        &theirs.url,
        &[
            "receive",
            "--qr",
            "--yes",
            "--name",
            "Dee's desktop",
            "--dir",
            &inbox.display().to_string(),
        ],
    )?;
    let cli_code = receiver.read_code()?;
    let cli_link = receiver.read_value("link")?;
    let status = app.launch_again(&[cli_link], work.path())?;
    ensure!(status.success(), "second launch exited with {status}");
    wait_code_field(&app, &cli_code).await?;
    ensure!(send_via(&app).await? == theirs.url);
    app.wait_text("#send-via-server", "the server's name", |t| {
        theirs.url.contains(t)
    })
    .await?;
    app.click("#choose-files").await?;
    app.wait_css("#selection", UI_TIMEOUT).await?;
    app.client
        .execute(
            "document.getElementById('send-via').scrollIntoView({block: 'center'});",
            vec![],
        )
        .await?;
    app.screenshot("send-via-link").await?;
    app.click("#send-code").await?;
    app.expect_send_done(
        "the send through the link's server",
        Duration::from_secs(120),
    )
    .await?;
    let (ok, stderr) = receiver.wait(Duration::from_secs(60))?;
    ensure!(ok, "peerdrop receive failed: {stderr}");
    ensure!(
        blake3_file(&inbox.join("via-the-link.bin"))? == blake3_file(&source)?,
        "received file differs"
    );
    app.close().await
}

/// Picks the files (the test dialog's fixed paths) and sends them to `code`.
async fn pick_and_send_by_code(app: &App, code: &str) -> Result<()> {
    app.click("#choose-files").await?;
    app.wait_css("#selection", UI_TIMEOUT).await?;
    app.fill("#code-input", code).await?;
    app.click("#send-code").await
}

/// Issue 15, item 1, in the app: the app trusted "Dana's laptop" once; another certificate
/// now answers under that name. The Send page warns, the impostor gets nothing (not even the
/// file list) until the person clicks "Send anyway", and Cancel sends nothing at all.
#[tokio::test]
async fn a_changed_identity_gets_nothing_without_confirmation_in_the_app() -> Result<()> {
    let _one = SERIAL.lock().await;
    let server = SignalServer::start()?;
    let work = tempfile::tempdir()?;
    let source = work.path().join("contract.pdf");
    write_random_file(&source, 300_000, 21)?;
    // 1. The real device: the app sends once and pins it.
    let real_home = work.path().join("real-home");
    let real_inbox = work.path().join("real-inbox");
    let mut real = Cli::receive_yes_in_home(&server.url, "Dana's laptop", &real_inbox, &real_home)?;
    let code = real.read_value("code")?;
    let app = App::launch(
        &server.url,
        &[("PEERDROP_TEST_PICK", source.display().to_string())],
    )
    .await?;
    app.click("#nav-send").await?;
    pick_and_send_by_code(&app, &code).await?;
    app.expect_send_done("first send", Duration::from_secs(60))
        .await?;
    let (ok, stderr) = real.wait(Duration::from_secs(30))?;
    ensure!(ok, "the real device received: {stderr}");

    // 2. An impostor under the same name: warned, and Cancel sends nothing.
    let fake_inbox = work.path().join("fake-inbox");
    let fake_home = work.path().join("impostor-home");
    let mut impostor =
        Cli::receive_yes_in_home(&server.url, "Dana's laptop", &fake_inbox, &fake_home)?;
    let code = impostor.read_value("code")?;
    // A finished send clears the selection: pick the file again.
    pick_and_send_by_code(&app, &code).await?;
    app.wait_css("[data-testid=identity-changed]", Duration::from_secs(60))
        .await?;
    app.wait_text("[data-testid=identity-changed]", "the warning", |t| {
        t.contains("Not the device you trusted") && t.contains("Dana's laptop")
    })
    .await?;
    app.screenshot("send-identity-changed").await?;
    app.click("[data-testid=identity-cancel]").await?;
    let phase = app
        .wait_phase(
            "send-transfer",
            &["done", "failed", "declined", "cancelled"],
            Duration::from_secs(30),
        )
        .await?;
    ensure!(phase == "cancelled", "Cancel ended the send {phase}");
    // The offer (file list) and the verification handshake start together: a receiver that
    // printed no phrase was offered nothing.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let seen = impostor.stderr_so_far();
    ensure!(
        !seen.contains("Verification phrase") && !seen.contains("contract.pdf"),
        "the impostor learned of the files: {seen}"
    );
    ensure!(
        !fake_inbox.join("contract.pdf").exists(),
        "nothing arrived at the impostor"
    );

    // The receiver waited for one transfer; the sender left before offering one.
    let _ = impostor.wait(Duration::from_secs(10));

    // 3. Send anyway: the person confirmed, the file goes (and is verified).
    let mut impostor =
        Cli::receive_yes_in_home(&server.url, "Dana's laptop", &fake_inbox, &fake_home)?;
    let code = impostor.read_value("code")?;
    app.fill("#code-input", &code).await?;
    app.click("#send-code").await?;
    app.wait_css(
        "[data-testid=identity-send-anyway]",
        Duration::from_secs(60),
    )
    .await?;
    app.click("[data-testid=identity-send-anyway]").await?;
    app.expect_send_done("send anyway", Duration::from_secs(60))
        .await?;
    let (ok, stderr) = impostor.wait(Duration::from_secs(30))?;
    ensure!(ok, "the confirmed send arrived: {stderr}");
    ensure!(blake3_file(&fake_inbox.join("contract.pdf"))? == blake3_file(&source)?);
    app.close().await
}

/// What the X clipboard holds now (the app's Copy buttons write it), read with `xsel`.
fn clipboard() -> Result<String> {
    let out = std::process::Command::new("xsel")
        .args(["--clipboard", "--output"])
        .output()
        .context("run xsel (scripts/app-deps.sh installs it)")?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The `id` of the element that has the keyboard focus.
async fn focused_id(app: &App) -> Result<String> {
    let id = app
        .client
        .execute(
            "return document.activeElement ? document.activeElement.id : ''",
            vec![],
        )
        .await?;
    Ok(id.as_str().unwrap_or_default().to_string())
}

/// What the History page lists, newest first: (what, outcome) per entry.
async fn history_rows(app: &App) -> Result<Vec<(String, String)>> {
    let mut rows = Vec::new();
    for entry in app
        .client
        .find_all(fantoccini::Locator::Css("[data-testid=history-entry]"))
        .await?
    {
        let what = entry
            .find(fantoccini::Locator::Css(".history-what"))
            .await?
            .prop("textContent")
            .await?
            .unwrap_or_default();
        rows.push((what, entry.attr("data-outcome").await?.unwrap_or_default()));
    }
    Ok(rows)
}

/// Waits until the History page lists exactly `want`.
async fn wait_history(app: &App, want: &[(&str, &str)]) -> Result<()> {
    let deadline = std::time::Instant::now() + UI_TIMEOUT;
    let mut rows = Vec::new();
    while std::time::Instant::now() < deadline {
        rows = history_rows(app).await?;
        if rows.len() == want.len()
            && rows
                .iter()
                .zip(want)
                .all(|((what, outcome), (w, o))| what == w && outcome == o)
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    anyhow::bail!("the history shows {rows:?}, not {want:?}")
}

/// Waits (at most `timeout`) for the send card to end, and fails unless it ended done.
async fn wait_send_done(app: &App, timeout: Duration) -> Result<()> {
    let phase = app
        .wait_phase(
            "send-transfer",
            &["done", "failed", "declined", "cancelled"],
            timeout,
        )
        .await?;
    ensure!(
        phase == "done",
        "send ended {phase}: {}",
        app.text("#send-transfer").await?
    );
    Ok(())
}

/// Sends `text` from a CLI device to the app and accepts it there.
async fn receive_text_in_app(app: &App, server: &str, text: &str) -> Result<()> {
    app.click("#nav-receive").await?;
    let code = my_code(app).await?;
    let sender = Cli::start(
        server,
        &[
            "send",
            "--name",
            "Ben's phone",
            "--to",
            &code,
            "--text",
            text,
        ],
    )?;
    app.wait_css("#incoming-dialog", Duration::from_secs(60))
        .await?;
    app.click("#accept").await?;
    wait_text(app, "#received-text", text).await?;
    let (ok, stderr) = sender.wait(Duration::from_secs(30))?;
    ensure!(ok, "peerdrop send --text failed: {stderr}");
    Ok(())
}

#[tokio::test]
async fn a_received_web_link_opens_in_the_browser_and_no_other_text_does() -> Result<()> {
    let _one = SERIAL.lock().await;
    let server = SignalServer::start()?;
    let work = tempfile::tempdir()?;
    let inbox = work.path().join("inbox");
    // The desktop's browser launcher, as the app finds it on PATH: it records what it was
    // asked to open (the boundary of this test; no browser runs).
    let launcher = work.path().join("bin");
    let opened = work.path().join("opened.txt");
    std::fs::create_dir_all(&launcher)?;
    let script = launcher.join("xdg-open");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$@\" >> '{}'\n",
            opened.display()
        ),
    )?;
    std::fs::set_permissions(
        &script,
        <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o755),
    )?;
    let path = format!(
        "{}:{}",
        launcher.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let app = App::launch(&server.url, &[download_dir_pick(&inbox), ("PATH", path)]).await?;
    configure(&app, "Ana's laptop", &inbox, None).await?;

    // A text around a link, or another scheme: shown and copied, never opened.
    for text in [
        "Meet at https://example.org/peerdrop?room=7",
        "file:///etc/passwd",
    ] {
        receive_text_in_app(&app, &server.url, text).await?;
        ensure!(
            app.client
                .find(fantoccini::Locator::Css("[data-testid=open-link]"))
                .await
                .is_err(),
            "{text:?} offered to open"
        );
        app.click("#dismiss-receive").await?;
    }

    // Exactly one web link: "Open link" hands it to the browser launcher, as sent.
    let link = "https://example.org/peerdrop?room=7&lang=en";
    receive_text_in_app(&app, &server.url, link).await?;
    app.click("[data-testid=open-link]").await?;
    let deadline = std::time::Instant::now() + UI_TIMEOUT;
    loop {
        let got = std::fs::read_to_string(&opened).unwrap_or_default();
        if got == format!("{link}\n") {
            break;
        }
        ensure!(
            std::time::Instant::now() < deadline,
            "the launcher was asked to open {got:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    app.close().await
}

#[tokio::test]
async fn a_text_shows_and_copies_the_history_survives_a_restart_and_escape_declines() -> Result<()>
{
    let _one = SERIAL.lock().await;
    let server = SignalServer::start()?;
    let work = tempfile::tempdir()?;
    let inbox = work.path().join("inbox");
    let source = work.path().join("report.pdf");
    write_random_file(&source, 200_000, 11)?;
    let app = App::launch(&server.url, &[download_dir_pick(&inbox)]).await?;
    configure(&app, "Ana's laptop", &inbox, None).await?;
    let code = my_code(&app).await?;
    let source_arg = source.display().to_string();
    // Ben's phone: one device (one identity) for every send.
    let ben = work.path().join("ben-home");

    // A file, accepted.
    let sender = Cli::start_in_home(
        &server.url,
        &["send", "--name", "Ben's phone", "--to", &code, &source_arg],
        &ben,
    )?;
    app.wait_css("#incoming-dialog", Duration::from_secs(60))
        .await?;
    app.click("#accept").await?;
    let phase = app
        .wait_phase(
            "receive-transfer",
            &["done", "failed"],
            Duration::from_secs(60),
        )
        .await?;
    ensure!(phase == "done", "the file ended {phase}");
    let (ok, stderr) = sender.wait(Duration::from_secs(30))?;
    ensure!(ok, "peerdrop send failed: {stderr}");

    // A text (markup in it stays text): shown in the dialog, then copied from the card.
    let text = "Meet at https://example.org/peerdrop?room=7 <b>not bold</b>";
    let sender = Cli::start_in_home(
        &server.url,
        &[
            "send",
            "--name",
            "Ben's phone",
            "--to",
            &code,
            "--text",
            text,
        ],
        &ben,
    )?;
    app.wait_css("#incoming-dialog", Duration::from_secs(60))
        .await?;
    wait_text(&app, "#incoming-title", "Incoming text").await?;
    wait_text(&app, "#incoming-text", text).await?;
    app.screenshot("receive-text").await?;
    app.click("#accept").await?;
    wait_text(&app, "#received-text", text).await?;
    app.click("#copy-text").await?;
    let deadline = std::time::Instant::now() + UI_TIMEOUT;
    while clipboard()? != text {
        ensure!(
            std::time::Instant::now() < deadline,
            "the clipboard holds {:?}, not the text",
            clipboard()?
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (ok, stderr) = sender.wait(Duration::from_secs(30))?;
    ensure!(ok, "peerdrop send --text failed: {stderr}");

    // Both in the history, newest first, and still there after a restart.
    app.click("#nav-history").await?;
    wait_history(&app, &[("a text", "received"), ("report.pdf", "received")]).await?;
    let app = app.restart().await?;
    app.click("#nav-history").await?;
    wait_history(&app, &[("a text", "received"), ("report.pdf", "received")]).await?;
    wait_text(&app, "[data-testid=history-text]", text).await?;
    app.screenshot("history").await?;

    // Escape declines an offer: focus was moved into the dialog and comes back after.
    app.click("#nav-receive").await?;
    app.wait_css("#my-code", UI_TIMEOUT).await?;
    let code = my_code(&app).await?;
    app.click("#nav-history").await?;
    let sender = Cli::start_in_home(
        &server.url,
        &["send", "--name", "Ben's phone", "--to", &code, &source_arg],
        &ben,
    )?;
    app.wait_css("#incoming-dialog", Duration::from_secs(60))
        .await?;
    let deadline = std::time::Instant::now() + UI_TIMEOUT;
    while focused_id(&app).await? != "incoming-dialog" {
        ensure!(
            std::time::Instant::now() < deadline,
            "the dialog did not take the focus (it is on {:?})",
            focused_id(&app).await?
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Tab stays inside the dialog: from the last button it wraps to the first.
    app.client
        .active_element()
        .await?
        .send_keys(&fantoccini::key::Key::Tab.to_string())
        .await?;
    let first = focused_id(&app).await?;
    ensure!(first == "decline", "Tab from the dialog went to {first:?}");
    app.client
        .active_element()
        .await?
        .send_keys(&fantoccini::key::Key::Escape.to_string())
        .await?;
    app.wait_gone("#incoming-dialog", UI_TIMEOUT).await?;
    let back = focused_id(&app).await?;
    ensure!(
        back == "nav-history",
        "focus went to {back:?}, not back to where it was"
    );
    let (ok, stderr) = sender.wait(Duration::from_secs(30))?;
    ensure!(
        !ok && stderr.contains("declined"),
        "the sender was not declined: {stderr}"
    );
    app.click("#nav-history").await?;
    wait_history(
        &app,
        &[
            ("report.pdf", "declined"),
            ("a text", "received"),
            ("report.pdf", "received"),
        ],
    )
    .await?;

    // Clearing asks once more, then forgets.
    app.click("#history-clear").await?;
    app.click("#history-clear-confirm").await?;
    app.wait_css("#history-empty", UI_TIMEOUT).await?;
    app.close().await
}

#[tokio::test]
async fn a_trusted_device_is_accepted_without_a_prompt_and_nobody_else_is() -> Result<()> {
    let _one = SERIAL.lock().await;
    let server = SignalServer::start()?;
    let work = tempfile::tempdir()?;
    let inbox = work.path().join("inbox");
    let app = App::launch(&server.url, &[download_dir_pick(&inbox)]).await?;
    configure(&app, "Ana's laptop", &inbox, None).await?;
    let code = my_code(&app).await?;
    let ben = work.path().join("ben-home");
    let send_as = |home: &std::path::Path, file: &std::path::Path| {
        Cli::start_in_home(
            &server.url,
            &[
                "send",
                "--name",
                "Ben's phone",
                "--to",
                &code,
                &file.display().to_string(),
            ],
            home,
        )
    };
    let file = |name: &str, seed: u64| -> Result<std::path::PathBuf> {
        let path = work.path().join(name);
        write_random_file(&path, 150_000, seed)?;
        Ok(path)
    };

    // First offer: asked; "Always accept" ticked.
    let first = file("first.bin", 1)?;
    let sender = send_as(&ben, &first)?;
    app.wait_css("#incoming-dialog", Duration::from_secs(60))
        .await?;
    app.click("#always-accept").await?;
    app.click("#accept").await?;
    let (ok, stderr) = sender.wait(Duration::from_secs(60))?;
    ensure!(ok, "the first send failed: {stderr}");

    // Second offer from the same device: nobody clicks, it arrives and is verified.
    let second = file("second.bin", 2)?;
    let sender = send_as(&ben, &second)?;
    let (ok, stderr) = sender.wait(Duration::from_secs(60))?;
    ensure!(ok, "the trusted device's send failed: {stderr}");
    ensure!(
        blake3_file(&inbox.join("second.bin"))? == blake3_file(&second)?,
        "the trusted device's file differs"
    );
    let phase = app
        .wait_phase("receive-transfer", &["done", "failed"], UI_TIMEOUT)
        .await?;
    ensure!(phase == "done", "the trusted receive shows {phase}");

    // Another device calling itself "Ben's phone": asked, warned, and not offered trust.
    let impostor = work.path().join("impostor-home");
    let third = file("third.bin", 3)?;
    let sender = send_as(&impostor, &third)?;
    app.wait_css("#incoming-dialog", Duration::from_secs(60))
        .await?;
    app.wait_css("#incoming-verify", UI_TIMEOUT).await?;
    ensure!(
        app.client
            .find(fantoccini::Locator::Css("#always-accept"))
            .await
            .is_err(),
        "a changed identity was offered \"Always accept\""
    );
    app.click("#decline").await?;
    let (ok, _) = sender.wait(Duration::from_secs(60))?;
    ensure!(!ok, "the impostor's send succeeded");
    ensure!(
        !inbox.join("third.bin").exists(),
        "the impostor's file arrived"
    );

    // Settings lists the trusted device; after "Stop trusting" it is asked about again.
    app.click("#nav-settings").await?;
    app.wait_text("[data-testid=trusted-device]", "Ben's phone", |t| {
        t.contains("Ben's phone")
    })
    .await?;
    app.client
        .execute(
            "document.getElementById('trusted-devices').scrollIntoView()",
            vec![],
        )
        .await?;
    app.screenshot("settings-trusted").await?;
    app.click("[data-testid=forget-device]").await?;
    app.wait_css("#trusted-none", UI_TIMEOUT).await?;
    let fourth = file("fourth.bin", 4)?;
    let sender = send_as(&ben, &fourth)?;
    app.wait_css("#incoming-dialog", Duration::from_secs(60))
        .await?;
    app.click("#decline").await?;
    let (ok, _) = sender.wait(Duration::from_secs(60))?;
    ensure!(!ok, "an untrusted send went through without a prompt");
    app.close().await
}

/// Whether the Settings page's switch `id` is ticked.
async fn ticked(app: &App, id: &str) -> Result<bool> {
    Ok(app
        .wait_css(&format!("#{id}"), UI_TIMEOUT)
        .await?
        .prop("checked")
        .await?
        .as_deref()
        == Some("true"))
}

/// Clicks the switch `id` and waits until the settings file stores `key` as `want`.
async fn flip(app: &App, id: &str, key: &str, want: bool) -> Result<()> {
    app.click(&format!("#{id}")).await?;
    let file = app
        .home
        .path()
        .join("config/org.peerdrop.PeerDrop/settings.json");
    let deadline = std::time::Instant::now() + UI_TIMEOUT;
    loop {
        let stored = std::fs::read_to_string(&file)
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .and_then(|v| v[key].as_bool());
        if stored == Some(want) && ticked(app, id).await? == want {
            return Ok(());
        }
        ensure!(
            std::time::Instant::now() < deadline,
            "{key} is stored as {stored:?}, not {want}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits (at most `timeout`) until process `pid` has ended.
async fn wait_exit(pid: u32, timeout: Duration) -> Result<()> {
    let deadline = std::time::Instant::now() + timeout;
    while peerdrop_e2e::process_alive(pid) {
        ensure!(
            std::time::Instant::now() < deadline,
            "the app (pid {pid}) still runs {timeout:?} after its window was closed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

#[tokio::test]
async fn notifications_off_start_at_login_and_receiving_with_the_window_closed() -> Result<()> {
    let _one = SERIAL.lock().await;
    let server = SignalServer::start()?;
    let work = tempfile::tempdir()?;
    let inbox = work.path().join("inbox");
    let app = App::launch(&server.url, &[download_dir_pick(&inbox)]).await?;
    configure(&app, "Ana's laptop", &inbox, None).await?;
    let code = my_code(&app).await?;
    let ben = work.path().join("ben-home");
    let send = |name: &str, seed: u64| -> Result<(Cli, std::path::PathBuf)> {
        let path = work.path().join(name);
        write_random_file(&path, 150_000, seed)?;
        let cli = Cli::start_in_home(
            &server.url,
            &[
                "send",
                "--name",
                "Ben's phone",
                "--to",
                &code,
                &path.display().to_string(),
            ],
            &ben,
        )?;
        Ok((cli, path))
    };

    // The defaults: notifications on, everything else off.
    app.click("#nav-settings").await?;
    ensure!(
        ticked(&app, "setting-notifications").await?,
        "notifications start off"
    );
    ensure!(
        !ticked(&app, "setting-background").await?,
        "background starts on"
    );
    ensure!(
        !ticked(&app, "setting-autostart").await?,
        "start at login starts on"
    );

    // Notifications off: an offer while minimised raises none (app_receives_from_cli_sender
    // shows the same offer raising one with the setting on).
    flip(&app, "setting-notifications", "notifications", false).await?;
    app.client.minimize_window().await?;
    let (sender, _) = send("first.bin", 1)?;
    app.wait_css("#incoming-dialog", Duration::from_secs(60))
        .await?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let shown = app.notifications()?;
    ensure!(shown.is_empty(), "notified although turned off: {shown:?}");
    app.client.maximize_window().await?;
    app.click("#always-accept").await?;
    app.click("#accept").await?;
    let (ok, stderr) = sender.wait(Duration::from_secs(60))?;
    ensure!(ok, "the first send failed: {stderr}");

    // Start at login writes the XDG autostart entry (starting hidden), and removes it.
    app.click("#nav-settings").await?;
    let entry = app.home.path().join("config/autostart/peerdrop.desktop");
    flip(&app, "setting-autostart", "start_at_login", true).await?;
    let text = std::fs::read_to_string(&entry).context("no autostart entry")?;
    let app_bin = peerdrop_e2e::binary("PEERDROP_APP_BIN", "peerdrop-app");
    ensure!(
        text.contains(&format!("\nExec={} --hidden\n", app_bin.display())),
        "autostart entry: {text}"
    );
    flip(&app, "setting-autostart", "start_at_login", false).await?;
    ensure!(!entry.exists(), "the autostart entry is still there");

    // Receive in background on, no tray host (Xvfb alone): closing the window (as a window
    // manager does) keeps the app and its node; the window is not hidden (nothing would show
    // the way back), and the trusted device's file arrives, verified.
    flip(&app, "setting-background", "receive_in_background", true).await?;
    app.client
        .execute(
            "document.getElementById('background-settings').scrollIntoView()",
            vec![],
        )
        .await?;
    app.screenshot("settings-background").await?;
    let pid = app.pid()?;
    let asked = peerdrop_e2e::close_window_like_a_window_manager(pid, "PeerDrop")?;
    ensure!(asked == 1, "asked {asked} windows to close");
    tokio::time::sleep(Duration::from_secs(2)).await;
    ensure!(
        peerdrop_e2e::process_alive(pid),
        "closing the window quit the app"
    );
    ensure!(
        peerdrop_e2e::window_shown(pid, "PeerDrop")?,
        "hidden with no tray icon to bring it back"
    );
    let (sender, second) = send("second.bin", 2)?;
    let (ok, stderr) = sender.wait(Duration::from_secs(60))?;
    ensure!(ok, "the send to the closed window failed: {stderr}");
    ensure!(
        blake3_file(&inbox.join("second.bin"))? == blake3_file(&second)?,
        "the file received in the background differs"
    );

    // With a real tray (trayer, an XEmbed system tray) the same close hides the window; the
    // file still arrives; launching PeerDrop again shows the window.
    let tray = peerdrop_e2e::TrayHost::start()?;
    let asked = peerdrop_e2e::close_window_like_a_window_manager(pid, "PeerDrop")?;
    ensure!(asked == 1, "asked {asked} windows to close");
    let deadline = std::time::Instant::now() + UI_TIMEOUT;
    while peerdrop_e2e::window_shown(pid, "PeerDrop")? {
        ensure!(
            std::time::Instant::now() < deadline,
            "the window was not hidden with a tray host there"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (sender, third) = send("third.bin", 3)?;
    let (ok, stderr) = sender.wait(Duration::from_secs(60))?;
    ensure!(ok, "the send to the hidden window failed: {stderr}");
    ensure!(
        blake3_file(&inbox.join("third.bin"))? == blake3_file(&third)?,
        "the file received while hidden differs"
    );
    ensure!(
        peerdrop_e2e::process_alive(pid),
        "the app ended while receiving"
    );
    // The login entry (`--hidden`) starting PeerDrop while it runs leaves the window put away;
    // a plain launch shows it.
    let status = app.launch_again(&["--hidden".to_string()], work.path())?;
    ensure!(
        status.success(),
        "the hidden second launch failed: {status}"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    ensure!(
        !peerdrop_e2e::window_shown(pid, "PeerDrop")?,
        "a login start while running showed the window"
    );
    let status = app.launch_again(&[], work.path())?;
    ensure!(status.success(), "the second launch failed: {status}");
    let deadline = std::time::Instant::now() + UI_TIMEOUT;
    while !peerdrop_e2e::window_shown(pid, "PeerDrop")? {
        ensure!(
            std::time::Instant::now() < deadline,
            "launching PeerDrop again did not show the window"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(tray);

    // Off again: closing the window ends the app.
    app.client.maximize_window().await?;
    app.click("#nav-settings").await?;
    flip(&app, "setting-background", "receive_in_background", false).await?;
    let asked = peerdrop_e2e::close_window_like_a_window_manager(pid, "PeerDrop")?;
    ensure!(asked == 1, "asked {asked} windows to close");
    wait_exit(pid, Duration::from_secs(20)).await?;
    // The session's app is gone; ending the session may report that.
    let _ = app.close().await;
    Ok(())
}
