//! Pictures as PNG files: matplotlib-style `imshow`, image grids with labels,
//! training curves and confusion matrices, drawn on a small RGB canvas with a
//! built-in bitmap font (no system fonts needed).

mod colormap;
mod font;
pub mod pyplot;

use std::path::Path;

pub use colormap::Colormap;

use crate::error::{Error, Result};

/// An RGB color.
pub type Rgb = [u8; 3];

/// White.
pub const WHITE: Rgb = [255, 255, 255];
/// Black.
pub const BLACK: Rgb = [0, 0, 0];
/// matplotlib's first two default line colors (`tab:blue`, `tab:orange`).
pub const BLUE: Rgb = [31, 119, 180];
/// `tab:orange`.
pub const ORANGE: Rgb = [255, 127, 14];
const GRID: Rgb = [225, 225, 225];

/// A raster image to draw on.
pub struct Canvas {
    width: usize,
    height: usize,
    pixels: Vec<Rgb>,
}

impl Canvas {
    /// A canvas filled with `background`.
    pub fn new(width: usize, height: usize, background: Rgb) -> Canvas {
        Canvas {
            width,
            height,
            pixels: vec![background; width * height],
        }
    }

    /// Width in pixels.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> usize {
        self.height
    }

    /// The color at `(x, y)`.
    pub fn pixel(&self, x: usize, y: usize) -> Rgb {
        self.pixels[y * self.width + x]
    }

    fn put(&mut self, x: isize, y: isize, c: Rgb) {
        if x >= 0 && y >= 0 && (x as usize) < self.width && (y as usize) < self.height {
            self.pixels[y as usize * self.width + x as usize] = c;
        }
    }

    /// Fills a rectangle.
    pub fn fill_rect(&mut self, x: isize, y: isize, w: usize, h: usize, c: Rgb) {
        for dy in 0..h as isize {
            for dx in 0..w as isize {
                self.put(x + dx, y + dy, c);
            }
        }
    }

    /// Draws a rectangle outline.
    pub fn rect(&mut self, x: isize, y: isize, w: usize, h: usize, c: Rgb) {
        self.fill_rect(x, y, w, 1, c);
        self.fill_rect(x, y + h as isize - 1, w, 1, c);
        self.fill_rect(x, y, 1, h, c);
        self.fill_rect(x + w as isize - 1, y, 1, h, c);
    }

    /// Draws a line `thickness` pixels wide.
    pub fn line(&mut self, (x0, y0): (f64, f64), (x1, y1): (f64, f64), c: Rgb, thickness: usize) {
        let steps = ((x1 - x0).abs().max((y1 - y0).abs()).ceil() as usize).max(1);
        let r = thickness as isize / 2;
        for i in 0..=steps {
            let t = i as f64 / steps as f64;
            let (x, y) = (
                (x0 + t * (x1 - x0)).round() as isize,
                (y0 + t * (y1 - y0)).round() as isize,
            );
            self.fill_rect(x - r, y - r, thickness, thickness, c);
        }
    }

    /// Width of `text` in pixels at `scale`.
    pub fn text_width(text: &str, scale: usize) -> usize {
        text.chars().map(|ch| glyph(ch).0 as usize * scale).sum()
    }

    /// Height of a line of text at `scale`.
    pub fn text_height(scale: usize) -> usize {
        font::HEIGHT * scale
    }

    /// Draws `text` with its top-left corner at `(x, y)`.
    pub fn text(&mut self, x: isize, y: isize, text: &str, c: Rgb, scale: usize) {
        let mut cx = x;
        for ch in text.chars() {
            let (w, rows) = glyph(ch);
            for (ry, bits) in rows.iter().enumerate() {
                for rx in 0..16 {
                    if bits >> rx & 1 == 1 {
                        self.fill_rect(
                            cx + (rx * scale) as isize,
                            y + (ry * scale) as isize,
                            scale,
                            scale,
                            c,
                        );
                    }
                }
            }
            cx += (w as usize * scale) as isize;
        }
    }

    /// Draws `text` centred on `x`.
    pub fn text_centered(&mut self, x: isize, y: isize, text: &str, c: Rgb, scale: usize) {
        self.text(
            x - Self::text_width(text, scale) as isize / 2,
            y,
            text,
            c,
            scale,
        );
    }

    /// Draws a `rows × cols` grid of values through a colormap, each value a
    /// `scale × scale` block, with the colormap spanning `[vmin, vmax]`.
    #[allow(clippy::too_many_arguments)]
    pub fn image(
        &mut self,
        x: isize,
        y: isize,
        values: &[f32],
        rows: usize,
        cols: usize,
        vmin: f32,
        vmax: f32,
        cmap: &Colormap,
        scale: usize,
    ) {
        for r in 0..rows {
            for c in 0..cols {
                let color = cmap.map(values[r * cols + c], vmin, vmax);
                self.fill_rect(
                    x + (c * scale) as isize,
                    y + (r * scale) as isize,
                    scale,
                    scale,
                    color,
                );
            }
        }
    }

    /// The canvas encoded as PNG.
    pub fn png_bytes(&self) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        {
            let mut enc = png::Encoder::new(&mut out, self.width as u32, self.height as u32);
            enc.set_color(png::ColorType::Rgb);
            enc.set_depth(png::BitDepth::Eight);
            let mut w = enc
                .write_header()
                .map_err(|e| Error::Value(format!("PNG encoding failed: {e}")))?;
            let flat: Vec<u8> = self.pixels.iter().flatten().copied().collect();
            w.write_image_data(&flat)
                .map_err(|e| Error::Value(format!("PNG encoding failed: {e}")))?;
        }
        Ok(out)
    }

    /// Writes the canvas as a PNG file (atomically).
    pub fn save_png(&self, path: &Path) -> Result<()> {
        crate::io::write_atomic(path, &self.png_bytes()?)
    }
}

