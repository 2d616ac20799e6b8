//! The three pages of the app.

pub mod receive;
pub mod send;
pub mod settings;
