//! The topology: namespaces, veth links, bridges, NAT routers, shaping and filters.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::process::{Command, Stdio};

/// Prefix of every namespace the bed creates; leftovers with it are removed at start.
pub const PREFIX: &str = "pdnb-";

/// Where the signaling server and coturn listen.
pub const SERVER_IP: &str = "203.0.113.1";
/// Public (WAN) address of router 1.
pub const R1_WAN: &str = "203.0.113.11";
/// Public (WAN) address of router 2.
pub const R2_WAN: &str = "203.0.113.12";
/// Home 1's first host.
pub const H1_IP: &str = "198.18.1.10";
/// Home 1's second host (same LAN as h1).
pub const H1B_IP: &str = "198.18.1.11";
/// Home 2's host.
pub const H2_IP: &str = "198.18.2.10";

/// The namespaces, by role.
pub mod ns {
    /// The "internet": signaling server and coturn.
    pub const INET: &str = "pdnb-inet";
    /// Router (NAT) of home 1.
    pub const R1: &str = "pdnb-r1";
    /// Router (NAT) of home 2.
    pub const R2: &str = "pdnb-r2";
    /// A host in home 1.
    pub const H1: &str = "pdnb-h1";
    /// Another host in home 1.
    pub const H1B: &str = "pdnb-h1b";
    /// A host in home 2.
    pub const H2: &str = "pdnb-h2";
    /// All of them, in creation order.
    pub const ALL: [&str; 6] = [INET, R1, R2, H1, H1B, H2];
}

/// How a home router translates addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Nat {
    /// Plain MASQUERADE: endpoint-independent mapping (keeps the port when it can),
    /// address-and-port-dependent filtering. Hole punching works between two of these.
    Cone,
    /// MASQUERADE `--random-fully`: a fresh random source port for every destination
    /// (endpoint-dependent mapping, "symmetric"). Hole punching between two fails.
    Symmetric,
}

/// What a home router lets through, besides NAT.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Home {
    /// The NAT behaviour.
    pub nat: Nat,
    /// Drop every UDP packet from the LAN to the internet (TCP still works).
    pub block_udp: bool,
    /// Token-bucket limit on the router's WAN egress, in Mbit/s.
    pub shape_mbit: Option<u32>,
}

impl Home {
    /// A cone NAT with nothing blocked or shaped.
    pub const fn cone() -> Home {
        Home {
            nat: Nat::Cone,
            block_udp: false,
            shape_mbit: None,
        }
    }

    /// A symmetric NAT.
    pub const fn symmetric() -> Home {
        Home {
            nat: Nat::Symmetric,
            ..Home::cone()
        }
    }
}

/// The whole bed configuration.
#[derive(Clone, Copy, Debug)]
pub struct Layout {
    /// Home 1 (hosts h1 and h1b).
    pub home1: Home,
    /// Home 2 (host h2).
    pub home2: Home,
}

/// A built topology; torn down on drop. Holds the global bed lock meanwhile.
pub struct Topology {
    _lock: File,
    torn_down: bool,
}

/// Runs `ip`/`iptables`/`tc`/`sysctl`, panicking with its stderr on failure.
pub fn run(program: &str, args: &[&str]) {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    assert!(
        out.status.success(),
        "`{program} {}` failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr).trim()
    );
}

/// Runs `program args` inside namespace `ns`.
pub fn run_in(ns: &str, program: &str, args: &[&str]) {
    let mut full = vec!["netns", "exec", ns, program];
    full.extend_from_slice(args);
    run("ip", &full);
}

fn ip(args: &[&str]) {
    run("ip", args);
}

/// Creates namespace `name` with loopback up and IPv6 off (IPv4 only: keeps ICE candidates to
/// the addresses the bed controls).
pub(crate) fn add_namespace(name: &str) {
    ip(&["netns", "add", name]);
    ip(&["-n", name, "link", "set", "lo", "up"]);
    for knob in ["all", "default"] {
        run_in(
            name,
            "sysctl",
            &["-qw", &format!("net.ipv6.conf.{knob}.disable_ipv6=1")],
        );
    }
}

/// Takes the machine-wide bed lock (blocking), so two beds never coexist.
pub(crate) fn lock() -> File {
    let path = "/run/peerdrop-netbed.lock";
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .unwrap_or_else(|e| panic!("cannot open {path}: {e}"));
    // SAFETY: flock on a valid, owned descriptor.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
    assert_eq!(rc, 0, "flock {path}: {}", std::io::Error::last_os_error());
    file
}

/// Names of existing namespaces that start with [`PREFIX`].
fn leftover_namespaces() -> Vec<String> {
    let out = Command::new("ip")
        .args(["netns", "list"])
        .output()
        .expect("ip netns list");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| n.starts_with(PREFIX))
        .map(str::to_string)
        .collect()
}

