//! Fonts: egui's defaults have no CJK glyphs, so the app bundles WenQuanYi Micro Hei
//! (assets/, Apache-2.0 or GPL-3 with font exception) as a fallback for both families.
//! It covers GB2312, nearly all of GBK and U+FFFD, so Chinese renders on every platform
//! without depending on system fonts. Test harnesses must install the same fonts, since
//! egui_kittest panics on a missing glyph.

use egui::epaint::text::{FontInsert, FontPriority, FontTweak, InsertFontFamily};
use egui::{FontData, FontFamily};

/// The bundled CJK font.
static CJK_FONT: &[u8] = include_bytes!("../../assets/wqy-microhei.ttc");

/// Adds the CJK font as the last fallback of the proportional and monospace families,
/// unhinted: it carries no hinting instructions, so every new glyph went through the
/// autohinter, and a binary flood viewed as text shows dozens of new CJK glyphs a frame
/// (random bytes are valid three-byte UTF-8 often enough); CJK text is drawn unhinted on
/// macOS and most Linux desktops anyway.
pub fn install(ctx: &egui::Context) {
    ctx.add_font(FontInsert::new(
        "wqy-microhei",
        FontData::from_static(CJK_FONT).tweak(FontTweak {
            hinting: Some(false),
            ..FontTweak::default()
        }),
        vec![
            InsertFontFamily {
                family: FontFamily::Proportional,
                priority: FontPriority::Lowest,
            },
            InsertFontFamily {
                family: FontFamily::Monospace,
                priority: FontPriority::Lowest,
            },
        ],
    ));
}
