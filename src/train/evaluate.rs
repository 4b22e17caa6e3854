//! Evaluation of a classifier on a dataset: loss, accuracy, per-class accuracy,
//! confusion matrix and predictions.

use std::sync::Arc;

use crate::data::{DataLoader, Dataset};
use crate::error::Result;
use crate::nn::functional::cross_entropy_with;
use crate::nn::{Module, Reduction};

/// How a model does on a dataset.
#[derive(Clone, Debug)]
pub struct EvalReport {
    /// Samples evaluated.
    pub count: usize,
    /// Mean cross-entropy.
    pub loss: f64,
    /// Fraction classified correctly.
    pub accuracy: f64,
    /// Accuracy per true class.
    pub per_class: Vec<f64>,
    /// `confusion[true][predicted]` counts.
    pub confusion: Vec<Vec<usize>>,
    /// The predicted class of each sample, in dataset order.
    pub predictions: Vec<i64>,
    /// The true class of each sample, in dataset order.
    pub targets: Vec<i64>,
}

/// Evaluates `model` on every sample of `dataset` (in order, without gradients,
/// in batches of `batch_size`), for `classes` classes.
pub fn evaluate<D: Dataset + ?Sized + 'static>(
    model: &dyn Module,
    dataset: Arc<D>,
    classes: usize,
    batch_size: usize,
) -> Result<EvalReport> {
    model.eval();
    let loader = DataLoader::new(dataset, batch_size);
    let mut loss_sum = 0.0;
    let mut predictions = Vec::new();
    let mut targets = Vec::new();
    let result = crate::no_grad(|| -> Result<()> {
        for batch in loader.iter_epoch(0) {
            let (x, y) = batch?;
            let logits = model.forward(&x)?;
            loss_sum += cross_entropy_with(&logits, &y, Reduction::Sum, 0.0)?
                .item()
                .to_f64();
            predictions.extend(logits.argmax(1).to_vec::<i64>());
            targets.extend(y.to_vec::<i64>());
        }
        Ok(())
    });
    model.train();
    result?;
    let count = targets.len();
    let mut confusion = vec![vec![0usize; classes]; classes];
    for (&t, &p) in targets.iter().zip(&predictions) {
        confusion[t as usize][p as usize] += 1;
    }
    let correct: usize = (0..classes).map(|c| confusion[c][c]).sum();
    let per_class = (0..classes)
        .map(|c| {
            let n: usize = confusion[c].iter().sum();
            if n == 0 {
                0.0
            } else {
                confusion[c][c] as f64 / n as f64
            }
        })
        .collect();
    Ok(EvalReport {
        count,
        loss: loss_sum / count.max(1) as f64,
        accuracy: correct as f64 / count.max(1) as f64,
        per_class,
        confusion,
        predictions,
        targets,
    })
}
