//! Command-line arguments: open a session directly, for shortcuts, scripts and smoke tests.
//!
//! Hand-written rather than clap: the grammar is small and the binary is already large.

use std::path::PathBuf;

use crate::codec::text::TextEncoding;
use crate::engine::parse_host_port;
use crate::session::recorder::LogFormat;
use crate::ui::{Lang, ViewMode};

/// The session to open at start-up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StartSession {
    /// `sockscope server HOST:PORT`
    Server {
        /// Bind address.
        host: String,
        /// Port (0 = any free port).
        port: u16,
    },
    /// `sockscope client HOST:PORT`
    Client {
        /// Server host.
        host: String,
        /// Server port.
        port: u16,
    },
    /// `sockscope udp HOST:PORT [--peer HOST:PORT]`
    Udp {
        /// Bind address.
        host: String,
        /// Bind port.
        port: u16,
        /// Default destination.
        peer: Option<String>,
    },
}

/// Everything the command line asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StartOptions {
    /// Session to open at once.
    pub start: Option<StartSession>,
    /// With no session given: open the default TCP server on a free port.
    pub auto_start: bool,
    /// Receive view encoding.
    pub encoding: Option<TextEncoding>,
    /// Receive view mode.
    pub view: Option<ViewMode>,
    /// UI language.
    pub lang: Option<Lang>,
    /// Save a PNG of the window after the delay, then exit.
    pub screenshot: Option<PathBuf>,
    /// Milliseconds to run before the screenshot.
    pub screenshot_delay_ms: u64,
    /// Open the GBK / UTF-8 compare pane.
    pub compare: bool,
    /// Print the time to the first drawn frame and exit (start-up benchmark).
    pub exit_after_first_frame: bool,
    /// Record the session to this file from the start.
    pub log: Option<PathBuf>,
    /// Format of `log` (otherwise taken from its extension).
    pub log_format: Option<LogFormat>,
    /// Read and write the stored settings.
    pub persist: bool,
}

impl Default for StartOptions {
    fn default() -> Self {
        StartOptions {
            start: None,
            auto_start: false,
            encoding: None,
            view: None,
            lang: None,
            screenshot: None,
            screenshot_delay_ms: 500,
            compare: false,
            exit_after_first_frame: false,
            log: None,
            log_format: None,
            persist: true,
        }
    }
}

/// What `parse_args` decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Parsed {
    /// Run the app.
    Run(StartOptions),
    /// Print this text and exit successfully (`--help`, `--version`).
    Print(String),
}

/// The `--help` text.
pub const USAGE: &str = "\
Sockscope — network debugging assistant (网络调试助手)

USAGE:
    sockscope [SESSION] [OPTIONS]

SESSION (opened at start-up):
    server HOST:PORT             TCP server, e.g. `server 0.0.0.0:8989` (port 0 = any free port)
    client HOST:PORT             TCP client, e.g. `client 127.0.0.1:8000`
    udp HOST:PORT                UDP socket, e.g. `udp 0.0.0.0:9000 --peer 127.0.0.1:9001`
    (none)                       a TCP server on 0.0.0.0 and a free port

