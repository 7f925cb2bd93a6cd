//! The Plot panel driven through its labels (egui_kittest) against the Modbus RTU
//! device simulator of `frames`: field values and rates become series with points,
//! pausing freezes them, unticking removes them.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use sockscope::cli::{StartOptions, StartSession, StartTab};
use sockscope::engine::SendTarget;
use sockscope::protocol::FrameDef;
use sockscope::ui::{Mode, SockscopeApp, Status};

use crate::frames::{Device, read_request, start_device};
use crate::ui::{WAIT, blank_settings, harness, no_persist, step_until};

/// Points drawn last frame for the series named `name` (None: not drawn).
fn drawn(h: &Harness<'_, SockscopeApp>, name: &str) -> Option<usize> {
    h.state()
        .tab()
        .plot
        .drawn()
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, count)| *count)
}

/// Sends `n` read requests through the tab's session and waits for `n` more values of
/// the first field.
fn ask(h: &mut Harness<'_, SockscopeApp>, n: usize) {
    let before = field_points(h);
    for _ in 0..n {
        let session = h.state().tab().session.as_ref().expect("session");
        session
            .send(SendTarget::Default, read_request(0, 2))
            .unwrap();
    }
    step_until(h, "field values", |tab| {
        tab.store.field_series(0).map_or(0, |s| s.len()) >= before + n
    });
}

fn field_points(h: &Harness<'_, SockscopeApp>) -> usize {
    h.state().tab().store.field_series(0).map_or(0, |s| s.len())
}

/// Steps for `d` (the plot redraws on a timer while it follows the latest data).
fn step_for(h: &mut Harness<'_, SockscopeApp>, d: Duration) {
    let end = Instant::now() + d;
    while Instant::now() < end {
        h.step();
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A client of the device simulator with the Modbus RTU definition: the register
/// fields get ticked checkboxes and lines with points, the rates fill in after a
/// second of traffic, Pause freezes the lines while values keep arriving, Resume
/// shows them, and unticking a field removes its line.
#[test]
fn fields_and_rates_become_series() {
    let (addr, stop, _device) = start_device(Device {
        delay: Duration::from_millis(2),
        corrupt_every: 0,
        split: false,
    });
    let options = StartOptions {
        tabs: vec![StartTab::new(StartSession::Client {
            host: "127.0.0.1".into(),
            port: addr.port(),
        })],
        ..no_persist()
    };
    let mut h = harness(blank_settings(Mode::TcpClient), options);
    step_until(&mut h, "connected", |tab| {
        matches!(tab.status, Status::Connected { .. })
    });
    h.state_mut()
        .tab_mut()
        .store
        .set_frame_def(Some(FrameDef::modbus_rtu()));
    h.get_by_label("Plot").click();
    h.run_steps(2);
    assert!(h.query_by_label("register 0").is_some(), "field checkbox");
    assert!(h.query_by_label("RX bytes/s").is_some(), "rate checkbox");

    ask(&mut h, 5);
    h.run_steps(2);
    assert!(
        drawn(&h, "register 0").is_some_and(|n| n >= 5),
        "{:?}",
        h.state().tab().plot.drawn()
    );
    assert!(drawn(&h, "register 1").is_some_and(|n| n >= 5));

    // Traffic over more than one sampling period gives a rate sample with bytes in it.
    let deadline = Instant::now() + WAIT;
    while !h
        .state()
        .tab()
        .plot
        .rate_samples()
        .iter()
        .any(|s| s.rates.rx_bytes > 0.0)
    {
        assert!(Instant::now() < deadline, "no rate sample with traffic");
        ask(&mut h, 1);
        step_for(&mut h, Duration::from_millis(100));
    }
    h.run_steps(2);
    assert!(drawn(&h, "RX bytes/s").is_some_and(|n| n >= 1));
    assert!(drawn(&h, "TX bytes/s").is_some_and(|n| n >= 1));
    let sample = *h.state().tab().plot.rate_samples().back().unwrap();
    assert!(
        sample.rates.rx_bytes < 9.0 * 1000.0,
        "9-byte answers, far fewer than 1000/s"
    );

    // Pause: values keep arriving, the line does not move; Resume shows them.
    h.get_by_label("Pause plot").click();
    h.run_steps(2);
    let frozen = drawn(&h, "register 0").unwrap();
    ask(&mut h, 3);
    h.run_steps(2);
    assert_eq!(drawn(&h, "register 0"), Some(frozen), "paused");
    h.get_by_label("Resume plot").click();
    h.run_steps(2);
    assert!(drawn(&h, "register 0").unwrap() >= frozen + 3);

    // Unticking a field removes its line; the other stays.
    // The series picker's box (the legend has one with that name too, drawn after it).
    h.get_all_by_role_and_label(egui::accesskit::Role::CheckBox, "register 0")
        .next()
        .unwrap()
        .click();
    h.run_steps(2);
    assert_eq!(drawn(&h, "register 0"), None);
    assert!(drawn(&h, "register 1").is_some());
    stop.store(true, Ordering::SeqCst);
}

/// One plot with each series normalised still draws every ticked series, and the
/// larger window shows the same plot while the panel says where it went.
#[test]
fn normalised_and_window() {
    let (addr, stop, _device) = start_device(Device {
        delay: Duration::from_millis(1),
        corrupt_every: 0,
        split: false,
    });
    let options = StartOptions {
        tabs: vec![StartTab::new(StartSession::Client {
            host: "127.0.0.1".into(),
            port: addr.port(),
        })],
        ..no_persist()
    };
    let mut h = harness(blank_settings(Mode::TcpClient), options);
    step_until(&mut h, "connected", |tab| {
        matches!(tab.status, Status::Connected { .. })
    });
    h.state_mut()
        .tab_mut()
        .store
        .set_frame_def(Some(FrameDef::modbus_rtu()));
    h.get_by_label("Plot").click();
    h.run_steps(2);
    ask(&mut h, 3);
    h.get_by_role_and_label(egui::accesskit::Role::ComboBox, "Layout")
        .click();
    h.run_steps(2);
    h.get_by_label("One plot, normalised").click();
    h.run_steps(2);
    assert!(drawn(&h, "register 0").is_some_and(|n| n >= 3));
    assert!(drawn(&h, "register 1").is_some_and(|n| n >= 3));
    h.get_by_label("Larger window").click();
    h.run_steps(3);
    assert!(
        h.query_by_label("The plot is shown in its own window.")
            .is_some()
    );
    assert!(drawn(&h, "register 0").is_some_and(|n| n >= 3));
    h.get_by_label("Put back").click();
    h.run_steps(2);
    assert!(h.query_by_label("Larger window").is_some());
    stop.store(true, Ordering::SeqCst);
}
