//! The fuzz suite (NOTE(fuzzing) in `kindling::testing::fuzz`): every parser
//! and loader of the library, fed mutated copies of the seed files in
//! `tests/fuzz/seeds/` for `KINDLING_FUZZ_SECS` seconds each (2 by default),
//! after replaying every saved regression case. The command line's own
//! readers (`model.json`, a checkpoint's settings) are fuzzed the same way in
//! `src/cli/fuzz.rs`. Seeds are regenerated with
//! `cargo test --release --test fuzz -- --ignored write_seeds` (the images by
//! `tests/fuzz/make_image_seeds.py`).

use std::path::{Path, PathBuf};

use kindling::nn::{Linear, Module, ReLU, Sequential};
use kindling::optim::{Adam, Optimizer, OptimizerState, SGD};
use kindling::testing::fuzz::{check, scratch, CountingAlloc, Target};
use kindling::Tensor;

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

const MIB: usize = 1 << 20;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz")
}

/// The small network the weights, optimizer and checkpoint seeds belong to.
fn tiny() -> Sequential {
    // The global generator is shared by the tests running at once.
    static GENERATOR: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = GENERATOR.lock().unwrap_or_else(|e| e.into_inner());
    kindling::manual_seed(0);
    Sequential::default()
        .add(Linear::new(4, 3))
        .add(ReLU::new())
        .add(Linear::new(3, 2))
}

/// One training step, so optimizer buffers exist (and a loaded state is used).
fn step(model: &Sequential, opt: &mut dyn Optimizer) {
    let x = Tensor::from_vec(vec![0.5f32, -1.0, 2.0, 0.25, 1.0, 0.0, -0.5, 3.0], [2, 4]);
    let target = Tensor::from_vec(vec![1i64, 0], [2]);
    opt.zero_grad();
    let loss =
        kindling::nn::functional::cross_entropy(&model.forward(&x).unwrap(), &target).unwrap();
    loss.backward();
    opt.step().unwrap();
}

const JSON_WORDS: &[&[u8]] = &[
    b"{",
    b"}",
    b"[",
    b"]",
    b"\"",
    b":",
    b",",
    b"null",
    b"true",
    b"-",
    b"e",
    b"\\u0000",
    b"[[[[[[[[[[[[[[[[[[[[",
];

#[test]
fn fuzz_idx_raw() {
    let dir = scratch("idx_raw");
    let file = dir.join("input");
    let target = Target {
        name: "idx_raw",
        cap: |len| 16 * MIB + 4 * len,
        dictionary: &[
            b"\x00\x00\x08\x03",
            b"\x00\x00\x08\x01",
            b"\x00\x00\x00\x1c",
        ],
    };
    check(&target, &root(), &mut |bytes| {
        std::fs::write(&file, bytes).unwrap();
        let read = kindling::vision::idx::read_idx(&file);
        if let Ok(idx) = &read {
            assert_eq!(idx.data.len(), idx.dims.iter().product::<usize>());
        }
        // The file reader and the bytes parser agree.
        assert_eq!(
            read.is_ok(),
            kindling::vision::idx::parse_idx(bytes).is_ok()
        );
        read.is_ok()
    });
}

#[test]
fn fuzz_idx_gz() {
    let dir = scratch("idx_gz");
    let file = dir.join("input.gz");
    // Deflate expands at most 1032 times.
    let target = Target {
        name: "idx_gz",
        cap: |len| 16 * MIB + 1100 * len,
        dictionary: &[b"\x1f\x8b\x08\x00", b"\x00\x00\x08\x03"],
    };
    check(&target, &root(), &mut |bytes| {
        std::fs::write(&file, bytes).unwrap();
        let read = kindling::vision::idx::read_idx(&file);
        if let Ok(idx) = &read {
            assert_eq!(idx.data.len(), idx.dims.iter().product::<usize>());
        }
        read.is_ok()
    });
}

const SAFETENSORS_WORDS: &[&[u8]] = &[
    b"\"dtype\"",
    b"\"shape\"",
    b"\"data_offsets\"",
    b"\"F32\"",
    b"\"F64\"",
    b"\"I64\"",
    b"\"BOOL\"",
    b"\"U8\"",
    b"\"BF16\"",
    b"\"__metadata__\"",
    b"\"0.weight\"",
    b"\"2.bias\"",
    b"[0,0]",
    b"[]",
];

