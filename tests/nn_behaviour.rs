//! Losses and schedulers against PyTorch, finite-difference checks of every
//! layer and loss, bad-input errors, optimizer state round trips, dropout modes.

mod common;

use std::collections::HashMap;
use std::path::Path;

use kindling::nn::functional::{
    binary_cross_entropy_with_logits, cross_entropy, cross_entropy_with, mse_loss, nll_loss,
};
use kindling::nn::models::Arch;
use kindling::nn::*;
use kindling::optim::*;
use kindling::{manual_seed, DType, Error, Generator, Tensor};

fn arrays() -> HashMap<String, Tensor> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/nn_cases.safetensors");
    kindling::io::load_safetensors(&path)
        .unwrap()
        .0
        .into_iter()
        .collect()
}

fn close(what: &str, got: &Tensor, want: &Tensor, rtol: f64) {
    common::assert_values_close(what, &got.to_vec::<f64>(), &want.to_vec::<f64>(), rtol);
}

#[test]
fn losses_and_their_gradients_match_pytorch() {
    let _rng = common::rng_lock();
    let a = arrays();
    let (logits, target, soft) = (
        &a["loss.logits"],
        &a["loss.target"],
        &a["loss.probs_target"],
    );
    type Loss<'a> = Box<dyn Fn(&Tensor) -> Tensor + 'a>;
    let cases: Vec<(&str, Loss)> = vec![
        ("ce_mean", Box::new(|z| cross_entropy(z, target).unwrap())),
        (
            "ce_sum",
            Box::new(|z| cross_entropy_with(z, target, Reduction::Sum, 0.0).unwrap()),
        ),
        (
            "ce_none",
            Box::new(|z| cross_entropy_with(z, target, Reduction::None, 0.0).unwrap()),
        ),
        (
            "ce_smooth",
            Box::new(|z| {
                CrossEntropyLoss {
                    label_smoothing: 0.1,
                    ..Default::default()
                }
                .forward(z, target)
                .unwrap()
            }),
        ),
        (
            "nll",
            Box::new(|z| nll_loss(&z.log_softmax(1), target, Reduction::Mean).unwrap()),
        ),
        (
            "mse",
            Box::new(|z| mse_loss(z, soft, Reduction::Mean).unwrap()),
        ),
        (
            "bce_logits",
            Box::new(|z| binary_cross_entropy_with_logits(z, soft, Reduction::Mean).unwrap()),
        ),
    ];
    for (name, f) in cases {
        let z = logits.detach().requires_grad_(true);
        let out = f(&z);
        close(name, &out, &a[&format!("loss.{name}")], 1e-6);
        let w = Tensor::linspace(0.5, 1.5, out.numel()).reshape(out.shape());
        (&out * &w).sum().backward();
        close(
            &format!("{name} grad"),
            &z.grad().unwrap(),
            &a[&format!("loss.{name}.grad")],
            1e-6,
        );
    }
}

#[test]
fn schedules_match_pytorch() {
    let _rng = common::rng_lock();
    let g = common::golden("nn_cases.json");
    let run = |sched: &mut dyn LrScheduler, opt: &mut SGD, steps: usize| -> Vec<f64> {
        (0..steps)
            .map(|_| {
                sched.step(opt).unwrap();
                opt.lr()
            })
            .collect()
    };
    let want = |k: &str| -> Vec<f64> {
        g["schedules"][k]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect()
    };
    let check = |name: &str, got: Vec<f64>| {
        for (a, b) in got.iter().zip(want(name)) {
            assert!((a - b).abs() < 1e-12, "{name}: {got:?} vs {:?}", want(name));
        }
    };
    let mut opt = SGD::new(vec![Tensor::zeros([1]).requires_grad_(true)], 0.1);
    let mut s = StepLR::new(&opt, 2, 0.5);
    check("step", run(&mut s, &mut opt, 7));
    let mut opt = SGD::new(vec![Tensor::zeros([1]).requires_grad_(true)], 0.1);
    let mut s = CosineAnnealingLR::new(&opt, 5, 0.01);
    check("cosine", run(&mut s, &mut opt, 5));
    let mut opt = SGD::new(vec![Tensor::zeros([1]).requires_grad_(true)], 0.1);
    let mut s = OneCycleLR::new(&mut opt, 0.1, 20);
    check("onecycle", run(&mut s, &mut opt, 19));
    // The 20th step is PyTorch's too (a loop stepping once per batch of
    // `total_steps` batches), at PyTorch's rate past the cycle's end; the 21st
    // is refused in PyTorch's words.
    s.step(&mut opt).unwrap();
    assert!(
        (opt.lr() - 0.0012539993764912555).abs() < 1e-12,
        "{}",
        opt.lr()
    );
    assert_eq!(
        s.step(&mut opt).unwrap_err().to_string(),
        "Tried to step 21 times. The specified number of total steps is 20"
    );
}

