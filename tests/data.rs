//! Datasets, IDX validation, downloads (against a local server) and the
//! DataLoader. Real-data checks run where `KINDLING_DATA` holds MNIST (as in CI).

mod common;

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use common::server::{Reply, Server};
use kindling::data::transforms::{Compose, Normalize, ToTensor, Transform};
use kindling::data::{random_split, DataLoader, Dataset, TensorDataset};
use kindling::vision::download::{download, md5_hex, Resource};
use kindling::vision::{Family, FashionMNIST, FileStatus, VisionDataset, MNIST};
use kindling::{DType, Tensor};

/// Writes a small MNIST-style dataset (4 files) into `root/MNIST/raw`.
fn write_fake_mnist(root: &Path, n_train: u32, gz: bool) {
    let dir = root.join("MNIST/raw");
    std::fs::create_dir_all(&dir).unwrap();
    for (name, n) in [("train", n_train), ("t10k", 3)] {
        let pixels: Vec<u8> = (0..n * 784).map(|i| (i % 251) as u8).collect();
        let labels: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
        for (file, bytes) in [
            (
                format!("{name}-images-idx3-ubyte"),
                common::idx_bytes(&[n, 28, 28], &pixels),
            ),
            (
                format!("{name}-labels-idx1-ubyte"),
                common::idx_bytes(&[n], &labels),
            ),
        ] {
            if gz {
                std::fs::write(dir.join(format!("{file}.gz")), common::gzip(&bytes)).unwrap();
            } else {
                std::fs::write(dir.join(file), bytes).unwrap();
            }
        }
    }
}

#[test]
fn reads_plain_and_gzipped_files() {
    for gz in [false, true] {
        let root = common::temp_dir(&format!("fake-{gz}"));
        write_fake_mnist(&root, 12, gz);
        let ds = MNIST::builder().root(&root).build().unwrap();
        assert_eq!(ds.data.shape(), &[12, 28, 28]);
        assert_eq!(ds.data.dtype(), DType::U8);
        assert_eq!(ds.targets.to_vec::<i64>()[..3], [0, 1, 2]);
        let test = MNIST::builder()
            .root(&root)
            .train(false)
            .transform(ToTensor)
            .build()
            .unwrap();
        let (img, label) = test.get(1).unwrap();
        assert_eq!(
            (img.shape(), img.dtype(), label),
            (&[1usize, 28, 28][..], DType::F32, 1)
        );
        std::fs::remove_dir_all(&root).unwrap();
    }
}

