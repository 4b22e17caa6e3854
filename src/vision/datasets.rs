//! The MNIST family of datasets.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::download::{self, md5_hex, Resource};
use super::idx::read_idx;
use crate::data::transforms::{PixelStep, Transform};
use crate::data::{Dataset, Target};
use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// Where Debian's `dataset-fashion-mnist` package installs the four files.
pub const DEBIAN_FASHION_MNIST: &str = "/usr/share/datasets/fashion-mnist";

/// The data root: `KINDLING_DATA` when set, else `data` (torchvision's usual `root`).
pub fn default_root() -> PathBuf {
    std::env::var_os("KINDLING_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("data"))
}

/// One of the MNIST-format datasets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// Handwritten digits.
    Mnist,
    /// Zalando's clothing images.
    FashionMnist,
    /// Kuzushiji (cursive Japanese) characters.
    Kmnist,
}

/// The four files, without `.gz`: train images, train labels, test images, test labels.
const FILES: [&str; 4] = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
];

impl Family {
    /// The folder under the root, as torchvision names it (`MNIST`, `FashionMNIST`, `KMNIST`).
    pub fn folder(self) -> &'static str {
        match self {
            Family::Mnist => "MNIST",
            Family::FashionMnist => "FashionMNIST",
            Family::Kmnist => "KMNIST",
        }
    }

    /// The mirrors torchvision downloads from, in order. A build without the
    /// `https` feature (a notebook's: NOTE(notebook-build)) asks the same
    /// hosts over plain HTTP, as torchvision already does for Fashion-MNIST;
    /// every file is checked against its published MD5 either way.
    pub fn mirrors(self) -> Vec<String> {
        let m: &[&str] = match self {
            Family::Mnist => &[
                "https://ossci-datasets.s3.amazonaws.com/mnist/",
                "http://yann.lecun.com/exdb/mnist/",
            ],
            Family::FashionMnist => {
                &["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"]
            }
            Family::Kmnist => &["http://codh.rois.ac.jp/kmnist/dataset/kmnist/"],
        };
        m.iter()
            .map(|s| match s.strip_prefix("https://") {
                Some(rest) if !cfg!(feature = "https") => format!("http://{rest}"),
                _ => s.to_string(),
            })
            .collect()
    }

    /// The `.gz` files with the MD5s torchvision publishes for them.
    pub fn resources(self) -> Vec<Resource> {
        let md5: [&str; 4] = match self {
            Family::Mnist => [
                "f68b3c2dcbeaaa9fbdd348bbdeb94873",
                "d53e105ee54ea40749a09fcbcd1e9432",
                "9fb629c4189551a2d022fa330f9573f3",
                "ec29112dd5afa0611ce80d1b7f02629c",
            ],
            Family::FashionMnist => [
                "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
                "25c81989df183df01b3e8a0aad5dffbe",
                "bef4ecab320f06d8554ea6380940ec79",
                "bb300cfdad3c16e7a12a480ee83cd310",
            ],
            Family::Kmnist => [
                "bdb82020997e1d708af4cf47b453dcf7",
                "e144d726b3acfaa3e44228e80efcd344",
                "5c965bf0a639b31b8f53240b1b52f4d7",
                "7320c461ea6c1c855c0b718fb2a4b134",
            ],
        };
        // The published sizes of the `.gz` files, for NOTE(download-limits).
        let size: [u64; 4] = match self {
            Family::Mnist => [9_912_422, 28_881, 1_648_877, 4_542],
            Family::FashionMnist => [26_421_880, 29_515, 4_422_102, 5_148],
            Family::Kmnist => [18_165_135, 29_497, 3_041_136, 5_120],
        };
        FILES
            .iter()
            .zip(md5)
            .zip(size)
            .map(|((f, m), n)| Resource {
                file: format!("{f}.gz"),
                md5: m.to_string(),
                max_bytes: 2 * n,
            })
            .collect()
    }

    /// MD5s of the *uncompressed* files, which do not change when a copy is
    /// recompressed. Unknown for KMNIST, whose `.gz` digests are checked instead.
    pub fn content_md5(self) -> Option<[&'static str; 4]> {
        match self {
            Family::Mnist => Some([
                "6bbc9ace898e44ae57da46a324031adb",
                "a25bea736e30d166cdddb491f175f624",
                "2646ac647ad5339dbf082846283269ea",
                "27ae3e4e09519cfbb04c329615203637",
            ]),
            Family::FashionMnist => Some([
                "f4a8712d7a061bf5bd6d2ca38dc4d50a",
                "9018921c3c673c538a1fc5bad174d6f9",
                "8181f5470baa50b63fa0f6fddb340f0a",
                "15d484375f8d13e6eb1aabb0c3f46965",
            ]),
            Family::Kmnist => None,
        }
    }

    /// Class names, as torchvision lists them.
    pub fn classes(self) -> Vec<String> {
        let c: [&str; 10] = match self {
            Family::Mnist => [
                "0 - zero",
                "1 - one",
                "2 - two",
                "3 - three",
                "4 - four",
                "5 - five",
                "6 - six",
                "7 - seven",
                "8 - eight",
                "9 - nine",
            ],
            Family::FashionMnist => [
                "T-shirt/top",
                "Trouser",
                "Pullover",
                "Dress",
                "Coat",
                "Sandal",
                "Shirt",
                "Sneaker",
                "Bag",
                "Ankle boot",
            ],
            Family::Kmnist => ["o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"],
        };
        c.iter().map(|s| s.to_string()).collect()
    }

    /// Folders searched for the raw files: `ROOT/<folder>/raw`, then, for
    /// Fashion-MNIST, Debian's install location.
    pub fn search_dirs(self, root: &Path) -> Vec<PathBuf> {
        let mut dirs = vec![root.join(self.folder()).join("raw")];
        if self == Family::FashionMnist {
            dirs.push(PathBuf::from(DEBIAN_FASHION_MNIST));
        }
        dirs
    }
}

