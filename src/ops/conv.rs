//! Convolutions over NCHW tensors: `conv2d` (PyTorch's `F.conv2d`: stride,
//! padding including `'same'` and `'valid'`, dilation, groups, optional bias)
//! with its backward node `ConvolutionBackward0`.

use super::{device_of, read2, read3};
use crate::autograd::{Inputs, Node, Sink};
use crate::backend::{backend, Backend, Conv2dGeometry, ConvThen, View};
use crate::error::{or_panic, shape_err, Error, Result};
use crate::tensor::{DType, Device, Tensor};

/// Two sizes, for height and width: `3` is `[3, 3]`, as PyTorch's `_pair`
/// (the default is `[0, 0]`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Size2(pub [usize; 2]);

impl From<usize> for Size2 {
    fn from(v: usize) -> Self {
        Size2([v, v])
    }
}
impl From<[usize; 2]> for Size2 {
    fn from(v: [usize; 2]) -> Self {
        Size2(v)
    }
}
impl From<(usize, usize)> for Size2 {
    fn from((h, w): (usize, usize)) -> Self {
        Size2([h, w])
    }
}

/// The zeros a convolution adds around its input, as PyTorch's `padding=`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Padding {
    /// `padding='same'`: the output has the input's size (stride 1 only); an
    /// even dilated kernel pads one more row and column after than before, as
    /// PyTorch does.
    Same,
    /// `padding='valid'`: none, the same as `0`.
    Valid,
    /// Rows and columns of zeros on each side: `padding=(ph, pw)`.
    Zeros([usize; 2]),
}

impl From<usize> for Padding {
    fn from(v: usize) -> Self {
        Padding::Zeros([v, v])
    }
}
impl From<[usize; 2]> for Padding {
    fn from(v: [usize; 2]) -> Self {
        Padding::Zeros(v)
    }
}
impl From<(usize, usize)> for Padding {
    fn from((h, w): (usize, usize)) -> Self {
        Padding::Zeros([h, w])
    }
}

/// `F.conv2d`'s keyword arguments, with its defaults (`stride=1, padding=0,
/// dilation=1, groups=1`):
///
/// ```
/// use kindling::{ConvOptions, Padding, Tensor};
/// let x = Tensor::ones([1, 2, 5, 5]);
/// let w = Tensor::ones([4, 1, 3, 3]);
/// let y = x.conv2d(&w, None, ConvOptions::default().padding(Padding::Same).groups(2));
/// assert_eq!(y.shape(), &[1, 4, 5, 5]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvOptions {
    pub stride: Size2,
    pub padding: Padding,
    pub dilation: Size2,
    pub groups: usize,
}

impl Default for ConvOptions {
    fn default() -> Self {
        ConvOptions {
            stride: Size2([1, 1]),
            padding: Padding::Zeros([0, 0]),
            dilation: Size2([1, 1]),
            groups: 1,
        }
    }
}

impl ConvOptions {
    /// `stride=`.
    pub fn stride(mut self, stride: impl Into<Size2>) -> Self {
        self.stride = stride.into();
        self
    }
    /// `padding=`: a size, a pair, or [`Padding::Same`] / [`Padding::Valid`].
    pub fn padding(mut self, padding: impl Into<Padding>) -> Self {
        self.padding = padding.into();
        self
    }
    /// `dilation=`.
    pub fn dilation(mut self, dilation: impl Into<Size2>) -> Self {
        self.dilation = dilation.into();
        self
    }
    /// `groups=`.
    pub fn groups(mut self, groups: usize) -> Self {
        self.groups = groups;
        self
    }
}

