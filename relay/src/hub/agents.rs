//! The agents half of the hub: who is connected, their heartbeats, and
//! messages to them.

use super::{AgentEntry, Hub, PRESENCE_TIMEOUT};
use lifeline_proto::RelayToAgent;
use std::time::Instant;
use tokio::sync::mpsc;

impl AgentEntry {
    /// Online: heard from within the presence timeout, or busy (its
    /// silence is then the relay's).
    fn present(&self, now: Instant) -> bool {
        self.busy > 0 || now.saturating_duration_since(self.last_heartbeat) < PRESENCE_TIMEOUT
    }
}

impl Hub {
    /// Records an agent as online. An older connection of the same machine
    /// is closed, and its sessions end.
    pub fn register_agent(
        &self,
        machine_id: &str,
        conn_id: u64,
        conn: quinn::Connection,
        tx: mpsc::UnboundedSender<RelayToAgent>,
        now: Instant,
        now_unix: u64,
    ) {
        let old = self.lock().agents.insert(
            machine_id.to_string(),
            AgentEntry {
                conn_id,
                conn,
                tx,
                last_heartbeat: now,
                last_heartbeat_unix: now_unix,
                busy: 0,
            },
        );
        if let Some(old) = old {
            old.conn.close(
                lifeline_proto::CloseCode::Replaced.code().into(),
                b"replaced by a newer connection",
            );
            self.end_agent_sessions(old.conn_id, now);
        }
    }

    /// Records that an agent connection went away; ends its sessions.
    /// Returns the last heartbeat time to persist, if this connection was
    /// still the registered one.
    pub fn unregister_agent(&self, machine_id: &str, conn_id: u64, now: Instant) -> Option<u64> {
        let removed = {
            let mut inner = self.lock();
            match inner.agents.get(machine_id) {
                Some(e) if e.conn_id == conn_id => inner.agents.remove(machine_id),
                _ => None,
            }
        };
        self.end_agent_sessions(conn_id, now);
        removed.map(|e| e.last_heartbeat_unix)
    }

    /// Drops a revoked machine's connection (close code `Revoked`) and ends
    /// its sessions. True if it was connected.
    pub fn revoke_agent(&self, machine_id: &str, now: Instant) -> bool {
        let Some(e) = self.lock().agents.remove(machine_id) else {
            return false;
        };
        let code = lifeline_proto::CloseCode::Revoked.code();
        e.conn.close(code.into(), b"machine revoked by an admin");
        self.end_agent_sessions(e.conn_id, now);
        true
    }

    /// Notes a heartbeat.
    pub fn heartbeat(&self, machine_id: &str, conn_id: u64, now: Instant, now_unix: u64) {
        if let Some(e) = self.lock().agents.get_mut(machine_id)
            && e.conn_id == conn_id
        {
            e.last_heartbeat = now;
            e.last_heartbeat_unix = now_unix;
        }
    }

    /// The relay starts (`true`) or finished (`false`) working on one of
    /// the agent's messages. A message is proof of life, so finishing counts
    /// as a heartbeat; while busy the agent is never reaped as silent.
    pub fn agent_busy(
        &self,
        machine_id: &str,
        conn_id: u64,
        busy: bool,
        now: Instant,
        now_unix: u64,
    ) {
        if let Some(e) = self.lock().agents.get_mut(machine_id)
            && e.conn_id == conn_id
        {
            e.busy = if busy {
                e.busy.saturating_add(1)
            } else {
                e.busy.saturating_sub(1)
            };
            e.last_heartbeat = now;
            e.last_heartbeat_unix = now_unix;
        }
    }

    /// `Some(last heartbeat, unix)` if the machine is online now.
    pub fn online(&self, machine_id: &str, now: Instant) -> Option<u64> {
        let inner = self.lock();
        let e = inner.agents.get(machine_id)?;
        e.present(now).then_some(e.last_heartbeat_unix)
    }

    /// Every machine online now, with its last heartbeat (unix): what
    /// [`Hub::online`] answers for each, under one lock.
    pub fn online_now(&self, now: Instant) -> std::collections::HashMap<String, u64> {
        self.lock()
            .agents
            .iter()
            .filter(|(_, e)| e.present(now))
            .map(|(id, e)| (id.clone(), e.last_heartbeat_unix))
            .collect()
    }

    /// Machines whose agents stopped heartbeating: their connections are
    /// closed so that they can reconnect cleanly.
    pub fn reap_silent(&self, now: Instant) -> Vec<String> {
        let inner = self.lock();
        let mut silent = Vec::new();
        for (id, e) in &inner.agents {
            if !e.present(now) {
                e.conn.close(0u32.into(), b"no heartbeat");
                silent.push(id.clone());
            }
        }
        silent
    }

