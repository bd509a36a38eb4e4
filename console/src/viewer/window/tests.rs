//! The viewer's UI without a display: egui_kittest runs the real drawing
//! code and exposes what it shows through AccessKit and the texture deltas
//! that would go to the GPU.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::{
    meter::FrameSample,
    view::{Action, ChatOut, Scale, Update, ViewerState, frame_to_image},
};
use eframe::egui::{Color32, ColorImage, ImageData, TextureId, TexturesDelta};
use egui_kittest::{Harness, TestRenderer, kittest::Queryable};
use lifeline_proto::{
    screen::Frame,
    view::{CursorShape, CursorState, MonitorInfo},
};
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Instant,
};

const BACKGROUND: u32 = 0x0033_6699;
const RED: u32 = 0x00ff_0000;

/// 320×200 of the remote background with a red 40×40 square at (100, 60).
fn frame_with_red_square() -> Frame {
    let mut f = Frame::filled(320, 200, BACKGROUND).unwrap();
    for y in 60..100 {
        for x in 100..140 {
            f.pixels_mut()[y * 320 + x] = RED;
        }
    }
    f
}

fn monitors() -> Vec<MonitorInfo> {
    vec![
        MonitorInfo {
            index: 0,
            name: "DP-1".into(),
            x: 0,
            y: 0,
            width: 320,
            height: 200,
            primary: true,
        },
        MonitorInfo {
            index: 1,
            name: "HDMI-1".into(),
            x: 320,
            y: 0,
            width: 640,
            height: 480,
            primary: false,
        },
    ]
}

fn frame_update(frame: &Frame, bytes: usize, latency_ms: i64) -> Update {
    Update {
        image: Some(frame_to_image(frame)),
        samples: vec![FrameSample {
            at: Instant::now(),
            bytes,
            latency_us: latency_ms * 1000,
        }],
        ..Update::default()
    }
}

struct Ui {
    state: ViewerState,
    actions: Vec<Action>,
}

/// What the GPU would hold: the texture deltas of every pass applied to
/// images kept in memory.
#[derive(Clone, Default)]
struct FakeGpu {
    textures: Arc<Mutex<HashMap<TextureId, ColorImage>>>,
}

impl TestRenderer for FakeGpu {
    fn handle_delta(&mut self, delta: &mut TexturesDelta) {
        let mut textures = self.textures.lock().unwrap();
        for (id, deltas) in &delta.set {
            for d in deltas {
                let ImageData::Color(img) = &d.image;
                match d.pos {
                    None => {
                        textures.insert(*id, (**img).clone());
                    }
                    Some([x0, y0]) => {
                        let t = textures
                            .get_mut(id)
                            .expect("partial update of a known texture");
                        for y in 0..img.size[1] {
                            for x in 0..img.size[0] {
                                t.pixels[(y0 + y) * t.size[0] + x0 + x] =
                                    img.pixels[y * img.size[0] + x];
                            }
                        }
                    }
                }
            }
        }
        for id in &delta.free {
            textures.remove(id);
        }
        // Applied: egui checks that no delta is silently dropped.
        delta.clear();
    }
}

impl FakeGpu {
    fn texture(&self, id: TextureId) -> ColorImage {
        self.textures.lock().unwrap()[&id].clone()
    }

    fn pixel(&self, id: TextureId, x: usize, y: usize) -> Color32 {
        let t = self.texture(id);
        t.pixels[y * t.size[0] + x]
    }
}

fn harness_with(gpu: &FakeGpu) -> Harness<'static, Ui> {
    let ui = Ui {
        state: ViewerState::new("desk".into(), monitors(), None),
        actions: Vec::new(),
    };
    Harness::builder()
        .with_size([800.0, 600.0])
        .renderer(gpu.clone())
        .build_ui_state(
            |ui, s: &mut Ui| {
                if let Some(a) = s.state.ui(ui, Instant::now()) {
                    s.actions.push(a);
                }
            },
            ui,
        )
}

fn harness() -> Harness<'static, Ui> {
    harness_with(&FakeGpu::default())
}

fn feed(h: &mut Harness<'static, Ui>, update: Update) {
    let ctx = h.ctx.clone();
    h.state_mut().state.apply(&ctx, update);
}

