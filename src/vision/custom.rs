//! The data tutorial's `CustomImageDataset`: images named in a CSV file, with
//! their labels.

use std::path::{Path, PathBuf};

use crate::data::transforms::Transform;
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// The largest annotations file read.
const MAX_CSV_BYTES: u64 = 256 << 20;

/// Images listed in a CSV file of `file_name,label` rows (after a header
/// row, as `pandas.read_csv` reads it), loaded from `img_dir` with
/// [`read_image`](super::io::read_image) as uint8 `[C, H, W]`, then through
/// the transform when one is set: PyTorch's data tutorial's
/// `CustomImageDataset(annotations_file, img_dir, transform)`.
///
/// The CSV is read and checked when the dataset is made: a missing file, a
/// row without two fields, a label that is not an integer, or a row naming
/// an image that does not exist is one error naming the CSV and the row. An
/// image that cannot be decoded is reported the same way when it is read.
///
/// ```no_run
/// use kindling::data::{transforms::ConvertImageDtype, Dataset};
/// use kindling::vision::CustomImageDataset;
/// let data = CustomImageDataset::new("labels.csv", "img")?.transform(ConvertImageDtype::new());
/// let (image, label) = data.get(0)?;
/// # Ok::<(), kindling::Error>(())
/// ```
pub struct CustomImageDataset {
    annotations_file: PathBuf,
    /// (image path, label, line of the CSV it came from)
    rows: Vec<(PathBuf, i64, u64)>,
    transform: Option<Box<dyn Transform>>,
}

impl CustomImageDataset {
    /// Reads and checks `annotations_file`; images are read later, by `get`.
    pub fn new(annotations_file: impl AsRef<Path>, img_dir: impl AsRef<Path>) -> Result<Self> {
        let csv_path = annotations_file.as_ref().to_path_buf();
        let img_dir = img_dir.as_ref();
        let bytes = crate::io::read_bounded(&csv_path, MAX_CSV_BYTES)?;
        let bad = |line: u64, message: String| Error::Io {
            path: csv_path.clone(),
            message: format!("row {line}: {message}"),
        };
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .trim(csv::Trim::All)
            .from_reader(bytes.as_slice());
        let mut rows = Vec::new();
        for record in reader.records() {
            let record = record.map_err(|e| {
                let line = e.position().map_or(0, |p| p.line());
                bad(line, format!("not valid CSV ({e})"))
            })?;
            let line = record.position().map_or(0, |p| p.line());
            if record.len() < 2 || record[0].is_empty() {
                return Err(bad(
                    line,
                    format!(
                        "expected an image file name and a label, got {} field{}",
                        record.len(),
                        if record.len() == 1 { "" } else { "s" }
                    ),
                ));
            }
            let label: i64 = record[1]
                .parse()
                .map_err(|_| bad(line, format!("label '{}' is not an integer", &record[1])))?;
            let image = img_dir.join(&record[0]);
            if !image.is_file() {
                return Err(bad(
                    line,
                    format!("{}: no such image file", image.display()),
                ));
            }
            rows.push((image, label, line));
        }
        Ok(CustomImageDataset {
            annotations_file: csv_path,
            rows,
            transform: None,
        })
    }

    /// Applies `transform` to each image (`transform=ToTensor()`).
    pub fn transform(mut self, transform: impl Transform + 'static) -> Self {
        self.transform = Some(Box::new(transform));
        self
    }

    /// The image file and label of sample `index`.
    pub fn entry(&self, index: usize) -> Option<(&Path, i64)> {
        self.rows.get(index).map(|(p, l, _)| (p.as_path(), *l))
    }
}

impl Dataset for CustomImageDataset {
    fn len(&self) -> usize {
        self.rows.len()
    }

    fn get(&self, index: usize) -> Result<(Tensor, i64)> {
        let (path, label, line) = self.rows.get(index).ok_or(Error::IndexOutOfRange {
            index: index as i64,
            dim: 0,
            size: self.rows.len(),
        })?;
        let image = super::io::read_image(path).map_err(|e| Error::Io {
            path: self.annotations_file.clone(),
            message: format!("row {line}: {e}"),
        })?;
        let image = match &self.transform {
            Some(t) => t.apply(&image)?,
            None => image,
        };
        Ok((image, *label))
    }
}
