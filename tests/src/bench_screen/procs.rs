//! Child processes of the benchmark: found on `PATH`, killed when dropped.

use anyhow::{Context, bail};
use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// The first `name` on `PATH` that is a file, if any.
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// A child process that is killed and reaped when this guard goes away, so
/// an error or a panic anywhere in the benchmark leaves nothing running.
pub struct Guard {
    child: Child,
    name: &'static str,
}

impl Guard {
    /// Starts `cmd` with stdin and stderr closed and stdout as configured by
    /// the caller (null unless set).
    ///
    /// # Errors
    /// The program could not be started.
    pub fn spawn(name: &'static str, cmd: &mut Command) -> anyhow::Result<Self> {
        let child = cmd
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("start {name}"))?;
        Ok(Self { child, name })
    }

    /// The child's process id.
    #[must_use]
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The child's standard output, if it was piped and not yet taken.
    pub fn take_stdout(&mut self) -> Option<std::process::ChildStdout> {
        self.child.stdout.take()
    }

    /// Fails if the child has already exited (it could not start properly).
    ///
    /// # Errors
    /// The child exited, with its status.
    pub fn check_running(&mut self) -> anyhow::Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!("{} exited early: {status}", self.name);
        }
        Ok(())
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// CPU time (user + system) spent so far by `/proc/{who}`: a process id,
/// `self` (every thread of this process, including ended ones) or
/// `thread-self` (the calling thread). Linux counts in ticks of 10 ms
/// (`USER_HZ` is 100 for user space on every architecture), so a window
/// of seconds reads to within a few tenths of a percent of a core.
#[must_use]
pub fn cpu_seconds(who: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{who}/stat")).ok()?;
    // The command name may hold spaces and parentheses: fields are
    // counted from the last ')'. utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some((utime + stime) as f64 / 100.0)
}

/// Whether X display `:n` can be taken: its lock file is missing or names
/// a process that is gone, and nothing answers on its socket. A server
/// killed without cleaning up leaves both behind; they are removed here
/// (an X server would replace them too), so that repeated runs do not use
/// up the numbers.
#[must_use]
pub fn display_free(n: u32) -> bool {
    let lock = format!("/tmp/.X{n}-lock");
    let socket = format!("/tmp/.X11-unix/X{n}");
    let owner_alive = Path::new(&lock).exists()
        && std::fs::read_to_string(&lock)
            .ok()
            .and_then(|t| t.trim().parse::<u32>().ok())
            // Unreadable: someone else's, leave it alone.
            .is_none_or(|pid| Path::new(&format!("/proc/{pid}")).exists());
    // A server in another PID namespace still answers on its socket.
    if owner_alive || std::os::unix::net::UnixStream::connect(&socket).is_ok() {
        return false;
    }
    let _ = std::fs::remove_file(&lock);
    let _ = std::fs::remove_file(&socket);
    true
}

/// A private 24-bit X server (Xvfb) with one screen, killed when dropped.
pub struct Xvfb {
    /// `:N`, for X clients.
    pub display: String,
    _guard: Guard,
}

impl Xvfb {
    /// Starts Xvfb on the first free display number from 90 on and waits
    /// until it accepts connections.
    ///
    /// # Errors
    /// Xvfb is missing or did not come up within 10 s.
    pub fn start(width: u32, height: u32) -> anyhow::Result<Self> {
        if which("Xvfb").is_none() {
            bail!("Xvfb not found: install it with `apt-get install -y xvfb`");
        }
        for n in 90..190 {
            if !display_free(n) {
                continue;
            }
            let socket = format!("/tmp/.X11-unix/X{n}");
            let display = format!(":{n}");
            let mut guard = Guard::spawn(
                "Xvfb",
                Command::new("Xvfb")
                    .args([&display, "-screen", "0"])
                    .arg(format!("{width}x{height}x24"))
                    .args(["-nolisten", "tcp", "-noreset"])
                    .stdout(Stdio::null()),
            )?;
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(10) {
                guard.check_running()?;
                if Path::new(&socket).exists() && x11rb::connect(Some(&display)).is_ok() {
                    return Ok(Self {
                        display,
                        _guard: guard,
                    });
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            bail!("Xvfb {display} did not accept connections within 10 s");
        }
        bail!("no free X display number in :90..:190");
    }
}
