//! The pages of the app.

pub mod history;
pub mod receive;
pub mod send;
pub mod settings;