/// `name.gz` if present, else `name`, in `dir`.
fn find_file(dir: &Path, name: &str) -> Option<PathBuf> {
    [format!("{name}.gz"), name.to_string()]
        .into_iter()
        .map(|f| dir.join(f))
        .find(|p| p.is_file())
}

/// The first search folder that holds all four files.
fn locate(family: Family, root: &Path) -> Option<PathBuf> {
    family
        .search_dirs(root)
        .into_iter()
        .find(|d| FILES.iter().all(|f| find_file(d, f).is_some()))
}

/// The error for a dataset not under `root`; `explicit` when the root was
/// given (`root(...)`, `--root`), which the advice then says.
fn missing_error(family: Family, root: &Path, explicit: bool) -> Error {
    let dir = root.join(family.folder()).join("raw");
    let missing: Vec<String> = FILES
        .iter()
        .filter(|f| find_file(&dir, f).is_none())
        .map(|f| format!("{f}[.gz]"))
        .collect();
    let debian = if family == Family::FashionMnist {
        format!(" (also looked in {DEBIAN_FASHION_MNIST}, where Debian's dataset-fashion-mnist package puts it)")
    } else {
        String::new()
    };
    let point = if explicit {
        format!(
            "give as the root (root(...) or --root; it was given explicitly, so KINDLING_DATA was not read) a folder holding {}/raw/",
            family.folder()
        )
    } else {
        format!(
            "point the data root at a folder holding {}/raw/ (--root DIR or KINDLING_DATA=DIR)",
            family.folder()
        )
    };
    Error::Io {
        path: dir,
        message: format!(
            "{} is not there{debian}: missing {}. Download it (download(true) in the library; the command line downloads unless --no-download is given), \
             {point}, or copy the four files into this folder",
            family.folder(),
            missing.join(", "),
        ),
    }
}

