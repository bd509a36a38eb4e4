//! The console end of a screen stream: start, decode, credit, measure.

use crate::client::{Client, ClientError};
use lifeline_net::e2e::{SecureRecv, SecureSend};
use lifeline_net::unix_micros;
use lifeline_proto::{
    Channel, ConsoleReply, ConsoleRequest, MAX_HEADER_FRAME_LEN, Permission, SessionId,
    SessionPurpose,
    screen::{Decoder, Frame},
    view::{
        AgentToViewer, CaptureTicks, CreditWindow, CursorState, INITIAL_CREDITS,
        MAX_SCREEN_FRAME_LEN, MonitorInfo, ViewerToAgent, handshake_timing, narrow_offset,
    },
};

/// What a screen stream delivers to its user.
#[derive(Debug)]
pub enum ViewEvent {
    /// A new frame was decoded; `latency_us` runs from capture on the agent
    /// to decode done here, corrected by the clock-offset estimate.
    Frame {
        seq: u64,
        bytes: usize,
        latency_us: i64,
        /// `false` while part of the picture is a moving area shown at
        /// half resolution (smooth motion); exact again once it stops.
        exact: bool,
    },
    /// The pointer moved or changed shape.
    Cursor(CursorState),
}

/// An open screen stream.
pub struct ScreenStream {
    pub session: SessionId,
    pub machine_id: String,
    pub hostname: String,
    pub monitors: Vec<MonitorInfo>,
    /// What the user granted: may be less than asked.
    pub permission: Permission,
    /// Agent clock minus console clock, in microseconds.
    pub clock_offset_us: i64,
    /// Credits out, how many to keep out, and the path's round trip.
    credits: CreditWindow,
    /// Frames' capture times on the agent's clock, counted from its
    /// answer.
    capture_ticks: CaptureTicks,
    /// Frames received so far (the number the next credit acknowledges).
    frames: u64,
    send: SecureSend,
    recv: SecureRecv,
    decoder: Decoder,
    /// Probes of the path's round trip, when their stream opened.
    probes: Option<super::probe::Prober>,
}

/// Screen sharing could not start or went wrong.
#[derive(Debug, thiserror::Error)]
pub enum ViewError {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("screen stream: {0}")]
    Stream(#[from] lifeline_net::StreamError),
    #[error("{0}")]
    Agent(String),
    #[error("the screen stream ended")]
    Ended,
    #[error("cannot decode a frame from the agent: {0}")]
    Decode(String),
    #[error("connection: {0}")]
    Connection(String),
}

impl ScreenStream {
    /// Opens a screen session with `machine` and starts streaming.
    ///
    /// # Errors
    /// Refusals (offline, declined, forbidden) and the agent's screen errors
    /// such as "no display (DISPLAY unset)".
    pub async fn open(
        client: &mut Client,
        machine: &str,
        permission: Permission,
        monitor: Option<u32>,
        max_fps: u32,
    ) -> Result<Self, ViewError> {
        Self::open_for_ticket(client, machine, permission, monitor, max_fps, None).await
    }

    /// Like [`ScreenStream::open`], linking the session to a ticket so that
    /// its log lands on it.
    ///
    /// # Errors
    /// As [`ScreenStream::open`].
    pub async fn open_for_ticket(
        client: &mut Client,
        machine: &str,
        permission: Permission,
        monitor: Option<u32>,
        max_fps: u32,
        ticket: Option<u64>,
    ) -> Result<Self, ViewError> {
        let reply = client
            .request(ConsoleRequest::OpenSession {
                machine: machine.to_string(),
                purpose: SessionPurpose::Screen,
                permission,
                ticket,
            })
            .await?;
        let ConsoleReply::SessionOpened {
            session,
            machine_id,
            hostname,
            permission,
            ..
        } = reply
        else {
            return Err(ViewError::Agent(format!("unexpected answer {reply:?}")));
        };
        let (mut send, mut recv) = client
            .open_stream(session, Channel::Screen)
            .await
            .map_err(|e| ViewError::Connection(e.to_string()))?;
        let sent_at = unix_micros();
        let start = ViewerToAgent::Start {
            monitor,
            max_fps,
            credits: INITIAL_CREDITS,
            viewer_time_us: sent_at,
        };
        send.write_msg(&start, MAX_HEADER_FRAME_LEN).await?;
        let ready = recv.read_msg::<AgentToViewer>(MAX_SCREEN_FRAME_LEN).await?;
        let received_at = unix_micros();
        match ready {
            Some(AgentToViewer::Ready {
                monitors,
                agent_start_us,
                agent_time_us,
                ..
            }) => {
                let (path_rtt_us, clock_offset_us) =
                    handshake_timing(sent_at, agent_start_us, agent_time_us, received_at);
                // Beside the screen, without holding up its first frame.
                let probes = match client.open_stream_later(session, Channel::Ping).await {
                    Ok(handshake) => Some(super::probe::Prober::start(handshake)),
                    Err(e) => {
                        tracing::debug!("no probes of the path: {e}");
                        None
                    }
                };
                Ok(Self {
                    session,
                    machine_id,
                    hostname,
                    monitors,
                    permission,
                    clock_offset_us,
                    capture_ticks: CaptureTicks::new(agent_time_us),
                    credits: CreditWindow::new(max_fps, path_rtt_us, sent_at),
                    frames: 0,
                    send,
                    recv,
                    decoder: Decoder::new(),
                    probes,
                })
            }
            Some(AgentToViewer::Error { message }) => Err(ViewError::Agent(message)),
            Some(other) => Err(ViewError::Agent(format!("unexpected {other:?}"))),
            None => Err(ViewError::Ended),
        }
    }

