//! # peerdrop-netbed — real NAT paths in network namespaces
//!
//! A test bed made of Linux network namespaces, run as root:
//!
//! ```text
//!                        "internet"  (namespace pdnb-inet, bridge br0, 203.0.113.0/24)
//!            peerdrop-signal + coturn on 203.0.113.1
//!              /                                        \
//!   router pdnb-r1  wan 203.0.113.11               router pdnb-r2  wan 203.0.113.12
//!   (iptables MASQUERADE, optional --random-fully,  (same; optionally drops all UDP
//!    optional tbf on wan)                            from its LAN)
//!   lan 198.18.1.1/24                               lan 198.18.2.1/24
//!      |            |                                   |
//!   pdnb-h1      pdnb-h1b                            pdnb-h2
//!   198.18.1.10  198.18.1.11                         198.18.2.10
//! ```
//!
//! Only the documentation/benchmarking ranges 203.0.113.0/24 and 198.18.0.0/15 are used, and
//! the "internet" namespace has no default route: nothing the bed does can leave the machine.
//! The real `peerdrop` and `peerdrop-signal` binaries run inside the namespaces
//! (`ip netns exec NS binary ...`), coturn is Debian's `turnserver` started from the repo's
//! `turnserver.conf`.
//!
//! Every bed is built fresh for one case and torn down when dropped. A process-wide file lock
//! (`/run/peerdrop-netbed.lock`) serialises beds across test binaries and processes, and every
//! new bed first removes leftovers of a killed run (namespaces named `pdnb-*` and the processes
//! inside them).
//!
//! [`lan_bed`] is a second, smaller bed: three hosts on one bridge and no server anywhere,
//! for LAN discovery (mDNS) and device-to-device signaling.
//!
//! [`wan_bed`] is a third: two hosts and a router whose forwarding runs through a user-space
//! WAN emulator ([`wan_stage`]: a TUN device, a time-ordered delay queue, seeded random loss,
//! a rate limit) — this kernel has no netem — measured with [`probe`] (UDP ping, TCP blast).
//!
//! Modules: [`bed`] (topology), [`procs`] (binaries, servers, peers), [`cases`] (the path
//! scenarios), [`turn_client`] (a minimal STUN/TURN client for the coturn security tests),
//! [`proxy`] (a recording TCP proxy: what the signaling server sees), [`report`] (the table),
//! [`wan_stage`], [`wan_bed`] and [`probe`] (the emulated WAN).

pub mod bed;
pub mod cases;
pub mod lan_bed;
pub mod probe;
pub mod procs;
pub mod proxy;
pub mod report;
pub mod turn_client;
pub mod wan_bed;
pub mod wan_stage;

/// Why the bed cannot run here, or `None` when it can. `PEERDROP_NETBED=skip` turns a missing
/// prerequisite into a skip; without it the caller must fail loudly.
pub fn prerequisites_missing() -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some("the network test bed must run as root (network namespaces)".into());
    }
    for (tool, args) in [
        ("ip", &["netns", "list"][..]),
        ("iptables", &["--version"][..]),
        ("tc", &["-V"][..]),
        ("turnserver", &["--help"][..]),
    ] {
        let ok = std::process::Command::new(tool)
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok();
        if !ok {
            return Some(format!(
                "`{tool}` is not available (run scripts/deps.sh: iproute2, iptables, coturn)"
            ));
        }
    }
    None
}

/// Whether the user asked to skip the bed explicitly (`PEERDROP_NETBED=skip`).
pub fn skip_requested() -> bool {
    std::env::var("PEERDROP_NETBED").is_ok_and(|v| v == "skip")
}

/// Entry point shared by the test binaries: returns `false` (after printing why) when the bed
/// is explicitly skipped, panics loudly when it cannot run, `true` when it can.
pub fn ready_or_fail() -> bool {
    if skip_requested() {
        eprintln!("netbed: skipped (PEERDROP_NETBED=skip)");
        return false;
    }
    if let Some(why) = prerequisites_missing() {
        eprintln!(
            "netbed: CANNOT RUN: {why}.\n\
             Run as root with iproute2, iptables and coturn installed (scripts/deps.sh), \
             or set PEERDROP_NETBED=skip to skip the network test bed explicitly."
        );
        std::process::exit(101);
    }
    true
}
