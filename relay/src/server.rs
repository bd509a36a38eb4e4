//! The QUIC endpoint: accepts connections, runs the handshake, and hands
//! each authenticated connection to its agent or console task.

use crate::{
    agent_conn,
    audit::NewEntry,
    auth, console_conn,
    datadir::DataDir,
    hub::{EndedSession, Hub},
    store::StoreError,
    store::StoreHandle,
};
use lifeline_net::{StreamError, framed::read_frame, tls, unix_micros, unix_secs};
use lifeline_proto::{
    CloseCode, ErrorCode, Identity, Role, Welcome,
    handshake::{HandshakeError, ServerHandshake},
};
use std::{
    future::Future,
    net::SocketAddr,
    sync::{Arc, Mutex, atomic::AtomicBool},
    time::{Duration, Instant},
};
use tracing::{Instrument, debug, info, info_span, warn};

/// How long a client has to send its `Hello`.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);

/// Lifetime of a console login token.
pub const TOKEN_TTL: Duration = Duration::from_secs(12 * 3600);

/// State shared by every connection task.
pub struct Ctx {
    pub store: StoreHandle,
    /// A second connection to the same database, for the read-only
    /// lookups every agent connection starts with: a fleet reconnecting
    /// must not wait behind the inventory uploads queued on `store`.
    pub lookups: StoreHandle,
    /// A third connection for housekeeping (WAL checkpoints), so neither
    /// the writer nor the lookups wait for it.
    pub upkeep: StoreHandle,
    pub hub: Hub,
    pub limiter: Mutex<auth::RateLimiter>,
    /// Password checks that may run at once ([`auth::PASSWORD_CHECKS`]).
    pub password_checks: tokio::sync::Semaphore,
    /// Help requests per machine and hour.
    pub help_limiter: Mutex<auth::HelpLimiter>,
    /// Session logs keep clipboard text, not just its length (an admin's
    /// choice: `lifeline-relay serve --log-clipboard-text`).
    pub log_clipboard: AtomicBool,
    /// Ticket news for watching consoles.
    pub news: tokio::sync::broadcast::Sender<lifeline_proto::ticket::TicketNews>,
    /// Wakes the webhook deliverer when an event is queued.
    pub webhook_wake: tokio::sync::Notify,
    /// Misbehaviour on purpose, for the tests that show end-to-end
    /// encryption catches a relay that tampers; never set by the CLI.
    pub tamper: Tamper,
}

/// Test hooks that make this relay an attacker.
#[derive(Debug)]
pub struct Tamper {
    /// Flip one bit of the byte at this offset of every agent-to-console
    /// stream (`u64::MAX`: off).
    pub flip_byte_at: std::sync::atomic::AtomicU64,
    /// Hand consoles a key of the relay's own instead of the machine's.
    pub swap_machine_key: AtomicBool,
    /// Offer machines a technician key of the relay's own (posing as the
    /// technician), keeping the technician's approval.
    pub swap_technician_key: AtomicBool,
    /// Splice every stream, whatever its session carries (a relay that
    /// lets a ping or a chat carry the screen and input).
    pub pass_any_channel: AtomicBool,
}

impl Default for Tamper {
    fn default() -> Self {
        Self {
            flip_byte_at: std::sync::atomic::AtomicU64::new(u64::MAX),
            swap_machine_key: AtomicBool::new(false),
            swap_technician_key: AtomicBool::new(false),
            pass_any_channel: AtomicBool::new(false),
        }
    }
}

impl Tamper {
    /// The flip offset, if the hook is on.
    pub fn flip_at(&self) -> Option<u64> {
        let at = self.flip_byte_at.load(std::sync::atomic::Ordering::Relaxed);
        (at != u64::MAX).then_some(at)
    }
}

impl Ctx {
    /// Appends an audit entry; a failure is logged, never fatal to the
    /// request that caused it.
    pub async fn audit(&self, entry: NewEntry) {
        let action = entry.action.clone();
        if let Err(e) = self
            .store
            .call(move |s| s.append_audit(&entry, unix_secs()))
            .await
        {
            warn!(%action, "cannot write audit entry: {e}");
        }
    }
}