    /// Waits for the next frame or cursor update; frames are decoded and
    /// credited before this returns.
    ///
    /// # Errors
    /// Stream failures, agent errors, undecodable frames.
    pub async fn next(&mut self) -> Result<ViewEvent, ViewError> {
        match self
            .recv
            .read_msg::<AgentToViewer>(MAX_SCREEN_FRAME_LEN)
            .await?
        {
            Some(AgentToViewer::Frame { capture_step, data }) => {
                // Counted first: every frame's step, decoded or not.
                let captured_at = self.capture_ticks.advance(capture_step);
                if let Err(e) = self.decoder.decode(&data) {
                    // Ask for a clean start rather than show garbage.
                    let _ = self.send.write_msg(&ViewerToAgent::KeyFrame, 64).await;
                    return Err(ViewError::Decode(e.to_string()));
                }
                let done = unix_micros();
                self.clock_offset_us = narrow_offset(
                    self.clock_offset_us,
                    captured_at,
                    self.credits.next_credit_granted_us(),
                    done,
                );
                // The window compares latencies with each other: the raw
                // difference of the two clocks does, unmoved by the offset.
                let raw_latency_us = done as i64 - captured_at as i64;
                let latency_us = raw_latency_us + self.clock_offset_us;
                self.frames += 1;
                let seq = self.frames;
                let age_us = u64::try_from(latency_us).unwrap_or(0);
                if let Some(p) = self.probes.as_mut() {
                    p.on_frame(data.len());
                    if let Some((rtt, meanwhile)) = p.take() {
                        let meanwhile = usize::try_from(meanwhile).unwrap_or(usize::MAX);
                        self.credits.on_probe(rtt, meanwhile);
                    }
                }
                let credits = self
                    .credits
                    .on_frame(data.len(), raw_latency_us, age_us, done);
                if credits > 0 {
                    self.send
                        .write_msg(&ViewerToAgent::Credit { seq, credits }, 64)
                        .await?;
                }
                Ok(ViewEvent::Frame {
                    seq,
                    bytes: data.len(),
                    latency_us,
                    exact: self.decoder.exact(),
                })
            }
            Some(AgentToViewer::Cursor(c)) => Ok(ViewEvent::Cursor(c)),
            Some(AgentToViewer::Error { message }) => Err(ViewError::Agent(message)),
            Some(AgentToViewer::Ready { .. }) => Err(ViewError::Agent("second Ready".into())),
            None => Err(ViewError::Ended),
        }
    }

    /// Bytes received on this stream (and its probes' echoes) so far as
    /// they travelled through the relay (messages, framing, encryption),
    /// for byte-rate comparisons.
    pub fn wire_bytes(&self) -> u64 {
        self.recv.wire_bytes() + self.probes.as_ref().map_or(0, |p| p.wire_bytes())
    }

    /// Round trip from here to the agent through the relay, in
    /// microseconds: the stream handshake's, then the quickest of the last
    /// probes, lowered by any frame that came back sooner after its credit.
    pub fn path_rtt_us(&self) -> u64 {
        self.credits.path_rtt_us()
    }

    /// The last decoded frame.
    pub fn frame(&self) -> Option<&Frame> {
        self.decoder.frame()
    }

    /// Whether the last decoded frame is exactly the remote screen (see
    /// [`ViewEvent::Frame`]'s `exact`).
    pub fn exact(&self) -> bool {
        self.decoder.exact()
    }

    /// Asks for large moving areas (a video) at half resolution while
    /// they move, exact again once they hold still (`false`: exact frames
    /// only, the default).
    ///
    /// # Errors
    /// The stream is gone.
    pub async fn set_smooth_motion(&mut self, on: bool) -> Result<(), ViewError> {
        self.send
            .write_msg(&ViewerToAgent::Motion { coarse: on }, 64)
            .await?;
        Ok(())
    }

    /// Asks the agent to show another monitor.
    ///
    /// # Errors
    /// Stream failures.
    pub async fn select_monitor(&mut self, monitor: Option<u32>) -> Result<(), ViewError> {
        self.send
            .write_msg(&ViewerToAgent::SelectMonitor(monitor), 64)
            .await?;
        Ok(())
    }
}
