//! Writing the window capture asked for with `--screenshot` as a PNG file.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

/// Encodes `image` (RGBA, unmultiplied) as PNG at `path`.
pub fn write_png(path: &Path, image: &egui::ColorImage) -> Result<(), String> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let file = File::create(path).map_err(|e| e.to_string())?;
    let [width, height] = image.size;
    let mut encoder = png::Encoder::new(BufWriter::new(file), width as u32, height as u32);
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(|e| e.to_string())?;
    let mut data = Vec::with_capacity(width * height * 4);
    for pixel in &image.pixels {
        data.extend_from_slice(&pixel.to_srgba_unmultiplied());
    }
    writer.write_image_data(&data).map_err(|e| e.to_string())?;
    writer.finish().map_err(|e| e.to_string())
}