#[test]
fn fuzz_safetensors_into_a_model() {
    let dir = scratch("safetensors_model");
    let file = dir.join("model.safetensors");
    let model = tiny();
    let target = Target {
        name: "safetensors_model",
        cap: |len| 16 * MIB + 8 * len,
        dictionary: SAFETENSORS_WORDS,
    };
    check(&target, &root(), &mut |bytes| {
        std::fs::write(&file, bytes).unwrap();
        let loaded = model.load(&file).is_ok();
        if loaded {
            // Loaded weights are used as any others.
            assert_eq!(
                model.forward(&Tensor::ones([1, 4])).unwrap().shape(),
                &[1, 2]
            );
        }
        loaded
    });
}

#[test]
fn fuzz_optimizer_state() {
    let dir = scratch("optimizer_state");
    let file = dir.join("optimizer.safetensors");
    let model = tiny();
    let mut words = SAFETENSORS_WORDS.to_vec();
    words.extend_from_slice(&[
        b"\"kind\"",
        b"\"SGD\"",
        b"\"Adam\"",
        b"\"step\"",
        b"\"lr\"",
        b"\"0.momentum_buffer\"",
        b"\"3.exp_avg_sq\"",
        b"\"1.max_exp_avg_sq\"",
    ]);
    let words: &'static [&'static [u8]] = Box::leak(words.into_boxed_slice());
    let target = Target {
        name: "optimizer_state",
        cap: |len| 16 * MIB + 8 * len,
        dictionary: words,
    };
    check(&target, &root(), &mut |bytes| {
        std::fs::write(&file, bytes).unwrap();
        let Ok(state) = OptimizerState::load(&file) else {
            return false;
        };
        let mut sgd = SGD::new(model.parameters(), 0.1).momentum(0.9);
        let mut adam = Adam::new(model.parameters(), 0.01).amsgrad(true);
        let mut loaded = false;
        for opt in [&mut sgd as &mut dyn Optimizer, &mut adam] {
            if opt.load_state(&state).is_ok() {
                step(&model, opt);
                loaded = true;
            }
        }
        loaded
    });
}

/// The tiny model's weights and an SGD state after one step, as bytes.
fn checkpoint_parts() -> (Sequential, Vec<u8>, Vec<u8>) {
    let model = tiny();
    let mut opt = SGD::new(model.parameters(), 0.1).momentum(0.9);
    step(&model, &mut opt);
    let weights =
        kindling::io::safetensors_bytes(&model.state_dict(), &Default::default()).unwrap();
    (model, weights, opt.state().to_bytes().unwrap())
}

const PICKLE_WORDS: &[&[u8]] = &[
    b"\x80\x02",
    b"\x80\x04\x95",
    b"cos\nsystem\n",
    b"ccollections\nOrderedDict\n",
    b"ctorch._utils\n_rebuild_tensor_v2\n",
    b"ctorch\nFloatStorage\n",
    b"ctorch\nLongStorage\n",
    b"ctorch\nSize\n",
    b"X\x07\x00\x00\x00storage",
    b"\x8c\x03cpu",
    b"q\x00",
    b"h\x00",
    b"\x94",
    b"\x93",
    b"\x8a\x08",
    b"(",
    b"t",
    b"R",
    b"Q",
    b"]",
    b"}",
    b"u",
    b"e",
    b"a",
    b"s",
    b"b",
    b".",
];

/// A storage for the unpickler under fuzzing: zeros, up to 64 Ki elements.
fn fuzz_storage(
    kind: kindling::io::StorageKind,
    key: &str,
    numel: usize,
) -> Result<Tensor, String> {
    if numel > 1 << 16 {
        return Err(format!("storage {key} too large"));
    }
    let _ = kind;
    Ok(Tensor::zeros([numel]))
}

