//! Pooling over NCHW tensors: `max_pool2d` (PyTorch's `F.max_pool2d`: kernel,
//! stride, padding, dilation, `ceil_mode`, `return_indices`) with its backward
//! node `MaxPool2DWithIndicesBackward0`; `avg_pool2d` (`AvgPool2DBackward0`),
//! `adaptive_avg_pool2d` (`AdaptiveAvgPool2DBackward0`) and
//! `adaptive_max_pool2d` (`AdaptiveMaxPool2DBackward0`, `return_indices`).

use super::conv::Size2;
use crate::backend::{backend, Conv2dGeometry, PoolWindows};
use crate::error::{or_panic, shape_err, Error, Result};
use crate::tensor::{DType, Tensor};

/// `F.max_pool2d`'s keyword arguments, with its defaults (`stride=None`, the
/// kernel size; `padding=0`, `dilation=1`, `ceil_mode=False`).
///
/// ```
/// use kindling::{PoolOptions, Tensor};
/// let x = Tensor::ones([1, 1, 5, 5]);
/// assert_eq!(x.max_pool2d(2).shape(), &[1, 1, 2, 2]);
/// let y = x.max_pool2d_with(2, PoolOptions::default().ceil_mode(true));
/// assert_eq!(y.shape(), &[1, 1, 3, 3]);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolOptions {
    /// `None`: the kernel size.
    pub stride: Option<Size2>,
    pub padding: Size2,
    pub dilation: Option<Size2>,
    pub ceil_mode: bool,
}

impl PoolOptions {
    /// `stride=`.
    pub fn stride(mut self, stride: impl Into<Size2>) -> Self {
        self.stride = Some(stride.into());
        self
    }
    /// `padding=` (implicit negative infinity, which never wins).
    pub fn padding(mut self, padding: impl Into<Size2>) -> Self {
        self.padding = padding.into();
        self
    }
    /// `dilation=`.
    pub fn dilation(mut self, dilation: impl Into<Size2>) -> Self {
        self.dilation = Some(dilation.into());
        self
    }
    /// `ceil_mode=`: round the output size up, so a partial window at the end
    /// counts (when it starts inside the input or its left padding).
    pub fn ceil_mode(mut self, ceil_mode: bool) -> Self {
        self.ceil_mode = ceil_mode;
        self
    }
}

/// PyTorch's `pooling_output_shape`.
fn output_size(
    size: usize,
    kernel: usize,
    pad: usize,
    stride: usize,
    dilation: usize,
    ceil: bool,
) -> i64 {
    let (size, kernel, pad, stride, dilation) = (
        size as i64,
        kernel as i64,
        pad as i64,
        stride as i64,
        dilation as i64,
    );
    let num = size + 2 * pad - dilation * (kernel - 1) - 1 + if ceil { stride - 1 } else { 0 };
    let mut out = num.div_euclid(stride) + 1;
    if ceil && (out - 1) * stride >= size + pad {
        out -= 1;
    }
    out
}

