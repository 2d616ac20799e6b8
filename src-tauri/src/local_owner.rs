//! Whose is the signaling server already listening on this computer's loopback?
//!
//! With no server configured the app joins a `peerdrop-signal` (or another PeerDrop app) it
//! finds on `127.0.0.1:8787`, so apps and `peerdrop` commands on one computer find each other
//! with no setup. On a shared computer another local user can take that port first and run a
//! server of their own. Such a server is only one more untrusted server (pinning and the
//! verification phrase hold), but it sees who this device talks to, so the app joins a local
//! server only when the listening socket belongs to this same user; otherwise it starts its own
//! (on another port) and says why. Linux tells the owner in `/proc/net/tcp`; elsewhere the owner
//! is [`Owner::Unknown`] and the app joins as before.

/// Who owns the loopback listener on a port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Owner {
    /// This user.
    Me,
    /// Another user (its uid).
    Other(u32),
    /// Nobody listens there, or this platform cannot tell.
    Unknown,
}

/// The owner of the TCP socket listening on `127.0.0.1:port` (or `0.0.0.0:port`).
pub fn loopback_listener(port: u16) -> Owner {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::MetadataExt;
        let (Ok(table), Ok(me)) = (
            std::fs::read_to_string("/proc/net/tcp"),
            std::fs::metadata("/proc/self").map(|m| m.uid()),
        ) else {
            return Owner::Unknown;
        };
        match listener_uid(&table, port) {
            Some(uid) if uid == me => Owner::Me,
            Some(uid) => Owner::Other(uid),
            None => Owner::Unknown,
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = port;
        Owner::Unknown
    }
}

/// The uid of the listening socket on `127.0.0.1:port` or `0.0.0.0:port` in a
/// `/proc/net/tcp` table (addresses in hex, little-endian IPv4; state `0A` is LISTEN).
fn listener_uid(table: &str, port: u16) -> Option<u32> {
    let wanted = [
        format!("0100007F:{port:04X}"),
        format!("00000000:{port:04X}"),
    ];
    table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (local, state, uid) = (fields.get(1)?, fields.get(3)?, fields.get(7)?);
        (*state == "0A" && wanted.iter().any(|w| w == local))
            .then(|| uid.parse().ok())
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:2253 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1001        0 563 1 0 100 0 0 10 0
   1: 0100007F:2253 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 564 1 0 100 0 0 10 0
   2: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000    33        0 565 1 0 100 0 0 10 0";

    #[test]
    fn finds_the_listener_and_its_owner() {
        assert_eq!(
            listener_uid(TABLE, 8787),
            Some(1001),
            "the LISTEN row, not the connection"
        );
        assert_eq!(
            listener_uid(TABLE, 8080),
            Some(33),
            "a listener on every address"
        );
        assert_eq!(listener_uid(TABLE, 9999), None);
        assert_eq!(listener_uid("garbage\n1: x", 8787), None);
    }

    /// A server another user started on loopback is seen as theirs (needs root to start one as
    /// uid 65534 with `setpriv`; CI runs as root).
    #[cfg(target_os = "linux")]
    #[test]
    fn a_loopback_server_of_another_user_is_not_mine() {
        use std::os::unix::fs::MetadataExt;
        if std::fs::metadata("/proc/self").map(|m| m.uid()).ok() != Some(0) {
            eprintln!("not root: cannot start a listener as another user; skipped");
            return;
        }
        let port = {
            let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            probe.local_addr().unwrap().port()
        };
        // Debian's perl-base is essential (always installed) and carries Socket.pm.
        let mut theirs = std::process::Command::new("setpriv")
            .args(["--reuid", "65534", "--regid", "65534", "--clear-groups", "/usr/bin/perl", "-e"])
            .arg(format!(
                "use Socket; socket(S, PF_INET, SOCK_STREAM, 0) or die; \
                 bind(S, sockaddr_in({port}, INADDR_LOOPBACK)) or die; listen(S, 5) or die; sleep 30"
            ))
            .spawn()
            .expect("setpriv and perl");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let mut seen = Owner::Unknown;
        while std::time::Instant::now() < deadline && seen == Owner::Unknown {
            std::thread::sleep(std::time::Duration::from_millis(100));
            seen = loopback_listener(port);
        }
        let _ = theirs.kill();
        let _ = theirs.wait();
        assert_eq!(seen, Owner::Other(65534));

        let mine = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        assert_eq!(
            loopback_listener(mine.local_addr().unwrap().port()),
            Owner::Me
        );
    }
}
