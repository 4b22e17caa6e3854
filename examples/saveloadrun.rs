//! PyTorch's "Save and Load the Model" tutorial
//! (beginner_source/basics/saveloadrun_tutorial.py), statement by statement:
//! each Python statement is the comment above its Rust.
//!
//! kindling's paths are written out in full, as the tutorial writes
//! `torch.save` and `torch.load`, so the two imports need no `use`.
//! Differences:
//! - `weights='IMAGENET1K_V1'` downloads torchvision's pretrained VGG16, which
//!   kindling does not fetch: the port starts from an untrained VGG16, built by
//!   `get_model("vgg16")` (torchvision's by-name constructor, which gives the
//!   model as a `Box<dyn Module>`). torchvision's own file,
//!   `vgg16-397923af.pth`, loads with `model.load(path)`.
//! - `torch.save(model)` pickles the model's class, which is code: kindling
//!   saves the structure as data instead (`nn::save_model`, a safetensors file
//!   that PyTorch reads as weights), and `nn::load_model` builds the model back
//!   without drawing initial values it would overwrite.
//!
//! Run: `cargo run --release --example saveloadrun` (about 20 s; writes 1.1 GB,
//! VGG16's weights twice, in the current folder).

// import torch
// import torchvision.models as models

fn main() -> kindling::Result<()> {
    // model = models.vgg16(weights='IMAGENET1K_V1')
    let model = kindling::vision::models::get_model("vgg16")?;
    // torch.save(model.state_dict(), 'model_weights.pth')
    kindling::save(model.state_dict(), "model_weights.pth")?;

    // model = models.vgg16() # we do not specify ``weights``, i.e. create untrained model
    let model = kindling::vision::models::get_model("vgg16")?;
    // model.load_state_dict(torch.load('model_weights.pth', weights_only=True))
    model.load_state_dict(&kindling::load("model_weights.pth")?.state_dict()?)?;
    // model.eval()
    model.eval();

    // torch.save(model, 'model.pth')
    kindling::nn::save_model(&model, "model.safetensors")?;

    // model = torch.load('model.pth', weights_only=False),
    let _model = kindling::nn::load_model("model.safetensors")?;
    Ok(())
}