/// Checks a 4-D input and weight as PyTorch's `check_shape_forward` does, in
/// its order and with its words, and works out where the kernel lands.
fn geometry(
    input: &[usize],
    weight: &[usize],
    bias: Option<&[usize]>,
    opts: &ConvOptions,
) -> Result<Conv2dGeometry> {
    let groups = opts.groups;
    let (stride, dilation) = (opts.stride.0, opts.dilation.0);
    if groups == 0 {
        return Err(shape_err("non-positive groups is not supported"));
    }
    if stride.contains(&0) {
        return Err(shape_err("non-positive stride is not supported"));
    }
    if dilation.contains(&0) {
        return Err(shape_err(format!(
            "dilation should be greater than zero, but got {dilation:?}"
        )));
    }
    if weight.len() != 4 {
        return Err(shape_err(format!(
            "Expected 4-dimensional weight for conv2d, but got {}-dimensional weight of size {weight:?}",
            weight.len()
        )));
    }
    if weight[0] == 0 {
        return Err(shape_err(format!(
            "Given groups={groups}, expected weight to be at least 1 at dimension 0, but got weight of size {weight:?} instead"
        )));
    }
    if !weight[0].is_multiple_of(groups) {
        return Err(shape_err(format!(
            // PyTorch prints the size inside a second pair of brackets.
            "Given groups={groups}, expected weight to be divisible by {groups} at dimension 0, but got weight of size [{weight:?}] instead"
        )));
    }
    if input[1] != weight[1] * groups {
        return Err(shape_err(format!(
            "Given groups={groups}, weight of size {weight:?}, expected input{input:?} to have {} channels, but got {} channels instead",
            weight[1] * groups,
            input[1]
        )));
    }
    if let Some(b) = bias {
        if b.len() != 1 || b[0] != weight[0] {
            return Err(shape_err(format!(
                "Given weight of size {weight:?}, expected bias to be 1-dimensional with {} elements, but got bias of size {b:?} instead",
                weight[0]
            )));
        }
    }
    let kernel = [weight[2], weight[3]];
    if kernel.contains(&0) {
        return Err(shape_err(format!(
            "kernel size should be greater than zero, but got kernel_height: {} kernel_width: {}",
            kernel[0], kernel[1]
        )));
    }
    let reach = |a: usize| dilation[a] * (kernel[a].max(1) - 1) + 1;
    let (before, total) = match opts.padding {
        Padding::Zeros(p) => (p, [2 * p[0], 2 * p[1]]),
        Padding::Valid => ([0, 0], [0, 0]),
        Padding::Same => {
            if stride != [1, 1] {
                return Err(shape_err(
                    "padding='same' is not supported for strided convolutions",
                ));
            }
            let t = [reach(0) - 1, reach(1) - 1];
            ([t[0] / 2, t[1] / 2], t)
        }
    };
    let padded = [input[2] + total[0], input[3] + total[1]];
    if padded[0] < reach(0) || padded[1] < reach(1) {
        return Err(shape_err(format!(
            "Calculated padded input size per channel: ({} x {}). Kernel size: ({} x {}). Kernel size can't be greater than actual input size",
            padded[0],
            padded[1],
            reach(0),
            reach(1)
        )));
    }
    let out = [
        (padded[0] - reach(0)) / stride[0] + 1,
        (padded[1] - reach(1)) / stride[1] + 1,
    ];
    Ok(Conv2dGeometry {
        input: [input[0], input[1], input[2], input[3]],
        out_channels: weight[0],
        kernel,
        stride,
        pad: before,
        dilation,
        groups,
        out,
    })
}

/// The C++ name PyTorch's bias check prints for a dtype.
fn cpp_name(d: DType) -> &'static str {
    match d {
        DType::F32 => "float",
        DType::F64 => "double",
        DType::U8 => "unsigned char",
        DType::I64 => "long int",
        DType::Bool => "bool",
    }
}

/// The bias's dtype, checked before any shape as PyTorch does.
fn check_bias_dtype(x: &Tensor, bias: Option<&Tensor>) -> Result<()> {
    match bias {
        Some(b) if b.dtype() != x.dtype() => Err(Error::Value(format!(
            "Input type ({}) and bias type ({}) should be the same",
            cpp_name(x.dtype()),
            cpp_name(b.dtype())
        ))),
        _ => Ok(()),
    }
}

/// Input and weight of one float dtype, checked after the shapes. PyTorch
/// also convolves integers; kindling refuses them (convert first).
fn check_dtypes(x: &Tensor, weight: &Tensor) -> Result<()> {
    if x.dtype() != weight.dtype() {
        return Err(Error::DType {
            expected: x.dtype(),
            found: weight.dtype(),
        });
    }
    if !x.dtype().is_floating_point() {
        return Err(Error::NotImplemented {
            op: "slow_conv2d_cpu",
            dtype: x.dtype(),
        });
    }
    Ok(())
}

