//! PeerDrop engine (being built).
