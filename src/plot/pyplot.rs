//! A matplotlib-like figure API on kindling's renderer: `figure`, subplots,
//! `imshow` of a tensor, `plot(x, y)` with labels and a legend, titles above
//! each axes, `axis("off")`, and `savefig("out.png")`.
//!
//! ```
//! use kindling::plot::pyplot as plt;
//! use kindling::Tensor;
//!
//! let mut figure = plt::figure((8.0, 8.0));
//! for i in 1..=9 {
//!     let img = Tensor::rand([1, 28, 28]);
//!     let ax = figure.add_subplot(3, 3, i);
//!     ax.title(format!("sample {i}"));
//!     ax.axis("off");
//!     ax.imshow(&img.squeeze(), "gray")?;
//! }
//! # let dir = std::env::temp_dir().join(format!("kindling-doc-pyplot-{}", std::process::id()));
//! # std::fs::create_dir_all(&dir)?;
//! # let path = dir.join("grid.png");
//! figure.savefig(&path)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Sizes are in inches at 100 dots per inch, as matplotlib's defaults; the
//! axes fill a grid of cells with matplotlib's default margins and spacing.

use std::path::Path;

use super::{Canvas, Colormap, Rgb, BLACK, WHITE};
use crate::error::{Error, Result};
use crate::tensor::{DType, Tensor};

/// matplotlib's default colour cycle (`tab:blue`, `tab:orange`, ...).
const CYCLE: [Rgb; 6] = [
    [31, 119, 180],
    [255, 127, 14],
    [44, 160, 44],
    [214, 39, 40],
    [148, 103, 189],
    [140, 86, 75],
];

/// Lines with more points than this are drawn without markers.
const MARKERS_UP_TO: usize = 40;

/// `plt.figure(figsize=(w, h))`: a figure `w` × `h` inches (100 pixels each).
pub fn figure(figsize: (f64, f64)) -> Figure {
    let px = |inches: f64| ((inches * 100.0).round() as usize).clamp(50, 4000);
    Figure {
        width: px(figsize.0),
        height: px(figsize.1),
        grid: (1, 1),
        axes: Vec::new(),
    }
}

/// `fig, axes = plt.subplots(rows, cols, figsize=...)`: a figure with a grid of
/// axes, numbered 1.. row by row, reached with [`Figure::ax`].
pub fn subplots(rows: usize, cols: usize, figsize: (f64, f64)) -> Figure {
    let mut f = figure(figsize);
    for i in 1..=rows.max(1) * cols.max(1) {
        f.add_subplot(rows, cols, i);
    }
    f
}

/// A figure: a grid of axes, saved as one PNG.
pub struct Figure {
    width: usize,
    height: usize,
    grid: (usize, usize),
    axes: Vec<(usize, Axes)>,
}

/// What one axes draws.
enum Artist {
    Image {
        values: Vec<f32>,
        rows: usize,
        cols: usize,
        cmap: Colormap,
        rgb: Option<Vec<Rgb>>,
    },
    Line {
        x: Vec<f64>,
        y: Vec<f64>,
        label: String,
        color: Rgb,
    },
}

/// One subplot: its images or lines, title, axis labels, legend.
#[derive(Default)]
pub struct Axes {
    artists: Vec<Artist>,
    title: String,
    xlabel: String,
    ylabel: String,
    axis_off: bool,
    legend: bool,
}

impl Figure {
    /// `figure.add_subplot(rows, cols, index)`: the axes at `index` (1-based,
    /// row by row) of a `rows` × `cols` grid, made on first use.
    pub fn add_subplot(&mut self, rows: usize, cols: usize, index: usize) -> &mut Axes {
        self.grid = (rows.max(1), cols.max(1));
        let pos = match self.axes.iter().position(|(i, _)| *i == index) {
            Some(p) => p,
            None => {
                self.axes.push((index, Axes::default()));
                self.axes.len() - 1
            }
        };
        &mut self.axes[pos].1
    }