// ----- finite differences in float64 -----------------------------------------------

/// `f` of one input, checked against finite differences for the input and for
/// `params` (the module's parameters `f` reads).
fn gradcheck(name: &str, f: &dyn Fn(&Tensor) -> Tensor, x: &Tensor, params: &[Tensor]) {
    common::assert_gradcheck(name, |xs| f(&xs[0]), std::slice::from_ref(x), params);
}

fn f64_linear(i: usize, o: usize, seed: u64) -> Linear {
    let mut g = Generator::new(seed);
    Linear {
        weight: Tensor::randn_with([o, i], &mut g)
            .to_dtype(DType::F64)
            .requires_grad_(true),
        bias: Some(
            Tensor::randn_with([o], &mut g)
                .to_dtype(DType::F64)
                .requires_grad_(true),
        ),
    }
}

#[test]
fn layers_pass_finite_difference_checks() {
    let _rng = common::rng_lock();
    let x = Tensor::randn_with([3, 5], &mut Generator::new(1)).to_dtype(DType::F64);
    let lin = f64_linear(5, 4, 2);
    gradcheck(
        "Linear",
        &|x| lin.forward(x).unwrap(),
        &x,
        &lin.parameters(),
    );
    let x3 = Tensor::randn_with([2, 3, 5], &mut Generator::new(3)).to_dtype(DType::F64);
    gradcheck(
        "Linear on 3-D input",
        &|x| lin.forward(x).unwrap(),
        &x3,
        &lin.parameters(),
    );
    gradcheck("Flatten", &|x| Flatten::new().forward(x).unwrap(), &x3, &[]);
    let activations: Vec<(&str, Box<dyn Module>)> = vec![
        ("Identity", Box::new(Identity::new())),
        ("ReLU", Box::new(ReLU::new())),
        ("LeakyReLU", Box::new(LeakyReLU::new())),
        ("GELU", Box::new(GELU::new())),
        ("Sigmoid", Box::new(Sigmoid::new())),
        ("Tanh", Box::new(Tanh::new())),
        ("Softmax", Box::new(Softmax::new(1))),
        ("LogSoftmax", Box::new(LogSoftmax::new(-1))),
    ];
    for (name, m) in &activations {
        gradcheck(name, &|x| m.forward(x).unwrap(), &x, &[]);
    }
    let dropout = Dropout::new(0.3);
    manual_seed(0);
    let fixed = |x: &Tensor| {
        manual_seed(7); // the same mask every call
        dropout.forward(x).unwrap()
    };
    gradcheck("Dropout", &fixed, &x, &[]);
    let seq = Sequential::default()
        .add(f64_linear(5, 4, 4))
        .add(Sigmoid::new())
        .add(f64_linear(4, 3, 5));
    gradcheck(
        "Sequential",
        &|x| seq.forward(x).unwrap(),
        &x,
        &seq.parameters(),
    );
}

