//! Running package tools with a time limit, so a hung `snap` or a locked rpm
//! database delays one inventory instead of stopping the agent.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use crate::source::CommandError;

/// Finds an executable file named `program` in the directories of `PATH`.
pub(crate) fn find_on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| is_executable(candidate))
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file()
}

/// Runs `path` with `args` in the C locale (so column headers and dates are not
/// translated) and returns its standard output, killing it after `timeout`.
pub(crate) fn run_with_timeout(
    path: &Path,
    program: &str,
    args: &[&str],
    timeout: Duration,
) -> Result<String, CommandError> {
    let mut child = Command::new(path)
        .args(args)
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| CommandError::Spawn {
            program: program.to_owned(),
            source,
        })?;
    // Readers on their own threads: a child that fills the pipe while we only
    // wait for its exit would never exit.
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(5)),
            Ok(None) => {
                // Best effort: the child may have exited between the checks.
                let _ = child.kill();
                let _ = child.wait();
                return Err(CommandError::Timeout {
                    program: program.to_owned(),
                    seconds: timeout.as_secs(),
                });
            }
            Err(source) => {
                return Err(CommandError::Spawn {
                    program: program.to_owned(),
                    source,
                });
            }
        }
    };
    let grace = Duration::from_secs(1);
    let out = stdout.recv_timeout(grace).unwrap_or_default();
    if !status.success() {
        let err = stderr.recv_timeout(grace).unwrap_or_default();
        return Err(CommandError::Failed {
            program: program.to_owned(),
            status: status.to_string(),
            stderr: String::from_utf8_lossy(&err)
                .lines()
                .next()
                .unwrap_or("")
                .to_owned(),
        });
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

fn drain(pipe: Option<impl Read + Send + 'static>) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    if let Some(mut pipe) = pipe {
        thread::spawn(move || {
            let mut buf = Vec::new();
            // A read error leaves what was read so far; the exit status tells the rest.
            let _ = pipe.read_to_end(&mut buf);
            let _ = tx.send(buf);
        });
    }
    rx
}
