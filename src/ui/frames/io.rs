//! A frame definition as a JSON file, to share it like quick commands:
//! `{"format": "sockscope-frame-definition", "version": 1, "definition": {…}}`, the
//! definition with hex bytes as `"AA 55"`. A bare definition (without the envelope)
//! is read too.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::protocol::FrameDef;

/// The `format` of the file.
pub const FORMAT: &str = "sockscope-frame-definition";
/// The `version` this release writes and reads.
pub const VERSION: u32 = 1;

#[derive(Serialize)]
struct DocOut<'a> {
    format: &'a str,
    version: u32,
    definition: &'a FrameDef,
}

#[derive(Deserialize)]
struct DocIn {
    format: String,
    version: u32,
    definition: FrameDef,
}

/// Why a file could not be read as a definition (the details in English, from the
/// system or the JSON reader; the window puts them after its own words).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DefFileError {
    /// Reading or writing the file failed.
    Io(String),
    /// Not JSON, or not a definition.
    NotADefinition(String),
    /// A definition of another format or a later version.
    Version(String, u32),
    /// It reads, but cannot be used as it is.
    Problem(String),
}

/// The definition as the JSON document.
pub fn to_json(def: &FrameDef) -> String {
    let doc = DocOut {
        format: FORMAT,
        version: VERSION,
        definition: def,
    };
    // Strings, numbers and enums by name: serialising cannot fail.
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}

/// Reads a document written by [`to_json`], or a bare definition.
pub fn from_json(text: &str) -> Result<FrameDef, DefFileError> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| DefFileError::NotADefinition(e.to_string()))?;
    let def = if value.get("definition").is_some() {
        let doc: DocIn = serde_json::from_value(value)
            .map_err(|e| DefFileError::NotADefinition(e.to_string()))?;
        if doc.format != FORMAT || doc.version != VERSION {
            return Err(DefFileError::Version(doc.format, doc.version));
        }
        doc.definition
    } else {
        serde_json::from_value(value).map_err(|e| DefFileError::NotADefinition(e.to_string()))?
    };
    match def.problem() {
        Some(p) => Err(DefFileError::Problem(p)),
        None => Ok(def),
    }
}

/// Writes the definition to `path` (call it off the UI thread).
pub fn export_file(def: &FrameDef, path: &Path) -> Result<(), DefFileError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| DefFileError::Io(e.to_string()))?;
    }
    std::fs::write(path, to_json(def)).map_err(|e| DefFileError::Io(e.to_string()))
}

/// Reads a definition from `path` (call it off the UI thread).
pub fn import_file(path: &Path) -> Result<FrameDef, DefFileError> {
    let text = std::fs::read_to_string(path).map_err(|e| DefFileError::Io(e.to_string()))?;
    from_json(&text)
}

/// The error in the UI language, its details after.
pub fn error_text(t: &crate::ui::i18n::Texts, error: &DefFileError) -> String {
    match error {
        DefFileError::Io(e) => e.clone(),
        DefFileError::NotADefinition(e) => format!("{}: {e}", t.fr_not_definition),
        DefFileError::Version(format, version) => {
            format!("{}: {format:?} v{version}", t.fr_other_version)
        }
        DefFileError::Problem(p) => format!("{}: {p}", t.fr_p_other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every preset survives the file; a bare definition reads; others are refused.
    #[test]
    fn json_round_trip() {
        for def in FrameDef::presets() {
            assert_eq!(from_json(&to_json(&def)).unwrap(), def);
        }
        let bare = serde_json::to_string(&FrameDef::modbus_tcp()).unwrap();
        assert_eq!(from_json(&bare).unwrap(), FrameDef::modbus_tcp());
        assert!(matches!(
            from_json("{\"commands\": []}"),
            Err(DefFileError::NotADefinition(_))
        ));
        let later = to_json(&FrameDef::text_lines()).replace("\"version\": 1", "\"version\": 9");
        assert!(matches!(
            from_json(&later),
            Err(DefFileError::Version(_, 9))
        ));
        let mut bad = FrameDef::text_lines();
        bad.max_len = 0;
        assert!(matches!(
            from_json(&to_json(&bad)),
            Err(DefFileError::Problem(_))
        ));
    }
}