/// Kills every process inside our namespaces and deletes the namespaces (and with them their
/// veths, bridges, qdiscs and iptables rules), and removes work folders (`$TMPDIR/pdnb-*`) a
/// killed run left behind. Call it holding the bed lock.
pub fn remove_leftovers() {
    if let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) {
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().starts_with(PREFIX) {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
    for name in leftover_namespaces() {
        if let Ok(out) = Command::new("ip").args(["netns", "pids", &name]).output() {
            for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                if let Ok(pid) = pid.parse::<i32>() {
                    // SAFETY: signalling a pid that lives in a namespace only this bed creates.
                    unsafe {
                        libc::kill(pid, libc::SIGKILL);
                    }
                }
            }
        }
        let _ = Command::new("ip")
            .args(["netns", "del", &name])
            .stderr(Stdio::null())
            .status();
    }
}

impl Topology {
    /// Builds the bed for `layout` (after removing any leftovers).
    pub fn build(layout: Layout) -> Topology {
        let lock = lock();
        remove_leftovers();
        let topo = Topology {
            _lock: lock,
            torn_down: false,
        };
        for name in ns::ALL {
            add_namespace(name);
        }
        // The internet: one bridge, the servers' address on it, no default route.
        ip(&["-n", ns::INET, "link", "add", "br0", "type", "bridge"]);
        ip(&[
            "-n",
            ns::INET,
            "addr",
            "add",
            "203.0.113.1/24",
            "dev",
            "br0",
        ]);
        ip(&["-n", ns::INET, "link", "set", "br0", "up"]);

        for (router, wan, lan_net, home) in [
            (ns::R1, R1_WAN, "198.18.1.1/24", layout.home1),
            (ns::R2, R2_WAN, "198.18.2.1/24", layout.home2),
        ] {
            let port = &router[PREFIX.len()..];
            ip(&[
                "-n",
                router,
                "link",
                "add",
                "wan",
                "type",
                "veth",
                "peer",
                "name",
                port,
                "netns",
                ns::INET,
            ]);
            ip(&["-n", ns::INET, "link", "set", port, "master", "br0", "up"]);
            ip(&[
                "-n",
                router,
                "addr",
                "add",
                &format!("{wan}/24"),
                "dev",
                "wan",
            ]);
            ip(&["-n", router, "link", "set", "wan", "up"]);
            ip(&["-n", router, "link", "add", "lan", "type", "bridge"]);
            ip(&["-n", router, "addr", "add", lan_net, "dev", "lan"]);
            ip(&["-n", router, "link", "set", "lan", "up"]);
            run_in(router, "sysctl", &["-qw", "net.ipv4.ip_forward=1"]);
            let mut masq = vec![
                "-t",
                "nat",
                "-A",
                "POSTROUTING",
                "-o",
                "wan",
                "-j",
                "MASQUERADE",
            ];
            if home.nat == Nat::Symmetric {
                masq.push("--random-fully");
            }
            run_in(router, "iptables", &masq);
            // Like a home router: unsolicited packets to the WAN address are dropped. Dropping
            // them before conntrack confirms them matters: otherwise a peer's early hole-punch
            // packet leaves a conntrack entry whose reply tuple collides with our own later
            // mapping, and MASQUERADE picks another port (a cone NAT turns symmetric).
            run_in(
                router,
                "iptables",
                &["-A", "INPUT", "-i", "wan", "-p", "udp", "-j", "DROP"],
            );
            if home.block_udp {
                run_in(
                    router,
                    "iptables",
                    &["-A", "FORWARD", "-i", "lan", "-p", "udp", "-j", "DROP"],
                );
            }
            if let Some(mbit) = home.shape_mbit {
                let rate = format!("{mbit}mbit");
                run_in(
                    router,
                    "tc",
                    &[
                        "qdisc", "add", "dev", "wan", "root", "tbf", "rate", &rate, "burst",
                        "64kb", "latency", "50ms",
                    ],
                );
            }
        }
        for (host, addr, router, gw) in [
            (ns::H1, H1_IP, ns::R1, "198.18.1.1"),
            (ns::H1B, H1B_IP, ns::R1, "198.18.1.1"),
            (ns::H2, H2_IP, ns::R2, "198.18.2.1"),
        ] {
            let port = &host[PREFIX.len()..];
            ip(&[
                "-n", host, "link", "add", "eth0", "type", "veth", "peer", "name", port, "netns",
                router,
            ]);
            ip(&["-n", router, "link", "set", port, "master", "lan", "up"]);
            ip(&[
                "-n",
                host,
                "addr",
                "add",
                &format!("{addr}/24"),
                "dev",
                "eth0",
            ]);
            ip(&["-n", host, "link", "set", "eth0", "up"]);
            ip(&["-n", host, "route", "add", "default", "via", gw]);
        }
        topo
    }

    /// Removes everything now (also done on drop).
    pub fn teardown(&mut self) {
        if !self.torn_down {
            self.torn_down = true;
            remove_leftovers();
        }
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        self.teardown();
    }
}
