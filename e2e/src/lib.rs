//! # peerdrop-e2e — drives the real PeerDrop app in real WebKit
//!
//! Each test starts a real `peerdrop-signal` on an ephemeral port, launches the app through
//! `tauri-driver` (which runs WebKitWebDriver, which runs the app binary) with an isolated
//! config folder and `PEERDROP_SERVER` pointing at that server, and talks to it as a W3C
//! WebDriver client (fantoccini) while `peerdrop` CLI processes play the other device.
//!
//! Each app also gets its own D-Bus session bus (a private `dbus-daemon`): the app's
//! single-instance lock lives there, so a test can start a second `peerdrop-app` that hands its
//! command line to the first, and an app of an earlier test that is still shutting down can
//! never swallow the next test's launch.
//!
//! Run through `scripts/app-e2e.sh` (builds everything, runs under `xvfb-run`). Binaries are
//! found in the workspace's `target/debug` unless `PEERDROP_APP_BIN`, `PEERDROP_CLI_BIN` or
//! `PEERDROP_SIGNAL_BIN` say otherwise.

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};

/// Default wait for something to appear in the UI.
pub const UI_TIMEOUT: Duration = Duration::from_secs(30);

/// The workspace root (where `target/` and `docs/` are).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("e2e is inside the workspace")
        .to_path_buf()
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

/// Path of a built binary: `$env_var` or `target/debug/<name>`.
pub fn binary(env_var: &str, name: &str) -> PathBuf {
    let path = std::env::var_os(env_var)
        .map(PathBuf::from)
        .unwrap_or_else(|| target_dir().join("debug").join(name));
    assert!(
        path.exists(),
        "{} not found: build it first (scripts/app-e2e.sh does)",
        path.display()
    );
    path.canonicalize().expect("canonical binary path")
}

/// A free TCP port on loopback (racy in theory, fine for tests run one at a time).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// Sends SIGTERM and reaps the process (tauri-driver then stops WebKitWebDriver cleanly);
/// killed after 5 s.
fn terminate(child: &mut Child) {
    peerdrop_testkit::terminate(child, Duration::from_secs(5));
}

/// A `peerdrop-signal` process on an ephemeral loopback port.
pub struct SignalServer {
    child: Child,
    /// `ws://127.0.0.1:PORT/ws`.
    pub url: String,
}

impl SignalServer {
    /// Starts the server and waits for its `listening on ADDR` line.
    pub fn start() -> Result<Self> {
        Self::start_on("127.0.0.1:0")
    }

    /// The same on a given address (e.g. a port an app was configured with before).
    pub fn start_on(listen: &str) -> Result<Self> {
        let bin = binary("PEERDROP_SIGNAL_BIN", "peerdrop-signal");
        let mut child = Command::new(bin)
            .args(["--listen", listen])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("start peerdrop-signal")?;
        let addr = peerdrop_testkit::read_listening_line(&mut child, "peerdrop-signal")?;
        Ok(Self {
            child,
            url: format!("ws://{addr}/ws"),
        })
    }
}

impl Drop for SignalServer {
    fn drop(&mut self) {
        terminate(&mut self.child);
    }
}

/// A `peerdrop` CLI process.
pub struct Cli {
    child: Child,
    /// Collected stderr lines (filled by a reader thread).
    stderr: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    stdout: Option<BufReader<std::process::ChildStdout>>,
    /// The CLI's own identity folder (`PEERDROP_HOME`) when the test gave none: every test
    /// peer is a new device, so identities pinned by earlier runs never interfere.
    _home: Option<tempfile::TempDir>,
}

impl Cli {
    /// Starts `peerdrop <args>` against `server`, as a new device.
    pub fn start(server: &str, args: &[&str]) -> Result<Self> {
        let home = tempfile::tempdir()?;
        let mut cli = Self::start_in_home(server, args, home.path())?;
        cli._home = Some(home);
        Ok(cli)
    }