/// How a connection task ended badly.
#[derive(Debug, thiserror::Error)]
pub enum ConnError {
    /// The peer broke the protocol: close with [`CloseCode::Protocol`].
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The connection or a stream failed underneath.
    #[error("connection lost: {0}")]
    Lost(String),
    /// The store failed; the peer is told "internal error".
    #[error("store: {0}")]
    Store(#[from] StoreError),
}

impl From<StreamError> for ConnError {
    fn from(e: StreamError) -> Self {
        if e.is_protocol() {
            ConnError::Protocol(e.to_string())
        } else {
            ConnError::Lost(e.to_string())
        }
    }
}

impl From<HandshakeError> for ConnError {
    fn from(e: HandshakeError) -> Self {
        ConnError::Protocol(e.to_string())
    }
}

/// A running relay.
pub struct Relay {
    pub ctx: Arc<Ctx>,
    pub endpoint: quinn::Endpoint,
    ended: tokio::sync::mpsc::UnboundedReceiver<EndedSession>,
}

impl Relay {
    /// Binds the endpoint using the data dir's certificate, key and store.
    ///
    /// # Errors
    /// Data dir, TLS or socket errors.
    pub fn bind(data: &DataDir, listen: SocketAddr) -> anyhow::Result<Self> {
        tls::install_provider();
        let server = tls::server_config(data.cert()?, data.key()?)?;
        let socket = lifeline_net::udp::bind(listen)
            .map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
        if let Some((recv, send)) = lifeline_net::udp::short_buffers(&socket) {
            warn!(
                recv,
                send,
                "UDP socket buffers are smaller than the {} bytes asked for: bursts of \
                 screen frames may lose datagrams (raise net.core.rmem_max and \
                 net.core.wmem_max)",
                lifeline_net::udp::SOCKET_BUFFER
            );
        }
        let endpoint = quinn::Endpoint::new(
            tls::endpoint_config(&data.reset_secret()?),
            Some(server),
            socket,
            Arc::new(quinn::TokioRuntime),
        )?;
        let store = StoreHandle::spawn(Box::new(data.open_store()?))?;
        let lookups = StoreHandle::spawn(Box::new(data.open_store()?))?;
        let upkeep = StoreHandle::spawn(Box::new(data.open_store()?))?;
        let (hub, ended) = Hub::new();
        Ok(Self {
            ctx: Arc::new(Ctx {
                store,
                lookups,
                upkeep,
                hub,
                limiter: Mutex::new(auth::RateLimiter::default()),
                password_checks: tokio::sync::Semaphore::new(auth::PASSWORD_CHECKS),
                help_limiter: Mutex::new(auth::HelpLimiter::default()),
                log_clipboard: AtomicBool::new(false),
                news: tokio::sync::broadcast::channel(256).0,
                webhook_wake: tokio::sync::Notify::new(),
                tamper: Tamper::default(),
            }),
            endpoint,
            ended,
        })
    }

    /// The address actually bound.
    ///
    /// # Errors
    /// If the socket has no address.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.endpoint.local_addr()
    }

    /// Serves until `shutdown` completes, then closes every connection with
    /// [`CloseCode::Shutdown`] and persists presence.
    pub async fn run(mut self, shutdown: impl Future<Output = ()>) {
        let reaper = tokio::spawn(reap(self.ctx.clone()));
        let ended = std::mem::replace(&mut self.ended, tokio::sync::mpsc::unbounded_channel().1);
        let logger = tokio::spawn(crate::session_log::log_sessions(self.ctx.clone(), ended));
        let hooks = tokio::spawn(crate::notify::deliver_webhooks(self.ctx.clone()));
        crate::session_log::recover(&self.ctx).await;
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                incoming = self.endpoint.accept() => {
                    let Some(incoming) = incoming else { break };
                    tokio::spawn(handle_incoming(self.ctx.clone(), incoming));
                }
                () = &mut shutdown => break,
            }
        }
        info!("shutting down");
        // Live sessions end now, told to both sides, so that their logs are
        // written: agents send their reports when told, within the grace
        // the logger waits for.
        let live = self
            .ctx
            .hub
            .end_all(&lifeline_proto::EndReason::RelayShutdown, Instant::now());
        if live > 0 {
            info!(
                sessions = live,
                "ending live sessions and writing their logs"
            );
            tokio::time::sleep(crate::session_log::REPORT_GRACE + Duration::from_millis(500)).await;
        }
        reaper.abort();
        logger.abort();
        hooks.abort();
        self.endpoint
            .close(CloseCode::Shutdown.code().into(), b"relay shutting down");
        for (id, seen) in self.ctx.hub.online_agents() {
            let _ = self
                .ctx
                .store
                .call(move |s| s.set_last_seen(&id, seen))
                .await;
        }
        let _ = tokio::time::timeout(Duration::from_secs(2), self.endpoint.wait_idle()).await;
    }
}

