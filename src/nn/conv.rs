//! Convolution and pooling layers: `Conv2d`, `MaxPool2d`, `AvgPool2d`,
//! `AdaptiveAvgPool2d`, `AdaptiveMaxPool2d`.

use std::fmt;

use super::{init, Module, ModuleInfo};
use crate::backend::ConvThen;
use crate::error::{Error, Result};
use crate::io::onnx::{Attr, Graph};
use crate::ops::conv::{ConvOptions, Padding, Size2};
use crate::ops::pool::{AvgPoolOptions, PoolOptions};
use crate::tensor::Tensor;

fn pair(v: [usize; 2]) -> String {
    format!("({}, {})", v[0], v[1])
}

/// A 2-D convolution layer, `nn.Conv2d`: `weight` `[out_channels,
/// in_channels / groups, kh, kw]` and `bias` `[out_channels]`, both
/// initialised as PyTorch does (uniform in `±1/√fan_in`, `fan_in =
/// in_channels / groups · kh · kw`).
///
/// ```
/// use kindling::nn::{Conv2d, Module};
/// use kindling::{Padding, Tensor};
/// let conv1 = Conv2d::new(1, 32, 3);
/// assert_eq!(conv1.to_string(), "Conv2d(1, 32, kernel_size=(3, 3), stride=(1, 1))");
/// let y = conv1.forward(&Tensor::zeros([64, 1, 28, 28])).unwrap();
/// assert_eq!(y.shape(), &[64, 32, 26, 26]);
/// let same = Conv2d::new(32, 64, 3).padding(Padding::Same);
/// assert_eq!(same.to_string(), "Conv2d(32, 64, kernel_size=(3, 3), stride=(1, 1), padding=same)");
/// ```
pub struct Conv2d {
    /// `[out_channels, in_channels / groups, kh, kw]`
    pub weight: Tensor,
    /// `[out_channels]`, when the layer has a bias.
    pub bias: Option<Tensor>,
    /// Stride, padding, dilation and groups, as `F.conv2d` takes them.
    pub options: ConvOptions,
}

impl Conv2d {
    /// `nn.Conv2d(in_channels, out_channels, kernel_size)`: stride 1, no
    /// padding, a bias.
    pub fn new(in_channels: usize, out_channels: usize, kernel_size: impl Into<Size2>) -> Conv2d {
        Conv2d::with_options(
            in_channels,
            out_channels,
            kernel_size,
            ConvOptions::default(),
            true,
        )
    }

    /// `nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding,
    /// dilation, groups, bias)`.
    ///
    /// # Panics
    /// As PyTorch's constructor raises: `groups` of 0, or channels that
    /// `groups` does not divide.
    pub fn with_options(
        in_channels: usize,
        out_channels: usize,
        kernel_size: impl Into<Size2>,
        options: ConvOptions,
        bias: bool,
    ) -> Conv2d {
        let groups = options.groups;
        assert!(groups > 0, "groups must be a positive integer");
        assert!(
            in_channels.is_multiple_of(groups),
            "in_channels must be divisible by groups"
        );
        assert!(
            out_channels.is_multiple_of(groups),
            "out_channels must be divisible by groups"
        );
        let [kh, kw] = kernel_size.into().0;
        let weight = Tensor::zeros([out_channels, in_channels / groups, kh, kw]);
        // kaiming_uniform_(a=√5) reduces to U(±1/√fan_in), as for Linear.
        init::kaiming_uniform_(&weight, 5f64.sqrt());
        let (fan_in, _) = init::fans(&weight);
        let bound = if fan_in > 0 {
            1.0 / (fan_in as f64).sqrt()
        } else {
            0.0
        };
        let bias = bias.then(|| {
            let b = Tensor::zeros([out_channels]);
            init::uniform_(&b, -bound, bound);
            b.requires_grad_(true)
        });
        Conv2d {
            weight: weight.requires_grad_(true),
            bias,
            options,
        }
    }

    /// `stride=`.
    pub fn stride(mut self, stride: impl Into<Size2>) -> Conv2d {
        self.options.stride = stride.into();
        self
    }

    /// `padding=`: a size, a pair, [`Padding::Same`] or [`Padding::Valid`].
    pub fn padding(mut self, padding: impl Into<Padding>) -> Conv2d {
        self.options.padding = padding.into();
        self
    }

    /// `dilation=`.
    pub fn dilation(mut self, dilation: impl Into<Size2>) -> Conv2d {
        self.options.dilation = dilation.into();
        self
    }