/// Checks a 4-D input as PyTorch's `pool2d_shape_check` does, with its words.
fn geometry(input: &[usize], kernel: Size2, opts: &PoolOptions) -> Result<Conv2dGeometry> {
    let kernel = kernel.0;
    let stride = opts.stride.map_or(kernel, |s| s.0);
    let dilation = opts.dilation.map_or([1, 1], |d| d.0);
    let pad = opts.padding.0;
    if stride.contains(&0) {
        return Err(shape_err("stride should not be zero"));
    }
    if kernel.contains(&0) {
        return Err(shape_err(format!(
            "kernel size should be greater than zero, but got kH: {} kW: {}",
            kernel[0], kernel[1]
        )));
    }
    if dilation.contains(&0) {
        return Err(shape_err(format!(
            "dilation should be greater than zero, but got dilationH: {} dilationW: {}",
            dilation[0], dilation[1]
        )));
    }
    if input[1..].contains(&0) {
        return Err(shape_err(format!(
            "Expected 3D or 4D (batch mode) tensor with optional 0 dim batch size for input, but got:{input:?}"
        )));
    }
    for a in 0..2 {
        if pad[a] > kernel[a] / 2 {
            return Err(shape_err(format!(
                "pad should be at most half of effective kernel size, but got pad={}, kernel_size={} and dilation={}",
                pad[a], kernel[a], dilation[a]
            )));
        }
    }
    let out = [0, 1].map(|a| {
        output_size(
            input[2 + a],
            kernel[a],
            pad[a],
            stride[a],
            dilation[a],
            opts.ceil_mode,
        )
    });
    if out[0] < 1 || out[1] < 1 {
        return Err(shape_err(format!(
            "Given input size: ({}x{}x{}). Calculated output size: ({}x{}x{}). Output size is too small",
            input[1], input[2], input[3], input[1], out[0], out[1]
        )));
    }
    Ok(Conv2dGeometry {
        input: [input[0], input[1], input[2], input[3]],
        out_channels: input[1],
        kernel,
        stride,
        pad,
        dilation,
        groups: input[1],
        out: [out[0] as usize, out[1] as usize],
    })
}

impl Tensor {
    /// `F.max_pool2d(x, kernel)`: the maximum of each `kernel`-sized window,
    /// windows `kernel` apart, over `[n, c, h, w]` (or unbatched `[c, h, w]`).
    ///
    /// # Panics
    /// With PyTorch's message on a bad size; see
    /// [`Tensor::try_max_pool2d_with_indices`].
    #[track_caller]
    pub fn max_pool2d(&self, kernel: impl Into<Size2>) -> Tensor {
        or_panic!(self.try_max_pool2d_with_indices(kernel, PoolOptions::default())).0
    }

    /// `F.max_pool2d` with its keyword arguments.
    #[track_caller]
    pub fn max_pool2d_with(&self, kernel: impl Into<Size2>, opts: PoolOptions) -> Tensor {
        or_panic!(self.try_max_pool2d_with_indices(kernel, opts)).0
    }

    /// `F.max_pool2d(..., return_indices=True)`: the maxima and where each was,
    /// as a flat int64 index into its input plane (`row * w + column`).
    #[track_caller]
    pub fn max_pool2d_with_indices(
        &self,
        kernel: impl Into<Size2>,
        opts: PoolOptions,
    ) -> (Tensor, Tensor) {
        or_panic!(self.try_max_pool2d_with_indices(kernel, opts))
    }

    /// Fallible [`Tensor::max_pool2d_with_indices`].
    pub fn try_max_pool2d_with_indices(
        &self,
        kernel: impl Into<Size2>,
        opts: PoolOptions,
    ) -> Result<(Tensor, Tensor)> {
        let kernel = kernel.into();
        // An unbatched `[c, h, w]` input pools as a batch of one, and its
        // result keeps three dimensions (with this op's grad_fn, as in PyTorch).
        let batched = match self.dim() {
            4 => self.clone(),
            3 => crate::no_grad(|| self.unsqueeze(0)),
            _ => {
                return Err(shape_err(
                    "non-empty 3D or 4D (batch mode) tensor expected for input",
                ))
            }
        };
        let geo = geometry(batched.shape(), kernel, &opts)?;
        if self.dtype() == DType::Bool {
            return Err(Error::NotImplemented {
                op: "max_pool2d",
                dtype: self.dtype(),
            });
        }
        let buffers = batched.with_view(|x| backend(self.device()).max_pool2d(x, &geo));
        Ok(max_output(
            self,
            buffers,
            geo.input,
            geo.output_shape(),
            false,
        ))
    }
}

