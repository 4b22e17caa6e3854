//! Image transforms, as in `torchvision.transforms`: `ToTensor`, `Normalize`,
//! `Compose`, closures, and the augmentations `RandomCrop` and `RandomAffine`.
//!
//! Images are uint8 `[H, W]` (as MNIST stores them) before `ToTensor` and float32
//! `[C, H, W]` in `[0, 1]` after it. Spatial transforms work on the last two
//! dimensions of either.

use std::sync::Mutex;

use crate::error::{Error, Result};
use crate::tensor::{DType, Generator, Tensor};

/// Something applied to each sample's image.
pub trait Transform: Send + Sync {
    /// Transforms one image.
    fn apply(&self, image: &Tensor) -> Result<Tensor>;

    /// For transforms made only of per-pixel steps `v = (v - sub) / div` on a
    /// uint8 image turned float32 (ToTensor, then single-channel Normalize): the
    /// steps, in order. Loaders apply them to whole batches straight from the
    /// uint8 buffer, with the same float operations as [`Transform::apply`], so
    /// results are bit-identical.
    fn pixel_steps(&self) -> Option<Vec<PixelStep>> {
        None
    }

    /// torchvision's repr of the transform (`ToTensor()`,
    /// `Normalize(mean=(0.1307,), std=(0.3081,))`), shown in a dataset's
    /// printout. The default is the type's name followed by `()`.
    fn repr(&self) -> String {
        let path = std::any::type_name_of_val(self);
        let path = path.split('<').next().unwrap_or(path);
        format!("{}()", path.rsplit("::").next().unwrap_or(path))
    }
}

/// A Python tuple of floats: `(0.1307,)`, `(0.5, 0.5)`.
fn py_tuple(values: &[f64]) -> String {
    let items: Vec<String> = values
        .iter()
        .map(|&v| crate::tensor::dtype::python_float(v))
        .collect();
    match items.len() {
        1 => format!("({},)", items[0]),
        _ => format!("({})", items.join(", ")),
    }
}

/// One per-pixel step `v = (v - sub) / div`, in float32.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PixelStep {
    /// Subtracted first.
    pub sub: f32,
    /// Then divided by.
    pub div: f32,
}

/// uint8 `[H, W]` (or `[H, W, C]`) → float32 `[C, H, W]` divided by 255.
#[derive(Clone, Debug, Default)]
pub struct ToTensor;

impl ToTensor {
    /// `transforms.ToTensor()`.
    pub fn new() -> ToTensor {
        ToTensor
    }
}

impl Transform for ToTensor {
    fn apply(&self, image: &Tensor) -> Result<Tensor> {
        let x = match image.dim() {
            2 => image.unsqueeze(0),
            3 => image.try_permute(&[2, 0, 1])?,
            d => {
                return Err(Error::Shape(format!(
                    "ToTensor expects an image of shape [H, W] or [H, W, C], got {d} dimensions"
                )))
            }
        };
        if image.dtype() == DType::U8 {
            Ok(crate::no_grad(|| &x.contiguous() / 255))
        } else {
            Ok(x.to_dtype(DType::F32).contiguous())
        }
    }

    fn pixel_steps(&self) -> Option<Vec<PixelStep>> {
        Some(vec![PixelStep {
            sub: 0.0,
            div: 255.0,
        }])
    }
}

/// A uint8 image tensor (`[C, H, W]`, as [`read_image`](crate::vision::io::read_image)
/// gives) to float32 in `[0, 1]`, layout kept: `transforms.ConvertImageDtype(torch.float)`
/// (`v2.ToDtype(torch.float32, scale=True)`). [`ToTensor`] is for `[H, W, C]`
/// pictures, as PIL gives them.
#[derive(Clone, Debug, Default)]
pub struct ConvertImageDtype;

impl ConvertImageDtype {
    /// `transforms.ConvertImageDtype(torch.float)`.
    pub fn new() -> ConvertImageDtype {
        ConvertImageDtype
    }
}

impl Transform for ConvertImageDtype {
    fn apply(&self, image: &Tensor) -> Result<Tensor> {
        match image.dtype() {
            DType::U8 => Ok(crate::no_grad(|| &image.contiguous() / 255)),
            DType::F32 => Ok(image.clone()),
            DType::F64 => Ok(image.to_dtype(DType::F32)),
            other => Err(Error::Value(format!(
                "ConvertImageDtype expects a uint8 or float image, got {}",
                other.name()
            ))),
        }
    }
}

