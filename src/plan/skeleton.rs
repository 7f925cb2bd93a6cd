//! A plan skeleton from what the user built in the window: each auto-reply rule becomes a
//! send that should trigger it and an expect of its answer, each quick command a send
//! (its expect is left for the user to fill in), and the rules themselves go into
//! `[auto_reply]`, so `sockscope --headless server ADDR --rules PLAN` plays the device.

use std::fmt::Write as _;

use crate::automation::{AutoReplyConfig, MatchKind, QuickCommands, Rule, RuleAction, SendSpec};
use crate::codec::checksum::Checksum;
use crate::codec::escape::LineEnding;
use crate::codec::hex;

/// A TOML string (basic string, escaped).
pub fn toml_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A send spec as an inline TOML table with every field.
fn spec_table(spec: &SendSpec) -> String {
    format!(
        "{{ text = {}, hex = {}, encoding = {}, escapes = {}, line_ending = {}, checksum = {} }}",
        toml_str(&spec.text),
        spec.hex,
        toml_str(spec.encoding.name()),
        spec.escapes,
        toml_str(spec.line_ending.name()),
        toml_str(spec.checksum.name())
    )
}

/// The bytes or text that should make `rule` fire, as a send table; None for a regex.
fn trigger(rule: &Rule) -> Option<String> {
    let spec = match rule.kind {
        MatchKind::Any => SendSpec::text("ping", rule.encoding),
        MatchKind::Exact | MatchKind::StartsWith | MatchKind::Contains => {
            if rule.pattern_hex {
                SendSpec::hex(rule.pattern.clone())
            } else {
                SendSpec::text(rule.pattern.clone(), rule.encoding)
            }
        }
        MatchKind::HexPattern => SendSpec::hex(rule.pattern.replace("??", "00")),
        MatchKind::Regex => return None,
    };
    Some(spec_table(&spec))
}

/// The expect of a rule's reply; None when the reply changes between sends.
fn reply_expect(reply: &SendSpec) -> Option<String> {
    if reply.text.contains('{') {
        return None;
    }
    if !reply.hex && reply.checksum == Checksum::None {
        let mut text = if reply.escapes {
            reply.text.clone()
        } else {
            reply.text.replace('\\', "\\\\")
        };
        text.push_str(match reply.line_ending {
            LineEnding::None => "",
            LineEnding::Cr => "\\r",
            LineEnding::Lf => "\\n",
            LineEnding::CrLf => "\\r\\n",
        });
        if text.is_empty() {
            return None;
        }
        return Some(format!(
            "{{ exact = {}, encoding = {} }}",
            toml_str(&text),
            toml_str(reply.encoding.name())
        ));
    }
    let bytes = reply.compile().ok()?.render(1);
    (!bytes.is_empty()).then(|| format!("{{ hex = {} }}", toml_str(&hex::to_spaced(&bytes))))
}