async fn reap(ctx: Arc<Ctx>) {
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    let mut checkpoint = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = checkpoint.tick() => {
                // Off the writer's thread: a connection of its own copies
                // the log into the database while uploads go on.
                if let Err(e) = ctx.upkeep.call(|s| s.checkpoint()).await {
                    warn!("checkpoint: {e}");
                }
                continue;
            }
        }
        for id in ctx.hub.reap_silent(Instant::now()) {
            info!(machine = %id, "agent silent for 30 s; dropping its connection");
        }
        if let Ok(mut l) = ctx.limiter.lock() {
            l.prune(Instant::now());
        }
        if let Ok(mut h) = ctx.help_limiter.lock() {
            h.prune(Instant::now());
        }
    }
}

/// How long a write to a peer (console or agent) may make no progress at
/// all before the peer counts as no longer reading.
pub const WRITE_STALL: Duration = Duration::from_secs(60);

/// Writes `bytes`; `Err(Some(()))` when [`WRITE_STALL`] passed without a
/// byte going out, `Err(None)` when the stream failed.
pub(crate) async fn write_unless_stalled(
    send: &mut quinn::SendStream,
    mut bytes: &[u8],
) -> Result<(), Option<()>> {
    while !bytes.is_empty() {
        match tokio::time::timeout(WRITE_STALL, send.write(bytes)).await {
            Ok(Ok(n)) => bytes = &bytes[n..],
            Ok(Err(_)) => return Err(None),
            Err(_) => return Err(Some(())),
        }
    }
    Ok(())
}

async fn handle_incoming(ctx: Arc<Ctx>, incoming: quinn::Incoming) {
    let peer = incoming.remote_address();
    let conn = match incoming.await {
        Ok(conn) => conn,
        Err(e) => {
            debug!(%peer, "handshake failed: {e}");
            return;
        }
    };
    let span = info_span!("conn", %peer);
    let result = run_connection(ctx, conn.clone())
        .instrument(span.clone())
        .await;
    let _guard = span.enter();
    match result {
        Ok(()) => {}
        Err(ConnError::Protocol(msg)) => {
            warn!("closing connection: {msg}");
            let reason: Vec<u8> = msg.bytes().take(200).collect();
            conn.close(CloseCode::Protocol.code().into(), &reason);
        }
        Err(ConnError::Lost(msg)) => debug!("connection ended: {msg}"),
        Err(ConnError::Store(e)) => {
            warn!("store failure: {e}");
            conn.close(CloseCode::Shutdown.code().into(), b"internal error");
        }
    }
}

/// Who a handshake authenticated.
pub enum Peer {
    Person {
        user_id: i64,
        name: String,
        role: Role,
        /// The session token this connection stands on (revoked at logout).
        token_hash: [u8; 32],
        /// The console's end-to-end public key, bound to that token.
        e2e_key: Vec<u8>,
    },
    Machine {
        machine_id: String,
    },
    MachineRequest {
        machine_id: String,
    },
    Enrolling {
        token_hash: [u8; 32],
    },
}