/// Each window's gradient goes to its maximum: the node of `max_pool2d`
/// (`MaxPool2DWithIndicesBackward0`) and of `adaptive_max_pool2d`
/// (`AdaptiveMaxPool2DBackward0`).
pub(crate) struct MaxPoolBackward {
    x: Tensor,
    indices: Tensor,
    /// `[n, c, h, w]` and `[n, c, oh, ow]`, batched.
    input: [usize; 4],
    output: [usize; 4],
    adaptive: bool,
}

impl crate::autograd::Node for MaxPoolBackward {
    fn name(&self) -> &'static str {
        if self.adaptive {
            "AdaptiveMaxPool2DBackward0"
        } else {
            "MaxPool2DWithIndicesBackward0"
        }
    }
    fn inputs(&self) -> crate::autograd::Inputs<'_> {
        smallvec::smallvec![&self.x]
    }
    fn backward(&self, g: &Tensor, acc: &mut crate::autograd::Sink<'_>) {
        acc.add(&self.x, || {
            let device = g.device();
            // Contiguous batched views of `g` and the indices, for the kernel.
            let batched = |t: &Tensor| t.contiguous().reshape(self.output);
            let (g, indices) = (batched(g), batched(&self.indices));
            let buf = super::read2(&g, &indices, |g, i| {
                backend(device).max_pool2d_grad(g, i, self.input)
            });
            Tensor::from_buffer_on(buf, self.x.shape(), device)
        })
    }
}

/// Records a max pool's values and indices (batched `[n, c, oh, ow]`
/// buffers) in the input's rank.
fn max_output(
    x: &Tensor,
    (values, indices): (crate::tensor::Buffer, crate::tensor::Buffer),
    input: [usize; 4],
    output: [usize; 4],
    adaptive: bool,
) -> (Tensor, Tensor) {
    let device = x.device();
    let shape = &output[4 - x.dim()..];
    let values = Tensor::from_buffer_on(values, shape, device);
    let indices = Tensor::from_buffer_on(indices, shape, device);
    let out = Tensor::record(values, &[x], || MaxPoolBackward {
        x: x.clone(),
        indices: indices.clone(),
        input,
        output,
        adaptive,
    });
    (out, indices)
}

/// `F.avg_pool2d`'s keyword arguments, with its defaults (`stride=None`, the
/// kernel size; `padding=0`, `ceil_mode=False`, `count_include_pad=True`,
/// `divisor_override=None`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AvgPoolOptions {
    /// `None`: the kernel size.
    pub stride: Option<Size2>,
    pub padding: Size2,
    pub ceil_mode: bool,
    /// Count the zeros of the padding in each window's size.
    pub count_include_pad: bool,
    /// Divide every window's sum by this instead.
    pub divisor_override: Option<usize>,
}

impl Default for AvgPoolOptions {
    fn default() -> Self {
        AvgPoolOptions {
            stride: None,
            padding: Size2([0, 0]),
            ceil_mode: false,
            count_include_pad: true,
            divisor_override: None,
        }
    }
}

impl AvgPoolOptions {
    /// `stride=`.
    pub fn stride(mut self, stride: impl Into<Size2>) -> Self {
        self.stride = Some(stride.into());
        self
    }
    /// `padding=` (zeros).
    pub fn padding(mut self, padding: impl Into<Size2>) -> Self {
        self.padding = padding.into();
        self
    }
    /// `ceil_mode=`.
    pub fn ceil_mode(mut self, ceil_mode: bool) -> Self {
        self.ceil_mode = ceil_mode;
        self
    }
    /// `count_include_pad=`.
    pub fn count_include_pad(mut self, count: bool) -> Self {
        self.count_include_pad = count;
        self
    }
    /// `divisor_override=`.
    pub fn divisor_override(mut self, divisor: usize) -> Self {
        self.divisor_override = Some(divisor);
        self
    }
}

