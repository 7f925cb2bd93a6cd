//! Quick commands: a saved, named list of sends, each one click away.
//!
//! Why plain serde data: the UI keeps [`QuickCommands`] in its persisted state (eframe
//! storage), edits it in place and reorders it with [`QuickCommands::move_item`]. A team
//! shares a device's command set as a JSON file: [`QuickCommands::to_json`] writes a
//! versioned document, [`QuickCommands::from_json`] reads one and says precisely what is
//! wrong (line and column, unknown encoding names, a bad template in command 3, a file
//! from a newer version).
//!
//! The document:
//!
//! ```json
//! {
//!   "format": "sockscope-quick-commands",
//!   "version": 1,
//!   "commands": [
//!     { "name": "read holding regs",
//!       "send": { "text": "01 03 00 00 00 0A", "hex": true, "encoding": "UTF-8",
//!                 "escapes": true, "line_ending": "None", "checksum": "CRC-16/MODBUS" } }
//!   ]
//! }
//! ```
//!
//! In `send` every field but `text` may be left out (defaults: text mode, UTF-8, escapes
//! on, no line ending, no checksum); unknown fields are errors, so a typo is not silently
//! ignored.

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::AutomationError;
use super::template::{SendSpec, TemplateError};
use crate::engine::{SendTarget, SessionHandle};

/// The `format` of a quick-command file.
pub const FORMAT: &str = "sockscope-quick-commands";
/// The document version this build writes and reads.
pub const VERSION: u32 = 1;

/// One named send.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuickCommand {
    /// What the button says.
    pub name: String,
    /// What it sends (a template: `{counter}` is this command's send number, from 1).
    pub send: SendSpec,
    /// Times sent in this run of the app (not saved); `{counter}` is `sent + 1`.
    #[serde(skip)]
    pub sent: u64,
}

impl QuickCommand {
    /// A new command.
    pub fn new(name: impl Into<String>, send: SendSpec) -> Self {
        QuickCommand {
            name: name.into(),
            send,
            sent: 0,
        }
    }

    /// The bytes the next click would send (for a preview); a template error otherwise.
    pub fn preview(&self) -> Result<Vec<u8>, TemplateError> {
        Ok(self.send.compile()?.render(self.sent + 1))
    }

    /// Renders and queues the command (never blocks); counts the send when the engine
    /// queued it. Returns how many connections/peers it was queued for.
    pub fn send(
        &mut self,
        handle: &SessionHandle,
        target: SendTarget,
    ) -> Result<usize, AutomationError> {
        let bytes = self.preview()?;
        let n = handle.send(target, bytes)?;
        self.sent += 1;
        Ok(n)
    }
}

/// The saved list, in display order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct QuickCommands {
    /// The commands, in display order.
    pub commands: Vec<QuickCommand>,
}

/// What [`QuickCommands::to_json`] writes.
#[derive(Serialize)]
struct DocOut<'a> {
    format: &'a str,
    version: u32,
    commands: &'a [QuickCommand],
}

/// The envelope, read first so a wrong file or version is named before field errors.
#[derive(Deserialize)]
struct Envelope {
    format: Option<serde_json::Value>,
    version: Option<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DocIn {
    #[serde(rename = "format")]
    _format: String,
    #[serde(rename = "version")]
    _version: u32,
    commands: Vec<QuickCommand>,
}

/// Why a quick-command file could not be imported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImportError {
    /// Not JSON, or JSON of the wrong shape (serde's message names the field and says
    /// line and column).
    Json {
        /// The parser's message.
        message: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
    },
    /// JSON, but not a Sockscope quick-command file (`format` missing or different).
    NotQuickCommands {
        /// The `format` found, if any.
        found: Option<String>,
    },
    /// Written by a newer Sockscope (or the version is not a number).
    UnsupportedVersion {
        /// The `version` found, as written.
        found: String,
    },
    /// A command whose template does not compile.
    BadCommand {
        /// 1-based index of the command in the file.
        index: usize,
        /// Its name.
        name: String,
        /// What is wrong with it.
        error: TemplateError,
    },
    /// The file could not be read.
    Io {
        /// The path.
        path: String,
        /// The OS error in words.
        cause: String,
    },
}

