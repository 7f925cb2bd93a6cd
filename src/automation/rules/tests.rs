//! Unit tests of `automation::rules`, in a file of their own (the module stays under 800 lines).

use super::*;
use crate::codec::text::encode;

fn rule(kind: MatchKind, pattern: &str, reply: &str) -> Rule {
    Rule {
        name: format!("{kind:?}"),
        kind,
        pattern: pattern.into(),
        reply: SendSpec::text(reply, TextEncoding::Utf8),
        ..Rule::default()
    }
}

fn responder(rules: Vec<Rule>) -> Arc<AutoResponder> {
    AutoResponder::new(&AutoReplyConfig {
        rules,
        ..AutoReplyConfig::default()
    })
    .unwrap()
}

/// The replies' bytes, in order.
fn sent(actions: &[Action]) -> Vec<Vec<u8>> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Send { bytes, .. } => Some(bytes.clone()),
            Action::Close { .. } => None,
        })
        .collect()
}

/// Exact waits on a prefix, fires on the whole, not on more or other.
#[test]
fn exact_split_and_mismatch() {
    let r = responder(vec![rule(MatchKind::Exact, "exit", "bye")]);
    assert!(r.respond(Some(1), b"ex").is_empty());
    assert_eq!(sent(&r.respond(Some(1), b"it")), [b"bye".to_vec()]);
    assert!(r.respond(Some(2), b"exit!").is_empty());
    // "exit!" could never match, so it was dropped: a following "exit" fires alone.
    assert_eq!(sent(&r.respond(Some(2), b"exit")), [b"bye".to_vec()]);
}

/// Contains consumes through the occurrence, so two in one read fire twice, and a
/// pattern split over reads fires.
#[test]
fn contains_fires_per_occurrence() {
    let r = responder(vec![rule(MatchKind::Contains, "ping", "pong{counter}")]);
    assert_eq!(
        sent(&r.respond(Some(1), b"xx ping ping")),
        [b"pong1".to_vec(), b"pong2".to_vec()]
    );
    assert!(r.respond(Some(1), b"abc pi").is_empty());
    assert_eq!(sent(&r.respond(Some(1), b"ng")), [b"pong3".to_vec()]);
    assert!(r.respond(Some(1), b"pong").is_empty());
    assert_eq!(r.hits(), [3]);
}

/// Starts-with, regex (on GBK text) and hex patterns with wildcards.
#[test]
fn starts_with_regex_hex() {
    let r = responder(vec![rule(MatchKind::StartsWith, "AT+", "OK")]);
    assert_eq!(sent(&r.respond(Some(1), b"AT+GMR\r\n")), [b"OK".to_vec()]);
    assert!(r.respond(Some(1), b"XAT+").is_empty());

    let mut re = rule(MatchKind::Regex, r"^温度=\d+$", "ack");
    re.encoding = TextEncoding::Gbk;
    let r = responder(vec![re]);
    let gbk = encode(TextEncoding::Gbk, "温度=42").unwrap();
    assert_eq!(sent(&r.respond(Some(1), &gbk[..3])), Vec::<Vec<u8>>::new());
    assert_eq!(sent(&r.respond(Some(1), &gbk[3..])), [b"ack".to_vec()]);
    assert!(r.respond(Some(2), b"temp=42").is_empty());

    let r = responder(vec![rule(MatchKind::HexPattern, "01 03 ?? ??", "frame")]);
    assert_eq!(
        sent(&r.respond(Some(1), &[1, 3, 9, 9, 1, 3, 0])),
        [b"frame".to_vec()]
    );
    assert_eq!(sent(&r.respond(Some(1), &[0])), [b"frame".to_vec()]);
    assert!(r.respond(Some(1), &[1, 4, 0, 0]).is_empty());
}

/// Close rules end processing; echo runs regardless of rules.
#[test]
fn close_and_echo() {
    let r = AutoResponder::new(&AutoReplyConfig {
        echo: true,
        ..Preset::CloseOnExit.config()
    })
    .unwrap();
    let a = r.respond(Some(1), b"exit");
    assert_eq!(
        a,
        [
            Action::Send {
                bytes: b"exit".to_vec(),
                delay: Duration::ZERO
            },
            Action::Close {
                delay: Duration::ZERO
            }
        ]
    );
    let a = r.respond(Some(2), b"hi");
    assert_eq!(
        sent(&a),
        [
            b"hi".to_vec(),
            encode(TextEncoding::Gbk, "收到请求").unwrap()
        ]
    );
}

/// UDP datagrams are matched alone; disabled rules are skipped.
#[test]
fn udp_and_disabled() {
    let mut off = rule(MatchKind::Any, "", "never");
    off.enabled = false;
    let r = responder(vec![off, rule(MatchKind::Exact, "exit", "bye")]);
    assert!(r.respond(None, b"ex").is_empty());
    assert!(r.respond(None, b"it").is_empty());
    assert_eq!(sent(&r.respond(None, b"exit")), [b"bye".to_vec()]);
}

/// Bad patterns and replies name the rule.
#[test]
fn rule_errors_name_the_rule() {
    let bad = |r: Rule| {
        AutoResponder::new(&AutoReplyConfig {
            rules: vec![Rule::default(), r],
            ..AutoReplyConfig::default()
        })
        .unwrap_err()
        .to_string()
    };
    let e = bad(rule(MatchKind::Regex, "(", "x"));
    assert!(
        e.starts_with("rule 2 (\"Regex\"): bad regular expression"),
        "{e}"
    );
    let e = bad(rule(MatchKind::HexPattern, "01 ?3", "x"));
    assert!(e.contains("two question marks"), "{e}");
    let e = bad(rule(MatchKind::Exact, "", "x"));
    assert!(e.contains("empty"), "{e}");
    let e = bad(rule(MatchKind::Any, "", "{what}"));
    assert!(e.contains("reply: unknown variable {what}"), "{e}");
    assert_eq!(
        parse_hex_pattern("0x01,0x03 ????").unwrap(),
        [Some(1), Some(3), None, None]
    );
}

/// Editing keeps a rule's hit count when its kind and pattern stay.
#[test]
fn set_config_keeps_hits() {
    let mut config = AutoReplyConfig {
        rules: vec![
            rule(MatchKind::Exact, "a", "1"),
            rule(MatchKind::Exact, "b", "2"),
        ],
        ..AutoReplyConfig::default()
    };
    let r = AutoResponder::new(&config).unwrap();
    r.respond(Some(1), b"a");
    r.respond(Some(1), b"b");
    config.rules[0].reply = SendSpec::text("changed", TextEncoding::Utf8);
    config.rules[1].pattern = "c".into();
    r.set_config(&config).unwrap();
    assert_eq!(r.hits(), [1, 0]);
}
