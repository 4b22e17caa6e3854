//! `kindling show`: one image as a matplotlib-style PNG or a terminal preview, or
//! a labelled grid of many.

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::Args;
use kindling::plot::{image_grid, imshow, Colormap};

use super::{fail, open_dataset, DataSource, DatasetName, Failure, Input, Split};

#[derive(Args)]
pub struct ShowArgs {
    #[command(flatten)]
    source: DataSource,
    /// Which dataset
    #[arg(long, value_enum, default_value = "mnist")]
    dataset: DatasetName,
    /// Which split
    #[arg(long, value_enum, default_value = "train")]
    split: Split,
    /// Index of the image (the first one of a grid)
    #[arg(long, default_value_t = 0)]
    index: usize,
    /// Colormap: viridis (matplotlib's default), gray, binary, Blues, each also with _r
    #[arg(long, default_value = "viridis")]
    cmap: String,
    /// Screen pixels per image pixel in the PNG
    #[arg(long, default_value_t = 10)]
    scale: usize,
    /// Write a PNG here (otherwise: a preview in the terminal)
    #[arg(long)]
    out: Option<PathBuf>,
    /// Show this many images from --index on, in a grid with their labels (needs --out)
    #[arg(long)]
    grid: Option<usize>,
    /// Also print the image tensor, as PyTorch prints it
    #[arg(long)]
    print: bool,
}

/// The most images in one grid.
const MAX_GRID: usize = 1000;
/// The most pixels in one picture (about 150 MB of RGB).
const MAX_PICTURE_PIXELS: usize = 50_000_000;

pub fn run(args: ShowArgs) -> Result<(), Failure> {
    let cmap = Colormap::by_name(&args.cmap)?;
    if args.scale == 0 || args.scale > 64 {
        return Err(fail("--scale must be between 1 and 64"));
    }
    let ds = open_dataset(args.dataset, args.split, &args.source, Input::Raw)?;
    let (n, h, w) = (ds.data.shape()[0], ds.data.shape()[1], ds.data.shape()[2]);
    let split = if args.split == Split::Train {
        "train"
    } else {
        "test"
    };
    if h == 0 || w == 0 {
        return Err(fail(format!(
            "the {split} split's images are {h}x{w} pixels: nothing to show"
        )));
    }
    let count = args.grid.unwrap_or(1);
    if count == 0 || count > MAX_GRID {
        return Err(fail(format!(
            "--grid shows 1 to {MAX_GRID} images, got {count}"
        )));
    }
    if args.index >= n || args.index + count > n {
        return Err(fail(format!(
            "index {} is out of range: the {split} split has {n} images",
            args.index + count - 1
        )));
    }
    // The picture's size, checked before anything is drawn.
    let (scale, per_row) = if args.grid.is_some() {
        ((args.scale / 3).max(2), 10.min(count))
    } else {
        (args.scale, 1)
    };
    let rows = count.div_ceil(per_row);
    let pixels = (per_row * (w * scale + 12)) as u128 * (rows * (h * scale + 24) + 40) as u128;
    if pixels > MAX_PICTURE_PIXELS as u128 {
        return Err(fail(format!(
            "the picture would have {pixels} pixels, more than the {MAX_PICTURE_PIXELS} allowed: show fewer images or lower --scale"
        )));
    }
    let label = |i: usize| ds.targets.i(i).item().to_i64() as usize;
    if let Some(g) = args.grid {
        let out = args
            .out
            .as_ref()
            .ok_or_else(|| fail("--grid writes a picture: add --out FILE.png"))?;
        let images: Vec<Vec<f32>> = (args.index..args.index + g)
            .map(|i| ds.data.i(i).to_vec::<f32>())
            .collect();
        let captions: Vec<String> = (args.index..args.index + g)
            .map(|i| format!("{i}: {}", super::short_class(&ds.classes[label(i)])))
            .collect();
        let title = format!(
            "{} {split} [{}..{}]",
            args.dataset.name(),
            args.index,
            args.index + g
        );
        image_grid(
            &images,
            h,
            w,
            &captions,
            10,
            &cmap,
            (args.scale / 3).max(2),
            &title,
        )
        .save_png(out)?;
        println!("saved {} ({g} images with labels)", out.display());
        return Ok(());
    }
    let image = ds.data.i(args.index);
    if args.print {
        println!("{image}");
    }
    let class = &ds.classes[label(args.index)];
    match &args.out {
        Some(out) => {
            let title = format!("{} {split}[{}]: {class}", args.dataset.name(), args.index);
            imshow(&image.to_vec::<f32>(), h, w, &cmap, args.scale, &title).save_png(out)?;
            println!(
                "saved {} ({} {split}[{}], label {class}, colormap {})",
                out.display(),
                args.dataset.name(),
                args.index,
                cmap.name()
            );
        }
        None => {
            if w > 200 {
                return Err(fail(format!(
                    "the images are {w} pixels wide, too wide for a terminal preview: add --out FILE.png"
                )));
            }
            preview(&image.to_vec::<f32>(), h, w, &cmap);
            println!(
                "{} {split}[{}]: label {class}",
                args.dataset.name(),
                args.index
            );
        }
    }
    Ok(())
}

/// Two pixels per character cell with Unicode upper half blocks in 24-bit color;
/// an ASCII ramp where colors are unavailable (not a terminal, or NO_COLOR).
fn preview(values: &[f32], rows: usize, cols: usize, cmap: &Colormap) {
    let (lo, hi) = kindling::plot::value_range(values);
    let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    for r in (0..rows).step_by(2) {
        let mut line = String::new();
        for c in 0..cols {
            let top = values[r * cols + c];
            let bottom = if r + 1 < rows {
                values[(r + 1) * cols + c]
            } else {
                lo
            };
            if color {
                let (t, b) = (cmap.map(top, lo, hi), cmap.map(bottom, lo, hi));
                line += &format!(
                    "\x1b[38;2;{};{};{}m\x1b[48;2;{};{};{}m▀",
                    t[0], t[1], t[2], b[0], b[1], b[2]
                );
            } else {
                const RAMP: &[u8] = b" .:-=+*#%@";
                let v = ((top + bottom) / 2.0 - lo) / (hi - lo).max(1e-6);
                let ch = RAMP[((v * (RAMP.len() - 1) as f32).round() as usize).min(RAMP.len() - 1)]
                    as char;
                line.push(ch);
            }
        }
        if color {
            line += "\x1b[0m";
        }
        println!("{line}");
    }
}
