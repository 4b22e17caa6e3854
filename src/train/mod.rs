//! Training in the library: the [`Trainer`] loop (what `kindling train` runs),
//! [`Checkpoint`]s for exact resume, [`evaluate`] with its confusion matrix,
//! and [`tqdm`], a progress meter for any iterator.
//!
//! ```
//! use std::sync::Arc;
//! use kindling::data::{DataLoader, TensorDataset};
//! use kindling::train::tqdm;
//! use kindling::Tensor;
//!
//! let data = Arc::new(TensorDataset::new(Tensor::zeros([10, 3]), &Tensor::arange(10))?);
//! let loader = DataLoader::new(data, 4);
//! let mut seen = 0;
//! for batch in tqdm(&loader).desc("data") {
//!     seen += batch?.1.numel();
//! }
//! assert_eq!(seen, 10);
//! # Ok::<(), kindling::Error>(())
//! ```

mod checkpoint;
mod evaluate;
mod fit;
mod tqdm;

pub use checkpoint::{Checkpoint, EpochRow, Progress};
pub use evaluate::{evaluate, EvalReport};
pub use fit::{epoch_line, Fit, Trainer};
pub use tqdm::{tqdm, Tqdm, TqdmIter};