impl fmt::Display for ImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImportError::Json {
                message,
                line,
                column,
            } => {
                // serde_json appends "at line L column C" itself to most messages.
                if message.contains(" at line ") {
                    write!(f, "not a valid quick-command file: {message}")
                } else {
                    write!(
                        f,
                        "not a valid quick-command file: {message} at line {line} column {column}"
                    )
                }
            }
            ImportError::NotQuickCommands { found } => match found {
                Some(found) => write!(
                    f,
                    "not a quick-command file: \"format\" is {found:?}, expected {FORMAT:?}"
                ),
                None => write!(
                    f,
                    "not a quick-command file: no \"format\": {FORMAT:?} field"
                ),
            },
            ImportError::UnsupportedVersion { found } => write!(
                f,
                "quick-command file version {found} is not supported (this Sockscope reads version {VERSION})"
            ),
            ImportError::BadCommand { index, name, error } => {
                write!(f, "command {index} ({name:?}): {error}")
            }
            ImportError::Io { path, cause } => write!(f, "cannot read {path}: {cause}"),
        }
    }
}

impl std::error::Error for ImportError {}

fn json_error(e: &serde_json::Error) -> ImportError {
    ImportError::Json {
        message: e.to_string(),
        line: e.line(),
        column: e.column(),
    }
}

impl QuickCommands {
    /// Appends a command.
    pub fn add(&mut self, command: QuickCommand) {
        self.commands.push(command);
    }

    /// Removes and returns command `index` (None if out of range).
    pub fn remove(&mut self, index: usize) -> Option<QuickCommand> {
        (index < self.commands.len()).then(|| self.commands.remove(index))
    }

    /// Moves command `from` to position `to` (the others shift); false if either is out
    /// of range. Drag-and-drop and up/down buttons both map to this.
    pub fn move_item(&mut self, from: usize, to: usize) -> bool {
        let len = self.commands.len();
        if from >= len || to >= len {
            return false;
        }
        let item = self.commands.remove(from);
        self.commands.insert(to, item);
        true
    }

    /// Sends command `index` (see [`QuickCommand::send`]).
    pub fn send(
        &mut self,
        index: usize,
        handle: &SessionHandle,
        target: SendTarget,
    ) -> Result<usize, AutomationError> {
        match self.commands.get_mut(index) {
            Some(c) => c.send(handle, target),
            None => Err(AutomationError::Invalid {
                message: format!("no quick command #{}", index + 1),
            }),
        }
    }

    /// The shareable JSON document (pretty-printed, see the module docs).
    pub fn to_json(&self) -> String {
        let doc = DocOut {
            format: FORMAT,
            version: VERSION,
            commands: &self.commands,
        };
        // Serialising plain strings, bools and enums by name cannot fail.
        serde_json::to_string_pretty(&doc).unwrap_or_default()
    }

    /// Reads a JSON document written by [`to_json`](Self::to_json) (or by hand), checking
    /// the format, the version and every command's template.
    pub fn from_json(text: &str) -> Result<QuickCommands, ImportError> {
        let envelope: Envelope = serde_json::from_str(text).map_err(|e| json_error(&e))?;
        match envelope.format {
            Some(serde_json::Value::String(s)) if s == FORMAT => {}
            Some(serde_json::Value::String(s)) => {
                return Err(ImportError::NotQuickCommands { found: Some(s) });
            }
            Some(other) => {
                return Err(ImportError::NotQuickCommands {
                    found: Some(other.to_string()),
                });
            }
            None => return Err(ImportError::NotQuickCommands { found: None }),
        }
        match envelope.version {
            Some(serde_json::Value::Number(n)) if n.as_u64() == Some(u64::from(VERSION)) => {}
            Some(v) => {
                return Err(ImportError::UnsupportedVersion {
                    found: v.to_string(),
                });
            }
            None => {
                return Err(ImportError::UnsupportedVersion {
                    found: "(missing)".into(),
                });
            }
        }
        let doc: DocIn = serde_json::from_str(text).map_err(|e| json_error(&e))?;
        for (i, c) in doc.commands.iter().enumerate() {
            if let Err(error) = c.send.compile() {
                return Err(ImportError::BadCommand {
                    index: i + 1,
                    name: c.name.clone(),
                    error,
                });
            }
        }
        Ok(QuickCommands {
            commands: doc.commands,
        })
    }