    /// Sends a message to a machine's agent; false if it is not connected.
    pub fn send_to_agent(&self, machine_id: &str, msg: RelayToAgent) -> bool {
        self.lock()
            .agents
            .get(machine_id)
            .is_some_and(|a| a.tx.send(msg).is_ok())
    }

    /// Online machines with their last heartbeat, for persisting at shutdown.
    pub fn online_agents(&self) -> Vec<(String, u64)> {
        self.lock()
            .agents
            .iter()
            .map(|(id, e)| (id.clone(), e.last_heartbeat_unix))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// A real QUIC connection on 127.0.0.1 (the hub closes an agent's
    /// connection when it reaps it), with both endpoints to keep alive.
    async fn loopback() -> (quinn::Endpoint, quinn::Endpoint, quinn::Connection) {
        lifeline_net::tls::install_provider();
        let ck = rcgen::generate_simple_self_signed(vec![lifeline_net::tls::SERVER_NAME.into()])
            .unwrap();
        let cert = ck.cert.der().to_vec();
        let server_cfg =
            lifeline_net::tls::server_config(cert.clone(), ck.signing_key.serialize_der()).unwrap();
        let server = quinn::Endpoint::server(server_cfg, "127.0.0.1:0".parse().unwrap()).unwrap();
        let mut client = quinn::Endpoint::client("127.0.0.1:0".parse().unwrap()).unwrap();
        let (cfg, _) =
            lifeline_net::tls::client_config(lifeline_net::Fingerprint::of(&cert)).unwrap();
        client.set_default_client_config(cfg);
        let addr = server.local_addr().unwrap();
        let accept = tokio::spawn({
            let server = server.clone();
            async move { server.accept().await.unwrap().await.unwrap() }
        });
        let _client_side = client
            .connect(addr, lifeline_net::tls::SERVER_NAME)
            .unwrap()
            .await
            .unwrap();
        let conn = accept.await.unwrap();
        (server, client, conn)
    }

    /// The control stream and an upload stream may each wait on the store
    /// at once: the agent stays online until both are done, and counts
    /// as silent only a presence timeout after the last one finished.
    #[tokio::test]
    async fn an_agent_is_online_while_any_of_its_messages_is_being_handled() {
        let (_server, _client, conn) = loopback().await;
        let (hub, _ended) = Hub::new();
        let (tx, _rx) = mpsc::unbounded_channel();
        let t0 = Instant::now();
        hub.register_agent("m-1", 7, conn.clone(), tx, t0, 100);
        let later = |s: u64| t0 + Duration::from_secs(s);
        let late = PRESENCE_TIMEOUT.as_secs();

        hub.agent_busy("m-1", 7, true, later(1), 101); // control stream
        hub.agent_busy("m-1", 7, true, later(2), 102); // upload stream
        // Another connection of the machine (an old one) changes nothing.
        hub.agent_busy("m-1", 6, false, later(3), 103);
        hub.agent_busy("m-1", 7, false, later(4), 104); // control done
        // The upload still waits on the store long past the timeout.
        assert_eq!(hub.online("m-1", later(4 + 3 * late)), Some(104));
        assert!(hub.reap_silent(later(4 + 3 * late)).is_empty());
        assert!(conn.close_reason().is_none());

        hub.agent_busy("m-1", 7, false, later(200), 200); // upload done
        // Finishing is a sign of life: online for a full timeout from then.
        assert_eq!(hub.online("m-1", later(199 + late)), Some(200));
        assert!(hub.reap_silent(later(199 + late)).is_empty());
        // Then silent, and closed.
        assert_eq!(hub.online("m-1", later(200 + late)), None);
        assert_eq!(hub.reap_silent(later(200 + late)), ["m-1".to_string()]);
        assert!(conn.close_reason().is_some());
        // More "done" than "started" never makes the count wrap.
        hub.agent_busy("m-1", 7, false, later(300), 300);
        assert_eq!(hub.online("m-1", later(300 + late)), None);
    }

    /// Report streams count per agent connection, and only there.
    #[test]
    fn report_streams_in_flight_are_counted_per_connection() {
        let (hub, _ended) = Hub::new();
        hub.reporting(7, true);
        hub.reporting(7, true);
        hub.reporting(8, true);
        hub.reporting(7, false);
        assert_eq!((hub.reports_in_flight(7), hub.reports_in_flight(8)), (1, 1));
        hub.reporting(7, false);
        hub.reporting(7, false);
        assert_eq!(hub.reports_in_flight(7), 0);
        hub.reporting(7, true);
        assert_eq!(hub.reports_in_flight(7), 1);
        assert_eq!(hub.reports_in_flight(9), 0);
    }
}