/// The input as `[n, c, h, w]` (an unbatched `[c, h, w]` as a batch of one),
/// or PyTorch's error for other ranks.
fn batched4(x: &Tensor, err: impl FnOnce() -> Error) -> Result<Tensor> {
    match x.dim() {
        4 => Ok(x.clone()),
        3 => Ok(crate::no_grad(|| x.unsqueeze(0))),
        _ => Err(err()),
    }
}

/// Records an average pool's output, in the input's rank.
fn avg_output(x: &Tensor, batched: &Tensor, win: PoolWindows, adaptive: bool) -> Tensor {
    let device = x.device();
    let buf = batched.with_view(|v| backend(device).avg_pool2d(v, &win));
    let shape = &win.output_shape()[4 - x.dim()..];
    let out = Tensor::from_buffer_on(buf, shape, device);
    Tensor::record(out, &[x], || AvgPool2DBackward0 {
        x: x.clone(),
        win,
        adaptive,
    })
}

impl Tensor {
    /// `F.avg_pool2d(x, kernel)`: the mean of each `kernel`-sized window,
    /// windows `kernel` apart, over `[n, c, h, w]` (or unbatched `[c, h, w]`).
    ///
    /// ```
    /// use kindling::Tensor;
    /// let x = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], [1, 1, 2, 2]);
    /// assert_eq!(x.avg_pool2d(2).to_vec::<f32>(), [2.5]);
    /// ```
    #[track_caller]
    pub fn avg_pool2d(&self, kernel: impl Into<Size2>) -> Tensor {
        or_panic!(self.try_avg_pool2d(kernel, AvgPoolOptions::default()))
    }

    /// `F.avg_pool2d` with its keyword arguments.
    #[track_caller]
    pub fn avg_pool2d_with(&self, kernel: impl Into<Size2>, opts: AvgPoolOptions) -> Tensor {
        or_panic!(self.try_avg_pool2d(kernel, opts))
    }

    /// Fallible [`Tensor::avg_pool2d_with`]. Integer tensors are refused
    /// (PyTorch averages them with truncation).
    pub fn try_avg_pool2d(&self, kernel: impl Into<Size2>, opts: AvgPoolOptions) -> Result<Tensor> {
        let kernel = kernel.into();
        let batched = batched4(self, || Error::DimOutOfRange {
            dim: -3,
            low: -(self.dim() as isize),
            high: self.dim() as isize - 1,
        })?;
        let pool = PoolOptions {
            stride: opts.stride,
            padding: opts.padding,
            dilation: None,
            ceil_mode: opts.ceil_mode,
        };
        let geo = geometry(batched.shape(), kernel, &pool)?;
        if !self.dtype().is_floating_point() {
            return Err(Error::NotImplemented {
                op: "avg_pool2d",
                dtype: self.dtype(),
            });
        }
        let [_, _, h, w] = geo.input;
        // PyTorch's avg_pool2d kernel: a window ends at most `pad` past the
        // input; its size before clipping to the input is the padded count.
        let axis = |a: usize, o: usize, size: usize| {
            let start = (o * geo.stride[a]) as i64 - geo.pad[a] as i64;
            let end = (start + geo.kernel[a] as i64).min((size + geo.pad[a]) as i64);
            let padded = (end - start) as usize;
            let (s, e) = (start.max(0) as usize, (end.max(0) as usize).min(size));
            (s..e.max(s), padded)
        };
        let rows: Vec<_> = (0..geo.out[0]).map(|o| axis(0, o, h)).collect();
        let cols: Vec<_> = (0..geo.out[1]).map(|o| axis(1, o, w)).collect();
        let mut divisor = Vec::with_capacity(rows.len() * cols.len());
        for (r, rp) in &rows {
            for (c, cp) in &cols {
                let d = match opts.divisor_override {
                    Some(d) => d,
                    None if opts.count_include_pad => rp * cp,
                    None => r.len() * c.len(),
                };
                // An empty window averages to 0, as in PyTorch.
                divisor.push(d.max(1) as f64);
            }
        }
        let win = PoolWindows {
            input: geo.input,
            rows: rows.into_iter().map(|(r, _)| r).collect(),
            cols: cols.into_iter().map(|(c, _)| c).collect(),
            divisor,
        };
        Ok(avg_output(self, &batched, win, false))
    }

