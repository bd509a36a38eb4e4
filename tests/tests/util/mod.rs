//! Shared harness for end-to-end tests: real binaries, temp dirs, loopback.
#![allow(dead_code)]

pub mod lossy;

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
        self.agent_cmd(
            name,
            &[
                "enroll",
                "--relay",
                &self.addr(),
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

/// A private X server (Xvfb) for a test, killed when dropped.
pub struct Xvfb {
    pub display: String,
    _proc: Proc,
}

/// Is this X lock file's owner gone?
fn stale_lock(lock: &str) -> bool {
    std::fs::read_to_string(lock)
        .ok()
        .and_then(|t| t.trim().parse::<u32>().ok())
        .is_some_and(|pid| !Path::new(&format!("/proc/{pid}")).exists())
}

impl Xvfb {
    /// Starts Xvfb on a free display number with one `WxH` 24-bit screen.
    pub fn start(width: u32, height: u32) -> Self {
        Self::start_server(width, height, false)
    }

    /// Starts TigerVNC's `Xvnc` instead (its VNC port on 127.0.0.1 only,
    /// no password): an X server whose RandR can change the resolution at
    /// run time (`xrandr -s 800x600`), which Xvfb cannot.
    pub fn start_resizable(width: u32, height: u32) -> Self {
        Self::start_server(width, height, true)
    }

    fn start_server(width: u32, height: u32, xvnc: bool) -> Self {
        for n in 90..190 {
            let socket = format!("/tmp/.X11-unix/X{n}");
            let lock = format!("/tmp/.X{n}-lock");
            if Path::new(&lock).exists() && !stale_lock(&lock) {
                continue;
            }
            // A server killed without cleaning up leaves its lock and
            // socket behind: a dead owner frees the number.
            let _ = std::fs::remove_file(&lock);
            let _ = std::fs::remove_file(&socket);
            let display = format!(":{n}");
            let mut cmd = if xvnc {
                let mut c = Command::new("Xvnc");
                c.args([
                    &display,
                    "-geometry",
                    &format!("{width}x{height}"),
                    "-depth",
                    "24",
                    "-SecurityTypes",
                    "None",
                    "-localhost",
                    "-rfbport",
                    &free_tcp_port().to_string(),
                ]);
                c
            } else {
                let mut c = Command::new("Xvfb");
                c.args(["-screen", "0", &format!("{width}x{height}x24")])
                    .arg(&display);
                c
            };
            let child = cmd
                .args(["-nolisten", "tcp", "-noreset"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("Xvfb / Xvnc (install them with scripts/install-deps.sh)");
            let proc = Proc {
                child,
                name: "xvfb",
            };
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(10) {
                if Path::new(&socket).exists() && x(&display, "xsetroot", &["-solid", "black"]).ok {
                    return Self {
                        display,
                        _proc: proc,
                    };
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            panic!("Xvfb {display} did not start");
        }
        panic!("no free X display number");
    }

    /// An 80×24 UTF-8 xterm at the top left running `sh` in `dir`, killed
    /// when dropped.
    pub fn xterm_in(&self, dir: &Path) -> Proc {
        let child = Command::new("xterm")
            .args(["-u8", "-geometry", "80x24+0+0", "-e", "sh"])
            .env("DISPLAY", &self.display)
            .env("LANG", "C.UTF-8")
            .env("LC_ALL", "C.UTF-8")
            .current_dir(dir)
            .spawn()
            .expect("xterm");
        Proc {
            child,
            name: "xterm",
        }
    }

    /// Clicks `(x, y)` (window coordinates, e.g. a button's centre) in
    /// window `win`, focusing it first (egui wants the focus).
    pub fn click_in(&self, win: &str, at: (f32, f32)) {
        let out = self.run("xdotool", &["windowfocus", win]);
        assert!(out.ok, "{}", out.stderr);
        let (sx, sy) = ((at.0 as i32).to_string(), (at.1 as i32).to_string());
        let out = self.run("xdotool", &["mousemove", "--window", win, &sx, &sy]);
        assert!(out.ok, "{}", out.stderr);
        // egui needs a frame with the pointer over the button before the press.
        std::thread::sleep(Duration::from_millis(300));
        let out = self.run("xdotool", &["click", "1"]);
        assert!(out.ok, "{}", out.stderr);
    }

    /// Runs an X client to completion on this display.
    pub fn run(&self, program: &str, args: &[&str]) -> Out {
        x(&self.display, program, args)
    }

    /// Starts a long-running X client on this display.
    pub fn spawn(&self, program: &str, args: &[&str]) -> Proc {
        let child = Command::new(program)
            .args(args)
            .env("DISPLAY", &self.display)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn X client");
        Proc {
            child,
            name: "x client",
        }
    }

    /// The screen as the X server has it, via `xwd | xwdtopnm`: (w, h, RGB).
    pub fn screenshot(&self) -> (u32, u32, Vec<u8>) {
        let out = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "xwd -root -silent -display {} | xwdtopnm 2>/dev/null | pnmdepth 255",
                self.display
            ))
            .output()
            .expect("xwd");
        assert!(out.status.success(), "xwd failed");
        parse_ppm(&out.stdout)
    }
}

fn x(display: &str, program: &str, args: &[&str]) -> Out {
    Command::new(program)
        .args(args)
        .env("DISPLAY", display)
        .output()
        .expect("run X client")
        .into()
}

/// Parses a binary PPM (P6, maxval 255): (width, height, RGB bytes).
pub fn parse_ppm(bytes: &[u8]) -> (u32, u32, Vec<u8>) {
    let mut fields = Vec::new();
    let mut i = 0;
    while fields.len() < 4 {
        while bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if bytes[i] == b'#' {
            while bytes[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        let start = i;
        while !bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        fields.push(String::from_utf8_lossy(&bytes[start..i]).into_owned());
    }
    assert_eq!(fields[0], "P6", "not a binary PPM");
    assert_eq!(fields[3], "255");
    let (w, h): (u32, u32) = (fields[1].parse().unwrap(), fields[2].parse().unwrap());
    let data = bytes[i + 1..].to_vec();
    assert_eq!(data.len(), (w * h * 3) as usize);
    (w, h, data)
}

/// Reads an RGB or RGBA PNG: (width, height, RGB bytes).
pub fn read_png(path: &Path) -> (u32, u32, Vec<u8>) {
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(path).expect("png"),
    ));
    let mut reader = decoder.read_info().expect("png header");
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).expect("png data");
    let data = &buf[..info.buffer_size()];
    let rgb = match info.color_type {
        png::ColorType::Rgb => data.to_vec(),
        png::ColorType::Rgba => data.chunks(4).flat_map(|p| [p[0], p[1], p[2]]).collect(),
        other => panic!("unexpected PNG colour type {other:?}"),
    };
    (info.width, info.height, rgb)
}

/// Pixels of the session indicator's banner colour in an RGB image.
pub fn banner_pixels(rgb: &[u8]) -> usize {
    rgb.chunks_exact(3)
        .filter(|p| {
            p.iter()
                .zip(lifeline_agent::ui::BANNER_RGB)
                .all(|(a, b)| a.abs_diff(b) <= 3)
        })
        .count()
}
