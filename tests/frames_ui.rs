//! Frames, fields and round trips from the window, driven through its labels with
//! egui_kittest against the Modbus RTU-over-TCP device simulator of `frames.rs`.

use std::time::Duration;

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use sockscope::automation::{QuickCommand, SendSpec};
use sockscope::codec::checksum::Checksum;
use sockscope::protocol::Verdict;
use sockscope::session::store::RecordKind;
use sockscope::ui::{Mode, SessionTab, SockscopeApp};

use crate::frames::{Device, register, start_device};
use crate::ui::{blank_settings, fill, harness, no_persist, step_until};

/// Scrolls the last widget labelled `label` into view (the Frames panel scrolls) and
/// clicks it.
fn click(h: &mut Harness<'_, SockscopeApp>, label: &str) {
    h.get_all_by_label(label).last().unwrap().scroll_to_me();
    // Scrolling is animated.
    h.run_steps(20);
    h.get_all_by_label(label).last().unwrap().click();
    h.run_steps(2);
}

/// Replaces the text of the last input labelled `label` (the newest field's), scrolled
/// into view.
fn fill_last(h: &mut Harness<'_, SockscopeApp>, label: &str, text: &str) {
    h.get_all_by_label(label).last().unwrap().scroll_to_me();
    // Scrolling is animated.
    h.run_steps(20);
    h.get_all_by_label(label).last().unwrap().focus();
    h.run_steps(1);
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.run_steps(1);
    h.get_all_by_label(label).last().unwrap().type_text(text);
    h.run_steps(2);
}

/// True when some node's label or value (a label widget's text) contains `text`.
fn shows(h: &Harness<'_, SockscopeApp>, text: &str) -> bool {
    h.query_all_by(|n| {
        n.label().is_some_and(|l| l.contains(text)) || n.value().is_some_and(|v| v.contains(text))
    })
    .next()
    .is_some()
}

fn frames_received(app: &SessionTab) -> usize {
    app.store
        .iter()
        .filter(|r| r.kind == RecordKind::Rx && r.verdict().is_some())
        .count()
}

/// Through the window: choose the Modbus RTU preset, add a field (register 3 at byte 9,
/// u16, scale 0.1, °C), Apply, connect to the simulated device (every second answer
/// with a wrong CRC), send a read request twice from a quick command; the good frame's
/// row shows the field's value, its field table shows it when selected, the bad frame's
/// row says why in words, and the quick command shows its round-trip statistics.
#[test]
fn frame_definition_fields_and_round_trips_in_the_window() {
    let (addr, stop, device) = start_device(Device {
        delay: Duration::from_millis(20),
        corrupt_every: 2,
        split: true,
    });
    let mut settings = blank_settings(Mode::TcpClient);
    let spec = SendSpec {
        text: "01 03 00 00 00 04".into(),
        hex: true,
        checksum: Checksum::Crc16Modbus,
        ..SendSpec::default()
    };
    settings.tabs[0]
        .automation
        .quick_commands
        .add(QuickCommand::new("read 0-3", spec));
    let mut h = harness(settings, no_persist());
    fill(&mut h, "Remote host", "127.0.0.1");
    fill(&mut h, "Remote port", &addr.port().to_string());

    // The definition, through the Frames tab.
    h.get_by_label("Frames").click();
    h.run_steps(2);
    h.get_by_label("Definition").click();
    h.run_steps(2);
    h.get_by_label("Modbus RTU (CRC-16)").click();
    h.run_steps(2);
    click(&mut h, "+ Field");
    fill_last(&mut h, "Name", "temperature");
    fill_last(&mut h, "At byte", "9");
    fill_last(&mut h, "Scale", "0.1");
    fill_last(&mut h, "Unit", "°C");
    assert!(h.query_by_label("not applied yet").is_some());
    click(&mut h, "Apply");
    let def = h
        .state()
        .tab()
        .settings
        .frames
        .def
        .clone()
        .expect("applied");
    assert_eq!(def.fields.len(), 3);
    assert_eq!(def.fields[2].name, "temperature");
    assert_eq!((def.fields[2].offset, def.fields[2].scale), (9, 0.1));
    assert_eq!(h.state().tab().store.frame_def(), Some(&def));
    assert!(h.query_by_label("✔ applied").is_some());

    // Connect and ask twice.
    h.get_by_label("Connect").click();
    h.run_steps(1);
    step_until(&mut h, "connected", |app| {
        matches!(app.status, sockscope::ui::Status::Connected { .. })
    });
    h.get_by_label("Quick commands").click();
    h.run_steps(2);
    for n in 1..=2 {
        h.get_by_label("▶ read 0-3").click();
        h.run_steps(1);
        step_until(&mut h, "an answer", |app| frames_received(app) >= n);
    }
    let tab = h.state().tab();
    let verdicts: Vec<Verdict> = tab
        .store
        .iter()
        .filter_map(|r| r.verdict().cloned())
        .collect();
    assert!(verdicts[0].is_good(), "{verdicts:?}");
    assert!(
        matches!(verdicts[1], Verdict::BadChecksum { .. }),
        "{verdicts:?}"
    );
    assert_eq!(tab.store.frame_counts(), (1, 1));

    // Rows: the good frame's fields, the bad frame's reason.
    h.run_steps(2);
    let temperature = format!("temperature={}.{} °C", register(3) / 10, register(3) % 10);
    assert_eq!(temperature, "temperature=21.5 °C");
    assert!(shows(&h, &temperature), "no row shows {temperature}");
    assert!(shows(&h, "register 0=200"));
    assert!(shows(&h, "✖ bad checksum: expected"));

    // The field table of the selected good frame.
    h.get_all_by(|n| n.label().is_some_and(|l| l.contains(&temperature)))
        .next()
        .unwrap()
        .click();
    h.run_steps(2);
    assert!(h.state().tab().receive.selected.is_some());
    assert!(h.query_by_label("Raw").is_some() && h.query_by_label("Value").is_some());
    assert!(h.query_by_label("21.5 °C").is_some());
    assert!(h.query_by_label("215").is_some());

    // Round trips: both requests were answered (a bad CRC is still an answer), beside
    // the quick command, in the status bar, and in the Frames tab's table.
    step_until(&mut h, "round trips counted", |app| {
        app.rtt.get("read 0-3").is_some_and(|s| s.count == 2)
    });
    h.run_steps(2);
    let s = h.state().tab().rtt.get("read 0-3").unwrap().clone();
    assert!(s.min >= Duration::from_millis(20), "{s:?}");
    assert!(s.max < Duration::from_secs(2), "{s:?}");
    assert!(shows(&h, "RTT p50"), "no RTT line beside the command");
    assert!(shows(&h, "RTT read 0-3: last"), "no RTT in the status bar");
    h.get_by_label("Frames").click();
    h.run_steps(2);
    assert!(h.query_by_label("read 0-3").is_some());
    assert!(shows(&h, "Good frames 1"));
    assert!(shows(&h, "Bad frames 1"));

    // The field defined through the window is a series in the Plot tab, with the good
    // frame's value as its point.
    h.get_by_label("Plot").click();
    h.run_steps(3);
    assert!(h.query_all_by_label("temperature (°C)").next().is_some());
    let drawn = h.state().tab().plot.drawn().to_vec();
    assert!(
        drawn
            .iter()
            .any(|(name, points)| name.starts_with("temperature") && *points >= 1),
        "{drawn:?}"
    );
    let series = h.state().tab().store.field_series(2).unwrap();
    assert_eq!(series.len(), 1);
    assert!((series[0].value - 21.5).abs() < 1e-9);

    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    h.get_by_label("Disconnect").click();
    h.run_steps(2);
    let _ = device.join();
}

