//! `torchvision.models`: ResNet-18 and VGG-16 (with and without BatchNorm),
//! with torchvision's constructors, printouts, `state_dict` keys and
//! initialisation, so torchvision's `.pth` files load into them.
//!
//! ```
//! use kindling::nn::Module;
//! use kindling::vision::models::resnet18;
//! let model = resnet18();
//! assert_eq!(model.parameters().iter().map(|p| p.numel()).sum::<usize>(), 11_689_512);
//! model.eval();
//! let logits = model.forward(&kindling::Tensor::randn([1, 3, 64, 64]))?;
//! assert_eq!(logits.shape(), &[1, 1000]);
//! # Ok::<(), kindling::Error>(())
//! ```
//!
//! `weights=None` only: pretrained weights are a `.pth` to load with
//! [`Module::load`] (torchvision's own files, `resnet18-f37072fd.pth`, load
//! as they are).

use crate::error::Result;
use crate::nn::{
    init, AdaptiveAvgPool2d, BatchNorm2d, Conv2d, Dropout, Linear, MaxPool2d, Module, ReLU,
    Sequential,
};
use crate::ops::conv::ConvOptions;
use crate::ops::pool::PoolOptions;
use crate::tensor::Tensor;

/// A convolution without bias, as torchvision's `conv3x3` and `conv1x1` make them.
fn conv(
    in_planes: usize,
    out_planes: usize,
    kernel: usize,
    stride: usize,
    padding: usize,
) -> Conv2d {
    Conv2d::with_options(
        in_planes,
        out_planes,
        kernel,
        ConvOptions::default().stride(stride).padding(padding),
        false,
    )
}

/// torchvision's ResNet block of two 3×3 convolutions.
///
/// ```python
/// class BasicBlock(nn.Module):
///     def forward(self, x):
///         out = self.relu(self.bn1(self.conv1(x)))
///         out = self.bn2(self.conv2(out))
///         if self.downsample is not None:
///             identity = self.downsample(x)
///         return self.relu(out + identity)
/// ```
#[derive(kindling_derive::Module)]
pub struct BasicBlock {
    /// 3×3, with the block's stride.
    pub conv1: Conv2d,
    /// After `conv1`.
    pub bn1: BatchNorm2d,
    /// Shared by both activations, as in torchvision.
    pub relu: ReLU,
    /// 3×3, stride 1.
    pub conv2: Conv2d,
    /// After `conv2`.
    pub bn2: BatchNorm2d,
    /// 1×1 convolution and BatchNorm on the shortcut, where the shape changes.
    pub downsample: Option<Sequential>,
}

impl BasicBlock {
    /// `BasicBlock(inplanes, planes, stride, downsample)`.
    pub fn new(inplanes: usize, planes: usize, stride: usize) -> BasicBlock {
        let downsample = (stride != 1 || inplanes != planes).then(|| {
            Sequential::new((
                conv(inplanes, planes, 1, stride, 0),
                BatchNorm2d::new(planes),
            ))
        });
        BasicBlock {
            conv1: conv(inplanes, planes, 3, stride, 1),
            bn1: BatchNorm2d::new(planes),
            relu: ReLU::new().inplace(true),
            conv2: conv(planes, planes, 3, 1, 1),
            bn2: BatchNorm2d::new(planes),
            downsample,
        }
    }
}

impl Module for BasicBlock {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let out = self
            .relu
            .forward(&self.bn1.forward(&self.conv1.forward(x)?)?)?;
        let out = self.bn2.forward(&self.conv2.forward(&out)?)?;
        let identity = match &self.downsample {
            Some(d) => d.forward(x)?,
            None => x.clone(),
        };
        self.relu.forward(&(&out + &identity))
    }
}

/// torchvision's `ResNet` (built by [`resnet18`]).
#[derive(kindling_derive::Module)]
pub struct ResNet {
    /// 7×7, stride 2.
    pub conv1: Conv2d,
    /// After `conv1`.
    pub bn1: BatchNorm2d,
    /// After `bn1`.
    pub relu: ReLU,
    /// 3×3, stride 2.
    pub maxpool: MaxPool2d,
    /// 64 channels.
    pub layer1: Sequential,
    /// 128 channels, stride 2.
    pub layer2: Sequential,
    /// 256 channels, stride 2.
    pub layer3: Sequential,
    /// 512 channels, stride 2.
    pub layer4: Sequential,
    /// To 1×1.
    pub avgpool: AdaptiveAvgPool2d,
    /// The classifier.
    pub fc: Linear,
    /// Which torchvision constructor built it (`resnet18`).
    #[module(skip)]
    pub arch: &'static str,
}

impl Module for ResNet {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let x = self
            .relu
            .forward(&self.bn1.forward(&self.conv1.forward(x)?)?)?;
        let x = self.maxpool.forward(&x)?;
        let x = self.layer1.forward(&x)?;
        let x = self.layer2.forward(&x)?;
        let x = self.layer3.forward(&x)?;
        let x = self.layer4.forward(&x)?;
        let x = self.avgpool.forward(&x)?;
        self.fc.forward(&x.flatten(1, -1))
    }
}

/// torchvision's initialisation of convolutions and BatchNorm:
/// `kaiming_normal_(mode="fan_out", nonlinearity="relu")`, weights 1 and
/// biases 0.
fn init_conv(c: &Conv2d) {
    let (_, fan_out) = init::fans(&c.weight);
    init::normal_(&c.weight, 0.0, (2.0 / fan_out as f64).sqrt());
    if let Some(b) = &c.bias {
        init::zeros_(b);
    }
}