#[test]
fn losses_pass_finite_difference_checks() {
    let _rng = common::rng_lock();
    let x = Tensor::randn_with([4, 3], &mut Generator::new(11)).to_dtype(DType::F64);
    let t = Tensor::from_slice(&[0i64, 2, 1, 2]);
    let soft = Tensor::rand_with([4, 3], &mut Generator::new(12)).to_dtype(DType::F64);
    gradcheck("CrossEntropy", &|z| cross_entropy(z, &t).unwrap(), &x, &[]);
    gradcheck(
        "CrossEntropy smoothing",
        &|z| cross_entropy_with(z, &t, Reduction::Sum, 0.2).unwrap(),
        &x,
        &[],
    );
    gradcheck(
        "NLL none",
        &|z| nll_loss(z, &t, Reduction::None).unwrap(),
        &x,
        &[],
    );
    gradcheck(
        "MSE",
        &|z| mse_loss(z, &soft, Reduction::Mean).unwrap(),
        &x,
        &[],
    );
    gradcheck(
        "BCEWithLogits",
        &|z| binary_cross_entropy_with_logits(z, &soft, Reduction::Sum).unwrap(),
        &x,
        &[],
    );
}

// ----- bad input ------------------------------------------------------------------

#[test]
fn bad_input_is_an_error_not_a_panic() {
    let _rng = common::rng_lock();
    manual_seed(0);
    let lin = Linear::new(10, 10);
    let e = lin
        .forward(&Tensor::zeros([13, 784]))
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "mat1 and mat2 shapes cannot be multiplied (13x784 and 10x10)"
    );
    let model = Arch::Linear.build();
    let pixels = Tensor::zeros([3, 28, 28]).to_dtype(DType::U8);
    let e = model.forward(&pixels).unwrap_err();
    assert!(matches!(e, Error::DType { .. }));
    let e = e.to_string();
    assert!(
        e.starts_with("expected scalar type Float but found Byte\n"),
        "{e}"
    );
    assert!(e.contains("255"), "the hint says how to fix it: {e}");
    assert!(model.forward(&(&pixels / 255)).is_ok());
}

#[test]
fn state_dict_errors_name_every_key() {
    let _rng = common::rng_lock();
    let model = Arch::ThreeBlue.build();
    let mut sd = model.state_dict();
    sd.retain(|(k, _)| k != "layers.2.bias");
    sd.push(("layers.9.weight".into(), Tensor::zeros([1])));
    for (k, t) in sd.iter_mut() {
        if k == "layers.0.weight" {
            *t = Tensor::zeros([16, 10]);
        }
    }
    let e = model.load_state_dict(&sd).unwrap_err().to_string();
    assert_eq!(
        e,
        "Error(s) in loading state_dict for ThreeBlue:\n\tMissing key(s) in state_dict: \"layers.2.bias\".\n\tUnexpected key(s) in state_dict: \"layers.9.weight\".\n\tsize mismatch for layers.0.weight: copying a param with shape [16, 10] from checkpoint, the shape in current model is [16, 784]."
    );
    // A model for another architecture.
    let dir = tempdir("arch");
    let path = dir.join("mlp.safetensors");
    Arch::Mlp.build().save(&path).unwrap();
    let e = Arch::ThreeBlue.build().load(&path).unwrap_err().to_string();
    assert!(
        e.contains("size mismatch for layers.0.weight") && e.contains("mlp.safetensors"),
        "{e}"
    );
}

