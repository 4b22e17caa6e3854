//! Datasets and batching, as in `torch.utils.data`: the [`Dataset`] trait,
//! [`TensorDataset`], [`Subset`], [`random_split`], the [`DataLoader`] and
//! image [`transforms`].

mod loader;
pub mod transforms;

use std::sync::Arc;

pub use loader::{Batches, DataLoader, IntoShared};

use crate::error::{Error, Result};
use crate::tensor::{Generator, Tensor};

/// A sample's target: a class label (the fast, common case) or a tensor
/// (what a `target_transform` such as a one-hot encoding returns, as in
/// PyTorch's transforms tutorial).
#[derive(Clone, Debug)]
pub enum Target {
    /// A class index.
    Label(i64),
    /// Any tensor; a batch stacks them.
    Tensor(Tensor),
}

impl From<i64> for Target {
    fn from(v: i64) -> Target {
        Target::Label(v)
    }
}

impl From<Tensor> for Target {
    fn from(t: Tensor) -> Target {
        Target::Tensor(t)
    }
}

impl Target {
    /// The target as a tensor: a label as an int64 scalar (`torch.tensor(y)`).
    pub fn to_tensor(&self) -> Tensor {
        match self {
            Target::Label(v) => Tensor::scalar(*v),
            Target::Tensor(t) => t.clone(),
        }
    }
}

/// Indexed samples: an input tensor and a class label.
pub trait Dataset: Send + Sync {
    /// Number of samples.
    fn len(&self) -> usize;

    /// True when there are no samples.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Sample `index` (after transforms), its target a class label.
    fn get(&self, index: usize) -> Result<(Tensor, i64)>;

    /// Sample `index` with its target as it is, a label or a tensor
    /// (`dataset[index]` in PyTorch). What the [`DataLoader`] reads; by
    /// default [`Dataset::get`]'s label.
    fn get_item(&self, index: usize) -> Result<(Tensor, Target)> {
        self.get(index).map(|(x, y)| (x, Target::Label(y)))
    }

    /// A whole batch at once, for datasets that can assemble one faster than by
    /// stacking [`Dataset::get`] results; `None` means "use `get`".
    fn get_batch(&self, _indices: &[usize]) -> Option<Result<(Tensor, Tensor)>> {
        None
    }
}

/// Stacks samples into `(inputs [B, ...], targets)`: labels as int64 `[B]`,
/// tensor targets stacked to `[B, ...]` (PyTorch's default collate).
pub fn collate_items(samples: Vec<(Tensor, Target)>) -> Result<(Tensor, Tensor)> {
    if samples.iter().all(|s| matches!(s.1, Target::Label(_))) {
        return collate(
            samples
                .into_iter()
                .map(|(x, y)| match y {
                    Target::Label(v) => (x, v),
                    Target::Tensor(_) => unreachable!("all labels"),
                })
                .collect(),
        );
    }
    let targets: Vec<Tensor> = samples.iter().map(|s| s.1.to_tensor()).collect();
    let inputs: Vec<Tensor> = samples.into_iter().map(|s| s.0).collect();
    Ok((
        Tensor::try_stack(&inputs, 0)?,
        Tensor::try_stack(&targets, 0)?,
    ))
}

/// Stacks samples into `(inputs [B, ...], labels [B])`: PyTorch's default collate.
pub fn collate(samples: Vec<(Tensor, i64)>) -> Result<(Tensor, Tensor)> {
    let labels: Vec<i64> = samples.iter().map(|s| s.1).collect();
    let inputs: Vec<Tensor> = samples.into_iter().map(|s| s.0).collect();
    let n = labels.len();
    Ok((
        Tensor::try_stack(&inputs, 0)?,
        Tensor::from_vec(labels, [n]),
    ))
}

/// Samples from two tensors: row `i` of `inputs` with label `targets[i]`.
pub struct TensorDataset {
    inputs: Tensor,
    targets: Vec<i64>,
}

impl TensorDataset {
    /// Pairs rows of `inputs` with integer `targets` (one per row).
    pub fn new(inputs: Tensor, targets: &Tensor) -> Result<TensorDataset> {
        let n = inputs.shape().first().copied().unwrap_or(0);
        if targets.numel() != n {
            return Err(Error::Shape(format!(
                "Size mismatch between tensors: {n} inputs but {} targets",
                targets.numel()
            )));
        }
        Ok(TensorDataset {
            inputs,
            targets: targets.to_vec::<i64>(),
        })
    }
}

impl Dataset for TensorDataset {
    fn len(&self) -> usize {
        self.targets.len()
    }

    fn get(&self, index: usize) -> Result<(Tensor, i64)> {
        Ok((
            self.inputs.try_select(0, index as isize)?,
            self.targets[index],
        ))
    }
}

/// A view of some samples of another dataset, by index.
pub struct Subset<D: Dataset + ?Sized> {
    dataset: Arc<D>,
    indices: Vec<usize>,
}

impl<D: Dataset + ?Sized> Subset<D> {
    /// The samples of `dataset` at `indices`, in that order.
    pub fn new(dataset: Arc<D>, indices: Vec<usize>) -> Result<Subset<D>> {
        if let Some(&bad) = indices.iter().find(|&&i| i >= dataset.len()) {
            return Err(Error::IndexOutOfRange {
                index: bad as i64,
                dim: 0,
                size: dataset.len(),
            });
        }
        Ok(Subset { dataset, indices })
    }

    /// The indices into the underlying dataset.
    pub fn indices(&self) -> &[usize] {
        &self.indices
    }
}

impl<D: Dataset + ?Sized> Dataset for Subset<D> {
    fn len(&self) -> usize {
        self.indices.len()
    }

    fn get(&self, index: usize) -> Result<(Tensor, i64)> {
        let i = *self.indices.get(index).ok_or(Error::IndexOutOfRange {
            index: index as i64,
            dim: 0,
            size: self.len(),
        })?;
        self.dataset.get(i)
    }

    fn get_item(&self, index: usize) -> Result<(Tensor, Target)> {
        let i = *self.indices.get(index).ok_or(Error::IndexOutOfRange {
            index: index as i64,
            dim: 0,
            size: self.len(),
        })?;
        self.dataset.get_item(i)
    }

    fn get_batch(&self, indices: &[usize]) -> Option<Result<(Tensor, Tensor)>> {
        let mapped: Vec<usize> = indices.iter().map(|&i| self.indices[i]).collect();
        self.dataset.get_batch(&mapped)
    }
}

/// Splits a dataset into non-overlapping random subsets of the given lengths,
/// reproducibly for a given seed (`torch.utils.data.random_split`).
pub fn random_split<D: Dataset + ?Sized>(
    dataset: Arc<D>,
    lengths: &[usize],
    seed: u64,
) -> Result<Vec<Subset<D>>> {
    let total: usize = lengths.iter().sum();
    if total != dataset.len() {
        return Err(Error::Value(format!(
            "Sum of input lengths ({total}) does not equal the length of the input dataset ({})!",
            dataset.len()
        )));
    }
    let perm = Generator::new(seed).permutation(total);
    let mut start = 0;
    lengths
        .iter()
        .map(|&n| {
            let part = perm[start..start + n].to_vec();
            start += n;
            Subset::new(dataset.clone(), part)
        })
        .collect()
}