    /// Input channels.
    pub fn in_channels(&self) -> usize {
        self.weight.shape()[1] * self.options.groups
    }

    /// Output channels.
    pub fn out_channels(&self) -> usize {
        self.weight.shape()[0]
    }

    /// `[kh, kw]`.
    pub fn kernel_size(&self) -> [usize; 2] {
        [self.weight.shape()[2], self.weight.shape()[3]]
    }
}

impl ModuleInfo for Conv2d {
    fn type_name(&self) -> &str {
        "Conv2d"
    }
    /// PyTorch's `_ConvNd.extra_repr`: what differs from the defaults.
    fn extra_repr(&self) -> String {
        let o = &self.options;
        let mut s = format!(
            "{}, {}, kernel_size={}, stride={}",
            self.in_channels(),
            self.out_channels(),
            pair(self.kernel_size()),
            pair(o.stride.0)
        );
        match o.padding {
            Padding::Zeros([0, 0]) => {}
            Padding::Zeros(p) => s += &format!(", padding={}", pair(p)),
            Padding::Same => s += ", padding=same",
            Padding::Valid => s += ", padding=valid",
        }
        if o.dilation.0 != [1, 1] {
            s += &format!(", dilation={}", pair(o.dilation.0));
        }
        if o.groups != 1 {
            s += &format!(", groups={}", o.groups);
        }
        if self.bias.is_none() {
            s += ", bias=False";
        }
        s
    }
    fn own_parameters(&self) -> Vec<(String, Tensor)> {
        let mut out = vec![("weight".to_string(), self.weight.clone())];
        if let Some(b) = &self.bias {
            out.push(("bias".to_string(), b.clone()));
        }
        out
    }
}

/// A pair as ONNX's integer list.
fn ints(p: [usize; 2]) -> Attr {
    Attr::Ints(p.iter().map(|&v| v as i64).collect())
}

/// ONNX's `pads` (`[top, left, bottom, right]`) for symmetric padding `p`.
fn pads(p: [usize; 2]) -> Attr {
    Attr::Ints([p[0], p[1], p[0], p[1]].iter().map(|&v| v as i64).collect())
}

impl Conv2d {
    /// `F.relu(self(x))`, or with [`ConvThen::ReluMaxPool2`]
    /// `F.max_pool2d(F.relu(self(x)), 2)`, in one pass where nothing records
    /// a gradient (NOTE(conv-relu-pool)), and pooled, in training too
    /// (NOTE(conv-relu-pool-training)); the same numbers as the ops in turn.
    pub(crate) fn forward_then(&self, x: &Tensor, then: ConvThen) -> Result<Tensor> {
        x.try_conv2d_then(&self.weight, self.bias.as_ref(), self.options, then)
    }
}

impl Module for Conv2d {
    /// `Conv(x, weight, bias)` with the strides, pads, dilations and groups.
    fn onnx(&self, g: &mut Graph, x: &str) -> Result<String> {
        let o = self.options;
        let [kh, kw] = self.kernel_size();
        let pads = match o.padding {
            Padding::Zeros(p) => pads(p),
            Padding::Valid => pads([0, 0]),
            // PyTorch puts an odd total's extra row and column after.
            Padding::Same => {
                let t = [o.dilation.0[0] * (kh - 1), o.dilation.0[1] * (kw - 1)];
                let before = [t[0] / 2, t[1] / 2];
                Attr::Ints(
                    [before[0], before[1], t[0] - before[0], t[1] - before[1]]
                        .iter()
                        .map(|&v| v as i64)
                        .collect(),
                )
            }
        };
        let w = g.param("weight", &self.weight)?;
        let mut inputs = vec![x.to_string(), w];
        if let Some(b) = &self.bias {
            inputs.push(g.param("bias", b)?);
        }
        let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
        Ok(g.node(
            "Conv",
            &inputs,
            vec![
                ("dilations", ints(o.dilation.0)),
                ("group", Attr::Int(o.groups as i64)),
                ("kernel_shape", ints([kh, kw])),
                ("pads", pads),
                ("strides", ints(o.stride.0)),
            ],
        ))
    }

    /// `F.conv2d(x, weight, bias, ...)` (grad_fn `ConvolutionBackward0`).
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.try_conv2d(&self.weight, self.bias.as_ref(), self.options)
    }
}

impl fmt::Display for Conv2d {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&super::format_module(self))
    }
}