async fn run_connection(ctx: Arc<Ctx>, conn: quinn::Connection) -> Result<(), ConnError> {
    let (mut send, mut recv) = match tokio::time::timeout(HELLO_TIMEOUT, conn.accept_bi()).await {
        Ok(Ok(streams)) => streams,
        Ok(Err(e)) => return Err(ConnError::Lost(e.to_string())),
        Err(_) => return Err(ConnError::Protocol("no control stream within 10 s".into())),
    };
    let mut machine = ServerHandshake::new();
    let frame = match tokio::time::timeout(
        HELLO_TIMEOUT,
        read_frame(&mut recv, lifeline_proto::handshake::MAX_HELLO_LEN),
    )
    .await
    {
        Ok(frame) => frame?,
        Err(_) => return Err(ConnError::Protocol("no hello within 10 s".into())),
    };
    let Some(payload) = frame else {
        return Err(ConnError::Protocol(
            "control stream ended before hello".into(),
        ));
    };
    let mut framed = (payload.len() as u32).to_be_bytes().to_vec();
    framed.extend_from_slice(&payload);
    let hello = match machine.on_bytes(&framed) {
        Ok(Some(hello)) => hello,
        Ok(None) => return Err(ConnError::Protocol("incomplete hello".into())),
        Err(HandshakeError::UnsupportedVersion { ours, theirs }) => {
            let msg = format!(
                "unsupported protocol version: the relay speaks {ours:?}, this client speaks {theirs:?}"
            );
            refuse(
                &conn,
                &mut send,
                &mut machine,
                ErrorCode::UnsupportedVersion,
                &msg,
            )
            .await;
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    };
    let peer_addr = conn.remote_address();
    let (peer, token) = match crate::login::authenticate(&ctx, &hello, peer_addr).await? {
        Ok(ok) => ok,
        Err((code, msg)) => {
            refuse(&conn, &mut send, &mut machine, code, &msg).await;
            return Ok(());
        }
    };
    let identity = match &peer {
        Peer::Person { name, role, .. } => Identity::Person {
            user: name.clone(),
            role: *role,
            token: token
                .as_ref()
                .map(|(t, _)| lifeline_proto::Secret::new(t.clone())),
            token_expires_unix: token.as_ref().map_or(0, |(_, exp)| *exp),
        },
        Peer::Machine { machine_id } | Peer::MachineRequest { machine_id } => Identity::Machine {
            machine_id: machine_id.clone(),
        },
        Peer::Enrolling { .. } => Identity::Enrolling,
    };
    let welcome = machine.welcome(Welcome {
        protocol_version: 0,
        server_time_us: unix_micros(),
        identity,
    })?;
    send.write_all(&welcome)
        .await
        .map_err(|e| ConnError::Lost(e.to_string()))?;
    match peer {
        Peer::Person {
            user_id,
            name,
            role,
            token_hash,
            e2e_key,
        } => {
            let span = info_span!("console", user = %name);
            let groups = ctx.store.call(move |s| s.user_groups(user_id)).await?;
            console_conn::serve(
                ctx,
                conn,
                send,
                recv,
                console_conn::Person {
                    user_id,
                    name,
                    role,
                    groups,
                    token_hash,
                    e2e_key,
                },
            )
            .instrument(span)
            .await
        }
        Peer::Machine { machine_id } => {
            let span = info_span!("agent", machine = %machine_id);
            agent_conn::serve(ctx, conn, send, recv, machine_id)
                .instrument(span)
                .await
        }
        Peer::MachineRequest { machine_id } => {
            let span = info_span!("agent-request", machine = %machine_id);
            agent_conn::serve_request(ctx, conn, send, recv, machine_id)
                .instrument(span)
                .await
        }
        Peer::Enrolling { token_hash } => {
            agent_conn::enroll(ctx, conn, send, recv, token_hash).await
        }
    }
}

async fn refuse(
    conn: &quinn::Connection,
    send: &mut quinn::SendStream,
    machine: &mut ServerHandshake,
    code: ErrorCode,
    msg: &str,
) {
    info!(?code, "refused: {msg}");
    let bytes = machine.refuse(code, msg);
    let _ = send.write_all(&bytes).await;
    let _ = send.finish();
    // Give the client a moment to read the reason before the connection goes.
    let _ = tokio::time::timeout(Duration::from_secs(2), conn.closed()).await;
    conn.close(CloseCode::Refused.code().into(), b"refused");
}
