//! Real NAT paths: every case builds the namespace bed, runs real `peerdrop` processes and
//! checks the path both peers report and the BLAKE3 of what arrived. At the end a table is
//! printed: case, path chosen, MB/s, hash ok. Cases run one at a time (the bed is global).
//!
//! `cargo test -p peerdrop-netbed --test nat_paths [-- CASE]`; needs root, iproute2,
//! iptables and coturn. `PEERDROP_NETBED=skip` skips it explicitly; anything else missing fails.

use std::sync::{Arc, Mutex};

use libtest_mimic::{Arguments, Failed, Trial};
use peerdrop_netbed::{cases, report};

fn main() {
    let mut args = Arguments::from_args();
    if !peerdrop_netbed::ready_or_fail() {
        return;
    }
    // One bed at a time: the cases share namespace names and the machine's two cores.
    args.test_threads = Some(1);
    let results: Arc<Mutex<Vec<report::CaseResult>>> = Arc::default();
    let trials = cases::all()
        .into_iter()
        .map(|case| {
            let results = results.clone();
            Trial::test(case.name, move || {
                let outcome = cases::run(&case);
                let failed = outcome.as_ref().err().cloned();
                results
                    .lock()
                    .unwrap()
                    .push((case.name.to_string(), outcome));
                match failed {
                    None => Ok(()),
                    Some(why) => Err(Failed::from(why)),
                }
            })
        })
        .collect();
    let conclusion = libtest_mimic::run(&args, trials);
    let results = results.lock().unwrap();
    if !results.is_empty() {
        println!("\nNetwork test bed results\n{}", report::table(&results));
    }
    conclusion.exit();
}