impl Tensor {
    /// A 2-D convolution, PyTorch's `F.conv2d(input, weight, bias, stride,
    /// padding, dilation, groups)`: `self` is `[n, c, h, w]` (or unbatched
    /// `[c, h, w]`), `weight` `[o, c / groups, kh, kw]`, `bias` `[o]`.
    ///
    /// # Shapes
    /// `[n, o, oh, ow]` with `oh = (h + 2·pad - dilation·(kh - 1) - 1) / stride + 1`.
    ///
    /// # Panics
    /// With PyTorch's message on mismatched shapes or dtypes; see
    /// [`Tensor::try_conv2d`].
    #[track_caller]
    pub fn conv2d(&self, weight: &Tensor, bias: Option<&Tensor>, opts: ConvOptions) -> Tensor {
        or_panic!(self.try_conv2d(weight, bias, opts))
    }

    /// Fallible [`Tensor::conv2d`].
    pub fn try_conv2d(
        &self,
        weight: &Tensor,
        bias: Option<&Tensor>,
        opts: ConvOptions,
    ) -> Result<Tensor> {
        match self.dim() {
            4 => {}
            3 => {
                let out = self.unsqueeze(0).try_conv2d(weight, bias, opts)?;
                return Ok(out.squeeze_dim(0));
            }
            _ => {
                return Err(shape_err(format!(
                    "Expected 3D (unbatched) or 4D (batched) input to conv2d, but got input of size: {:?}",
                    self.shape()
                )))
            }
        }
        let (buf, geo, device) = convolve(self, weight, bias, &opts, |b, x, w, bias, geo| {
            b.conv2d(x, w, bias, geo)
        })?;
        let out = Tensor::from_buffer_on(buf, &geo.output_shape(), device);
        let mut inputs = vec![self, weight];
        inputs.extend(bias);
        Ok(Tensor::record(out, &inputs, || ConvolutionBackward0 {
            x: self.clone(),
            weight: weight.clone(),
            bias: bias.cloned(),
            geo,
        }))
    }
}

impl Tensor {
    /// `F.relu(F.conv2d(x, weight, bias, opts))`, and with
    /// [`ConvThen::ReluMaxPool2`] its `F.max_pool2d(_, 2)`: a convolutional
    /// block's forward, in one pass where nothing records a gradient and the
    /// backend has one (NOTE(conv-relu-pool)), pooled in training too, with
    /// the ops' graph (NOTE(conv-relu-pool-training)), else as the separate
    /// ops. The same numbers and errors either way.
    pub(crate) fn try_conv2d_then(
        &self,
        weight: &Tensor,
        bias: Option<&Tensor>,
        opts: ConvOptions,
        then: ConvThen,
    ) -> Result<Tensor> {
        let mut inputs = vec![self, weight];
        inputs.extend(bias);
        let fused = if self.dim() == 4 && !crate::autograd::needs_grad(&inputs) {
            let (buf, geo, device) = convolve(self, weight, bias, &opts, |b, x, w, bias, geo| {
                b.conv2d_then(x, w, bias, geo, then)
            })?;
            buf.map(|buf| {
                let [n, o, oh, ow] = geo.output_shape();
                let shape = match then {
                    ConvThen::Relu => [n, o, oh, ow],
                    ConvThen::ReluMaxPool2 => [n, o, oh / 2, ow / 2],
                };
                Tensor::from_buffer_on(buf, &shape, device)
            })
        } else {
            None
        };
        if let Some(out) = fused {
            return Ok(out);
        }
        if then == ConvThen::ReluMaxPool2 && self.dim() == 4 {
            if let Some(out) = self.recorded_relu_pool2(weight, bias, &opts)? {
                return Ok(out);
            }
        }
        let out = self.try_conv2d(weight, bias, opts)?.relu();
        match then {
            ConvThen::Relu => Ok(out),
            ConvThen::ReluMaxPool2 => Ok(out.try_max_pool2d_with_indices(2, Default::default())?.0),
        }
    }
}

