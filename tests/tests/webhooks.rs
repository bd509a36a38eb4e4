//! Webhooks: ticket events reach a local HTTP receiver as signed JSON; a
//! receiver that is down gets retries and loses nothing when it comes back.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod util;

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::TcpListener,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};
use util::World;

const PW: &str = "admin-password-1";
const SECRET: &str = "a-shared-webhook-secret";

/// One POST as the receiver saw it.
#[derive(Clone, Debug)]
struct Hit {
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Hit {
    fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map_or("", |(_, v)| v.as_str())
    }
}

/// A minimal HTTP receiver on `listener` that answers 200 to every POST.
fn receiver(listener: TcpListener) -> Arc<Mutex<Vec<Hit>>> {
    let hits = Arc::new(Mutex::new(Vec::new()));
    let store = hits.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            conn.set_read_timeout(Some(Duration::from_secs(5))).ok();
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() || !line.starts_with("POST ") {
                continue;
            }
            let mut headers = Vec::new();
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).is_err() || h.trim().is_empty() {
                    break;
                }
                if let Some((k, v)) = h.trim_end().split_once(':') {
                    headers.push((k.trim().to_string(), v.trim().to_string()));
                }
            }
            let len: usize = headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                .and_then(|(_, v)| v.parse().ok())
                .unwrap_or(0);
            let mut body = vec![0; len];
            if reader.read_exact(&mut body).is_err() {
                continue;
            }
            store.lock().unwrap().push(Hit { headers, body });
            let _ = conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
        }
    });
    hits
}

fn wait_hits(hits: &Arc<Mutex<Vec<Hit>>>, n: usize, limit: Duration) -> Vec<Hit> {
    let start = Instant::now();
    loop {
        let h = hits.lock().unwrap().clone();
        if h.len() >= n || start.elapsed() > limit {
            return h;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn check_signature(hit: &Hit) {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, SECRET.as_bytes());
    let sig = hit.header("X-Lifeline-Signature");
    let hex = sig.strip_prefix("sha256=").expect("sha256= signature");
    let mac: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    ring::hmac::verify(&key, &hit.body, &mac).expect("valid HMAC-SHA256 signature");
    // A changed body would not verify.
    let mut tampered = hit.body.clone();
    tampered[0] ^= 1;
    assert!(ring::hmac::verify(&key, &tampered, &mac).is_err());
}

fn events(hits: &[Hit]) -> Vec<String> {
    hits.iter()
        .map(|h| {
            let v: serde_json::Value = serde_json::from_slice(&h.body).unwrap();
            assert_eq!(v["event"].as_str().unwrap(), h.header("X-Lifeline-Event"));
            format!("{} #{}", v["event"].as_str().unwrap(), v["ticket"]["id"])
        })
        .collect()
}

#[test]
fn ticket_events_are_signed_posts_and_survive_a_receiver_outage() {
    let mut w = World::new();
    w.add_user("alice", "admin", PW);
    let up = TcpListener::bind("127.0.0.1:0").unwrap();
    let up_url = format!("http://{}/hooks/lifeline", up.local_addr().unwrap());
    // A port nobody listens on yet.
    let down_port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let down_url = format!("http://127.0.0.1:{down_port}/later");
    let secret = [("LIFELINE_WEBHOOK_SECRET", SECRET)];

    // Bad subscriptions are refused with the reason.
    let out = w.relay_cmd_env(&["webhook", "add", "https://example.org/x"], &secret);
    assert!(!out.ok);
    assert!(
        out.stderr.contains("only http:// is supported"),
        "{}",
        out.stderr
    );
    let out = w.relay_cmd_env(
        &["webhook", "add", &up_url],
        &[("LIFELINE_WEBHOOK_SECRET", "short")],
    );
    assert!(!out.ok);
    assert!(
        out.stderr.contains("at least 16 characters"),
        "{}",
        out.stderr
    );
    for url in [&up_url, &down_url] {
        let out = w.relay_cmd_env(&["webhook", "add", url], &secret);
        assert!(out.ok, "{}", out.stderr);
    }
    let list = w.relay_cmd(&["webhook", "list"]);
    assert!(list.stdout.contains(&up_url) && list.stdout.contains(&down_url));
    assert!(!list.stdout.contains(SECRET), "the secret is never printed");

    let hits = receiver(up);
    w.start_relay();
    w.login("alice", PW);
    let token = w.token("alice", &[]);
    assert!(w.enroll("pc-1", &token).ok);
    let _agent = w.start_agent("pc-1");
    w.wait_online("alice", "pc-1", true, Duration::from_secs(15));

    let out = w.agent_cmd("pc-1", &["request-help", "--text", "VPN drops every hour"]);
    assert!(out.ok, "{}", out.stderr);
    assert!(
        w.console("alice", &["ticket", "assign", "1", "alice"], None)
            .ok
    );
    assert!(
        w.console(
            "alice",
            &["ticket", "comment", "1", "checking the logs"],
            None
        )
        .ok
    );

    let got = wait_hits(&hits, 3, Duration::from_secs(15));
    assert_eq!(
        events(&got),
        [
            "ticket.created #1",
            "ticket.assigned #1",
            "ticket.commented #1"
        ]
    );
    for h in &got {
        check_signature(h);
        assert_eq!(h.header("Content-Type"), "application/json");
    }
    let v: serde_json::Value = serde_json::from_slice(&got[1].body).unwrap();
    assert_eq!(v["actor"], "alice");
    assert_eq!(v["text"], "assigned to alice");
    assert_eq!(v["ticket"]["status"], "open");
    assert_eq!(v["ticket"]["title"], "VPN drops every hour");

    // The second receiver is still down: its deliveries wait, with attempts.
    std::thread::sleep(Duration::from_secs(2));
    let log = w.relay_cmd(&["webhook", "log"]);
    let pending: Vec<&str> = log
        .stdout
        .lines()
        .filter(|l| l.ends_with("/later"))
        .collect();
    assert_eq!(pending.len(), 3, "{}", log.stdout);
    assert!(
        pending
            .iter()
            .all(|l| l.contains(" no ") && l.contains("connect")),
        "{}",
        log.stdout
    );

    // It comes back on the same port: every event arrives, signed.
    let later = receiver(TcpListener::bind(("127.0.0.1", down_port)).unwrap());
    let got = wait_hits(&later, 3, Duration::from_secs(40));
    let mut seen = events(&got);
    seen.sort();
    assert_eq!(
        seen,
        [
            "ticket.assigned #1",
            "ticket.commented #1",
            "ticket.created #1"
        ]
    );
    for h in &got {
        check_signature(h);
    }
    std::thread::sleep(Duration::from_millis(500));
    let log = w.relay_cmd(&["webhook", "log"]);
    for l in log.stdout.lines().filter(|l| l.ends_with("/later")) {
        let cols: Vec<&str> = l.split_whitespace().collect();
        assert_eq!(cols[3], "yes", "delivered: {l}");
        assert!(cols[2].parse::<u32>().unwrap() >= 2, "retried: {l}");
    }
    // Nothing went twice to the receiver that was up all along.
    assert_eq!(hits.lock().unwrap().len(), 3);
}
