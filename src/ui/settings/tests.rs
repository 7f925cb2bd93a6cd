//! Unit tests of the settings: field checks in the UI language, the session config the
//! fields build, storing and loading again, and settings stored by older versions.

use super::*;
use crate::ui::i18n::{EN, ZH};

/// A port out of range or with letters is flagged at the port field, in the UI language.
#[test]
fn bad_port_is_flagged() {
    let mut c = ConnectionSettings {
        mode: Mode::TcpClient,
        client_port: "70000".into(),
        ..ConnectionSettings::default()
    };
    assert_eq!(
        c.field_errors(&EN),
        vec![(Field::Port, EN.invalid_remote_port)]
    );
    c.client_port = "80a".into();
    assert!(c.session_config(&EN).is_err());
    c.client_port = "8080".into();
    assert!(c.session_config(&EN).is_ok());
    c.client_host = " ".into();
    assert_eq!(c.field_errors(&ZH)[0].1, ZH.empty_host);
}

/// Bind addresses must need no DNS lookup (the UI thread binds): IPs and localhost.
#[test]
fn bind_hosts() {
    for ok in [
        "0.0.0.0",
        "::",
        "[::1]",
        "127.0.0.1",
        "localhost",
        " LOCALHOST ",
    ] {
        assert!(is_bind_host(ok), "{ok}");
    }
    for bad in ["foo.example", "192.168.1", "::1]", ""] {
        assert!(!is_bind_host(bad), "{bad}");
    }
    let c = ConnectionSettings {
        mode: Mode::Udp,
        udp_host: "nosuch.invalid".into(),
        ..ConnectionSettings::default()
    };
    assert_eq!(c.field_errors(&EN)[0].0, Field::Host);
}

/// The Advanced fields reach the engine config: the client's source address and
/// port, reconnect delays, the three keepalive numbers; UDP groups and TTL. Bad values
/// are flagged at their field.
#[test]
fn advanced_fields_reach_the_config() {
    let mut c = ConnectionSettings {
        mode: Mode::TcpClient,
        client_local_port: "40001".into(),
        reconnect: true,
        reconnect_delay_s: "2".into(),
        reconnect_max_s: "16".into(),
        keepalive_s: "30".into(),
        keepalive_interval_s: "4".into(),
        keepalive_count: "3".into(),
        ..ConnectionSettings::default()
    };
    let Ok(SessionConfig::TcpClient(client)) = c.session_config(&EN) else {
        panic!("not a client config");
    };
    assert_eq!(client.local, Some("0.0.0.0:40001".parse().unwrap()));
    let reconnect = client.reconnect.unwrap();
    assert_eq!(reconnect.delay_for(1), Duration::from_secs(2));
    assert_eq!(reconnect.delay_for(3), Duration::from_secs(8));
    assert_eq!(reconnect.delay_for(10), Duration::from_secs(16));
    let keepalive = client.keepalive.unwrap();
    assert_eq!(keepalive.interval, Duration::from_secs(4));
    assert_eq!(keepalive.retries, 3);
    c.client_local_host = "my-host".into();
    c.reconnect_max_s = "1".into();
    let fields: Vec<Field> = c.field_errors(&EN).iter().map(|e| e.0).collect();
    assert_eq!(fields, [Field::LocalHost, Field::ReconnectMax]);
    let udp = ConnectionSettings {
        mode: Mode::Udp,
        udp_groups: vec!["239.1.2.3@lo".into()],
        multicast_ttl: "4".into(),
        multicast_loop: false,
        ..ConnectionSettings::default()
    };
    let Ok(SessionConfig::Udp(udp)) = udp.session_config(&ZH) else {
        panic!("not a UDP config");
    };
    assert_eq!(udp.multicast.ttl, Some(4));
    assert_eq!(udp.multicast.loopback, Some(false));
    assert_eq!(udp.multicast.join[0].interface, "lo");
}