impl Tensor {
    /// `max_pool2d(relu(conv2d(self, weight, bias)), 2)` with its graph, in
    /// one pass where the backend has one (NOTE(conv-relu-pool-training)):
    /// the three ops' nodes, on outputs of the convolution and of ReLU that
    /// are never written (views of a single zero, read by no node).
    fn recorded_relu_pool2(
        &self,
        weight: &Tensor,
        bias: Option<&Tensor>,
        opts: &ConvOptions,
    ) -> Result<Option<Tensor>> {
        let (buffers, geo, device) = convolve(self, weight, bias, opts, |b, x, w, bias, geo| {
            b.conv2d_relu_pool2(x, w, bias, geo)
        })?;
        let Some((pooled, indices)) = buffers else {
            return Ok(None);
        };
        let shape = geo.output_shape();
        let [n, o, oh, ow] = shape;
        let pooled = Tensor::from_buffer_on(pooled, &[n, o, oh / 2, ow / 2], device);
        let indices = Tensor::from_buffer_on(indices, &[n, o, oh / 2, ow / 2], device);
        let unwritten = || crate::no_grad(|| Tensor::zeros([1]).to(device).expand(shape));
        let mut inputs = vec![self, weight];
        inputs.extend(bias);
        let conv = Tensor::record(unwritten(), &inputs, || ConvolutionBackward0 {
            x: self.clone(),
            weight: weight.clone(),
            bias: bias.cloned(),
            geo,
        });
        let relu = Tensor::record(unwritten(), &[&conv], || PooledReluBackward {
            x: conv.clone(),
        });
        let saved = pooled.detach();
        Ok(Some(Tensor::record(pooled, &[&relu], || {
            ReluPoolBackward {
                x: relu.clone(),
                pooled: saved,
                indices,
                out: shape,
            }
        })))
    }
}

/// The pooling node of a fused `conv2d → ReLU → max_pool2d(2)` block
/// (NOTE(conv-relu-pool-training)): PyTorch's `MaxPool2DWithIndicesBackward0`,
/// whose gradient goes on already through ReLU's step (see
/// [`PooledReluBackward`]).
struct ReluPoolBackward {
    x: Tensor,
    pooled: Tensor,
    indices: Tensor,
    out: [usize; 4],
}

impl Node for ReluPoolBackward {
    fn name(&self) -> &'static str {
        "MaxPool2DWithIndicesBackward0"
    }
    fn inputs(&self) -> Inputs<'_> {
        smallvec::smallvec![&self.x]
    }
    fn backward(&self, g: &Tensor, acc: &mut Sink<'_>) {
        acc.add(&self.x, || {
            let device = g.device();
            let buf = read3(g, &self.pooled, &self.indices, |g, pooled, indices| {
                backend(device).relu_pool2_grad(g, pooled, indices, self.out)
            });
            Tensor::from_buffer_on(buf, &self.out, device)
        })
    }
}

/// The ReLU node of a fused `conv2d → ReLU → max_pool2d(2)` block
/// (NOTE(conv-relu-pool-training)): PyTorch's `ReluBackward0`, whose step the
/// pooling node above it has applied already, so it passes the gradient on.
struct PooledReluBackward {
    x: Tensor,
}

impl Node for PooledReluBackward {
    fn name(&self) -> &'static str {
        "ReluBackward0"
    }
    fn inputs(&self) -> Inputs<'_> {
        smallvec::smallvec![&self.x]
    }
    fn backward(&self, g: &Tensor, acc: &mut Sink<'_>) {
        acc.add(&self.x, || g.clone())
    }
}

/// Checks a batched convolution's operands as `F.conv2d` does (PyTorch's
/// words, in its order) and runs `op` on their device's backend with their
/// views: what `op` returns, the geometry and the device.
fn convolve<R>(
    x: &Tensor,
    weight: &Tensor,
    bias: Option<&Tensor>,
    opts: &ConvOptions,
    op: impl FnOnce(&dyn Backend, View, View, Option<View>, &Conv2dGeometry) -> R,
) -> Result<(R, Conv2dGeometry, Device)> {
    check_bias_dtype(x, bias)?;
    let geo = geometry(x.shape(), weight.shape(), bias.map(|b| b.shape()), opts)?;
    check_dtypes(x, weight)?;
    let (out, device) = match bias {
        Some(b) => {
            let device = device_of(&[x, weight, b])?;
            let out = read3(x, weight, b, |x, w, b| {
                op(backend(device), x, w, Some(b), &geo)
            });
            (out, device)
        }
        None => {
            let device = device_of(&[x, weight])?;
            (
                read2(x, weight, |x, w| op(backend(device), x, w, None, &geo)),
                device,
            )
        }
    };
    Ok((out, geo, device))
}

