//! An in-process Lifeline installation for benchmarks: relay, admin, agents.

use anyhow::{Context, bail};
use lifeline::client::Client;
use lifeline_agent::{config::AgentConfig, enroll, runner};
use lifeline_net::Fingerprint;
use lifeline_proto::{ConsoleReply, ConsoleRequest, Secret};
use lifeline_relay::{auth, datadir::DataDir, server::Relay, store::Store};
use std::{
    net::SocketAddr,
    path::PathBuf,
    time::{Duration, Instant},
};

/// A relay running in this process, with one admin logged in.
pub struct Stage {
    pub dir: tempfile::TempDir,
    pub data: DataDir,
    pub addr: SocketAddr,
    pub fingerprint: Fingerprint,
    pub admin: Client,
    /// The relay's state, test hooks included.
    pub relay: std::sync::Arc<lifeline_relay::server::Ctx>,
    relay_task: tokio::task::JoinHandle<()>,
}

const ADMIN: &str = "bench-admin";
const ADMIN_PW: &str = "bench-password";

impl Stage {
    /// Initializes a data dir, adds an admin, starts the relay on an
    /// ephemeral loopback port and logs in.
    ///
    /// # Errors
    /// Any setup failure.
    pub async fn start() -> anyhow::Result<Self> {
        Self::start_with(None, |_| Ok(())).await
    }

    /// Like [`Stage::start`], but fills the store with `populate` before the
    /// relay starts, and runs the relay on `relay_rt` if given (e.g. a
    /// single-threaded runtime, to measure what one core does).
    ///
    /// # Errors
    /// Any setup failure.
    pub async fn start_with(
        relay_rt: Option<tokio::runtime::Handle>,
        populate: impl FnOnce(&mut lifeline_relay::store::SqliteStore) -> anyhow::Result<()>,
    ) -> anyhow::Result<Self> {
        lifeline_net::tls::install_provider();
        let dir = tempfile::tempdir()?;
        let data = DataDir::new(dir.path().join("relay"));
        let (fingerprint, _) = data.init()?;
        let hash = auth::hash_password(ADMIN_PW)?;
        {
            let mut store = data.open_store()?;
            store.add_user(ADMIN, lifeline_proto::Role::Admin, &hash, 0)?;
            populate(&mut store)?;
        }
        let handle = relay_rt.unwrap_or_else(tokio::runtime::Handle::current);
        let (addr, ctx, relay_task) = {
            let _enter = handle.enter();
            let relay = Relay::bind(&data, "127.0.0.1:0".parse()?)?;
            let addr = relay.local_addr()?;
            let ctx = relay.ctx.clone();
            (addr, ctx, handle.spawn(relay.run(std::future::pending())))
        };
        let admin = login(addr, &fingerprint, ADMIN, ADMIN_PW).await?;
        Ok(Self {
            dir,
            data,
            addr,
            fingerprint,
            admin,
            relay: ctx,
            relay_task,
        })
    }

    /// Logs the admin in again, through `relay` (a proxy before this
    /// relay, say).
    ///
    /// # Errors
    /// The relay refused or could not be reached.
    pub async fn admin_via(&self, relay: SocketAddr) -> anyhow::Result<Client> {
        login(relay, &self.fingerprint, ADMIN, ADMIN_PW).await
    }

    /// Logs `user` in to this relay with `password`.
    ///
    /// # Errors
    /// The relay refused or could not be reached.
    pub async fn login(&self, user: &str, password: &str) -> anyhow::Result<Client> {
        login(self.addr, &self.fingerprint, user, password).await
    }

    /// The audit entries of `actor`, oldest first.
    ///
    /// # Errors
    /// Relay refusal.
    pub async fn audit_of(
        &mut self,
        actor: &str,
    ) -> anyhow::Result<Vec<lifeline_proto::audit::AuditEntry>> {
        match self
            .admin
            .request(ConsoleRequest::Audit {
                since_unix: 0,
                actor: Some(actor.into()),
            })
            .await?
        {
            ConsoleReply::Audit(rows) => Ok(rows),
            other => bail!("unexpected {other:?}"),
        }
    }

