//! `lifeline-agent ui-tray`: the agent's icon in the desktop's system tray,
//! its menu, and the machine-ID note.
//!
//! Spoken straight to the X server (the freedesktop system-tray protocol:
//! dock a small window with the tray manager that owns
//! `_NET_SYSTEM_TRAY_S<screen>`), so the agent needs no GTK. The icon is a
//! ring whose colour says the state ([`TrayState`]); a click opens a menu
//! drawn with the server's core font. The agent sends states as JSON lines
//! on stdin; the menu's choices come back as JSON lines on stdout
//! ([`FromTray`]).

pub use super::tray_menu::{
    FromTray, Item, LINE_HEIGHT, MENU_WIDTH, ToTray, TrayState, item_at, menu_items,
};
use std::{
    io::{BufRead, Write},
    sync::mpsc,
    time::{Duration, Instant},
};
use x11rb::{
    CURRENT_TIME, NONE,
    connection::Connection,
    protocol::{
        Event,
        xproto::{
            AtomEnum, ChangeWindowAttributesAux, ClientMessageEvent, ConnectionExt, CreateGCAux,
            CreateWindowAux, EventMask, GrabMode, PropMode, Rectangle, Window, WindowClass,
        },
    },
    rust_connection::RustConnection,
    wrapper::ConnectionExt as _,
};

/// The icon window's name (tests look for it).
pub const ICON_TITLE: &str = "Lifeline tray";
/// The menu window's name.
pub const MENU_TITLE: &str = "Lifeline menu";
/// The machine-ID note's name.
pub const NOTE_TITLE: &str = "Lifeline machine ID";
/// Side of the icon in pixels.
pub const ICON_SIZE: u16 = 22;
fn pixel(rgb: [u8; 3]) -> u32 {
    (u32::from(rgb[0]) << 16) | (u32::from(rgb[1]) << 8) | u32::from(rgb[2])
}

struct Atoms {
    opcode: u32,
    xembed_info: u32,
    net_wm_name: u32,
    utf8: u32,
}

fn atom(conn: &RustConnection, name: &str) -> anyhow::Result<u32> {
    Ok(conn.intern_atom(false, name.as_bytes())?.reply()?.atom)
}

fn name_window(
    conn: &RustConnection,
    atoms: &Atoms,
    win: Window,
    name: &str,
) -> anyhow::Result<()> {
    conn.change_property8(
        PropMode::REPLACE,
        win,
        AtomEnum::WM_NAME,
        AtomEnum::STRING,
        name.as_bytes(),
    )?;
    conn.change_property8(
        PropMode::REPLACE,
        win,
        atoms.net_wm_name,
        atoms.utf8,
        name.as_bytes(),
    )?;
    Ok(())
}

/// A popup: an override-redirect window with lines of text.
struct Popup {
    win: Window,
    lines: Vec<String>,
    items: Vec<Item>,
    opened: Instant,
}

struct Tray {
    conn: RustConnection,
    atoms: Atoms,
    root: Window,
    icon: Window,
    gc: u32,
    font: u32,
    state: TrayState,
    machine: String,
    menu: Option<Popup>,
    note: Option<Popup>,
}

impl Tray {
    fn draw_icon(&self) -> anyhow::Result<()> {
        let s = ICON_SIZE;
        let c = &self.conn;
        c.change_gc(
            self.gc,
            &x11rb::protocol::xproto::ChangeGCAux::new().foreground(0x30_30_30),
        )?;
        c.poly_fill_rectangle(
            self.icon,
            self.gc,
            &[Rectangle {
                x: 0,
                y: 0,
                width: s,
                height: s,
            }],
        )?;
        // A lifebuoy: a coloured ring around a white one.
        let arc = |inset: u16| x11rb::protocol::xproto::Arc {
            x: inset as i16,
            y: inset as i16,
            width: s - 2 * inset,
            height: s - 2 * inset,
            angle1: 0,
            angle2: 360 * 64,
        };
        c.change_gc(
            self.gc,
            &x11rb::protocol::xproto::ChangeGCAux::new().foreground(pixel(self.state.rgb())),
        )?;
        c.poly_fill_arc(self.icon, self.gc, &[arc(1)])?;
        c.change_gc(
            self.gc,
            &x11rb::protocol::xproto::ChangeGCAux::new().foreground(0xff_ff_ff),
        )?;
        c.poly_fill_arc(self.icon, self.gc, &[arc(6)])?;
        c.change_gc(
            self.gc,
            &x11rb::protocol::xproto::ChangeGCAux::new().foreground(pixel(self.state.rgb())),
        )?;
        c.poly_fill_arc(self.icon, self.gc, &[arc(8)])?;
        c.flush()?;
        Ok(())
    }