/// Options for opening a dataset, in torchvision's terms.
pub struct DatasetBuilder {
    family: Family,
    root: PathBuf,
    /// Whether `root` was given (else it is `KINDLING_DATA` or `data`).
    explicit_root: bool,
    train: bool,
    download: bool,
    progress: bool,
    mirrors: Option<Vec<String>>,
    transform: Option<Arc<dyn Transform>>,
    target_transform: Option<TargetTransform>,
}

impl DatasetBuilder {
    fn new(family: Family) -> DatasetBuilder {
        DatasetBuilder {
            family,
            root: default_root(),
            explicit_root: false,
            train: true,
            download: false,
            progress: true,
            mirrors: None,
            transform: None,
            target_transform: None,
        }
    }

    /// The data root (default: `KINDLING_DATA`, else `data`). A root given
    /// here is used as it is: `KINDLING_DATA` is not read, and the error for
    /// missing files says so.
    pub fn root(mut self, root: impl Into<PathBuf>) -> Self {
        self.root = root.into();
        self.explicit_root = true;
        self
    }

    /// The 60,000-image training split (true, default) or the 10,000-image test split.
    pub fn train(mut self, train: bool) -> Self {
        self.train = train;
        self
    }

    /// Downloads missing files from the mirrors (default false).
    pub fn download(mut self, download: bool) -> Self {
        self.download = download;
        self
    }

    /// The mirrors to download from, in order (default: `KINDLING_MIRRORS` when
    /// set, else torchvision's); each file is fetched as `MIRROR/FILE.gz`.
    pub fn mirrors(mut self, mirrors: Vec<String>) -> Self {
        self.mirrors = Some(mirrors);
        self
    }

    /// Shows download progress on stderr (default true).
    pub fn progress(mut self, progress: bool) -> Self {
        self.progress = progress;
        self
    }

    /// A transform applied to each image by `get` (and by batches).
    pub fn transform(mut self, t: impl Transform + 'static) -> Self {
        self.transform = Some(Arc::new(t));
        self
    }

    /// A function applied to each label: to another label (`|y| 9 - y`), or to
    /// a tensor, as the transforms tutorial's one-hot encoding:
    ///
    /// ```no_run
    /// use kindling::vision::FashionMNIST;
    /// use kindling::Tensor;
    /// let ds = FashionMNIST::builder()
    ///     .target_transform(|y| Tensor::zeros([10]).scatter_(0, &Tensor::tensor(y), 1.0))
    ///     .build()?;
    /// # Ok::<(), kindling::Error>(())
    /// ```
    ///
    /// With tensor targets, [`Dataset::get`] (a label) refuses and
    /// [`Dataset::get_item`] and the `DataLoader` give the tensors (batches
    /// stack them).
    pub fn target_transform<T: TargetValue>(
        mut self,
        f: impl Fn(i64) -> T + Send + Sync + 'static,
    ) -> Self {
        self.target_transform = Some(T::wrap(Arc::new(f)));
        self
    }

    /// Opens the dataset, downloading first if asked and needed.
    ///
    /// # Errors
    /// Missing files (the message says where it looked and how to supply them),
    /// a failed download, or a malformed file (named, with what is wrong).
    pub fn build(self) -> Result<VisionDataset> {
        let family = self.family;
        let dir = match locate(family, &self.root) {
            Some(d) => d,
            None if self.download => {
                let dir = self.root.join(family.folder()).join("raw");
                let mirrors = self
                    .mirrors
                    .clone()
                    .unwrap_or_else(|| download::mirrors_from_env(family.mirrors()));
                download::download(&dir, &mirrors, &family.resources(), self.progress).map_err(|e| match e {
                    Error::Io { path, message } => Error::Io {
                        path,
                        message: format!(
                            "{message}. Offline? Point the data root at a folder holding {}/raw/ (--root DIR or KINDLING_DATA=DIR), or copy the four files into {}",
                            family.folder(),
                            dir.display()
                        ),
                    },
                    other => other,
                })?;
                dir
            }
            None => return Err(missing_error(family, &self.root, self.explicit_root)),
        };
        let (images, labels) = if self.train {
            (FILES[0], FILES[1])
        } else {
            (FILES[2], FILES[3])
        };
        let (ip, lp) = (
            find_file(&dir, images).unwrap(),
            find_file(&dir, labels).unwrap(),
        );
        let (data, targets) = load_split(&ip, &lp)?;
        let steps = self.transform.as_ref().and_then(|t| t.pixel_steps());
        Ok(VisionDataset {
            family,
            train: self.train,
            data,
            targets,
            classes: family.classes(),
            transform: self.transform,
            target_transform: self.target_transform,
            steps,
            dir,
            root: self.root,
        })
    }
}

