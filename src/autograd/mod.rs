//! Define-by-run automatic differentiation, as in PyTorch.
//!
//! Every op on tensors that require grad records a node on its result: its
//! saved inputs, PyTorch's name for its backward (`AddmmBackward0`, ...) and its
//! gradient formula, declared next to the op's forward in `crate::ops` (see
//! `docs/adding-an-op.md`). [`Tensor::backward`] walks the recorded graph from
//! the output in topological order, calling each node's formula and
//! accumulating into the `.grad` of leaves. This module knows no op.
//!
//! Differences from PyTorch, by design:
//! - the graph is kept after `backward()` (no `retain_graph` needed) and freed when
//!   the output is dropped;
//! - in-place ops are not recorded: on tensors that require grad they are refused
//!   unless run under [`no_grad`];
//! - higher-order gradients (`create_graph=True`) are not supported.

mod gradcheck;

pub use gradcheck::{gradcheck, gradcheck_with, GradcheckTol};

use std::cell::Cell;
use std::collections::{HashMap, HashSet};

use crate::error::{or_panic, Error, Result};
use crate::tensor::{Inner, Tensor};

thread_local! {
    static GRAD_ENABLED: Cell<bool> = const { Cell::new(true) };
}

/// Whether ops on this thread record graphs (false inside [`no_grad`]).
pub fn is_grad_enabled() -> bool {
    GRAD_ENABLED.with(Cell::get)
}

/// Turns graph recording off on this thread until dropped, like
/// `with torch.no_grad():`.
pub struct NoGradGuard {
    previous: bool,
}

impl NoGradGuard {
    /// Starts a no-grad scope.
    #[allow(clippy::new_without_default)]
    pub fn new() -> NoGradGuard {
        NoGradGuard {
            previous: GRAD_ENABLED.with(|g| g.replace(false)),
        }
    }
}

impl Drop for NoGradGuard {
    fn drop(&mut self) {
        GRAD_ENABLED.with(|g| g.set(self.previous));
    }
}

/// Runs `f` without recording a graph (evaluation, optimizer updates).
///
/// ```
/// use kindling::{no_grad, Tensor};
/// let w = Tensor::ones([2]).requires_grad_(true);
/// let y = no_grad(|| &w * 2.0);
/// assert!(!y.requires_grad());
/// ```
pub fn no_grad<R>(f: impl FnOnce() -> R) -> R {
    let _guard = NoGradGuard::new();
    f()
}

pub(crate) fn needs_grad(inputs: &[&Tensor]) -> bool {
    inputs.iter().any(|t| t.requires_grad()) && is_grad_enabled()
}

/// The inputs of a recorded op that gradients flow to.
pub(crate) type Inputs<'a> = smallvec::SmallVec<[&'a Tensor; 3]>;

/// A recorded op: PyTorch's name for its backward node, the inputs gradients
/// flow to, and the gradient formula. Each op declares its node next to its
/// forward, with [`grad_fn!`]; this module only walks the graph.
pub(crate) trait Node: Send + Sync {
    /// PyTorch's class name for this backward node (`AddmmBackward0`, ...).
    fn name(&self) -> &'static str;
    /// The inputs gradients flow to.
    fn inputs(&self) -> Inputs<'_>;
    /// Sends `g` (the gradient of this op's output) to each input through
    /// `acc`, which only evaluates an input's gradient when that input requires
    /// grad.
    fn backward(&self, g: &Tensor, acc: &mut Sink<'_>);
}

/// What produced a tensor that requires grad.
pub(crate) type NodeBox = Box<dyn Node>;

/// The node that produced a tensor, as PyTorch's `t.grad_fn` shows it: its
/// name, the nodes its gradient flows on to (`next_functions`), and for a
/// leaf's accumulator (`AccumulateGrad`) the leaf itself.
///
/// ```
/// use kindling::Tensor;
/// let w = Tensor::ones([2]).requires_grad_(true);
/// let y = (&w * 2.0).sum();
/// let f = y.grad_fn().unwrap();
/// assert_eq!(f.name(), "SumBackward0");
/// let (mul, _) = &f.next_functions()[0];
/// let mul = mul.as_ref().unwrap();
/// assert_eq!(mul.name(), "MulBackward0");
/// let (acc, _) = &mul.next_functions()[0];
/// assert_eq!(acc.as_ref().unwrap().name(), "AccumulateGrad");
/// assert!(acc.as_ref().unwrap().variable().unwrap().is_same(&w));
/// ```
#[derive(Clone)]
pub struct GradFn {
    /// The tensor whose node this is (for `AccumulateGrad`, the leaf).
    owner: Tensor,
    accumulate: bool,
}

impl GradFn {
    pub(crate) fn of(t: &Tensor) -> Option<GradFn> {
        t.inner.grad_fn.as_ref().map(|_| GradFn {
            owner: t.clone(),
            accumulate: false,
        })
    }