    /// `F.adaptive_avg_pool2d(x, output_size)`: windows cut so that the output
    /// is `output_size`, `[n, c, oh, ow]` (or unbatched). A 1×1 output is the
    /// mean over the last two dimensions, as PyTorch computes it (grad_fn
    /// `MeanBackward1`).
    ///
    /// ```
    /// use kindling::Tensor;
    /// let x = Tensor::ones([2, 8, 7, 7]);
    /// assert_eq!(x.adaptive_avg_pool2d(1).shape(), &[2, 8, 1, 1]);
    /// assert_eq!(x.adaptive_avg_pool2d((2, 3)).shape(), &[2, 8, 2, 3]);
    /// ```
    #[track_caller]
    pub fn adaptive_avg_pool2d(&self, output_size: impl Into<Size2>) -> Tensor {
        or_panic!(self.try_adaptive_avg_pool2d(output_size))
    }

    /// Fallible [`Tensor::adaptive_avg_pool2d`].
    pub fn try_adaptive_avg_pool2d(&self, output_size: impl Into<Size2>) -> Result<Tensor> {
        let output_size = output_size.into();
        let batched = adaptive_input(self, "adaptive_avg_pool2d", " ")?;
        if !self.dtype().is_floating_point() {
            return Err(Error::NotImplemented {
                op: "adaptive_avg_pool2d",
                dtype: self.dtype(),
            });
        }
        if output_size.0 == [1, 1] {
            return self.try_mean_dim(-1, true)?.try_mean_dim(-2, true);
        }
        let win = adaptive_windows(&batched, output_size);
        Ok(avg_output(self, &batched, win, true))
    }

    /// `F.adaptive_max_pool2d(x, output_size)`: the maximum of each window,
    /// windows cut as [`Tensor::adaptive_avg_pool2d`] cuts them (they may
    /// overlap), `[n, c, oh, ow]` (or unbatched); grad_fn
    /// `AdaptiveMaxPool2DBackward0`.
    ///
    /// ```
    /// use kindling::Tensor;
    /// let x = Tensor::arange(12).to_dtype(kindling::DType::F32).reshape([1, 1, 3, 4]);
    /// let y = x.adaptive_max_pool2d((2, 2));
    /// assert_eq!(y.to_vec::<f32>(), [5.0, 7.0, 9.0, 11.0]);
    /// ```
    #[track_caller]
    pub fn adaptive_max_pool2d(&self, output_size: impl Into<Size2>) -> Tensor {
        or_panic!(self.try_adaptive_max_pool2d_with_indices(output_size)).0
    }

    /// `F.adaptive_max_pool2d(..., return_indices=True)`: the maxima and
    /// where each was, as a flat int64 index into its input plane.
    #[track_caller]
    pub fn adaptive_max_pool2d_with_indices(
        &self,
        output_size: impl Into<Size2>,
    ) -> (Tensor, Tensor) {
        or_panic!(self.try_adaptive_max_pool2d_with_indices(output_size))
    }