/// Reads and cross-checks an images file and a labels file.
fn load_split(images: &Path, labels: &Path) -> Result<(Tensor, Tensor)> {
    let img = read_idx(images)?;
    let lab = read_idx(labels)?;
    let bad = |p: &Path, m: String| Error::Io {
        path: p.to_path_buf(),
        message: m,
    };
    if img.dims.len() != 3 {
        return Err(bad(
            images,
            format!(
                "expected images of shape [N, rows, cols], found {} dimensions",
                img.dims.len()
            ),
        ));
    }
    if lab.dims.len() != 1 {
        return Err(bad(
            labels,
            format!(
                "expected one label per image (1 dimension), found {} dimensions",
                lab.dims.len()
            ),
        ));
    }
    if lab.dims[0] != img.dims[0] {
        return Err(bad(
            labels,
            format!(
                "{} labels for {} images (in {})",
                lab.dims[0],
                img.dims[0],
                images.display()
            ),
        ));
    }
    if let Some((i, &l)) = lab.data.iter().enumerate().find(|(_, &l)| l > 9) {
        return Err(bad(
            labels,
            format!("label {l} at index {i} is not a class (expected 0..=9)"),
        ));
    }
    let targets: Vec<i64> = lab.data.iter().map(|&l| l as i64).collect();
    let n = targets.len();
    Ok((
        Tensor::from_vec(img.data, img.dims),
        Tensor::from_vec(targets, [n]),
    ))
}

/// The state of one file, as checked by [`VisionDataset::verify`].
#[derive(Clone, Debug, PartialEq)]
pub enum FileStatus {
    /// Content digest as published.
    Ok(PathBuf),
    /// Content differs from the published digest.
    Damaged { path: PathBuf, reason: String },
    /// Not found.
    Missing(String),
}

/// An MNIST-family split in memory: `data` (uint8 `[N, 28, 28]`), `targets`
/// (int64 `[N]`), `classes`, and samples through the transform.
pub struct VisionDataset {
    family: Family,
    train: bool,
    /// The images, uint8 `[N, 28, 28]`.
    pub data: Tensor,
    /// The labels, int64 `[N]`.
    pub targets: Tensor,
    /// Class names.
    pub classes: Vec<String>,
    transform: Option<Arc<dyn Transform>>,
    target_transform: Option<TargetTransform>,
    steps: Option<Vec<PixelStep>>,
    dir: PathBuf,
    /// The data root as given (what torchvision prints as the root location).
    root: PathBuf,
}

impl VisionDataset {
    /// Which dataset this is.
    pub fn family(&self) -> Family {
        self.family
    }

    /// True for the training split.
    pub fn is_train(&self) -> bool {
        self.train
    }