#[test]
fn fuzz_pth_pickle() {
    let model = tiny();
    // Each byte can make an object, a memo entry and a stack slot, and the
    // result at most two nodes per byte.
    let target = Target {
        name: "pth_pickle",
        cap: |len| 16 * MIB + 256 * len,
        dictionary: PICKLE_WORDS,
    };
    check(&target, &root(), &mut |bytes| {
        let Ok(value) = kindling::io::pickle::read(bytes, &mut fuzz_storage) else {
            return false;
        };
        let _ = value.to_string();
        if let Ok(sd) = value.state_dict() {
            let _ = model.load_state_dict(&sd);
        }
        true
    });
}

#[test]
fn fuzz_pth_into_a_model() {
    let dir = scratch("pth_model");
    let file = dir.join("model.pth");
    let model = tiny();
    let mut words = PICKLE_WORDS.to_vec();
    words.extend_from_slice(&[
        &b"PK\x03\x04"[..],
        b"PK\x01\x02",
        b"PK\x05\x06",
        b"archive/data/0",
    ]);
    let words: &'static [&'static [u8]] = Box::leak(words.into_boxed_slice());
    let target = Target {
        name: "pth_model",
        cap: |len| 16 * MIB + 8 * len,
        dictionary: words,
    };
    check(&target, &root(), &mut |bytes| {
        std::fs::write(&file, bytes).unwrap();
        let loaded = kindling::load(&file).is_ok();
        if model.load(&file).is_ok() {
            assert_eq!(
                model.forward(&Tensor::ones([1, 4])).unwrap().shape(),
                &[1, 2]
            );
        }
        loaded
    });
}

const STATE_WORDS: &[&[u8]] = &[
    b"\"progress\"",
    b"\"history\"",
    b"\"epoch\"",
    b"\"batch\"",
    b"\"loss_sum\"",
    b"\"correct\"",
    b"\"seen\"",
    b"\"elapsed\"",
    b"\"rng\"",
    b"\"config\"",
    b"\"train_accuracy\"",
    b"\"test_loss\"",
];

#[test]
fn fuzz_checkpoint_state() {
    let dir = scratch("checkpoint_state");
    let (model, weights, opt_bytes) = checkpoint_parts();
    let mut words = JSON_WORDS.to_vec();
    words.extend_from_slice(STATE_WORDS);
    let words: &'static [&'static [u8]] = Box::leak(words.into_boxed_slice());
    let target = Target {
        name: "checkpoint_state",
        cap: |len| 16 * MIB + 64 * len,
        dictionary: words,
    };
    check(&target, &root(), &mut |bytes| {
        kindling::io::write_set(
            &dir,
            &[
                ("model.safetensors", &weights),
                ("optimizer.safetensors", &opt_bytes),
                ("state.json", bytes),
            ],
        )
        .unwrap();
        let Ok(ck) = kindling::train::Checkpoint::load(&dir) else {
            return false;
        };
        let mut opt = SGD::new(model.parameters(), 0.1).momentum(0.9);
        let restored = ck.restore(&model, &mut opt).is_ok();
        if restored {
            step(&model, &mut opt);
        }
        restored
    });
}

#[test]
fn fuzz_checkpoint_manifest() {
    let dir = scratch("checkpoint_manifest");
    let (model, weights, opt_bytes) = checkpoint_parts();
    let state = std::fs::read(root().join("seeds/checkpoint_state/state.json")).unwrap();
    kindling::io::write_set(
        &dir,
        &[
            ("model.safetensors", &weights),
            ("optimizer.safetensors", &opt_bytes),
            ("state.json", &state),
        ],
    )
    .unwrap();
    let current = std::fs::read_to_string(dir.join("CURRENT")).unwrap();
    let manifest = dir.join(current.trim()).join("MANIFEST.json");
    let mut words = JSON_WORDS.to_vec();
    words.extend_from_slice(&[
        b"\"files\"",
        b"\"name\"",
        b"\"bytes\"",
        b"\"md5\"",
        b"\"../state.json\"",
        b"\".hidden\"",
        b"\"CURRENT\"",
    ]);
    let words: &'static [&'static [u8]] = Box::leak(words.into_boxed_slice());
    let target = Target {
        name: "checkpoint_manifest",
        cap: |len| 16 * MIB + 64 * len,
        dictionary: words,
    };
    check(&target, &root(), &mut |bytes| {
        std::fs::write(&manifest, bytes).unwrap();
        let Ok(ck) = kindling::train::Checkpoint::load(&dir) else {
            return false;
        };
        let mut opt = SGD::new(model.parameters(), 0.1).momentum(0.9);
        let restored = ck.restore(&model, &mut opt).is_ok();
        if restored {
            step(&model, &mut opt);
        }
        restored
    });
}

