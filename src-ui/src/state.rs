//! The app-wide reactive state, shared by the pages through Sycamore's context.
//!
//! One [`AppState`] is created by the shell; node updates from the Rust side are folded in by
//! [`AppState::apply_node_update`]. Signals are `Copy`, so the whole struct is too.

use peerdrop_app_ipc::{
    HistoryEntry, NodeState, NodeStatus, NodeUpdate, PickedItem, SendTarget, SettingsView,
};
use peerdrop_proto::events::TransferEvent;
use peerdrop_proto::signal::{DeviceKind, PeerInfo};
use sycamore::prelude::*;

use crate::model::{Phase, Transfer};

/// The pages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tab {
    /// Show the code and wait for files.
    Receive,
    /// Pick files and a device.
    Send,
    /// Finished transfers, both ways.
    History,
    /// Server, name, download folder.
    Settings,
}

impl Tab {
    /// Label in the navigation.
    pub fn label(self) -> &'static str {
        match self {
            Tab::Receive => "Receive",
            Tab::Send => "Send",
            Tab::History => "History",
            Tab::Settings => "Settings",
        }
    }

    /// Stable id fragment for tests (`nav-receive`, ...).
    pub fn slug(self) -> &'static str {
        match self {
            Tab::Receive => "receive",
            Tab::Send => "send",
            Tab::History => "history",
            Tab::Settings => "settings",
        }
    }
}

/// A short message shown at the bottom of the window.
#[derive(Clone, Debug, PartialEq)]
pub struct Toast {
    /// Text.
    pub text: String,
    /// Error (red) rather than information.
    pub error: bool,
    /// Increases with each toast so the same text twice still re-triggers the timer.
    pub serial: u32,
}

/// Reactive state of the whole app.
#[derive(Clone, Copy)]
pub struct AppState {
    /// Page shown.
    pub tab: Signal<Tab>,
    /// Connection to the signaling server.
    pub status: Signal<Option<NodeStatus>>,
    /// This device's code, once registered.
    pub code: Signal<Option<String>>,
    /// This device's name as others see it.
    pub my_name: Signal<String>,
    /// This device's kind as others see it (its icon on the Receive page).
    pub my_kind: Signal<DeviceKind>,
    /// Nearby devices, live.
    pub nearby: Signal<Vec<PeerInfo>>,
    /// This device's typed LAN addresses (`IP:PORT`), for networks that block discovery.
    pub lan_addresses: Signal<Vec<String>>,
    /// Whether multicast (mDNS) discovery is blocked on this network.
    pub lan_blocked: Signal<bool>,
    /// The current or last receive.
    pub receive: Signal<Transfer>,
    /// The current or last send.
    pub send: Signal<Transfer>,
    /// What the user picked to send.
    pub selection: Signal<Vec<PickedItem>>,
    /// A text or link typed on the Send page: sent instead of files when nothing is picked.
    pub send_text: Signal<String>,
    /// The receiver's code typed on the Send page (or filled in by a `peerdrop://send?to=` link).
    pub send_code: Signal<String>,
    /// The signaling server a `peerdrop://send?to=CODE&server=URL` link named: a send by code
    /// looks the code up there (shown on the Send page until cleared or replaced by a link).
    pub send_server: Signal<Option<String>>,
    /// Settings as last loaded or saved.
    pub settings: Signal<Option<SettingsView>>,
    /// Current toast.
    pub toast: Signal<Option<Toast>>,
    /// Where the last send went (target and display name), for "Try again".
    pub last_target: Signal<Option<(SendTarget, String)>>,
    /// Finished transfers, newest first (loaded at start, then added to as they end).
    pub history: Signal<Vec<HistoryEntry>>,
}

impl AppState {
    /// Fresh state on the Receive page.
    pub fn new() -> Self {
        Self {
            tab: create_signal(Tab::Receive),
            status: create_signal(None),
            code: create_signal(None),
            my_name: create_signal(String::new()),
            my_kind: create_signal(DeviceKind::Desktop),
            nearby: create_signal(Vec::new()),
            lan_addresses: create_signal(Vec::new()),
            lan_blocked: create_signal(false),
            receive: create_signal(Transfer::default()),
            send: create_signal(Transfer::default()),
            selection: create_signal(Vec::new()),
            send_text: create_signal(String::new()),
            send_code: create_signal(String::new()),
            send_server: create_signal(None),
            settings: create_signal(None),
            toast: create_signal(None),
            last_target: create_signal(None),
            history: create_signal(Vec::new()),
        }
    }

    /// Folds one update from the node channel in.
    pub fn apply_node_update(&self, update: NodeUpdate) {
        match update {
            NodeUpdate::Status(status) => {
                if status.state != NodeState::Online {
                    self.code.set(None);
                    self.nearby.set(Vec::new());
                }
                self.status.set(Some(status));
            }
            NodeUpdate::Event(TransferEvent::Code { code, name, kind }) => {
                self.code.set(Some(code));
                self.my_name.set(name);
                if let Some(kind) = kind {
                    self.my_kind.set(kind);
                }
            }
            NodeUpdate::Event(TransferEvent::Nearby { peers }) => self.nearby.set(peers),
            NodeUpdate::Event(TransferEvent::Lan { addresses, blocked }) => {
                self.lan_addresses.set(addresses);
                self.lan_blocked.set(blocked);
            }
            NodeUpdate::History(entry) => self.history.update(|list| {
                list.insert(0, entry);
                list.truncate(peerdrop_app_ipc::HISTORY_LIMIT);
            }),
            NodeUpdate::Event(event) => {
                if matches!(event, TransferEvent::Incoming { .. }) {
                    // An offer is answered in a dialog over any page; progress lives on Receive.
                    self.tab.set(Tab::Receive);
                }
                self.receive.update(|t| t.apply(&event));
            }
        }
    }

    /// True when the node is registered.
    pub fn online(&self) -> bool {
        self.status
            .with(|s| s.as_ref().is_some_and(|s| s.state == NodeState::Online))
    }

    /// True while an offer waits for an answer.
    pub fn offer_pending(&self) -> bool {
        self.receive.with(|t| t.phase == Phase::Offered)
    }

    /// Shows a toast.
    pub fn notify(&self, text: impl Into<String>, error: bool) {
        let serial = self
            .toast
            .with_untracked(|t| t.as_ref().map_or(0, |t| t.serial + 1));
        self.toast.set(Some(Toast {
            text: text.into(),
            error,
            serial,
        }));
    }
}

impl Default for AppState {
    fn default() -> Self {
        Self::new()
    }
}
