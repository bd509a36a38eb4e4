//! Writes the seed corpus of the cargo-fuzz targets (`fuzz/corpus/…`):
//! valid examples of every message type, framed streams, and encoded screen
//! sequences, so fuzzing starts from inputs that get deep into the code.
//!
//! `cargo run -p lifeline-proto --example fuzz_seeds -- fuzz/corpus`

use lifeline_proto::{
    AgentToRelay, Channel, ConsoleRequest, Credential, Hello, PROTOCOL_VERSION, PeerKind,
    RelayToAgent, Request, SUPPORTED_VERSIONS, Secret, StreamHeader,
    chat::ChatMsg,
    encode_message,
    input::{InputEvent, InputMsg, InputReply},
    screen::{
        Batching, Decoder, Encoder, EncoderConfig, Frame,
        synth::{Synth, Workload},
        wire,
    },
    view::{AgentToViewer, ViewerToAgent},
};
use serde::Serialize;
use std::path::Path;

fn payload<T: Serialize>(msg: &T) -> Vec<u8> {
    encode_message(msg, usize::MAX).expect("encodes")[4..].to_vec()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join(name), bytes)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "fuzz/corpus".into());
    let root = Path::new(&root);
    let hello = Hello {
        protocol_version: PROTOCOL_VERSION,
        supported_versions: SUPPORTED_VERSIONS.to_vec(),
        kind: PeerKind::Console,
        credential: Credential::Password {
            user: "alice".into(),
            password: Secret::new("not-a-secret"),
            totp: Some(Secret::new("123456")),
            e2e_key: vec![7; 32],
        },
        software: "seed".into(),
    };
    let messages: Vec<(u8, Vec<u8>)> = vec![
        (0, payload(&hello)),
        (2, payload(&AgentToRelay::Heartbeat { seq: 7 })),
        (
            3,
            payload(&RelayToAgent::HeartbeatAck {
                seq: 7,
                server_time_us: 1,
            }),
        ),
        (
            4,
            payload(&Request {
                id: 1,
                body: ConsoleRequest::RevokeMachine {
                    machine: "pc-042".into(),
                },
            }),
        ),
        (
            6,
            payload(&StreamHeader {
                session: 42,
                channel: Channel::Screen,
            }),
        ),
        (
            7,
            payload(&ViewerToAgent::Start {
                monitor: None,
                max_fps: 30,
                credits: 2,
                viewer_time_us: 5,
            }),
        ),
        (
            8,
            payload(&AgentToViewer::Frame {
                capture_step: 167,
                data: vec![1, 2, 3],
            }),
        ),
        (
            9,
            payload(&InputMsg {
                seq: 1,
                event: InputEvent::Text("hello ä €".into()),
            }),
        ),
        (10, payload(&InputReply::Done { seq: 1 })),
        (
            11,
            payload(&ChatMsg::Text {
                from: "tom".into(),
                text: "hi".into(),
            }),
        ),
    ];
    let mut framed = vec![3u8];
    for (i, (kind, bytes)) in messages.iter().enumerate() {
        let mut seed = vec![*kind];
        seed.extend_from_slice(bytes);
        write(&root.join("messages"), &format!("seed-{i:02}"), &seed)?;
        framed.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
        framed.extend_from_slice(bytes);
    }
    write(&root.join("framing"), "seed-stream", &framed)?;

    // A key frame and a few deltas of a small screen.
    let mut enc = Encoder::new();
    let mut frame = Frame::filled(96, 64, 0x0033_6699)?;
    let mut seq = Vec::new();
    for step in 0..4u32 {
        for y in 0..8 {
            for x in 0..16 {
                frame.pixels_mut()[((y + step * 8) * 96 + x + step * 10) as usize] = 0x00ff_ffff;
            }
        }
        push_frame(&mut seq, &enc.encode(&frame));
    }
    write(&root.join("screen_decoder"), "seed-typing", &seq)?;
    // A window dragged over a gradient: copy, parts and predicted rects.
    let synth = Synth::new(Workload::WindowDrag, 256, 192, 1)?;
    let seq = encoded_run(synth, Encoder::new(), 5);
    write(&root.join("screen_decoder"), "seed-drag", &seq)?;
    // Video, each tile compressed alone: byte-plane records, plain and XOR.
    let synth = Synth::new(Workload::Video, 128, 64, 1)?;
    let enc = Encoder::with_config(EncoderConfig {
        batching: Batching::Never,
        threads: 1,
        ..EncoderConfig::default()
    });
    let seq = encoded_run(synth, enc, 3);
    write(&root.join("screen_decoder"), "seed-planes", &seq)?;
    // A coarse tile (what smooth motion sends) after a two-tile key frame;
    // built by hand: the encoder only goes coarse on screens larger than
    // the fuzz target's limits.
    let key = [
        b'L',
        wire::VERSION,
        wire::FLAG_KEY,
        0,
        128,
        1,
        64,
        2,
        12,
        0,
        wire::OP_SOLID,
        1,
        0,
        0,
        0,
        0,
        wire::OP_SOLID,
        2,
        0,
        0,
        0,
    ];
    // Brightness of 32x32 half pixels, colour of 16x16 quarter blocks.
    let planes: Vec<u8> = (0..32 * 32 + 2 * 16 * 16).map(|i| (i % 7) as u8).collect();
    let mut body = vec![1, wire::OP_COARSE, 0x80, 0x0C];
    body.extend_from_slice(&planes);
    // Flags, seq 1, one record, the raw body length (a varint below 16 Ki).
    let len = body.len();
    let mut delta = vec![0, 1, 1, (len as u8) | 0x80, (len >> 7) as u8];
    delta.extend_from_slice(&body);
    let mut check = Decoder::new();
    check.decode(&key)?;
    check.decode(&delta)?;
    let mut seq = Vec::new();
    for frame in [&key[..], &delta[..]] {
        seq.extend_from_slice(&(frame.len() as u16).to_be_bytes());
        seq.extend_from_slice(frame);
    }
    write(&root.join("screen_decoder"), "seed-coarse", &seq)?;
    println!("seeds written under {}", root.display());
    Ok(())
}

/// `frames` frames of `synth` (its first, then the next ones) through
/// `enc`, as the screen decoder target reads them (see [`push_frame`]).
fn encoded_run(mut synth: Synth, mut enc: Encoder, frames: usize) -> Vec<u8> {
    let mut seq = Vec::new();
    push_frame(&mut seq, &enc.encode(synth.frame()));
    for _ in 1..frames {
        push_frame(&mut seq, &enc.encode(synth.next_frame()));
    }
    seq
}

/// Appends an encoded frame behind its length as a big-endian `u16`.
fn push_frame(seq: &mut Vec<u8>, data: &[u8]) {
    seq.extend_from_slice(&(data.len().min(usize::from(u16::MAX)) as u16).to_be_bytes());
    seq.extend_from_slice(data);
}
