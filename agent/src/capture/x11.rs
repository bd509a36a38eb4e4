//! X11 capture through x11rb and MIT-SHM (a segment only we can read: see
//! [`ShmSegment`]). Servers without MIT-SHM (remote displays) fall back to
//! GetImage.
//!
//! Where the server has DAMAGE, the root window reports whenever anything
//! is drawn: until then the screen is not read at all, so an idle screen
//! costs no copies and no comparisons; then only what was drawn is read.

use super::{Capture, CaptureError};
use lifeline_proto::screen::{Frame, Rect};
use lifeline_proto::view::{CursorShape, CursorState, MonitorInfo};
use x11rb::{
    connection::{Connection, RequestConnection},
    protocol::{
        Event,
        damage::{self, ConnectionExt as _},
        randr::{self, ConnectionExt as _},
        shm::{self, ConnectionExt as _},
        xfixes::{self, ConnectionExt as _},
        xproto::{ChangeWindowAttributesAux, ConnectionExt as _, EventMask, ImageFormat, Window},
    },
    rust_connection::RustConnection,
};

pub use super::shm::ShmSegment;

pub(super) fn x11_err(e: impl std::fmt::Display) -> CaptureError {
    CaptureError::X11(e.to_string())
}

/// Captures an X11 screen (all monitors, or one).
pub struct X11Capture {
    conn: RustConnection,
    root: Window,
    shm: Option<ShmSegment>,
    shm_supported: bool,
    selected: Option<u32>,
    xfixes: bool,
    last_cursor_serial: u32,
    /// The server reports cursor shape changes (XFixes CursorNotify), so
    /// the image is fetched only after one.
    cursor_events: bool,
    /// The shape may have changed since it was last fetched.
    cursor_changed: bool,
    /// The root window's damage object, where the server has DAMAGE, and
    /// the region its damage is moved into to be read.
    damage: Option<(damage::Damage, xfixes::Region)>,
    /// Something was drawn since the last capture (or may have been).
    damaged: bool,
    /// The server reports changes of the screen's size and monitors
    /// (root ConfigureNotify and RandR), so `area` may be kept.
    layout_events: bool,
    /// The area to read, as last asked (`None`: ask again); forgotten on
    /// a reported change, a monitor selection and every whole read.
    area: Option<(i16, i16, u16, u16)>,
}

impl X11Capture {
    /// Connects to `display` (or `DISPLAY`).
    ///
    /// # Errors
    /// [`CaptureError::NoDisplay`] naming the reason.
    pub fn open(display: Option<&str>) -> Result<Self, CaptureError> {
        if display.is_none() && std::env::var_os("DISPLAY").is_none_or(|d| d.is_empty()) {
            return Err(CaptureError::NoDisplay("DISPLAY unset".into()));
        }
        let (conn, screen) = x11rb::connect(display)
            .map_err(|e| CaptureError::NoDisplay(format!("X server unreachable: {e}")))?;
        let root = conn.setup().roots[screen].root;
        let shm_supported = conn
            .extension_information(shm::X11_EXTENSION_NAME)
            .ok()
            .flatten()
            .is_some();
        let xfixes = conn
            .xfixes_query_version(5, 0)
            .ok()
            .and_then(|c| c.reply().ok())
            .is_some();
        // DAMAGE needs XFixes; without either, every capture reads the
        // screen.
        let damage = if xfixes {
            watch_damage(&conn, root)
        } else {
            None
        };
        let layout_events = watch_layout(&conn, root);
        // Without the reports, the image is fetched on every pass.
        let cursor_events = xfixes
            && conn
                .xfixes_select_cursor_input(root, xfixes::CursorNotifyMask::DISPLAY_CURSOR)
                .ok()
                .and_then(|c| c.check().ok())
                .is_some();
        Ok(Self {
            conn,
            root,
            shm: None,
            shm_supported,
            selected: None,
            xfixes,
            last_cursor_serial: 0,
            cursor_events,
            cursor_changed: true,
            damage,
            damaged: true,
            layout_events,
            area: None,
        })
    }

