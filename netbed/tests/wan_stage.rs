//! The user-space WAN emulator ([`peerdrop_netbed::wan_stage`]) does what it is configured to
//! do, measured from the hosts on either side of it ([`WanBed`]):
//!
//! - 40 ms configured round trip and 5% loss per direction: no probe comes back faster than
//!   40 ms, the median is within 5 ms of it, the lost fraction is near 1 − 0.95² ≈ 9.75%,
//!   and the stage's own drop counters account for every unanswered probe;
//! - 40 Mbit/s: a TCP transfer through it runs at 70–100% of that rate;
//! - nothing configured: TCP crosses it in bulk (the rate is printed; the benches report it).
//!
//! `cargo test -p peerdrop-netbed --test wan_stage`; needs root and iproute2 (a few seconds).

use std::time::Duration;

use libtest_mimic::{Arguments, Failed, Trial};
use peerdrop_netbed::probe::{tcp_blast, udp_ping, EchoServer};
use peerdrop_netbed::wan_bed::{wan_ns, WanBed, B_IP};
use peerdrop_netbed::wan_stage::Impairment;

fn main() {
    let mut args = Arguments::from_args();
    if !peerdrop_netbed::ready_or_fail() {
        return;
    }
    args.test_threads = Some(1);
    let trials = vec![
        Trial::test("delay_and_loss_are_what_was_configured", delay_and_loss),
        Trial::test("the_rate_limit_holds_a_tcp_transfer_to_it", rate_limit),
        Trial::test("a_clear_stage_carries_bulk_tcp", clear_path),
    ];
    libtest_mimic::run(&args, trials).exit();
}

fn delay_and_loss() -> Result<(), Failed> {
    let imp = Impairment {
        delay: Duration::from_millis(20),
        loss: 0.05,
        ..Impairment::clear()
    };
    let mut bed = WanBed::build(imp, imp, 17);
    let echo = EchoServer::start(wan_ns::B, B_IP)?;
    let ping = udp_ping(wan_ns::A, echo.addr, 600, Duration::from_millis(3))?;
    drop(echo);
    let stats = bed.teardown();
    let (min, median, max) = (ping.min(), ping.median(), ping.max());
    eprintln!(
        "ping: {} sent, loss {:.2}%, rtt min/median/max {min:?}/{median:?}/{max:?}; stage {stats:?}",
        ping.sent,
        ping.loss() * 100.0
    );
    let rtt = Duration::from_millis(40);
    if min < rtt || median > rtt + Duration::from_millis(5) {
        return Err(format!("round trip min {min:?} median {median:?}, configured {rtt:?}").into());
    }
    if !(0.05..0.15).contains(&ping.loss()) {
        return Err(format!("loss {:.3}, expected ≈ 0.0975", ping.loss()).into());
    }
    let unanswered = u64::from(ping.sent) - ping.rtts.len() as u64;
    let dropped = stats.to_b.lost + stats.to_a.lost;
    if dropped != unanswered || stats.to_b.received != u64::from(ping.sent) {
        return Err(
            format!("{unanswered} probes unanswered, stage dropped {dropped}: {stats:?}").into(),
        );
    }
    Ok(())
}

fn rate_limit() -> Result<(), Failed> {
    let imp = Impairment::wan(Duration::from_millis(4), 0.0, Some(40));
    let _bed = WanBed::build(imp, imp, 1);
    let bytes = 4u64 << 20;
    let took = tcp_blast(wan_ns::A, wan_ns::B, B_IP, bytes)?;
    let mbit = bytes as f64 * 8.0 / took.as_secs_f64() / 1e6;
    eprintln!("4 MiB through a 40 Mbit/s stage: {took:?}, {mbit:.1} Mbit/s");
    if !(28.0..=40.5).contains(&mbit) {
        return Err(format!("{mbit:.1} Mbit/s through a 40 Mbit/s limit").into());
    }
    Ok(())
}

fn clear_path() -> Result<(), Failed> {
    let _bed = WanBed::build(Impairment::clear(), Impairment::clear(), 1);
    let bytes = 128u64 << 20;
    let took = tcp_blast(wan_ns::A, wan_ns::B, B_IP, bytes)?;
    let gbit = bytes as f64 * 8.0 / took.as_secs_f64() / 1e9;
    eprintln!("128 MiB through a clear stage: {took:?}, {gbit:.2} Gbit/s");
    // A sanity floor only (CI machines vary); the bench's wan-check reports the real figure.
    if gbit < 0.1 {
        return Err(format!("{gbit:.2} Gbit/s through a clear stage").into());
    }
    Ok(())
}
