//! Child processes as tests use them.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The first line a PeerDrop server prints on stdout once it listens: `listening on ADDR`.
pub const LISTENING_PREFIX: &str = "listening on ";

/// A child process killed (and reaped) when dropped, so a failing test leaves nothing behind.
#[derive(Debug)]
pub struct KillOnDrop(pub Child);

impl KillOnDrop {
    /// The child's process id.
    pub fn id(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Why a server's address could not be learned.
#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    /// The program could not be started.
    #[error("cannot start {program}: {source}")]
    Spawn {
        /// What was started.
        program: String,
        /// Why it did not start.
        #[source]
        source: std::io::Error,
    },
    /// Its stdout was not piped, or reading it failed.
    #[error("cannot read the first line of {program}: {reason}")]
    Read {
        /// What was started.
        program: String,
        /// Why.
        reason: String,
    },
    /// It ended, or printed something else first.
    #[error("{program} printed {line:?} instead of `listening on ADDR` (did it fail to start?)")]
    Unexpected {
        /// What was started.
        program: String,
        /// What it printed (empty: it exited).
        line: String,
    },
}

/// Reads `child`'s first stdout line and returns the address in `listening on ADDR`.
pub fn read_listening_line(child: &mut Child, program: &str) -> Result<String, ListenError> {
    let stdout = child.stdout.take().ok_or_else(|| ListenError::Read {
        program: program.to_string(),
        reason: "stdout is not piped".into(),
    })?;
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .map_err(|e| ListenError::Read {
            program: program.to_string(),
            reason: e.to_string(),
        })?;
    match line.trim().strip_prefix(LISTENING_PREFIX) {
        Some(addr) if !addr.is_empty() => Ok(addr.to_string()),
        _ => Err(ListenError::Unexpected {
            program: program.to_string(),
            line: line.trim().to_string(),
        }),
    }
}

/// Spawns `cmd` with stdout piped and waits for its `listening on ADDR` line: the process
/// (killed on drop) and `ADDR`. Stderr is left as `cmd` configured it.
pub fn spawn_listening(cmd: &mut Command) -> Result<(KillOnDrop, String), ListenError> {
    let program = cmd.get_program().to_string_lossy().into_owned();
    let child = cmd
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|source| ListenError::Spawn {
            program: program.clone(),
            source,
        })?;
    let mut child = KillOnDrop(child);
    let addr = read_listening_line(&mut child.0, &program)?;
    Ok((child, addr))
}

/// Polls `child` until it exits or `timeout` passes (then kills it and returns `None`).
pub fn wait_timeout(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Asks `child` to stop with SIGTERM (so it can shut down cleanly: a server drains, a
/// WebDriver closes its browser), waits up to `grace`, then kills it. Returns how it ended.
pub fn terminate(child: &mut Child, grace: Duration) -> Option<ExitStatus> {
    if let Ok(Some(status)) = child.try_wait() {
        return Some(status);
    }
    // SAFETY: kill(2) on the pid of a child we own and have not reaped yet.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
    }
    wait_timeout(child, grace)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_address_a_server_announces() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo 'listening on 127.0.0.1:4242'; sleep 30"]);
        let (mut child, addr) = spawn_listening(&mut cmd).unwrap();
        assert_eq!(addr, "127.0.0.1:4242");
        let status = terminate(&mut child.0, Duration::from_secs(5)).expect("stopped");
        assert!(!status.success(), "ended by the signal");
    }

    #[test]
    fn a_server_that_says_something_else_is_an_error_naming_what_it_said() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo 'error: port in use'"]);
        match spawn_listening(&mut cmd) {
            Err(ListenError::Unexpected { line, .. }) => assert_eq!(line, "error: port in use"),
            other => panic!("{other:?}"),
        }
        let mut missing = Command::new("/nonexistent/peerdrop-signal");
        assert!(matches!(
            spawn_listening(&mut missing),
            Err(ListenError::Spawn { .. })
        ));
    }

    #[test]
    fn a_late_child_is_killed_at_the_deadline() {
        let mut child = Command::new("sleep").arg("30").spawn().unwrap();
        let started = Instant::now();
        assert_eq!(wait_timeout(&mut child, Duration::from_millis(100)), None);
        assert!(started.elapsed() < Duration::from_secs(10));
        assert!(child.try_wait().unwrap().is_some(), "reaped");
    }
}