    /// Fallible [`Tensor::adaptive_max_pool2d_with_indices`]: PyTorch's
    /// words for a rank other than 3 or 4, an empty channel or plane, or an
    /// integer tensor.
    pub fn try_adaptive_max_pool2d_with_indices(
        &self,
        output_size: impl Into<Size2>,
    ) -> Result<(Tensor, Tensor)> {
        let batched = adaptive_input(self, "adaptive_max_pool2d", ": ")?;
        if let Some(d) = (1..self.dim()).find(|&d| self.shape()[d] == 0) {
            return Err(shape_err(format!(
                "adaptive_max_pool2d(): Expected input to have non-zero size for non-batch \
                 dimensions, but input has sizes {:?} with dimension {d} being empty",
                self.shape()
            )));
        }
        if !self.dtype().is_floating_point() {
            return Err(Error::NotImplemented {
                op: "adaptive_max_pool2d",
                dtype: self.dtype(),
            });
        }
        let win = adaptive_windows(&batched, output_size.into());
        let buffers = batched.with_view(|x| backend(self.device()).adaptive_max_pool2d(x, &win));
        Ok(max_output(
            self,
            buffers,
            win.input,
            win.output_shape(),
            true,
        ))
    }
}

/// The input of an adaptive pool as `[n, c, h, w]`, or PyTorch's words for
/// another rank (`sep`: what PyTorch's message for `op` puts before the shape).
fn adaptive_input(x: &Tensor, op: &str, sep: &str) -> Result<Tensor> {
    if x.dim() < 3 {
        return Err(shape_err("Input dimension should be at least 3"));
    }
    batched4(x, || {
        shape_err(format!(
            "{op}(): Expected 3D or 4D tensor, but got{sep}{:?}",
            x.shape()
        ))
    })
}

/// PyTorch's adaptive windows over a batched input: output row `o` of `out`
/// reads rows `⌊o·h/out⌋ .. ⌈(o+1)·h/out⌉`, and the same for columns.
fn adaptive_windows(batched: &Tensor, Size2([oh, ow]): Size2) -> PoolWindows {
    let [n, c, h, w] = [0, 1, 2, 3].map(|d| batched.shape()[d]);
    let cut = |o: usize, out: usize, size: usize| (o * size / out)..((o + 1) * size).div_ceil(out);
    let rows: Vec<_> = (0..oh).map(|o| cut(o, oh, h)).collect();
    let cols: Vec<_> = (0..ow).map(|o| cut(o, ow, w)).collect();
    let divisor = rows
        .iter()
        .flat_map(|r| cols.iter().map(move |c| (r.len() * c.len()).max(1) as f64))
        .collect();
    PoolWindows {
        input: [n, c, h, w],
        rows,
        cols,
        divisor,
    }
}

/// Each window's gradient, divided by its divisor, goes to its elements.
pub(crate) struct AvgPool2DBackward0 {
    x: Tensor,
    win: PoolWindows,
    adaptive: bool,
}