/// Images up to the pixel limit (16 million) are decoded: as bytes, as
/// floats, and the prepared copies of them.
fn image_cap(_len: usize) -> usize {
    256 * MIB
}

#[test]
fn fuzz_png_digit() {
    let dir = scratch("png_digit");
    let file = dir.join("digit.png");
    let target = Target {
        name: "png_digit",
        cap: image_cap,
        dictionary: &[
            b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"iCCP", b"zTXt", b"acTL", b"fcTL",
        ],
    };
    check(&target, &root(), &mut |bytes| {
        std::fs::write(&file, bytes).unwrap();
        let prepared = kindling::vision::digit::prepare_digit(&file);
        if let Ok(x) = &prepared {
            assert_eq!(x.shape(), &[1, 28, 28]);
        }
        prepared.is_ok()
    });
}

#[test]
fn fuzz_jpeg_digit() {
    let dir = scratch("jpeg_digit");
    let file = dir.join("digit.jpg");
    let target = Target {
        name: "jpeg_digit",
        cap: image_cap,
        dictionary: &[
            b"\xff\xd8",
            b"\xff\xc0",
            b"\xff\xc2",
            b"\xff\xc4",
            b"\xff\xda",
            b"\xff\xdb",
            b"\xff\xdd",
            b"\xff\xd9",
            b"\xff\xe0",
            b"\xff\xee",
        ],
    };
    check(&target, &root(), &mut |bytes| {
        std::fs::write(&file, bytes).unwrap();
        let prepared = kindling::vision::digit::prepare_digit(&file);
        if let Ok(x) = &prepared {
            assert_eq!(x.shape(), &[1, 28, 28]);
        }
        prepared.is_ok()
    });
}

// ----- seeds ------------------------------------------------------------------------------