fn stage(inplanes: usize, planes: usize, stride: usize) -> Sequential {
    Sequential::new((
        BasicBlock::new(inplanes, planes, stride),
        BasicBlock::new(planes, planes, 1),
    ))
}

/// `torchvision.models.resnet18()` (`weights=None`): 11,689,512 parameters,
/// 1000 classes, torchvision's initialisation (convolutions
/// `kaiming_normal_(mode="fan_out")`, the classifier as `nn.Linear`).
pub fn resnet18() -> ResNet {
    let model = ResNet {
        conv1: conv(3, 64, 7, 2, 3),
        bn1: BatchNorm2d::new(64),
        relu: ReLU::new().inplace(true),
        maxpool: MaxPool2d::with_options(3, PoolOptions::default().stride(2).padding(1)),
        layer1: stage(64, 64, 1),
        layer2: stage(64, 128, 2),
        layer3: stage(128, 256, 2),
        layer4: stage(256, 512, 2),
        avgpool: AdaptiveAvgPool2d::new((1, 1)),
        fc: Linear::new(512, 1000),
        arch: "resnet18",
    };
    for_each_conv(&model, &mut init_conv);
    model
}

/// Calls `f` on every `Conv2d` inside `m`.
fn for_each_conv(m: &dyn Module, f: &mut dyn FnMut(&Conv2d)) {
    if let Some(c) = (m as &dyn std::any::Any).downcast_ref::<Conv2d>() {
        f(c);
    }
    for (_, child) in m.children() {
        for_each_conv(child, f);
    }
}

/// torchvision's `VGG` (built by [`vgg16`] and [`vgg16_bn`]).
#[derive(kindling_derive::Module)]
pub struct VGG {
    /// Convolutions, ReLUs (and BatchNorms), max-pooling.
    pub features: Sequential,
    /// To 7×7.
    pub avgpool: AdaptiveAvgPool2d,
    /// Three linear layers with ReLU and dropout.
    pub classifier: Sequential,
    /// Which torchvision constructor built it (`vgg16`, `vgg16_bn`).
    #[module(skip)]
    pub arch: &'static str,
}

impl Module for VGG {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let x = self.avgpool.forward(&self.features.forward(x)?)?;
        self.classifier.forward(&x.flatten(1, -1))
    }
}

/// Configuration "D" of the VGG paper: channels, and `0` for a max-pool.
const VGG16: [usize; 18] = [
    64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0, 512, 512, 512, 0,
];

fn vgg(batch_norm: bool) -> VGG {
    let mut features = Sequential::default();
    let mut in_channels = 3;
    for &v in &VGG16 {
        if v == 0 {
            features = features.add(MaxPool2d::with_options(2, PoolOptions::default().stride(2)));
            continue;
        }
        let c = Conv2d::with_options(in_channels, v, 3, ConvOptions::default().padding(1), true);
        init_conv(&c);
        features = features.add(c);
        if batch_norm {
            features = features.add(BatchNorm2d::new(v));
        }
        features = features.add(ReLU::new().inplace(true));
        in_channels = v;
    }
    let linear = |i, o| {
        let l = Linear::new(i, o);
        init::normal_(&l.weight, 0.0, 0.01);
        if let Some(b) = &l.bias {
            init::zeros_(b);
        }
        l
    };
    VGG {
        features,
        avgpool: AdaptiveAvgPool2d::new((7, 7)),
        classifier: Sequential::new((
            linear(512 * 7 * 7, 4096),
            ReLU::new().inplace(true),
            Dropout::new(0.5),
            linear(4096, 4096),
            ReLU::new().inplace(true),
            Dropout::new(0.5),
            linear(4096, 1000),
        )),
        arch: if batch_norm { "vgg16_bn" } else { "vgg16" },
    }
}

/// `torchvision.models.vgg16()` (`weights=None`): 138,357,544 parameters,
/// torchvision's initialisation (convolutions `kaiming_normal_(mode="fan_out")`
/// with zero biases, linear layers `normal_(0, 0.01)` with zero biases).
pub fn vgg16() -> VGG {
    vgg(false)
}

/// `torchvision.models.vgg16_bn()`: [`vgg16`] with `BatchNorm2d` after each convolution.
pub fn vgg16_bn() -> VGG {
    vgg(true)
}

/// `torchvision.models.get_model(name)`: the untrained model of that name
/// (`"resnet18"`, `"vgg16"`, `"vgg16_bn"`), for code that picks one at run
/// time. An unknown name is torchvision's error, `Unknown model NAME`.
///
/// ```
/// use kindling::vision::models::get_model;
/// let model = get_model("resnet18")?;
/// assert_eq!(model.parameters().len(), 62);
/// assert_eq!(get_model("alexnet").unwrap_err().to_string(), "Unknown model alexnet");
/// # Ok::<(), kindling::Error>(())
/// ```
pub fn get_model(name: &str) -> Result<Box<dyn Module>> {
    Ok(match name {
        "resnet18" => Box::new(resnet18()),
        "vgg16" => Box::new(vgg16()),
        "vgg16_bn" => Box::new(vgg16_bn()),
        _ => return Err(crate::error::Error::Value(format!("Unknown model {name}"))),
    })
}
