//! Engine errors and close reasons in the UI language. The engine speaks English (its
//! `Display`); the window says the same things in 简体中文 when that is the language.

use crate::automation::{AutomationError, ImportError, RuleError, StopReason, TemplateError};
use crate::engine::tls::{shown_bytes, utc_text};
use crate::engine::{CloseReason, EngineError, Notice};
use crate::session::recorder::RecorderError;

use crate::codec::hex::HexError;
use crate::lang::Lang;

/// The error in the UI language.
pub fn error_text(lang: Lang, error: &EngineError) -> String {
    if lang == Lang::En {
        return error.to_string();
    }
    match error {
        EngineError::InvalidPort { input } => format!("端口 {input:?} 不是 0 到 65535 之间的数字"),
        EngineError::InvalidAddress { input } => {
            format!("{input:?} 不是 主机:端口 格式（IPv6 地址请加方括号，如 [::1]:8080）")
        }
        EngineError::Resolve { host, cause } => format!("无法解析主机 {host:?}：{cause}"),
        EngineError::Refused { addr } => format!("{addr} 拒绝连接（该端口没有程序在监听）"),
        EngineError::TimedOut { addr, after } => {
            format!("连接 {addr} 超时（{} 毫秒内无应答）", after.as_millis())
        }
        EngineError::AddrInUse { addr } => {
            format!("地址 {addr} 已被占用（已有其他程序在该端口监听）")
        }
        EngineError::PermissionDenied { addr }
            if crate::engine::port_needs_privilege(addr.port()) =>
        {
            format!("无权限使用 {addr}（1024 以下的端口需要 root 权限）")
        }
        EngineError::PermissionDenied { addr } if cfg!(windows) => format!(
            "系统拒绝访问 {addr}（Windows 保留了部分端口范围，见 `netsh interface ipv4 show excludedportrange protocol=tcp`，或该端口已被其他程序独占）"
        ),
        EngineError::PermissionDenied { addr } => format!("系统拒绝访问 {addr}"),
        EngineError::AddrNotAvailable { addr } => format!("{addr} 不是本机的地址"),
        EngineError::NotConnected => "未连接：不能在已关闭的连接上发送".to_string(),
        EngineError::UnknownConn { conn } => format!("连接 #{conn} 不存在（可能已关闭）"),
        EngineError::NoPeer => "没有 UDP 目标：请填写默认目标，或等对端先发来数据".to_string(),
        EngineError::QueueFull { .. } => "发送队列已满：对端没有在读取数据".to_string(),
        EngineError::SendBudget { limit, queued } => format!(
            "发送被拒绝：所有会话合计已有 {} MiB 等待发送（上限 {} MiB）；请等对端读取，或断开慢的连接",
            queued >> 20,
            limit >> 20
        ),
        EngineError::ReplyDelay { delay, max } => format!(
            "自动回复延时 {} 毫秒超过上限 {} 秒，未安排该动作",
            delay.as_millis(),
            max.as_secs()
        ),
        EngineError::TimerFull { limit } => {
            format!("已有 {limit} 个延时自动回复在等待，未安排这一个")
        }
        EngineError::Io { context, cause } => format!("{context} 时出错：{cause}"),
        EngineError::NotMulticast { input } => format!(
            "{input:?} 不是组播地址（IPv4 为 224.0.0.0 至 239.255.255.255，IPv6 为 ff00::/8）"
        ),
        EngineError::NoSuchInterface { interface } => {
            format!("没有名为 {interface:?} 或带有该地址的网卡")
        }
        EngineError::InterfaceFamily { interface, family } => {
            format!("网卡 {interface:?} 没有 {family} 地址")
        }
        EngineError::GroupFamily { group, local } => format!(
            "无法在绑定到 {local} 的套接字上加入 {group}：组播组与套接字的 IP 版本不同（绑定 :: 可同时使用两者）"
        ),
        EngineError::JoinRefused {
            group,
            interface,
            cause,
        } => {
            if interface.is_empty() {
                format!("系统拒绝加入 {group}：{cause}")
            } else {
                format!("系统拒绝在 {interface:?} 上加入 {group}：{cause}")
            }
        }
        EngineError::SourceSpecificUnsupported { group } => {
            format!("指定源加入 {group}：此操作系统不支持该 IP 版本的指定源组播")
        }
        EngineError::TlsPem { path, key, cause } => format!(
            "无法使用 TLS {}文件 {}：{cause}",
            if *key { "私钥" } else { "证书" },
            path.display()
        ),
        EngineError::TlsSetup { cause } => format!("无法建立 TLS 设置：{cause}"),
        EngineError::TlsServerName { name } => {
            format!("{name:?} 不能作为 TLS 服务器名（SNI）：请填写域名或 IP 地址")
        }
        EngineError::TlsFingerprint { input } => {
            format!("{input:?} 不是 SHA-256 指纹（64 个十六进制数字，可带冒号）")
        }
        EngineError::TlsUnknownIssuer { server } => format!(
            "{server} 的证书不受信任：其签发者不在本机信任的根证书中（自签名或私有 CA 证书）；可固定其指纹，或打开“接受任何证书”继续"
        ),
        EngineError::TlsCaAsServer { server } => format!(
            "{server} 的证书不受信任：它是 CA 证书（CA:TRUE，`openssl req -x509` 默认如此），却被用作服务器证书；可固定其指纹、打开“接受任何证书”，或用 -addext basicConstraints=critical,CA:FALSE 重新生成"
        ),
        EngineError::TlsExpired {
            server,
            not_after,
            now,
        } => {
            let mut s = format!("{server} 的证书已过期");
            if let Some(t) = not_after {
                s.push_str(&format!("：有效期至 {}", utc_text(*t)));
            }
            if let Some(t) = now {
                s.push_str(&format!("，检查时间 {}", utc_text(*t)));
            }
            s
        }
        EngineError::TlsNotYetValid {
            server,
            not_before,
            now,
        } => {
            let mut s = format!("{server} 的证书尚未生效");
            if let Some(t) = not_before {
                s.push_str(&format!("：生效时间 {}", utc_text(*t)));
            }
            if let Some(t) = now {
                s.push_str(&format!("，检查时间 {}（时钟是否有误？）", utc_text(*t)));
            }
            s
        }
        EngineError::TlsNameMismatch { asked, presented } => {
            let mut s = format!("服务器证书不适用于 {asked:?}");
            if !presented.is_empty() {
                s.push_str(&format!("：它适用于 {}", presented.join("、")));
            }
            s.push_str("（请把服务器名 SNI 设为其中之一）");
            s
        }
        EngineError::TlsPinMismatch {
            expected,
            presented,
        } => format!(
            "服务器证书不是固定的那一张：其 SHA-256 指纹为 {presented}，固定的指纹为 {expected}"
        ),
        EngineError::TlsBadCertificate { server, cause } => {
            format!("{server} 的证书被拒绝：{cause}")
        }
        EngineError::TlsProtocolMismatch { ours } => {
            format!("TLS 版本不匹配：对端不接受我方提供的任何版本（{ours}）")
        }
        EngineError::TlsNoAlpn { ours } => {
            if ours.is_empty() {
                "没有共同的应用层协议（ALPN）：对端要求 ALPN，而我方未提供".to_string()
            } else {
                format!(
                    "没有共同的应用层协议（ALPN）：对端不接受 {} 中的任何一个",
                    ours.join(", ")
                )
            }
        }
        EngineError::TlsAlert { alert } => match alert_meaning_zh(alert) {
            Some(meaning) => format!("对端以告警 {alert} 结束了 TLS 握手：{meaning}"),
            None => format!("对端以告警 {alert} 结束了 TLS 握手"),
        },
        EngineError::TlsNotTls { first_bytes } => {
            if first_bytes.is_empty() {
                "对端不使用 TLS".to_string()
            } else {
                format!(
                    "对端不使用 TLS：它发来 \"{}\"（明文？）",
                    shown_bytes(first_bytes)
                )
            }
        }
        EngineError::TlsClosed => {
            "对端在 TLS 握手期间关闭了连接（它可能不使用 TLS，或拒绝了我方的设置）".to_string()
        }
        EngineError::TlsTimeout { after } => format!(
            "TLS 握手未在 {} 秒内完成（对端没有应答：这是 TLS 端口吗？）",
            after.as_secs_f32()
        ),
        EngineError::TlsHandshake { cause } => format!("TLS 握手失败：{cause}"),
        EngineError::WorkerPanic { worker, message } => {
            format!("工作线程 {worker} 出现内部错误（已捕获）：{message}")
        }
    }
}