fn idx(dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, 8, dims.len() as u8];
    for d in dims {
        out.extend_from_slice(&d.to_be_bytes());
    }
    out.extend_from_slice(data);
    out
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// Writes the seed files (all but the images) from what kindling itself
/// writes. Run by hand when a format changes.
#[test]
#[ignore]
fn write_seeds() {
    let seeds = root().join("seeds");
    let put = |target: &str, name: &str, bytes: &[u8]| {
        let d = seeds.join(target);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join(name), bytes).unwrap();
    };
    let digits: Vec<u8> = (0..3 * 28 * 28).map(|i| ((i * 37) % 256) as u8).collect();
    let images = idx(&[3, 28, 28], &digits);
    let labels = idx(&[3], &[7, 2, 1]);
    let square = idx(&[2, 2, 2, 2], &[1; 16]);
    put("idx_raw", "images-idx3-ubyte", &images);
    put("idx_raw", "labels-idx1-ubyte", &labels);
    put("idx_raw", "four-dims-idx4-ubyte", &square);
    put("idx_gz", "images-idx3-ubyte.gz", &gz(&images));
    put("idx_gz", "labels-idx1-ubyte.gz", &gz(&labels));
    let mut two_members = gz(&labels[..6]);
    two_members.extend(gz(&labels[6..]));
    put("idx_gz", "two-members-idx1-ubyte.gz", &two_members);

    let (model, weights, sgd) = checkpoint_parts();
    put("safetensors_model", "tiny.safetensors", &weights);
    let meta = std::collections::HashMap::from([("format".to_string(), "pt".to_string())]);
    let sd64: Vec<(String, Tensor)> = model
        .state_dict()
        .into_iter()
        .map(|(k, t)| (k, t.to_dtype(kindling::DType::F64)))
        .collect();
    put(
        "safetensors_model",
        "tiny-float64-meta.safetensors",
        &kindling::io::safetensors_bytes(&sd64, &meta).unwrap(),
    );
    put("optimizer_state", "sgd-momentum.safetensors", &sgd);
    let mut adam = Adam::new(model.parameters(), 0.01).amsgrad(true);
    step(&model, &mut adam);
    put(
        "optimizer_state",
        "adam-amsgrad.safetensors",
        &adam.state().to_bytes().unwrap(),
    );

    // .pth files as kindling writes them (a state dict; a checkpoint with
    // an optimizer), their pickles, and a pickle of Python's protocol 4.
    let sd = kindling::io::pth_bytes(&model.state_dict().into()).unwrap();
    let ckpt = kindling::io::pth_bytes(&kindling::io::Value::dict([
        ("model", model.state_dict().into()),
        ("optimizer", adam.state_dict()),
        ("epoch", 3.into()),
        ("size", kindling::io::Value::Size(vec![2, 3])),
        (
            "tags",
            kindling::io::Value::Set(vec!["a".into(), 1.5.into()]),
        ),
    ]))
    .unwrap();
    put("pth_model", "tiny.pth", &sd);
    put("pth_model", "checkpoint.pth", &ckpt);
    for (name, file) in [("tiny.pkl", &sd), ("checkpoint.pkl", &ckpt)] {
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(file.as_slice())).unwrap();
        let mut pkl = Vec::new();
        std::io::Read::read_to_end(&mut zip.by_name("archive/data.pkl").unwrap(), &mut pkl)
            .unwrap();
        put("pth_pickle", name, &pkl);
    }
    // pickle.dumps((('a', {1, 2}), 'a', -300, 2**40, b'xy', None, [1, [2]], {'k': (1,)}), protocol=4)
    let p4 = "8004953d00000000000000288c0161948f94284b014b0290869468004ad4feffff8a0600000000000143027879944e5d94284b015d944b0261657d948c016b944b0185947374942e";
    let p4: Vec<u8> = (0..p4.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&p4[i..i + 2], 16).unwrap())
        .collect();
    put("pth_pickle", "python-protocol-4.pkl", &p4);

    // A checkpoint's state.json, as the library writes it.
    let dir = scratch("write_seeds");
    let progress = kindling::train::Progress {
        epoch: 1,
        batch: 3,
        loss_sum: 4.5,
        correct: 20,
        seen: 30,
        elapsed: 0.25,
        history: vec![kindling::train::EpochRow {
            epoch: 1,
            train_loss: 0.5,
            train_accuracy: 0.75,
            test_loss: Some(0.4),
            test_accuracy: Some(0.8),
            seconds: 1.5,
        }],
    };
    let config = serde_json::json!({"arch": "mlp", "optimizer": "sgd", "lr": 0.1, "momentum": 0.9, "schedule": "cosine", "epochs": 3, "batch_size": 64, "seed": 0, "dataset": "mnist", "threads": 2});
    let opt = SGD::new(model.parameters(), 0.1).momentum(0.9);
    kindling::train::Checkpoint::save(&dir, &config, &model, &opt, &progress).unwrap();
    let current = std::fs::read_to_string(dir.join("CURRENT")).unwrap();
    let gen = dir.join(current.trim());
    put(
        "checkpoint_state",
        "state.json",
        &std::fs::read(gen.join("state.json")).unwrap(),
    );
    // The manifest of the files `fuzz_checkpoint_manifest` writes.
    let state = std::fs::read(gen.join("state.json")).unwrap();
    let (_, weights, sgd) = checkpoint_parts();
    let dir = scratch("write_seeds_manifest");
    kindling::io::write_set(
        &dir,
        &[
            ("model.safetensors", &weights),
            ("optimizer.safetensors", &sgd),
            ("state.json", &state),
        ],
    )
    .unwrap();
    let current = std::fs::read_to_string(dir.join("CURRENT")).unwrap();
    put(
        "checkpoint_manifest",
        "MANIFEST.json",
        &std::fs::read(dir.join(current.trim()).join("MANIFEST.json")).unwrap(),
    );
}

// ----- the fuzzer itself ------------------------------------------------------------------

