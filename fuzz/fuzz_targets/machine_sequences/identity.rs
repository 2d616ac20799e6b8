//! `crate::identity` as the machines see it: the pure verification-phrase code of core.
#[path = "../../../core/src/identity/fingerprint.rs"]
mod fingerprint;
#[path = "../../../core/src/identity/sas.rs"]
pub mod sas;
#[path = "../../../core/src/identity/words.rs"]
mod words;
