//! Fonts: egui's defaults have no CJK glyphs, so the app bundles WenQuanYi Micro Hei
//! (assets/, Apache-2.0 or GPL-3 with font exception) as a fallback for both families.
//! It covers GB2312, nearly all of GBK and U+FFFD, so Chinese renders on every platform
//! without depending on system fonts. Test harnesses must install the same fonts, since
//! egui_kittest panics on a missing glyph.

use egui::epaint::text::{FontInsert, FontPriority, InsertFontFamily};
use egui::{FontData, FontFamily};

/// The bundled CJK font.
static CJK_FONT: &[u8] = include_bytes!("../../assets/wqy-microhei.ttc");

/// Adds the CJK font as the last fallback of the proportional and monospace families.
pub fn install(ctx: &egui::Context) {
    ctx.add_font(FontInsert::new(
        "wqy-microhei",
        FontData::from_static(CJK_FONT),
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