impl crate::autograd::Node for AvgPool2DBackward0 {
    fn name(&self) -> &'static str {
        if self.adaptive {
            "AdaptiveAvgPool2DBackward0"
        } else {
            "AvgPool2DBackward0"
        }
    }
    fn inputs(&self) -> crate::autograd::Inputs<'_> {
        smallvec::smallvec![&self.x]
    }
    fn backward(&self, g: &Tensor, acc: &mut crate::autograd::Sink<'_>) {
        acc.add(&self.x, || {
            let device = g.device();
            let g = g.contiguous().reshape(self.win.output_shape());
            let buf = g.with_view(|g| backend(device).avg_pool2d_grad(g, &self.win));
            Tensor::from_buffer_on(buf, self.x.shape(), device)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::golden::{attr_size2 as pair, goldens, gradchecks};
    use serde_json::Value;

    fn pool(x: &[Tensor], attrs: &Value) -> Tensor {
        let opts = PoolOptions {
            stride: pair(&attrs["stride"]),
            padding: pair(&attrs["padding"]).unwrap_or_default(),
            dilation: pair(&attrs["dilation"]),
            ceil_mode: attrs["ceil_mode"].as_bool().unwrap_or(false),
        };
        x[0].max_pool2d_with(pair(&attrs["kernel_size"]).unwrap(), opts)
    }

    goldens! { "pool";
        max_pool2d_2 => pool,
        max_pool2d_stride_padding => pool,
        max_pool2d_dilation => pool,
        max_pool2d_ceil_mode => pool,
        max_pool2d_ceil_mode_padding => pool,
        max_pool2d_rect => pool,
        max_pool2d_overlapping => pool,
        max_pool2d_unbatched => pool,
        max_pool2d_float64 => pool,
        max_pool2d_ties_and_nan => pool,
        max_pool2d_empty_window => pool,
        max_pool2d_indices => |x, _| x[0].max_pool2d_with_indices(3, PoolOptions::default().stride(2).padding(1)).1,
        avg_pool2d_2 => avg,
        avg_pool2d_stride_padding => avg,
        avg_pool2d_no_pad_count => avg,
        avg_pool2d_ceil_mode => avg,
        avg_pool2d_divisor => avg,
        avg_pool2d_unbatched => avg,
        adaptive_avg_pool2d_1 => adaptive,
        adaptive_avg_pool2d_uneven => adaptive,
        adaptive_avg_pool2d_larger => adaptive,
        adaptive_avg_pool2d_unbatched => adaptive,
        adaptive_max_pool2d_1 => adaptive_max,
        adaptive_max_pool2d_uneven => adaptive_max,
        adaptive_max_pool2d_overlapping => adaptive_max,
        adaptive_max_pool2d_larger => adaptive_max,
        adaptive_max_pool2d_unbatched => adaptive_max,
        adaptive_max_pool2d_float64 => adaptive_max,
        adaptive_max_pool2d_ties_and_nan => adaptive_max,
        adaptive_max_pool2d_indices => |x, _| x[0].adaptive_max_pool2d_with_indices((3, 4)).1,
    }

    fn avg(x: &[Tensor], attrs: &Value) -> Tensor {
        let mut opts = AvgPoolOptions {
            stride: pair(&attrs["stride"]),
            padding: pair(&attrs["padding"]).unwrap_or_default(),
            ceil_mode: attrs["ceil_mode"].as_bool().unwrap_or(false),
            count_include_pad: attrs["count_include_pad"].as_bool().unwrap_or(true),
            divisor_override: None,
        };
        if let Some(d) = attrs["divisor_override"].as_u64() {
            opts = opts.divisor_override(d as usize);
        }
        x[0].avg_pool2d_with(pair(&attrs["kernel_size"]).unwrap(), opts)
    }

    fn adaptive(x: &[Tensor], attrs: &Value) -> Tensor {
        x[0].adaptive_avg_pool2d(pair(&attrs["output_size"]).unwrap())
    }

    fn adaptive_max(x: &[Tensor], attrs: &Value) -> Tensor {
        x[0].adaptive_max_pool2d(pair(&attrs["output_size"]).unwrap())
    }

    gradchecks! {
        max_pool2d: [randn(&[2, 3, 7, 6], 1)] =>
            |x| x[0].max_pool2d_with(3, PoolOptions::default().stride(2).padding(1).ceil_mode(true));
        avg_pool2d: [randn(&[2, 3, 7, 6], 2)] =>
            |x| x[0].avg_pool2d_with(3, AvgPoolOptions::default().stride(2).padding(1).ceil_mode(true).count_include_pad(false));
        adaptive_avg_pool2d: [randn(&[2, 3, 7, 5], 3)] => |x| x[0].adaptive_avg_pool2d((3, 2));
        adaptive_max_pool2d: [randn(&[2, 3, 7, 5], 4)] => |x| x[0].adaptive_max_pool2d((3, 4));
    }

    #[test]
    fn adaptive_pools_get_pytorchs_words() {
        let max = |shape: &[usize]| {
            Tensor::zeros(shape.to_vec())
                .try_adaptive_max_pool2d_with_indices((2, 2))
                .unwrap_err()
                .to_string()
        };
        let avg = |shape: &[usize]| {
            Tensor::zeros(shape.to_vec())
                .try_adaptive_avg_pool2d((2, 2))
                .unwrap_err()
                .to_string()
        };
        assert_eq!(max(&[2, 3]), "Input dimension should be at least 3");
        assert_eq!(avg(&[2, 3]), "Input dimension should be at least 3");
        assert_eq!(
            max(&[1, 1, 1, 4, 4]),
            "adaptive_max_pool2d(): Expected 3D or 4D tensor, but got: [1, 1, 1, 4, 4]"
        );
        assert_eq!(
            avg(&[1, 1, 1, 4, 4]),
            "adaptive_avg_pool2d(): Expected 3D or 4D tensor, but got [1, 1, 1, 4, 4]"
        );
        assert_eq!(
            max(&[1, 0, 4, 4]),
            "adaptive_max_pool2d(): Expected input to have non-zero size for non-batch dimensions, \
             but input has sizes [1, 0, 4, 4] with dimension 1 being empty"
        );
        // An empty batch pools to an empty batch, as in PyTorch.
        let empty = Tensor::zeros([0, 1, 4, 4]).adaptive_max_pool2d((2, 2));
        assert_eq!(empty.shape(), &[0, 1, 2, 2]);
        let ints = Tensor::from_vec(vec![1i64, 5, 3, 2], [1, 1, 2, 2]);
        assert_eq!(
            ints.try_adaptive_max_pool2d_with_indices(1)
                .unwrap_err()
                .to_string(),
            "\"adaptive_max_pool2d\" not implemented for 'Long'"
        );
    }

    fn err(x: &[usize], kernel: usize, opts: PoolOptions) -> String {
        Tensor::zeros(x.to_vec())
            .try_max_pool2d_with_indices(kernel, opts)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn bad_sizes_get_pytorchs_words() {
        let d = PoolOptions::default();
        assert_eq!(
            err(&[1, 2, 2, 2], 3, d),
            "Given input size: (2x2x2). Calculated output size: (2x0x0). Output size is too small"
        );
        assert_eq!(
            err(&[1, 1, 5, 5], 3, d.padding(2)),
            "pad should be at most half of effective kernel size, but got pad=2, kernel_size=3 and dilation=1"
        );
        assert_eq!(
            err(&[2, 3], 2, d),
            "non-empty 3D or 4D (batch mode) tensor expected for input"
        );
        assert_eq!(
            err(&[1, 0, 4, 4], 2, d),
            "Expected 3D or 4D (batch mode) tensor with optional 0 dim batch size for input, but got:[1, 0, 4, 4]"
        );
        assert_eq!(err(&[1, 1, 4, 4], 0, d), "stride should not be zero");
        assert_eq!(
            err(&[1, 1, 4, 4], 0, d.stride(1)),
            "kernel size should be greater than zero, but got kH: 0 kW: 0"
        );
        assert_eq!(
            err(&[1, 1, 4, 4], 2, d.dilation(0)),
            "dilation should be greater than zero, but got dilationH: 0 dilationW: 0"
        );
        let bools = Tensor::zeros([1, 1, 4, 4]).to_dtype(DType::Bool);
        assert_eq!(
            bools
                .try_max_pool2d_with_indices(2, d)
                .unwrap_err()
                .to_string(),
            "\"max_pool2d\" not implemented for 'Bool'"
        );
        let ints = Tensor::from_vec(vec![1i64, 5, 3, 2], [1, 1, 2, 2]);
        assert_eq!(ints.max_pool2d(2).to_vec::<i64>(), [5]);
        // A window that holds no element: the dtype's lowest, at PyTorch's index.
        let (v, i) = Tensor::from_vec(vec![5i64], [1, 1, 1, 1])
            .max_pool2d_with_indices((1, 2), d.stride(1).padding((0, 1)).dilation((1, 2)));
        assert_eq!(
            (v.to_vec::<i64>(), i.to_vec::<i64>()),
            (vec![i64::MIN], vec![1])
        );
    }
}