/// The gradients of a convolution: of the input (the convolution of the
/// output's gradient with the flipped weight, as col2im), of the weight (the
/// correlation of the input with the output's gradient), of the bias (the
/// output's gradient summed over batch and positions).
pub(crate) struct ConvolutionBackward0 {
    x: Tensor,
    weight: Tensor,
    bias: Option<Tensor>,
    geo: Conv2dGeometry,
}

impl Node for ConvolutionBackward0 {
    fn name(&self) -> &'static str {
        "ConvolutionBackward0"
    }
    fn inputs(&self) -> Inputs<'_> {
        let mut v: Inputs<'_> = smallvec::smallvec![&self.x, &self.weight];
        v.extend(self.bias.as_ref());
        v
    }
    fn backward(&self, g: &Tensor, acc: &mut Sink<'_>) {
        let device = g.device();
        let geo = &self.geo;
        acc.add(&self.x, || {
            let buf = read2(g, &self.weight, |g, w| {
                backend(device).conv2d_grad_input(g, w, geo)
            });
            Tensor::from_buffer_on(buf, &geo.input, device)
        });
        acc.add(&self.weight, || {
            let buf = read2(g, &self.x, |g, x| {
                backend(device).conv2d_grad_weight(g, x, geo)
            });
            Tensor::from_buffer_on(buf, &geo.weight_shape(), device)
        });
        if let Some(b) = &self.bias {
            acc.add(b, || {
                let buf = g.with_view(|g| backend(device).conv2d_grad_bias(g, geo));
                Tensor::from_buffer_on(buf, &[geo.out_channels], device)
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::golden::{attr_i, attr_size2, goldens, gradchecks};
    use crate::testing::randn;
    use serde_json::Value;

    /// The case's options: `stride`, `padding` (a pair, `"same"` or
    /// `"valid"`), `dilation`, `groups`.
    fn opts(attrs: &Value) -> ConvOptions {
        let pair = |key: &str| attr_size2(&attrs[key]).unwrap_or(Size2([1, 1]));
        let padding = match &attrs["padding"] {
            Value::String(s) if s == "same" => Padding::Same,
            Value::String(s) if s == "valid" => Padding::Valid,
            Value::Null => Padding::Zeros([0, 0]),
            v => Padding::Zeros(attr_size2(v).expect("a padding").0),
        };
        ConvOptions {
            stride: pair("stride"),
            padding,
            dilation: pair("dilation"),
            groups: if attrs["groups"].is_null() {
                1
            } else {
                attr_i(attrs, "groups") as usize
            },
        }
    }

    fn conv(x: &[Tensor], attrs: &Value) -> Tensor {
        x[0].conv2d(&x[1], x.get(2), opts(attrs))
    }

    goldens! { "conv";
        conv2d_basic => conv,
        conv2d_no_bias => conv,
        conv2d_stride_padding => conv,
        conv2d_dilation => conv,
        conv2d_groups => conv,
        conv2d_depthwise => conv,
        conv2d_same_even_kernel => conv,
        conv2d_same_dilated => conv,
        conv2d_valid => conv,
        conv2d_rect_odd => conv,
        conv2d_unbatched => conv,
        conv2d_float64 => conv,
        conv2d_cnn_like => conv,
    }

    gradchecks! {
        conv2d: [randn(&[2, 4, 5, 6], 1), randn(&[6, 2, 3, 2], 2), randn(&[6], 3)] =>
            |x| x[0].conv2d(&x[1], Some(&x[2]), ConvOptions::default().stride((2, 1)).padding((1, 2)).dilation((1, 2)).groups(2));
        conv2d_same: [randn(&[1, 3, 4, 5], 4), randn(&[2, 3, 2, 3], 5)] =>
            |x| x[0].conv2d(&x[1], None, ConvOptions::default().padding(Padding::Same).dilation(2));
    }

    /// Where `conv2d → ReLU → max_pool2d(2)` runs as one pass in training
    /// (NOTE(conv-relu-pool-training): float32 on AVX-512; elsewhere both
    /// sides are the separate ops), the pooled values and the gradients of
    /// the input, the weight and the bias are the separate ops' bits, and
    /// the graph shows their three nodes: the `cnn` model's conv2, padding,
    /// one image (its tile rows split between the threads), a constant
    /// image, whose windows tie, and rows of more windows than a register.
    #[test]
    fn fused_training_block_gives_the_separate_ops_bits() {
        let mut g = crate::Generator::new(29);
        let cases = [
            // (n, c, o, h, w, padding, constant image)
            (3, 32, 64, 26, 26, 0, false),
            (2, 8, 16, 10, 12, 1, false),
            (1, 32, 64, 26, 26, 0, false),
            (2, 9, 8, 6, 8, 0, true),
            (1, 8, 8, 4, 40, 0, false), // rows of 19 windows: 16 and 3
        ];
        for (i, &(n, c, o, h, w, pad, constant)) in cases.iter().enumerate() {
            let x = if constant {
                Tensor::ones([n, c, h, w])
            } else {
                Tensor::randn_with([n, c, h, w], &mut g)
            };
            let weight = Tensor::randn_with([o, c, 3, 3], &mut g);
            let bias = Tensor::randn_with([o], &mut g);
            let opts = ConvOptions {
                padding: Padding::Zeros([pad, pad]),
                ..Default::default()
            };
            let leaves = || [&x, &weight, &bias].map(|t| t.detach().requires_grad_(true));
            let [x1, w1, b1] = leaves();
            let fused = x1
                .try_conv2d_then(&w1, Some(&b1), opts, ConvThen::ReluMaxPool2)
                .unwrap();
            let pool = fused.grad_fn().unwrap();
            assert_eq!(pool.name(), "MaxPool2DWithIndicesBackward0", "case {i}");
            let relu = pool.next_functions()[0].0.clone().unwrap();
            assert_eq!(relu.name(), "ReluBackward0", "case {i}");
            let conv = relu.next_functions()[0].0.clone().unwrap();
            assert_eq!(conv.name(), "ConvolutionBackward0", "case {i}");
            let [x2, w2, b2] = leaves();
            let separate = x2.conv2d(&w2, Some(&b2), opts).relu().max_pool2d(2);
            let upstream = Tensor::randn_with(separate.shape(), &mut g);
            fused.backward_with(&upstream);
            separate.backward_with(&upstream);
            let bits = |t: &Tensor| {
                t.to_vec::<f32>()
                    .iter()
                    .map(|v| v.to_bits())
                    .collect::<Vec<_>>()
            };
            assert_eq!(bits(&fused), bits(&separate), "case {i}: pooled values");
            for (name, a, b) in [
                ("input", &x1, &x2),
                ("weight", &w1, &w2),
                ("bias", &b1, &b2),
            ] {
                assert_eq!(
                    bits(&a.grad().unwrap()),
                    bits(&b.grad().unwrap()),
                    "case {i}: {name}'s gradient"
                );
            }
        }
    }

    #[test]
    fn the_numbers_do_not_depend_on_the_thread_count() {
        let run = |threads: usize| {
            crate::with_threads(threads, || {
                let x = randn(&[5, 4, 9, 8], 1)
                    .to_dtype(DType::F32)
                    .requires_grad_(true);
                let w = randn(&[6, 2, 3, 3], 2)
                    .to_dtype(DType::F32)
                    .requires_grad_(true);
                let b = randn(&[6], 3).to_dtype(DType::F32).requires_grad_(true);
                let y = x.conv2d(&w, Some(&b), ConvOptions::default().groups(2).padding(1));
                let z = y.max_pool2d(2);
                (&z * &randn(z.shape(), 4).to_dtype(DType::F32))
                    .sum()
                    .backward();
                [z, x.grad().unwrap(), w.grad().unwrap(), b.grad().unwrap()].map(|t| {
                    t.to_vec::<f32>()
                        .iter()
                        .map(|v| v.to_bits())
                        .collect::<Vec<_>>()
                })
            })
        };
        assert_eq!(run(1), run(2));
    }

    fn err(x: &[usize], w: &[usize], b: Option<&[usize]>, opts: ConvOptions) -> String {
        let x = Tensor::zeros(x.to_vec());
        let w = Tensor::zeros(w.to_vec());
        let b = b.map(|b| Tensor::zeros(b.to_vec()));
        x.try_conv2d(&w, b.as_ref(), opts).unwrap_err().to_string()
    }

    #[test]
    fn bad_shapes_get_pytorchs_words() {
        let d = ConvOptions::default();
        assert_eq!(
            err(&[64, 3, 28, 28], &[32, 1, 3, 3], None, d),
            "Given groups=1, weight of size [32, 1, 3, 3], expected input[64, 3, 28, 28] to have 1 channels, but got 3 channels instead"
        );
        assert_eq!(
            err(&[1, 1, 2, 2], &[1, 1, 3, 3], None, d),
            "Calculated padded input size per channel: (2 x 2). Kernel size: (3 x 3). Kernel size can't be greater than actual input size"
        );
        assert_eq!(
            err(&[2, 3], &[1, 1, 3, 3], None, d),
            "Expected 3D (unbatched) or 4D (batched) input to conv2d, but got input of size: [2, 3]"
        );
        assert_eq!(
            err(&[1, 4, 5, 5], &[3, 2, 3, 3], None, d.groups(2)),
            "Given groups=2, expected weight to be divisible by 2 at dimension 0, but got weight of size [[3, 2, 3, 3]] instead"
        );
        assert_eq!(
            err(&[1, 1, 5, 5], &[2, 1, 3, 3], Some(&[3]), d),
            "Given weight of size [2, 1, 3, 3], expected bias to be 1-dimensional with 2 elements, but got bias of size [3] instead"
        );
        assert_eq!(
            err(
                &[1, 1, 5, 5],
                &[2, 1, 3, 3],
                None,
                d.stride(2).padding(Padding::Same)
            ),
            "padding='same' is not supported for strided convolutions"
        );
        assert_eq!(
            err(&[1, 1, 5, 5], &[2, 1, 3, 3], None, d.stride(0)),
            "non-positive stride is not supported"
        );
        assert_eq!(
            err(&[1, 1, 5, 5], &[2, 1, 3, 3], None, d.dilation(0)),
            "dilation should be greater than zero, but got [0, 0]"
        );
        assert_eq!(
            err(&[1, 1, 5, 5], &[2, 1, 3, 3], None, d.groups(0)),
            "non-positive groups is not supported"
        );
        assert_eq!(
            err(&[1, 1, 4, 4], &[1, 1, 3, 0], None, d),
            "kernel size should be greater than zero, but got kernel_height: 3 kernel_width: 0"
        );
        assert_eq!(
            err(&[1, 1, 4, 4], &[0, 1, 3, 3], None, d),
            "Given groups=1, expected weight to be at least 1 at dimension 0, but got weight of size [0, 1, 3, 3] instead"
        );
    }

    #[test]
    fn bad_dtypes_get_pytorchs_words() {
        let conv = |x: DType, w: DType, b: Option<DType>| {
            let x = Tensor::zeros([1, 1, 4, 4]).to_dtype(x);
            let w = Tensor::zeros([1, 1, 3, 3]).to_dtype(w);
            let b = b.map(|b| Tensor::zeros([1]).to_dtype(b));
            x.try_conv2d(&w, b.as_ref(), ConvOptions::default())
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            conv(DType::U8, DType::F32, None),
            "expected scalar type Byte but found Float"
        );
        assert_eq!(
            conv(DType::F64, DType::F32, None),
            "expected scalar type Double but found Float"
        );
        assert_eq!(
            conv(DType::F32, DType::F32, Some(DType::F64)),
            "Input type (float) and bias type (double) should be the same"
        );
        assert_eq!(
            conv(DType::U8, DType::U8, Some(DType::F32)),
            "Input type (unsigned char) and bias type (float) should be the same"
        );
        assert_eq!(
            conv(DType::Bool, DType::Bool, None),
            "\"slow_conv2d_cpu\" not implemented for 'Bool'"
        );
    }
}