    fn open_popup(
        &self,
        x: i16,
        y: i16,
        lines: Vec<String>,
        items: Vec<Item>,
        title: &str,
    ) -> anyhow::Result<Popup> {
        let c = &self.conn;
        let win = c.generate_id()?;
        let height = (lines.len() as i16 * LINE_HEIGHT + 8) as u16;
        let screen = &c.setup().roots[0];
        // Keep it on the screen.
        let x = x
            .min(screen.width_in_pixels as i16 - MENU_WIDTH as i16)
            .max(0);
        let y = y.min(screen.height_in_pixels as i16 - height as i16).max(0);
        c.create_window(
            x11rb::COPY_DEPTH_FROM_PARENT,
            win,
            self.root,
            x,
            y,
            MENU_WIDTH,
            height,
            1,
            WindowClass::INPUT_OUTPUT,
            0,
            &CreateWindowAux::new()
                .override_redirect(1)
                .background_pixel(0xf4_f4_f4)
                .border_pixel(0x40_40_40)
                .event_mask(EventMask::EXPOSURE | EventMask::BUTTON_PRESS),
        )?;
        name_window(c, &self.atoms, win, title)?;
        c.map_window(win)?;
        c.flush()?;
        Ok(Popup {
            win,
            lines,
            items,
            opened: Instant::now(),
        })
    }

    fn draw_popup(&self, p: &Popup) -> anyhow::Result<()> {
        let c = &self.conn;
        for (i, line) in p.lines.iter().enumerate() {
            let top = 4 + i as i16 * LINE_HEIGHT;
            let header = p.items.get(i) == Some(&Item::Status);
            let (bg, fg) = if header {
                (pixel(self.state.rgb()), 0xff_ff_ff)
            } else {
                (0xf4_f4_f4, 0x10_10_10)
            };
            c.change_gc(
                self.gc,
                &x11rb::protocol::xproto::ChangeGCAux::new().foreground(bg),
            )?;
            c.poly_fill_rectangle(
                p.win,
                self.gc,
                &[Rectangle {
                    x: 0,
                    y: top,
                    width: MENU_WIDTH,
                    height: LINE_HEIGHT as u16,
                }],
            )?;
            c.change_gc(
                self.gc,
                &x11rb::protocol::xproto::ChangeGCAux::new()
                    .foreground(fg)
                    .background(bg)
                    .font(self.font),
            )?;
            // The core font is Latin-1: anything else becomes '?'.
            let text: Vec<u8> = line
                .chars()
                .map(|ch| u8::try_from(u32::from(ch)).unwrap_or(b'?'))
                .take(255)
                .collect();
            c.image_text8(p.win, self.gc, 10, top + 15, &text)?;
        }
        c.flush()?;
        Ok(())
    }

    fn close_menu(&mut self) -> anyhow::Result<()> {
        if let Some(m) = self.menu.take() {
            self.conn.ungrab_pointer(CURRENT_TIME)?;
            self.conn.destroy_window(m.win)?;
            self.conn.flush()?;
        }
        Ok(())
    }

    fn close_note(&mut self) -> anyhow::Result<()> {
        if let Some(n) = self.note.take() {
            self.conn.destroy_window(n.win)?;
            self.conn.flush()?;
        }
        Ok(())
    }

    /// Handles a click; returns what the agent must hear.
    fn click(
        &mut self,
        win: Window,
        x: i16,
        y: i16,
        root_x: i16,
        root_y: i16,
    ) -> anyhow::Result<Option<FromTray>> {
        if win == self.icon && self.menu.is_none() {
            let items = menu_items(&self.state);
            let lines = items
                .iter()
                .map(|i| match i {
                    Item::Status => self.state.status_line(),
                    other => other.label().to_string(),
                })
                .collect();
            let menu = self.open_popup(root_x, root_y, lines, items, MENU_TITLE)?;
            // Clicks anywhere come to us while the menu is open, so a click
            // elsewhere closes it.
            let _ = self.conn.grab_pointer(
                true,
                menu.win,
                EventMask::BUTTON_PRESS,
                GrabMode::ASYNC,
                GrabMode::ASYNC,
                NONE,
                NONE,
                CURRENT_TIME,
            )?;
            self.menu = Some(menu);
            return Ok(None);
        }
        if let Some(n) = &self.note
            && n.win == win
        {
            self.close_note()?;
            return Ok(None);
        }
        let Some(menu) = &self.menu else {
            return Ok(None);
        };
        let chosen = (win == menu.win && x >= 0 && x < MENU_WIDTH as i16)
            .then(|| item_at(&menu.items, y))
            .flatten();
        self.close_menu()?;
        Ok(match chosen {
            Some(Item::RequestHelp) => Some(FromTray::RequestHelp),
            Some(Item::StopSession) => Some(FromTray::StopSessions),
            Some(Item::Quit) => Some(FromTray::Quit),
            Some(Item::MachineId) => {
                self.close_note()?;
                let lines = vec![
                    "This machine's Lifeline ID".to_string(),
                    self.machine.clone(),
                    "(click to close)".to_string(),
                ];
                let note =
                    self.open_popup(root_x, root_y, lines, vec![Item::Status], NOTE_TITLE)?;
                self.note = Some(note);
                None
            }
            Some(Item::Status) | None => None,
        })
    }
}