    /// Whether the server reports damage for this capture (tests).
    #[must_use]
    pub fn watches_damage(&self) -> bool {
        self.damage.is_some()
    }

    /// Whether the server reports cursor shape changes (tests).
    #[must_use]
    pub fn watches_cursor(&self) -> bool {
        self.cursor_events
    }

    /// Reads the events the server sent (damage and cursor-shape reports)
    /// into their flags; `false` if the connection is broken.
    fn drain_events(&mut self) -> bool {
        loop {
            match self.conn.poll_for_event() {
                Ok(Some(Event::DamageNotify(_))) => self.damaged = true,
                Ok(Some(Event::XfixesCursorNotify(_))) => self.cursor_changed = true,
                Ok(Some(
                    Event::ConfigureNotify(_)
                    | Event::RandrScreenChangeNotify(_)
                    | Event::RandrNotify(_),
                )) => self.area = None,
                Ok(Some(_)) => {}
                Ok(None) => return true,
                Err(_) => return false,
            }
        }
    }

    /// The area to read in root coordinates: kept from the last time
    /// while the server reports no change of the layout (no round trips
    /// for each read of what was drawn, nor for the pointer on a selected
    /// monitor), else asked.
    fn area(&mut self) -> Result<(i16, i16, u16, u16), CaptureError> {
        if self.layout_events
            && self.drain_events()
            && let Some(area) = self.area
        {
            return Ok(area);
        }
        let area = self.ask_area()?;
        if self.layout_events {
            self.area = Some(area);
        }
        Ok(area)
    }

    fn ask_area(&mut self) -> Result<(i16, i16, u16, u16), CaptureError> {
        let geo = self
            .conn
            .get_geometry(self.root)
            .map_err(x11_err)?
            .reply()
            .map_err(x11_err)?;
        let full = (0, 0, geo.width, geo.height);
        let Some(index) = self.selected else {
            return Ok(full);
        };
        let monitors = self.monitors()?;
        match monitors.get(index as usize) {
            Some(m) => {
                // Clip to the root window: a monitor list can lag a resize.
                let x = m.x.clamp(0, i32::from(geo.width)) as i16;
                let y = m.y.clamp(0, i32::from(geo.height)) as i16;
                let w = (m.width as i32)
                    .min(i32::from(geo.width) - i32::from(x))
                    .max(1) as u16;
                let h = (m.height as i32)
                    .min(i32::from(geo.height) - i32::from(y))
                    .max(1) as u16;
                Ok((x, y, w, h))
            }
            None => Ok(full),
        }
    }

    /// Grabs the area into the shared segment and converts it from there
    /// (no intermediate copy of the bytes).
    fn grab_shm(&mut self, x: i16, y: i16, w: u16, h: u16) -> Result<Frame, CaptureError> {
        let len = usize::from(w) * usize::from(h) * 4;
        self.grab_shm_raw(x, y, w, h)?;
        let Some(seg) = self.shm.as_ref() else {
            return Err(CaptureError::Shm("segment missing".into()));
        };
        Frame::from_bgrx(u32::from(w), u32::from(h), seg.bytes(len)).map_err(x11_err)
    }

    /// Has the server write the `w`x`h` block at `(x, y)` to the start of
    /// the shared segment (made large enough first), packed.
    fn grab_shm_raw(&mut self, x: i16, y: i16, w: u16, h: u16) -> Result<(), CaptureError> {
        let len = usize::from(w) * usize::from(h) * 4;
        if self.shm.as_ref().is_none_or(|s| s.size() < len) {
            if let Some(old) = self.shm.take() {
                old.release(&self.conn);
            }
            self.shm = Some(ShmSegment::create(&self.conn, len, false)?);
        }
        let Some(seg) = self.shm.as_ref() else {
            return Err(CaptureError::Shm("segment missing".into()));
        };
        let reply = self
            .conn
            .shm_get_image(
                self.root,
                x,
                y,
                w,
                h,
                !0,
                ImageFormat::Z_PIXMAP.into(),
                seg.seg(),
                0,
            )
            .map_err(x11_err)?
            .reply()
            .map_err(x11_err)?;
        if reply.depth != 24 && reply.depth != 32 {
            return Err(CaptureError::X11(format!(
                "unsupported screen depth {}",
                reply.depth
            )));
        }
        Ok(())
    }

