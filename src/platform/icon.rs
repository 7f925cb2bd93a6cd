//! The app icon (drawn by `scripts/make_icon.py`, stored in `assets/`) for the window's
//! title bar and task bar. The Windows `.exe` also carries `assets/sockscope.ico` as a
//! resource (see `build.rs`), which is what Explorer shows before the program runs.

/// The 256×256 icon, PNG-encoded.
pub const ICON_PNG: &[u8] = include_bytes!("../../assets/icon-256.png");

/// The icon as RGBA pixels for `ViewportBuilder::with_icon`; None if it cannot be
/// decoded (the window then opens with the system's default icon).
pub fn window_icon() -> Option<egui::IconData> {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(ICON_PNG));
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().ok()?;
    let mut buf = vec![0; reader.output_buffer_size()?];
    let frame = reader.next_frame(&mut buf).ok()?;
    if frame.color_type != png::ColorType::Rgba {
        return None;
    }
    buf.truncate(frame.buffer_size());
    Some(egui::IconData {
        rgba: buf,
        width: frame.width,
        height: frame.height,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bundled icon decodes to 256×256 RGBA with transparent corners.
    #[test]
    fn icon_decodes() {
        let icon = window_icon().unwrap();
        assert_eq!((icon.width, icon.height), (256, 256));
        assert_eq!(icon.rgba.len(), 256 * 256 * 4);
        assert_eq!(icon.rgba[3], 0, "corner is transparent");
        let centre = (128 * 256 + 128) * 4;
        assert_eq!(icon.rgba[centre + 3], 255, "centre is opaque");
    }
}