fn glyph(ch: char) -> (u8, [u16; font::HEIGHT]) {
    let code = ch as u32;
    let i = if (32..=126).contains(&code) {
        code - 32
    } else {
        '?' as u32 - 32
    };
    font::GLYPHS[i as usize]
}

/// The smallest and largest value: the range a colormap spans, as in `imshow`.
pub fn value_range(values: &[f32]) -> (f32, f32) {
    values
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        })
}

/// Labels for ticks between `lo` and `hi`: about `n` round numbers.
fn ticks(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    let span = (hi - lo).max(1e-12);
    let raw = span / n as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| span / s <= n as f64)
        .unwrap_or(10.0 * mag);
    let mut t = (lo / step).ceil() * step;
    let mut out = Vec::new();
    while t <= hi + 1e-9 * span {
        out.push(if t.abs() < 1e-12 * span { 0.0 } else { t });
        t += step;
    }
    out
}

fn tick_label(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{}", v.round() as i64)
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// matplotlib's `imshow` of one image: the colormap spans the image's value
/// range, nearest-neighbour pixels, axes ticks every 5 pixels, and a title.
pub fn imshow(
    values: &[f32],
    rows: usize,
    cols: usize,
    cmap: &Colormap,
    scale: usize,
    title: &str,
) -> Canvas {
    let scale = scale.max(1);
    let (left, top, right, bottom) = (50, if title.is_empty() { 20 } else { 44 }, 30, 40);
    let (iw, ih) = (cols * scale, rows * scale);
    let mut c = Canvas::new(left + iw + right, top + ih + bottom, WHITE);
    let (vmin, vmax) = value_range(values);
    c.image(
        left as isize,
        top as isize,
        values,
        rows,
        cols,
        vmin,
        vmax,
        cmap,
        scale,
    );
    c.rect(left as isize - 1, top as isize - 1, iw + 2, ih + 2, BLACK);
    for t in (0..cols).step_by(5) {
        let x = (left + t * scale + scale / 2) as isize;
        c.fill_rect(x, (top + ih + 1) as isize, 1, 5, BLACK);
        c.text_centered(x, (top + ih + 8) as isize, &t.to_string(), BLACK, 1);
    }
    for t in (0..rows).step_by(5) {
        let y = (top + t * scale + scale / 2) as isize;
        c.fill_rect(left as isize - 6, y, 5, 1, BLACK);
        let label = t.to_string();
        c.text(
            left as isize - 9 - Canvas::text_width(&label, 1) as isize,
            y - 8,
            &label,
            BLACK,
            1,
        );
    }
    if !title.is_empty() {
        c.text_centered((left + iw / 2) as isize, 12, title, BLACK, 1);
    }
    c
}

/// A grid of images, each with a caption under it.
#[allow(clippy::too_many_arguments)]
pub fn image_grid(
    images: &[Vec<f32>],
    rows: usize,
    cols: usize,
    captions: &[String],
    per_row: usize,
    cmap: &Colormap,
    scale: usize,
    title: &str,
) -> Canvas {
    let per_row = per_row.max(1).min(images.len().max(1));
    let n_rows = images.len().div_ceil(per_row).max(1);
    let caption_w = captions
        .iter()
        .map(|s| Canvas::text_width(s, 1))
        .max()
        .unwrap_or(0);
    let cell_w = (cols * scale).max(caption_w) + 12;
    let cell_h = rows * scale + Canvas::text_height(1) + 12;
    let top = if title.is_empty() { 8 } else { 32 };
    let mut c = Canvas::new(per_row * cell_w + 8, top + n_rows * cell_h + 4, WHITE);
    if !title.is_empty() {
        c.text_centered(c.width() as isize / 2, 8, title, BLACK, 1);
    }
    for (i, img) in images.iter().enumerate() {
        let (gx, gy) = ((i % per_row) * cell_w + 4, top + (i / per_row) * cell_h);
        let x = gx + (cell_w - cols * scale) / 2;
        let (vmin, vmax) = value_range(img);
        c.image(
            x as isize,
            gy as isize,
            img,
            rows,
            cols,
            vmin,
            vmax,
            cmap,
            scale,
        );
        if let Some(cap) = captions.get(i) {
            c.text_centered(
                (gx + cell_w / 2) as isize,
                (gy + rows * scale + 3) as isize,
                cap,
                BLACK,
                1,
            );
        }
    }
    c
}

/// One line of a line chart.
pub struct Series<'a> {
    /// Legend label.
    pub label: &'a str,
    /// The y values at x = 1, 2, ...
    pub values: &'a [f64],
    /// Line color.
    pub color: Rgb,
}

