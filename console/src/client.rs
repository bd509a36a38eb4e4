//! A logged-in connection to the relay: numbered requests, events.

use crate::config::ConsoleConfig;
use lifeline_net::e2e::{self, SecureRecv, SecureSend};
use lifeline_net::{ConnectError, Connected, Fingerprint, open_control, read_msg, write_msg};
use lifeline_proto::SessionId;
use lifeline_proto::{
    ConsoleEvent, ConsoleReply, ConsoleRequest, Credential, Failure, Hello, MAX_FRAME_LEN,
    PROTOCOL_VERSION, PeerKind, RelayToConsole, Request, SUPPORTED_VERSIONS, Secret, Welcome,
};
use std::{
    collections::{HashMap, VecDeque},
    path::PathBuf,
};

/// A request could not be completed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error(transparent)]
    Stream(#[from] lifeline_net::StreamError),
    // Transparent: with `{0}` and a source, `{:#}` printed the relay's
    // message twice.
    #[error(transparent)]
    Failed(#[from] Failure),
    #[error("the relay closed the connection")]
    Closed,
    #[error("bad fingerprint in console config: {0}")]
    Fingerprint(#[from] lifeline_net::FingerprintError),
    #[error("unexpected answer from the relay: {0}")]
    Unexpected(String),
    #[error("{0}")]
    KeyChanged(String),
    #[error(
        "this login has no end-to-end key (made by an older console); run `lifeline login` again"
    )]
    NoE2eKey,
}

/// A console connection.
pub struct Client {
    pub connected: Connected,
    next_id: u32,
    events: VecDeque<ConsoleEvent>,
    /// Private half of this login's end-to-end key.
    e2e_private: Vec<u8>,
    /// Open sessions' machines and their end-to-end keys.
    session_keys: HashMap<SessionId, (String, Vec<u8>)>,
    /// Where machines' keys are pinned (first use), if anywhere.
    pins: Option<PathBuf>,
}

fn hello(credential: Credential) -> Hello {
    Hello {
        protocol_version: PROTOCOL_VERSION,
        supported_versions: SUPPORTED_VERSIONS.to_vec(),
        kind: PeerKind::Console,
        credential,
        software: format!("lifeline {}", env!("CARGO_PKG_VERSION")),
    }
}

impl Client {
    /// Logs in with a password.
    ///
    /// # Errors
    /// Connection failures and the relay's refusal.
    pub async fn login(
        relay: &str,
        fingerprint: &Fingerprint,
        user: &str,
        password: Secret,
        totp: Option<Secret>,
    ) -> Result<Self, ClientError> {
        let keys = e2e::generate_keypair()?;
        Self::login_with_key(relay, fingerprint, user, password, totp, keys).await
    }

    /// Logs in with a password, binding the login to this device's
    /// end-to-end key (so an organisation's approval of it still holds).
    ///
    /// # Errors
    /// Connection failures and the relay's refusal.
    pub async fn login_with_key(
        relay: &str,
        fingerprint: &Fingerprint,
        user: &str,
        password: Secret,
        totp: Option<Secret>,
        keys: e2e::KeyPair,
    ) -> Result<Self, ClientError> {
        lifeline_net::tls::install_provider();
        let cred = Credential::Password {
            user: user.to_string(),
            password,
            totp,
            e2e_key: keys.public,
        };
        let connected = open_control(relay, fingerprint, &hello(cred)).await?;
        Ok(Self::from_connected(connected, keys.private))
    }

    /// Connects with the saved session token.
    ///
    /// # Errors
    /// Connection failures, an expired token.
    pub async fn connect(config: &ConsoleConfig) -> Result<Self, ClientError> {
        lifeline_net::tls::install_provider();
        let fp: Fingerprint = config.fingerprint.parse()?;
        let cred = Credential::SessionToken(config.token.clone());
        let connected = open_control(&config.relay, &fp, &hello(cred)).await?;
        let private = hex::decode(config.e2e_private.expose()).unwrap_or_default();
        Ok(Self::from_connected(connected, private))
    }

    fn from_connected(connected: Connected, e2e_private: Vec<u8>) -> Self {
        Self {
            connected,
            next_id: 1,
            events: VecDeque::new(),
            e2e_private,
            session_keys: HashMap::new(),
            pins: None,
        }
    }

