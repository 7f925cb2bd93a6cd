//! P5 — UI frame time: the real app's per-frame code (`tick` + `draw` through
//! `Context::run_ui`, then `Context::tessellate`) on a headless context, with 1M records
//! held while 10k records/s arrive, vs an empty store with the same arrivals.

use std::hint::black_box;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use sockscope::cli::StartOptions;
use sockscope::engine::{Direction, Event};
use sockscope::ui::{AppSettings, Lang, Mode, SockscopeApp, ViewMode};

use crate::common::{Config, Row, ms, percentile, thread_cpu};

/// Window size of the frames (the screenshot size).
const SCREEN: (f32, f32) = (1280.0, 800.0);

/// Input for frame number `n` at 60 frames/s.
pub fn raw_input(n: u64) -> egui::RawInput {
    egui::RawInput {
        screen_rect: Some(egui::Rect::from_min_size(
            egui::Pos2::ZERO,
            egui::vec2(SCREEN.0, SCREEN.1),
        )),
        time: Some(n as f64 / 60.0),
        predicted_dt: 1.0 / 60.0,
        ..egui::RawInput::default()
    }
}

/// Each frame's CPU time in its three phases (tick, `run_ui`, tessellate), for the
/// profile runs that print where a slow frame's time went.
pub static PHASES: std::sync::Mutex<Vec<[Duration; 3]>> = std::sync::Mutex::new(Vec::new());

/// One frame as eframe runs it, minus the GPU upload: `tick` (drain within the budget,
/// framers, rates), `run_ui` with `draw`, `tessellate`. Returns (thread CPU, wall,
/// vertices tessellated).
pub fn frame(
    ctx: &egui::Context,
    app: &mut SockscopeApp,
    input: egui::RawInput,
) -> (Duration, Duration, usize) {
    let cpu0 = thread_cpu();
    let wall0 = Instant::now();
    app.tick(ctx);
    let cpu_tick = thread_cpu();
    let out = ctx.run_ui(input, |ui| app.draw(ui));
    let cpu_ui = thread_cpu();
    let prims = ctx.tessellate(out.shapes, out.pixels_per_point);
    if let Ok(mut phases) = PHASES.lock() {
        phases.push([cpu_tick - cpu0, cpu_ui - cpu_tick, thread_cpu() - cpu_ui]);
    }
    let vertices = prims
        .iter()
        .map(|p| match &p.primitive {
            egui::epaint::Primitive::Mesh(m) => m.vertices.len(),
            egui::epaint::Primitive::Callback(_) => 0,
        })
        .sum();
    black_box(prims);
    (thread_cpu() - cpu0, wall0.elapsed(), vertices)
}

/// A line of text like a device log, numbered.
fn line(i: u64) -> Arc<[u8]> {
    Arc::from(format!("{i:08} temp=21.5 hum=40 status=OK crc=0x3FA2\r\n").as_bytes())
}

fn data_event(bytes: Arc<[u8]>, peer: SocketAddr) -> Event {
    Event::Data {
        session: 1,
        conn: Some(1),
        peer,
        dir: Direction::Rx,
        at: SystemTime::now(),
        scan: sockscope::codec::lazy::TextScan::of(&bytes),
        bytes,
        group: None,
    }
}