/// A scratch fuzz root with one seed folder.
fn toy_root(name: &str, seeds: &[(&str, &[u8])]) -> kindling::testing::fuzz::Scratch {
    let root = scratch(name);
    let dir = root.join("seeds/toy");
    std::fs::create_dir_all(&dir).unwrap();
    for (n, b) in seeds {
        std::fs::write(dir.join(n), b).unwrap();
    }
    root
}

const TOY: Target = Target {
    name: "toy",
    cap: |_| 4 * MIB,
    dictionary: &[],
};

#[test]
fn the_fuzzer_finds_panics_allocations_and_slow_inputs_and_keeps_them() {
    let root = toy_root("selftest", &[("ok", b"hello world"), ("slow", b"sleep")]);
    let mut peak = 0usize;
    let report = kindling::testing::fuzz::fuzz_for(
        &TOY,
        &root,
        std::time::Duration::from_millis(1500),
        &mut |b| {
            if b == b"sleep" {
                std::thread::sleep(std::time::Duration::from_millis(1100));
            } else if b.contains(&0xAA) {
                panic!("found the byte");
            } else if b.contains(&0xBB) {
                let mut v: Vec<u8> = Vec::new();
                let _ = v.try_reserve(1 << 32);
            } else if b.starts_with(b"hello") {
                let v = vec![1u8; 512 * 1024];
                peak = peak.max(v.len());
            }
            true
        },
    );
    let all = report.failures.join("\n");
    assert!(all.contains("took 1.1"), "{all}");
    assert!(
        all.contains("panicked: found the byte at tests/fuzz.rs"),
        "{all}"
    );
    assert!(
        all.contains("asked for 4294967296 bytes, over the cap of 4194304 bytes"),
        "{all}"
    );
    assert!(
        report.peak_bytes >= 512 * 1024 && report.peak_bytes < MIB,
        "{}",
        report.peak_bytes
    );
    // Each mutated failure is kept, under its MD5, and replayed next time.
    let kept: Vec<Vec<u8>> = std::fs::read_dir(root.join("regressions/toy"))
        .unwrap()
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect();
    assert!(kept.iter().any(|b| b.contains(&0xAA)) && kept.iter().any(|b| b.contains(&0xBB)));
    let again =
        kindling::testing::fuzz::fuzz_for(&TOY, &root, std::time::Duration::ZERO, &mut |b| {
            assert!(!b.contains(&0xAA));
            true
        });
    assert_eq!(again.replayed, 2 + kept.len());
    assert!(
        !again.failures.is_empty()
            && again
                .failures
                .iter()
                .all(|f| f.contains("regressions/toy/")),
        "{:?}",
        again.failures
    );
}

/// Run by the test below in a child process: an input that asks for more
/// than the cap through an allocation that cannot fail gracefully.
#[test]
#[ignore]
fn aborting_child() {
    let root = PathBuf::from(std::env::var("KINDLING_FUZZ_TOY_ROOT").unwrap());
    kindling::testing::fuzz::fuzz_for(&TOY, &root, std::time::Duration::ZERO, &mut |b| {
        let v = vec![0u8; 1 << 32];
        v.len() > b.len()
    });
}

#[test]
fn an_input_that_aborts_the_process_is_saved_and_named_next_time() {
    let root = toy_root("abort", &[("boom", b"boom")]);
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "aborting_child",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env("KINDLING_FUZZ_TOY_ROOT", &*root)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&out.status),
        Some(libc::SIGABRT),
        "{err}"
    );
    assert!(
        err.contains("memory allocation of 4294967296 bytes failed"),
        "{err}"
    );
    let pending = root.join("regressions/toy/pending-abort");
    assert_eq!(std::fs::read(&pending).unwrap(), b"boom");
    kindling::testing::fuzz::fuzz_for(&TOY, &root, std::time::Duration::ZERO, &mut |_| true);
    assert!(!pending.exists());
    let name: String = md5::Digest::finalize(<md5::Md5 as md5::Digest>::new_with_prefix(b"boom"))
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        std::fs::read(root.join("regressions/toy").join(name)).unwrap(),
        b"boom"
    );
}