/// `(x - mean[c]) / std[c]` for each channel `c` of a float `[C, H, W]` image.
#[derive(Clone, Debug)]
pub struct Normalize {
    mean: Vec<f64>,
    std: Vec<f64>,
}

impl Normalize {
    /// `transforms.Normalize(mean, std)`; MNIST's usual values are `[0.1307]`, `[0.3081]`.
    ///
    /// # Panics
    /// When a standard deviation is zero or the lists differ in length.
    pub fn new(mean: &[f64], std: &[f64]) -> Normalize {
        assert_eq!(
            mean.len(),
            std.len(),
            "Normalize: mean and std need one value per channel"
        );
        assert!(
            std.iter().all(|&s| s != 0.0),
            "std evaluated to zero after conversion to float32, leading to division by zero."
        );
        Normalize {
            mean: mean.to_vec(),
            std: std.to_vec(),
        }
    }
}

impl Transform for Normalize {
    fn apply(&self, image: &Tensor) -> Result<Tensor> {
        if !image.dtype().is_floating_point() {
            return Err(Error::Value(format!(
                "Input tensor should be a float tensor. Got {}.",
                image.dtype()
            )));
        }
        if image.dim() != 3 || (image.shape()[0] != self.mean.len() && self.mean.len() != 1) {
            return Err(Error::Shape(format!(
                "Normalize expects [C, H, W] with C = {}, got {:?}",
                self.mean.len(),
                image.shape()
            )));
        }
        let c = image.shape()[0];
        let mean: Vec<f64> = (0..c)
            .map(|i| self.mean[i.min(self.mean.len() - 1)])
            .collect();
        let std: Vec<f64> = (0..c)
            .map(|i| self.std[i.min(self.std.len() - 1)])
            .collect();
        let m = Tensor::from_vec(mean, [c, 1, 1]).to_dtype(image.dtype());
        let s = Tensor::from_vec(std, [c, 1, 1]).to_dtype(image.dtype());
        Ok(crate::no_grad(|| &(image - &m) / &s))
    }

    fn repr(&self) -> String {
        format!(
            "Normalize(mean={}, std={})",
            py_tuple(&self.mean),
            py_tuple(&self.std)
        )
    }

    fn pixel_steps(&self) -> Option<Vec<PixelStep>> {
        (self.mean.len() == 1).then(|| {
            vec![PixelStep {
                sub: self.mean[0] as f32,
                div: self.std[0] as f32,
            }]
        })
    }
}

/// Several transforms in order.
pub struct Compose(pub Vec<Box<dyn Transform>>);

impl Compose {
    /// `transforms.Compose([...])`.
    pub fn new(transforms: Vec<Box<dyn Transform>>) -> Compose {
        Compose(transforms)
    }
}

impl Transform for Compose {
    fn apply(&self, image: &Tensor) -> Result<Tensor> {
        self.0.iter().try_fold(image.clone(), |x, t| t.apply(&x))
    }

    fn repr(&self) -> String {
        let inner: String = self
            .0
            .iter()
            .map(|t| format!("\n    {}", t.repr()))
            .collect();
        format!("Compose({inner}\n)")
    }

    fn pixel_steps(&self) -> Option<Vec<PixelStep>> {
        self.0.iter().try_fold(Vec::new(), |mut steps, t| {
            steps.extend(t.pixel_steps()?);
            Some(steps)
        })
    }
}

/// A closure as a transform (`transforms.Lambda`).
pub struct Lambda<F>(pub F);

impl<F: Fn(&Tensor) -> Result<Tensor> + Send + Sync> Transform for Lambda<F> {
    fn apply(&self, image: &Tensor) -> Result<Tensor> {
        (self.0)(image)
    }
}

/// The last two dims as `(height, width)`, and the image as `f64` planes.
fn planes(image: &Tensor) -> Result<(usize, usize, usize, Vec<f64>)> {
    if image.dim() < 2 {
        return Err(Error::Shape(format!(
            "expected an image with at least 2 dimensions, got {:?}",
            image.shape()
        )));
    }
    let s = image.shape();
    let (h, w) = (s[s.len() - 2], s[s.len() - 1]);
    Ok((image.numel() / (h * w).max(1), h, w, image.to_vec::<f64>()))
}

fn rebuild(image: &Tensor, h: usize, w: usize, values: Vec<f64>) -> Tensor {
    let mut shape = image.shape().to_vec();
    let n = shape.len();
    shape[n - 2] = h;
    shape[n - 1] = w;
    Tensor::from_vec(values, shape).to_dtype(image.dtype())
}