/// Frame times (sorted CPU, sorted wall) of `frames` frames after `warmup`, with
/// `per_s` records arriving per second (handled inside the frame, as the drain does).
fn measure(
    ctx: &egui::Context,
    app: &mut SockscopeApp,
    warmup: u64,
    frames: u64,
    per_s: u64,
    next_frame: &mut u64,
    seq: &mut u64,
) -> (Vec<Duration>, Vec<Duration>, usize) {
    let peer = SocketAddr::from(([127, 0, 0, 1], 40000));
    let pool: Vec<Arc<[u8]>> = (0..256).map(line).collect();
    let mut cpu = Vec::new();
    let mut wall = Vec::new();
    let mut vertices = 0;
    for i in 0..warmup + frames {
        // Records due by the end of this frame at `per_s`.
        let due = (*next_frame + 1) * per_s / 60 - *next_frame * per_s / 60;
        let cpu0 = thread_cpu();
        let wall0 = Instant::now();
        for _ in 0..due {
            app.tab_mut().handle_event(
                Lang::En,
                data_event(pool[(*seq % 256) as usize].clone(), peer),
            );
            *seq += 1;
        }
        let pushed = (thread_cpu() - cpu0, wall0.elapsed());
        let (c, w, v) = frame(ctx, app, raw_input(*next_frame));
        vertices = v;
        *next_frame += 1;
        if i >= warmup {
            cpu.push(c + pushed.0);
            wall.push(w + pushed.1);
        }
    }
    cpu.sort();
    wall.sort();
    (cpu, wall, vertices)
}

/// Runs P5 and appends its rows.
pub fn run(cfg: &Config, rows: &mut Vec<Row>) {
    let held: u64 = if cfg.quick { 100_000 } else { 1_000_000 };
    let (warmup, frames) = if cfg.quick { (10, 60) } else { (30, 300) };
    let per_s = 10_000;
    println!(
        "P5 UI frame time: {SCREEN:?} px, {held} records held, {per_s} records/s arriving, {frames} frames per case; thread CPU time of handle_event×n + tick + run_ui(draw) + tessellate"
    );
    let ctx = egui::Context::default();
    let settings = AppSettings {
        // Room for 1M records: the default 64 MiB view cap would evict down to ~400k.
        view_cap_mib: 1024,
        ..AppSettings::single(Lang::En, Mode::TcpServer)
    };
    let options = StartOptions {
        persist: false,
        ..StartOptions::default()
    };
    let mut app = SockscopeApp::with_settings(ctx.clone(), settings, options);
    let mut next_frame = 0u64;
    let mut seq = 0u64;
    let views = [ViewMode::Text, ViewMode::Hex, ViewMode::Both];
    let mut empty = Vec::new();
    for view in views {
        app.tab_mut().store.clear();
        app.tab_mut().settings.view.view = view;
        let (cpu, wall, vertices) = measure(
            &ctx,
            &mut app,
            warmup,
            frames,
            per_s,
            &mut next_frame,
            &mut seq,
        );
        println!(
            "  empty store, {view:?}: CPU p50 {} p99 {}, wall p50 {} p99 {}, {vertices} vertices",
            ms(percentile(&cpu, 50.0)),
            ms(percentile(&cpu, 99.0)),
            ms(percentile(&wall, 50.0)),
            ms(percentile(&wall, 99.0))
        );
        empty.push((percentile(&cpu, 50.0), percentile(&cpu, 99.0)));
    }
    app.tab_mut().store.clear();
    let fill = Instant::now();
    let peer = SocketAddr::from(([127, 0, 0, 1], 40000));
    for i in 0..held {
        app.tab_mut()
            .store
            .push_data(1, Some(1), peer, Direction::Rx, SystemTime::now(), line(i));
    }
    println!(
        "  filled {} records ({} held bytes) in {:.1} s",
        app.tab_mut().store.len(),
        crate::common::mib(app.tab_mut().store.held_bytes() as u64),
        fill.elapsed().as_secs_f64()
    );
    for (view, (e50, e99)) in views.into_iter().zip(empty) {
        app.tab_mut().settings.view.view = view;
        let (cpu, wall, vertices) = measure(
            &ctx,
            &mut app,
            warmup,
            frames,
            per_s,
            &mut next_frame,
            &mut seq,
        );
        let (p50, p99) = (percentile(&cpu, 50.0), percentile(&cpu, 99.0));
        println!(
            "  {} records, {view:?}: CPU p50 {} p99 {}, wall p50 {} p99 {}, {vertices} vertices",
            app.tab_mut().store.len(),
            ms(p50),
            ms(p99),
            ms(percentile(&wall, 50.0)),
            ms(percentile(&wall, 99.0))
        );
        let ratio = p99.as_secs_f64() / e99.as_secs_f64().max(1e-9);
        rows.push(
            Row::new(
                "P5",
                format!(
                    "frame CPU p50 / p99, {}k records, {view:?} view",
                    held / 1000
                ),
            )
            .ours(format!("{} / {}", ms(p50), ms(p99)))
            .reference(format!("{} / {} (empty store)", ms(e50), ms(e99)))
            .ratio(ratio)
            .goal(
                "p99 ≤ 4 ms and ≤ 2× empty",
                p99 <= Duration::from_millis(4) && ratio <= 2.0,
            ),
        );
    }
    encoding_switch(cfg, &ctx, &mut app, &mut next_frame, rows);
}