    /// Pins machines' end-to-end keys in `file` on first use and refuses a
    /// different key later (a relay swapping keys is caught).
    pub fn with_pins(mut self, file: PathBuf) -> Self {
        self.pins = Some(file);
        self
    }

    /// The private half of this login's end-to-end key, hex, for saving.
    pub fn e2e_private_hex(&self) -> Secret {
        Secret::new(hex::encode(&self.e2e_private))
    }

    /// The relay's welcome.
    pub fn welcome(&self) -> &Welcome {
        &self.connected.welcome
    }

    /// Writes a request under the next id; answers the id.
    async fn send(&mut self, body: ConsoleRequest) -> Result<u32, ClientError> {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        write_msg(
            &mut self.connected.send,
            &Request { id, body },
            MAX_FRAME_LEN,
        )
        .await?;
        Ok(id)
    }

    /// Sends a request and waits for its answer; events that arrive
    /// meanwhile are kept for [`Client::next_event`].
    ///
    /// # Errors
    /// The relay's failure answer, or a lost connection.
    pub async fn request(&mut self, body: ConsoleRequest) -> Result<ConsoleReply, ClientError> {
        let id = self.send(body).await?;
        loop {
            match read_msg::<RelayToConsole>(&mut self.connected.recv, MAX_FRAME_LEN).await? {
                Some(RelayToConsole::Response(r)) if r.id == id => {
                    let reply = r.body?;
                    if let ConsoleReply::SessionOpened {
                        session,
                        machine_id,
                        hostname,
                        machine_key,
                        ..
                    } = &reply
                    {
                        if let Some(file) = &self.pins
                            && let Err(why) =
                                crate::pins::check(file, machine_id, hostname, machine_key)
                        {
                            let _ = Box::pin(
                                self.request(ConsoleRequest::CloseSession { session: *session }),
                            )
                            .await;
                            return Err(ClientError::KeyChanged(why));
                        }
                        self.session_keys
                            .insert(*session, (machine_id.clone(), machine_key.clone()));
                    }
                    return Ok(reply);
                }
                Some(RelayToConsole::Response(_)) => {}
                Some(RelayToConsole::Event(e)) => self.events.push_back(e),
                None => return Err(ClientError::Closed),
            }
        }
    }

    /// Several requests in flight at once, at most `window` of them:
    /// their answers in the order asked. Over a long path this waits a
    /// round trip per `window` requests, not per request (a report reads
    /// hundreds of tickets). Not for opening sessions, whose machine keys
    /// [`Client::request`] checks.
    ///
    /// # Errors
    /// The first refusal, once every answer is in (so that later requests
    /// get their own answers); a lost connection; an `OpenSession`.
    pub async fn requests(
        &mut self,
        bodies: Vec<ConsoleRequest>,
        window: usize,
    ) -> Result<Vec<ConsoleReply>, ClientError> {
        if bodies
            .iter()
            .any(|b| matches!(b, ConsoleRequest::OpenSession { .. }))
        {
            return Err(ClientError::Unexpected(
                "sessions are opened one at a time".into(),
            ));
        }
        let n = bodies.len();
        let first_id = self.next_id;
        let mut answers: Vec<Option<Result<ConsoleReply, Failure>>> =
            std::iter::repeat_with(|| None).take(n).collect();
        let mut bodies = bodies.into_iter();
        let (mut sent, mut got) = (0, 0);
        while got < n {
            while sent < n && sent - got < window.max(1) {
                let Some(body) = bodies.next() else { break };
                self.send(body).await?;
                sent += 1;
            }
            match read_msg::<RelayToConsole>(&mut self.connected.recv, MAX_FRAME_LEN).await? {
                Some(RelayToConsole::Response(r)) => {
                    let k = r.id.wrapping_sub(first_id) as usize;
                    if let Some(slot @ None) = answers.get_mut(k).filter(|_| k < sent) {
                        *slot = Some(r.body);
                        got += 1;
                    }
                }
                Some(RelayToConsole::Event(e)) => self.events.push_back(e),
                None => return Err(ClientError::Closed),
            }
        }
        answers
            .into_iter()
            .map(|a| match a {
                Some(Ok(reply)) => Ok(reply),
                Some(Err(f)) => Err(f.into()),
                None => Err(ClientError::Closed),
            })
            .collect()
    }

