//! Private X servers for tests (Xvfb, or Xvnc where the resolution must
//! change), and reading what they show.

use super::{Out, Proc, free_tcp_port};
use std::{
    path::Path,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

/// A private X server (Xvfb) for a test, killed when dropped.
pub struct Xvfb {
    pub display: String,
    _proc: Proc,
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
            if !lifeline_tests::bench_screen::procs::display_free(n) {
                continue;
            }
            let socket = format!("/tmp/.X11-unix/X{n}");
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
            let mut proc = Proc {
                child,
                name: "xvfb",
            };
            // Tests start servers at the same time: the one whose pid the
            // lock file names has the number, the other exits and tries
            // the next (instead of sharing the winner's screen).
            let lock = format!("/tmp/.X{n}-lock");
            let start = Instant::now();
            let mut lost = false;
            while start.elapsed() < Duration::from_secs(10) {
                if matches!(proc.child.try_wait(), Ok(Some(_))) {
                    lost = true;
                    break;
                }
                let ours = std::fs::read_to_string(&lock)
                    .ok()
                    .and_then(|t| t.trim().parse::<u32>().ok())
                    == Some(proc.child.id());
                if ours
                    && Path::new(&socket).exists()
                    && x(&display, "xsetroot", &["-solid", "black"]).ok
                {
                    return Self {
                        display,
                        _proc: proc,
                    };
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            if lost {
                continue;
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
