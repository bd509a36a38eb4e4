//! Secrets never reach a log: a whole working day (login, enrollment,
//! sessions, input, a help request, a webhook) at debug level, then every
//! log and every console output is searched for the password, the
//! enrollment token, the console's session token, the machine credential
//! and the webhook secret.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod util;

use std::{path::Path, time::Duration};
use util::World;

const PW: &str = "admin-password-correct-horse";
const HOOK_SECRET: &str = "webhook-secret-battery-staple";

/// String values under keys that name a secret, in a JSON state file.
fn secrets_in(file: &Path) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
    let mut out = Vec::new();
    if let Some(map) = v.as_object() {
        for (k, v) in map {
            let k = k.to_lowercase();
            if (k.contains("token") || k.contains("credential") || k.contains("secret"))
                && let Some(s) = v.as_str()
            {
                out.push(s.to_string());
            }
        }
    }
    out
}

fn json_files(dir: &Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect()
}

#[test]
fn no_secret_reaches_a_log_or_an_output() {
    let mut w = World::new();
    w.add_user("alice", "admin", PW);
    let out = w.relay_cmd_env(
        &["webhook", "add", "http://127.0.0.1:9/hook"],
        &[("LIFELINE_WEBHOOK_SECRET", HOOK_SECRET)],
    );
    assert!(out.ok, "{}", out.stderr);
    let mut outputs = vec![out.stdout, out.stderr];
    w.start_relay();
    w.login("alice", PW);
    let token = w.token("alice", &[]);
    let out = w.enroll("pc-1", &token);
    assert!(out.ok, "{}", out.stderr);
    outputs.extend([out.stdout, out.stderr]);
    let _agent = w.start_agent_with(
        "pc-1",
        &[],
        &["--unattended", "--capture", "synthetic:typing"],
    );
    w.wait_online("alice", "pc-1", true, Duration::from_secs(15));
    for args in [
        &["whoami"][..],
        &["machines"],
        &["ping", "pc-1", "--count", "20"],
        &["connect", "pc-1", "--headless", "--duration", "1s"],
        &["type", "pc-1", "hello"],
        &["tickets"],
        &["audit"],
    ] {
        let out = w.console("alice", args, None);
        outputs.extend([out.stdout, out.stderr]);
    }
    let out = w.agent_cmd("pc-1", &["request-help", "--text", "secrets test"]);
    assert!(out.ok, "{}", out.stderr);
    outputs.extend([out.stdout, out.stderr]);
    // A wrong password too: its failure message must not echo it.
    let out = w.try_login("alice", "alice", "wrong-password-xyzzy");
    assert!(!out.ok);
    outputs.extend([out.stdout, out.stderr]);
    std::thread::sleep(Duration::from_secs(3));

    let mut secrets = vec![
        PW.to_string(),
        token.clone(),
        HOOK_SECRET.to_string(),
        "wrong-password-xyzzy".to_string(),
    ];
    for dir in [w.path("console-alice"), w.path("agent-pc-1")] {
        for f in json_files(&dir) {
            secrets.extend(secrets_in(&f));
        }
    }
    // The console's session token and the machine's credential were found.
    assert!(secrets.len() >= 6, "{secrets:?}");
    assert!(secrets.iter().all(|s| s.len() >= 12), "{secrets:?}");

    let mut logs = Vec::new();
    for e in std::fs::read_dir(w.path(""))
        .unwrap()
        .filter_map(Result::ok)
    {
        if e.path().extension().is_some_and(|x| x == "log") {
            logs.push((
                e.path().display().to_string(),
                std::fs::read_to_string(e.path()).unwrap(),
            ));
        }
    }
    assert!(
        logs.iter()
            .any(|(n, t)| n.ends_with("relay.log") && t.contains("DEBUG"))
    );
    assert!(
        logs.iter()
            .any(|(n, t)| n.contains("agent-pc-1") && t.contains("session accepted"))
    );
    for (i, o) in outputs.iter().enumerate() {
        logs.push((format!("output {i}"), o.clone()));
    }
    for s in &secrets {
        for (name, text) in &logs {
            assert!(
                !text.contains(s.as_str()),
                "a secret ({} chars) is in {name}",
                s.len()
            );
        }
    }
}