/// `print(dataset)` as torchvision prints it (goldens from
/// tests/golden/make_repr_goldens.py, whose root is "data").
#[test]
fn datasets_print_as_torchvisions_do() {
    let golden: serde_json::Value =
        serde_json::from_str(include_str!("golden/reprs.json")).unwrap();
    let root = common::temp_dir("repr");
    write_fake_mnist(&root, 12, true);
    let expected = |name: &str| {
        golden["datasets"][name]
            .as_str()
            .unwrap()
            .replace(
                "Root location: data",
                &format!("Root location: {}", root.display()),
            )
            .replace("Number of datapoints: 60000", "Number of datapoints: 12")
            .replace("Number of datapoints: 10000", "Number of datapoints: 3")
    };
    let train = MNIST::builder()
        .root(&root)
        .transform(ToTensor)
        .build()
        .unwrap();
    assert_eq!(train.to_string(), expected("mnist_train"));
    let plain = MNIST::builder().root(&root).train(false).build().unwrap();
    assert_eq!(plain.to_string(), expected("mnist_plain"));
    let composed = MNIST::builder()
        .root(&root)
        .train(false)
        .transform(Compose::new(vec![
            Box::new(ToTensor),
            Box::new(Normalize::new(&[0.1307], &[0.3081])),
        ]))
        .target_transform(|y| y)
        .build()
        .unwrap();
    assert_eq!(composed.to_string(), expected("mnist_test_compose"));
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn every_malformed_file_is_refused_with_its_name() {
    let cases: Vec<(&str, Vec<u8>, Vec<u8>, &str)> = vec![
        (
            "truncated images",
            common::idx_bytes(&[2, 28, 28], &[0; 784]),
            common::idx_bytes(&[2], &[1, 2]),
            "truncated",
        ),
        (
            "wrong magic",
            vec![1, 2, 3, 4, 0, 0, 0, 0],
            common::idx_bytes(&[2], &[1, 2]),
            "wrong magic number",
        ),
        (
            "label count",
            common::idx_bytes(&[2, 28, 28], &[0; 2 * 784]),
            common::idx_bytes(&[3], &[1, 2, 3]),
            "3 labels for 2 images",
        ),
        (
            "label range",
            common::idx_bytes(&[2, 28, 28], &[0; 2 * 784]),
            common::idx_bytes(&[2], &[1, 12]),
            "label 12 at index 1",
        ),
        (
            "float type",
            vec![0, 0, 0x0D, 1, 0, 0, 0, 1, 0, 0, 0, 0],
            common::idx_bytes(&[1], &[1]),
            "float",
        ),
        (
            "trailing bytes",
            common::idx_bytes(&[1, 28, 28], &[0; 790]),
            common::idx_bytes(&[1], &[1]),
            "6 bytes after",
        ),
        (
            "huge header",
            common::idx_bytes(&[4_000_000_000, 4_000_000_000, 4_000_000_000], &[]),
            common::idx_bytes(&[1], &[1]),
            "impossible sizes",
        ),
        (
            "labels as images",
            common::idx_bytes(&[2], &[1, 2]),
            common::idx_bytes(&[2], &[1, 2]),
            "expected images of shape",
        ),
    ];
    for gz in [false, true] {
        for (what, images, labels, expect) in &cases {
            let root = common::temp_dir("bad");
            write_fake_mnist(&root, 2, false);
            let dir = root.join("MNIST/raw");
            let (img_name, lab_name) = if gz {
                std::fs::remove_file(dir.join("train-images-idx3-ubyte")).unwrap();
                std::fs::remove_file(dir.join("train-labels-idx1-ubyte")).unwrap();
                std::fs::write(dir.join("train-images-idx3-ubyte.gz"), common::gzip(images))
                    .unwrap();
                std::fs::write(dir.join("train-labels-idx1-ubyte.gz"), common::gzip(labels))
                    .unwrap();
                ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz")
            } else {
                std::fs::write(dir.join("train-images-idx3-ubyte"), images).unwrap();
                std::fs::write(dir.join("train-labels-idx1-ubyte"), labels).unwrap();
                ("train-images-idx3-ubyte", "train-labels-idx1-ubyte")
            };
            let e = MNIST::builder()
                .root(&root)
                .build()
                .err()
                .unwrap_or_else(|| panic!("{what} accepted"))
                .to_string();
            assert!(e.contains(expect), "{what} (gz {gz}): {e}");
            assert!(
                e.contains(img_name) || e.contains(lab_name),
                "{what}: the file is named: {e}"
            );
            std::fs::remove_dir_all(&root).unwrap();
        }
    }
    // Corrupt gzip data.
    let root = common::temp_dir("badgz");
    write_fake_mnist(&root, 2, true);
    let p = root.join("MNIST/raw/train-images-idx3-ubyte.gz");
    let mut bytes = std::fs::read(&p).unwrap();
    bytes.truncate(bytes.len() / 2);
    std::fs::write(&p, bytes).unwrap();
    let e = MNIST::builder()
        .root(&root)
        .build()
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("train-images-idx3-ubyte.gz") && e.contains("gzip"),
        "{e}"
    );
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn missing_data_says_where_and_how_to_supply_it() {
    let root = common::temp_dir("missing");
    let e = MNIST::builder()
        .root(&root)
        .build()
        .err()
        .unwrap()
        .to_string();
    for needle in [
        "MNIST/raw",
        "train-images-idx3-ubyte[.gz]",
        "download(true)",
        "unless --no-download",
        "--root",
        "KINDLING_DATA",
        // The root was given, so the advice says it was not read from the environment.
        "it was given explicitly, so KINDLING_DATA was not read",
        "copy the four files",
    ] {
        assert!(e.contains(needle), "{needle} not in: {e}");
    }
    let e = FashionMNIST::builder()
        .root(&root)
        .build()
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("/usr/share/datasets/fashion-mnist"), "{e}");
}