/// Pads by `padding` zeros on every side, then crops a random `size × size`
/// window. Draws come from its own seeded generator.
pub struct RandomCrop {
    size: usize,
    padding: usize,
    gen: Mutex<Generator>,
}

impl RandomCrop {
    /// `transforms.RandomCrop(size, padding=padding)`, with its own seed.
    pub fn new(size: usize, padding: usize, seed: u64) -> RandomCrop {
        RandomCrop {
            size,
            padding,
            gen: Mutex::new(Generator::new(seed)),
        }
    }
}

impl Transform for RandomCrop {
    fn repr(&self) -> String {
        format!(
            "RandomCrop(size=({0}, {0}), padding={1})",
            self.size, self.padding
        )
    }

    fn apply(&self, image: &Tensor) -> Result<Tensor> {
        let (planes_n, h, w, v) = planes(image)?;
        let p = self.padding;
        let (ph, pw) = (h + 2 * p, w + 2 * p);
        if self.size > ph || self.size > pw {
            return Err(Error::Value(format!(
                "Required crop size ({0}, {0}) is larger than input image size ({ph}, {pw})",
                self.size
            )));
        }
        let (top, left) = {
            let mut g = self.gen.lock().unwrap_or_else(|e| e.into_inner());
            (
                g.below((ph - self.size + 1) as u64) as usize,
                g.below((pw - self.size + 1) as u64) as usize,
            )
        };
        let s = self.size;
        let mut out = vec![0.0; planes_n * s * s];
        for c in 0..planes_n {
            for y in 0..s {
                for x in 0..s {
                    let (sy, sx) = (
                        (y + top) as isize - p as isize,
                        (x + left) as isize - p as isize,
                    );
                    if sy >= 0 && sx >= 0 && (sy as usize) < h && (sx as usize) < w {
                        out[(c * s + y) * s + x] = v[(c * h + sy as usize) * w + sx as usize];
                    }
                }
            }
        }
        Ok(rebuild(image, s, s, out))
    }
}

/// A random rotation (degrees), translation (fractions of the size) and scale
/// about the centre, resampled with nearest neighbour and zero fill, as
/// torchvision's `RandomAffine` does by default.
pub struct RandomAffine {
    degrees: f64,
    translate: (f64, f64),
    scale: (f64, f64),
    gen: Mutex<Generator>,
}

impl RandomAffine {
    /// `transforms.RandomAffine(degrees, translate=(tx, ty), scale=(lo, hi))`.
    pub fn new(degrees: f64, translate: (f64, f64), scale: (f64, f64), seed: u64) -> RandomAffine {
        RandomAffine {
            degrees,
            translate,
            scale,
            gen: Mutex::new(Generator::new(seed)),
        }
    }
}

/// RandomAffine's four draws for one image of `(h, w)`, in torchvision's
/// order: the angle (radians), the whole-pixel shifts `tx`, `ty`, the scale.
fn affine_draws(
    g: &mut Generator,
    degrees: f64,
    translate: (f64, f64),
    scale: (f64, f64),
    (h, w): (usize, usize),
) -> (f64, f64, f64, f64) {
    let mut u = |lo: f64, hi: f64| lo + (hi - lo) * g.uniform_f64();
    let angle = u(-degrees, degrees).to_radians();
    let tx = u(-translate.0 * w as f64, translate.0 * w as f64).round();
    let ty = u(-translate.1 * h as f64, translate.1 * h as f64).round();
    (angle, tx, ty, u(scale.0, scale.1))
}

impl Transform for RandomAffine {
    fn repr(&self) -> String {
        let f = crate::tensor::dtype::python_float;
        // `0.0 - 0.0` is +0, printed `0.0` as torchvision prints it (not `-0.0`).
        let low = 0.0 - self.degrees;
        let mut s = format!("RandomAffine(degrees=[{}, {}]", f(low), f(self.degrees));
        if self.translate != (0.0, 0.0) {
            s += &format!(
                ", translate={}",
                py_tuple(&[self.translate.0, self.translate.1])
            );
        }
        if self.scale != (1.0, 1.0) {
            s += &format!(", scale={}", py_tuple(&[self.scale.0, self.scale.1]));
        }
        s + ")"
    }