OPTIONS:
    --peer HOST:PORT             UDP default destination
    --encoding NAME              receive view encoding: utf-8, gbk, gb18030, big5, shift_jis,
                                 euc-kr, utf-16le, utf-16be, windows-1252, ascii
    --view text|hex|both         receive view mode
    --lang en|zh                 UI language (default: the system's)
    --log PATH                   record the session to PATH from the start; the format follows
                                 the extension: .txt .hex .bin .csv .pcapng
    --log-format NAME            text, text-hex, hexdump, raw, csv or pcapng
    --screenshot PATH            run the session, save a PNG of the window to PATH, exit
    --screenshot-delay MS        milliseconds to run before the screenshot (default 500)
    --compare                    open the GBK / UTF-8 compare pane (newest received record)
    --no-persist                 neither read nor write stored settings
    --exit-after-first-frame     print the time to the first drawn frame, then exit
    -h, --help                   print this help
    -V, --version                print the version
";

/// Parses the arguments after the program name.
pub fn parse_args<I, S>(args: I) -> Result<Parsed, String>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let args: Vec<String> = args.into_iter().map(Into::into).collect();
    let mut options = StartOptions::default();
    let mut session: Option<(String, String)> = None;
    let mut peer: Option<String> = None;
    let mut i = 0;
    let value = |i: usize, flag: &str| -> Result<String, String> {
        args.get(i + 1)
            .cloned()
            .ok_or_else(|| format!("{flag} needs a value"))
    };
    while i < args.len() {
        let arg = args[i].as_str();
        match arg {
            "-h" | "--help" => return Ok(Parsed::Print(USAGE.to_string())),
            "-V" | "--version" => {
                return Ok(Parsed::Print(format!(
                    "sockscope {}\n",
                    env!("CARGO_PKG_VERSION")
                )));
            }
            "--no-persist" => options.persist = false,
            "--compare" => options.compare = true,
            "--exit-after-first-frame" => options.exit_after_first_frame = true,
            "--peer" => {
                let v = value(i, arg)?;
                parse_host_port(&v).map_err(|e| format!("--peer: {e}"))?;
                peer = Some(v);
                i += 1;
            }
            "--encoding" => {
                let v = value(i, arg)?;
                options.encoding = Some(
                    TextEncoding::from_name(&v)
                        .ok_or_else(|| format!("--encoding: unknown encoding {v:?}"))?,
                );
                i += 1;
            }
            "--view" => {
                let v = value(i, arg)?;
                options.view = Some(match v.to_ascii_lowercase().as_str() {
                    "text" => ViewMode::Text,
                    "hex" => ViewMode::Hex,
                    "both" => ViewMode::Both,
                    _ => return Err(format!("--view: expected text, hex or both, got {v:?}")),
                });
                i += 1;
            }
            "--lang" => {
                let v = value(i, arg)?;
                options.lang = Some(match v.to_ascii_lowercase().as_str() {
                    "en" => Lang::En,
                    "zh" | "zh-cn" | "zh_cn" => Lang::Zh,
                    _ => return Err(format!("--lang: expected en or zh, got {v:?}")),
                });
                i += 1;
            }
            "--log" => {
                options.log = Some(PathBuf::from(value(i, arg)?));
                i += 1;
            }
            "--log-format" => {
                let v = value(i, arg)?;
                options.log_format = Some(LogFormat::from_name(&v).ok_or_else(|| {
                    format!("--log-format: expected text, text-hex, hexdump, raw, csv or pcapng, got {v:?}")
                })?);
                i += 1;
            }
            "--screenshot" => {
                options.screenshot = Some(PathBuf::from(value(i, arg)?));
                i += 1;
            }
            "--screenshot-delay" => {
                let v = value(i, arg)?;
                options.screenshot_delay_ms = v
                    .parse()
                    .map_err(|_| format!("--screenshot-delay: {v:?} is not a number of ms"))?;
                i += 1;
            }
            "server" | "client" | "udp" if session.is_none() => {
                let addr = args
                    .get(i + 1)
                    .cloned()
                    .ok_or_else(|| format!("{arg} needs HOST:PORT"))?;
                session = Some((arg.to_string(), addr));
                i += 1;
            }
            other => return Err(format!("unexpected argument {other:?} (see --help)")),
        }
        i += 1;
    }
    options.start = match session {
        None => {
            if peer.is_some() {
                return Err("--peer needs a udp session".into());
            }
            options.auto_start = true;
            None
        }
        Some((kind, addr)) => {
            let (host, port) = parse_host_port(&addr).map_err(|e| format!("{kind}: {e}"))?;
            Some(match kind.as_str() {
                "server" => StartSession::Server { host, port },
                "client" => StartSession::Client { host, port },
                _ => StartSession::Udp { host, port, peer },
            })
        }
    };
    Ok(Parsed::Run(options))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> StartOptions {
        match parse_args(args.iter().copied()).unwrap() {
            Parsed::Run(o) => o,
            Parsed::Print(_) => panic!("expected options"),
        }
    }

    /// The three session forms of the issue parse into start sessions.
    #[test]
    fn sessions() {
        assert_eq!(
            run(&["server", "0.0.0.0:8989"]).start,
            Some(StartSession::Server {
                host: "0.0.0.0".into(),
                port: 8989
            })
        );
        assert_eq!(
            run(&[
                "client",
                "127.0.0.1:8000",
                "--encoding",
                "gbk",
                "--view",
                "hex"
            ])
            .encoding,
            Some(TextEncoding::Gbk)
        );
        let udp = run(&["udp", "0.0.0.0:9000", "--peer", "127.0.0.1:9001"]);
        assert_eq!(
            udp.start,
            Some(StartSession::Udp {
                host: "0.0.0.0".into(),
                port: 9000,
                peer: Some("127.0.0.1:9001".into())
            })
        );
        let plain = run(&[]);
        assert!(plain.auto_start && plain.start.is_none());
    }

    /// Bad arguments are errors in words, not panics.
    #[test]
    fn errors() {
        assert!(parse_args(["server"]).unwrap_err().contains("HOST:PORT"));
        assert!(parse_args(["client", "127.0.0.1:99999"]).is_err());
        assert!(
            parse_args(["--encoding", "klingon"])
                .unwrap_err()
                .contains("klingon")
        );
        assert!(parse_args(["--view", "x"]).is_err());
        assert!(parse_args(["--bogus"]).unwrap_err().contains("--bogus"));
        assert!(
            matches!(parse_args(["--help"]), Ok(Parsed::Print(t)) if t.contains("--screenshot"))
        );
    }
}