/// What a TLS alert from the peer means, in Chinese (the twin of
/// [`crate::engine::tls::alert_meaning`]).
fn alert_meaning_zh(alert: &str) -> Option<&'static str> {
    Some(match alert {
        "UnknownCA" => "它不信任我方证书的签发者",
        "BadCertificate" => "它拒绝了我方证书（名称不符，或不信任）",
        "CertificateExpired" => "它认为我方证书已过期",
        "CertificateUnknown" | "UnsupportedCertificate" => "它拒绝了我方证书",
        "HandshakeFailure" => "没有共同的加密套件或密钥交换算法",
        "ProtocolVersion" => "没有共同的 TLS 版本",
        "NoApplicationProtocol" => "没有共同的 ALPN 协议",
        "DecryptError" | "BadRecordMac" => "密码学校验失败",
        "UnrecognisedName" => "它不提供我方请求的服务器名（SNI）",
        "CertificateRequired" => "它要求客户端证书",
        "InternalError" => "它内部出错",
        "AccessDenied" => "它拒绝访问",
        "IllegalParameter" | "DecodeError" => "它无法理解我方的握手消息",
        _ => return None,
    })
}

/// A session status line ([`Notice`]) in the UI language.
pub fn notice_text(lang: Lang, notice: &Notice) -> String {
    if lang == Lang::En {
        return notice.to_string();
    }
    match notice {
        Notice::RecvBuffer { requested, granted } => {
            format!("UDP 接收缓冲：请求 {requested} 字节，系统实际给了 {granted} 字节")
        }
        Notice::NotRecorded { datagrams, bytes } => {
            format!("{datagrams} 个数据报未写入日志（{bytes} 字节）：记录器跟不上")
        }
        Notice::RepliesLimited {
            peer,
            skipped,
            per_second,
        } => format!("跳过了发往 {peer} 的 {skipped} 条自动回复：每个对端每秒最多 {per_second} 条"),
        Notice::AmplificationBlocked {
            peer,
            request,
            reply,
            factor,
        } => format!(
            "未向 {peer} 发送自动回复：{reply} 字节的回复对应 {request} 字节的请求（超过 {factor} 倍；需允许放大才会发送）"
        ),
        Notice::SelfReplyBlocked { peer } => {
            format!("未向 {peer} 发送自动回复：那是本机自己的地址")
        }
        Notice::AcceptRecovered { local } => format!("{local} 已恢复接受客户端连接"),
        Notice::UnsentDiscarded { bytes } => format!("停止时丢弃了 {bytes} 字节未发送的数据"),
        Notice::GroupJoined { group } => format!("已加入 {}", group_words_zh(group)),
        Notice::GroupLeft { group } => format!("已退出 {}", group_words_zh(group)),
        Notice::MulticastSending {
            ttl,
            loopback,
            interface,
        } => {
            let mut text = "组播发送".to_string();
            if let Some(ttl) = ttl {
                text.push_str(&format!("：TTL {ttl}"));
            }
            match loopback {
                Some(true) => text.push_str("，本机回环接收"),
                Some(false) => text.push_str("，本机不回环接收"),
                None => {}
            }
            if interface.is_empty() {
                text.push_str("，经系统默认网卡");
            } else {
                text.push_str(&format!("，经 {interface}"));
            }
            text
        }
        Notice::Reconnecting { attempt, delay } => format!(
            "{} 后重新连接（第 {attempt} 次尝试）",
            crate::engine::seconds(*delay)
                .replace(" s", " 秒")
                .replace(" ms", " 毫秒")
        ),
        Notice::TlsHandshake { peer, info, .. } => {
            format!("与 {peer} 的 TLS：{}", handshake_words_zh(lang, info))
        }
        Notice::TlsIdentity {
            certificate,
            self_signed,
        } => {
            let made = if *self_signed {
                "本次会话生成的自签名证书"
            } else {
                "证书"
            };
            format!("TLS {made}：{}", certificate_words_zh(certificate))
        }
        Notice::TlsNoCloseNotify { peer, .. } => {
            format!("{peer} 未发送 TLS close_notify 就关闭了 TCP（最后的数据可能不完整）")
        }
        Notice::AutoReplyPaused { peer, echoes } => format!(
            "自动回复已暂停：与 {peer} 形成回复循环（我方的回复有 {echoes} 次被原样发回）；重新打开自动回复即可恢复"
        ),
    }
}

