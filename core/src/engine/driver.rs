//! The one driver loop both roles run: it moves messages between a machine and its
//! connection, fires the machine's timers and replaces a lost connection when the machine
//! says so. It decides nothing (quinn's `ConnectionDriver` is the model): what a message,
//! a timer or a lost connection means is the machine's business, and what a role does
//! besides — streaming files for the sender, the disk and the prompt for the receiver — is
//! behind [`Role`].
//!
//! One turn: carry out the machine's actions (a send that fails counts as a lost
//! connection), then wait for the first of: a control message, one of the role's own events,
//! the connection's upkeep (peer gone, path lost, a limit broken), the machine's deadline,
//! cancel, a progress tick — and hand it to the machine.

use peerdrop_proto::transfer::ControlMsg;
use std::time::Duration;
use tokio::sync::mpsc;

use super::channels::ChannelEvent;
use super::clock::{sleep_until_or_never, Clock, MachineTimer};
use super::connection::{Background, Connection};
use super::rejoin::Gave;
use super::CancellationToken;
use crate::machine::time::Timestamp;
use crate::machine::Outcome;

/// How often the role's progress tick runs.
pub const PROGRESS_INTERVAL: Duration = Duration::from_millis(250);

/// What the driver itself carries out of a machine's actions.
pub(super) enum Common<A> {
    /// Send on the control channel.
    Send(ControlMsg),
    /// Drop the connection (not the transfer) and get a new one ([`Role::rejoin`]).
    Rejoin,
    /// The transfer is over.
    Finish(Outcome),
    /// Everything else: the role's ([`Role::carry_out`]).
    Own(A),
}

/// One of the role's own events ([`Role::next_own`]).
pub(super) enum Own<I> {
    /// Hand this to the machine.
    Input(I),
    /// A channel of the connection closed (`what` names it): lost, unless this side refused
    /// the peer ([`Connection::refusal`]).
    ChannelClosed(&'static str),
    /// Nothing for the machine.
    Nothing,
}

/// A role: its machine, and what it does besides moving control messages.
#[async_trait::async_trait]
pub(super) trait Role: Send {
    /// The machine's inputs.
    type Input: Send;
    /// The machine's actions.
    type Action: Send;

    /// The machine's `handle(now, input)`.
    fn handle(&mut self, now: Timestamp, input: Self::Input) -> Vec<Self::Action>;
    /// The machine's `handle_timeout(now)`.
    fn handle_timeout(&mut self, now: Timestamp) -> Vec<Self::Action>;
    /// The machine's `poll_timeout()`.
    fn poll_timeout(&self) -> Option<Timestamp>;
    /// Which of an action's kinds the driver carries out itself.
    fn sort(action: Self::Action) -> Common<Self::Action>;

    /// A control message arrived (`Err`: it could not be read).
    fn control(&mut self, msg: Result<ControlMsg, String>) -> Self::Input;
    /// The connection failed; the peer may still be reachable.
    fn lost(&self, why: String) -> Self::Input;
    /// The peer is gone for good.
    fn gone(&self) -> Self::Input;
    /// This side ends the transfer for `why` (e.g. it refused the peer).
    fn fail(&self, why: String) -> Self::Input;
    /// The local user cancelled.
    fn cancelled(&self) -> Self::Input;
    /// The server said the peer left (`None`: nothing to tell the machine).
    fn peer_left(&mut self) -> Option<Self::Input>;
    /// Whether the connection's upkeep ([`Connection::next_background`]) still matters.
    fn watches_upkeep(&self) -> bool {
        true
    }

    /// Carries out one of the role's actions, on the current connection when there is one
    /// (`None` after a failed rejoin: the ending's events must still go out); `Some` input
    /// ends this batch of actions and goes to the machine (e.g. the disk worker stopped).
    async fn carry_out(
        &mut self,
        action: Self::Action,
        conn: Option<&mut Connection>,
    ) -> Option<Self::Input>;
    /// Waits for the role's own next event (cancel-safe: it runs inside a `select!`).
    async fn next_own(&mut self) -> Own<Self::Input>;
    /// The progress tick; `Some` input when the machine should hear of it.
    fn tick(&mut self) -> Option<Self::Input>;

