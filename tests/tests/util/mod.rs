//! Shared harness for end-to-end tests: real binaries, temp dirs, loopback.
#![allow(dead_code)]

mod display;

// Each test file uses some of these.
#[allow(unused_imports)]
pub use display::{Xvfb, banner_pixels, parse_ppm, read_png};

use std::{
    io::{BufRead, BufReader},
    net::UdpSocket,
    path::{Path, PathBuf},
    process::{Child, Command, Output, Stdio},
    time::{Duration, Instant},
};

/// Where cargo put the workspace binaries (target/debug or target/release).
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: run `cargo build --workspace --bins` before the tests",
        path.display()
    );
    path
}

/// Waits up to `limit` for `path` to hold a whole line (a command typed
/// into a shell has run); its text.
pub fn wait_for_line(path: &Path, limit: Duration) -> Option<String> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Ok(text) = std::fs::read_to_string(path)
            && text.ends_with('\n')
        {
            return Some(text);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    None
}

/// A free TCP port on 127.0.0.1 (bound then released).
pub fn free_tcp_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// A free UDP port on 127.0.0.1 (bound then released).
pub fn free_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// The output of a finished command, as text.
#[derive(Debug)]
pub struct Out {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Out {
    fn from(o: Output) -> Self {
        Self {
            ok: o.status.success(),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

/// A running child process, killed when dropped.
pub struct Proc {
    pub child: Child,
    pub name: &'static str,
}

impl Proc {
    /// SIGKILL, like a crash or a pulled plug.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, an orderly stop; waits up to 5 s.
    pub fn terminate(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.kill9();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// One Lifeline installation in a temp dir: relay data, a console config,
/// and agent dirs.
pub struct World {
    pub dir: tempfile::TempDir,
    pub port: u16,
    pub fingerprint: String,
    pub relay: Option<Proc>,
}

impl World {
    /// `lifeline-relay init` in a fresh temp dir.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut w = Self {
            dir,
            port: free_port(),
            fingerprint: String::new(),
            relay: None,
        };
        let out = w.relay_cmd(&["init"]);
        assert!(out.ok, "init failed: {}", out.stderr);
        w.fingerprint = out
            .stdout
            .trim()
            .strip_prefix("fingerprint: ")
            .expect("fingerprint line")
            .to_string();
        w
    }

    pub fn path(&self, sub: &str) -> PathBuf {
        self.dir.path().join(sub)
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Runs `lifeline-relay ARGS --data-dir …`.
    pub fn relay_cmd(&self, args: &[&str]) -> Out {
        self.relay_cmd_env(args, &[])
    }

    pub fn relay_cmd_env(&self, args: &[&str], env: &[(&str, &str)]) -> Out {
        let mut c = Command::new(bin("lifeline-relay"));
        c.args(args).arg("--data-dir").arg(self.path("relay"));
        c.env_remove("LIFELINE_PASSWORD");
        for (k, v) in env {
            c.env(k, v);
        }
        c.output().expect("run lifeline-relay").into()
    }

    /// Adds a person with a password.
    pub fn add_user(&self, name: &str, role: &str, password: &str) {
        let out = self.relay_cmd_env(
            &["user", "add", name, "--role", role],
            &[("LIFELINE_PASSWORD", password)],
        );
        assert!(out.ok, "user add failed: {}", out.stderr);
    }

    /// Starts `lifeline-relay serve` and waits until it listens.
    pub fn start_relay(&mut self) {
        self.start_relay_program("lifeline-relay", &["serve"]);
    }

    /// Starts the test relay that attacks its sessions (`--flip-at N`,
    /// `--swap-key`) on the same data dir and address.
    pub fn start_evil_relay(&mut self, hooks: &[&str]) {
        self.start_relay_program("lifeline-relay-evil", hooks);
    }

    /// Starts `lifeline-relay serve` unable to grow any file past `kb`
    /// KiB (RLIMIT_FSIZE, SIGXFSZ ignored): its writes then fail with
    /// EFBIG the way they fail with ENOSPC on a full disk.
    pub fn start_relay_with_file_limit(&mut self, kb: u64) {
        let mut cmd = Command::new("sh");
        cmd.args([
            "-c",
            &format!("trap '' XFSZ; ulimit -f {kb}; exec \"$0\" \"$@\""),
        ])
        .arg(bin("lifeline-relay"))
        .arg("serve");
        self.start_relay_command(cmd);
    }

    fn start_relay_program(&mut self, program: &str, args: &[&str]) {
        let mut cmd = Command::new(bin(program));
        cmd.args(args);
        self.start_relay_command(cmd);
    }

    fn start_relay_command(&mut self, mut cmd: Command) {
        let mut child = cmd
            .args(["--listen", &self.addr(), "--data-dir"])
            .arg(self.path("relay"))
            .env("LIFELINE_LOG", "debug,quinn=warn,rustls=warn")
            // Tests that burst help requests (faults.rs) are not about the
            // per-machine limit, which help_limit.rs tests in-process.
            .env("LIFELINE_HELP_REQUESTS_PER_HOUR", "1000000")
            .stdout(Stdio::piped())
            .stderr(
                // Appended: a restarted relay keeps the earlier run's lines.
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(self.path("relay.log"))
                    .expect("log"),
            )
            .spawn()
            .expect("spawn relay");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let line = lines.next().and_then(Result::ok).unwrap_or_default();
        assert!(
            line.contains("listening on"),
            "relay did not start: {line:?}"
        );
        // Keep draining stdout so the relay never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        self.relay = Some(Proc {
            child,
            name: "relay",
        });
    }

    /// Runs `lifeline ARGS` as the console user whose config dir is `who`.
    pub fn console(&self, who: &str, args: &[&str], password: Option<&str>) -> Out {
        let mut c = Command::new(bin("lifeline"));
        c.args(args)
            .env("LIFELINE_CONFIG_DIR", self.path(&format!("console-{who}")))
            .env_remove("LIFELINE_PASSWORD")
            .stdin(Stdio::null());
        if let Some(p) = password {
            c.env("LIFELINE_PASSWORD", p);
        }
        c.output().expect("run lifeline").into()
    }

    /// The arguments of `lifeline connect MACHINE --headless --duration
    /// SECS --record REC`.
    pub fn headless_args(machine: &str, secs: u32, rec: &Path) -> Vec<String> {
        [
            "connect",
            machine,
            "--headless",
            "--duration",
            &format!("{secs}s"),
            "--record",
            &rec.to_string_lossy(),
        ]
        .map(String::from)
        .to_vec()
    }

    /// `lifeline connect MACHINE --headless` for `secs`, recording into
    /// `rec`, as `who` on a thread; join it for the output.
    pub fn headless_bg(
        &self,
        who: &str,
        machine: &str,
        secs: u32,
        rec: &Path,
    ) -> std::thread::JoinHandle<Out> {
        let args = Self::headless_args(machine, secs, rec);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.console_bg(who, &args)
    }

    /// Starts `lifeline ARGS` as `who` on a thread; join it for the output.
    pub fn console_bg(&self, who: &str, args: &[&str]) -> std::thread::JoinHandle<Out> {
        let mut c = Command::new(bin("lifeline"));
        c.args(args)
            .env("LIFELINE_CONFIG_DIR", self.path(&format!("console-{who}")))
            .env_remove("LIFELINE_PASSWORD")
            .stdin(Stdio::null());
        std::thread::spawn(move || c.output().expect("run lifeline").into())
    }

    /// The usual start: admin `admin` with `password`, the relay running,
    /// the admin logged in, and machine `machine` enrolled with a fresh
    /// token (its agent not started yet).
    pub fn admin_and_machine(&mut self, admin: &str, password: &str, machine: &str) {
        self.add_user(admin, "admin", password);
        self.start_relay();
        self.login(admin, password);
        let token = self.token(admin, &[]);
        assert!(self.enroll(machine, &token).ok, "enroll {machine}");
    }

    /// Logs `user` in; panics on failure.
    pub fn login(&self, user: &str, password: &str) {
        let out = self.try_login(user, user, password);
        assert!(out.ok, "login failed: {}", out.stderr);
    }

    /// `lifeline login` as `user` with `password`, in console dir `who`.
    pub fn try_login(&self, who: &str, user: &str, password: &str) -> Out {
        self.console(
            who,
            &[
                "login",
                "--relay",
                &self.addr(),
                "--fingerprint",
                &self.fingerprint,
                "--user",
                user,
            ],
            Some(password),
        )
    }

    /// Creates an enrollment token as `admin`.
    pub fn token(&self, admin: &str, extra: &[&str]) -> String {
        let mut args = vec!["enroll-token", "create"];
        args.extend_from_slice(extra);
        let out = self.console(admin, &args, None);
        assert!(out.ok, "token create failed: {}", out.stderr);
        out.stdout.trim().to_string()
    }

    /// Runs `lifeline-agent ARGS` with the agent dir `name`.
    pub fn agent_cmd(&self, name: &str, args: &[&str]) -> Out {
        Command::new(bin("lifeline-agent"))
            .args(args)
            .env("LIFELINE_AGENT_DIR", self.path(&format!("agent-{name}")))
            .env("LIFELINE_HOSTNAME", name)
            .stdin(Stdio::null())
            .output()
            .expect("run lifeline-agent")
            .into()
    }

    /// Enrolls agent `name` with `token`.
    pub fn enroll(&self, name: &str, token: &str) -> Out {
        self.enroll_via(name, token, &self.addr())
    }

    /// Enrolls agent `name` with `token` through `relay` (a path in front
    /// of the relay, such as a lossy proxy), which its agent then uses.
    pub fn enroll_via(&self, name: &str, token: &str, relay: &str) -> Out {
        self.agent_cmd(
            name,
            &[
                "enroll",
                "--relay",
                relay,
                "--fingerprint",
                &self.fingerprint,
                "--token",
                token,
            ],
        )
    }

    /// Starts `lifeline-agent run` for agent `name`.
    pub fn start_agent(&self, name: &str) -> Proc {
        self.start_agent_env(name, &[])
    }

    /// Starts `lifeline-agent run` for agent `name` with extra environment.
    pub fn start_agent_env(&self, name: &str, env: &[(&str, &str)]) -> Proc {
        self.start_agent_with(name, env, &[])
    }

    /// Starts agent `name` sharing X `display` unattended and waits until
    /// `who` sees it online.
    pub fn share_display(&self, who: &str, name: &str, display: &str, within: Duration) -> Proc {
        let agent = self.start_agent_with(name, &[("DISPLAY", display)], &["--unattended"]);
        self.wait_online(who, name, true, within);
        agent
    }

    /// Starts `lifeline-agent run EXTRA…` for agent `name` with extra environment.
    pub fn start_agent_with(&self, name: &str, env: &[(&str, &str)], extra: &[&str]) -> Proc {
        let mut cmd = Command::new(bin("lifeline-agent"));
        cmd.env_remove("DISPLAY");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd
            .args(["run", "--heartbeat-secs", "1", "--max-backoff-secs", "2"])
            .args(extra)
            .env("LIFELINE_AGENT_DIR", self.path(&format!("agent-{name}")))
            .env("LIFELINE_HOSTNAME", name)
            .env("LIFELINE_LOG", "debug,quinn=warn,rustls=warn")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(self.path(&format!("agent-{name}.log"))).expect("log"))
            .spawn()
            .expect("spawn agent");
        Proc {
            child,
            name: "agent",
        }
    }

    /// Waits until `machine`'s whole inventory is on the relay (its
    /// categories arrive one by one) and returns `inventory show --json`.
    pub fn wait_inventory(&self, who: &str, machine: &str) -> Out {
        self.wait_console(
            who,
            &["inventory", "show", machine, "--json"],
            Duration::from_secs(20),
            |o| {
                o.ok && serde_json::from_str::<serde_json::Value>(&o.stdout).is_ok_and(|v| {
                    ["system", "hardware", "software"]
                        .iter()
                        .all(|c| v[*c].as_object().is_some_and(|m| !m.is_empty()))
                        && v["software"]["packages"]
                            .as_array()
                            .is_some_and(|p| !p.is_empty())
                })
            },
        )
    }

    /// Polls `lifeline ARGS` as `who` until `ok(out)` holds, up to `limit`.
    pub fn wait_console(
        &self,
        who: &str,
        args: &[&str],
        limit: Duration,
        ok: impl Fn(&Out) -> bool,
    ) -> Out {
        let start = Instant::now();
        loop {
            let out = self.console(who, args, None);
            if ok(&out) {
                return out;
            }
            assert!(
                start.elapsed() < limit,
                "`lifeline {}` did not get there in {limit:?}: {out:?}",
                args.join(" ")
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    /// `lifeline machines --json` as `who`.
    pub fn machines(&self, who: &str) -> Vec<serde_json::Value> {
        let out = self.console(who, &["machines", "--json"], None);
        assert!(out.ok, "machines failed: {}", out.stderr);
        serde_json::from_str::<Vec<serde_json::Value>>(&out.stdout).expect("machines json")
    }

    /// Polls until machine `hostname` has `online == want`, up to `limit`.
    /// Returns how long it took.
    pub fn wait_online(&self, who: &str, hostname: &str, want: bool, limit: Duration) -> Duration {
        let start = Instant::now();
        loop {
            let rows = self.machines(who);
            let online = rows
                .iter()
                .find(|m| m["hostname"] == hostname)
                .is_some_and(|m| m["online"] == true);
            if online == want {
                return start.elapsed();
            }
            assert!(
                start.elapsed() < limit,
                "{hostname} still online={online} after {limit:?}; machines: {rows:?}\nrelay log:\n{}",
                std::fs::read_to_string(self.path("relay.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    }
}
