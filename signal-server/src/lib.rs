//! Signal server (being built).