const REMOTE_RED: Color32 = Color32::from_rgb(0xff, 0, 0);
const REMOTE_BLUE: Color32 = Color32::from_rgb(0x33, 0x66, 0x99);

#[test]
fn a_frame_becomes_one_texture_with_the_remote_pixels() {
    let gpu = FakeGpu::default();
    let mut h = harness_with(&gpu);
    feed(&mut h, frame_update(&frame_with_red_square(), 4000, 12));
    h.step();

    let tex = h.state().state.screen_texture().expect("texture").id();
    assert_eq!(gpu.texture(tex).size, [320, 200]);
    assert_eq!(gpu.pixel(tex, 120, 80), REMOTE_RED, "inside the square");
    assert_eq!(gpu.pixel(tex, 10, 10), REMOTE_BLUE, "background");

    // The next frame updates the same texture instead of making a new one.
    let mut moved = Frame::filled(320, 200, BACKGROUND).unwrap();
    moved.pixels_mut()[0] = RED;
    feed(&mut h, frame_update(&moved, 500, 14));
    h.step();
    assert_eq!(h.state().state.screen_texture().unwrap().id(), tex);
    assert_eq!(gpu.pixel(tex, 0, 0), REMOTE_RED);
    assert_eq!(gpu.pixel(tex, 120, 80), REMOTE_BLUE);
    let live = gpu.textures.lock().unwrap().len();
    // The font atlas and the screen: no texture per frame.
    assert_eq!(live, 2, "textures alive after two frames");
}

#[test]
fn the_status_bar_shows_rate_latency_resolution_and_machine() {
    let mut h = harness();
    let frame = frame_with_red_square();
    for latency in [10, 30, 20] {
        feed(&mut h, frame_update(&frame, 1000, latency));
    }
    h.run();
    h.get_by_label("3 fps");
    // 3 × 1000 bytes in the last second.
    h.get_by_label("24 kbit/s");
    h.get_by_label("latency 20 ms");
    h.get_by_label("320×200");
    h.get_by_label("desk");
}

#[test]
fn the_status_bar_says_when_a_moving_area_is_at_half_resolution() {
    let mut h = harness();
    let frame = frame_with_red_square();
    feed(
        &mut h,
        Update {
            exact: Some(false),
            ..frame_update(&frame, 1000, 10)
        },
    );
    h.run();
    h.get_by_label("smooth motion: moving area at half resolution");
    // The exact picture follows once the area holds still.
    feed(
        &mut h,
        Update {
            exact: Some(true),
            ..frame_update(&frame, 1000, 10)
        },
    );
    h.run();
    assert!(
        h.query_by_label("smooth motion: moving area at half resolution")
            .is_none()
    );
}

#[test]
fn before_any_frame_the_window_says_it_is_waiting() {
    let mut h = harness();
    h.run();
    h.get_by_label("waiting for the first frame…");
    h.get_by_label("0 fps");
    assert!(h.state().state.screen_texture().is_none());
}

#[test]
fn choosing_a_monitor_asks_the_agent_for_it() {
    let mut h = harness();
    h.get_by_label("Monitor").click();
    h.run();
    h.get_by_label("HDMI-1 (640×480)").click();
    h.run();
    assert_eq!(h.state().actions, vec![Action::SelectMonitor(Some(1))]);
}

#[test]
fn the_scale_toggle_switches_between_fit_and_one_to_one() {
    let mut h = harness();
    feed(&mut h, frame_update(&frame_with_red_square(), 10, 1));
    h.run();
    assert_eq!(h.state().state.scale(), Scale::Fit);
    h.get_by_label("1:1").click();
    h.run();
    assert_eq!(h.state().state.scale(), Scale::Actual);
    h.get_by_label("Fit").click();
    h.run();
    assert_eq!(h.state().state.scale(), Scale::Fit);
}

