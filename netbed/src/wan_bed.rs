//! A long internet path between two hosts, emulated: a router namespace whose forwarding goes
//! through the user-space [`WanStage`] (delay, random loss, rate), since this kernel has no
//! netem.
//!
//! ```text
//!   pdnb-wa 198.18.9.10 ──veth── pdnb-wr ──veth── pdnb-wb 198.18.10.10
//!                          va 198.18.9.1 │ vb 198.18.10.1
//!                                 TUN wan0 ⇄ WanStage (this process)
//! ```
//!
//! In the router, policy routing sends everything that arrives on `va` or `vb` into `wan0`
//! (`ip rule iif va lookup 100`, `default dev wan0 table 100`); the stage reads it, and after
//! its delay writes it back into `wan0`, where the kernel routes it on by the main table to
//! the other veth. Packets for the router's own addresses stay local (the local table comes
//! first), so a server on 198.18.9.1 sees the hosts without the impairment. No NAT: both hosts'
//! own addresses are routable, the path is direct.

use std::fs::File;
use std::net::Ipv4Addr;

use crate::bed::{self, run_in, PREFIX};
use crate::wan_stage::{Impairment, StageConfig, StageStats, WanStage};

/// The namespaces of the WAN bed.
pub mod wan_ns {
    /// Host A (the sender in the benches).
    pub const A: &str = "pdnb-wa";
    /// The router running the stage.
    pub const R: &str = "pdnb-wr";
    /// Host B (the receiver).
    pub const B: &str = "pdnb-wb";
}

/// Host A's address.
pub const A_IP: &str = "198.18.9.10";
/// Host B's address.
pub const B_IP: &str = "198.18.10.10";
/// The router on A's side (where servers may listen, unimpaired).
pub const ROUTER_A_IP: &str = "198.18.9.1";
/// The router on B's side.
pub const ROUTER_B_IP: &str = "198.18.10.1";
/// The TUN device in the router.
pub const TUN: &str = "wan0";

/// A built WAN bed; torn down (stage stopped, namespaces removed) on drop.
pub struct WanBed {
    _lock: File,
    stage: Option<WanStage>,
    torn_down: bool,
}

fn ip(args: &[&str]) {
    bed::run("ip", args);
}

impl WanBed {
    /// Builds the bed with `to_b` applied to packets towards B and `to_a` towards A, the loss
    /// RNG seeded with `seed` (after removing leftovers of any bed; beds never coexist).
    pub fn build(to_b: Impairment, to_a: Impairment, seed: u64) -> WanBed {
        let lock = bed::lock();
        bed::remove_leftovers();
        for name in [wan_ns::A, wan_ns::R, wan_ns::B] {
            bed::add_namespace(name);
        }
        for (host, addr, port, gw) in [
            (wan_ns::A, A_IP, "va", ROUTER_A_IP),
            (wan_ns::B, B_IP, "vb", ROUTER_B_IP),
        ] {
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
                wan_ns::R,
            ]);
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
            ip(&[
                "-n",
                wan_ns::R,
                "addr",
                "add",
                &format!("{gw}/24"),
                "dev",
                port,
            ]);
            ip(&["-n", wan_ns::R, "link", "set", port, "up"]);
        }
        run_in(wan_ns::R, "sysctl", &["-qw", "net.ipv4.ip_forward=1"]);
        for knob in ["all", "default"] {
            run_in(
                wan_ns::R,
                "sysctl",
                &["-qw", &format!("net.ipv4.conf.{knob}.rp_filter=0")],
            );
        }
        let config = StageConfig {
            b_net: (B_IP.parse::<Ipv4Addr>().expect("B's address"), 24),
            to_b,
            to_a,
            seed,
        };
        let stage = WanStage::start(wan_ns::R, TUN, config)
            .unwrap_or_else(|e| panic!("starting the WAN stage in {}: {e}", wan_ns::R));
        let bed = WanBed {
            _lock: lock,
            stage: Some(stage),
            torn_down: false,
        };
        run_in(
            wan_ns::R,
            "sysctl",
            &["-qw", &format!("net.ipv4.conf.{TUN}.rp_filter=0")],
        );
        ip(&["-n", wan_ns::R, "link", "set", TUN, "up"]);
        ip(&[
            "-n",
            wan_ns::R,
            "route",
            "add",
            "default",
            "dev",
            TUN,
            "table",
            "100",
        ]);
        for port in ["va", "vb"] {
            ip(&["-n", wan_ns::R, "rule", "add", "iif", port, "lookup", "100"]);
        }
        debug_assert!(wan_ns::R.starts_with(PREFIX));
        bed
    }

    /// Stops the stage and removes the namespaces (also done on drop); returns what the stage
    /// counted (zeros when already torn down).
    pub fn teardown(&mut self) -> StageStats {
        let mut stats = StageStats::default();
        if !self.torn_down {
            self.torn_down = true;
            if let Some(stage) = self.stage.take() {
                stats = stage
                    .stop()
                    .unwrap_or_else(|e| panic!("the WAN stage failed: {e}"));
            }
            bed::remove_leftovers();
        }
        stats
    }
}

impl Drop for WanBed {
    fn drop(&mut self) {
        if !self.torn_down {
            self.torn_down = true;
            drop(self.stage.take());
            bed::remove_leftovers();
        }
    }
}