    /// Gets a new connection to the same peer; the machine's deadline bounds the wait.
    async fn rejoin(&mut self, cancel: &CancellationToken) -> Result<Connection, Gave>;
    /// A connection is up (the first, or a new one): its data events are the role's.
    fn take_data(&mut self, data: mpsc::Receiver<ChannelEvent>);
    /// A new connection replaced a lost one; `Some` input tells the machine.
    fn rejoined(&mut self, conn: &Connection) -> Option<Self::Input>;
    /// The old connection is about to be dropped (e.g. checkpoint what is on disk).
    async fn before_rejoin(&mut self) {}
}

/// How the loop ended: the outcome, and the connection (when one is up) with its control
/// events, for the role to close as it should.
pub(super) struct Ended {
    pub outcome: Outcome,
    pub conn: Option<Connection>,
    pub control: mpsc::Receiver<ChannelEvent>,
}

/// Runs `role` over `conn` from `first` input until the machine finishes.
pub(super) async fn drive<R: Role>(
    role: &mut R,
    clock: Clock,
    mut conn: Connection,
    first: Option<R::Input>,
    cancel: &CancellationToken,
) -> Ended {
    let (mut control, data) = conn.take_receivers();
    role.take_data(data);
    let mut conn = Some(conn);
    let mut actions = match first {
        Some(input) => role.handle(clock.now(), input),
        None => Vec::new(),
    };
    let mut timer = MachineTimer::new();
    let mut tick = tokio::time::interval(PROGRESS_INTERVAL);
    'driver: loop {
        let mut lost: Option<String> = None;
        for action in std::mem::take(&mut actions) {
            match R::sort(action) {
                Common::Send(msg) => {
                    let Some(c) = conn.as_ref() else { continue };
                    if c.control.send_text(&msg.to_json()).await.is_err() && lost.is_none() {
                        lost = Some("the control channel closed".into());
                    }
                }
                Common::Own(action) => {
                    if let Some(input) = role.carry_out(action, conn.as_mut()).await {
                        actions = role.handle(clock.now(), input);
                        continue 'driver;
                    }
                }
                Common::Finish(outcome) => {
                    return Ended {
                        outcome,
                        conn,
                        control,
                    }
                }
                Common::Rejoin => {
                    role.before_rejoin().await;
                    if let Some(old) = conn.take() {
                        old.abandon().await;
                    }
                    // The machine's reconnection window bounds the wait.
                    let window_end = clock.instant(role.poll_timeout());
                    let rejoined = tokio::select! {
                        r = role.rejoin(cancel) => r,
                        _ = sleep_until_or_never(window_end) => {
                            actions = role.handle_timeout(clock.now());
                            continue 'driver;
                        }
                    };
                    let input = match rejoined {
                        Ok(mut fresh) => {
                            let data;
                            (control, data) = fresh.take_receivers();
                            role.take_data(data);
                            let input = role.rejoined(&fresh);
                            conn = Some(fresh);
                            input
                        }
                        Err(Gave::Up(why)) => {
                            tracing::info!("not resuming: {why}");
                            Some(role.gone())
                        }
                        Err(Gave::Fatal(why)) => Some(role.fail(why)),
                        Err(Gave::Cancelled) => Some(role.cancelled()),
                    };
                    actions = match input {
                        Some(input) => role.handle(clock.now(), input),
                        None => Vec::new(),
                    };
                    continue 'driver;
                }
            }
        }
        if let Some(why) = lost {
            actions = role.handle(clock.now(), role.lost(why));
            continue;
        }
        let Some(c) = conn.as_mut() else {
            // Only while rejoining, which is handled inline above.
            actions = role.handle(clock.now(), role.gone());
            continue;
        };
        timer.arm(clock.instant(role.poll_timeout()));
        let watches_upkeep = role.watches_upkeep();
        let input = tokio::select! {
            event = control.recv() => match event {
                Some(ChannelEvent::Message { data, .. }) => {
                    let msg = std::str::from_utf8(&data)
                        .map_err(|e| e.to_string())
                        .and_then(|text| ControlMsg::from_json(text).map_err(|e| e.to_string()));
                    role.control(msg)
                }
                Some(ChannelEvent::Open) => continue,
                Some(ChannelEvent::Closed) | None => closed(role, c, "the control channel closed"),
            },
            own = role.next_own() => match own {
                Own::Input(input) => input,
                Own::ChannelClosed(what) => closed(role, c, what),
                Own::Nothing => continue,
            },
            background = c.next_background(), if watches_upkeep => match background {
                Background::PeerGone(_) => match role.peer_left() {
                    Some(input) => input,
                    None => continue,
                },
                Background::Lost(why) if c.signaling_closed() => {
                    tracing::debug!("path lost with the server gone: {why}");
                    role.gone()
                }
                Background::Lost(why) => role.lost(why),
                Background::Refused(why) => role.fail(why),
                Background::Quiet => continue,
            },
            _ = timer.fired() => {
                actions = role.handle_timeout(clock.now());
                continue;
            }
            _ = cancel.cancelled() => role.cancelled(),
            _ = tick.tick() => match role.tick() {
                Some(input) => input,
                None => continue,
            },
        };
        actions = role.handle(clock.now(), input);
    }
}

/// What a closed channel of `conn` means: the end of the transfer when this side closed the
/// connection on a peer that broke a limit, else a lost connection (which may be resumed).
fn closed<R: Role>(role: &R, conn: &mut Connection, what: &str) -> R::Input {
    match conn.refusal() {
        Some(why) => role.fail(why),
        None => role.lost(what.into()),
    }
}