    /// How many axes the figure has (matplotlib's `len(fig.axes)`).
    pub fn axes_count(&self) -> usize {
        self.axes.len()
    }

    /// The axes at `index` (1-based), made on first use, in the current grid.
    pub fn ax(&mut self, index: usize) -> &mut Axes {
        let (r, c) = self.grid;
        self.add_subplot(r, c, index)
    }

    /// `plt.savefig(path)`: renders the figure and writes it as a PNG
    /// (atomically: a temporary file, then a rename).
    pub fn savefig(&self, path: impl AsRef<Path>) -> Result<()> {
        self.render().save_png(path.as_ref())
    }

    /// The rendered figure.
    pub fn render(&self) -> Canvas {
        let mut c = Canvas::new(self.width, self.height, WHITE);
        let (rows, cols) = self.grid;
        // matplotlib's subplot parameters: left .125, right .9, bottom .11,
        // top .88, wspace = hspace = .2 (of the mean axes size).
        let (l, r, b, t) = (0.125, 0.9, 0.11, 0.88);
        let (fw, fh) = (self.width as f64, self.height as f64);
        let cell_w = (r - l) * fw / (cols as f64 + 0.2 * (cols as f64 - 1.0));
        let cell_h = (t - b) * fh / (rows as f64 + 0.2 * (rows as f64 - 1.0));
        for (index, ax) in &self.axes {
            let k = index.saturating_sub(1);
            let (row, col) = (k / cols, k % cols);
            if row >= rows {
                continue;
            }
            let x0 = l * fw + col as f64 * cell_w * 1.2;
            let y0 = (1.0 - t) * fh + row as f64 * cell_h * 1.2;
            ax.draw(&mut c, (x0, y0, cell_w, cell_h));
        }
        c
    }
}

impl Axes {
    /// `plt.title(text)`, drawn centred above the axes.
    pub fn title(&mut self, text: impl Into<String>) -> &mut Axes {
        self.title = text.into();
        self
    }

    /// `plt.axis("off")` hides the frame and ticks; `"on"` shows them.
    pub fn axis(&mut self, mode: &str) -> &mut Axes {
        self.axis_off = mode == "off";
        self
    }

    /// `plt.xlabel(text)`.
    pub fn xlabel(&mut self, text: impl Into<String>) -> &mut Axes {
        self.xlabel = text.into();
        self
    }

    /// `plt.ylabel(text)`.
    pub fn ylabel(&mut self, text: impl Into<String>) -> &mut Axes {
        self.ylabel = text.into();
        self
    }

    /// `plt.legend()`: a box naming each labelled line.
    pub fn legend(&mut self) -> &mut Axes {
        self.legend = true;
        self
    }

    /// `plt.imshow(img, cmap=...)`: an `[H, W]` image (uint8, or float
    /// scaled over its own range as matplotlib does), or a `[C, H, W]` one
    /// (1 channel through the colormap, 3 as RGB; uint8 or float in [0, 1]).
    /// Errors name what else was given.
    pub fn imshow(&mut self, image: &Tensor, cmap: &str) -> Result<&mut Axes> {
        let cmap = Colormap::by_name(cmap)?;
        let img = crate::no_grad(|| image.to_dtype(DType::F32).contiguous());
        let (values, rows, cols, rgb) = match *img.shape() {
            [h, w] => (img.to_vec::<f32>(), h, w, None),
            [1, h, w] => (img.to_vec::<f32>(), h, w, None),
            [3, h, w] => {
                let v = img.to_vec::<f32>();
                let scale = if image.dtype() == DType::U8 {
                    1.0
                } else {
                    255.0
                };
                let px = (0..h * w)
                    .map(|i| {
                        [0, 1, 2]
                            .map(|ch| (v[ch * h * w + i] * scale).round().clamp(0.0, 255.0) as u8)
                    })
                    .collect();
                (Vec::new(), h, w, Some(px))
            }
            _ => {
                return Err(Error::Shape(format!(
                "Invalid shape {:?} for image data: imshow takes [H, W], [1, H, W] or [3, H, W]",
                image.shape()
            )))
            }
        };
        self.artists.push(Artist::Image {
            values,
            rows,
            cols,
            cmap,
            rgb,
        });
        Ok(self)
    }