    /// Reads `part` of the area at `(x, y)` through the shared segment
    /// into the same place of `frame` (which has the area's size).
    fn grab_part(
        &mut self,
        (x, y): (i16, i16),
        part: Rect,
        frame: &mut Frame,
    ) -> Result<(), CaptureError> {
        let pw = part.w as usize;
        let len = pw * part.h as usize * 4;
        self.grab_shm_raw(
            x + part.x as i16,
            y + part.y as i16,
            part.w as u16,
            part.h as u16,
        )?;
        let Some(seg) = self.shm.as_ref() else {
            return Err(CaptureError::Shm("segment missing".into()));
        };
        let bytes = seg.bytes(len);
        let fw = frame.width() as usize;
        let pixels = frame.pixels_mut();
        for (row, src) in bytes.chunks_exact(pw * 4).enumerate() {
            let at = (part.y as usize + row) * fw + part.x as usize;
            for (dst, c) in pixels[at..at + pw].iter_mut().zip(src.chunks_exact(4)) {
                *dst = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
            }
        }
        Ok(())
    }

    fn grab_plain(&mut self, x: i16, y: i16, w: u16, h: u16) -> Result<Vec<u8>, CaptureError> {
        let reply = self
            .conn
            .get_image(ImageFormat::Z_PIXMAP, self.root, x, y, w, h, !0)
            .map_err(x11_err)?
            .reply()
            .map_err(x11_err)?;
        Ok(reply.data)
    }
}

impl Capture for X11Capture {
    fn monitors(&mut self) -> Result<Vec<MonitorInfo>, CaptureError> {
        let reply = self
            .conn
            .randr_get_monitors(self.root, true)
            .map_err(x11_err)?
            .reply();
        let monitors = match reply {
            Ok(r) => r.monitors,
            Err(_) => Vec::new(),
        };
        if monitors.is_empty() {
            let geo = self
                .conn
                .get_geometry(self.root)
                .map_err(x11_err)?
                .reply()
                .map_err(x11_err)?;
            return Ok(vec![MonitorInfo {
                index: 0,
                name: "screen".into(),
                x: 0,
                y: 0,
                width: u32::from(geo.width),
                height: u32::from(geo.height),
                primary: true,
            }]);
        }
        Ok(monitors
            .iter()
            .enumerate()
            .map(|(i, m)| MonitorInfo {
                index: i as u32,
                name: self
                    .conn
                    .get_atom_name(m.name)
                    .ok()
                    .and_then(|c| c.reply().ok())
                    .map(|r| String::from_utf8_lossy(&r.name).into_owned())
                    .unwrap_or_else(|| format!("monitor-{i}")),
                x: i32::from(m.x),
                y: i32::from(m.y),
                width: u32::from(m.width),
                height: u32::from(m.height),
                primary: m.primary,
            })
            .collect())
    }

    fn select(&mut self, monitor: Option<u32>) -> Result<(), CaptureError> {
        if let Some(index) = monitor {
            let count = self.monitors()?.len();
            if index as usize >= count {
                return Err(CaptureError::NoSuchMonitor { index, count });
            }
        }
        self.selected = monitor;
        self.area = None;
        Ok(())
    }

