//! [`Size`]: a tensor's shape as a value, printed as PyTorch's `torch.Size`.

use std::fmt;
use std::ops::Deref;

use super::ShapeArg;

/// A shape, as `torch.Size`: what [`Tensor::size`](crate::Tensor::size)
/// returns. It prints as PyTorch prints one, indexes and iterates as a slice
/// of `usize`, compares with arrays, and is accepted wherever a shape is.
///
/// ```
/// use kindling::Tensor;
/// let t = Tensor::zeros([13, 28, 28]).flatten(1, -1);
/// assert_eq!(t.size().to_string(), "torch.Size([13, 784])");
/// assert_eq!(t.size(), [13, 784]);
/// assert_eq!(t.size()[1], 784);
/// assert_eq!(Tensor::ones(t.size()).numel(), 13 * 784);
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Size(pub Vec<usize>);

impl Size {
    /// The number of elements a tensor of this shape holds (`Size.numel()`).
    pub fn numel(&self) -> usize {
        self.0.iter().product()
    }
}

impl Deref for Size {
    type Target = [usize];
    fn deref(&self) -> &[usize] {
        &self.0
    }
}

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dims: Vec<String> = self.0.iter().map(|d| d.to_string()).collect();
        write!(f, "torch.Size([{}])", dims.join(", "))
    }
}

/// The same text as `Display`, so `{:?}` and `dbg!` show PyTorch's form.
impl fmt::Debug for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl<const N: usize> PartialEq<[usize; N]> for Size {
    fn eq(&self, other: &[usize; N]) -> bool {
        self.0 == other
    }
}

impl PartialEq<[usize]> for Size {
    fn eq(&self, other: &[usize]) -> bool {
        self.0 == other
    }
}

impl PartialEq<&[usize]> for Size {
    fn eq(&self, other: &&[usize]) -> bool {
        self.0 == *other
    }
}

impl From<&[usize]> for Size {
    fn from(dims: &[usize]) -> Size {
        Size(dims.to_vec())
    }
}

impl<'a> IntoIterator for &'a Size {
    type Item = &'a usize;
    type IntoIter = std::slice::Iter<'a, usize>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl ShapeArg for Size {
    fn to_sizes(&self) -> Vec<isize> {
        self.0.iter().map(|&d| d as isize).collect()
    }
}

impl ShapeArg for &Size {
    fn to_sizes(&self) -> Vec<isize> {
        self.0.iter().map(|&d| d as isize).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_as_torch_size() {
        assert_eq!(Size(vec![]).to_string(), "torch.Size([])");
        assert_eq!(format!("{:?}", Size(vec![3])), "torch.Size([3])");
        assert_eq!(Size(vec![2, 0, 4]).numel(), 0);
        assert_eq!(Size(vec![]).numel(), 1);
    }
}
