//! `lifeline type | click | key`: the technician's input from a script.

use crate::client::{Client, ClientError};
use anyhow::{Context, bail};
use lifeline_net::e2e::{SecureRecv, SecureSend};
use lifeline_proto::{
    Channel, ConsoleReply, ConsoleRequest, Permission, SessionPurpose,
    input::{InputEvent, InputMsg, InputReply, MAX_INPUT_LEN},
};
use std::time::{Duration, Instant};

/// An open input stream of a control (or view-only) session.
pub struct InputStream {
    pub session: u64,
    pub hostname: String,
    send: SecureSend,
    recv: SecureRecv,
    seq: u64,
}

impl InputStream {
    /// Opens a screen session with `machine` and its input stream.
    ///
    /// # Errors
    /// Refusals (offline, declined, forbidden) and stream failures.
    pub async fn open(
        client: &mut Client,
        machine: &str,
        permission: Permission,
    ) -> Result<Self, ClientError> {
        let reply = client
            .request(ConsoleRequest::OpenSession {
                machine: machine.to_string(),
                purpose: SessionPurpose::Screen,
                permission,
                ticket: None,
            })
            .await?;
        let ConsoleReply::SessionOpened {
            session, hostname, ..
        } = reply
        else {
            return Err(ClientError::Unexpected(format!("{reply:?}")));
        };
        Self::attach(client, session, hostname).await
    }

    /// Opens an input stream on a session that is already open (the
    /// viewer window's).
    ///
    /// # Errors
    /// Stream failures.
    pub async fn attach(
        client: &mut Client,
        session: u64,
        hostname: String,
    ) -> Result<Self, ClientError> {
        let (send, recv) = client.open_stream(session, Channel::Input).await?;
        Ok(Self {
            session,
            hostname,
            send,
            recv,
            seq: 0,
        })
    }

    /// Sends one event and waits for the agent's verdict; returns the round
    /// trip (console → relay → agent injects → back).
    ///
    /// # Errors
    /// The agent's refusal reason, or stream failures.
    pub async fn send(&mut self, event: InputEvent) -> anyhow::Result<Duration> {
        self.seq += 1;
        let t = Instant::now();
        self.send
            .write_msg(
                &InputMsg {
                    seq: self.seq,
                    event,
                },
                MAX_INPUT_LEN,
            )
            .await?;
        match self.recv.read_msg::<InputReply>(1024).await? {
            Some(InputReply::Done { seq }) if seq == self.seq => Ok(t.elapsed()),
            Some(InputReply::Refused { reason, .. }) => {
                bail!("the agent refused the input: {reason}")
            }
            Some(other) => bail!("unexpected input reply {other:?}"),
            None => bail!("the agent closed the input stream"),
        }
    }
}

/// Opens, sends `events` in order, closes the session.
///
/// # Errors
/// The first refusal or failure.
pub async fn run(
    client: &mut Client,
    machine: &str,
    view_only: bool,
    events: Vec<InputEvent>,
) -> anyhow::Result<String> {
    let permission = if view_only {
        Permission::View
    } else {
        Permission::Control
    };
    let mut input = InputStream::open(client, machine, permission)
        .await
        .with_context(|| format!("connect {machine}"))?;
    let mut result = Ok(());
    for ev in events {
        if let Err(e) = input.send(ev).await {
            result = Err(e);
            break;
        }
    }
    let _ = client
        .request(ConsoleRequest::CloseSession {
            session: input.session,
        })
        .await;
    result.map(|()| input.hostname)
}
