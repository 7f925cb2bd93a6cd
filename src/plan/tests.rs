use std::path::Path;
use std::time::Duration;

use super::*;
use crate::codec::checksum::Checksum;
use crate::codec::framing::FrameMode;
use crate::codec::text::TextEncoding;

const GOOD: &str = r#"
version = 1
name = "seed 003"
encoding = "gbk"
timeout_ms = 500

[target]
connect = "127.0.0.1:7890"

[[steps]]
send = "ping {counter}"

[[steps]]
expect = { exact = "收到请求" }
timeout_ms = 200

[[steps]]
repeat = 3
steps = [
  { send = { text = "01 03 00 00 00 0A", hex = true, checksum = "crc16modbus" } },
  { expect = { hex = "01 03 ?? ??" } },
]

[[steps]]
send = "exit"

[[steps]]
expect_closed = true
"#;

fn bad(text: &str, name: &str) -> PlanError {
    match parse_plan(text, Path::new(name)) {
        Ok(_) => panic!("{name} parsed:\n{text}"),
        Err(e) => e,
    }
}

/// A complete TOML plan reads into typed steps, with the plan's encoding applied to
/// text and the nested steps of a repeat.
#[test]
fn good_plan() {
    let plan = parse_plan(GOOD, Path::new("p.toml")).unwrap();
    assert_eq!(plan.name, "seed 003");
    assert_eq!(plan.encoding, TextEncoding::Gbk);
    assert_eq!(plan.timeout, Duration::from_millis(500));
    assert_eq!(
        plan.target,
        Target::Connect {
            host: "127.0.0.1".into(),
            port: 7890,
            timeout: DEFAULT_TARGET_TIMEOUT
        }
    );
    assert_eq!(plan.steps.len(), 5);
    let StepAction::Expect(expect) = &plan.steps[1].action else {
        panic!("expect");
    };
    let (gbk, _, _) = encoding_rs::GBK.encode("收到请求");
    assert!(matches!(&expect.pattern, Pattern::Exact(b) if b[..] == gbk[..]));
    assert_eq!(plan.steps[1].timeout, Some(Duration::from_millis(200)));
    let StepAction::Repeat { times, steps } = &plan.steps[2].action else {
        panic!("repeat");
    };
    assert_eq!(*times, 3);
    let StepAction::Send(send) = &steps[0].action else {
        panic!("send");
    };
    assert_eq!(send.spec.checksum, Checksum::Crc16Modbus);
    assert_eq!(
        send.template.render(1),
        [0x01, 0x03, 0x00, 0x00, 0x00, 0x0A, 0xC5, 0xCD]
    );
    assert!(matches!(plan.steps[4].action, StepAction::ExpectClosed));
}

/// The same plan in JSON reads the same; framing applies to expects by default.
#[test]
fn json_plan_with_framing() {
    let text = r#"{
  "version": 1,
  "target": { "udp": "127.0.0.1:0", "peer": "127.0.0.1:9" },
  "framing": { "delimiter": "\\r\\n" },
  "steps": [
    { "send": "hi\\r\\n" },
    { "expect": { "contains": "ok" }, "timeout_ms": 50 }
  ]
}"#;
    let plan = parse_plan(text, Path::new("p.json")).unwrap();
    assert_eq!(plan.name, "p");
    assert_eq!(plan.framing, Some(FrameMode::Delimiter(b"\r\n".to_vec())));
    let StepAction::Expect(expect) = &plan.steps[1].action else {
        panic!("expect");
    };
    assert!(expect.frame);
    assert!(plan.target.is_udp());
}

/// Bad plans name the line and the field, in TOML and in JSON.
#[test]
fn errors_name_line_and_field() {
    let e = bad(&GOOD.replace("version = 1", "version = 2"), "v.toml");
    assert_eq!(e.line, Some(2), "{e}");
    assert!(e.message.contains("version: 2 is not supported"), "{e}");

    let e = bad(&GOOD.replace("{ exact =", "{ exakt ="), "f.toml");
    assert_eq!(e.line, Some(14), "{e}");
    assert!(e.message.contains("exakt"), "{e}");

    let e = bad(&GOOD.replace("ping {counter}", "ping {count}"), "t.toml");
    assert_eq!(e.line, Some(11), "{e}");
    assert!(e.message.contains("unknown variable {count}"), "{e}");

    let e = bad(&GOOD.replace("01 03 ?? ??", "01 03 ?x"), "h.toml");
    assert_eq!(e.line, Some(21), "{e}");
    assert!(e.message.contains("expect.hex"), "{e}");

    let e = bad(
        &GOOD.replace("encoding = \"gbk\"", "encoding = \"klingon\""),
        "e.toml",
    );
    assert_eq!(e.line, Some(4), "{e}");
    assert!(e.message.contains("klingon"), "{e}");

    let e = bad(
        &GOOD.replace("send = \"exit\"", "send = \"exit\"\nclose = true"),
        "two.toml",
    );
    assert!(e.message.contains("send and close"), "{e}");
    assert!(e.line.is_some(), "{e}");

    let e = bad(&GOOD.replace("connect = ", "connekt = "), "target.toml");
    assert_eq!(e.line, Some(8), "{e}");

    let e = bad(
        "version = 1\n[target]\nconnect = \"h:1\"\n[[steps]]\nsend = \"x\"\n[[steps]\n",
        "syntax.toml",
    );
    assert_eq!(e.line, Some(6), "{e}");

    let json = "{\n  \"version\": 1,\n  \"target\": { \"connect\": \"h:1\" },\n  \"steps\": [\n    { \"expect\": { \"regex\": \"(\" } }\n  ]\n}";
    let e = bad(json, "r.json");
    assert_eq!(e.line, Some(5), "{e}");
    assert!(e.message.contains("expect.regex"), "{e}");
    assert!(
        e.to_string().starts_with("bad plan r.json, line 5, column"),
        "{e}"
    );

    let e = bad(
        &GOOD.replace(
            "{ exact = \"收到请求\" }",
            "{ exact = \"x\", frame = true }",
        ),
        "frame.toml",
    );
    assert!(e.message.contains("[framing]"), "{e}");
}

/// Rules load from a plan's `[auto_reply]` or from a bare rules file; a bad rule is
/// named.
#[test]
fn rules_files() {
    let dir = tempfile::tempdir().unwrap();
    let plan_path = dir.path().join("plan.toml");
    let rules = crate::automation::Preset::CloseOnExit.config();
    let text = skeleton(
        &crate::automation::QuickCommands::default(),
        &rules,
        "127.0.0.1:1",
    );
    std::fs::write(&plan_path, text).unwrap();
    assert_eq!(load_rules(&plan_path).unwrap(), rules);
    let bare = dir.path().join("rules.json");
    std::fs::write(
        &bare,
        r#"{"version": 1, "echo": true, "rules": [{"kind": "Regex", "pattern": "("}]}"#,
    )
    .unwrap();
    let e = load_rules(&bare).unwrap_err();
    assert!(e.message.contains("rule 1"), "{e}");
    std::fs::write(&bare, r#"{"version": 1, "echo": true}"#).unwrap();
    assert!(load_rules(&bare).unwrap().echo);
    std::fs::write(&bare, r#"{"version": 1}"#).unwrap();
    assert!(
        load_rules(&bare)
            .unwrap_err()
            .message
            .contains("no auto-reply rules")
    );
}