    /// PyTorch's class name: `AddmmBackward0`, ..., or `AccumulateGrad`.
    pub fn name(&self) -> &'static str {
        match (&self.owner.inner.grad_fn, self.accumulate) {
            (Some(n), false) => n.name(),
            _ => "AccumulateGrad",
        }
    }

    /// Where the gradient goes next, one entry per input of the op, as
    /// PyTorch's `next_functions`: the input's node, `AccumulateGrad` for a
    /// leaf that requires grad, `None` for an input that needs no gradient;
    /// the second element is the output index (always 0 here). The inputs are
    /// those kindling's node keeps, which for a few fused ops (a linear
    /// layer's `AddmmBackward0`) are ordered or counted differently from PyTorch's.
    pub fn next_functions(&self) -> Vec<(Option<GradFn>, usize)> {
        let Some(node) = self
            .owner
            .inner
            .grad_fn
            .as_ref()
            .filter(|_| !self.accumulate)
        else {
            return Vec::new();
        };
        node.inputs()
            .into_iter()
            .map(|t| {
                let next = match GradFn::of(t) {
                    Some(f) => Some(f),
                    None if t.requires_grad() => Some(GradFn {
                        owner: t.clone(),
                        accumulate: true,
                    }),
                    None => None,
                };
                (next, 0)
            })
            .collect()
    }

    /// For `AccumulateGrad`, the leaf whose `.grad` it fills (PyTorch's `.variable`).
    pub fn variable(&self) -> Option<Tensor> {
        self.accumulate.then(|| self.owner.clone())
    }
}

impl std::fmt::Display for GradFn {
    /// `<AddBackward0 object at 0x7f...>`, as Python prints the node.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let at = std::sync::Arc::as_ptr(&self.owner.inner) as usize;
        write!(f, "<{} object at {at:#x}>", self.name())
    }
}

impl std::fmt::Debug for GradFn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

impl PartialEq<&str> for GradFn {
    /// Compares the node's name: `y.grad_fn().unwrap() == "SumBackward0"`.
    fn eq(&self, other: &&str) -> bool {
        self.name() == *other
    }
}

/// Boxes a node, for views that attach it themselves.
pub(crate) fn node<N: Node + 'static>(n: N) -> NodeBox {
    Box::new(n)
}

/// Declares an op's backward node: a struct of what the gradient needs, its
/// PyTorch name (the struct's name, unless `name(..)` computes it), the fields
/// gradients flow to, and the formula. Saved outputs are detached handles (same
/// storage), so a result never keeps itself alive.
///
/// ```text
/// grad_fn! {
///     /// d(e^x) = e^x, from the saved output.
///     ExpBackward0 { x: Tensor, out: Tensor }
///     inputs [x];
///     backward(n, g, acc) { acc.add(&n.x, || g * &n.out) }
/// }
/// ```
macro_rules! grad_fn {
    (
        $(#[$doc:meta])*
        $node:ident { $($field:ident : $ty:ty),* $(,)? }
        $(name($nn:ident) $name:expr;)?
        inputs [$($input:ident),* $(,)?];
        backward($n:ident, $g:ident, $acc:ident) $body:block
    ) => {
        $(#[$doc])*
        pub(crate) struct $node {
            $(pub(crate) $field: $ty),*
        }

        impl $crate::autograd::Node for $node {
            #[allow(unused_variables)]
            fn name(&self) -> &'static str {
                $crate::autograd::grad_fn!(@name self, $node $(, $nn, $name)?)
            }
            fn inputs(&self) -> $crate::autograd::Inputs<'_> {
                smallvec::smallvec![$(&self.$input),*]
            }
            #[allow(unused_variables)]
            fn backward(&self, $g: &$crate::Tensor, $acc: &mut $crate::autograd::Sink<'_>) {
                let $n = self;
                $body
            }
        }
    };
    (@name $s:ident, $node:ident) => {
        stringify!($node)
    };
    (@name $s:ident, $node:ident, $nn:ident, $name:expr) => {{
        let $nn = $s;
        $name
    }};
}
pub(crate) use grad_fn;