// ----- downloads ---------------------------------------------------------------------

fn md5(bytes: &[u8]) -> String {
    md5_hex(bytes).unwrap()
}

fn no_partial_files(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            assert!(!name.contains(".part"), "left behind: {name}");
        }
    }
}

#[test]
fn download_good_file() {
    let body = common::gzip(&common::idx_bytes(&[3], &[1, 2, 3]));
    let server = Server::start(HashMap::from([(
        "/m/labels.gz".to_string(),
        Reply::Body(body.clone()),
    )]));
    let dir = common::temp_dir("dl-good");
    let res = [Resource {
        file: "labels.gz".into(),
        md5: md5(&body),
        max_bytes: 1 << 20,
    }];
    download(&dir, &[format!("{}/m/", server.url)], &res, false).unwrap();
    assert_eq!(std::fs::read(dir.join("labels.gz")).unwrap(), body);
    no_partial_files(&dir);
}

#[test]
fn download_refuses_a_checksum_mismatch_and_leaves_nothing() {
    let body = common::gzip(&common::idx_bytes(&[3], &[1, 2, 3]));
    let server = Server::start(HashMap::from([(
        "/m/labels.gz".to_string(),
        Reply::Body(body.clone()),
    )]));
    let dir = common::temp_dir("dl-md5");
    let res = [Resource {
        file: "labels.gz".into(),
        md5: "0".repeat(32),
        max_bytes: 1 << 20,
    }];
    let e = download(&dir, &[format!("{}/m/", server.url)], &res, false)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("checksum mismatch") && e.contains("labels.gz"),
        "{e}"
    );
    assert!(!dir.join("labels.gz").exists());
    no_partial_files(&dir);
}

#[test]
fn download_survives_a_dropped_connection_on_one_mirror() {
    let body = common::gzip(&common::idx_bytes(&[1000], &[7; 1000]));
    let server = Server::start(HashMap::from([
        (
            "/a/labels.gz".to_string(),
            Reply::Truncated(body.clone(), body.len() / 2),
        ),
        ("/b/labels.gz".to_string(), Reply::Body(body.clone())),
    ]));
    let dir = common::temp_dir("dl-drop");
    let res = [Resource {
        file: "labels.gz".into(),
        md5: md5(&body),
        max_bytes: 1 << 20,
    }];
    // Only the dropping mirror: an error, and no file that looks finished.
    let e = download(&dir, &[format!("{}/a", server.url)], &res, false)
        .unwrap_err()
        .to_string();
    assert!(!dir.join("labels.gz").exists(), "{e}");
    no_partial_files(&dir);
    // With a second mirror, the file arrives whole.
    download(
        &dir,
        &[format!("{}/a", server.url), format!("{}/b", server.url)],
        &res,
        false,
    )
    .unwrap();
    assert_eq!(std::fs::read(dir.join("labels.gz")).unwrap(), body);
}

#[test]
fn download_falls_back_after_a_404_and_builds_the_dataset() {
    let root = common::temp_dir("dl-404");
    let src = common::temp_dir("dl-404-src");
    write_fake_mnist(&src, 5, true);
    let mut routes = HashMap::new();
    let mut resources = Vec::new();
    for f in [
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
    ] {
        let body = std::fs::read(src.join("MNIST/raw").join(f)).unwrap();
        resources.push(Resource {
            file: f.into(),
            md5: md5(&body),
            max_bytes: 1 << 20,
        });
        routes.insert(format!("/second/{f}"), Reply::Body(body));
    }
    let server = Server::start(routes);
    let dir = root.join("MNIST/raw");
    download(
        &dir,
        &[
            format!("{}/first/", server.url),
            format!("{}/second/", server.url),
        ],
        &resources,
        false,
    )
    .unwrap();
    let ds = MNIST::builder().root(&root).build().unwrap();
    assert_eq!(ds.len(), 5);
    no_partial_files(&dir);
}

