//! The [`DataLoader`]: batches in shuffled (seeded) or sequential order, with
//! optional background prefetching.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Arc;

use super::{collate_items, Dataset};
use crate::error::Result;
use crate::tensor::{Generator, Tensor};
use crate::vision::VisionDataset;

/// What [`DataLoader::new`] takes: a dataset, or an `Arc` of one.
pub trait IntoShared<D: ?Sized> {
    /// The dataset behind an `Arc`.
    fn into_shared(self) -> Arc<D>;
}

impl<D: Dataset> IntoShared<D> for D {
    fn into_shared(self) -> Arc<D> {
        Arc::new(self)
    }
}

impl<D: Dataset + ?Sized> IntoShared<D> for Arc<D> {
    fn into_shared(self) -> Arc<D> {
        self
    }
}

/// Iterates a dataset in batches of `(inputs, labels)`, like PyTorch's
/// `DataLoader(dataset, batch_size, shuffle)`.
///
/// Shuffling is reproducible: the order of epoch `e` depends only on the seed and
/// `e`, so the same seed gives the same batches on every machine and at every
/// thread count, and a resumed run can ask for the epoch it stopped in.
///
/// ```
/// use kindling::data::{DataLoader, Dataset, TensorDataset};
/// use kindling::Tensor;
///
/// let ds = TensorDataset::new(Tensor::arange(10).reshape([10, 1]), &Tensor::arange(10))?;
/// let loader = DataLoader::new(ds, 4).shuffle(true).seed(7);
/// let sizes: Vec<usize> = loader.iter().map(|b| b.unwrap().1.numel()).collect();
/// assert_eq!(sizes, [4, 4, 2]);
/// assert_eq!(loader.dataset().len(), 10); // the dataset stays reachable
/// # Ok::<(), kindling::Error>(())
/// ```
///
/// The dataset's type is a parameter with a default: torchvision's datasets
/// (MNIST, FashionMNIST, [`VisionDataset`]), the tutorials' case, so that a
/// function taking their loader is written `fn train(dataloader: &DataLoader)`
/// as the Python reads; a loader of any other dataset names it
/// (`DataLoader<TensorDataset>`).
pub struct DataLoader<D: Dataset + ?Sized = VisionDataset> {
    dataset: Arc<D>,
    batch_size: usize,
    shuffle: bool,
    drop_last: bool,
    seed: u64,
    prefetch: bool,
    epoch: AtomicU64,
}