#[test]
fn the_remote_cursor_shape_is_uploaded_and_kept_across_moves() {
    let gpu = FakeGpu::default();
    let mut h = harness_with(&gpu);
    let mut update = frame_update(&frame_with_red_square(), 10, 1);
    update.merge_cursor(CursorState {
        x: 50,
        y: 40,
        shape: Some(CursorShape {
            width: 2,
            height: 2,
            hot_x: 0,
            hot_y: 0,
            argb: vec![0xff00_ff00; 4],
        }),
    });
    // A move without a shape must not forget the shape.
    update.merge_cursor(CursorState {
        x: 60,
        y: 45,
        shape: None,
    });
    let c = update.cursor.as_ref().unwrap();
    assert_eq!((c.x, c.y), (60, 45));
    assert!(c.shape.is_some());
    feed(&mut h, update);
    h.step();
    let greens = gpu
        .textures
        .lock()
        .unwrap()
        .values()
        .filter(|t| t.size == [2, 2] && t.pixels[0] == Color32::from_rgb(0, 0xff, 0))
        .count();
    assert_eq!(greens, 1, "one cursor texture, opaque green");
}

#[test]
fn an_ended_stream_is_shown() {
    let mut h = harness();
    feed(
        &mut h,
        Update {
            ended: Some("the screen stream ended".into()),
            ..Update::default()
        },
    );
    h.run();
    h.get_by_label("ended: the screen stream ended");
}

#[test]
fn a_stream_back_after_the_relay_went_away_is_live_again() {
    let mut h = harness();
    feed(
        &mut h,
        Update {
            ended: Some("the relay went away (relay shut down); reconnecting…".into()),
            ..Update::default()
        },
    );
    h.run();
    h.get_by_label("ended: the relay went away (relay shut down); reconnecting…");
    feed(
        &mut h,
        Update {
            resumed: Some(super::update::Resumed {
                session: 77,
                control: true,
            }),
            ..frame_update(&frame_with_red_square(), 10, 1)
        },
    );
    h.run();
    assert!(
        h.query_by_label("ended: the relay went away (relay shut down); reconnecting…")
            .is_none()
    );
    // Control as the user granted it in the new session, and a line saying
    // what happened.
    h.get_by_label("Send keys");
    h.get_by_label("Chat").click();
    h.run();
    h.get_by_label("The relay came back: reconnected in session 77.");
}

#[test]
fn send_keys_menu_sends_ctrl_alt_del_in_a_control_session() {
    let mut h = harness();
    h.state_mut().state.set_control(true, None);
    feed(&mut h, frame_update(&frame_with_red_square(), 10, 1));
    h.run();
    h.get_by_label("Send keys").click();
    h.run();
    h.get_by_label("Ctrl+Alt+Del").click();
    h.run();
    assert_eq!(
        h.state_mut().state.take_input(),
        vec![lifeline_proto::input::InputEvent::Combo(vec![
            "ctrl".into(),
            "alt".into(),
            "delete".into()
        ])]
    );
}

#[test]
fn a_view_only_window_asks_for_control_and_follows_the_answer() {
    use lifeline_proto::chat::ChatMsg;
    let mut h = harness();
    h.run();
    assert!(h.query_by_label("Send keys").is_none());
    h.get_by_label("Ask for control").click();
    h.run();
    assert_eq!(
        h.state_mut().state.take_chat(),
        vec![ChatOut::Send(ChatMsg::AskControl)]
    );
    feed(
        &mut h,
        Update {
            chat: vec![ChatMsg::Permission { control: true }],
            ..Update::default()
        },
    );
    h.run();
    h.get_by_label("Send keys");
    h.get_by_label("control");
}

#[test]
fn the_chat_panel_shows_the_users_lines_and_sends_the_technicians() {
    use lifeline_proto::chat::ChatMsg;
    let mut h = harness();
    feed(
        &mut h,
        Update {
            chat: vec![ChatMsg::Text {
                from: "maria".into(),
                text: "the printer says paper jam".into(),
            }],
            ..Update::default()
        },
    );
    h.run();
    // A line from the user opens the panel.
    h.get_by_label("maria: the printer says paper jam");
    let text_input = eframe::egui::accesskit::Role::TextInput;
    h.get_by_role(text_input).click();
    h.run();
    h.get_by_role(text_input).type_text("open tray 2");
    h.run();
    h.get_by_label("Send").click();
    h.run();
    assert_eq!(
        h.state_mut().state.take_chat(),
        vec![ChatOut::Send(ChatMsg::Text {
            from: String::new(),
            text: "open tray 2".into()
        })]
    );
    h.get_by_label("you: open tray 2");
}