// ----- DataLoader --------------------------------------------------------------------

fn numbered(n: usize) -> Arc<TensorDataset> {
    Arc::new(
        TensorDataset::new(
            Tensor::arange(n as i64).reshape([n, 1]),
            &Tensor::arange(n as i64),
        )
        .unwrap(),
    )
}

fn epoch_labels(loader: &DataLoader<TensorDataset>, epoch: u64) -> Vec<Vec<i64>> {
    loader
        .iter_epoch(epoch)
        .map(|b| b.unwrap().1.to_vec::<i64>())
        .collect()
}

#[test]
fn loader_sees_every_sample_once_and_is_reproducible() {
    for prefetch in [false, true] {
        let loader = DataLoader::new(numbered(103), 10)
            .shuffle(true)
            .seed(5)
            .prefetch(prefetch);
        let e0 = epoch_labels(&loader, 0);
        let flat: Vec<i64> = e0.concat();
        assert_eq!(flat.iter().copied().collect::<HashSet<_>>().len(), 103);
        assert_eq!(flat.len(), 103);
        assert_eq!(e0.len(), 11);
        assert_eq!(
            e0.last().unwrap().len(),
            3,
            "the last partial batch is kept"
        );
        assert_eq!(
            epoch_labels(&loader, 0),
            e0,
            "same seed and epoch, same order"
        );
        assert_ne!(epoch_labels(&loader, 1), e0, "another epoch, another order");
        let other = DataLoader::new(numbered(103), 10).shuffle(true).seed(6);
        assert_ne!(epoch_labels(&other, 0), e0, "another seed, another order");
        let dropped = DataLoader::new(numbered(103), 10).drop_last(true);
        assert_eq!(dropped.len(), 10);
        assert!(epoch_labels(&dropped, 0).iter().all(|b| b.len() == 10));
        assert_eq!(
            epoch_labels(&DataLoader::new(numbered(5), 2), 0),
            vec![vec![0, 1], vec![2, 3], vec![4]]
        );
    }
}

#[test]
fn random_split_is_a_seeded_partition() {
    let parts = random_split(numbered(10), &[7, 3], 1).unwrap();
    let mut all: Vec<usize> = parts.iter().flat_map(|p| p.indices().to_vec()).collect();
    all.sort();
    assert_eq!(all, (0..10).collect::<Vec<_>>());
    assert_eq!(
        random_split(numbered(10), &[7, 3], 1).unwrap()[1].indices(),
        parts[1].indices()
    );
    assert!(random_split(numbered(10), &[7, 4], 1).is_err());
    assert_eq!(parts[1].get(0).unwrap().1, parts[1].indices()[0] as i64);
}

#[test]
fn fast_batches_equal_stacked_samples() {
    let root = common::temp_dir("fast");
    write_fake_mnist(&root, 20, true);
    let transform = Compose::new(vec![
        Box::new(ToTensor),
        Box::new(Normalize::new(&[0.1307], &[0.3081])),
    ]);
    assert!(transform.pixel_steps().is_some());
    let ds = Arc::new(
        MNIST::builder()
            .root(&root)
            .transform(transform)
            .build()
            .unwrap(),
    );
    let idx = [3usize, 17, 0, 9];
    let (fast, labels) = ds.get_batch(&idx).unwrap().unwrap();
    let slow = kindling::data::collate(idx.iter().map(|&i| ds.get(i).unwrap()).collect()).unwrap();
    assert_eq!(fast.shape(), &[4, 1, 28, 28]);
    assert_eq!(fast.to_vec::<f32>(), slow.0.to_vec::<f32>());
    assert_eq!(labels.to_vec::<i64>(), slow.1.to_vec::<i64>());
    std::fs::remove_dir_all(&root).unwrap();
}