/// Where a chart's legend goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Legend {
    /// Top right corner (for falling curves).
    UpperRight,
    /// Bottom right corner (for rising curves).
    LowerRight,
}

/// A line chart with axes, ticks, a title and a legend.
pub fn line_chart(
    c: &mut Canvas,
    (x0, y0, w, h): (usize, usize, usize, usize),
    title: &str,
    y_label: &str,
    series: &[Series<'_>],
    legend: Legend,
) {
    let (left, top, right, bottom) = (x0 + 60, y0 + 30, x0 + w - 16, y0 + h - 46);
    let n = series
        .iter()
        .map(|s| s.values.len())
        .max()
        .unwrap_or(0)
        .max(1);
    let all: Vec<f64> = series
        .iter()
        .flat_map(|s| s.values.iter().copied())
        .filter(|v| v.is_finite())
        .collect();
    let (mut lo, mut hi) = all
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    if !lo.is_finite() {
        (lo, hi) = (0.0, 1.0);
    }
    let pad = ((hi - lo) * 0.08).max(1e-3);
    let (lo, hi) = (lo - pad, hi + pad);
    let px = |i: f64| {
        left as f64
            + if n > 1 {
                (i - 1.0) / (n as f64 - 1.0)
            } else {
                0.5
            } * (right - left) as f64
    };
    let py = |v: f64| bottom as f64 - (v - lo) / (hi - lo) * (bottom - top) as f64;
    for t in ticks(lo, hi, 5) {
        let y = py(t).round() as isize;
        c.fill_rect(left as isize, y, right - left, 1, GRID);
        c.fill_rect(left as isize - 5, y, 5, 1, BLACK);
        let label = tick_label(t);
        c.text(
            left as isize - 8 - Canvas::text_width(&label, 1) as isize,
            y - 8,
            &label,
            BLACK,
            1,
        );
    }
    for t in ticks(1.0, n as f64, n.min(10))
        .into_iter()
        .filter(|t| t.fract() == 0.0)
    {
        let x = px(t).round() as isize;
        c.fill_rect(x, bottom as isize, 1, 5, BLACK);
        c.text_centered(x, bottom as isize + 7, &tick_label(t), BLACK, 1);
    }
    c.rect(
        left as isize,
        top as isize,
        right - left + 1,
        bottom - top + 1,
        BLACK,
    );
    c.text_centered(
        ((left + right) / 2) as isize,
        (y0 + 8) as isize,
        title,
        BLACK,
        1,
    );
    c.text_centered(
        ((left + right) / 2) as isize,
        (bottom + 26) as isize,
        "epoch",
        BLACK,
        1,
    );
    c.text((x0 + 4) as isize, (top - 22) as isize, y_label, BLACK, 1);
    for s in series {
        let pts: Vec<(f64, f64)> = s
            .values
            .iter()
            .enumerate()
            .map(|(i, &v)| (px(i as f64 + 1.0), py(v)))
            .collect();
        for w in pts.windows(2) {
            c.line(w[0], w[1], s.color, 2);
        }
        for &(x, y) in &pts {
            c.fill_rect(
                x.round() as isize - 3,
                y.round() as isize - 3,
                7,
                7,
                s.color,
            );
        }
    }
    let mut ly = match legend {
        Legend::UpperRight => top as isize + 8,
        Legend::LowerRight => bottom as isize - 8 - 18 * series.len() as isize,
    };
    for s in series {
        let lx = right as isize - 12 - Canvas::text_width(s.label, 1) as isize - 24;
        c.line(
            (lx as f64, ly as f64 + 8.0),
            (lx as f64 + 18.0, ly as f64 + 8.0),
            s.color,
            2,
        );
        c.text(lx + 22, ly, s.label, BLACK, 1);
        ly += 18;
    }
}

/// A confusion matrix: rows are true classes, columns predictions, each cell
/// shaded by its count and labelled with it.
pub fn confusion_matrix(counts: &[Vec<usize>], labels: &[String], title: &str) -> Canvas {
    let k = counts.len();
    // Column labels wrap at spaces and slashes ("Ankle boot", "T-shirt/top");
    // the cells widen to the longest word, so no two labels overlap.
    let columns: Vec<Vec<String>> = labels.iter().map(|l| wrap_words(l, 40)).collect();
    let widest_word = columns
        .iter()
        .flatten()
        .map(|w| Canvas::text_width(w, 1))
        .max()
        .unwrap_or(0);
    let cell = 44.max(widest_word + 8);
    let columns: Vec<Vec<String>> = labels.iter().map(|l| wrap_words(l, cell - 6)).collect();
    let label_lines = columns.iter().map(Vec::len).max().unwrap_or(1).max(1);
    let line_h = Canvas::text_height(1) + 2;
    let label_w = labels
        .iter()
        .map(|l| Canvas::text_width(l, 1))
        .max()
        .unwrap_or(0);
    let (left, top) = (label_w + 44, 56);
    let extra = (label_lines - 1) * line_h;
    let mut c = Canvas::new(left + k * cell + 20, top + k * cell + 52 + extra, WHITE);
    let max = counts.iter().flatten().copied().max().unwrap_or(1).max(1) as f32;
    let blues = Colormap::by_name("Blues").expect("Blues is built in");
    for (r, row) in counts.iter().enumerate() {
        for (col, &n) in row.iter().enumerate() {
            let (x, y) = ((left + col * cell) as isize, (top + r * cell) as isize);
            let color = blues.map(n as f32, 0.0, max);
            c.fill_rect(x, y, cell, cell, color);
            let luminance =
                0.299 * color[0] as f32 + 0.587 * color[1] as f32 + 0.114 * color[2] as f32;
            let ink = if luminance < 128.0 { WHITE } else { BLACK };
            c.text_centered(
                x + cell as isize / 2,
                y + cell as isize / 2 - 8,
                &n.to_string(),
                ink,
                1,
            );
        }
    }
    c.rect(
        left as isize - 1,
        top as isize - 1,
        k * cell + 2,
        k * cell + 2,
        BLACK,
    );
    for (i, l) in labels.iter().enumerate() {
        c.text(
            left as isize - 8 - Canvas::text_width(l, 1) as isize,
            (top + i * cell + cell / 2) as isize - 8,
            l,
            BLACK,
            1,
        );
        for (j, line) in columns[i].iter().enumerate() {
            c.text_centered(
                (left + i * cell + cell / 2) as isize,
                (top + k * cell + 6 + j * line_h) as isize,
                line,
                BLACK,
                1,
            );
        }
    }
    c.text_centered(
        (left + k * cell / 2) as isize,
        (top + k * cell + 28 + extra) as isize,
        "predicted",
        BLACK,
        1,
    );
    c.text(4, top as isize - 22, "true", BLACK, 1);
    c.text_centered((left + k * cell / 2) as isize, 10, title, BLACK, 1);
    c
}

/// `text` in lines of at most `width` pixels, broken after spaces and
/// slashes (a word wider than `width` gets a line of its own).
fn wrap_words(text: &str, width: usize) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    for ch in text.chars() {
        if ch == ' ' {
            words.push(std::mem::take(&mut word));
        } else {
            word.push(ch);
            if ch == '/' {
                words.push(std::mem::take(&mut word));
            }
        }
    }
    words.push(word);
    let mut lines: Vec<String> = Vec::new();
    for w in words.into_iter().filter(|w| !w.is_empty()) {
        match lines.last_mut() {
            Some(last) => {
                let sep = if last.ends_with('/') { "" } else { " " };
                let joined = format!("{last}{sep}{w}");
                if Canvas::text_width(&joined, 1) <= width {
                    *last = joined;
                } else {
                    lines.push(w);
                }
            }
            None => lines.push(w),
        }
    }
    if lines.is_empty() {
        lines.push(String::new());
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_wrap_at_spaces_and_slashes() {
        assert_eq!(wrap_words("Ankle boot", 40), ["Ankle", "boot"]);
        assert_eq!(wrap_words("T-shirt/top", 40), ["T-shirt/", "top"]);
        assert_eq!(wrap_words("Bag", 40), ["Bag"]);
        assert_eq!(wrap_words("Ankle boot", 500), ["Ankle boot"]);
    }

    #[test]
    fn ticks_are_round() {
        assert_eq!(
            ticks(0.0, 1.0, 5),
            vec![0.0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0]
        );
        assert_eq!(tick_label(0.6000000000000001), "0.6");
        assert_eq!(ticks(1.0, 10.0, 10).len(), 10);
    }

    #[test]
    fn png_round_trip() {
        let mut c = Canvas::new(4, 3, WHITE);
        c.fill_rect(1, 1, 2, 1, BLUE);
        let bytes = c.png_bytes().unwrap();
        let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!((info.width, info.height), (4, 3));
        assert_eq!(&buf[(4 + 1) * 3..(4 + 1) * 3 + 3], &BLUE);
    }
}