/// A TLS handshake in Chinese (see `engine::handshake_words` for the English).
fn handshake_words_zh(lang: Lang, info: &crate::engine::tls::HandshakeInfo) -> String {
    use crate::engine::tls::PeerTrust;
    let mut s = format!("{}，{}", info.protocol, info.cipher_suite);
    if let Some(group) = &info.key_exchange {
        s.push_str(&format!("，{group}"));
    }
    match &info.alpn {
        Some(alpn) => s.push_str(&format!("，ALPN {alpn}")),
        None => s.push_str("，无 ALPN"),
    }
    match &info.sni {
        Some(sni) => s.push_str(&format!("，SNI {sni}")),
        None => s.push_str("，无 SNI"),
    }
    if let Some(cert) = &info.peer {
        s.push_str(&format!("；证书：{}", certificate_words_zh(cert)));
    }
    let trust = match &info.trust {
        PeerTrust::SystemRoots => "已用系统根证书验证".to_string(),
        PeerTrust::Pinned => "与固定的指纹一致".to_string(),
        PeerTrust::AcceptedAny { problem: None } => {
            "已开启“接受任何证书”（严格检查也会通过）".to_string()
        }
        PeerTrust::AcceptedAny { problem: Some(p) } => {
            format!(
                "已开启“接受任何证书”（严格检查的结论：{}）",
                error_text(lang, p)
            )
        }
        PeerTrust::NotAsked => "未要求客户端证书".to_string(),
    };
    s.push_str(&format!("；信任：{trust}"));
    s
}