    fn capture_into(
        &mut self,
        frame: &mut Option<Frame>,
        whole: bool,
    ) -> Result<Option<Vec<Rect>>, CaptureError> {
        if whole {
            // Asked again at every whole read, whatever was reported.
            self.area = None;
        }
        let area = self.area()?;
        let (x, y, w, h) = area;
        let fits = frame
            .as_ref()
            .is_some_and(|f| (f.width(), f.height()) == (u32::from(w), u32::from(h)));
        let Some(current) = frame.as_mut().filter(|_| fits && self.shm_supported) else {
            *frame = Some(self.capture()?);
            return Ok(None);
        };
        // Empty the damage before reading, as in `capture`; unless all of
        // the screen is to be read, move it into the region to read it.
        let parts = match self.damage {
            Some((d, region)) if !whole => {
                self.conn
                    .damage_subtract(d, x11rb::NONE, region)
                    .map_err(x11_err)?;
                let rects = self
                    .conn
                    .xfixes_fetch_region(region)
                    .map_err(x11_err)?
                    .reply()
                    .map_err(x11_err)?
                    .rectangles;
                damaged_parts(&rects, area)
            }
            Some((d, _)) => {
                self.conn
                    .damage_subtract(d, x11rb::NONE, x11rb::NONE)
                    .map_err(x11_err)?;
                None
            }
            None => None,
        };
        self.damaged = false;
        let Some(parts) = parts else {
            // All of it, in place: no new frame to allocate.
            let all = Rect {
                x: 0,
                y: 0,
                w: u32::from(w),
                h: u32::from(h),
            };
            self.grab_part((x, y), all, current)?;
            return Ok(None);
        };
        for &part in &parts {
            self.grab_part((x, y), part, current)?;
        }
        Ok(Some(parts))
    }

    fn may_have_changed(&mut self) -> bool {
        if self.damage.is_none() {
            return true;
        }
        // A broken connection: the capture will say how.
        !self.drain_events() || self.damaged
    }

    fn capture(&mut self) -> Result<Frame, CaptureError> {
        if let Some((d, _)) = self.damage {
            // Empty the damage before reading: what is drawn from here on
            // reports again (and may also be in this image, which costs one
            // comparison more, never a missed change). Sent with the read.
            self.conn
                .damage_subtract(d, x11rb::NONE, x11rb::NONE)
                .map_err(x11_err)?;
            self.damaged = false;
        }
        self.area = None;
        let (x, y, w, h) = self.area()?;
        if self.shm_supported {
            match self.grab_shm(x, y, w, h) {
                Err(CaptureError::Shm(e)) => {
                    tracing::warn!("MIT-SHM unusable ({e}); falling back to GetImage");
                    self.shm_supported = false;
                }
                done => return done,
            }
        }
        let bytes = self.grab_plain(x, y, w, h)?;
        Frame::from_bgrx(u32::from(w), u32::from(h), &bytes).map_err(x11_err)
    }

    fn cursor(&mut self) -> Option<CursorState> {
        // Asked every frame, idle or not: the whole screen's origin needs
        // no round trip, only a selected monitor's does.
        let (ox, oy) = match self.selected {
            None => (0, 0),
            Some(_) => {
                let (x, y, _, _) = self.area().ok()?;
                (x, y)
            }
        };
        let p = self.conn.query_pointer(self.root).ok()?.reply().ok()?;
        // A shape change reported (or no reports): fetch the image, sent
        // on if it is not the one the viewer has.
        let fetch =
            self.xfixes && (!self.cursor_events || !self.drain_events() || self.cursor_changed);
        let mut shape = None;
        if fetch {
            let img = self
                .conn
                .xfixes_get_cursor_image()
                .ok()
                .and_then(|c| c.reply().ok());
            // Not fetched: asked again on the next pass.
            self.cursor_changed = img.is_none();
            if let Some(img) = img
                && img.cursor_serial != self.last_cursor_serial
            {
                self.last_cursor_serial = img.cursor_serial;
                shape = Some(CursorShape {
                    width: img.width,
                    height: img.height,
                    hot_x: img.xhot,
                    hot_y: img.yhot,
                    argb: img.cursor_image,
                });
            }
        }
        Some(CursorState {
            x: i32::from(p.root_x) - i32::from(ox),
            y: i32::from(p.root_y) - i32::from(oy),
            shape,
        })
    }
}