/// `zeros` of `x`'s shape in `g`'s dtype: the gradient of an input a formula
/// touches only partly.
pub(crate) fn zeros_like_grad(x: &Tensor, g: &Tensor) -> Tensor {
    x.full_like_dtype(0, g.dtype()).to(g.device())
}

/// Re-inserts a reduced dimension so `g` broadcasts against the input.
pub(crate) fn unreduce(g: &Tensor, dim: Option<usize>, keepdim: bool) -> Tensor {
    match dim {
        Some(d) if !keepdim => g.unsqueeze(d as isize),
        _ => g.clone(),
    }
}

/// Where gradients go during one backward pass.
pub(crate) struct Sink<'a> {
    pending: &'a mut HashMap<*const Inner, Tensor>,
    /// Leaf gradients of the op being run, added to `.grad` once the op's own
    /// output gradient is dropped: a gradient that is a view of it (a linear
    /// layer's `W.t()`) then owns its buffer and is stored without a copy.
    leaves: Vec<(Tensor, Tensor)>,
}

impl Sink<'_> {
    /// Adds the gradient `grad()` of `input`, evaluated only when `input`
    /// requires grad.
    pub(crate) fn add(&mut self, input: &Tensor, grad: impl FnOnce() -> Tensor) {
        if input.requires_grad() {
            self.add_computed(input, grad());
        }
    }

    /// [`Sink::add`] once the gradient is computed: compiled once, not once
    /// per op (NOTE(build-time)).
    fn add_computed(&mut self, input: &Tensor, mut g: Tensor) {
        if g.dtype() != input.dtype() {
            g = g.to_dtype(input.dtype());
        }
        if input.is_leaf() {
            self.leaves.push((input.clone(), g));
        } else {
            let key = std::sync::Arc::as_ptr(&input.inner);
            let merged = match self.pending.remove(&key) {
                Some(prev) => &prev + &g,
                None => g,
            };
            self.pending.insert(key, merged);
        }
    }
}

/// Adds `g` into a leaf's `.grad`, storing a tensor that nothing else shares.
fn accumulate_leaf(leaf: &Tensor, g: Tensor) {
    let mut slot = leaf.inner.grad.lock().unwrap_or_else(|e| e.into_inner());
    let new = match slot.take() {
        Some(prev) => &prev + &g,
        None => {
            let unshared = std::sync::Arc::strong_count(&g.inner) == 1
                && std::sync::Arc::strong_count(&g.inner.storage) == 1
                && g.is_contiguous()
                && g.storage_offset() == 0;
            if unshared && g.shape() == leaf.shape() {
                g
            } else {
                g.expand(leaf.shape()).clone_tensor()
            }
        }
    };
    *slot = Some(new);
}

/// Non-leaf tensors reachable from `root` through inputs that require grad, each
/// before all of its inputs.
fn topological_order(root: &Tensor) -> Vec<Tensor> {
    let mut visited: HashSet<*const Inner> = HashSet::new();
    let mut post = Vec::new();
    let mut stack = vec![(root.clone(), false)];
    while let Some((t, done)) = stack.pop() {
        if done {
            post.push(t);
            continue;
        }
        if !visited.insert(std::sync::Arc::as_ptr(&t.inner)) {
            continue;
        }
        stack.push((t.clone(), true));
        if let Some(op) = &t.inner.grad_fn {
            for input in op.inputs() {
                if input.requires_grad()
                    && !input.is_leaf()
                    && !visited.contains(&std::sync::Arc::as_ptr(&input.inner))
                {
                    stack.push((input.clone(), false));
                }
            }
        }
    }
    post.reverse();
    post
}

