//! One node's link to the cluster's Redis: presence, codes, nearby groups and inboxes.
//!
//! What lives in Redis (names in [`super::wire`]; `TTL` is [`super::ClusterConfig::presence_ttl`]):
//! - `peerdrop:code:CODE` → the holder's [`PeerRecord`], claimed with `SET NX` (codes unique
//!   across nodes), expiring after `TTL`;
//! - `peerdrop:peer:ID` → the same record (a peer is present while it exists);
//! - `peerdrop:group:GROUP` → sorted set of the group's peer ids, scored by join time;
//! - `peerdrop:tag:HEX` → the same for the holders of a pairing tag (paired lists);
//! - channel `peerdrop:inbox:NODE` per node ([`Envelope`]s for its peers) and
//!   `peerdrop:nearby` ([`GroupChanged`] events).
//!
//! Four tasks keep it so, and the registry in step with it:
//! - the **writer** turns the queue the registry fills (joins, leaves, envelopes) into
//!   pipelines; nothing the registry does waits for Redis;
//! - **keep-alive** pings every second (health), rewrites every local peer's keys every
//!   `TTL / 3` (so a node's peers expire within `TTL` of its death, and come back by themselves
//!   into a Redis that restarted empty), and checks that the peers elsewhere the registry
//!   knows are still present (the dead node's peers are forgotten: `peer_gone`, new `nearby`);
//! - the **subscriber** holds the inbox and nearby subscriptions, reconnecting with backoff;
//! - the **group follower** re-reads the groups (and pairing tags) that changed and hands the
//!   registry their members on other nodes.
//!
//! Commands go through redis-rs's `ConnectionManager` (it reconnects by itself, with its own
//! short backoff); the subscription has its own connection, re-made with [`Backoff`]. Whenever
//! the link comes back up after being down it **resyncs**: rewrites every local key, announces
//! every local group and re-reads them, since events were missed meanwhile; for one `TTL` it
//! then forgets no remote peer, so that the other nodes have time to rewrite theirs.
//!
//! State shared with the registry side sits behind a std mutex that is never held across an
//! `.await`.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use peerdrop_proto::signal::{PeerId, PeerInfo};
use redis::aio::{ConnectionManager, ConnectionManagerConfig, PubSub};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;
use tokio::time::{sleep, timeout, Instant};

use super::backoff::Backoff;
use super::wire::{
    code_key, inbox_channel, peer_key, Envelope, Followed, GroupChanged, NodeId, PeerRecord,
    NEARBY_CHANNEL,
};
use super::{ClusterConfig, ClusterError, ClusterHealth, LocalPresence};
use crate::registry::{Registry, Tag};

/// Commands queued for the writer before new ones are dropped (their keys then expire or are
/// rewritten by the next refresh).
const QUEUE: usize = 65_536;
/// Most commands in one pipeline.
const BATCH: usize = 512;
/// Keys per `MGET` and records per refresh pipeline.
const CHUNK: usize = 512;
/// How often Redis is pinged while it answers.
const PING_EVERY: Duration = Duration::from_secs(1);
/// Longest wait for one Redis round trip of ours before it counts as down.
const ROUND_TRIP: Duration = Duration::from_secs(2);
/// First and longest wait between attempts to reach a Redis that is down.
const BACKOFF_FIRST: Duration = Duration::from_millis(200);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// Refreshes a code key only while it holds this node's record (or nothing: Redis restarted),
/// so a node cut off from Redis longer than the TTL never takes a code back from a newer holder.
const REFRESH_CODE: &str = "local v = redis.call('GET', KEYS[1]) \
     if (not v) or v == ARGV[1] then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end \
     return 0";
/// Deletes a code key only while it holds this node's record.
const DELETE_CODE: &str = "if redis.call('GET', KEYS[1]) == ARGV[1] then \
     return redis.call('DEL', KEYS[1]) end return 0";

/// What the registry asks the writer to do.
enum Command {
    /// Write a new local peer's presence and announce its group.
    Joined(LocalPresence),
    /// Remove a local peer that left and announce its group.
    Left(LocalPresence),
    /// A local peer watches other pairing tags: write its current ones, remove it from
    /// `dropped`, and announce both.
    Watched {
        presence: LocalPresence,
        dropped: Vec<Tag>,
    },
    /// Publish `payload` on `channel`.
    Publish { channel: String, payload: String },
    /// Answer once everything queued before has been written.
    Flush(oneshot::Sender<()>),
}