/// A full view of GBK text shown as UTF-8 is switched to GBK: the longest frame while it
/// re-decodes (the switch itself included) against the time one pass over the same
/// records takes at once (what a switch in one frame would cost).
fn encoding_switch(
    cfg: &Config,
    ctx: &egui::Context,
    app: &mut SockscopeApp,
    next_frame: &mut u64,
    rows: &mut Vec<Row>,
) {
    use sockscope::codec::text::{TextEncoding, encode};
    let held: usize = if cfg.quick { 8 << 20 } else { 64 << 20 };
    let Ok(line) = encode(
        TextEncoding::Gbk,
        "温度=21.5 湿度=40% 状态=正常 序号=0123456789\r\n",
    ) else {
        return;
    };
    let read: Arc<[u8]> = line
        .iter()
        .copied()
        .cycle()
        .take(4096)
        .collect::<Vec<u8>>()
        .into();
    let peer = SocketAddr::from(([127, 0, 0, 1], 40000));
    let store = &mut app.tab_mut().store;
    store.clear();
    store.set_encoding(TextEncoding::Utf8);
    for _ in 0..held / read.len() {
        store.push_data(
            1,
            Some(1),
            peer,
            Direction::Rx,
            SystemTime::now(),
            read.clone(),
        );
    }
    store.count_some(usize::MAX);
    let records = store.len();
    // The reference: the same records re-decoded in one go.
    let mut one_go = sockscope::session::store::Store::new(store.caps(), TextEncoding::Utf8);
    for _ in 0..records {
        one_go.push_data(
            1,
            Some(1),
            peer,
            Direction::Rx,
            SystemTime::now(),
            read.clone(),
        );
    }
    let cpu0 = thread_cpu();
    one_go.set_encoding(TextEncoding::Gbk);
    one_go.count_some(usize::MAX);
    let at_once = thread_cpu() - cpu0;
    drop(one_go);
    let mut longest = Duration::ZERO;
    let mut frames = 0u32;
    let cpu0 = thread_cpu();
    app.tab_mut().store.set_encoding(TextEncoding::Gbk);
    let mut switch = thread_cpu() - cpu0;
    while app.tab().store.redecoding().is_some() && frames < 10_000 {
        let (cpu, _, _) = frame(ctx, app, raw_input(*next_frame));
        *next_frame += 1;
        longest = longest.max(cpu + switch);
        switch = Duration::ZERO;
        frames += 1;
    }
    println!(
        "  encoding switch to GBK over {records} records ({}): {frames} frames, longest {} (CPU); in one go {}",
        crate::common::mib(held as u64),
        ms(longest),
        ms(at_once)
    );
    rows.push(
        Row::new(
            "P5",
            format!(
                "encoding switch UTF-8 → GBK over a full view ({} of GBK text): longest frame CPU",
                crate::common::mib(held as u64)
            ),
        )
        .ours(format!("{} ({frames} frames)", ms(longest)))
        .reference(format!("{} (one pass in one go)", ms(at_once)))
        .ratio(longest.as_secs_f64() / at_once.as_secs_f64().max(1e-9))
        .goal(
            "longest frame ≤ 16 ms",
            longest <= Duration::from_millis(16),
        ),
    );
}
