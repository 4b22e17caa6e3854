//! Turning an arbitrary picture of a digit into an MNIST-style input, the way the
//! MNIST digits were prepared: grayscale, light digit on a dark background, the
//! digit scaled to fit a 20×20 box (keeping its aspect) and placed in a 28×28
//! field so that its centre of mass is at the centre.

use std::path::Path;

use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// A grayscale image, row-major, values 0..=255.
struct Gray {
    width: usize,
    height: usize,
    pixels: Vec<f32>,
}

fn bad(path: &Path, message: impl Into<String>) -> Error {
    Error::Io {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// The most pixels an image may declare: checked from its header, before
/// anything is decoded (a 1 KB file can declare 65500×65500).
pub const MAX_PIXELS: u64 = 16_000_000;
/// The largest image file read.
const MAX_FILE_BYTES: u64 = 64 << 20;

/// Decodes a PNG or JPEG file (by content) into grayscale; transparency is
/// composited over white. A decoder's panic on a malformed file becomes an
/// error (see [`crate::io::without_panics`]).
fn decode(path: &Path) -> Result<Gray> {
    let bytes = crate::io::read_bounded(path, MAX_FILE_BYTES)?;
    if bytes.starts_with(b"\x89PNG") {
        crate::io::without_panics(|| decode_png(&bytes))
            .and_then(|r| r)
            .map_err(|m| bad(path, format!("cannot decode PNG ({m})")))
    } else if bytes.starts_with(&[0xFF, 0xD8]) {
        crate::io::without_panics(|| decode_jpeg(&bytes))
            .and_then(|r| r)
            .map_err(|m| bad(path, format!("cannot decode JPEG ({m})")))
    } else {
        Err(bad(path, "not a PNG or JPEG image"))
    }
}

/// Refuses dimensions above [`MAX_PIXELS`].
pub(crate) fn check_size(w: u64, h: u64) -> std::result::Result<(), String> {
    if w.saturating_mul(h) > MAX_PIXELS {
        return Err(format!(
            "{w}x{h} pixels, more than the {MAX_PIXELS} allowed"
        ));
    }
    Ok(())
}

fn luminance(r: f32, g: f32, b: f32) -> f32 {
    0.299 * r + 0.587 * g + 0.114 * b
}

fn decode_png(bytes: &[u8]) -> std::result::Result<Gray, String> {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().map_err(|e| e.to_string())?;
    let (iw, ih) = (reader.info().width, reader.info().height);
    check_size(iw as u64, ih as u64)?;
    let size = reader.output_buffer_size().ok_or("image too large")?;
    if size > 256 << 20 {
        return Err("image too large".into());
    }
    let mut buf = vec![0; size];
    let info = reader.next_frame(&mut buf).map_err(|e| e.to_string())?;
    let (w, h) = (info.width as usize, info.height as usize);
    let channels = info.color_type.samples();
    let px: Vec<f32> = buf[..info.buffer_size()]
        .chunks_exact(channels)
        .map(|p| {
            let f = |i: usize| p[i] as f32;
            let (gray, alpha) = match channels {
                1 => (f(0), 255.0),
                2 => (f(0), f(1)),
                3 => (luminance(f(0), f(1), f(2)), 255.0),
                _ => (luminance(f(0), f(1), f(2)), f(3)),
            };
            gray * alpha / 255.0 + 255.0 * (1.0 - alpha / 255.0)
        })
        .collect();
    Ok(Gray {
        width: w,
        height: h,
        pixels: px,
    })
}

fn decode_jpeg(bytes: &[u8]) -> std::result::Result<Gray, String> {
    let mut decoder = jpeg_decoder::Decoder::new(bytes);
    decoder.read_info().map_err(|e| e.to_string())?;
    let header = decoder.info().ok_or("no image information")?;
    check_size(header.width as u64, header.height as u64)?;
    let data = decoder.decode().map_err(|e| e.to_string())?;
    let info = decoder.info().ok_or("no image information")?;
    let (w, h) = (info.width as usize, info.height as usize);
    let pixels = match info.pixel_format {
        jpeg_decoder::PixelFormat::L8 => data.iter().map(|&v| v as f32).collect(),
        jpeg_decoder::PixelFormat::L16 => data.chunks_exact(2).map(|c| c[0] as f32).collect(),
        jpeg_decoder::PixelFormat::RGB24 => data
            .chunks_exact(3)
            .map(|c| luminance(c[0] as f32, c[1] as f32, c[2] as f32))
            .collect(),
        jpeg_decoder::PixelFormat::CMYK32 => data
            .chunks_exact(4)
            .map(|c| {
                let k = 1.0 - c[3] as f32 / 255.0;
                luminance(
                    (255 - c[0]) as f32 * k,
                    (255 - c[1]) as f32 * k,
                    (255 - c[2]) as f32 * k,
                )
            })
            .collect(),
    };
    Ok(Gray {
        width: w,
        height: h,
        pixels,
    })
}

/// Box-filter resampling to `(nw, nh)`: each output pixel averages the input area
/// it covers, fractional edges weighted.
fn resample(src: &[f32], w: usize, h: usize, nw: usize, nh: usize) -> Vec<f32> {
    let (sx, sy) = (w as f64 / nw as f64, h as f64 / nh as f64);
    let mut out = vec![0f32; nw * nh];
    for oy in 0..nh {
        let (y0, y1) = (oy as f64 * sy, (oy + 1) as f64 * sy);
        for ox in 0..nw {
            let (x0, x1) = (ox as f64 * sx, (ox + 1) as f64 * sx);
            let (mut sum, mut area) = (0.0f64, 0.0f64);
            for y in y0.floor() as usize..(y1.ceil() as usize).min(h) {
                let wy = (y1.min(y as f64 + 1.0) - y0.max(y as f64)).max(0.0);
                for x in x0.floor() as usize..(x1.ceil() as usize).min(w) {
                    let wx = (x1.min(x as f64 + 1.0) - x0.max(x as f64)).max(0.0);
                    sum += src[y * w + x] as f64 * wx * wy;
                    area += wx * wy;
                }
            }
            out[oy * nw + ox] = if area > 0.0 { (sum / area) as f32 } else { 0.0 };
        }
    }
    out
}

/// Reads an image file and prepares it as MNIST prepared its digits; the result
/// is float32 `[1, 28, 28]` in `[0, 1]`, ready for a model trained with ToTensor.
///
/// # Errors
/// Unreadable or undecodable files, and blank pictures (no digit to find).
pub fn prepare_digit(path: &Path) -> Result<Tensor> {
    let img = decode(path)?;
    if img.width == 0 || img.height == 0 {
        return Err(bad(path, "the image is empty"));
    }
    // Dark digit on a light background (paper, screenshots) is turned around.
    let (w, h) = (img.width, img.height);
    let border: Vec<f32> = (0..w)
        .flat_map(|x| [img.pixels[x], img.pixels[(h - 1) * w + x]])
        .chain((0..h).flat_map(|y| [img.pixels[y * w], img.pixels[y * w + w - 1]]))
        .collect();
    let mut sorted = border.clone();
    sorted.sort_by(f32::total_cmp);
    let background = sorted[sorted.len() / 2];
    let mut ink: Vec<f32> = img
        .pixels
        .iter()
        .map(|&v| if background > 127.0 { 255.0 - v } else { v })
        .collect();
    // Stretch so the background is 0 and the strongest ink 255.
    let base = if background > 127.0 {
        255.0 - background
    } else {
        background
    };
    let peak = ink.iter().cloned().fold(0.0f32, f32::max);
    if peak - base < 32.0 {
        return Err(bad(path, "no digit found: the picture has no contrast"));
    }
    for v in ink.iter_mut() {
        *v = ((*v - base) / (peak - base) * 255.0).clamp(0.0, 255.0);
    }
    // Bounding box of the ink.
    let threshold = 64.0;
    let (mut x0, mut y0, mut x1, mut y1) = (w, h, 0, 0);
    for y in 0..h {
        for x in 0..w {
            if ink[y * w + x] > threshold {
                (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
            }
        }
    }
    if x1 < x0 {
        return Err(bad(path, "no digit found in the picture"));
    }
    let (bw, bh) = (x1 - x0 + 1, y1 - y0 + 1);
    let crop: Vec<f32> = (y0..=y1)
        .flat_map(|y| ink[y * w + x0..=y * w + x1].to_vec())
        .collect();
    // Fit into 20×20, keeping the aspect ratio.
    let s = 20.0 / bw.max(bh) as f64;
    let (nw, nh) = (
        ((bw as f64 * s).round() as usize).clamp(1, 20),
        ((bh as f64 * s).round() as usize).clamp(1, 20),
    );
    let small = resample(&crop, bw, bh, nw, nh);
    // Centre of mass to the centre of the 28×28 field.
    let total: f64 = small.iter().map(|&v| v as f64).sum();
    let (mut cx, mut cy) = (0.0, 0.0);
    for y in 0..nh {
        for x in 0..nw {
            cx += x as f64 * small[y * nw + x] as f64;
            cy += y as f64 * small[y * nw + x] as f64;
        }
    }
    let (cx, cy) = (cx / total.max(1e-9), cy / total.max(1e-9));
    let ox = ((13.5 - cx).round() as isize).clamp(0, (28 - nw) as isize) as usize;
    let oy = ((13.5 - cy).round() as isize).clamp(0, (28 - nh) as isize) as usize;
    let mut field = vec![0f32; 784];
    for y in 0..nh {
        for x in 0..nw {
            field[(oy + y) * 28 + ox + x] = small[y * nw + x].round() / 255.0;
        }
    }
    Ok(Tensor::from_vec(field, [1, 28, 28]))
}
