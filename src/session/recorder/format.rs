//! The format choice: which log format, by name or file extension, and where the raw
//! format puts sent bytes.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use crate::codec::text::TextEncoding;
use crate::engine::SessionId;

/// A session log format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LogFormat {
    /// One line per record, the payload as text in the chosen encoding.
    Text,
    /// One line per record, the payload as spaced hex.
    TextHex,
    /// A header line per record and `hexdump -C` style rows.
    Hexdump,
    /// The exact bytes: received to the path, sent to [`raw_tx_path`].
    Raw,
    /// One CSV row per record (RFC 4180).
    Csv,
    /// pcapng with synthetic Ethernet/IP/TCP-or-UDP headers, for Wireshark.
    Pcapng,
}

impl LogFormat {
    /// Every format, in the order a picker should list them.
    pub const ALL: [LogFormat; 6] = [
        LogFormat::Text,
        LogFormat::TextHex,
        LogFormat::Hexdump,
        LogFormat::Raw,
        LogFormat::Csv,
        LogFormat::Pcapng,
    ];

    /// The name used on the command line and in settings: `text`, `text-hex`,
    /// `hexdump`, `raw`, `csv`, `pcapng`.
    pub fn name(self) -> &'static str {
        match self {
            LogFormat::Text => "text",
            LogFormat::TextHex => "text-hex",
            LogFormat::Hexdump => "hexdump",
            LogFormat::Raw => "raw",
            LogFormat::Csv => "csv",
            LogFormat::Pcapng => "pcapng",
        }
    }

    /// Looks a format up by name or alias, ignoring case: the names of [`Self::name`],
    /// plus `txt`, `log`, `hex`, `bin`, `texthex`, `text_hex`.
    pub fn from_name(name: &str) -> Option<Self> {
        let key = name.trim().to_ascii_lowercase();
        Some(match key.as_str() {
            "text" | "txt" | "log" => LogFormat::Text,
            "text-hex" | "texthex" | "text_hex" => LogFormat::TextHex,
            "hexdump" | "hex" => LogFormat::Hexdump,
            "raw" | "bin" => LogFormat::Raw,
            "csv" => LogFormat::Csv,
            "pcapng" => LogFormat::Pcapng,
            _ => return None,
        })
    }

    /// The format a file name asks for by its extension (case-insensitive): `.txt` and
    /// `.log` → text, `.hex` → hexdump, `.bin` and `.raw` → raw, `.csv`, `.pcapng`.
    pub fn from_path(path: &Path) -> Option<Self> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        Some(match ext.as_str() {
            "txt" | "log" => LogFormat::Text,
            "hex" => LogFormat::Hexdump,
            "bin" | "raw" => LogFormat::Raw,
            "csv" => LogFormat::Csv,
            "pcapng" => LogFormat::Pcapng,
            _ => return None,
        })
    }

    /// The usual file extension (without the dot), for save dialogs.
    pub fn extension(self) -> &'static str {
        match self {
            LogFormat::Text | LogFormat::TextHex => "txt",
            LogFormat::Hexdump => "hex",
            LogFormat::Raw => "bin",
            LogFormat::Csv => "csv",
            LogFormat::Pcapng => "pcapng",
        }
    }
}

impl fmt::Display for LogFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// `name-2.ext`, `name-3.ext`, …: the first name beside `path` that does not exist, so an
/// existing log is never overwritten (the window and headless sessions both use it).
pub fn numbered_free_path(path: &Path) -> PathBuf {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ext = path.extension().map(|e| e.to_string_lossy().into_owned());
    (2..10_000)
        .map(|n| {
            let name = match &ext {
                Some(ext) => format!("{stem}-{n}.{ext}"),
                None => format!("{stem}-{n}"),
            };
            path.with_file_name(name)
        })
        .find(|p| !p.exists())
        .unwrap_or_else(|| path.to_path_buf())
}

/// Where the raw format writes sent bytes: `.tx` inserted before the extension
/// (`capture.bin` → `capture.tx.bin`; `capture` → `capture.tx`).
pub fn raw_tx_path(path: &Path) -> PathBuf {
    let stem = path
        .file_stem()
        .map(|s| s.to_os_string())
        .unwrap_or_default();
    let mut name = stem;
    name.push(".tx");
    if let Some(ext) = path.extension() {
        name.push(".");
        name.push(ext);
    }
    path.with_file_name(name)
}

/// How to write a log.
#[derive(Clone, Debug, PartialEq)]
pub struct LogOptions {
    /// The file format.
    pub format: LogFormat,
    /// Encoding of the payload text (text format only).
    pub encoding: TextEncoding,
    /// Local addresses known before the log started, per session (pcapng uses them for
    /// connections whose `Connected`/`Listening` event came before the recording did;
    /// pass `SessionHandle::local_addr()` of the running session).
    pub locals: Vec<(SessionId, SocketAddr)>,
    /// CSV only: cut received bytes by this frame definition, one row per frame with
    /// its verdict, round trip and field values (see `recorder::csv_frames`).
    pub frame_def: Option<crate::protocol::FrameDef>,
}

impl LogOptions {
    /// Options for `format` in `encoding`, with no known local addresses.
    pub fn new(format: LogFormat, encoding: TextEncoding) -> Self {
        LogOptions {
            format,
            encoding,
            locals: Vec::new(),
            frame_def: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Extensions and names map to formats, case-insensitively; unknown ones do not.
    #[test]
    fn format_lookup() {
        assert_eq!(
            LogFormat::from_path(Path::new("a/b.PCAPNG")),
            Some(LogFormat::Pcapng)
        );
        assert_eq!(
            LogFormat::from_path(Path::new("x.txt")),
            Some(LogFormat::Text)
        );
        assert_eq!(
            LogFormat::from_path(Path::new("x.hex")),
            Some(LogFormat::Hexdump)
        );
        assert_eq!(
            LogFormat::from_path(Path::new("x.bin")),
            Some(LogFormat::Raw)
        );
        assert_eq!(
            LogFormat::from_path(Path::new("x.csv")),
            Some(LogFormat::Csv)
        );
        assert_eq!(LogFormat::from_path(Path::new("x.doc")), None);
        assert_eq!(LogFormat::from_path(Path::new("x")), None);
        for f in LogFormat::ALL {
            assert_eq!(LogFormat::from_name(f.name()), Some(f));
        }
        assert_eq!(LogFormat::from_name("HEX"), Some(LogFormat::Hexdump));
        assert_eq!(LogFormat::from_name("nope"), None);
    }

    /// The raw format's sent-bytes file sits next to the received-bytes file.
    #[test]
    fn tx_path() {
        assert_eq!(
            raw_tx_path(Path::new("/tmp/cap.bin")),
            PathBuf::from("/tmp/cap.tx.bin")
        );
        assert_eq!(raw_tx_path(Path::new("cap")), PathBuf::from("cap.tx"));
    }
}
