//! The screen benchmark's report as Markdown.

use super::ScreenReport;

fn f(v: Option<f64>) -> String {
    match v {
        None => "—".into(),
        Some(x) if x.abs() < 10.0 => format!("{x:.2}"),
        Some(x) => format!("{x:.0}"),
    }
}

/// The lowest and highest painter rate over the tools' runs.
fn painted_range(fps: &[Option<f64>]) -> String {
    let v: Vec<f64> = fps.iter().flatten().copied().collect();
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().fold(0.0, f64::max);
    if v.is_empty() {
        "—".into()
    } else if (hi - lo).abs() < 0.5 {
        format!("{hi:.0}")
    } else {
        format!("{lo:.0}–{hi:.0}")
    }
}

/// The report as a Markdown table, with the targets below it.
#[must_use]
pub fn markdown(r: &ScreenReport) -> String {
    let mut s = format!(
        "{}x{}, {} s of painting at {} fps per workload and tool\n\n",
        r.width, r.height, r.seconds, r.paint_fps
    );
    s.push_str(
        "| workload | lifeline kbit/s | codec kbit/s | fps | encode p50/p99 ms | decode p50 ms | latency p50/p99 ms | tight kbit/s | zrle kbit/s | x264 kbit/s | lifeline/best VNC | lifeline/x264 | painted fps |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for w in &r.rows {
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} / {} | {} | {} / {} | {} | {} | {} | {} | {} | {} |\n",
            w.workload,
            f(w.lifeline_kbit_s),
            f(w.lifeline_codec_kbit_s),
            f(w.lifeline_fps),
            f(Some(w.codec.encode_p50_ms)),
            f(Some(w.codec.encode_p99_ms)),
            f(Some(w.codec.decode_p50_ms)),
            f(w.latency_p50_ms),
            f(w.latency_p99_ms),
            f(w.tight_kbit_s),
            f(w.zrle_kbit_s),
            f(w.x264_kbit_s),
            f(w.lifeline_vs_best_vnc),
            f(w.lifeline_vs_x264),
            painted_range(&w.painted_fps),
        ));
    }
    s.push_str(
        "\n| workload | lifeline CPU % (agent + relay + viewer) | lifeline CPU ms/frame | tight server CPU % | zrle server CPU % | x264 CPU % |\n\
         |---|---:|---:|---:|---:|---:|\n",
    );
    for w in &r.rows {
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            w.workload,
            f(w.cpu_pct[0]),
            f(w.lifeline_cpu_ms_per_frame),
            f(w.cpu_pct[1]),
            f(w.cpu_pct[2]),
            f(w.cpu_pct[3]),
        ));
    }
    s.push_str(&format!(
        "\nBytes: Lifeline = the screen stream as it left the relay (frames, cursor, \
         message framing, end-to-end encryption records and tags; codec = the encoded frames \
         alone), ratios on these; VNC = all bytes read from the RFB socket \
         (incremental request every {} ms); x264 = raw H.264 stream ({}). \
         Counted from the start of painting to {} ms after it. \
         CPU in % of one core over the same time (the painter's thread left out, the X \
         server in none): Lifeline's whole path in this process, the peers' server or \
         encoder process alone; on 2 cores, Lifeline's latency cannot go below half its \
         CPU ms per frame.\n",
        r.vnc_request_interval_ms, r.x264_settings, r.tail_ms
    ));
    s.push_str(
        "Targets (reported, not asserted): typing/scrolling/drag ≤ 0.25× best VNC and ≤ 1× x264; \
         encode p50 ≤ 3 ms, p99 ≤ 10 ms; idle < 1 kbit/s; ≥ 60 fps; latency p50 ≤ 20 ms.\n",
    );
    for n in &r.notes {
        s.push_str(&format!("\nnote: {n}"));
    }
    if !r.notes.is_empty() {
        s.push('\n');
    }
    s
}