/// The plan skeleton (TOML) for `commands` and `rules`, talking to `target`
/// (`HOST:PORT`).
pub fn skeleton(commands: &QuickCommands, rules: &AutoReplyConfig, target: &str) -> String {
    let mut out = String::new();
    out.push_str(
        "# Sockscope test plan exported from the window: for each auto-reply rule a send that\n\
         # should trigger it and an expect of its answer; each quick command as a send whose\n\
         # expect is yours to fill in. Run the device side with\n\
         #   sockscope --headless server 127.0.0.1:8080 --rules THIS_FILE\n\
         # and the test with\n\
         #   sockscope test THIS_FILE --target HOST:PORT\n",
    );
    out.push_str("version = 1\nname = \"exported from the window\"\ntimeout_ms = 1000\n\n");
    let _ = writeln!(out, "[target]\nconnect = {}\n", toml_str(target));
    let mut steps = 0;
    if rules.echo {
        out.push_str(
            "# Echo is on: the device sends each message back before any rule's reply.\n\n",
        );
    }
    let enabled: Vec<&Rule> = rules.rules.iter().filter(|r| r.enabled).collect();
    for (i, rule) in enabled.iter().enumerate() {
        let label = if rule.name.is_empty() {
            format!("rule {}", i + 1)
        } else {
            rule.name.clone()
        };
        let _ = writeln!(
            out,
            "# rule {} {}: {:?} {} → {:?}",
            i + 1,
            toml_str(&label),
            rule.kind,
            toml_str(&rule.pattern),
            rule.action
        );
        let Some(send) = trigger(rule) else {
            out.push_str("# TODO: a regex rule: write a send that matches it, and its expect.\n\n");
            continue;
        };
        let _ = writeln!(
            out,
            "[[steps]]\nname = {}\nsend = {send}\n",
            toml_str(&label)
        );
        steps += 1;
        let timeout = rule.delay_ms.saturating_add(1000);
        if matches!(rule.action, RuleAction::Reply | RuleAction::ReplyThenClose) {
            match reply_expect(&rule.reply) {
                Some(expect) => {
                    let _ = writeln!(
                        out,
                        "[[steps]]\nexpect = {expect}\ntimeout_ms = {timeout}\n"
                    );
                    steps += 1;
                }
                None => out.push_str(
                    "# TODO: the reply changes between sends ({counter}, {time}, …): expect a part of it.\n\n",
                ),
            }
        }
        if matches!(rule.action, RuleAction::Close | RuleAction::ReplyThenClose) {
            let _ = writeln!(
                out,
                "[[steps]]\nexpect_closed = true\ntimeout_ms = {timeout}\n\n[[steps]]\nreconnect = true\n"
            );
            steps += 2;
        }
    }
    for command in &commands.commands {
        let _ = writeln!(
            out,
            "# quick command {}\n[[steps]]\nname = {}\nsend = {}\n# [[steps]]\n# expect = {{ contains = \"TODO\" }}\n",
            toml_str(&command.name),
            toml_str(&command.name),
            spec_table(&command.send)
        );
        steps += 1;
    }
    if steps == 0 {
        out.push_str(
            "[[steps]]\nsend = \"hello\"\n\n[[steps]]\nexpect = { contains = \"TODO\" }\n\n",
        );
    }
    let _ = writeln!(
        out,
        "# The device side, as the window's auto-reply tab had it.\n[auto_reply]\necho = {}\nwindow_ms = {}\nrules = [",
        rules.echo, rules.window_ms
    );
    for rule in &rules.rules {
        let _ = writeln!(
            out,
            "  {{ name = {}, enabled = {}, kind = {}, pattern = {}, pattern_hex = {}, encoding = {}, action = {}, delay_ms = {}, reply = {} }},",
            toml_str(&rule.name),
            rule.enabled,
            toml_str(&format!("{:?}", rule.kind)),
            toml_str(&rule.pattern),
            rule.pattern_hex,
            toml_str(rule.encoding.name()),
            toml_str(&format!("{:?}", rule.action)),
            rule.delay_ms,
            spec_table(&rule.reply)
        );
    }
    out.push_str("]\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::automation::{Preset, QuickCommand};
    use crate::codec::text::TextEncoding;
    use crate::plan::model::{StepAction, parse_plan};
    use std::path::Path;

    /// The skeleton of the seed presets and two quick commands is a valid plan whose
    /// steps trigger each rule and whose `[auto_reply]` is the rules themselves.
    #[test]
    fn skeleton_is_a_valid_plan() {
        let mut commands = QuickCommands::default();
        let mut modbus = SendSpec::hex("01 03 00 00 00 0A");
        modbus.checksum = Checksum::Crc16Modbus;
        commands.add(QuickCommand::new("read \"regs\"", modbus));
        commands.add(QuickCommand::new(
            "hello",
            SendSpec::text("你好\\r\\n", TextEncoding::Gbk),
        ));
        let rules = Preset::CloseOnExit.config();
        let text = skeleton(&commands, &rules, "127.0.0.1:8989");
        let plan =
            parse_plan(&text, Path::new("skeleton.toml")).unwrap_or_else(|e| panic!("{e}\n{text}"));
        let kinds: Vec<&str> = plan.steps.iter().map(|s| s.action.kind()).collect();
        assert_eq!(
            kinds,
            [
                "send",
                "expect_closed",
                "reconnect",
                "send",
                "expect",
                "send",
                "send"
            ],
            "{text}"
        );
        assert_eq!(plan.auto_reply, Some(rules));
        let StepAction::Send(send) = &plan.steps[5].action else {
            panic!("a send");
        };
        assert_eq!(send.spec.checksum, Checksum::Crc16Modbus);
    }
}