/// Which half of the link a health report is about.
#[derive(Clone, Copy)]
enum Part {
    Commands,
    Inbox,
}

struct State {
    commands: bool,
    inbox: bool,
    changed: Instant,
    last_error: Option<String>,
}

/// This node's link to Redis (see the module doc).
pub(crate) struct RedisLink {
    node: NodeId,
    ttl: Duration,
    client: redis::Client,
    conn: ConnectionManager,
    queue: mpsc::Sender<Command>,
    queue_rx: Mutex<Option<mpsc::Receiver<Command>>>,
    state: Mutex<State>,
    up: AtomicBool,
    /// Set when the link came up; keep-alive then resyncs.
    needs_resync: AtomicBool,
    /// Node ids seen, shared by every remote peer of the node.
    nodes: Mutex<HashMap<String, NodeId>>,
}

impl RedisLink {
    /// A link for `config` under a fresh node id. Nothing is connected yet: the link is down
    /// (and new peers are refused) until [`RedisLink::spawn`]'s tasks reach Redis.
    pub(crate) fn new(config: &ClusterConfig) -> Result<Arc<Self>, ClusterError> {
        let client = redis::Client::open(config.redis_url.as_str())?;
        let manager = ConnectionManagerConfig::new()
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(100))
            .set_max_delay(Duration::from_secs(1))
            .set_connection_timeout(Some(Duration::from_secs(1)))
            .set_response_timeout(Some(ROUND_TRIP));
        let conn = ConnectionManager::new_lazy_with_config(client.clone(), manager)?;
        let (queue, queue_rx) = mpsc::channel(QUEUE);
        Ok(Arc::new(Self {
            node: super::wire::fresh_node_id(),
            ttl: config.presence_ttl,
            client,
            conn,
            queue,
            queue_rx: Mutex::new(Some(queue_rx)),
            state: Mutex::new(State {
                commands: false,
                inbox: false,
                changed: std::time::Instant::now().into(),
                last_error: Some("not connected yet".into()),
            }),
            up: AtomicBool::new(false),
            needs_resync: AtomicBool::new(false),
            nodes: Mutex::new(HashMap::new()),
        }))
    }

    /// This node's id.
    pub(crate) fn node(&self) -> &NodeId {
        &self.node
    }

    /// Whether Redis answers and the inbox is subscribed.
    pub(crate) fn is_up(&self) -> bool {
        self.up.load(Ordering::Acquire)
    }

    /// What `/health` shows.
    pub(crate) fn health(&self) -> ClusterHealth {
        let state = self.state.lock().expect("link state lock");
        ClusterHealth {
            node: self.node.to_string(),
            redis_up: self.is_up(),
            for_secs: state.changed.elapsed().as_secs(),
            last_error: (!self.is_up()).then(|| state.last_error.clone()).flatten(),
        }
    }

    /// Queues `envelope` for `node`'s inbox; `false` if down or the queue is full.
    pub(crate) fn send(&self, node: &str, envelope: &Envelope) -> bool {
        self.is_up()
            && self
                .queue
                .try_send(Command::Publish {
                    channel: inbox_channel(node),
                    payload: envelope.to_json(),
                })
                .is_ok()
    }

    /// Queues the presence of a peer that joined.
    pub(crate) fn joined(&self, presence: LocalPresence) {
        self.enqueue(Command::Joined(presence));
    }

    /// Queues the removal of a peer that left.
    pub(crate) fn left(&self, presence: LocalPresence) {
        self.enqueue(Command::Left(presence));
    }

    /// Queues a peer's new pairing tags (its presence holds them) and the ones it dropped.
    pub(crate) fn watched(&self, presence: LocalPresence, dropped: Vec<Tag>) {
        self.enqueue(Command::Watched { presence, dropped });
    }

    fn enqueue(&self, command: Command) {
        if self.queue.try_send(command).is_err() {
            tracing::warn!("redis write queue full: a presence change waits for the next refresh");
        }
    }

    /// Claims `code` for `record` across the cluster: `false` when another peer holds it.
    pub(crate) async fn claim_code(
        &self,
        code: &str,
        record: &PeerRecord,
    ) -> Result<bool, ClusterError> {
        let mut conn = self.conn.clone();
        let mut claim = redis::cmd("SET");
        claim
            .arg(code_key(code))
            .arg(record.to_json())
            .arg("NX")
            .arg("PX")
            .arg(self.ttl_ms());
        match timeout(ROUND_TRIP, claim.query_async::<redis::Value>(&mut conn)).await {
            Ok(Ok(redis::Value::Nil)) => Ok(false),
            Ok(Ok(_)) => Ok(true),
            Ok(Err(err)) => Err(err.into()),
            Err(_) => Err(ClusterError::Unavailable("timed out".into())),
        }
    }

    /// Who holds `code` anywhere in the cluster.
    pub(crate) async fn lookup_code(&self, code: &str) -> Result<Option<PeerRecord>, ClusterError> {
        let mut conn = self.conn.clone();
        let mut get = redis::cmd("GET");
        get.arg(code_key(code));
        match timeout(ROUND_TRIP, get.query_async::<Option<String>>(&mut conn)).await {
            Ok(Ok(found)) => Ok(found.as_deref().and_then(PeerRecord::from_json)),
            Ok(Err(err)) => Err(err.into()),
            Err(_) => Err(ClusterError::Unavailable("timed out".into())),
        }
    }

    /// Waits (at most `within`) until everything queued so far is written: on shutdown, so
    /// that the peers that just left vanish from the other nodes at once.
    pub(crate) async fn flush(&self, within: Duration) {
        let (done, wait) = oneshot::channel();
        if self.is_up() && self.queue.try_send(Command::Flush(done)).is_ok() {
            let _ = timeout(within, wait).await;
        }
    }

    /// Starts the link's tasks for `registry`; they run until the set is dropped or aborted.
    pub(crate) fn spawn(self: &Arc<Self>, registry: Arc<Registry>) -> JoinSet<()> {
        let mut tasks = JoinSet::new();
        let (follow, follow_rx) = mpsc::unbounded_channel();
        if let Some(queue) = self.queue_rx.lock().expect("queue lock").take() {
            tasks.spawn(Arc::clone(self).write(queue, follow.clone()));
        }
        tasks.spawn(Arc::clone(self).keep_alive(Arc::clone(&registry), follow.clone()));
        tasks.spawn(Arc::clone(self).subscribe(Arc::clone(&registry), follow));
        tasks.spawn(Arc::clone(self).follow_groups(registry, follow_rx));
        tasks
    }

    fn ttl_ms(&self) -> u64 {
        self.ttl.as_millis().max(1) as u64
    }

    /// Records the health of one half; when the link as a whole comes up, asks for a resync.
    fn report(&self, part: Part, result: Result<(), String>) {
        let mut state = self.state.lock().expect("link state lock");
        let ok = result.is_ok();
        match part {
            Part::Commands => state.commands = ok,
            Part::Inbox => state.inbox = ok,
        }
        if let Err(err) = result {
            state.last_error = Some(err);
        }
        let up = state.commands && state.inbox;
        let was = self.up.swap(up, Ordering::AcqRel);
        if was != up {
            state.changed = Instant::now();
            if up {
                tracing::info!(node = %self.node, "redis reachable: cluster link up");
                self.needs_resync.store(true, Ordering::Release);
            } else {
                let error = state.last_error.as_deref().unwrap_or("");
                tracing::warn!(node = %self.node, error, "redis unreachable: degraded, new peers refused");
            }
        }
    }

    /// The shared id of node `name`.
    fn intern(&self, name: String) -> NodeId {
        let mut nodes = self.nodes.lock().expect("node names lock");
        if let Some(node) = nodes.get(&name) {
            return Arc::clone(node);
        }
        let node: NodeId = name.as_str().into();
        nodes.insert(name, Arc::clone(&node));
        node
    }

    /// Adds the writes of one local peer's presence to `pipe`.
    fn write_presence(&self, pipe: &mut redis::Pipeline, presence: &LocalPresence) {
        let json = presence.record.to_json();
        let ttl = self.ttl_ms();
        pipe.cmd("SET")
            .arg(peer_key(presence.id))
            .arg(&json)
            .arg("PX")
            .arg(ttl)
            .ignore();
        pipe.cmd("EVAL")
            .arg(REFRESH_CODE)
            .arg(1)
            .arg(code_key(&presence.code))
            .arg(&json)
            .arg(ttl)
            .ignore();
        let followed = presence
            .group
            .map(Followed::Group)
            .into_iter()
            .chain(presence.tags.iter().copied().map(Followed::Tag));
        for followed in followed {
            let key = followed.key();
            pipe.cmd("ZADD")
                .arg(&key)
                .arg(presence.since_ms)
                .arg(presence.id.to_string())
                .ignore();
            pipe.cmd("PEXPIRE").arg(&key).arg(ttl).ignore();
        }
    }

    /// Adds "the members of `followed` changed" to `pipe`.
    fn announce(&self, pipe: &mut redis::Pipeline, followed: Followed) {
        let event = GroupChanged {
            node: self.node.to_string(),
            group: followed.event_name(),
        };
        pipe.cmd("PUBLISH")
            .arg(NEARBY_CHANNEL)
            .arg(event.to_json())
            .ignore();
    }

    /// The writer task.
    async fn write(
        self: Arc<Self>,
        mut queue: mpsc::Receiver<Command>,
        follow: mpsc::UnboundedSender<Followed>,
    ) {
        let mut conn = self.conn.clone();
        let mut batch = Vec::with_capacity(BATCH);
        while queue.recv_many(&mut batch, BATCH).await > 0 {
            let mut pipe = redis::pipe();
            let mut flushed = Vec::new();
            let mut joined_groups = Vec::new();
            for command in batch.drain(..) {
                match command {
                    Command::Joined(presence) => {
                        self.write_presence(&mut pipe, &presence);
                        if let Some(group) = presence.group {
                            self.announce(&mut pipe, Followed::Group(group));
                            joined_groups.push(Followed::Group(group));
                        }
                    }
                    Command::Watched { presence, dropped } => {
                        for tag in dropped {
                            let tag = Followed::Tag(tag);
                            pipe.cmd("ZREM")
                                .arg(tag.key())
                                .arg(presence.id.to_string())
                                .ignore();
                            self.announce(&mut pipe, tag);
                        }
                        self.write_presence(&mut pipe, &presence);
                        for tag in &presence.tags {
                            self.announce(&mut pipe, Followed::Tag(*tag));
                            joined_groups.push(Followed::Tag(*tag));
                        }
                    }
                    Command::Left(presence) => {
                        pipe.cmd("DEL").arg(peer_key(presence.id)).ignore();
                        pipe.cmd("EVAL")
                            .arg(DELETE_CODE)
                            .arg(1)
                            .arg(code_key(&presence.code))
                            .arg(presence.record.to_json())
                            .ignore();
                        let followed = presence
                            .group
                            .map(Followed::Group)
                            .into_iter()
                            .chain(presence.tags.iter().copied().map(Followed::Tag));
                        for followed in followed {
                            pipe.cmd("ZREM")
                                .arg(followed.key())
                                .arg(presence.id.to_string())
                                .ignore();
                            self.announce(&mut pipe, followed);
                        }
                    }
                    Command::Publish { channel, payload } => {
                        pipe.cmd("PUBLISH").arg(channel).arg(payload).ignore();
                    }
                    Command::Flush(done) => flushed.push(done),
                }
            }
            if !pipe.is_empty() {
                if let Err(err) = pipe.query_async::<()>(&mut conn).await {
                    tracing::debug!(%err, "redis write failed");
                    self.report(Part::Commands, Err(err.to_string()));
                }
            }
            // A new member learns who is in its group (or holds its tags) on the other nodes.
            for group in joined_groups {
                let _ = follow.send(group);
            }
            for done in flushed {
                let _ = done.send(());
            }
        }
    }

    /// The keep-alive task: health pings, periodic refresh and presence checks, resyncs.
    async fn keep_alive(
        self: Arc<Self>,
        registry: Arc<Registry>,
        follow: mpsc::UnboundedSender<Followed>,
    ) {
        let mut conn = self.conn.clone();
        let mut backoff = Backoff::new(BACKOFF_FIRST, BACKOFF_MAX);
        let refresh_every = (self.ttl / 3).max(Duration::from_millis(100));
        let mut next_refresh = Instant::now();
        let mut forget_after = Instant::now();
        loop {
            let ping = redis::cmd("PING");
            let answered = match timeout(ROUND_TRIP, ping.query_async::<String>(&mut conn)).await {
                Ok(Ok(_)) => Ok(()),
                Ok(Err(err)) => Err(err.to_string()),
                Err(_) => Err("ping timed out".to_string()),
            };
            if let Err(err) = answered {
                self.report(Part::Commands, Err(err));
                sleep(backoff.next_delay(rand::random())).await;
                continue;
            }
            backoff.reset();
            self.report(Part::Commands, Ok(()));
            if self.is_up() && self.needs_resync.swap(false, Ordering::AcqRel) {
                match self.resync(&mut conn, &registry, &follow).await {
                    Ok(()) => {
                        forget_after = Instant::now() + self.ttl;
                        next_refresh = Instant::now() + refresh_every;
                    }
                    Err(err) => {
                        self.needs_resync.store(true, Ordering::Release);
                        self.report(Part::Commands, Err(err.to_string()));
                    }
                }
            }
            if Instant::now() >= next_refresh {
                next_refresh = Instant::now() + refresh_every;
                let checked = async {
                    self.refresh(&mut conn, &registry).await?;
                    if Instant::now() >= forget_after {
                        self.check_remote(&mut conn, &registry).await?;
                    }
                    Ok::<_, redis::RedisError>(())
                };
                if let Err(err) = checked.await {
                    self.report(Part::Commands, Err(err.to_string()));
                }
            }
            sleep(PING_EVERY.min(refresh_every)).await;
        }
    }

    /// After an outage: rewrite everything of ours, announce and re-read our groups.
    async fn resync(
        &self,
        conn: &mut ConnectionManager,
        registry: &Registry,
        follow: &mpsc::UnboundedSender<Followed>,
    ) -> redis::RedisResult<()> {
        self.refresh(conn, registry).await?;
        let groups = registry.local_followed();
        for chunk in groups.chunks(CHUNK) {
            let mut pipe = redis::pipe();
            for group in chunk {
                self.announce(&mut pipe, *group);
            }
            pipe.query_async::<()>(conn).await?;
        }
        for group in groups {
            let _ = follow.send(group);
        }
        tracing::info!(node = %self.node, "cluster state rewritten to redis");
        Ok(())
    }

    /// Rewrites every local peer's keys (with a fresh TTL).
    async fn refresh(
        &self,
        conn: &mut ConnectionManager,
        registry: &Registry,
    ) -> redis::RedisResult<()> {
        let presences = registry.local_presences();
        for chunk in presences.chunks(CHUNK) {
            let mut pipe = redis::pipe();
            for presence in chunk {
                self.write_presence(&mut pipe, presence);
            }
            pipe.query_async::<()>(conn).await?;
        }
        Ok(())
    }

    /// Forgets the peers elsewhere whose presence key has expired.
    async fn check_remote(
        &self,
        conn: &mut ConnectionManager,
        registry: &Registry,
    ) -> redis::RedisResult<()> {
        let ids = registry.remote_ids();
        let mut gone = HashSet::new();
        for chunk in ids.chunks(CHUNK) {
            let keys: Vec<String> = chunk.iter().map(|id| peer_key(*id)).collect();
            let found: Vec<Option<String>> =
                redis::cmd("MGET").arg(&keys).query_async(conn).await?;
            gone.extend(
                chunk
                    .iter()
                    .zip(found)
                    .filter(|(_, record)| record.is_none())
                    .map(|(id, _)| *id),
            );
        }
        if !gone.is_empty() {
            tracing::info!(count = gone.len(), "peers on other nodes expired");
        }
        registry.forget_remote(&gone);
        Ok(())
    }

    /// The subscriber task.
    async fn subscribe(
        self: Arc<Self>,
        registry: Arc<Registry>,
        follow: mpsc::UnboundedSender<Followed>,
    ) {
        let mut backoff = Backoff::new(BACKOFF_FIRST, BACKOFF_MAX);
        loop {
            match timeout(ROUND_TRIP, self.open_subscription()).await {
                Ok(Ok(pubsub)) => {
                    backoff.reset();
                    self.report(Part::Inbox, Ok(()));
                    let lost = self.listen(pubsub, &registry, &follow).await;
                    self.report(Part::Inbox, Err(lost));
                }
                Ok(Err(err)) => self.report(Part::Inbox, Err(err.to_string())),
                Err(_) => self.report(Part::Inbox, Err("subscribe timed out".into())),
            }
            sleep(backoff.next_delay(rand::random())).await;
        }
    }

    async fn open_subscription(&self) -> redis::RedisResult<PubSub> {
        let mut pubsub = self.client.get_async_pubsub().await?;
        pubsub
            .subscribe(&[inbox_channel(&self.node), NEARBY_CHANNEL.to_string()])
            .await?;
        Ok(pubsub)
    }

    /// Dispatches what arrives until the subscription is lost; returns why.
    async fn listen(
        &self,
        pubsub: PubSub,
        registry: &Registry,
        follow: &mpsc::UnboundedSender<Followed>,
    ) -> String {
        let (mut sink, mut stream) = pubsub.split();
        let mut ping = tokio::time::interval(PING_EVERY);
        loop {
            tokio::select! {
                msg = stream.next() => match msg {
                    Some(msg) => self.dispatch(&msg, registry, follow),
                    None => return "inbox subscription closed".into(),
                },
                _ = ping.tick() => {
                    match timeout(ROUND_TRIP, sink.ping::<redis::Value>()).await {
                        Ok(Ok(_)) => {}
                        Ok(Err(err)) => return err.to_string(),
                        Err(_) => return "inbox ping timed out".into(),
                    }
                }
            }
        }
    }

    fn dispatch(
        &self,
        msg: &redis::Msg,
        registry: &Registry,
        follow: &mpsc::UnboundedSender<Followed>,
    ) {
        let Ok(payload) = std::str::from_utf8(msg.get_payload_bytes()) else {
            return;
        };
        if msg.get_channel_name() == NEARBY_CHANNEL {
            let Some(event) = GroupChanged::from_json(payload) else {
                return;
            };
            if *event.node == *self.node {
                return;
            }
            if let Some(followed) = Followed::parse(&event.group) {
                if registry.follows(followed) {
                    let _ = follow.send(followed);
                }
            }
        } else if let Some(envelope) = Envelope::from_json(payload) {
            registry.deliver_remote(envelope);
        }
    }

    /// The group follower task: re-reads changed groups, a batch at a time.
    async fn follow_groups(
        self: Arc<Self>,
        registry: Arc<Registry>,
        mut changed: mpsc::UnboundedReceiver<Followed>,
    ) {
        let mut conn = self.conn.clone();
        let mut batch = Vec::new();
        while changed.recv_many(&mut batch, CHUNK).await > 0 {
            let groups: Vec<Followed> = batch
                .drain(..)
                .collect::<HashSet<_>>()
                .into_iter()
                .filter(|followed| registry.follows(*followed))
                .collect();
            if groups.is_empty() {
                continue;
            }
            match self.read_groups(&mut conn, &groups).await {
                Ok(read) => {
                    for (followed, members) in read {
                        match followed {
                            Followed::Group(group) => registry.set_remote_group(group, members),
                            Followed::Tag(tag) => registry.set_remote_tag(tag, members),
                        }
                    }
                }
                Err(err) => {
                    tracing::debug!(%err, "reading nearby groups failed");
                    self.report(Part::Commands, Err(err.to_string()));
                }
            }
        }
    }

    /// The members on other nodes of each of `groups`, in join order; drops members whose
    /// presence has expired from the sets.
    async fn read_groups(
        &self,
        conn: &mut ConnectionManager,
        groups: &[Followed],
    ) -> redis::RedisResult<Vec<(Followed, Vec<(PeerInfo, NodeId)>)>> {
        let mut pipe = redis::pipe();
        for group in groups {
            pipe.cmd("ZRANGE").arg(group.key()).arg(0).arg(-1);
        }
        let lists: Vec<Vec<String>> = pipe.query_async(conn).await?;
        let members: Vec<Vec<PeerId>> = lists
            .iter()
            .map(|ids| ids.iter().filter_map(|id| id.parse().ok()).collect())
            .collect();
        let all: Vec<PeerId> = members
            .iter()
            .flatten()
            .copied()
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let mut records = HashMap::with_capacity(all.len());
        for chunk in all.chunks(CHUNK) {
            let keys: Vec<String> = chunk.iter().map(|id| peer_key(*id)).collect();
            let found: Vec<Option<String>> =
                redis::cmd("MGET").arg(&keys).query_async(conn).await?;
            for (id, record) in chunk.iter().zip(found) {
                if let Some(record) = record.as_deref().and_then(PeerRecord::from_json) {
                    records.insert(*id, record);
                }
            }
        }
        let mut stale = redis::pipe();
        let mut read = Vec::with_capacity(groups.len());
        for (group, ids) in groups.iter().zip(members) {
            let mut elsewhere = Vec::new();
            for id in ids {
                match records.get(&id) {
                    Some(record) if *record.node != *self.node => {
                        let node = self.intern(record.node.clone());
                        elsewhere.push((record.info.clone(), node));
                    }
                    Some(_) => {}
                    None => {
                        stale
                            .cmd("ZREM")
                            .arg(group.key())
                            .arg(id.to_string())
                            .ignore();
                    }
                }
            }
            read.push((*group, elsewhere));
        }
        if !stale.is_empty() {
            stale.query_async::<()>(conn).await?;
        }
        Ok(read)
    }
}