// ----- real data (CI) ----------------------------------------------------------------

/// The lecture's printed `training_data.data[13]`, parsed from the seed text when
/// it is there (always under CI), else from the PyTorch print golden.
fn lecture_image_13() -> Vec<u8> {
    if let Some(text) = common::fixture::lecture_text("real_mnist_matches_the_lecture") {
        let start = text.find("training_data.data[13]\ntensor(").unwrap();
        let body = &text[start + "training_data.data[13]\n".len()..];
        let body = &body[..body.find("dtype=").unwrap()];
        let v: Vec<u8> = body
            .split(|c: char| !c.is_ascii_digit())
            .filter(|s| !s.is_empty())
            .map(|s| s.parse().unwrap())
            .collect();
        assert_eq!(v.len(), 784);
        return v;
    }
    let g = common::golden("print_cases.json");
    common::values(&g[0]["tensor"])
        .into_iter()
        .map(|v| v as u8)
        .collect()
}

#[test]
fn real_mnist_matches_the_lecture() {
    let Some(root) = common::fixture::real_data_root("real_mnist_matches_the_lecture") else {
        return;
    };
    let train = MNIST::builder()
        .root(&root)
        .train(true)
        .transform(ToTensor)
        .build()
        .unwrap();
    let test = MNIST::builder().root(&root).train(false).build().unwrap();
    assert_eq!(train.data.shape(), &[60000, 28, 28]);
    assert_eq!(test.data.shape(), &[10000, 28, 28]);
    assert_eq!(train.targets.i(13).item().to_i64(), 6);
    assert_eq!(train.data.i(13).to_vec::<u8>(), lecture_image_13());
    assert_eq!(
        train.data.i(..100).max().to_string(),
        "tensor(255, dtype=torch.uint8)"
    );
    let counts = train
        .targets
        .to_vec::<i64>()
        .iter()
        .fold([0usize; 10], |mut c, &t| {
            c[t as usize] += 1;
            c
        });
    assert_eq!(
        counts,
        [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    );
    assert_eq!(train.classes[6], "6 - six");
    let (img, label) = train.get(13).unwrap();
    assert_eq!((img.shape(), label), (&[1usize, 28, 28][..], 6));
}

#[test]
fn real_fashion_mnist_and_verification() {
    let Some(root) = common::fixture::real_data_root("real_fashion_mnist_and_verification") else {
        return;
    };
    let f = FashionMNIST::builder().root(&root).build().unwrap();
    assert_eq!(f.data.shape(), &[60000, 28, 28]);
    assert_eq!(
        f.classes,
        [
            "T-shirt/top",
            "Trouser",
            "Pullover",
            "Dress",
            "Coat",
            "Sandal",
            "Shirt",
            "Sneaker",
            "Bag",
            "Ankle boot"
        ]
    );
    let counts = f
        .targets
        .to_vec::<i64>()
        .iter()
        .fold([0usize; 10], |mut c, &t| {
            c[t as usize] += 1;
            c
        });
    assert_eq!(counts, [6000; 10]);
    // The shared copies are recompressed, so only their content digests can match.
    for family in [Family::Mnist, Family::FashionMnist] {
        for status in VisionDataset::verify(family, &root) {
            assert!(
                matches!(status, FileStatus::Ok(_)),
                "{family:?}: {status:?}"
            );
        }
    }
    // A damaged copy is refused, with the file named.
    let copy = common::temp_dir("verify");
    let dir = copy.join("MNIST/raw");
    std::fs::create_dir_all(&dir).unwrap();
    for e in std::fs::read_dir(root.join("MNIST/raw")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), dir.join(e.file_name())).unwrap();
    }
    let labels = dir.join("t10k-labels-idx1-ubyte.gz");
    let raw = {
        use std::io::Read;
        let mut v = Vec::new();
        flate2::read::GzDecoder::new(std::fs::File::open(&labels).unwrap())
            .read_to_end(&mut v)
            .unwrap();
        v
    };
    let mut damaged = raw.clone();
    damaged[100] = (damaged[100] + 1) % 10;
    std::fs::write(&labels, common::gzip(&damaged)).unwrap();
    let statuses = VisionDataset::verify(Family::Mnist, &copy);
    assert!(
        matches!(&statuses[3], FileStatus::Damaged { path, .. } if path.ends_with("t10k-labels-idx1-ubyte.gz")),
        "{statuses:?}"
    );
    assert!(statuses[..3].iter().all(|s| matches!(s, FileStatus::Ok(_))));
    // Recompressed but identical content passes.
    std::fs::write(&labels, common::gzip(&raw)).unwrap();
    assert!(matches!(
        VisionDataset::verify(Family::Mnist, &copy)[3],
        FileStatus::Ok(_)
    ));
    std::fs::remove_dir_all(&copy).unwrap();
}