/// 2-D max pooling, `nn.MaxPool2d`.
///
/// ```
/// use kindling::nn::{MaxPool2d, Module};
/// use kindling::Tensor;
/// let pool = MaxPool2d::new(2);
/// assert_eq!(pool.to_string(), "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)");
/// assert_eq!(pool.forward(&Tensor::zeros([1, 64, 24, 24])).unwrap().shape(), &[1, 64, 12, 12]);
/// ```
pub struct MaxPool2d {
    /// The window, `[kh, kw]`.
    pub kernel_size: Size2,
    /// Stride, padding, dilation, `ceil_mode`.
    pub options: PoolOptions,
}

impl MaxPool2d {
    /// `nn.MaxPool2d(kernel_size)`: the stride is the kernel size.
    pub fn new(kernel_size: impl Into<Size2>) -> MaxPool2d {
        MaxPool2d::with_options(kernel_size, PoolOptions::default())
    }

    /// `nn.MaxPool2d(kernel_size, stride, padding, dilation, ceil_mode=...)`.
    pub fn with_options(kernel_size: impl Into<Size2>, options: PoolOptions) -> MaxPool2d {
        MaxPool2d {
            kernel_size: kernel_size.into(),
            options,
        }
    }
}

/// A size as PyTorch's pooling layers print it: `2` for a square one.
fn size(v: Size2) -> String {
    if v.0[0] == v.0[1] {
        v.0[0].to_string()
    } else {
        pair(v.0)
    }
}

impl ModuleInfo for MaxPool2d {
    fn type_name(&self) -> &str {
        "MaxPool2d"
    }
    fn extra_repr(&self) -> String {
        let o = &self.options;
        format!(
            "kernel_size={}, stride={}, padding={}, dilation={}, ceil_mode={}",
            size(self.kernel_size),
            size(o.stride.unwrap_or(self.kernel_size)),
            size(o.padding),
            size(o.dilation.unwrap_or(Size2([1, 1]))),
            if o.ceil_mode { "True" } else { "False" }
        )
    }
}

impl Module for MaxPool2d {
    fn onnx(&self, g: &mut Graph, x: &str) -> Result<String> {
        let o = self.options;
        Ok(g.node(
            "MaxPool",
            &[x],
            vec![
                ("ceil_mode", Attr::Int(o.ceil_mode as i64)),
                ("dilations", ints(o.dilation.unwrap_or(Size2([1, 1])).0)),
                ("kernel_shape", ints(self.kernel_size.0)),
                ("pads", pads(o.padding.0)),
                ("strides", ints(o.stride.unwrap_or(self.kernel_size).0)),
            ],
        ))
    }

    /// `F.max_pool2d(x, ...)` (grad_fn `MaxPool2DWithIndicesBackward0`).
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        Ok(
            x.try_max_pool2d_with_indices(self.kernel_size, self.options)?
                .0,
        )
    }
}

impl fmt::Display for MaxPool2d {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&super::format_module(self))
    }
}

/// 2-D average pooling, `nn.AvgPool2d`.
///
/// ```
/// use kindling::nn::AvgPool2d;
/// assert_eq!(AvgPool2d::new(2).to_string(), "AvgPool2d(kernel_size=2, stride=2, padding=0)");
/// ```
pub struct AvgPool2d {
    /// The window, `[kh, kw]`.
    pub kernel_size: Size2,
    /// Stride, padding, `ceil_mode`, `count_include_pad`, `divisor_override`.
    pub options: AvgPoolOptions,
}

impl AvgPool2d {
    /// `nn.AvgPool2d(kernel_size)`: the stride is the kernel size.
    pub fn new(kernel_size: impl Into<Size2>) -> AvgPool2d {
        AvgPool2d::with_options(kernel_size, AvgPoolOptions::default())
    }

    /// `nn.AvgPool2d(kernel_size, stride, padding, ...)`.
    pub fn with_options(kernel_size: impl Into<Size2>, options: AvgPoolOptions) -> AvgPool2d {
        AvgPool2d {
            kernel_size: kernel_size.into(),
            options,
        }
    }
}

impl ModuleInfo for AvgPool2d {
    fn type_name(&self) -> &str {
        "AvgPool2d"
    }
    fn extra_repr(&self) -> String {
        let o = &self.options;
        format!(
            "kernel_size={}, stride={}, padding={}",
            size(self.kernel_size),
            size(o.stride.unwrap_or(self.kernel_size)),
            size(o.padding)
        )
    }
}

