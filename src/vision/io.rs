//! `torchvision.io`: images read from files into uint8 `[C, H, W]` tensors.

use std::path::Path;

use super::digit::check_size;
use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// The largest image file read.
const MAX_FILE_BYTES: u64 = 64 << 20;

/// Reads a PNG or JPEG file (by content, not name) into a uint8 `[C, H, W]`
/// tensor, as `torchvision.io.read_image` does: C is 1 for gray, 2 for gray
/// with alpha, 3 for RGB, 4 for RGBA (16-bit PNGs keep their high byte;
/// CMYK JPEGs become RGB). Sizes are checked from the header before anything
/// is decoded, and a malformed file is an error, never a panic.
///
/// ```no_run
/// let image = kindling::vision::io::read_image("data/img/tshirt1.jpg")?;
/// assert_eq!(image.dtype(), kindling::DType::U8);
/// # Ok::<(), kindling::Error>(())
/// ```
pub fn read_image(path: impl AsRef<Path>) -> Result<Tensor> {
    let path = path.as_ref();
    let bytes = crate::io::read_bounded(path, MAX_FILE_BYTES)?;
    decode_image(&bytes).map_err(|e| match e {
        Error::Value(message) => Error::Io {
            path: path.to_path_buf(),
            message,
        },
        other => other,
    })
}

/// Decodes the bytes of a PNG or JPEG file (`torchvision.io.decode_image`);
/// see [`read_image`].
pub fn decode_image(bytes: &[u8]) -> Result<Tensor> {
    let decoded = if bytes.starts_with(b"\x89PNG") {
        crate::io::without_panics(|| decode_png(bytes))
            .and_then(|r| r)
            .map_err(|m| format!("cannot decode PNG ({m})"))
    } else if bytes.starts_with(&[0xFF, 0xD8]) {
        crate::io::without_panics(|| decode_jpeg(bytes))
            .and_then(|r| r)
            .map_err(|m| format!("cannot decode JPEG ({m})"))
    } else {
        Err("not a PNG or JPEG image".to_string())
    };
    let (hwc, h, w, c) = decoded.map_err(Error::Value)?;
    // Interleaved HWC to planar CHW.
    let mut chw = vec![0u8; hwc.len()];
    for (i, px) in hwc.chunks_exact(c).enumerate() {
        for (k, &v) in px.iter().enumerate() {
            chw[k * h * w + i] = v;
        }
    }
    Ok(Tensor::from_vec(chw, [c, h, w]))
}

type Pixels = (Vec<u8>, usize, usize, usize);

fn decode_png(bytes: &[u8]) -> std::result::Result<Pixels, String> {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().map_err(|e| e.to_string())?;
    check_size(reader.info().width as u64, reader.info().height as u64)?;
    let size = reader.output_buffer_size().ok_or("image too large")?;
    let mut buf = vec![0; size];
    let info = reader.next_frame(&mut buf).map_err(|e| e.to_string())?;
    buf.truncate(info.buffer_size());
    let c = info.color_type.samples();
    Ok((buf, info.height as usize, info.width as usize, c))
}

fn decode_jpeg(bytes: &[u8]) -> std::result::Result<Pixels, String> {
    let mut decoder = jpeg_decoder::Decoder::new(bytes);
    decoder.read_info().map_err(|e| e.to_string())?;
    let header = decoder.info().ok_or("no image information")?;
    check_size(header.width as u64, header.height as u64)?;
    let data = decoder.decode().map_err(|e| e.to_string())?;
    let info = decoder.info().ok_or("no image information")?;
    let (h, w) = (info.height as usize, info.width as usize);
    Ok(match info.pixel_format {
        jpeg_decoder::PixelFormat::L8 => (data, h, w, 1),
        jpeg_decoder::PixelFormat::L16 => (data.chunks_exact(2).map(|c| c[0]).collect(), h, w, 1),
        jpeg_decoder::PixelFormat::RGB24 => (data, h, w, 3),
        jpeg_decoder::PixelFormat::CMYK32 => {
            let rgb = data
                .chunks_exact(4)
                .flat_map(|p| {
                    let k = 255 - p[3] as u32;
                    [0, 1, 2].map(|i| ((255 - p[i] as u32) * k / 255) as u8)
                })
                .collect();
            (rgb, h, w, 3)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A PNG of `pixels` (`color` PNG color type, 8-bit), written with the png crate.
    fn png_bytes(w: u32, h: u32, color: png::ColorType, pixels: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(color);
        enc.set_depth(png::BitDepth::Eight);
        let mut writer = enc.write_header().unwrap();
        writer.write_image_data(pixels).unwrap();
        writer.finish().unwrap();
        out
    }

    #[test]
    fn rgb_png_decodes_to_chw_uint8() {
        // 2x1 RGB: red, then blue.
        let bytes = png_bytes(2, 1, png::ColorType::Rgb, &[255, 0, 0, 0, 0, 255]);
        let t = decode_image(&bytes).unwrap();
        assert_eq!(t.shape(), &[3, 1, 2]);
        assert_eq!(t.to_vec::<u8>(), [255, 0, 0, 0, 0, 255]);
        let gray = decode_image(&png_bytes(1, 2, png::ColorType::Grayscale, &[7, 9])).unwrap();
        assert_eq!(
            (gray.shape(), gray.to_vec::<u8>()),
            (&[1usize, 2, 1][..], vec![7, 9])
        );
    }

    #[test]
    fn bad_files_are_errors_naming_the_file() {
        assert_eq!(
            decode_image(b"hello").unwrap_err().to_string(),
            "not a PNG or JPEG image"
        );
        let dir = std::env::temp_dir().join(format!("kindling-read-image-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("broken.png");
        std::fs::write(&path, b"\x89PNG\r\n\x1a\nbroken").unwrap();
        let e = read_image(&path).unwrap_err().to_string();
        assert!(
            e.starts_with(&format!("{}: cannot decode PNG", path.display())),
            "{e}"
        );
        assert!(read_image(dir.join("missing.png")).is_err());
    }
}