    /// Creates an enrollment token usable `uses` times.
    ///
    /// # Errors
    /// Relay refusal.
    pub async fn token(&mut self, uses: Option<u32>) -> anyhow::Result<Secret> {
        match self
            .admin
            .request(ConsoleRequest::CreateEnrollToken {
                group: None,
                ttl_secs: 3600,
                max_uses: uses,
            })
            .await?
        {
            ConsoleReply::EnrollToken { token, .. } => Ok(token),
            other => bail!("unexpected {other:?}"),
        }
    }

    /// Enrolls an agent named `name` and starts its run loop in this process.
    ///
    /// # Errors
    /// Enrollment failures.
    pub async fn spawn_agent(&mut self, name: &str) -> anyhow::Result<AgentConfig> {
        let addr = self.addr;
        let config = self.enroll(name, addr).await?;
        let run_cfg = config.clone();
        tokio::spawn(async move {
            let _ = runner::run(&run_cfg, &runner::RunOptions::default()).await;
        });
        self.wait_online(&config.machine_id, Duration::from_secs(10))
            .await?;
        Ok(config)
    }

    /// Enrolls a machine named `name` (its state in `agent-{name}` under
    /// the stage's directory) through `relay`: the stage's own address, or
    /// a path in front of it.
    ///
    /// # Errors
    /// Enrollment failures.
    pub async fn enroll(&mut self, name: &str, relay: SocketAddr) -> anyhow::Result<AgentConfig> {
        let token = self.token(Some(1)).await?;
        let agent_dir = self.agent_dir(name);
        enroll::enroll(
            &agent_dir,
            &relay.to_string(),
            &self.fingerprint,
            token,
            false,
            None,
        )
        .await
        .context("enroll")
    }

    /// The directory of the machine [`Stage::enroll`] enrolled as `name`.
    #[must_use]
    pub fn agent_dir(&self, name: &str) -> PathBuf {
        self.dir.path().join(format!("agent-{name}"))
    }

