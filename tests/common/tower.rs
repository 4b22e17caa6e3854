//! A module with every kind of field `#[derive(Module)]` registers, shared by
//! `tests/modules.rs` and `examples/write_parity_weights.rs` (which writes the
//! file PyTorch loads in `tests/golden/make_module_goldens.py`). Its PyTorch twin:
//!
//! ```python
//! class Tower(nn.Module):
//!     def __init__(self):
//!         super().__init__()
//!         self.stem = nn.Linear(4, 3)
//!         self.blocks = nn.ModuleList([nn.Linear(3, 3), nn.Linear(3, 2)])
//!         self.drop = nn.Dropout(0.1)
//!         self.head = None
//!         self.register_buffer("scale", torch.full((2,), 0.5))
//!         self.register_buffer("seen", torch.tensor(0))
//!         self.width = 3
//! ```

use kindling::nn::{Dropout, Linear, Module};
use kindling::{Result, Tensor};

#[allow(dead_code)]
#[derive(Module)]
pub struct Tower {
    pub stem: Linear,
    pub blocks: Vec<Linear>,
    pub drop: Option<Dropout>,
    pub head: Option<Linear>,
    #[buffer]
    pub scale: Tensor,
    #[buffer]
    pub seen: Tensor,
    pub width: usize,
    #[module(skip)]
    pub note: std::time::Duration,
}

impl Tower {
    pub fn new() -> Tower {
        Tower {
            stem: Linear::new(4, 3),
            blocks: vec![Linear::new(3, 3), Linear::new(3, 2)],
            drop: Some(Dropout::new(0.1)),
            head: None,
            scale: Tensor::full([2], 0.5),
            seen: Tensor::scalar(0i64),
            width: 3,
            note: std::time::Duration::ZERO,
        }
    }

    /// The `Tower` whose file PyTorch loads: seed 11, buffers set to non-defaults.
    pub fn for_pytorch() -> Tower {
        kindling::manual_seed(11);
        let mut t = Tower::new();
        t.scale = Tensor::from_vec(vec![-0.5f32, 3.0], [2]);
        t.seen = Tensor::scalar(42i64);
        t
    }
}

impl Module for Tower {
    /// `drop(blocks[1](relu(blocks[0](relu(stem(x)))))) * scale`
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let mut y = self.stem.forward(x)?.relu();
        y = self.blocks[0].forward(&y)?.relu();
        y = self.blocks[1].forward(&y)?;
        if let Some(d) = &self.drop {
            y = d.forward(&y)?;
        }
        Ok(&y * &self.scale)
    }
}