    fn apply(&self, image: &Tensor) -> Result<Tensor> {
        let (planes_n, h, w, v) = planes(image)?;
        let (angle, tx, ty, scale) = affine_draws(
            &mut self.gen.lock().unwrap_or_else(|e| e.into_inner()),
            self.degrees,
            self.translate,
            self.scale,
            (h, w),
        );
        let (cx, cy) = ((w as f64 - 1.0) / 2.0, (h as f64 - 1.0) / 2.0);
        let (cos, sin) = (angle.cos(), angle.sin());
        let mut out = vec![0.0; v.len()];
        for y in 0..h {
            for x in 0..w {
                // Invert out = R·S·(in - c) + c + t to find the source pixel.
                let (dx, dy) = (x as f64 - cx - tx, y as f64 - cy - ty);
                let sx = (cos * dx + sin * dy) / scale + cx;
                let sy = (-sin * dx + cos * dy) / scale + cy;
                let (ix, iy) = (sx.round(), sy.round());
                if ix >= 0.0 && iy >= 0.0 && (ix as usize) < w && (iy as usize) < h {
                    for c in 0..planes_n {
                        out[(c * h + y) * w + x] = v[(c * h + iy as usize) * w + ix as usize];
                    }
                }
            }
        }
        Ok(rebuild(image, h, w, out))
    }
}