    /// `plt.plot(x, y, label=...)`: a line through the points, in the next
    /// colour of matplotlib's cycle; markers only when there are few points.
    pub fn plot(&mut self, x: &[f64], y: &[f64], label: &str) -> &mut Axes {
        let n = x.len().min(y.len());
        let lines = self
            .artists
            .iter()
            .filter(|a| matches!(a, Artist::Line { .. }))
            .count();
        self.artists.push(Artist::Line {
            x: x[..n].to_vec(),
            y: y[..n].to_vec(),
            label: label.to_string(),
            color: CYCLE[lines % CYCLE.len()],
        });
        self
    }

    fn draw(&self, c: &mut Canvas, (x0, y0, w, h): (f64, f64, f64, f64)) {
        let image = self.artists.iter().find_map(|a| match a {
            Artist::Image {
                values,
                rows,
                cols,
                cmap,
                rgb,
            } => Some((values, *rows, *cols, cmap, rgb)),
            _ => None,
        });
        // An image keeps its aspect: the axes shrink to it, centred in the cell.
        let (ax, ay, aw, ah) = match image {
            Some((_, rows, cols, _, _)) if rows > 0 && cols > 0 => {
                let s = (w / cols as f64).min(h / rows as f64);
                let (iw, ih) = (s * cols as f64, s * rows as f64);
                (x0 + (w - iw) / 2.0, y0 + (h - ih) / 2.0, iw, ih)
            }
            _ => (x0, y0, w, h),
        };
        let (ax, ay, aw, ah) = (
            ax.round() as isize,
            ay.round() as isize,
            aw.round() as usize,
            ah.round() as usize,
        );
        if let Some((values, rows, cols, cmap, rgb)) = image {
            let (vmin, vmax) = super::value_range(values);
            for py in 0..ah {
                let r = (py * rows / ah.max(1)).min(rows.saturating_sub(1));
                for px in 0..aw {
                    let col = (px * cols / aw.max(1)).min(cols.saturating_sub(1));
                    let colour = match rgb {
                        Some(rgb) => rgb[r * cols + col],
                        None => cmap.map(values[r * cols + col], vmin, vmax),
                    };
                    c.fill_rect(ax + px as isize, ay + py as isize, 1, 1, colour);
                }
            }
        }
        let lines: Vec<(&Vec<f64>, &Vec<f64>, &String, Rgb)> = self
            .artists
            .iter()
            .filter_map(|a| match a {
                Artist::Line { x, y, label, color } => Some((x, y, label, *color)),
                _ => None,
            })
            .collect();
        let finite = |v: &[f64]| -> (f64, f64) {
            let (lo, hi) = v
                .iter()
                .filter(|v| v.is_finite())
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
                    (lo.min(v), hi.max(v))
                });
            if lo > hi {
                (0.0, 1.0)
            } else if lo == hi {
                (lo - 0.5, hi + 0.5)
            } else {
                let pad = (hi - lo) * 0.05; // matplotlib's margins
                (lo - pad, hi + pad)
            }
        };
        let xs: Vec<f64> = lines.iter().flat_map(|l| l.0.iter().copied()).collect();
        let ys: Vec<f64> = lines.iter().flat_map(|l| l.1.iter().copied()).collect();
        let (xr, yr) = if image.is_some() {
            let (rows, cols) = image.map_or((1, 1), |i| (i.1, i.2));
            ((-0.5, cols as f64 - 0.5), (-0.5, rows as f64 - 0.5))
        } else {
            (finite(&xs), finite(&ys))
        };
        let to_px = |x: f64, y: f64| {
            let px = ax as f64 + (x - xr.0) / (xr.1 - xr.0) * aw as f64;
            let py = if image.is_some() {
                ay as f64 + (y - yr.0) / (yr.1 - yr.0) * ah as f64
            } else {
                ay as f64 + ah as f64 - (y - yr.0) / (yr.1 - yr.0) * ah as f64
            };
            (px, py)
        };
        for (x, y, _, colour) in &lines {
            let pts: Vec<(f64, f64)> = x
                .iter()
                .zip(y.iter())
                .filter(|(x, y)| x.is_finite() && y.is_finite())
                .map(|(&x, &y)| to_px(x, y))
                .collect();
            for pair in pts.windows(2) {
                c.line(pair[0], pair[1], *colour, 2);
            }
            if pts.len() <= MARKERS_UP_TO {
                for &(px, py) in &pts {
                    c.fill_rect(px as isize - 2, py as isize - 2, 5, 5, *colour);
                }
            }
        }
        if !self.axis_off {
            c.rect(ax - 1, ay - 1, aw + 2, ah + 2, BLACK);
            for v in ticks(xr.0, xr.1) {
                let (px, _) = to_px(v, yr.0);
                let label = tick_label(v);
                c.fill_rect(px as isize, ay + ah as isize, 1, 5, BLACK);
                c.text_centered(px as isize, ay + ah as isize + 8, &label, BLACK, 1);
            }
            for v in ticks(yr.0, yr.1) {
                let (_, py) = to_px(xr.0, v);
                let label = tick_label(v);
                c.fill_rect(ax - 6, py as isize, 5, 1, BLACK);
                let tw = Canvas::text_width(&label, 1) as isize;
                c.text(ax - 9 - tw, py as isize - 6, &label, BLACK, 1);
            }
            if !self.xlabel.is_empty() {
                let y = ay + ah as isize + 8 + Canvas::text_height(1) as isize + 6;
                c.text_centered(ax + aw as isize / 2, y, &self.xlabel, BLACK, 1);
            }
            if !self.ylabel.is_empty() {
                // The font has no rotation: the label stands above the y axis.
                c.text(
                    ax - 9,
                    ay - Canvas::text_height(1) as isize - 4,
                    &self.ylabel,
                    BLACK,
                    1,
                );
            }
        }
        if !self.title.is_empty() {
            let above = if !self.axis_off && !self.ylabel.is_empty() {
                2
            } else {
                1
            };
            let y = ay - above as isize * (Canvas::text_height(1) as isize + 6);
            c.text_centered(ax + aw as isize / 2, y, &self.title, BLACK, 1);
        }
        if self.legend && lines.iter().any(|l| !l.2.is_empty()) {
            let labelled: Vec<_> = lines.iter().filter(|l| !l.2.is_empty()).collect();
            let lh = Canvas::text_height(1) + 6;
            let bw = labelled
                .iter()
                .map(|l| Canvas::text_width(l.2, 1))
                .max()
                .unwrap_or(0)
                + 40;
            let bh = labelled.len() * lh + 8;
            // matplotlib's loc="best": the corner that covers the fewest points.
            let points: Vec<(f64, f64)> = lines
                .iter()
                .flat_map(|(x, y, _, _)| x.iter().zip(y.iter()).map(|(&x, &y)| to_px(x, y)))
                .collect();
            let corners = [
                (ax + aw as isize - bw as isize - 8, ay + 8),
                (ax + 8, ay + 8),
                (
                    ax + aw as isize - bw as isize - 8,
                    ay + ah as isize - bh as isize - 8,
                ),
                (ax + 8, ay + ah as isize - bh as isize - 8),
            ];
            let covered = |&(bx, by): &(isize, isize)| {
                points
                    .iter()
                    .filter(|&&(px, py)| {
                        px >= bx as f64 - 4.0
                            && px <= (bx + bw as isize) as f64 + 4.0
                            && py >= by as f64 - 4.0
                            && py <= (by + bh as isize) as f64 + 4.0
                    })
                    .count()
            };
            let (bx, by) = corners
                .iter()
                .copied()
                .min_by_key(covered)
                .unwrap_or(corners[0]);
            c.fill_rect(bx, by, bw, bh, WHITE);
            c.rect(bx, by, bw, bh, [200, 200, 200]);
            for (i, l) in labelled.iter().enumerate() {
                let y = by + 4 + (i * lh) as isize;
                c.fill_rect(bx + 6, y + lh as isize / 2 - 2, 20, 3, l.3);
                c.text(bx + 32, y, l.2, BLACK, 1);
            }
        }
    }
}