/// A certificate in Chinese: subject, issuer, validity, names, SHA-256.
fn certificate_words_zh(cert: &crate::engine::tls::CertSummary) -> String {
    use crate::engine::tls::utc_text;
    let mut s = format!("主体 {}", cert.subject);
    if cert.issuer == cert.subject {
        s.push_str("（自签名）");
    } else {
        s.push_str(&format!("，颁发者 {}", cert.issuer));
    }
    s.push_str(&format!(
        "，有效期 {} 至 {}",
        utc_text(cert.not_before),
        utc_text(cert.not_after)
    ));
    if !cert.names.is_empty() {
        s.push_str(&format!("，名称 {}", cert.names.join(" ")));
    }
    s.push_str(&format!("，SHA-256 {}", cert.sha256));
    s
}

/// "239.1.2.3（网卡 eth0，源 10.0.0.5）".
fn group_words_zh(group: &crate::engine::GroupSpec) -> String {
    let interface = if group.interface.is_empty() {
        "系统默认网卡".to_string()
    } else {
        format!("网卡 {}", group.interface)
    };
    match group.source {
        Some(source) => format!("{}（{interface}，源 {source}）", group.group),
        None => format!("{}（{interface}）", group.group),
    }
}

/// The words of a close in the UI language, with the queued bytes a forced close threw
/// away when there were any.
pub fn close_text(lang: Lang, reason: &CloseReason, discarded: u64) -> String {
    let reason = close_reason_text(lang, reason);
    match (discarded, lang) {
        (0, _) => reason,
        (n, Lang::En) => format!("{reason}; {n} queued bytes discarded unsent"),
        (n, Lang::Zh) => format!("{reason}；{n} 字节排队数据未发送即被丢弃"),
    }
}