    /// The next event from the relay.
    ///
    /// # Errors
    /// A lost connection.
    pub async fn next_event(&mut self) -> Result<ConsoleEvent, ClientError> {
        if let Some(e) = self.events.pop_front() {
            return Ok(e);
        }
        loop {
            match read_msg::<RelayToConsole>(&mut self.connected.recv, MAX_FRAME_LEN).await? {
                Some(RelayToConsole::Event(e)) => return Ok(e),
                Some(RelayToConsole::Response(_)) => {}
                None => return Err(ClientError::Closed),
            }
        }
    }

    /// Opens a stream of `channel` in an open session: the relay reads its
    /// header and splices it to the agent, and the end-to-end handshake
    /// proves the agent holds the machine's enrolled key.
    ///
    /// # Errors
    /// A lost connection; a failed handshake.
    pub async fn open_stream(
        &mut self,
        session: SessionId,
        channel: lifeline_proto::Channel,
    ) -> Result<(SecureSend, SecureRecv), ClientError> {
        self.open_stream_later(session, channel).await?.await
    }

    /// Opens a stream of `session` on `channel` and returns its end-to-end
    /// handshake, to run in a task of its own: a stream beside another
    /// (probes beside the screen) whose start need not wait a round trip
    /// for it.
    ///
    /// # Errors
    /// As [`Client::open_stream`].
    pub async fn open_stream_later(
        &mut self,
        session: SessionId,
        channel: lifeline_proto::Channel,
    ) -> Result<
        impl std::future::Future<Output = Result<(SecureSend, SecureRecv), ClientError>>
        + Send
        + 'static,
        ClientError,
    > {
        if self.e2e_private.len() != e2e::KEY_LEN {
            return Err(ClientError::NoE2eKey);
        }
        let Some((machine_id, key)) = self.session_keys.get(&session).cloned() else {
            return Err(ClientError::Unexpected(format!(
                "session {session} was not opened on this connection"
            )));
        };
        let (send, recv) = self.open_raw_stream(session, channel).await?;
        let prologue = e2e::prologue(session, &format!("{channel:?}"), &machine_id);
        let private = self.e2e_private.clone();
        Ok(async move { Ok(e2e::initiate(send, recv, &private, &key, &prologue).await?) })
    }

    /// Opens a stream and writes its header, nothing more.
    async fn open_raw_stream(
        &mut self,
        session: SessionId,
        channel: lifeline_proto::Channel,
    ) -> Result<(quinn::SendStream, quinn::RecvStream), ClientError> {
        let lost = |e: String| ClientError::Unexpected(e);
        let (mut send, recv) = self
            .connected
            .conn
            .open_bi()
            .await
            .map_err(|e| lost(e.to_string()))?;
        let header = lifeline_proto::encode_message(
            &lifeline_proto::StreamHeader { session, channel },
            lifeline_proto::MAX_HEADER_FRAME_LEN,
        )
        .map_err(|e| lost(e.to_string()))?;
        send.write_all(&header)
            .await
            .map_err(|e| lost(e.to_string()))?;
        send.set_priority(channel.send_priority())
            .map_err(|e| lost(e.to_string()))?;
        Ok((send, recv))
    }

    /// Why `session` ended, as the relay tells it; `None` if it does not
    /// say within `wait`. Other events on the way are dropped.
    pub async fn end_reason(
        &mut self,
        session: lifeline_proto::SessionId,
        wait: std::time::Duration,
    ) -> Option<lifeline_proto::EndReason> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match tokio::time::timeout_at(deadline, self.next_event()).await {
                Ok(Ok(ConsoleEvent::SessionEnded { session: s, reason })) if s == session => {
                    return Some(reason);
                }
                Ok(Ok(_)) => {}
                Ok(Err(_)) | Err(_) => return None,
            }
        }
    }

    /// Closes the connection politely and waits briefly for the close to go out.
    pub async fn close(self) {
        self.connected.conn.close(0u32.into(), b"bye");
        let _ = tokio::time::timeout(
            std::time::Duration::from_secs(1),
            self.connected.endpoint.wait_idle(),
        )
        .await;
    }
}