/// Round tick values spanning `[lo, hi]`: steps of 1, 2 or 5 × 10^k giving
/// 4 to 10 ticks, so any range reads well.
fn ticks(lo: f64, hi: f64) -> Vec<f64> {
    if hi.partial_cmp(&lo) != Some(std::cmp::Ordering::Greater)
        || !lo.is_finite()
        || !hi.is_finite()
    {
        return Vec::new();
    }
    let raw = (hi - lo) / 6.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| (hi - lo) / s <= 8.0)
        .unwrap_or(10.0 * mag);
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    (first..=last).map(|k| k as f64 * step).collect()
}

/// A tick's text: as few digits as the value needs (`0.2`, `1000`, `1e-05`).
fn tick_label(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    if v.abs() >= 1e5 || v.abs() < 1e-3 {
        return format!("{v:.0e}");
    }
    let s = format!("{v:.4}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_read_well_at_any_range() {
        assert_eq!(
            ticks(0.0, 1.0),
            [0.0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0]
        );
        assert_eq!(ticks(0.0, 938.0).len(), 5);
        assert!(ticks(2.1, 2.4).iter().all(|t| (2.1..=2.4).contains(t)));
        assert_eq!(tick_label(0.6000000000000001), "0.6");
        assert_eq!(tick_label(200.0), "200");
        assert_eq!(tick_label(0.00002), "2e-5");
        assert!(ticks(1.0, 1.0).is_empty());
    }

    #[test]
    fn a_grid_of_images_keeps_titles_above_and_images_square() {
        let mut fig = figure((3.0, 3.0));
        for i in 1..=4 {
            let ax = fig.add_subplot(2, 2, i);
            ax.title("T").axis("off");
            ax.imshow(&Tensor::ones([4, 4]), "gray").unwrap();
        }
        let c = fig.render();
        assert_eq!((c.width(), c.height()), (300, 300));
        // Cell 1 covers x in [37.5, 146), y in [36, 146): its image is white
        // (a constant image maps to the colormap's bottom, black for gray).
        assert_eq!(c.pixel(90, 90), [0, 0, 0]);
        let bad = fig
            .add_subplot(2, 2, 1)
            .imshow(&Tensor::ones([2, 2, 2]), "gray");
        assert!(bad.is_err());
        assert!(fig
            .add_subplot(2, 2, 1)
            .imshow(&Tensor::ones([2, 2]), "nope")
            .is_err());
    }

    #[test]
    fn lines_have_markers_only_when_few_points() {
        let mut fig = figure((4.0, 3.0));
        let x: Vec<f64> = (1..=938).map(|i| i as f64).collect();
        let y: Vec<f64> = x.iter().map(|v| 2.3 - v / 1000.0).collect();
        let ax = fig.add_subplot(1, 1, 1);
        ax.plot(&x, &y, "train loss")
            .xlabel("batch")
            .ylabel("loss")
            .legend();
        let c = fig.render();
        let blue = (0..c.width())
            .flat_map(|x| (0..c.height()).map(move |y| (x, y)))
            .filter(|&(x, y)| c.pixel(x, y) == CYCLE[0])
            .count();
        // A 2-pixel line across ~310 pixels, no 5×5 marker blobs on 938 points.
        assert!(blue > 300 && blue < 3000, "{blue}");
    }
}