impl<D: Dataset + ?Sized + 'static> DataLoader<D> {
    /// Sequential batches of `batch_size` (at least 1) of `dataset`: the
    /// dataset itself (`DataLoader::new(training_data, 64)`, as in PyTorch) or
    /// an `Arc` of it, to share it with other loaders.
    pub fn new(dataset: impl IntoShared<D>, batch_size: usize) -> DataLoader<D> {
        DataLoader {
            dataset: dataset.into_shared(),
            batch_size: batch_size.max(1),
            shuffle: false,
            drop_last: false,
            seed: 0,
            prefetch: false,
            epoch: AtomicU64::new(0),
        }
    }

    /// Reshuffles every epoch when true.
    pub fn shuffle(mut self, shuffle: bool) -> Self {
        self.shuffle = shuffle;
        self
    }

    /// Drops the last batch when it is smaller than `batch_size`.
    pub fn drop_last(mut self, drop_last: bool) -> Self {
        self.drop_last = drop_last;
        self
    }

    /// The seed of the shuffling order.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Assembles the next batches on a background thread while the current one is
    /// used (worth it when samples go through costly transforms).
    pub fn prefetch(mut self, prefetch: bool) -> Self {
        self.prefetch = prefetch;
        self
    }

    /// The dataset (PyTorch's `loader.dataset`).
    pub fn dataset(&self) -> &D {
        &self.dataset
    }

    /// The shared handle of the dataset, for another loader over it.
    pub fn dataset_arc(&self) -> &Arc<D> {
        &self.dataset
    }

    /// Batches per epoch.
    pub fn len(&self) -> usize {
        let n = self.dataset.len();
        if self.drop_last {
            n / self.batch_size
        } else {
            n.div_ceil(self.batch_size)
        }
    }

    /// True when an epoch has no batches.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The sample order of epoch `epoch`.
    pub fn order(&self, epoch: u64) -> Vec<usize> {
        let n = self.dataset.len();
        if !self.shuffle {
            return (0..n).collect();
        }
        // Mix seed and epoch so that neighbouring epochs get unrelated streams.
        let mixed = self.seed ^ epoch.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        Generator::new(mixed).permutation(n)
    }

    /// The batches of the next epoch (the first call is epoch 0).
    pub fn iter(&self) -> Batches {
        let epoch = self.epoch.fetch_add(1, Ordering::Relaxed);
        self.iter_epoch(epoch)
    }

    /// The batches of a given epoch; later `iter()` calls continue after it.
    pub fn iter_epoch(&self, epoch: u64) -> Batches {
        self.iter_epoch_from(epoch, 0)
    }

    /// The batches of epoch `epoch` from batch `start` on: how a resumed run picks
    /// up exactly where it stopped.
    pub fn iter_epoch_from(&self, epoch: u64, start: usize) -> Batches {
        self.epoch.store(epoch + 1, Ordering::Relaxed);
        let mut order = self.order(epoch);
        if self.drop_last {
            order.truncate(self.len() * self.batch_size);
        }
        let chunks: Vec<Vec<usize>> = order
            .chunks(self.batch_size)
            .skip(start)
            .map(<[usize]>::to_vec)
            .collect();
        let n = chunks.len();
        if self.prefetch {
            let (tx, rx) = sync_channel(2);
            let dataset = self.dataset.clone();
            std::thread::spawn(move || {
                for chunk in chunks {
                    if tx.send(batch(dataset.as_ref(), &chunk)).is_err() {
                        return; // the consumer stopped early
                    }
                }
            });
            Batches {
                source: Source::Prefetched(rx),
                left: n,
            }
        } else {
            let dataset = self.dataset.clone();
            let mut chunks = chunks.into_iter();
            Batches {
                source: Source::Inline(Box::new(move || {
                    chunks.next().map(|c| batch(dataset.as_ref(), &c))
                })),
                left: n,
            }
        }
    }
}

impl<D: Dataset + ?Sized + 'static> IntoIterator for &DataLoader<D> {
    type Item = Result<(Tensor, Tensor)>;
    type IntoIter = Batches;
    fn into_iter(self) -> Batches {
        self.iter()
    }
}

fn batch<D: Dataset + ?Sized>(dataset: &D, indices: &[usize]) -> Result<(Tensor, Tensor)> {
    match dataset.get_batch(indices) {
        Some(b) => b,
        None => collate_items(
            indices
                .iter()
                .map(|&i| dataset.get_item(i))
                .collect::<Result<Vec<_>>>()?,
        ),
    }
}

type NextBatch = Box<dyn FnMut() -> Option<Result<(Tensor, Tensor)>> + Send>;

enum Source {
    Inline(NextBatch),
    Prefetched(Receiver<Result<(Tensor, Tensor)>>),
}

/// One epoch of batches: `(inputs, labels)`, or the error that stopped a batch.
pub struct Batches {
    source: Source,
    left: usize,
}

impl ExactSizeIterator for Batches {}

impl Iterator for Batches {
    type Item = Result<(Tensor, Tensor)>;

    fn next(&mut self) -> Option<Self::Item> {
        let item = match &mut self.source {
            Source::Inline(next) => next(),
            Source::Prefetched(rx) => rx.recv().ok(),
        };
        self.left = self.left.saturating_sub(1);
        item
    }

    /// Exact: a progress meter ([`tqdm`](crate::train::tqdm)) knows the total.
    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}