    /// Waits until the relay lists `machine_id` as online.
    ///
    /// # Errors
    /// Timeout.
    pub async fn wait_online(&mut self, machine_id: &str, limit: Duration) -> anyhow::Result<()> {
        let start = Instant::now();
        loop {
            let mut online = false;
            lifeline::machine_cmd::each_machine(&mut self.admin, None, |m| {
                online |= m.id == machine_id && m.online;
                Ok(())
            })
            .await?;
            if online {
                return Ok(());
            }
            if start.elapsed() > limit {
                bail!("machine {machine_id} did not come online within {limit:?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the relay holds `machine_id`'s inventory with its
    /// installed software: an agent's first upload, which would otherwise
    /// share the agent's link (and the CPU) with what is measured next.
    ///
    /// # Errors
    /// No such inventory within `limit`.
    pub async fn wait_inventory(
        &mut self,
        machine_id: &str,
        limit: Duration,
    ) -> anyhow::Result<()> {
        let start = Instant::now();
        loop {
            let ask = ConsoleRequest::Inventory {
                machine: machine_id.to_string(),
            };
            if let Ok(ConsoleReply::Inventory { json, .. }) = self.admin.request(ask).await
                && serde_json::from_slice::<lifeline_inventory::Inventory>(&json)
                    .is_ok_and(|inv| !inv.software.packages.is_empty())
            {
                return Ok(());
            }
            if start.elapsed() > limit {
                bail!("no inventory with software from {machine_id} within {limit:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The relay's certificate and key, to stand up a direct peer with the
    /// same TLS setup.
    ///
    /// # Errors
    /// Data dir read failures.
    pub fn cert_and_key(&self) -> anyhow::Result<(Vec<u8>, Vec<u8>)> {
        Ok((self.data.cert()?, self.data.key()?))
    }
}

impl Drop for Stage {
    fn drop(&mut self) {
        self.relay_task.abort();
    }
}

/// Opens an agent's control connection the way a real agent does after a
/// relay restart: a relay busy with the rest of the fleet may not answer at
/// once, so connection failures are retried with growing delays (8
/// attempts at most); a refusal is final. Returns the connection and how
/// many retries it took.
///
/// # Errors
/// The last failure, or the relay's refusal.
pub async fn agent_hello(
    addr: &str,
    fp: &Fingerprint,
    machine_id: String,
    secret: Secret,
    software: &str,
) -> anyhow::Result<(lifeline_net::Connected, u32)> {
    let hello = lifeline_proto::Hello {
        protocol_version: lifeline_proto::PROTOCOL_VERSION,
        supported_versions: lifeline_proto::SUPPORTED_VERSIONS.to_vec(),
        kind: lifeline_proto::PeerKind::Agent,
        credential: lifeline_proto::Credential::Machine { machine_id, secret },
        software: software.into(),
    };
    let mut retries = 0;
    loop {
        match lifeline_net::open_control(addr, fp, &hello).await {
            Ok(c) => return Ok((c, retries)),
            Err(e @ lifeline_net::ConnectError::Refused(_)) => return Err(e.into()),
            Err(e) if retries < 7 => {
                retries += 1;
                tracing::debug!("agent hello: retrying after {e}");
                tokio::time::sleep(Duration::from_millis(250 << retries)).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

async fn login(
    addr: SocketAddr,
    fingerprint: &Fingerprint,
    user: &str,
    password: &str,
) -> anyhow::Result<Client> {
    Ok(Client::login(
        &addr.to_string(),
        fingerprint,
        user,
        Secret::new(password),
        None,
    )
    .await?)
}

/// Fills a store, before its relay starts, with technician `tech` of the
/// group "finance" and two machines, one in each of the groups "finance"
/// and "ops": ids `finance-machine`, `ops-machine`, hostnames `finance-pc`,
/// `ops-pc`. Answers their (id, hostname), finance first.
///
/// # Errors
/// Store failures.
pub fn two_groups(
    s: &mut lifeline_relay::store::SqliteStore,
    tech: &str,
    tech_pw: &str,
) -> anyhow::Result<Vec<(String, String)>> {
    use lifeline_relay::store::{InventoryStore, NewEnrollToken};
    let id = s.add_user(
        tech,
        lifeline_proto::Role::Technician,
        &auth::hash_password(tech_pw)?,
        0,
    )?;
    s.set_user_groups(id, &["finance".into()])?;
    let mut machines = Vec::new();
    for (n, group) in [(0u8, "finance"), (1, "ops")] {
        let token = [n; 32];
        s.add_enroll_token(&NewEnrollToken {
            hash: token,
            group: Some(group.into()),
            created_by: 1,
            created_unix: 0,
            expires_unix: u64::MAX / 2,
            max_uses: None,
        })?;
        let info = lifeline_proto::MachineInfo {
            hostname: format!("{group}-pc"),
            os: "Debian 12".into(),
            arch: "x86_64".into(),
            agent_version: "test".into(),
        };
        let id = format!("{group}-machine");
        s.enroll(&token, &id, &[0; 32], &info, 0)?;
        machines.push((id, info.hostname));
    }
    Ok(machines)
}

/// A chat session's log by `alice`, accepted, of one minute ending at
/// `ended_unix`, with no chat: tests and benchmarks fill stores with them.
#[must_use]
pub fn chat_log(
    session: u64,
    machine: &str,
    hostname: &str,
    ended_unix: u64,
) -> lifeline_proto::session_log::SessionLog {
    lifeline_proto::session_log::SessionLog {
        session,
        machine_id: machine.into(),
        hostname: hostname.into(),
        technician: "alice".into(),
        ticket: None,
        ticket_created: false,
        purpose: "chat".into(),
        permission_asked: lifeline_proto::Permission::View,
        decision: "accepted".into(),
        consent: "allowed by the user at the prompt".into(),
        offered_unix: ended_unix.saturating_sub(60),
        started_unix: Some(ended_unix.saturating_sub(58)),
        ended_unix,
        duration_s: 58,
        ended: "technician closed the session".into(),
        bytes_to_agent: 0,
        bytes_to_console: 0,
        streams: 1,
        frames: 0,
        mean_fps: 0.0,
        refused_input: 0,
        permission_changes: vec![],
        chat: vec![],
        chat_dropped: 0,
        clipboard: vec![],
    }
}