fn tempdir(tag: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("kindling-nn-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn truncated_or_corrupt_weights_are_errors() {
    let _rng = common::rng_lock();
    let dir = tempdir("corrupt");
    let path = dir.join("m.safetensors");
    let model = Arch::Linear.build();
    model.save(&path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    for (what, data) in [
        ("truncated", bytes[..bytes.len() / 2].to_vec()),
        ("garbage", b"not a safetensors file at all".to_vec()),
        ("empty", vec![]),
    ] {
        std::fs::write(&path, &data).unwrap();
        let e = model.load(&path).unwrap_err().to_string();
        assert!(e.contains("m.safetensors"), "{what}: {e}");
    }
    let e = model
        .load(&dir.join("missing.safetensors"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("missing.safetensors") && e.contains("No such file"),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

// ----- optimizer state -------------------------------------------------------------

fn run_steps(model: &dyn Module, opt: &mut dyn Optimizer, steps: usize) {
    let x = Tensor::randn_with([8, 28, 28], &mut Generator::new(3));
    let y = Tensor::randint_with(0, 10, [8], &mut Generator::new(4));
    for _ in 0..steps {
        opt.zero_grad();
        cross_entropy(&model.forward(&x).unwrap(), &y)
            .unwrap()
            .backward();
        opt.step().unwrap();
    }
}

#[test]
fn optimizer_state_round_trips_through_a_file() {
    let _rng = common::rng_lock();
    let dir = tempdir("optim");
    type MakeOpt = fn(Vec<Tensor>) -> Box<dyn Optimizer>;
    let makers: [(&str, MakeOpt); 4] = [
        ("sgd", |p| {
            Box::new(SGD::new(p, 0.05).momentum(0.9).nesterov(true))
        }),
        ("adamw", |p| Box::new(AdamW::new(p, 0.01))),
        ("amsgrad", |p| Box::new(Adam::new(p, 0.01).amsgrad(true))),
        ("adagrad", |p| Box::new(Adagrad::new(p, 0.05).lr_decay(0.1))),
    ];
    for (name, make) in makers {
        manual_seed(1);
        let straight = Arch::ThreeBlue.build();
        let mut opt = make(straight.parameters());
        run_steps(&straight, opt.as_mut(), 6);

        manual_seed(1);
        let first = Arch::ThreeBlue.build();
        let mut opt = make(first.parameters());
        run_steps(&first, opt.as_mut(), 3);
        first.save(&dir.join("m.safetensors")).unwrap();
        opt.state().save(&dir.join("o.safetensors")).unwrap();

        let resumed = Arch::ThreeBlue.build();
        resumed.load(&dir.join("m.safetensors")).unwrap();
        let mut opt = make(resumed.parameters());
        opt.load_state(&OptimizerState::load(&dir.join("o.safetensors")).unwrap())
            .unwrap();
        run_steps(&resumed, opt.as_mut(), 3);
        for ((n, a), (_, b)) in straight
            .named_parameters()
            .iter()
            .zip(resumed.named_parameters())
        {
            assert_eq!(
                a.to_vec::<f32>(),
                b.to_vec::<f32>(),
                "{name}: {n} differs after resuming"
            );
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn dropout_only_in_training_mode() {
    let _rng = common::rng_lock();
    manual_seed(3);
    let d = Dropout::new(0.5);
    let x = Tensor::ones([1000]);
    let y = d.forward(&x).unwrap().to_vec::<f32>();
    let zeros = y.iter().filter(|&&v| v == 0.0).count();
    assert!((400..600).contains(&zeros), "{zeros}");
    assert!(y.iter().all(|&v| v == 0.0 || v == 2.0));
    let net = Sequential::default().add(Dropout::new(0.5));
    net.eval();
    assert_eq!(net.forward(&x).unwrap().to_vec::<f32>(), x.to_vec::<f32>());
    net.train();
    assert_ne!(net.forward(&x).unwrap().to_vec::<f32>(), x.to_vec::<f32>());
}

#[test]
fn linear_default_init_is_uniform_within_one_over_sqrt_fan_in() {
    let _rng = common::rng_lock();
    manual_seed(0);
    let l = Linear::new(784, 128);
    let bound = 1.0 / 784f64.sqrt();
    for p in l.parameters() {
        let v = p.to_vec::<f64>();
        assert!(v.iter().all(|x| x.abs() <= bound));
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        assert!(mean.abs() < bound / 5.0);
    }
    assert_eq!(l.weight.shape(), &[128, 784]);
    assert!(l.weight.requires_grad() && l.weight.is_leaf());
}