impl Module for AvgPool2d {
    fn onnx(&self, g: &mut Graph, x: &str) -> Result<String> {
        let o = self.options;
        if o.divisor_override.is_some() {
            return Err(Error::Value(
                "ONNX export: AvgPool2d with divisor_override has no ONNX form".into(),
            ));
        }
        Ok(g.node(
            "AveragePool",
            &[x],
            vec![
                ("ceil_mode", Attr::Int(o.ceil_mode as i64)),
                ("count_include_pad", Attr::Int(o.count_include_pad as i64)),
                ("kernel_shape", ints(self.kernel_size.0)),
                ("pads", pads(o.padding.0)),
                ("strides", ints(o.stride.unwrap_or(self.kernel_size).0)),
            ],
        ))
    }

    /// `F.avg_pool2d(x, ...)` (grad_fn `AvgPool2DBackward0`).
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.try_avg_pool2d(self.kernel_size, self.options)
    }
}

impl fmt::Display for AvgPool2d {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&super::format_module(self))
    }
}

/// An adaptive pooling module: its struct, constructor, printout and
/// forward, for `AdaptiveAvgPool2d` and `AdaptiveMaxPool2d` alike.
macro_rules! adaptive_pool {
    ($(#[$doc:meta])* $name:ident, $torch:literal, $forward:ident, $node:literal) => {
        $(#[$doc])*
        pub struct $name {
            /// `[oh, ow]`.
            pub output_size: Size2,
            /// Whether it was given as one number (PyTorch prints it as given).
            square: bool,
        }

        impl $name {
            /// Whether the size was given as one number.
            pub(crate) fn square(&self) -> bool {
                self.square
            }

            #[doc = concat!("`", $torch, "(output_size)`: a number or a pair.")]
            pub fn new(output_size: impl Into<OutputSize>) -> $name {
                let OutputSize(size, square) = output_size.into();
                $name {
                    output_size: size,
                    square,
                }
            }
        }

        impl ModuleInfo for $name {
            fn type_name(&self) -> &str {
                stringify!($name)
            }
            fn extra_repr(&self) -> String {
                if self.square {
                    format!("output_size={}", self.output_size.0[0])
                } else {
                    format!("output_size={}", pair(self.output_size.0))
                }
            }
        }

        impl Module for $name {
            /// `GlobalAveragePool` or `GlobalMaxPool` for an output of 1×1;
            /// other sizes have no ONNX form here.
            fn onnx(&self, g: &mut Graph, x: &str) -> Result<String> {
                if self.output_size.0 != [1, 1] {
                    return Err(Error::Value(format!(
                        "ONNX export: {} to {:?} has no ONNX form (to 1x1 has)",
                        stringify!($name),
                        self.output_size.0
                    )));
                }
                let op = if stringify!($name).contains("Max") {
                    "GlobalMaxPool"
                } else {
                    "GlobalAveragePool"
                };
                Ok(g.node(op, &[x], vec![]))
            }

            #[doc = concat!("`F.", stringify!($forward), "(x, output_size)` (grad_fn `", $node, "`).")]
            fn forward(&self, x: &Tensor) -> Result<Tensor> {
                crate::nn::functional::$forward(x, self.output_size)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&super::format_module(self))
            }
        }
    };
}

adaptive_pool! {
    /// Adaptive average pooling to a fixed output size, `nn.AdaptiveAvgPool2d`.
    ///
    /// ```
    /// use kindling::nn::AdaptiveAvgPool2d;
    /// assert_eq!(AdaptiveAvgPool2d::new((1, 1)).to_string(), "AdaptiveAvgPool2d(output_size=(1, 1))");
    /// assert_eq!(AdaptiveAvgPool2d::new(3).to_string(), "AdaptiveAvgPool2d(output_size=3)");
    /// ```
    AdaptiveAvgPool2d, "nn.AdaptiveAvgPool2d", adaptive_avg_pool2d, "AdaptiveAvgPool2DBackward0"
}

adaptive_pool! {
    /// Adaptive max pooling to a fixed output size, `nn.AdaptiveMaxPool2d`.
    /// Its forward returns the maxima; for their indices (PyTorch's
    /// `return_indices=True`) call [`Tensor::adaptive_max_pool2d_with_indices`].
    ///
    /// ```
    /// use kindling::nn::{AdaptiveMaxPool2d, Module};
    /// use kindling::Tensor;
    /// let pool = AdaptiveMaxPool2d::new((2, 3));
    /// assert_eq!(pool.to_string(), "AdaptiveMaxPool2d(output_size=(2, 3))");
    /// let y = pool.forward(&Tensor::randn([4, 8, 7, 7]))?;
    /// assert_eq!(y.shape(), &[4, 8, 2, 3]);
    /// # Ok::<(), kindling::Error>(())
    /// ```
    AdaptiveMaxPool2d, "nn.AdaptiveMaxPool2d", adaptive_max_pool2d, "AdaptiveMaxPool2DBackward0"
}

/// An output size as given: one number (`3`) or a pair (`(1, 1)`).
pub struct OutputSize(Size2, bool);

impl From<usize> for OutputSize {
    fn from(v: usize) -> Self {
        OutputSize(Size2([v, v]), true)
    }
}
impl From<(usize, usize)> for OutputSize {
    fn from((h, w): (usize, usize)) -> Self {
        OutputSize(Size2([h, w]), false)
    }
}
impl From<[usize; 2]> for OutputSize {
    fn from(v: [usize; 2]) -> Self {
        OutputSize(Size2(v), false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::Module;

    // The texts PyTorch 2.15 prints for the same constructors.
    #[test]
    fn printouts_are_pytorchs() {
        assert_eq!(
            Conv2d::new(1, 32, 3).stride(1).to_string(),
            "Conv2d(1, 32, kernel_size=(3, 3), stride=(1, 1))"
        );
        let opts = ConvOptions::default()
            .padding(Padding::Valid)
            .dilation(2)
            .groups(3);
        assert_eq!(
            Conv2d::with_options(3, 6, (2, 4), opts, false).to_string(),
            "Conv2d(3, 6, kernel_size=(2, 4), stride=(1, 1), padding=valid, dilation=(2, 2), groups=3, bias=False)"
        );
        assert_eq!(
            MaxPool2d::new(2).to_string(),
            "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)"
        );
        assert_eq!(
            MaxPool2d::with_options((2, 3), PoolOptions::default().padding(1)).to_string(),
            "MaxPool2d(kernel_size=(2, 3), stride=(2, 3), padding=1, dilation=1, ceil_mode=False)"
        );
        assert_eq!(
            AdaptiveMaxPool2d::new(3).to_string(),
            "AdaptiveMaxPool2d(output_size=3)"
        );
        assert_eq!(
            AdaptiveMaxPool2d::new([2, 3]).to_string(),
            "AdaptiveMaxPool2d(output_size=(2, 3))"
        );
    }

    #[test]
    fn adaptive_max_pool2d_module_is_the_functional_form() {
        let x = Tensor::randn([2, 3, 7, 5]).requires_grad_(true);
        let y = AdaptiveMaxPool2d::new((3, 2)).forward(&x).unwrap();
        assert_eq!(y.grad_fn_name(), Some("AdaptiveMaxPool2DBackward0"));
        let (want, _) = x.adaptive_max_pool2d_with_indices((3, 2));
        assert_eq!(y.to_vec::<f32>(), want.to_vec::<f32>());
    }

    #[test]
    fn conv2d_has_pytorchs_keys_shapes_and_init_bounds() {
        crate::manual_seed(0);
        let conv = Conv2d::with_options(4, 6, 3, ConvOptions::default().groups(2), true);
        let keys: Vec<(String, Vec<usize>)> = conv
            .state_dict()
            .into_iter()
            .map(|(k, t)| (k, t.shape().to_vec()))
            .collect();
        assert_eq!(
            keys,
            [
                ("weight".to_string(), vec![6, 2, 3, 3]),
                ("bias".to_string(), vec![6])
            ]
        );
        // fan_in = 4 / 2 · 3 · 3 = 18: both uniform in ±1/√18.
        let bound = 1.0 / 18f64.sqrt();
        for t in [&conv.weight, conv.bias.as_ref().unwrap()] {
            let v = t.to_vec::<f64>();
            assert!(v.iter().all(|x| x.abs() <= bound), "{v:?}");
            assert!(v.iter().any(|x| x.abs() > bound / 2.0));
        }
        let y = conv.forward(&Tensor::zeros([2, 4, 5, 5])).unwrap();
        assert_eq!(y.shape(), &[2, 6, 3, 3]);
        assert_eq!(y.grad_fn_name(), Some("ConvolutionBackward0"));
    }
}
