//! Window-wide preferences the command line can set: the language the window speaks and
//! its theme. Here rather than in `ui` so the command line can take `--lang` and
//! `--theme` without importing the window; the strings themselves live in `ui::i18n`.

use serde::{Deserialize, Serialize};

/// The UI language.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Lang {
    /// English.
    #[default]
    En,
    /// Simplified Chinese.
    Zh,
}

impl Lang {
    /// Both languages, in menu order.
    pub const ALL: [Lang; 2] = [Lang::En, Lang::Zh];

    /// The language the system asks for: Chinese when the locale says `zh…`, else English.
    pub fn from_system() -> Lang {
        for var in ["LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE"] {
            if let Ok(value) = std::env::var(var) {
                if value.is_empty() {
                    continue;
                }
                return Lang::from_locale(&value);
            }
        }
        Lang::En
    }

    /// Chinese for locales such as `zh_CN.UTF-8` or `zh-Hans`, English otherwise.
    pub fn from_locale(locale: &str) -> Lang {
        if locale.to_ascii_lowercase().starts_with("zh") {
            Lang::Zh
        } else {
            Lang::En
        }
    }

    /// A `--lang` value: `en`, `zh`, `zh-cn` or `zh_cn`, any case.
    pub fn from_arg(arg: &str) -> Option<Lang> {
        match arg.to_ascii_lowercase().as_str() {
            "en" => Some(Lang::En),
            "zh" | "zh-cn" | "zh_cn" => Some(Lang::Zh),
            _ => None,
        }
    }

    /// The language's own name, as the language menu shows it.
    pub fn native_name(self) -> &'static str {
        match self {
            Lang::En => "English",
            Lang::Zh => "简体中文",
        }
    }
}

/// Light, dark, or whatever the system uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Theme {
    /// Follow the system.
    #[default]
    System,
    /// Light.
    Light,
    /// Dark.
    Dark,
}

impl Theme {
    /// Every choice, in menu order.
    pub const ALL: [Theme; 3] = [Theme::System, Theme::Light, Theme::Dark];

    /// A `--theme` value: `system`, `light` or `dark`, any case.
    pub fn from_arg(arg: &str) -> Option<Theme> {
        match arg.to_ascii_lowercase().as_str() {
            "system" => Some(Theme::System),
            "light" => Some(Theme::Light),
            "dark" => Some(Theme::Dark),
            _ => None,
        }
    }
}