    /// The folder the files were read from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Checks the files of `family` under `root` against the known digests of their
    /// *uncompressed* content, so a recompressed copy of the right data passes and
    /// a damaged one fails, with the file named.
    pub fn verify(family: Family, root: &Path) -> Vec<FileStatus> {
        let dir = locate(family, root).unwrap_or_else(|| root.join(family.folder()).join("raw"));
        let resources = family.resources();
        FILES
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let Some(path) = find_file(&dir, name) else {
                    return FileStatus::Missing(
                        dir.join(format!("{name}[.gz]")).display().to_string(),
                    );
                };
                let result = match family.content_md5() {
                    Some(md5) => content_md5(&path).map(|d| (d, md5[i].to_string(), "content")),
                    None => fs::File::open(&path)
                        .and_then(md5_hex)
                        .map_err(|e| e.to_string())
                        .map(|d| (d, resources[i].md5.clone(), "file")),
                };
                match result {
                    Ok((got, want, _)) if got == want => FileStatus::Ok(path),
                    Ok((got, want, what)) => FileStatus::Damaged {
                        path,
                        reason: format!("{what} MD5 {got}, expected {want}"),
                    },
                    Err(reason) => FileStatus::Damaged { path, reason },
                }
            })
            .collect()
    }
}

fn content_md5(path: &Path) -> std::result::Result<String, String> {
    let f = fs::File::open(path).map_err(|e| e.to_string())?;
    let mut head = [0u8; 2];
    let gz = {
        std::io::Read::read(&mut &f, &mut head).map_err(|e| e.to_string())? == 2
            && head == [0x1f, 0x8b]
    };
    let f = fs::File::open(path).map_err(|e| e.to_string())?;
    if gz {
        md5_hex(flate2::read::MultiGzDecoder::new(std::io::BufReader::new(
            f,
        )))
        .map_err(|e| format!("corrupt gzip data ({e})"))
    } else {
        md5_hex(std::io::BufReader::new(f)).map_err(|e| e.to_string())
    }
}

/// torchvision's `print(dataset)`:
///
/// ```text
/// Dataset MNIST
///     Number of datapoints: 60000
///     Root location: data
///     Split: Train
///     StandardTransform
/// Transform: ToTensor()
/// ```
///
/// A target transform shows as `Lambda()`, as torchvision shows a `Lambda`.
impl std::fmt::Display for VisionDataset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Dataset {}\n    Number of datapoints: {}\n    Root location: {}\n    Split: {}",
            self.family.folder(),
            self.len(),
            self.root.display(),
            if self.train { "Train" } else { "Test" }
        )?;
        if self.transform.is_none() && self.target_transform.is_none() {
            return Ok(());
        }
        f.write_str("\n    StandardTransform")?;
        // torchvision's `_format_transform_repr`: later lines under the first.
        let head = |f: &mut std::fmt::Formatter<'_>, head: &str, repr: &str| {
            let pad = " ".repeat(head.len());
            write!(f, "\n{head}{}", repr.replace('\n', &format!("\n{pad}")))
        };
        if let Some(t) = &self.transform {
            head(f, "Transform: ", &t.repr())?;
        }
        if self.target_transform.is_some() {
            head(f, "Target transform: ", "Lambda()")?;
        }
        Ok(())
    }
}

/// What a dataset's `target_transform` returns: a label or a tensor.
pub trait TargetValue: Sized + 'static {
    /// The function, kept as the dataset keeps it.
    fn wrap(f: Arc<dyn Fn(i64) -> Self + Send + Sync>) -> TargetTransform;
}

/// A dataset's `target_transform`, by what it returns.
#[derive(Clone)]
pub enum TargetTransform {
    /// To another label.
    Label(Arc<dyn Fn(i64) -> i64 + Send + Sync>),
    /// To a tensor.
    Tensor(Arc<dyn Fn(i64) -> Tensor + Send + Sync>),
}

impl TargetValue for i64 {
    fn wrap(f: Arc<dyn Fn(i64) -> i64 + Send + Sync>) -> TargetTransform {
        TargetTransform::Label(f)
    }
}

impl TargetValue for Tensor {
    fn wrap(f: Arc<dyn Fn(i64) -> Tensor + Send + Sync>) -> TargetTransform {
        TargetTransform::Tensor(f)
    }
}

impl VisionDataset {
    fn image(&self, index: usize) -> Result<Tensor> {
        let image = self.data.try_select(0, index as isize)?;
        match &self.transform {
            Some(t) => t.apply(&image),
            None => Ok(image),
        }
    }