/// A definition's problems show next to the field, in Chinese too, and Apply waits for
/// them to be fixed; None goes back to the view's framing.
#[test]
fn problems_are_shown_where_they_are() {
    let mut settings = blank_settings(Mode::TcpClient);
    settings.lang = sockscope::ui::Lang::Zh;
    let mut h = harness(settings, no_persist());
    h.get_by_label("帧定义").click();
    h.run_steps(2);
    h.get_by_label("定义").click();
    h.run_steps(2);
    h.get_by_label("Modbus RTU (CRC-16)").click();
    h.run_steps(2);
    // The Frame section starts closed for a preset (its title sums it up).
    assert!(shows(&h, "长度字段 @2 (1 B) +2 · CRC-16/MODBUS · ≤ 256 B"));
    h.get_by_label("帧结构").click();
    h.run_steps(2);
    fill_last(&mut h, "最长帧", "0");
    assert!(shows(&h, "最长帧至少 1 字节"));
    assert!(shows(&h, "请先修正标红的项"));
    fill_last(&mut h, "最长帧", "256");
    fill_last(&mut h, "枚举标签", "0=idle, running");
    assert!(shows(&h, "标签格式"));
    fill_last(&mut h, "枚举标签", "0=空闲, 1=运行");
    click(&mut h, "应用");
    let def = h.state().tab().settings.frames.def.clone().unwrap();
    assert_eq!(def.fields[1].labels.len(), 2);
    assert!(h.state().tab().store.frame_def().is_some());
}

/// Every sender of the window is timed: the compose box's Send ("compose") and its
/// repeat ("repeat", told by the repeat's worker before each send), without a frame
/// definition too (each read answers); the Frames tab lists both.
#[test]
fn compose_and_repeat_are_timed() {
    let (addr, stop, device) = start_device(Device {
        delay: Duration::from_millis(5),
        corrupt_every: 0,
        split: false,
    });
    let mut h = harness(blank_settings(Mode::TcpClient), no_persist());
    fill(&mut h, "Remote host", "127.0.0.1");
    fill(&mut h, "Remote port", &addr.port().to_string());
    h.get_by_label("Connect").click();
    h.run_steps(1);
    step_until(&mut h, "connected", |app| {
        matches!(app.status, sockscope::ui::Status::Connected { .. })
    });
    h.get_by_label("as hex").click();
    h.run_steps(1);
    fill(&mut h, "Data to send", "01 03 00 00 00 02 C4 0B");
    crate::ui::click_send(&mut h);
    step_until(&mut h, "compose timed", |app| {
        app.rtt.get("compose").is_some_and(|s| s.count == 1)
    });
    fill(&mut h, "Repeat every (ms)", "60");
    fill(&mut h, "times", "3");
    h.get_by_label("Start repeat").click();
    h.run_steps(1);
    step_until(&mut h, "repeats timed", |app| {
        app.rtt.get("repeat").is_some_and(|s| s.count == 3)
    });
    let tab = h.state().tab();
    assert_eq!(tab.rtt.get("repeat").unwrap().timeouts, 0);
    assert_eq!(tab.rtt.get("compose").unwrap().count, 1);
    assert!(shows(&h, "RTT repeat: last"));
    h.get_by_label("Frames").click();
    h.run_steps(2);
    assert!(h.query_by_label("compose").is_some() && h.query_by_label("repeat").is_some());
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    h.get_by_label("Disconnect").click();
    h.run_steps(2);
    let _ = device.join();
}