    /// Starts `peerdrop receive --yes --name NAME --dir INBOX` against `server`, as a new
    /// device: a receiver that accepts whatever it is offered.
    pub fn receive_yes(server: &str, name: &str, inbox: &Path) -> Result<Self> {
        let inbox = inbox.display().to_string();
        Self::start(
            server,
            &["receive", "--yes", "--name", name, "--dir", &inbox],
        )
    }

    /// Like [`Cli::receive_yes`], as the device whose identity lives in `home`.
    pub fn receive_yes_in_home(
        server: &str,
        name: &str,
        inbox: &Path,
        home: &Path,
    ) -> Result<Self> {
        let inbox = inbox.display().to_string();
        Self::start_in_home(
            server,
            &["receive", "--yes", "--name", name, "--dir", &inbox],
            home,
        )
    }

    /// Starts `peerdrop <args>` against `server` as the device whose identity lives in
    /// `home` (the same device across several runs).
    pub fn start_in_home(server: &str, args: &[&str], home: &Path) -> Result<Self> {
        let bin = binary("PEERDROP_CLI_BIN", "peerdrop");
        let mut child = Command::new(bin)
            .args(args)
            .env("PEERDROP_SERVER", server)
            .env("PEERDROP_NO_LAN", "1")
            .env("PEERDROP_HOME", home)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("start peerdrop")?;
        let stderr_pipe = child.stderr.take().expect("piped stderr");
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = stderr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr_pipe).lines().map_while(Result::ok) {
                eprintln!("[peerdrop] {line}");
                sink.lock().expect("stderr lock").push(line);
            }
        });
        let stdout = child.stdout.take().map(BufReader::new);
        Ok(Self {
            child,
            stderr,
            stdout,
            _home: None,
        })
    }

    /// Reads stdout until a line `code: XXXX-XX` and returns the code.
    pub fn read_code(&mut self) -> Result<String> {
        self.read_value("code")
    }

    /// Reads stdout until a line `<key>: VALUE` (`code`, `link` with `receive --qr`) and
    /// returns the value.
    pub fn read_value(&mut self, key: &str) -> Result<String> {
        let stdout = self.stdout.as_mut().context("stdout already consumed")?;
        let prefix = format!("{key}: ");
        let mut line = String::new();
        loop {
            line.clear();
            if stdout.read_line(&mut line)? == 0 {
                bail!("peerdrop exited before printing its {key}");
            }
            if let Some(value) = line.trim().strip_prefix(&prefix) {
                return Ok(value.to_string());
            }
        }
    }

    /// Waits (at most `timeout`) for a stderr line `<key>: VALUE` and returns the value: with
    /// `receive --stdout` the status lines, the code among them, go to stderr.
    pub fn wait_stderr_value(&self, key: &str, timeout: Duration) -> Result<String> {
        let prefix = format!("{key}: ");
        let deadline = Instant::now() + timeout;
        loop {
            let found = self
                .stderr
                .lock()
                .expect("stderr lock")
                .iter()
                .find_map(|l| l.trim().strip_prefix(&prefix).map(str::to_string));
            if let Some(value) = found {
                return Ok(value);
            }
            if Instant::now() > deadline {
                bail!("peerdrop printed no {key} on stderr within {timeout:?}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Everything left on stdout, to its end (call once the process has exited).
    pub fn rest_of_stdout(&mut self) -> Result<String> {
        let mut text = String::new();
        if let Some(stdout) = self.stdout.as_mut() {
            stdout.read_to_string(&mut text)?;
        }
        Ok(text)
    }

    /// What it printed on stderr so far.
    pub fn stderr_so_far(&self) -> String {
        self.stderr.lock().expect("stderr lock").join("\n")
    }

    /// Waits for the process to exit (at most `timeout`); returns success and stderr.
    pub fn wait(mut self, timeout: Duration) -> Result<(bool, String)> {
        self.wait_exit(timeout)
    }

    /// Like [`Cli::wait`], keeping the process's pipes (e.g. for [`Cli::rest_of_stdout`]).
    pub fn wait_exit(&mut self, timeout: Duration) -> Result<(bool, String)> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait()? {
                std::thread::sleep(Duration::from_millis(100)); // let the reader drain stderr
                let stderr = self.stderr.lock().expect("stderr lock").join("\n");
                return Ok((status.success(), stderr));
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                bail!("peerdrop did not finish within {timeout:?}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Cli {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A private D-Bus session bus (`dbus-daemon --session`), stopped on drop.
pub struct SessionBus {
    child: Child,
    /// The value for `DBUS_SESSION_BUS_ADDRESS`.
    pub address: String,
    /// A real notification server (dunst, on the test display) owning
    /// `org.freedesktop.Notifications` on this bus.
    notifications: Option<Child>,
}

/// A desktop notification the notification server received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// The sending application's name.
    pub app: String,
    /// The headline.
    pub summary: String,
    /// The text under it.
    pub body: String,
}

impl SessionBus {
    /// Starts the daemon and waits for the address it prints once it listens.
    pub fn start() -> Result<Self> {
        let mut child = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--nopidfile", "--print-address=1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("start dbus-daemon (package dbus-daemon; scripts/app-deps.sh installs it)")?;
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped stdout")).read_line(&mut line)?;
        let address = line.trim().to_string();
        if address.is_empty() {
            terminate(&mut child);
            bail!("dbus-daemon printed no address");
        }
        let mut bus = Self {
            child,
            address,
            notifications: None,
        };
        bus.start_notification_server()?;
        Ok(bus)
    }

    /// Starts dunst on this bus (it needs the test display), with an empty configuration,
    /// and waits until it owns the notifications name.
    fn start_notification_server(&mut self) -> Result<()> {
        let config = std::env::temp_dir().join("peerdrop-e2e-dunstrc");
        std::fs::write(&config, "[global]\n")?;
        let child = Command::new("dunst")
            .arg("-config")
            .arg(&config)
            .env("DBUS_SESSION_BUS_ADDRESS", &self.address)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("start dunst (package dunst; scripts/app-deps.sh installs it)")?;
        self.notifications = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.dunstctl(&["count", "displayed"])?.status.success() {
            if Instant::now() > deadline {
                bail!("dunst did not start on the test bus (is DISPLAY set?)");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(())
    }

    fn dunstctl(&self, args: &[&str]) -> Result<std::process::Output> {
        Ok(Command::new("dunstctl")
            .args(args)
            .env("DBUS_SESSION_BUS_ADDRESS", &self.address)
            .output()?)
    }

    /// Every notification shown on this bus so far (closes them, so the server lists them).
    pub fn notifications(&self) -> Result<Vec<Notification>> {
        self.dunstctl(&["close-all"])?;
        let out = self.dunstctl(&["history"])?;
        ensure!(out.status.success(), "dunstctl history failed");
        let history: serde_json::Value = serde_json::from_slice(&out.stdout)?;
        let field = |n: &serde_json::Value, key: &str| {
            n[key]["data"].as_str().unwrap_or_default().to_string()
        };
        Ok(history["data"][0]
            .as_array()
            .map(|list| {
                list.iter()
                    .map(|n| Notification {
                        app: field(n, "appname"),
                        summary: field(n, "summary"),
                        body: field(n, "body"),
                    })
                    .collect()
            })
            .unwrap_or_default())
    }
}

impl Drop for SessionBus {
    fn drop(&mut self) {
        if let Some(child) = &mut self.notifications {
            terminate(child);
        }
        terminate(&mut self.child);
    }
}

/// The app running under tauri-driver, with a WebDriver session to it.
pub struct App {
    /// The WebDriver session.
    pub client: Client,
    driver: Child,
    /// Isolated XDG folders (config, data, cache) of this app instance (shared with the
    /// instance [`App::restart`] starts).
    pub home: Arc<tempfile::TempDir>,
    /// The signaling server it was started with.
    server: String,
    /// The extra environment it was started with.
    extra: Vec<(String, String)>,
    /// Environment the app runs with (XDG folders, bus, server), for [`App::launch_again`].
    env: Vec<(String, String)>,
    /// This app's session bus (with its notification server); dropped after the driver
    /// (field order), so the app never loses its bus while it runs.
    bus: SessionBus,
}

impl App {
    /// The app's process id (see [`find_app_pid`]).
    pub fn pid(&self) -> Result<u32> {
        find_app_pid(&self.bus.address)
    }

    /// The desktop notifications the app raised so far.
    pub fn notifications(&self) -> Result<Vec<Notification>> {
        self.bus.notifications()
    }

    /// Launches the app against `server`, with extra environment (`PEERDROP_TEST_PICK`, ...).
    pub async fn launch(server: &str, env: &[(&str, String)]) -> Result<Self> {
        Self::launch_with_args(server, env, &[]).await
    }

    /// Like [`App::launch`], with command-line arguments for the app (files, links).
    pub async fn launch_with_args(
        server: &str,
        env: &[(&str, String)],
        args: &[String],
    ) -> Result<Self> {
        let home = Arc::new(tempfile::tempdir()?);
        for sub in ["config", "data", "cache"] {
            std::fs::create_dir_all(home.path().join(sub))?;
        }
        let extra: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        Self::launch_in(home, server, extra, args).await
    }

    /// Quits the app (as closing its window does) and starts it again with the same user
    /// folders, server and environment: what a person sees after a restart.
    pub async fn restart(self) -> Result<Self> {
        let (home, server, extra) = (self.home.clone(), self.server.clone(), self.extra.clone());
        self.close().await?;
        Self::launch_in(home, &server, extra, &[]).await
    }

    /// Starts the app with `home` as its user folders.
    async fn launch_in(
        home: Arc<tempfile::TempDir>,
        server: &str,
        extra: Vec<(String, String)>,
        args: &[String],
    ) -> Result<Self> {
        let app_bin = binary("PEERDROP_APP_BIN", "peerdrop-app");
        let bus = SessionBus::start()?;
        let mut app_env: Vec<(String, String)> = vec![
            ("PEERDROP_SERVER".into(), server.into()),
            // The app on the host uses the test server only: no multicast onto the host's LAN.
            ("PEERDROP_NO_LAN".into(), "1".into()),
            ("DBUS_SESSION_BUS_ADDRESS".into(), bus.address.clone()),
        ];
        for sub in ["config", "data", "cache"] {
            app_env.push((
                format!("XDG_{}_HOME", sub.to_uppercase()),
                home.path().join(sub).display().to_string(),
            ));
        }
        // No accessibility bus on the private session bus: nothing to wait for.
        app_env.push(("NO_AT_BRIDGE".into(), "1".into()));
        app_env.push((
            "PEERDROP_LOG".into(),
            std::env::var("PEERDROP_LOG").unwrap_or_else(|_| {
                "info,rtc=error,webrtc=error,rtc_ice=error,rtc_sctp=error,rtc_dtls=error".into()
            }),
        ));
        app_env.extend(extra.iter().cloned());
        let (port, native_port) = (free_port(), free_port());
        let mut cmd = Command::new("tauri-driver");
        cmd.args([
            "--port",
            &port.to_string(),
            "--native-port",
            &native_port.to_string(),
        ])
        .envs(app_env.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit());
        let mut driver = cmd
            .spawn()
            .context("start tauri-driver (install it with scripts/app-deps.sh)")?;
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                terminate(&mut driver);
                bail!("tauri-driver did not listen on {port}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let caps = serde_json::json!({
            "tauri:options": { "application": app_bin.display().to_string(), "args": args }
        });
        let caps = caps.as_object().expect("object").clone();
        // tauri-driver listens before the WebKitWebDriver it starts does; on a busy machine the
        // first session request can reach it too early ("connection refused"): retry briefly.
        let deadline = Instant::now() + Duration::from_secs(30);
        let client = loop {
            match ClientBuilder::native()
                .capabilities(caps.clone())
                .connect(&format!("http://127.0.0.1:{port}"))
                .await
            {
                Ok(c) => break c,
                Err(e) if Instant::now() < deadline => {
                    eprintln!("WebDriver session not ready yet ({e}); retrying");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Err(e) => {
                    terminate(&mut driver);
                    bail!("WebDriver session failed: {e}");
                }
            }
        };
        let app = Self {
            client,
            driver,
            home,
            server: server.to_string(),
            extra,
            env: app_env,
            bus,
        };
        app.wait_css(".shell", UI_TIMEOUT)
            .await
            .context("the UI did not render")?;
        Ok(app)
    }

    /// Starts `peerdrop-app ARGS...` a second time, as a file manager or the OS would, with this
    /// app's environment (same user folders, same session bus) from `cwd`, and waits for it to
    /// exit: the single-instance lock makes it hand its command line to this app and quit.
    pub fn launch_again(&self, args: &[String], cwd: &Path) -> Result<std::process::ExitStatus> {
        let mut child = Command::new(binary("PEERDROP_APP_BIN", "peerdrop-app"))
            .args(args)
            .current_dir(cwd)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::inherit())
            .stderr(Stdio::inherit())
            .spawn()
            .context("start a second peerdrop-app")?;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = child.try_wait()? {
                return Ok(status);
            }
            if Instant::now() > deadline {
                terminate(&mut child);
                bail!("the second peerdrop-app did not exit: it opened a window of its own?");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until an element matching `css` exists.
    pub async fn wait_css(&self, css: &str, timeout: Duration) -> Result<Element> {
        self.client
            .wait()
            .at_most(timeout)
            .every(Duration::from_millis(100))
            .for_element(Locator::Css(css))
            .await
            .with_context(|| format!("waiting for {css}"))
    }

    /// Clicks the element matching `css` (waiting for it first).
    pub async fn click(&self, css: &str) -> Result<()> {
        self.wait_css(css, UI_TIMEOUT)
            .await?
            .click()
            .await
            .with_context(|| format!("clicking {css}"))?;
        Ok(())
    }

    /// Text of the element matching `css` (waiting for it first).
    pub async fn text(&self, css: &str) -> Result<String> {
        Ok(self.wait_css(css, UI_TIMEOUT).await?.text().await?)
    }

    /// Waits until the text content of the element matching `css` satisfies `want`; returns
    /// it. (Content, not WebDriver's rendered text, which is empty while an element fades in
    /// and drops text clipped with an ellipsis.)
    pub async fn wait_text(
        &self,
        css: &str,
        what: &str,
        want: impl Fn(&str) -> bool,
    ) -> Result<String> {
        let deadline = Instant::now() + UI_TIMEOUT;
        let mut last = String::new();
        while Instant::now() < deadline {
            if let Ok(el) = self.client.find(Locator::Css(css)).await {
                if let Ok(Some(text)) = el.prop("textContent").await {
                    if want(text.trim()) {
                        return Ok(text.trim().to_string());
                    }
                    last = text;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("{css} never showed {what} (last text: {last:?})")
    }

    /// Waits until no element matches `css`.
    pub async fn wait_gone(&self, css: &str, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.client.find(Locator::Css(css)).await.is_err() {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("{css} still shown after {timeout:?}")
    }

    /// Replaces the value of the input matching `css`.
    pub async fn fill(&self, css: &str, value: &str) -> Result<()> {
        let input = self.wait_css(css, UI_TIMEOUT).await?;
        input.clear().await?;
        input.send_keys(value).await?;
        Ok(())
    }

    /// Waits until the transfer card `id` reports one of `phases` in `data-phase`; returns it.
    pub async fn wait_phase(&self, id: &str, phases: &[&str], timeout: Duration) -> Result<String> {
        let deadline = Instant::now() + timeout;
        let mut last = String::new();
        while Instant::now() < deadline {
            if let Ok(el) = self.client.find(Locator::Css(&format!("#{id}"))).await {
                if let Ok(Some(phase)) = el.attr("data-phase").await {
                    if phases.contains(&phase.as_str()) {
                        return Ok(phase);
                    }
                    last = phase;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("#{id} did not reach {phases:?} within {timeout:?} (last phase: {last:?})")
    }

    /// Waits until the Send page's transfer ends and fails unless it ended `done`, quoting
    /// what the page shows (`what` names the send in the message).
    pub async fn expect_send_done(&self, what: &str, timeout: Duration) -> Result<()> {
        let phase = self
            .wait_phase(
                "send-transfer",
                &["done", "failed", "declined", "cancelled"],
                timeout,
            )
            .await?;
        if phase != "done" {
            bail!(
                "{what} ended {phase}: {}",
                self.text("#send-transfer").await?
            );
        }
        Ok(())
    }

    /// Saves a PNG of the window to `docs/screenshots/<name>.png`.
    pub async fn screenshot(&self, name: &str) -> Result<PathBuf> {
        // Let transitions settle, then make sure the page painted its current state: wait for
        // two animation frames (WebKit under Xvfb can otherwise hand out an older frame).
        tokio::time::sleep(Duration::from_millis(400)).await;
        let painted = self
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 requestAnimationFrame(() => requestAnimationFrame(() => done(document.visibilityState)));",
                vec![],
            )
            .await;
        if !matches!(&painted, Ok(v) if v == "visible") {
            eprintln!("screenshot {name}: page not painting as visible: {painted:?}");
        }
        let png = self.client.screenshot().await?;
        let dir = workspace_root().join("docs").join("screenshots");
        std::fs::create_dir_all(&dir)?;
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png)?;
        eprintln!("screenshot: {}", path.display());
        Ok(path)
    }

    /// Ends the session and stops tauri-driver (and with it WebKitWebDriver and the app).
    pub async fn close(mut self) -> Result<()> {
        let result = self.client.clone().close().await;
        terminate(&mut self.driver);
        result.map_err(Into::into)
    }
}

impl Drop for App {
    fn drop(&mut self) {
        if let Ok(None) = self.driver.try_wait() {
            terminate(&mut self.driver);
        }
    }
}

/// BLAKE3 of a file, lowercase hex.
pub fn blake3_file(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).with_context(|| format!("read {}", path.display()))?;
    Ok(blake3::hash(&bytes).to_hex().to_string())
}

/// Writes `len` pseudo-random (incompressible) bytes to `path`.
pub fn write_random_file(path: &Path, len: usize, seed: u64) -> Result<()> {
    let mut state = seed | 1;
    let mut data = Vec::with_capacity(len);
    while data.len() < len {
        // xorshift64*
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        data.extend_from_slice(&state.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    data.truncate(len);
    std::fs::write(path, data)?;
    Ok(())
}

/// The app process this test started: the `peerdrop-app` whose session bus is `bus_address`
/// (each app gets its own bus, so this is exact even with leftovers of earlier tests).
pub fn find_app_pid(bus_address: &str) -> Result<u32> {
    let app_bin = binary("PEERDROP_APP_BIN", "peerdrop-app");
    let wanted = format!("DBUS_SESSION_BUS_ADDRESS={bus_address}");
    for entry in std::fs::read_dir("/proc")? {
        let Some(pid) = entry?
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(exe) = std::fs::read_link(format!("/proc/{pid}/exe")) else {
            continue;
        };
        if exe != app_bin || !process_alive(pid) {
            continue;
        }
        let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
        if environ
            .split(|b| *b == 0)
            .any(|var| var == wanted.as_bytes())
        {
            return Ok(pid);
        }
    }
    bail!("no running peerdrop-app on bus {bus_address}")
}

/// Whether `pid` is a running process (not gone, not a zombie waiting to be reaped).
pub fn process_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // "PID (comm) STATE ...": the state follows the last ')'.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

/// Asks the window titled `title` of process `pid` to close, as a window manager does when the
/// person clicks its close button: an ICCCM `WM_DELETE_WINDOW` client message (the app then
/// sees a close request, which it may refuse). WebDriver's "close window" is not that: in
/// WebKitGTK it destroys the web view, not the window. Returns how many windows were asked.
pub fn close_window_like_a_window_manager(pid: u32, title: &str) -> Result<usize> {
    let x = x11_windows::Display::open()?;
    let windows = x.windows_of(pid, title);
    for &w in &windows {
        x.send_delete_window(w);
    }
    Ok(windows.len())
}

/// Whether the window titled `title` of process `pid` is mapped (shown, or minimised without a
/// window manager) — `false` once the app hid it; an error when there is no such window.
pub fn window_shown(pid: u32, title: &str) -> Result<bool> {
    let x = x11_windows::Display::open()?;
    let windows = x.windows_of(pid, title);
    ensure!(!windows.is_empty(), "no window {title:?} of process {pid}");
    Ok(windows.iter().any(|&w| x.viewable(w)))
}

/// Xlib, for what WebDriver cannot see: the app's top-level X windows and their state.
mod x11_windows {
    use std::ffi::{CStr, CString};
    use std::os::raw::{c_int, c_long, c_uchar, c_uint, c_ulong};

    use anyhow::{ensure, Result};
    use x11::xlib;

    /// A connection to `$DISPLAY`, closed on drop.
    pub struct Display(*mut xlib::Display);

    impl Display {
        pub fn open() -> Result<Self> {
            // SAFETY: XOpenDisplay with NULL reads $DISPLAY; the result is checked.
            let display = unsafe { xlib::XOpenDisplay(std::ptr::null()) };
            ensure!(
                !display.is_null(),
                "cannot open the X display (DISPLAY unset?)"
            );
            Ok(Self(display))
        }

        fn atom(&self, name: &str) -> xlib::Atom {
            let name = CString::new(name).expect("atom name");
            // SAFETY: a live display and a NUL-terminated name.
            unsafe { xlib::XInternAtom(self.0, name.as_ptr(), xlib::False) }
        }

        /// Top-level windows whose `_NET_WM_PID` is `pid` and title is `title`, that take
        /// `WM_DELETE_WINDOW`.
        pub fn windows_of(&self, pid: u32, title: &str) -> Vec<xlib::Window> {
            let wm_delete = self.atom("WM_DELETE_WINDOW");
            self.top_level()
                .into_iter()
                .filter(|&w| {
                    self.pid(w) == Some(pid)
                        && self.title(w).as_deref() == Some(title)
                        && self.protocols(w).contains(&wm_delete)
                })
                .collect()
        }

        fn top_level(&self) -> Vec<xlib::Window> {
            let (mut root_ret, mut parent) = (0, 0);
            let mut children: *mut xlib::Window = std::ptr::null_mut();
            let mut n: c_uint = 0;
            // SAFETY: out-pointers to locals; the returned list is copied, then freed.
            unsafe {
                let root = xlib::XDefaultRootWindow(self.0);
                xlib::XQueryTree(
                    self.0,
                    root,
                    &mut root_ret,
                    &mut parent,
                    &mut children,
                    &mut n,
                );
                if children.is_null() {
                    return Vec::new();
                }
                let list = std::slice::from_raw_parts(children, n as usize).to_vec();
                xlib::XFree(children.cast());
                list
            }
        }

        fn pid(&self, w: xlib::Window) -> Option<u32> {
            let property = self.atom("_NET_WM_PID");
            let (mut kind, mut format) = (0, 0 as c_int);
            let (mut count, mut after) = (0 as c_ulong, 0 as c_ulong);
            let mut data: *mut c_uchar = std::ptr::null_mut();
            // SAFETY: out-pointers to locals; a 32-bit property comes back as C longs.
            unsafe {
                let status = xlib::XGetWindowProperty(
                    self.0,
                    w,
                    property,
                    0,
                    1,
                    xlib::False,
                    xlib::XA_CARDINAL,
                    &mut kind,
                    &mut format,
                    &mut count,
                    &mut after,
                    &mut data,
                );
                if status != 0 || data.is_null() {
                    return None;
                }
                let pid = (count == 1 && format == 32).then(|| *(data as *const c_ulong) as u32);
                xlib::XFree(data.cast());
                pid
            }
        }

        fn title(&self, w: xlib::Window) -> Option<String> {
            let mut name: *mut std::os::raw::c_char = std::ptr::null_mut();
            // SAFETY: Xlib allocates the name; it is copied, then freed.
            unsafe {
                if xlib::XFetchName(self.0, w, &mut name) == 0 || name.is_null() {
                    return None;
                }
                let text = CStr::from_ptr(name).to_string_lossy().into_owned();
                xlib::XFree(name.cast());
                Some(text)
            }
        }

        fn protocols(&self, w: xlib::Window) -> Vec<xlib::Atom> {
            let mut protocols: *mut xlib::Atom = std::ptr::null_mut();
            let mut count: c_int = 0;
            // SAFETY: Xlib allocates the list; it is copied, then freed.
            unsafe {
                if xlib::XGetWMProtocols(self.0, w, &mut protocols, &mut count) == 0
                    || protocols.is_null()
                {
                    return Vec::new();
                }
                let list = std::slice::from_raw_parts(protocols, count as usize).to_vec();
                xlib::XFree(protocols.cast());
                list
            }
        }

        /// Whether the selection `name` has an owner.
        pub fn selection_owned(&self, name: &str) -> bool {
            // SAFETY: a live display and an interned atom.
            unsafe { xlib::XGetSelectionOwner(self.0, self.atom(name)) != 0 }
        }

        /// Whether `w` is mapped and viewable.
        pub fn viewable(&self, w: xlib::Window) -> bool {
            // SAFETY: a zeroed attributes struct Xlib fills in.
            unsafe {
                let mut attributes: xlib::XWindowAttributes = std::mem::zeroed();
                xlib::XGetWindowAttributes(self.0, w, &mut attributes) != 0
                    && attributes.map_state == xlib::IsViewable
            }
        }

        /// Sends `w` the `WM_DELETE_WINDOW` message a window manager sends on a click on ×.
        pub fn send_delete_window(&self, w: xlib::Window) {
            let (protocols, delete) = (self.atom("WM_PROTOCOLS"), self.atom("WM_DELETE_WINDOW"));
            // SAFETY: a fully initialised client message sent to a window of this display.
            unsafe {
                let mut event: xlib::XEvent = std::mem::zeroed();
                event.client_message = xlib::XClientMessageEvent {
                    type_: xlib::ClientMessage,
                    serial: 0,
                    send_event: xlib::True,
                    display: self.0,
                    window: w,
                    message_type: protocols,
                    format: 32,
                    data: xlib::ClientMessageData::from([
                        delete as c_long,
                        xlib::CurrentTime as c_long,
                        0,
                        0,
                        0,
                    ]),
                };
                xlib::XSendEvent(self.0, w, xlib::False, xlib::NoEventMask, &mut event);
                xlib::XFlush(self.0);
            }
        }
    }

    impl Drop for Display {
        fn drop(&mut self) {
            // SAFETY: opened in `open`, closed once.
            unsafe { xlib::XCloseDisplay(self.0) };
        }
    }
}

/// A real XEmbed system tray on the test display (`trayer`), the tray host an X desktop's
/// panel would be; stopped on drop.
pub struct TrayHost(Child);

impl TrayHost {
    /// Starts trayer and waits until it owns the display's system tray selection.
    pub fn start() -> Result<Self> {
        let child = Command::new("trayer")
            .args([
                "--edge",
                "top",
                "--align",
                "right",
                "--widthtype",
                "pixel",
                "--width",
                "64",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .context("start trayer (scripts/app-deps.sh installs it)")?;
        let host = Self(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !system_tray_owned()? {
            ensure!(
                Instant::now() < deadline,
                "trayer did not take the system tray"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(host)
    }
}

impl Drop for TrayHost {
    fn drop(&mut self) {
        terminate(&mut self.0);
    }
}

/// Whether something owns `_NET_SYSTEM_TRAY_S0` (an XEmbed tray manager).
fn system_tray_owned() -> Result<bool> {
    let x = x11_windows::Display::open()?;
    Ok(x.selection_owned("_NET_SYSTEM_TRAY_S0"))
}
