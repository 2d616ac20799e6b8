//! Asking the person at the terminal whether to accept an offer.

use peerdrop_core::machine::receiver::trust::{without_asking, AcceptWithoutAsking, TrustVerdict};
use peerdrop_core::store::terminal_safe;
use peerdrop_core::{Decider, Decision, OfferSummary};

/// How many files the prompt lists before summarising the rest.
const LISTED_FILES: usize = 20;

/// How much of an offered text the prompt shows.
const SHOWN_TEXT_CHARS: usize = 500;

/// Lists an offer's files (the first [`LISTED_FILES`]) on stderr.
fn list_files(offer: &OfferSummary) {
    eprintln!(
        "{} wants to send {} file(s), {}:",
        terminal_safe(&offer.from),
        offer.files.len(),
        indicatif::HumanBytes(offer.total_size)
    );
    for file in offer.files.iter().take(LISTED_FILES) {
        eprintln!(
            "  {}  ({})",
            terminal_safe(&file.path),
            indicatif::HumanBytes(file.size)
        );
    }
    if offer.files.len() > LISTED_FILES {
        eprintln!("  … and {} more", offer.files.len() - LISTED_FILES);
    }
}

/// Prints the offer on stderr and reads `y`/`yes` from stdin; anything else (or EOF) declines.
pub struct TerminalDecider;

#[async_trait::async_trait]
impl Decider for TerminalDecider {
    async fn decide(&mut self, offer: &OfferSummary) -> Decision {
        if let Some(text) = &offer.text {
            eprintln!("{} wants to send a text:", terminal_safe(&offer.from));
            let shown: String = text.chars().take(SHOWN_TEXT_CHARS).collect();
            eprintln!("  {}", terminal_safe(&shown));
            if shown.len() < text.len() {
                eprintln!("  … ({} more bytes)", text.len() - shown.len());
            }
        } else {
            list_files(offer);
        }
        if offer.resumable_bytes > 0 {
            eprintln!(
                "  ({} already here from an interrupted attempt: only the rest is sent)",
                indicatif::HumanBytes(offer.resumable_bytes)
            );
        }
        if let Some(v) = &offer.verification {
            if v.changed {
                eprintln!(
                    "!!! This device's identity CHANGED since you trusted it. Accept only if the sender's screen shows: {}",
                    v.phrase
                );
            } else {
                eprintln!(
                    "Verification phrase: {}{}",
                    v.phrase,
                    if v.known {
                        " (known device)"
                    } else {
                        " (compare with the sender's screen)"
                    }
                );
            }
        }
        eprint!("Accept? [y/N] ");
        let answer = tokio::task::spawn_blocking(|| {
            let mut line = String::new();
            std::io::stdin().read_line(&mut line).map(|_| line)
        })
        .await;
        match answer {
            Ok(Ok(line)) if matches!(line.trim().to_lowercase().as_str(), "y" | "yes") => {
                Decision::Accept
            }
            _ => Decision::Decline("the receiver declined".into()),
        }
    }
}

/// `receive --trusted`: accepts a device whose certificate was trusted here before and did not
/// change; asks on the terminal ([`TerminalDecider`]) for everyone else.
pub struct TrustedOrAsk;

#[async_trait::async_trait]
impl Decider for TrustedOrAsk {
    async fn decide(&mut self, offer: &OfferSummary) -> Decision {
        let verification = offer.verification.as_ref();
        match without_asking(verification, AcceptWithoutAsking::Pinned) {
            TrustVerdict::Decided(decision) => {
                if let (Decision::Accept, Some(v)) = (&decision, verification) {
                    eprintln!(
                        "Accepting from {}, a trusted device (verification phrase: {})",
                        terminal_safe(&offer.from),
                        v.phrase
                    );
                }
                decision
            }
            TrustVerdict::Ask => TerminalDecider.decide(offer).await,
        }
    }
}
