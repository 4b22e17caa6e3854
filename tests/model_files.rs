//! Whole-model files (`nn::save_model` / `nn::load_model`): structure as
//! data beside the weights, built back without the model's code; refused
//! where the structure is code (a struct of your own) or the file asks for
//! more than it holds.

mod common;

use std::collections::HashMap;

use common::temp_dir;
use kindling::nn::{
    self, AdaptiveAvgPool2d, BatchNorm2d, Conv2d, Dropout, Flatten, LayerNorm, LeakyReLU, Linear,
    LogSoftmax, MaxPool2d, Module, ReLU, Sequential,
};
use kindling::{ConvOptions, Padding, PoolOptions, Tensor};

/// Saves and loads `model`; the copy prints, holds and computes the same.
fn round_trip(name: &str, model: &dyn Module, input: &Tensor) {
    let dir = temp_dir(&format!("model-files-{name}"));
    let path = dir.join("model.safetensors");
    nn::save_model(model, &path).unwrap();
    let before = kindling::get_rng_state();
    let back = nn::load_model(&path).unwrap();
    assert_eq!(
        kindling::get_rng_state().to_vec::<u8>(),
        before.to_vec::<u8>(),
        "{name}: loading draws nothing"
    );
    assert_eq!(back.to_string(), model.to_string(), "{name}");
    let (a, b) = (model.state_dict(), back.state_dict());
    assert_eq!(a.len(), b.len());
    for ((ka, ta), (kb, tb)) in a.iter().zip(&b) {
        assert_eq!(ka, kb);
        assert_eq!(ta.to_vec::<f64>(), tb.to_vec::<f64>(), "{name} {ka}");
    }
    model.eval();
    back.eval();
    assert_eq!(
        back.forward(input).unwrap().to_vec::<f32>(),
        model.forward(input).unwrap().to_vec::<f32>(),
        "{name}"
    );
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn nested_sequentials_of_every_layer_come_back_whole() {
    let _turn = common::rng_lock();
    kindling::manual_seed(3);
    let model = Sequential::new((
        Conv2d::with_options(
            1,
            4,
            3,
            ConvOptions::default().padding(Padding::Same),
            false,
        ),
        BatchNorm2d::new(4).momentum(None).eps(1e-3),
        ReLU::new().inplace(true),
        MaxPool2d::with_options(2, PoolOptions::default().stride(2).ceil_mode(true)),
        Sequential::new((
            Conv2d::new(4, 6, (3, 1)).stride(2).dilation((1, 2)),
            LeakyReLU::new(),
            AdaptiveAvgPool2d::new((2, 3)),
        )),
        Flatten::new(),
        LayerNorm::new(vec![36]),
        Dropout::new(0.3),
        Linear::with_bias(36, 5, false),
        LogSoftmax::new(1),
    ));
    // Running statistics away from their defaults.
    model.train();
    kindling::no_grad(|| model.forward(&Tensor::randn([4, 1, 12, 12]))).unwrap();
    round_trip("nested", &model, &Tensor::randn([2, 1, 12, 12]));
}

#[test]
fn reference_and_torchvision_models_come_back_by_name() {
    let _turn = common::rng_lock();
    kindling::manual_seed(5);
    for arch in [nn::models::Arch::Mlp, nn::models::Arch::CnnBn] {
        round_trip(arch.name(), &arch.build(), &Tensor::rand([2, 1, 28, 28]));
    }
    // By name, as a Box<dyn Module> passed as `&model` (the saveloadrun port's form).
    let resnet: Box<dyn Module> = kindling::vision::models::get_model("resnet18").unwrap();
    round_trip("resnet18", &resnet, &Tensor::rand([1, 3, 32, 32]));
}

#[test]
fn a_struct_of_your_own_saves_its_weights_not_its_structure() {
    let dir = temp_dir("model-files-tower");
    let tower = common::tower::Tower::new();
    let e = nn::save_model(&tower, dir.join("t.safetensors"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("Tower's structure cannot be saved as data") && e.contains("model.save(path)"),
        "{e}"
    );
    // A Sequential holding it says the same.
    let e = nn::save_model(
        &Sequential::new((Linear::new(4, 4), tower)),
        dir.join("s.safetensors"),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("Tower's structure"), "{e}");
    // Weights alone: load_model says to build the model in code.
    let fc = Linear::new(2, 2);
    fc.save(&dir.join("w.safetensors")).unwrap();
    let e = nn::load_model(dir.join("w.safetensors"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("no model structure") && e.contains("model.load(path)"),
        "{e}"
    );
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn a_structure_asking_for_more_than_the_file_holds_is_refused() {
    let dir = temp_dir("model-files-hostile");
    let path = dir.join("m.safetensors");
    let small = vec![("0.weight".to_string(), Tensor::zeros([2, 2]))];
    let nested = |n: usize| {
        (0..n).fold(r#"{"type":"Identity"}"#.to_string(), |inner, _| {
            format!(r#"{{"type":"Sequential","layers":[{inner}]}}"#)
        })
    };
    for (spec, words) in [
        (r#"{"type":"Sequential","layers":[{"type":"Linear","in_features":100000,"out_features":100000,"bias":true}]}"#.to_string(), "needs more parameters than the file holds"),
        (r#"{"type":"torchvision.models","arch":"vgg16"}"#.into(), "needs more parameters"),
        (r#"{"type":"os.system"}"#.into(), "unknown module type \"os.system\""),
        (r#"{"type":"Conv2d","in_channels":3,"out_channels":4,"kernel_size":[3,3],"stride":[1,1],"padding":[0,0],"dilation":[1,1],"groups":0,"bias":true}"#.into(), "in 0 groups"),
        (r#"{"type":"Dropout","p":1.5}"#.into(), "Dropout's p is not a probability"),
        (r#"{"type":"Linear","in_features":-1}"#.into(), "Linear's in_features is not a size"),
        (nested(40), "nested deeper than 32"),
        (nested(1000), "recursion limit exceeded"),
        ("[1, 2".into(), "not valid JSON"),
    ] {
        let meta = HashMap::from([(nn::MODULE_KEY.to_string(), spec)]);
        kindling::io::save_safetensors(&path, &small, &meta).unwrap();
        let e = nn::load_model(&path).unwrap_err().to_string();
        assert!(e.contains(words) && !e.contains('\n'), "{words}: {e}");
    }
    std::fs::remove_dir_all(dir).ok();
}