/// Why a connection ended, in the UI language.
pub fn close_reason_text(lang: Lang, reason: &CloseReason) -> String {
    if lang == Lang::En {
        return reason.to_string();
    }
    match reason {
        CloseReason::PeerClosed => "对端关闭了连接".to_string(),
        CloseReason::Reset => "连接被对端重置".to_string(),
        CloseReason::LocalDisconnect => "已断开".to_string(),
        CloseReason::Kicked => "已被踢出".to_string(),
        CloseReason::ServerStopped => "服务器已停止".to_string(),
        CloseReason::Tls => "TLS 失败".to_string(),
        CloseReason::Error(message) => format!("错误：{message}"),
    }
}

/// A template error in the UI language.
pub fn template_error_text(lang: Lang, error: &TemplateError) -> String {
    if lang == Lang::En {
        return error.to_string();
    }
    match error {
        TemplateError::UnknownVariable { name, position } => format!(
            "第 {position} 个字符处的变量 {{{name}}} 未知（可用：counter、time、rand:N、len；花括号本身请写 {{{{）"
        ),
        TemplateError::BadArgument {
            variable,
            position,
            expected,
        } => format!("第 {position} 个字符处的变量 {{{variable}}} 参数有误：应为 {expected}"),
        TemplateError::Unclosed { position } => {
            format!("第 {position} 个字符处的 {{ 没有闭合（花括号本身请写 {{{{）")
        }
        TemplateError::StrayBrace { position } => {
            format!("第 {position} 个字符处的 }} 没有配对（花括号本身请写 }}}}）")
        }
        TemplateError::Hex { position, message } | TemplateError::Text { position, message } => {
            format!("第 {position} 个字符：{message}")
        }
    }
}

/// An automation error (repeat, file send, quick commands, rules) in the UI language.
pub fn automation_error_text(lang: Lang, error: &AutomationError) -> String {
    match error {
        AutomationError::Template(e) => template_error_text(lang, e),
        AutomationError::Engine(e) => error_text(lang, e),
        _ if lang == Lang::En => error.to_string(),
        AutomationError::Io { context, cause } => format!("文件操作失败（{context}）：{cause}"),
        AutomationError::Invalid { message } => format!("设置有误：{message}"),
    }
}

/// Why typed hex cannot be read, in the UI language (the position is 1-based).
pub fn hex_error_text(lang: Lang, error: &HexError) -> String {
    if lang == Lang::En {
        return error.to_string();
    }
    match error.found {
        Some(ch) => format!("第 {} 个字符 {ch:?} 不是十六进制数字", error.position),
        None => format!(
            "十六进制数字个数为奇数：第 {} 个字符缺少配对",
            error.position
        ),
    }
}

/// Why a repeat or a file send stopped, in the UI language.
pub fn stop_reason_text(lang: Lang, reason: &StopReason) -> String {
    match (lang, reason) {
        (_, StopReason::Failed(e)) => {
            format!(
                "{}: {}",
                lang.texts().failed,
                automation_error_text(lang, e)
            )
        }
        (Lang::En, other) => other.to_string(),
        (Lang::Zh, StopReason::Finished) => "已完成".to_string(),
        (Lang::Zh, StopReason::Stopped) => "已停止".to_string(),
        (Lang::Zh, StopReason::ConnectionGone) => "连接已断开".to_string(),
        (Lang::Zh, StopReason::Stalled(d)) => {
            format!(
                "已停止：{} 秒内没有写出任何数据（对端不再读取）",
                d.as_secs()
            )
        }
    }
}