    fn target(&self, label: i64) -> Target {
        match &self.target_transform {
            None => Target::Label(label),
            Some(TargetTransform::Label(f)) => Target::Label(f(label)),
            Some(TargetTransform::Tensor(f)) => Target::Tensor(f(label)),
        }
    }
}

impl Dataset for VisionDataset {
    fn len(&self) -> usize {
        self.targets.numel()
    }

    fn get(&self, index: usize) -> Result<(Tensor, i64)> {
        match self.get_item(index)? {
            (image, Target::Label(y)) => Ok((image, y)),
            (_, Target::Tensor(_)) => Err(Error::Value(
                "this dataset's targets are tensors (its target_transform returns them): use get_item".into(),
            )),
        }
    }

    fn get_item(&self, index: usize) -> Result<(Tensor, Target)> {
        let image = self.image(index)?;
        let label = self.targets.try_select(0, index as isize)?.item().to_i64();
        Ok((image, self.target(label)))
    }

    /// The fast path: with no transform, or one made of per-pixel steps (ToTensor,
    /// Normalize), the batch is converted straight from the uint8 buffer into one
    /// float buffer, with the same float operations as the per-sample path.
    fn get_batch(&self, indices: &[usize]) -> Option<Result<(Tensor, Tensor)>> {
        if self.transform.is_some() && self.steps.is_none() {
            return None;
        }
        let (h, w) = (self.data.shape()[1], self.data.shape()[2]);
        let px = h * w;
        if let Some(&bad) = indices.iter().find(|&&i| i >= self.len()) {
            return Some(Err(Error::IndexOutOfRange {
                index: bad as i64,
                dim: 0,
                size: self.len(),
            }));
        }
        let _ = px;
        let images = match &self.steps {
            Some(steps) => {
                let steps: Vec<(f32, f32)> = steps.iter().map(|s| (s.sub, s.div)).collect();
                self.data
                    .pixel_rows(indices, &steps)
                    .reshape([indices.len(), 1, h, w])
            }
            None => self.data.pixel_rows(indices, &[]),
        };
        let labels = self
            .targets
            .with_slice(|t: &[i64], _| indices.iter().map(|&i| t[i]).collect::<Vec<_>>());
        let n = labels.len();
        let targets = match &self.target_transform {
            None => Tensor::from_vec(labels, [n]),
            Some(TargetTransform::Label(f)) => {
                Tensor::from_vec(labels.into_iter().map(|y| f(y)).collect::<Vec<_>>(), [n])
            }
            Some(TargetTransform::Tensor(f)) => {
                let each: Vec<Tensor> = labels.into_iter().map(|y| f(y)).collect();
                match Tensor::try_stack(&each, 0) {
                    Ok(t) => t,
                    Err(e) => return Some(Err(e)),
                }
            }
        };
        Some(Ok((images, targets)))
    }
}

macro_rules! dataset_type {
    ($(#[$doc:meta])* $name:ident, $family:expr) => {
        $(#[$doc])*
        pub struct $name;

        impl $name {
            /// Options for opening it; finish with `.build()`.
            pub fn builder() -> DatasetBuilder {
                DatasetBuilder::new($family)
            }
        }
    };
}

dataset_type!(
    /// `torchvision.datasets.MNIST`.
    ///
    /// ```no_run
    /// use kindling::data::transforms::ToTensor;
    /// use kindling::vision::MNIST;
    /// let training_data = MNIST::builder().root("data").train(true).download(true).transform(ToTensor).build()?;
    /// assert_eq!(training_data.data.shape(), &[60000, 28, 28]);
    /// # Ok::<(), kindling::Error>(())
    /// ```
    MNIST,
    Family::Mnist
);
dataset_type!(
    /// `torchvision.datasets.FashionMNIST`; also found in Debian's install location.
    FashionMNIST,
    Family::FashionMnist
);
dataset_type!(
    /// `torchvision.datasets.KMNIST`.
    KMNIST,
    Family::Kmnist
);
