//! matplotlib's colormaps, as 256-entry tables, and their reversed (`_r`) forms.

#[path = "colormap_data.rs"]
mod data;

use crate::error::{Error, Result};

/// A colormap: values in `[vmin, vmax]` to colors, as matplotlib maps them.
#[derive(Clone, Debug)]
pub struct Colormap {
    name: String,
    table: &'static [[u8; 3]; 256],
    reversed: bool,
}

/// The names accepted by [`Colormap::by_name`] (each also with `_r`).
pub const NAMES: [&str; 4] = ["viridis", "gray", "binary", "Blues"];

impl Colormap {
    /// `viridis`, `gray`, `binary`, `Blues`, or any of them reversed with `_r`.
    pub fn by_name(name: &str) -> Result<Colormap> {
        let (base, reversed) = match name.strip_suffix("_r") {
            Some(b) => (b, true),
            None => (name, false),
        };
        let table = match base {
            "viridis" => &data::VIRIDIS,
            "gray" | "grey" => &data::GRAY,
            "binary" => &data::BINARY,
            "Blues" => &data::BLUES,
            _ => {
                return Err(Error::Value(format!(
                    "unknown colormap '{name}' (expected one of: {}, each also with _r)",
                    NAMES.join(", ")
                )))
            }
        };
        Ok(Colormap {
            name: name.to_string(),
            table,
            reversed,
        })
    }

    /// The name it was made from.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The color of `v` with the map spanning `[vmin, vmax]`; matplotlib's
    /// indexing: `floor(t · 256)`, clipped to the table.
    pub fn map(&self, v: f32, vmin: f32, vmax: f32) -> [u8; 3] {
        let t = if vmax > vmin {
            (v - vmin) / (vmax - vmin)
        } else {
            0.0
        };
        let i = ((t * 256.0).floor() as isize).clamp(0, 255) as usize;
        self.table[if self.reversed { 255 - i } else { i }]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ends_and_reversal() {
        let v = Colormap::by_name("viridis").unwrap();
        assert_eq!(v.map(0.0, 0.0, 1.0), [68, 1, 84]); // matplotlib's viridis starts dark purple
        assert_eq!(v.map(1.0, 0.0, 1.0), [253, 231, 37]); // and ends yellow
        let b = Colormap::by_name("binary").unwrap();
        assert_eq!(b.map(0.0, 0.0, 255.0), [255, 255, 255]);
        assert_eq!(
            Colormap::by_name("binary_r").unwrap().map(0.0, 0.0, 255.0),
            [0, 0, 0]
        );
        assert!(Colormap::by_name("jet").is_err());
    }
}
