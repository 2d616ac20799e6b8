//! `crate::store` as the machines see it: core's received-name sanitizer.
#[path = "../../../core/src/store/names.rs"]
pub mod names;