fn say(msg: FromTray) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", serde_json::to_string(&msg).unwrap_or_default());
    let _ = out.flush();
}

/// Docks the icon and serves it until the agent goes away or the user
/// chooses Quit. Runs on the main thread, outside any async runtime.
///
/// # Errors
/// No X server, or no tray manager on it.
pub fn run(machine: String) -> anyhow::Result<()> {
    let (conn, screen_num) = x11rb::connect(None)?;
    let screen = conn.setup().roots[screen_num].clone();
    let selection = atom(&conn, &format!("_NET_SYSTEM_TRAY_S{screen_num}"))?;
    let manager = conn.get_selection_owner(selection)?.reply()?.owner;
    if manager == NONE {
        anyhow::bail!(
            "no system tray on this display (nothing owns _NET_SYSTEM_TRAY_S{screen_num})"
        );
    }
    let atoms = Atoms {
        opcode: atom(&conn, "_NET_SYSTEM_TRAY_OPCODE")?,
        xembed_info: atom(&conn, "_XEMBED_INFO")?,
        net_wm_name: atom(&conn, "_NET_WM_NAME")?,
        utf8: atom(&conn, "UTF8_STRING")?,
    };
    let icon = conn.generate_id()?;
    conn.create_window(
        x11rb::COPY_DEPTH_FROM_PARENT,
        icon,
        screen.root,
        0,
        0,
        ICON_SIZE,
        ICON_SIZE,
        0,
        WindowClass::INPUT_OUTPUT,
        0,
        &CreateWindowAux::new()
            .background_pixel(0x30_30_30)
            .event_mask(
                EventMask::EXPOSURE | EventMask::BUTTON_PRESS | EventMask::STRUCTURE_NOTIFY,
            ),
    )?;
    name_window(&conn, &atoms, icon, ICON_TITLE)?;
    // Tray hosts size the icon's slot from these.
    let size = (i32::from(ICON_SIZE), i32::from(ICON_SIZE));
    x11rb::properties::WmSizeHints {
        min_size: Some(size),
        base_size: Some(size),
        ..Default::default()
    }
    .set_normal_hints(&conn, icon)?;
    // XEmbed version 0, mapped.
    conn.change_property32(
        PropMode::REPLACE,
        icon,
        atoms.xembed_info,
        atoms.xembed_info,
        &[0, 1],
    )?;
    let gc = conn.generate_id()?;
    let font = conn.generate_id()?;
    conn.open_font(font, b"fixed")?.check()?;
    conn.create_gc(gc, icon, &CreateGCAux::new().font(font))?;
    let dock = ClientMessageEvent::new(32, manager, atoms.opcode, [CURRENT_TIME, 0, icon, 0, 0]);
    conn.send_event(false, manager, EventMask::NO_EVENT, dock)?;
    conn.change_window_attributes(icon, &ChangeWindowAttributesAux::new())?;
    conn.flush()?;

    let (tx, rx) = mpsc::channel::<Option<ToTray>>();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if let Ok(msg) = serde_json::from_str::<ToTray>(&line) {
                let _ = tx.send(Some(msg));
            }
        }
        // The agent went away: so does the icon.
        let _ = tx.send(None);
    });

    let mut tray = Tray {
        conn,
        atoms,
        root: screen.root,
        icon,
        gc,
        font,
        state: TrayState::Idle,
        machine,
        menu: None,
        note: None,
    };
    tray.draw_icon()?;
    loop {
        loop {
            match rx.try_recv() {
                Ok(Some(ToTray::State(s))) => {
                    if s != tray.state {
                        tray.state = s;
                        tray.draw_icon()?;
                    }
                }
                Ok(None) | Err(mpsc::TryRecvError::Disconnected) => return Ok(()),
                Err(mpsc::TryRecvError::Empty) => break,
            }
        }
        while let Some(ev) = tray.conn.poll_for_event()? {
            match ev {
                Event::Expose(e) if e.count == 0 => {
                    if e.window == tray.icon {
                        tray.draw_icon()?;
                    } else if let Some(m) = tray.menu.as_ref().filter(|m| m.win == e.window) {
                        tray.draw_popup(m)?;
                    } else if let Some(n) = tray.note.as_ref().filter(|n| n.win == e.window) {
                        tray.draw_popup(n)?;
                    }
                }
                Event::ButtonPress(e) => {
                    if let Some(msg) =
                        tray.click(e.event, e.event_x, e.event_y, e.root_x, e.root_y)?
                    {
                        say(msg);
                        if msg == FromTray::Quit {
                            return Ok(());
                        }
                    }
                }
                Event::DestroyNotify(e) if e.window == tray.icon => return Ok(()),
                _ => {}
            }
        }
        if tray
            .note
            .as_ref()
            .is_some_and(|n| n.opened.elapsed() > Duration::from_secs(20))
        {
            tray.close_note()?;
        }
        std::thread::sleep(Duration::from_millis(30));
    }
}
