//! PyTorch's "Save and Load the Model" tutorial
//! (beginner_source/basics/saveloadrun_tutorial.py), statement by statement:
//! each Python statement is the comment above its Rust.
//!
//! One difference: `weights='IMAGENET1K_V1'` downloads torchvision's
//! pretrained VGG16, which kindling does not fetch; the port starts from
//! an untrained `vgg16()` (built by `models::get_model`, torchvision's
//! by-name constructor, so that one argument can switch the model) (torchvision's own `.pth`, `vgg16-397923af.pth`, loads
//! with `model.load(path)`). And `torch.save(model)` pickles the model's
//! class, which is code: kindling saves the structure as data instead
//! (`nn::save_model`), and `nn::load_model` builds it back.
//!
//! Run: `cargo run --release --example saveloadrun` (writes about 1.1 GB:
//! VGG16's weights, twice, in the current folder). `-- resnet18` runs the
//! same statements with ResNet-18 (94 MB), as `tests/examples.rs` does.

// import torch
// import torchvision.models as models
use kindling::{prelude::*, vision::models};

fn main() -> Result<()> {
    let name = std::env::args().nth(1).unwrap_or_else(|| "vgg16".into());
    // model = models.vgg16(weights='IMAGENET1K_V1')
    let model = models::get_model(&name)?;
    // torch.save(model.state_dict(), 'model_weights.pth')
    kindling::save(model.state_dict(), "model_weights.pth")?;

    // model = models.vgg16() # we do not specify ``weights``, i.e. create untrained model
    let model = models::get_model(&name)?;
    // model.load_state_dict(torch.load('model_weights.pth', weights_only=True))
    model.load_state_dict(&kindling::load("model_weights.pth")?.state_dict()?)?;
    // model.eval()
    model.eval();

    // torch.save(model, 'model.pth')
    nn::save_model(&model, "model.safetensors")?;

    // model = torch.load('model.pth', weights_only=False),
    let model = nn::load_model("model.safetensors")?;
    println!("{model}"); // not in the tutorial: what came back
    Ok(())
}