/// Shifts each image of a batch `[N, ..., H, W]` by its own whole-pixel
/// offset, up to `translate = (tx, ty)` of its width and height, filling what
/// comes in from outside with `fill`: what
/// `RandomAffine(degrees=0, translate=(tx, ty))` does to each image, with the
/// same draws from `gen` (one image after another), done on a whole batch
/// (the training command's augmentation, `kindling train --translate`).
///
/// ```
/// use kindling::data::transforms::random_translate;
/// use kindling::{Generator, Tensor};
/// let batch = Tensor::arange_f(0.0, 32.0, 1.0).reshape([2, 1, 4, 4]);
/// let moved = random_translate(&batch, (0.25, 0.25), -1.0, &mut Generator::new(0))?;
/// assert_eq!(moved.shape(), &[2, 1, 4, 4]);
/// # Ok::<(), kindling::Error>(())
/// ```
pub fn random_translate(
    batch: &Tensor,
    translate: (f64, f64),
    fill: f64,
    gen: &mut Generator,
) -> Result<Tensor> {
    if batch.dim() < 3 {
        return Err(Error::Shape(format!(
            "expected a batch of images [N, ..., H, W], got {:?}",
            batch.shape()
        )));
    }
    let s = batch.shape();
    let (n, h, w) = (s[0], s[s.len() - 2], s[s.len() - 1]);
    let per_image = batch.numel() / n.max(1);
    let v = batch.to_vec::<f64>();
    let mut out = vec![fill; v.len()];
    for (src, dst) in v
        .chunks_exact(per_image.max(1))
        .zip(out.chunks_exact_mut(per_image.max(1)))
    {
        let (_, tx, ty, _) = affine_draws(gen, 0.0, translate, (1.0, 1.0), (h, w));
        let (tx, ty) = (tx as isize, ty as isize);
        for (plane, out_plane) in src
            .chunks_exact((h * w).max(1))
            .zip(dst.chunks_exact_mut((h * w).max(1)))
        {
            for y in 0..h as isize {
                let sy = y - ty;
                if sy < 0 || sy >= h as isize {
                    continue;
                }
                for x in 0..w as isize {
                    let sx = x - tx;
                    if sx >= 0 && sx < w as isize {
                        out_plane[(y * w as isize + x) as usize] =
                            plane[(sy * w as isize + sx) as usize];
                    }
                }
            }
        }
    }
    Ok(Tensor::from_vec(out, s.to_vec()).to_dtype(batch.dtype()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_translate_is_random_affine_with_translation_only_image_by_image() {
        let batch = Tensor::arange_f(1.0, 1.0 + 5.0 * 2.0 * 7.0 * 9.0, 1.0).reshape([5, 2, 7, 9]);
        let moved = random_translate(&batch, (0.3, 0.2), 0.0, &mut Generator::new(7)).unwrap();
        let affine = RandomAffine::new(0.0, (0.3, 0.2), (1.0, 1.0), 7);
        let mut shifted = 0;
        for i in 0..5 {
            let one = affine.apply(&batch.select(0, i as isize)).unwrap();
            let got = moved.select(0, i as isize);
            assert_eq!(got.to_vec::<f64>(), one.to_vec::<f64>(), "image {i}");
            shifted += usize::from(!got.equal(&batch.select(0, i as isize)));
        }
        assert!(shifted >= 3, "most images move ({shifted} of 5)");
        // What comes in from outside is `fill`; the rest is the image, moved.
        let moved = random_translate(&batch, (0.3, 0.2), -1.0, &mut Generator::new(7)).unwrap();
        let v = moved.to_vec::<f64>();
        assert!(v.iter().any(|&x| x == -1.0));
        assert!(v.iter().all(|&x| x == -1.0 || (1.0..=630.0).contains(&x)));
        assert_eq!(moved.dtype(), batch.dtype());
        assert!(random_translate(
            &Tensor::ones([4, 4]),
            (0.1, 0.1),
            0.0,
            &mut Generator::new(0)
        )
        .is_err());
    }

    #[test]
    fn transforms_print_as_torchvisions_do() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/golden/reprs.json"
        ))
        .unwrap();
        let golden: serde_json::Value = serde_json::from_str(&text).unwrap();
        let lambda = Lambda(|x: &Tensor| Ok(x.clone()));
        let cases: Vec<(&str, Box<dyn Transform>)> = vec![
            ("to_tensor", Box::new(ToTensor)),
            ("convert_image_dtype", Box::new(ConvertImageDtype)),
            ("normalize", Box::new(Normalize::new(&[0.1307], &[0.3081]))),
            (
                "normalize_rgb",
                Box::new(Normalize::new(&[0.5, 0.5, 0.5], &[0.25, 0.25, 0.25])),
            ),
            ("lambda", Box::new(lambda)),
            ("random_crop", Box::new(RandomCrop::new(28, 2, 0))),
            (
                "random_affine",
                Box::new(RandomAffine::new(10.0, (0.1, 0.1), (0.9, 1.1), 0)),
            ),
            (
                "compose",
                Box::new(Compose::new(vec![
                    Box::new(ToTensor),
                    Box::new(Normalize::new(&[0.1307], &[0.3081])),
                ])),
            ),
        ];
        for (name, t) in cases {
            assert_eq!(
                t.repr(),
                golden["transforms"][name].as_str().unwrap(),
                "{name}"
            );
        }
        assert_eq!(
            RandomAffine::new(0.0, (0.1, 0.1), (1.0, 1.0), 0).repr(),
            "RandomAffine(degrees=[0.0, 0.0], translate=(0.1, 0.1))"
        );
    }

    #[test]
    fn to_tensor_and_normalize() {
        let img = Tensor::from_vec(vec![0u8, 51, 255, 102], [2, 2]);
        let t = ToTensor.apply(&img).unwrap();
        assert_eq!((t.shape(), t.dtype()), (&[1usize, 2, 2][..], DType::F32));
        assert_eq!(t.to_vec::<f32>(), vec![0.0, 0.2, 1.0, 0.4]);
        let both = Compose::new(vec![
            Box::new(ToTensor),
            Box::new(Normalize::new(&[0.5], &[0.5])),
        ]);
        let n = both.apply(&img).unwrap().to_vec::<f32>();
        let steps = both.pixel_steps().unwrap();
        // The batch fast path's steps give exactly what the per-sample path gives.
        let fast: Vec<f32> = [0u8, 51, 255, 102]
            .iter()
            .map(|&b| steps.iter().fold(b as f32, |v, s| (v - s.sub) / s.div))
            .collect();
        assert_eq!(n, fast);
        assert!(Normalize::new(&[0.1], &[0.3]).apply(&img).is_err());
    }

    #[test]
    fn augmentations_are_seeded_and_keep_shape() {
        let img = Tensor::arange(28 * 28)
            .reshape([28, 28])
            .to_dtype(DType::U8);
        let a = RandomCrop::new(28, 4, 1).apply(&img).unwrap();
        let b = RandomCrop::new(28, 4, 1).apply(&img).unwrap();
        assert_eq!(a.to_vec::<u8>(), b.to_vec::<u8>());
        assert_eq!((a.shape(), a.dtype()), (&[28usize, 28][..], DType::U8));
        let f = ToTensor.apply(&img).unwrap();
        let r = RandomAffine::new(15.0, (0.1, 0.1), (0.9, 1.1), 2)
            .apply(&f)
            .unwrap();
        assert_eq!(r.shape(), &[1, 28, 28]);
        let id = RandomAffine::new(0.0, (0.0, 0.0), (1.0, 1.0), 3)
            .apply(&f)
            .unwrap();
        assert_eq!(id.to_vec::<f32>(), f.to_vec::<f32>());
    }
}