/// The transforms tutorial's one-hot targets: tensors through `get_item`
/// and the DataLoader (stacked, on the fast batch path and per sample, and
/// through a Subset), while label transforms keep int64 labels.
#[test]
fn tensor_targets_come_through_items_subsets_and_batches() {
    let root = common::temp_dir("tensor-targets");
    write_fake_mnist(&root, 20, true);
    let one_hot = |y: i64| Tensor::zeros([10]).scatter(0, &Tensor::tensor(y), 1.0);
    let labels: Vec<i64> = (0..20).map(|i| i % 10).collect();
    let want = |idx: &[i64]| -> Vec<f32> {
        idx.iter()
            .flat_map(|&y| (0..10).map(move |c| if c == y { 1.0 } else { 0.0 }))
            .collect()
    };
    // ToTensor takes the fast batch path; with a crop, batches are stacked per sample.
    for per_sample in [false, true] {
        let builder = MNIST::builder().root(&root).target_transform(one_hot);
        let ds = if per_sample {
            builder.transform(Compose::new(vec![
                Box::new(ToTensor) as Box<dyn Transform>,
                Box::new(kindling::data::transforms::RandomCrop::new(28, 0, 0)),
            ]))
        } else {
            builder.transform(ToTensor)
        }
        .build()
        .unwrap();
        let (_, y) = ds.get_item(3).unwrap();
        assert_eq!(y.to_tensor().to_vec::<f32>(), want(&[3]));
        let e = ds.get(3).unwrap_err().to_string();
        assert!(
            e.contains("targets are tensors") && e.contains("get_item"),
            "{e}"
        );
        let loader = DataLoader::new(ds, 8);
        let (x, y) = loader.iter().next().unwrap().unwrap();
        assert_eq!(
            (x.shape(), y.shape(), y.dtype()),
            (&[8usize, 1, 28, 28][..], &[8usize, 10][..], DType::F32)
        );
        assert_eq!(
            y.to_vec::<f32>(),
            want(&labels[..8]),
            "per sample: {per_sample}"
        );
        let sub = kindling::data::Subset::new(loader.dataset_arc().clone(), vec![5, 2]).unwrap();
        assert_eq!(
            sub.get_item(1).unwrap().1.to_tensor().to_vec::<f32>(),
            want(&[2])
        );
    }
    // A label transform keeps labels: int64 [B].
    let ds = MNIST::builder()
        .root(&root)
        .transform(ToTensor)
        .target_transform(|y| 9 - y)
        .build()
        .unwrap();
    let (_, y) = DataLoader::new(ds, 4).iter().next().unwrap().unwrap();
    assert_eq!(
        (y.dtype(), y.to_vec::<i64>()),
        (DType::I64, vec![9, 8, 7, 6])
    );
    std::fs::remove_dir_all(&root).unwrap();
}