/// Settings written before these fields existed still load, with their defaults.
#[test]
fn older_connection_settings_load() {
    let old = r#"(mode: TcpClient, client_host: "10.0.0.9", keepalive_s: "60")"#;
    let c: ConnectionSettings = ron::from_str(old).unwrap();
    assert_eq!(c.client_host, "10.0.0.9");
    assert!(!c.reconnect);
    assert_eq!(c.keepalive_interval_s, "10");
    assert!(c.udp_groups.is_empty() && c.multicast_loop);
}

/// A server may bind port 0; a client may not connect to it.
#[test]
fn port_zero() {
    let server = ConnectionSettings {
        mode: Mode::TcpServer,
        server_port: "0".into(),
        ..ConnectionSettings::default()
    };
    assert!(server.field_errors(&EN).is_empty());
    let client = ConnectionSettings {
        mode: Mode::TcpClient,
        client_port: "0".into(),
        ..ConnectionSettings::default()
    };
    assert_eq!(client.field_errors(&EN)[0].0, Field::Port);
}

/// This release's settings round-trip through RON with every typed field intact.
#[test]
fn round_trip() {
    let mut settings = AppSettings::single(Lang::Zh, Mode::Udp);
    settings.theme = Theme::Light;
    let mut tab = TabSettings {
        name: "device".into(),
        ..TabSettings::default()
    };
    tab.view.encoding = TextEncoding::Gbk;
    tab.view.framing = Framing::Fixed { len: 12 };
    tab.view.frame_check = Checksum::Crc16Modbus;
    tab.compose.spec.hex = true;
    tab.compose.spec.text = "01 03".into();
    tab.compose.remember(tab.compose.spec.clone());
    tab.log.format = LogFormat::Pcapng;
    settings.tabs.push(tab);
    let text = ron::to_string(&settings).unwrap();
    assert_eq!(AppSettings::from_stored(&text), Some(settings));
    assert_eq!(AppSettings::from_stored("not ron at all"), None);
}

/// The TLS fields reach the engine config of the mode they belong to; TLS off (the
/// default) gives none; settings stored before TLS existed load with it off.
#[test]
fn tls_fields_reach_the_config() {
    let old = r#"(mode: TcpClient, client_host: "10.0.0.9")"#;
    let c: ConnectionSettings = ron::from_str(old).unwrap();
    assert!(!c.tls.client && !c.tls.server);
    assert_eq!(c.tls.names, "localhost, 127.0.0.1, ::1");
    let Ok(SessionConfig::TcpClient(client)) = c.session_config(&EN) else {
        panic!("not a client config");
    };
    assert!(client.tls.is_none());

    let mut c = ConnectionSettings {
        mode: Mode::TcpClient,
        ..ConnectionSettings::default()
    };
    c.tls.client = true;
    c.tls.sni = " example.com ".into();
    c.tls.client_alpn = "h2, http/1.1".into();
    c.tls.client_versions = tls::TlsVersionChoice::Tls13;
    c.tls.pin = format!("SHA256 Fingerprint={}", ["AB"; 32].join(":"));
    let Ok(SessionConfig::TcpClient(client)) = c.session_config(&EN) else {
        panic!("not a client config");
    };
    let options = client.tls.unwrap();
    assert_eq!(options.server_name.as_deref(), Some("example.com"));
    assert_eq!(options.alpn, ["h2", "http/1.1"]);
    assert_eq!(options.versions, crate::engine::tls::TlsVersions::Tls13);
    assert_eq!(options.pinned_sha256, Some([0xAB; 32]));

    let mut s = ConnectionSettings::default();
    s.tls.server = true;
    s.tls.server_alpn = "h2".into();
    let Ok(SessionConfig::TcpServer(server)) = s.session_config(&EN) else {
        panic!("not a server config");
    };
    let options = server.tls.unwrap();
    assert_eq!(options.alpn, ["h2"]);
    assert_eq!(
        options.identity,
        crate::engine::tls::ServerIdentity::SelfSigned {
            names: vec!["localhost".into(), "127.0.0.1".into(), "::1".into()]
        }
    );
    // Round trip through RON.
    let text = ron::to_string(&c).unwrap();
    assert_eq!(ron::from_str::<ConnectionSettings>(&text).unwrap(), c);
}