/// Asks the server to report changes of the screen's size (root
/// ConfigureNotify) and of its outputs and monitors (RandR 1.2 or later);
/// `true` if it will.
fn watch_layout(conn: &RustConnection, root: Window) -> bool {
    let structure = conn
        .change_window_attributes(
            root,
            &ChangeWindowAttributesAux::new().event_mask(EventMask::STRUCTURE_NOTIFY),
        )
        .ok()
        .and_then(|c| c.check().ok())
        .is_some();
    let randr = conn
        .randr_query_version(1, 5)
        .ok()
        .and_then(|c| c.reply().ok())
        .is_some_and(|v| (v.major_version, v.minor_version) >= (1, 2));
    let mask = randr::NotifyMask::SCREEN_CHANGE
        | randr::NotifyMask::CRTC_CHANGE
        | randr::NotifyMask::OUTPUT_CHANGE;
    structure
        && randr
        && conn
            .randr_select_input(root, mask)
            .ok()
            .and_then(|c| c.check().ok())
            .is_some()
}

/// A damage object on `root` that reports once whenever its damage goes
/// from empty to not empty, and an empty region to read it through;
/// `None` if the server lacks DAMAGE 1.1.
fn watch_damage(conn: &RustConnection, root: Window) -> Option<(damage::Damage, xfixes::Region)> {
    conn.damage_query_version(1, 1).ok()?.reply().ok()?;
    let region = conn.generate_id().ok()?;
    conn.xfixes_create_region(region, &[]).ok()?.check().ok()?;
    let created = conn.generate_id().ok().and_then(|d| {
        conn.damage_create(d, root, damage::ReportLevel::NON_EMPTY)
            .ok()?
            .check()
            .ok()?;
        Some(d)
    });
    if created.is_none() {
        let _ = conn.xfixes_destroy_region(region);
    }
    Some((created?, region))
}

/// Past this many damaged rectangles, their bounding box is read at once.
const MAX_READS: usize = 16;

/// `rects` (root coordinates) clipped to the area `(x, y, w, h)` and moved
/// into its coordinates, as at most [`MAX_READS`] rectangles; `None` when
/// they cover more than half of it (one read of it all is cheaper).
fn damaged_parts(
    rects: &[x11rb::protocol::xproto::Rectangle],
    area: (i16, i16, u16, u16),
) -> Option<Vec<Rect>> {
    let (ax, ay) = (i32::from(area.0), i32::from(area.1));
    let (aw, ah) = (i32::from(area.2), i32::from(area.3));
    let mut parts: Vec<Rect> = rects
        .iter()
        .filter_map(|r| {
            let x0 = (i32::from(r.x) - ax).clamp(0, aw);
            let y0 = (i32::from(r.y) - ay).clamp(0, ah);
            let x1 = (i32::from(r.x) + i32::from(r.width) - ax).clamp(0, aw);
            let y1 = (i32::from(r.y) + i32::from(r.height) - ay).clamp(0, ah);
            (x1 > x0 && y1 > y0).then(|| Rect {
                x: x0 as u32,
                y: y0 as u32,
                w: (x1 - x0) as u32,
                h: (y1 - y0) as u32,
            })
        })
        .collect();
    if parts.len() > MAX_READS {
        let x0 = parts.iter().map(|r| r.x).min().unwrap_or(0);
        let y0 = parts.iter().map(|r| r.y).min().unwrap_or(0);
        let x1 = parts.iter().map(|r| r.x + r.w).max().unwrap_or(0);
        let y1 = parts.iter().map(|r| r.y + r.h).max().unwrap_or(0);
        parts = vec![Rect {
            x: x0,
            y: y0,
            w: x1 - x0,
            h: y1 - y0,
        }];
    }
    let read: usize = parts.iter().map(Rect::area).sum();
    (read * 2 <= (aw * ah) as usize).then_some(parts)
}

impl Drop for X11Capture {
    fn drop(&mut self) {
        if let Some((d, region)) = self.damage.take() {
            let _ = self.conn.damage_destroy(d);
            let _ = self.conn.xfixes_destroy_region(region);
        }
        if let Some(seg) = self.shm.take() {
            seg.release(&self.conn);
        }
    }
}
