//! Zero setup in the app: with **no server configured anywhere**, the app's Send page lists a
//! `peerdrop receive` running on another host of the same LAN (found by mDNS) and sends to it
//! device to device; the file arrives with the same BLAKE3.
//!
//! The LAN is the netbed's [`LanBed`] (three network namespaces on one bridge). The test
//! thread enters host B's namespace before it starts anything, so tauri-driver, WebKit and the
//! app (with its own built-in loopback server, as on a fresh install) all run on host B, and
//! their multicast never reaches the machine's real networks. Needs root (namespaces); run by
//! `scripts/app-e2e.sh` under Xvfb like the other app tests.

use std::process::Stdio;
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use peerdrop_e2e::{blake3_file, write_random_file, App, UI_TIMEOUT};
use peerdrop_netbed::lan_bed::{lan_ns, LanBed, LanLayout};
use peerdrop_netbed::procs::{peerdrop_lan, Guard, Lines};
use peerdrop_netbed::proxy::enter_netns;

#[test]
fn app_with_no_server_lists_a_lan_receiver_and_sends_to_it() -> Result<()> {
    if !peerdrop_netbed::ready_or_fail() {
        return Ok(());
    }
    let _bed = LanBed::build(LanLayout {
        default_route: true,
    });
    let work = tempfile::tempdir()?;
    let inbox = work.path().join("inbox");
    std::fs::create_dir_all(&inbox)?;
    let receiver_home = tempfile::tempdir()?;
    let mut child = peerdrop_lan(lan_ns::A, receiver_home.path(), &[])
        .args(["receive", "--yes", "--json", "--name", "Laptop-A", "--dir"])
        .arg(&inbox)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("start peerdrop receive on host A")?;
    let mut lines = Lines::new(child.stdout.take().expect("stdout"));
    let receiver = Guard(child);
    lines
        .wait_for("\"event\":\"code\"", Duration::from_secs(20))
        .context("the receiver on host A never printed its code")?;

    let file = work.path().join("from-the-app.bin");
    write_random_file(&file, 6 * 1024 * 1024 + 11, 21)?;

    // The app side runs on host B: a thread of its own enters B's namespace (threads it starts,
    // and processes they spawn, stay there), so the test process itself never leaves the host.
    let sent = file.clone();
    std::thread::spawn(move || drive_app_on_host_b(&sent))
        .join()
        .map_err(|_| anyhow::anyhow!("the app thread panicked"))??;
    lines
        .wait_for("\"event\":\"done\"", Duration::from_secs(30))
        .context("the receiver did not report the transfer done")?;
    drop(receiver);
    let got = blake3_file(&inbox.join("from-the-app.bin"))?;
    ensure!(got == blake3_file(&file)?, "the file arrived changed");
    Ok(())
}

/// Launches the app on host B with no server configured and sends `file` to Laptop-A.
fn drive_app_on_host_b(file: &std::path::Path) -> Result<()> {
    enter_netns(lan_ns::B);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let app = App::launch(
            // No server configured: the app uses its built-in one, on host B's loopback.
            "",
            &[
                ("PEERDROP_NO_LAN", "0".to_string()),
                ("PEERDROP_TEST_PICK", file.display().to_string()),
            ],
        )
        .await?;
        app.click("#nav-send").await?;
        app.click("#choose-files").await?;
        app.wait_css("#selection", UI_TIMEOUT).await?;
        let peer = app
            .wait_css(
                r#"#nearby-list .peer[data-name="Laptop-A"]"#,
                Duration::from_secs(30),
            )
            .await
            .context("the Send page never listed Laptop-A from the LAN")?;
        peer.click().await?;
        app.expect_send_done("the send to Laptop-A", Duration::from_secs(120))
            .await?;
        app.close().await
    })
}