/// Bad TLS fields are flagged at their field, in the UI language: a fingerprint that is
/// not one, an empty ALPN entry, a name that cannot be SNI, a missing CA file, and a PEM
/// server without its files. UDP and TLS-off modes ignore them.
#[test]
fn bad_tls_fields_are_flagged() {
    let mut c = ConnectionSettings {
        mode: Mode::TcpClient,
        ..ConnectionSettings::default()
    };
    c.tls.pin = "AB:CD".into();
    c.tls.client_alpn = "h2,,http/1.1".into();
    c.tls.sni = "bad name".into();
    c.tls.ca_file = "/no/such/ca.pem".into();
    assert!(c.field_errors(&EN).is_empty(), "TLS is off");
    c.tls.client = true;
    assert_eq!(
        c.field_errors(&EN),
        vec![
            (Field::TlsSni, EN.tls_bad_sni),
            (Field::TlsAlpn, EN.tls_alpn_bad),
            (Field::TlsPin, EN.tls_bad_fingerprint),
            (Field::TlsCaFile, EN.tls_no_such_file),
        ]
    );
    assert_eq!(c.session_config(&ZH).unwrap_err(), ZH.tls_bad_sni);
    c.tls.sni = "127.0.0.1".into();
    c.tls.client_alpn = " ".into();
    c.tls.pin = ["ab"; 32].join("").to_uppercase();
    c.tls.ca_file.clear();
    assert!(c.field_errors(&EN).is_empty());

    let mut s = ConnectionSettings::default();
    s.tls.server = true;
    s.tls.server_cert = tls::ServerCertChoice::Pem;
    s.tls.cert_file = "/no/such/cert.pem".into();
    assert_eq!(
        s.field_errors(&ZH),
        vec![
            (Field::TlsCertFile, ZH.tls_no_such_file),
            (Field::TlsKeyFile, ZH.tls_need_file),
        ]
    );
    s.tls.server_cert = tls::ServerCertChoice::SelfSigned;
    s.tls.names = " , ".into();
    assert_eq!(
        s.field_errors(&EN),
        vec![(Field::TlsNames, EN.tls_names_empty)]
    );
    s.mode = Mode::Udp;
    assert!(s.field_errors(&EN).is_empty());
}

/// A tab's frame definition (a preset with a bit field, labels and a scale) and its
/// round-trip timeout survive storing and loading; settings stored before frame
/// definitions existed load with none and the default timeout.
#[test]
fn frame_settings_round_trip() {
    use crate::protocol::{Bits, FrameDef, FrameLength, Label};
    let mut settings = AppSettings::single(Lang::En, Mode::TcpClient);
    let mut def = FrameDef::modbus_rtu();
    def.fields[0].scale = 0.1;
    def.fields[0].unit = "°C".into();
    def.fields[1].bits = Some(Bits { shift: 4, width: 3 });
    def.fields[1].labels = vec![Label {
        value: 1,
        label: "running".into(),
    }];
    settings.tabs[0].frames.def = Some(def.clone());
    settings.tabs[0].frames.rtt_timeout_ms = 750;
    let text = ron::to_string(&settings).unwrap();
    let back = AppSettings::from_stored(&text).unwrap();
    assert_eq!(back.tabs[0].frames.def.as_ref(), Some(&def));
    assert_eq!(back.tabs[0].frames.rtt_timeout_ms, 750);
    assert_eq!(back, settings);

    let mut lines = FrameDef::text_lines();
    lines.length = FrameLength::Terminator {
        bytes: vec![0x0D, 0x0A],
    };
    settings.tabs[0].frames.def = Some(lines);
    let text = ron::to_string(&settings).unwrap();
    assert_eq!(AppSettings::from_stored(&text), Some(settings));

    let old = r#"(name: "old", view: (framing: Line))"#;
    let tab: TabSettings = ron::from_str(old).unwrap();
    assert_eq!(tab.frames, frames::FrameSettings::default());
    assert_eq!(tab.frames.rtt_timeout_ms, frames::DEFAULT_RTT_TIMEOUT_MS);
}