    /// Writes [`to_json`](Self::to_json) to `path`. Blocking file I/O: call it off the
    /// UI thread.
    pub fn export_file(&self, path: impl AsRef<Path>) -> Result<(), AutomationError> {
        let path = path.as_ref();
        std::fs::write(path, self.to_json()).map_err(|e| AutomationError::Io {
            context: format!("writing {}", path.display()),
            cause: e.to_string(),
        })
    }

    /// Reads `path` with [`from_json`](Self::from_json). Blocking file I/O: call it off
    /// the UI thread.
    pub fn import_file(path: impl AsRef<Path>) -> Result<QuickCommands, ImportError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| ImportError::Io {
            path: path.display().to_string(),
            cause: e.to_string(),
        })?;
        Self::from_json(&text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::checksum::Checksum;
    use crate::codec::text::TextEncoding;

    fn sample() -> QuickCommands {
        let mut modbus = SendSpec::hex("01 03 00 00 00 0A");
        modbus.checksum = Checksum::Crc16Modbus;
        let mut list = QuickCommands::default();
        list.add(QuickCommand::new("read regs", modbus));
        list.add(QuickCommand::new(
            "hello",
            SendSpec::text("你好 {counter}", TextEncoding::Gbk),
        ));
        list.add(QuickCommand::new(
            "exit",
            SendSpec::text("exit", TextEncoding::Utf8),
        ));
        list
    }

    /// Reordering moves one item and keeps the rest in order.
    #[test]
    fn move_item_reorders() {
        let mut list = sample();
        assert!(list.move_item(2, 0));
        let names: Vec<_> = list.commands.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["exit", "read regs", "hello"]);
        assert!(!list.move_item(3, 0));
        assert_eq!(list.remove(1).map(|c| c.name), Some("read regs".into()));
        assert!(list.remove(5).is_none());
    }

    /// JSON round trip; the counter is not saved.
    #[test]
    fn json_round_trip() {
        let mut list = sample();
        list.commands[1].sent = 7;
        let json = list.to_json();
        let back = QuickCommands::from_json(&json).unwrap();
        list.commands[1].sent = 0;
        assert_eq!(back, list);
    }

    /// Each kind of bad file gets its own message.
    #[test]
    fn import_errors_say_what_is_wrong() {
        let e = QuickCommands::from_json("{ nope").unwrap_err();
        assert!(matches!(e, ImportError::Json { line: 1, .. }), "{e}");
        let e = QuickCommands::from_json(r#"{"commands": []}"#).unwrap_err();
        assert_eq!(e, ImportError::NotQuickCommands { found: None });
        let e = QuickCommands::from_json(
            r#"{"format": "sockscope-quick-commands", "version": 9, "commands": []}"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("version 9 is not supported"), "{e}");
        let e = QuickCommands::from_json(
            r#"{"format": "sockscope-quick-commands", "version": 1,
                "commands": [{"send": {"text": "x"}}]}"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("missing field `name`"), "{e}");
        assert!(e.to_string().contains("line 2"), "{e}");
        let e = QuickCommands::from_json(
            r#"{"format": "sockscope-quick-commands", "version": 1,
                "commands": [{"name": "a", "send": {"text": "x", "encodng": "GBK"}}]}"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("unknown field `encodng`"), "{e}");
        let e = QuickCommands::from_json(
            r#"{"format": "sockscope-quick-commands", "version": 1,
                "commands": [{"name": "a", "send": {"text": "x"}},
                             {"name": "b", "send": {"text": "{oops}"}}]}"#,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "command 2 (\"b\"): unknown variable {oops} at position 1 (known: counter, time, rand:N, len; write {{ for a brace)"
        );
    }
}
