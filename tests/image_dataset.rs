//! The data tutorial's CustomImageDataset and torchvision.io's read_image, on
//! pictures this test writes.

mod common;

use std::path::Path;

use kindling::data::transforms::ConvertImageDtype;
use kindling::data::{DataLoader, Dataset};
use kindling::plot::Canvas;
use kindling::vision::io::read_image;
use kindling::vision::CustomImageDataset;
use kindling::DType;

/// A `w`×`h` RGB PNG of one colour.
fn write_png(path: &Path, w: usize, h: usize, colour: [u8; 3]) {
    let mut c = Canvas::new(w, h, colour);
    c.fill_rect(0, 0, w, h, colour);
    c.save_png(path).unwrap();
}

/// An image folder with two pictures, and a CSV naming them.
fn folder(tag: &str, csv: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let dir = common::temp_dir(tag);
    let img = dir.join("img");
    std::fs::create_dir_all(&img).unwrap();
    write_png(&img.join("red.png"), 3, 2, [255, 0, 0]);
    write_png(&img.join("blue.png"), 3, 2, [0, 0, 255]);
    let labels = dir.join("labels.csv");
    std::fs::write(&labels, csv).unwrap();
    (labels, img)
}

#[test]
fn read_image_gives_uint8_chw() {
    let dir = common::temp_dir("read_image_gives_uint8_chw");
    let path = dir.join("teal.png");
    write_png(&path, 4, 2, [0, 128, 128]);
    let image = read_image(&path).unwrap();
    assert_eq!(
        (image.shape(), image.dtype()),
        (&[3usize, 2, 4][..], DType::U8)
    );
    let v = image.to_vec::<u8>();
    assert!(v[..8].iter().all(|&p| p == 0) && v[8..].iter().all(|&p| p == 128));
}

#[test]
fn custom_dataset_reads_the_csv_and_its_images() {
    let (labels, img) = folder(
        "custom_dataset_reads",
        "file_name,label\nred.png, 3\nblue.png,7\n",
    );
    let data = CustomImageDataset::new(&labels, &img).unwrap();
    assert_eq!(data.len(), 2);
    let (image, label) = data.get(1).unwrap();
    assert_eq!(
        (image.shape(), image.dtype(), label),
        (&[3usize, 2, 3][..], DType::U8, 7)
    );
    assert_eq!(image.to_vec::<u8>()[12..].to_vec(), vec![255; 6]);
    let data = data.transform(ConvertImageDtype::new());
    let (x, y) = DataLoader::new(data, 2).iter().next().unwrap().unwrap();
    assert_eq!((x.shape(), x.dtype()), (&[2usize, 3, 2, 3][..], DType::F32));
    assert_eq!(y.to_vec::<i64>(), [3, 7]);
    assert_eq!(x.max().item().to_f64(), 1.0);
}

#[test]
fn a_bad_csv_or_image_is_one_line_naming_the_file_and_row() {
    let err = |csv: &str, tag: &str| {
        let (labels, img) = folder(tag, csv);
        let e = CustomImageDataset::new(&labels, &img)
            .err()
            .expect("an error")
            .to_string();
        (e, labels)
    };
    let (e, labels) = err("file_name,label\nred.png,3\nblue.png,seven\n", "bad_label");
    assert_eq!(
        e,
        format!(
            "{}: row 3: label 'seven' is not an integer",
            labels.display()
        )
    );
    let (e, labels) = err("file_name,label\nred.png\n", "short_row");
    assert_eq!(
        e,
        format!(
            "{}: row 2: expected an image file name and a label, got 1 field",
            labels.display()
        )
    );
    let (e, labels) = err("file_name,label\nred.png,1\ngreen.png,2\n", "missing_image");
    assert!(
        e.starts_with(&format!("{}: row 3: ", labels.display())),
        "{e}"
    );
    assert!(e.ends_with("green.png: no such image file"), "{e}");
    let dir = common::temp_dir("missing_csv");
    let e = CustomImageDataset::new(dir.join("labels.csv"), &dir)
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.starts_with(&dir.join("labels.csv").display().to_string()),
        "{e}"
    );

    let (labels, img) = folder("bad_image", "file_name,label\nred.png,1\nnoise.png,2\n");
    std::fs::write(img.join("noise.png"), b"\x89PNG\r\n\x1a\nnot really").unwrap();
    let data = CustomImageDataset::new(&labels, &img).unwrap();
    assert!(data.get(0).is_ok());
    let e = data.get(1).unwrap_err().to_string();
    assert!(
        e.starts_with(&format!("{}: row 3: ", labels.display())),
        "{e}"
    );
    assert!(e.contains("noise.png: cannot decode PNG"), "{e}");
    assert_eq!(e.lines().count(), 1, "{e}");
}