/// Why a rule cannot be used, in the UI language.
pub fn rule_error_text(lang: Lang, error: &RuleError) -> String {
    if lang == Lang::En {
        return error.to_string();
    }
    format!(
        "第 {} 条规则 {:?}：{}",
        error.index, error.name, error.message
    )
}

/// Why a quick-command file could not be imported, in the UI language.
pub fn import_error_text(lang: Lang, error: &ImportError) -> String {
    if lang == Lang::En {
        return error.to_string();
    }
    match error {
        ImportError::Json {
            message,
            line,
            column,
        } => format!("不是有效的 JSON（第 {line} 行第 {column} 列）：{message}"),
        ImportError::NotQuickCommands { found } => {
            format!("不是 Sockscope 快捷指令文件（format = {found:?}）")
        }
        ImportError::UnsupportedVersion { found } => {
            format!("文件版本 {found} 由更新的 Sockscope 写入，本版本无法读取")
        }
        ImportError::BadCommand { index, name, error } => format!(
            "第 {index} 条指令 {name:?} 有误：{}",
            template_error_text(lang, error)
        ),
        ImportError::Io { path, cause } => format!("无法读取 {path}：{cause}"),
    }
}

/// A recorder error in the UI language.
pub fn recorder_error_text(lang: Lang, error: &RecorderError) -> String {
    if lang == Lang::En {
        return error.to_string();
    }
    match error {
        RecorderError::Create { path, cause } => {
            format!("无法创建日志文件 {}：{cause}", path.display())
        }
        RecorderError::Write { path, cause } => {
            format!(
                "写入日志文件 {} 失败：{cause}（之前写入的内容已保留）",
                path.display()
            )
        }
        RecorderError::Spawn { cause } => format!("无法启动记录线程：{cause}"),
        RecorderError::Panic { message } => format!("记录线程出现内部错误（已捕获）：{message}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both languages name the address in use; English is the engine's own sentence.
    #[test]
    fn address_in_use_in_both_languages() {
        let error = EngineError::AddrInUse {
            addr: "127.0.0.1:8989".parse().unwrap(),
        };
        assert_eq!(error_text(Lang::En, &error), error.to_string());
        assert!(error_text(Lang::Zh, &error).contains("127.0.0.1:8989 已被占用"));
        assert_eq!(
            close_reason_text(Lang::Zh, &CloseReason::Kicked),
            "已被踢出"
        );
    }

    /// TLS failures read in Chinese with their facts (names, dates, bytes, alerts).
    #[test]
    fn tls_failures_in_chinese() {
        use std::time::{Duration, SystemTime};
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_577_836_800);
        let cases = [
            (
                EngineError::TlsUnknownIssuer {
                    server: "localhost".into(),
                },
                "localhost 的证书不受信任",
            ),
            (
                EngineError::TlsExpired {
                    server: "localhost".into(),
                    not_after: Some(t),
                    now: None,
                },
                "已过期：有效期至 2020-01-01 00:00:00 UTC",
            ),
            (
                EngineError::TlsNameMismatch {
                    asked: "wrong.example".into(),
                    presented: vec!["localhost".into()],
                },
                "不适用于 \"wrong.example\"：它适用于 localhost",
            ),
            (
                EngineError::TlsProtocolMismatch {
                    ours: "TLS 1.3 only".into(),
                },
                "TLS 版本不匹配",
            ),
            (
                EngineError::TlsAlert {
                    alert: "UnknownCA".into(),
                },
                "它不信任我方证书的签发者",
            ),
            (
                EngineError::TlsNotTls {
                    first_bytes: b"hello\n".to_vec(),
                },
                "对端不使用 TLS：它发来 \"hello\\n\"",
            ),
        ];
        for (error, words) in cases {
            let zh = error_text(Lang::Zh, &error);
            assert!(zh.contains(words), "{zh}");
            assert_ne!(zh, error.to_string());
        }
    }
}
