//! A home LAN with no server anywhere: three hosts on one bridge, like three laptops on one
//! Wi-Fi, for the zero-setup tests (discovery by mDNS, signaling device to device).
//!
//! ```text
//!   switch pdnb-sw: bridge "lan", 198.18.7.1/24 (the "router" address; never a server)
//!        |               |               |
//!     pdnb-la          pdnb-lb         pdnb-lc
//!   198.18.7.10      198.18.7.11     198.18.7.12
//! ```
//!
//! With [`LanLayout::default_route`] the hosts route via 198.18.7.1 (a normal home network);
//! without it they have no default route at all (a direct cable, an offline hotspot), where
//! joining a multicast group without naming an interface fails with ENODEV.
//! [`LanBed::block_multicast`] makes one host drop all multicast, as Wi-Fi client isolation
//! or a VPN does. IPv6 is off, as in [`crate::bed`]: candidates stay on addresses the bed
//! controls.

use std::fs::File;

use crate::bed::{self, run_in, PREFIX};

/// The namespaces of the LAN bed.
pub mod lan_ns {
    /// The switch (bridge) and the router address.
    pub const SWITCH: &str = "pdnb-sw";
    /// Host A (usually the receiver).
    pub const A: &str = "pdnb-la";
    /// Host B (usually the sender).
    pub const B: &str = "pdnb-lb";
    /// Host C (the one whose multicast can be dropped).
    pub const C: &str = "pdnb-lc";
    /// The hosts.
    pub const HOSTS: [&str; 3] = [A, B, C];
}

/// The router address on the bridge.
pub const LAN_ROUTER_IP: &str = "198.18.7.1";

/// Each host's address, by namespace.
pub fn lan_ip(host: &str) -> &'static str {
    match host {
        lan_ns::A => "198.18.7.10",
        lan_ns::B => "198.18.7.11",
        lan_ns::C => "198.18.7.12",
        other => panic!("{other} is not a LAN bed host"),
    }
}

/// How the LAN is set up.
#[derive(Clone, Copy, Debug)]
pub struct LanLayout {
    /// Whether hosts have a default route (via [`LAN_ROUTER_IP`]).
    pub default_route: bool,
}

/// A built LAN bed; torn down on drop.
pub struct LanBed {
    _lock: File,
    torn_down: bool,
}

fn ip(args: &[&str]) {
    bed::run("ip", args);
}

impl LanBed {
    /// Builds the LAN (after removing leftovers of any bed; beds never coexist).
    pub fn build(layout: LanLayout) -> LanBed {
        let lock = bed::lock();
        bed::remove_leftovers();
        let lan = LanBed {
            _lock: lock,
            torn_down: false,
        };
        let all = [lan_ns::SWITCH, lan_ns::A, lan_ns::B, lan_ns::C];
        for name in all {
            bed::add_namespace(name);
        }
        ip(&["-n", lan_ns::SWITCH, "link", "add", "lan", "type", "bridge"]);
        ip(&[
            "-n",
            lan_ns::SWITCH,
            "addr",
            "add",
            &format!("{LAN_ROUTER_IP}/24"),
            "dev",
            "lan",
        ]);
        ip(&["-n", lan_ns::SWITCH, "link", "set", "lan", "up"]);
        for host in lan_ns::HOSTS {
            let port = &host[PREFIX.len()..];
            ip(&[
                "-n",
                host,
                "link",
                "add",
                "eth0",
                "type",
                "veth",
                "peer",
                "name",
                port,
                "netns",
                lan_ns::SWITCH,
            ]);
            ip(&[
                "-n",
                lan_ns::SWITCH,
                "link",
                "set",
                port,
                "master",
                "lan",
                "up",
            ]);
            ip(&[
                "-n",
                host,
                "addr",
                "add",
                &format!("{}/24", lan_ip(host)),
                "dev",
                "eth0",
            ]);
            ip(&["-n", host, "link", "set", "eth0", "up"]);
            if layout.default_route {
                ip(&["-n", host, "route", "add", "default", "via", LAN_ROUTER_IP]);
            }
        }
        lan
    }

    /// Makes `host` drop every multicast packet in and out (as client isolation or a VPN).
    pub fn block_multicast(&self, host: &str) {
        for chain in ["INPUT", "OUTPUT"] {
            run_in(
                host,
                "iptables",
                &["-A", chain, "-d", "224.0.0.0/4", "-j", "DROP"],
            );
        }
    }

    /// Removes everything now (also done on drop).
    pub fn teardown(&mut self) {
        if !self.torn_down {
            self.torn_down = true;
            bed::remove_leftovers();
        }
    }
}

impl Drop for LanBed {
    fn drop(&mut self) {
        self.teardown();
    }
}