impl Tensor {
    /// Computes the gradient of this scalar with respect to every leaf that requires
    /// grad, adding it into their `.grad()`.
    ///
    /// # Panics
    /// When the tensor does not require grad or is not a single element; see
    /// [`Tensor::try_backward`].
    ///
    /// ```
    /// use kindling::Tensor;
    /// let x = Tensor::from_vec(vec![1.0f32, 2.0, 3.0], [3]).requires_grad_(true);
    /// (&x * &x).sum().backward();                      // d(Σx²)/dx = 2x
    /// assert_eq!(x.grad().unwrap().to_vec::<f32>(), vec![2.0, 4.0, 6.0]);
    /// ```
    #[track_caller]
    pub fn backward(&self) {
        or_panic!(self.try_backward(None))
    }

    /// Backward from a non-scalar output with an explicit gradient (`backward(gradient)`).
    #[track_caller]
    pub fn backward_with(&self, gradient: &Tensor) {
        or_panic!(self.try_backward(Some(gradient)))
    }

    /// Fallible [`Tensor::backward`] / [`Tensor::backward_with`].
    pub fn try_backward(&self, gradient: Option<&Tensor>) -> Result<()> {
        if !self.requires_grad() {
            return Err(Error::Autograd(
                "element 0 of tensors does not require grad and does not have a grad_fn".into(),
            ));
        }
        let _guard = NoGradGuard::new();
        let grad = match gradient {
            Some(g) if g.shape() != self.shape() => {
                return Err(Error::Autograd(format!(
                    "Mismatch in shape: grad_output[0] has a shape of {:?} and output[0] has a shape of {:?}.",
                    g.shape(),
                    self.shape()
                )))
            }
            Some(g) => g.to_dtype(self.dtype()).clone_tensor(),
            None if self.numel() != 1 => {
                return Err(Error::Autograd("grad can be implicitly created only for scalar outputs".into()))
            }
            None => self.ones_like(),
        };
        if self.is_leaf() {
            accumulate_leaf(self, grad);
            return Ok(());
        }
        let mut pending = HashMap::new();
        pending.insert(std::sync::Arc::as_ptr(&self.inner), grad);
        for t in topological_order(self) {
            let Some(g) = pending.remove(&std::sync::Arc::as_ptr(&t.inner)) else {
                continue;
            };
            if let Some(op) = &t.inner.grad_fn {
                let mut sink = Sink {
                    pending: &mut pending,
                    leaves: Vec::new(),
                };
                op.backward(&g, &mut sink);
                let leaves = sink.leaves;
                drop(g);
                for (leaf, grad) in leaves {
                    accumulate_leaf(&leaf, grad);
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::Tensor;

    /// The names of a node's next functions (`None` for inputs without grad).
    fn next_names(t: &Tensor) -> Vec<Option<&'static str>> {
        let f = t.grad_fn().expect("a node");
        f.next_functions()
            .iter()
            .map(|(g, i)| {
                assert_eq!(*i, 0);
                g.as_ref().map(|g| g.name())
            })
            .collect()
    }

    /// The graphs PyTorch 2.15 shows for the same expressions:
    /// `(w * x).grad_fn.next_functions` is `((AccumulateGrad, 0), (None, 0))`, ...
    #[test]
    fn next_functions_walk_the_graph_as_pytorchs_do() {
        let w = Tensor::ones([2]).requires_grad_(true);
        let x = Tensor::ones([2]);
        assert_eq!(next_names(&(&w * &x)), [Some("AccumulateGrad"), None]);
        let twice = &w + &w;
        assert_eq!(next_names(&twice), [Some("AccumulateGrad"); 2]);
        let f = twice.grad_fn().unwrap();
        for (g, _) in f.next_functions() {
            assert!(g.unwrap().variable().unwrap().is_same(&w));
        }
        assert_eq!(next_names(&w.relu()), [Some("AccumulateGrad")]);
        let loss = (&w * &x).relu().sum();
        assert_eq!(next_names(&loss), [Some("ReluBackward0")]);
        let shown = loss.grad_fn().unwrap().to_string();
        assert!(
            shown.starts_with("<SumBackward0 object at 0x") && shown.ends_with('>'),
            "{shown}"
        );
        assert!(w.grad_fn().is_none());
        assert!(loss.grad_fn().unwrap() == "SumBackward0");
    }
}
