//! Tensors on disk: safetensors files (PyTorch-compatible state dicts), atomic
//! writes, and file sets that change together (checkpoints).

mod fileset;
pub mod onnx;
pub mod pickle;
mod pth;

pub(crate) use fileset::{pid_alive, read_bounded};
pub use fileset::{read_set, remove_set, set_exists, write_set, DirLock, LOCK_FILE};
pub(crate) use pth::is_zip;
pub use pth::{load, parse as parse_pth, save, to_bytes as pth_bytes, StorageKind, Value};

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use safetensors::tensor::{Dtype, SafeTensors};

use crate::error::{Error, Result};
use crate::tensor::{DType, Tensor};

/// Tensors with their names.
pub type NamedTensors = Vec<(String, Tensor)>;

/// A safetensors file's string metadata.
pub type Metadata = HashMap<String, String>;

thread_local! {
    /// Whether a panic on this thread is being caught by `without_panics`.
    static QUIET: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs a third-party decoder, turning a panic inside it (a malformed file it
/// did not expect) into an error.
///
/// NOTE(decoder-panics): the panic hook still runs before a panic is caught,
/// and would print its message; on first use, the hook in place (the
/// default, or the command line's) is wrapped so that it stays silent for
/// panics caught here, on this thread, and prints every other panic as before.
pub(crate) fn without_panics<R>(f: impl FnOnce() -> R) -> std::result::Result<R, String> {
    static WRAP: std::sync::Once = std::sync::Once::new();
    WRAP.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !QUIET.with(std::cell::Cell::get) {
                previous(info)
            }
        }));
    });
    let before = QUIET.with(|q| q.replace(true));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    QUIET.with(|q| q.set(before));
    result.map_err(|payload| {
        let what = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        format!("the decoder failed on a malformed file: {what}")
    })
}

// NOTE(test-hooks): fault tests need to stop a run at an exact moment (between
// two files of a checkpoint, at a given batch) to kill it there. When the
// environment variable `KINDLING_TEST_HOOK` names a hook point, the process
// prints `kindling test hook: POINT` on stderr on reaching it and waits there
// (up to a minute, or until the caller's condition holds, such as Ctrl-C having
// been pressed). `POINT#N` waits at the N-th time the point is reached. The
// variable is read once; without it a hook costs one load.
static TEST_HOOK: std::sync::OnceLock<Option<(String, usize)>> = std::sync::OnceLock::new();
static TEST_HOOK_SEEN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// A hook point for fault tests: see NOTE(test-hooks).
#[doc(hidden)]
pub fn test_hook(point: &str) {
    test_hook_until(point, || false);
}

/// A hook point that stops waiting once `until()` holds.
pub(crate) fn test_hook_until(point: &str, until: impl Fn() -> bool) {
    let wanted = TEST_HOOK.get_or_init(|| {
        let v = std::env::var("KINDLING_TEST_HOOK").ok()?;
        Some(match v.rsplit_once('#') {
            Some((p, n)) if n.parse::<usize>().is_ok() => (p.to_string(), n.parse().unwrap_or(1)),
            _ => (v, 1),
        })
    });
    let Some((name, nth)) = wanted else {
        return;
    };
    if name != point {
        return;
    }
    let seen = TEST_HOOK_SEEN.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
    if seen != *nth {
        return;
    }
    eprintln!("kindling test hook: {point}");
    // With KINDLING_TEST_HOOK_HOLD=FILE, the wait also ends when FILE is gone.
    let hold = std::env::var_os("KINDLING_TEST_HOOK_HOLD").map(std::path::PathBuf::from);
    let held = || hold.as_ref().is_none_or(|f| f.exists());
    let start = std::time::Instant::now();
    while !until() && held() && start.elapsed() < std::time::Duration::from_secs(60) {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// True when the file at `path` starts as a zip archive does (a `.pth`).
pub(crate) fn file_is_zip(path: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 4];
    fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok()
        && is_zip(&head)
}

/// Writes `bytes` to `path` through a temporary file in the same directory and a
/// rename, so a crash never leaves a half-written file under the final name.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_with(path, |f| f.write_all(bytes).map_err(|e| e.to_string()))
}

/// The buffered temporary file [`write_atomic_with`] hands its writer.
pub(crate) type TempFile = std::io::BufWriter<fs::File>;

/// [`write_atomic`] for a file written piece by piece by `write` (a model's
/// tensors one at a time, so that no copy of the whole file is held in
/// memory). An error of `write`'s is the message of an [`Error::Io`] naming
/// `path`; nothing is left on disk then.
pub(crate) fn write_atomic_with(
    path: &Path,
    write: impl FnOnce(&mut TempFile) -> std::result::Result<(), String>,
) -> Result<()> {
    let io = |e: String| Error::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path.file_name().ok_or_else(|| Error::Io {
        path: path.to_path_buf(),
        message: "not a file name".into(),
    })?;
    let tmp: PathBuf = dir.join(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| {
        let text = |e: std::io::Error| e.to_string();
        let mut f = std::io::BufWriter::new(fs::File::create(&tmp).map_err(text)?);
        write(&mut f)?;
        // Flushed here, where an error (a full disk) is seen, not in a drop.
        let f = f.into_inner().map_err(|e| text(e.into_error()))?;
        f.sync_all().map_err(text)?;
        fs::rename(&tmp, path).map_err(text)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(io)
}

/// Writes `t`'s elements (row-major) as little-endian bytes, bools as 0 and
/// 1, a million at a time.
///
/// NOTE(stream-save): `.pth` and safetensors files are written into their
/// temporary file a piece at a time, each tensor in chunks, so saving holds
/// no copy of the file or of a whole weight. Saving VGG16 (553 MB) raised the
/// peak memory by 1.1 GB when the file was built in memory first; now by 7 MB.
pub(crate) fn write_raw(t: &Tensor, out: &mut impl Write) -> std::io::Result<()> {
    const CHUNK: usize = 1 << 20;
    let n = t.numel();
    let flat = t.reshape([n]);
    for start in (0..n).step_by(CHUNK) {
        out.write_all(&le_bytes(&flat.narrow(0, start, CHUNK.min(n - start))))?;
    }
    Ok(())
}

/// `t`'s elements (row-major) as little-endian bytes, bools as 0 and 1.
fn le_bytes(t: &Tensor) -> Vec<u8> {
    match t.dtype() {
        DType::F32 => t
            .to_vec::<f32>()
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect(),
        DType::F64 => t
            .to_vec::<f64>()
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect(),
        DType::I64 => t
            .to_vec::<i64>()
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect(),
        DType::U8 => t.to_vec::<u8>(),
        DType::Bool => t.to_vec::<bool>().iter().map(|&b| b as u8).collect(),
    }
}

/// The safetensors element type of `dtype`.
fn st_dtype(dtype: DType) -> Dtype {
    match dtype {
        DType::F32 => Dtype::F32,
        DType::F64 => Dtype::F64,
        DType::I64 => Dtype::I64,
        DType::U8 => Dtype::U8,
        DType::Bool => Dtype::BOOL,
    }
}

/// Serialises named tensors (and string metadata) in the safetensors format;
/// the same tensors and metadata always give the same bytes.
pub fn safetensors_bytes(
    tensors: &[(String, Tensor)],
    metadata: &HashMap<String, String>,
) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    write_safetensors(tensors, metadata, &mut out).map_err(Error::Value)?;
    Ok(out)
}

/// Writes what [`safetensors_bytes`] returns into `out`, one tensor's bytes
/// at a time (NOTE(stream-save)): the header as the `safetensors` crate
/// writes it (tensors by descending element type, then name), except that
/// with metadata its keys are sorted, since a `HashMap`'s order changes from
/// one process to the next and the same state must give the same bytes.
fn write_safetensors(
    tensors: &[(String, Tensor)],
    metadata: &HashMap<String, String>,
    out: &mut impl Write,
) -> std::result::Result<(), String> {
    let err = |e: &dyn std::fmt::Display| format!("cannot serialise tensors: {e}");
    let mut order: Vec<&(String, Tensor)> = tensors.iter().collect();
    order.sort_by(|(left, l), (right, r)| {
        st_dtype(r.dtype())
            .cmp(&st_dtype(l.dtype()))
            .then(left.cmp(right))
    });
    let mut offset = 0;
    let infos = order
        .iter()
        .map(|(name, t)| {
            let dtype = st_dtype(t.dtype());
            let end = offset + t.numel() * dtype.bitsize() / 8;
            let info = safetensors::tensor::TensorInfo {
                dtype,
                shape: t.shape().to_vec(),
                data_offsets: (offset, end),
            };
            offset = end;
            (name.clone(), info)
        })
        .collect();
    let info = (!metadata.is_empty()).then(|| metadata.clone());
    let header = safetensors::tensor::Metadata::new(info, infos).map_err(|e| err(&e))?;
    let mut header = serde_json::to_string(&header).map_err(|e| err(&e))?;
    if !metadata.is_empty() {
        // serde_json's maps are ordered: every key sorted.
        let value: serde_json::Value = serde_json::from_str(&header).map_err(|e| err(&e))?;
        header = value.to_string();
    }
    let mut header = header.into_bytes();
    // Like the crate: padded with spaces so the data starts 8-byte aligned.
    header.resize(header.len().next_multiple_of(8), b' ');
    let io = |e: std::io::Error| format!("cannot write tensors: {e}");
    out.write_all(&(header.len() as u64).to_le_bytes())
        .map_err(io)?;
    out.write_all(&header).map_err(io)?;
    for (_, t) in order {
        write_raw(t, out).map_err(io)?;
    }
    Ok(())
}

/// Writes named tensors to a safetensors file, atomically.
pub fn save_safetensors(
    path: &Path,
    tensors: &[(String, Tensor)],
    metadata: &HashMap<String, String>,
) -> Result<()> {
    write_atomic_with(path, |file| write_safetensors(tensors, metadata, file))
}

/// Reads every tensor of a safetensors file (sorted by name) with its metadata.
///
/// # Errors
/// A missing, truncated or corrupt file, or an element type kindling does not
/// have, is an error naming the file.
pub fn load_safetensors(path: &Path) -> Result<(NamedTensors, Metadata)> {
    let err = |message: String| Error::Io {
        path: path.to_path_buf(),
        message,
    };
    // The header first: it says how long the file must be, so a damaged or
    // hostile file (a huge sparse one) is refused before its data is read.
    let mut file = fs::File::open(path).map_err(|e| err(e.to_string()))?;
    let len = file.metadata().map_err(|e| err(e.to_string()))?.len();
    let expected = expected_len(&mut file, len).map_err(err)?;
    if expected != len {
        return Err(err(format!(
            "not a valid safetensors file (its header describes {expected} bytes, the file has {len})"
        )));
    }
    let bytes = read_bounded(path, len)?;
    parse_safetensors(&bytes).map_err(err)
}

/// The largest safetensors header read (the format's own limit is 100 MB).
const MAX_HEADER: u64 = 100 << 20;

/// The file length a safetensors header describes: 8 + header + the end of
/// the last tensor's data.
fn expected_len(file: &mut fs::File, len: u64) -> std::result::Result<u64, String> {
    use std::io::Read;
    let bad = |m: &str| format!("not a valid safetensors file ({m})");
    let mut n = [0u8; 8];
    file.read_exact(&mut n)
        .map_err(|_| bad("shorter than its 8-byte header length"))?;
    let n = u64::from_le_bytes(n);
    if n > MAX_HEADER || n > len.saturating_sub(8) {
        return Err(bad(&format!("a header of {n} bytes in a file of {len}")));
    }
    let mut header = vec![0u8; n as usize];
    file.read_exact(&mut header)
        .map_err(|_| bad("truncated header"))?;
    let json: serde_json::Value =
        serde_json::from_slice(&header).map_err(|e| bad(&format!("header: {e}")))?;
    let entries = json
        .as_object()
        .ok_or_else(|| bad("the header is not an object"))?;
    let mut end = 0u64;
    for (name, info) in entries {
        if name == "__metadata__" {
            continue;
        }
        let offsets = info["data_offsets"]
            .as_array()
            .filter(|o| o.len() == 2)
            .and_then(|o| Some((o[0].as_u64()?, o[1].as_u64()?)))
            .ok_or_else(|| bad(&format!("tensor {name} has no valid data_offsets")))?;
        end = end.max(offsets.1);
    }
    Ok(8 + n + end)
}

/// Parses safetensors bytes; the error is a description without the path.
/// Tensors whose data ranges overlap are refused.
pub fn parse_safetensors(bytes: &[u8]) -> std::result::Result<(NamedTensors, Metadata), String> {
    let (_, meta) = SafeTensors::read_metadata(bytes)
        .map_err(|e| format!("not a valid safetensors file ({e:?})"))?;
    let infos = meta.tensors();
    let mut ranges: Vec<(usize, usize, &str)> = infos
        .iter()
        .map(|(name, info)| (info.data_offsets.0, info.data_offsets.1, name.as_str()))
        .collect();
    ranges.sort();
    for w in ranges.windows(2) {
        if w[1].0 < w[0].1 {
            return Err(format!(
                "not a valid safetensors file (tensors {} and {} share bytes {}..{})",
                w[0].2, w[1].2, w[1].0, w[0].1
            ));
        }
    }
    let metadata = meta.metadata().clone().unwrap_or_default();
    let st = SafeTensors::deserialize(bytes)
        .map_err(|e| format!("not a valid safetensors file ({e:?})"))?;
    let mut out = Vec::new();
    let mut names: Vec<String> = st.names().into_iter().map(|s| s.to_string()).collect();
    names.sort();
    for name in names {
        let view = st
            .tensor(&name)
            .map_err(|e| format!("tensor {name}: {e:?}"))?;
        let shape = view.shape().to_vec();
        let data = view.data();
        let dtype = match view.dtype() {
            Dtype::F32 => DType::F32,
            Dtype::F64 => DType::F64,
            Dtype::I64 => DType::I64,
            Dtype::U8 => DType::U8,
            Dtype::BOOL => DType::Bool,
            other => {
                return Err(format!(
                    "tensor {name} has element type {other:?}, which kindling does not support"
                ))
            }
        };
        let t = Tensor::from_buffer(pth::buffer_from_le(dtype, data), &shape);
        out.push((name, t));
    }
    Ok((out, metadata))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `safetensors_bytes` wrote before it streamed: the crate's
    /// `serialize` of whole copies, the header re-sorted when there is
    /// metadata.
    fn crate_serialized(
        tensors: &[(String, Tensor)],
        metadata: &HashMap<String, String>,
    ) -> Vec<u8> {
        let bytes: Vec<Vec<u8>> = tensors.iter().map(|(_, t)| le_bytes(t)).collect();
        let views: Vec<(&str, safetensors::tensor::TensorView)> = tensors
            .iter()
            .zip(&bytes)
            .map(|((k, t), b)| {
                let view = safetensors::tensor::TensorView::new(
                    st_dtype(t.dtype()),
                    t.shape().to_vec(),
                    b,
                );
                (k.as_str(), view.unwrap())
            })
            .collect();
        let info = (!metadata.is_empty()).then(|| metadata.clone());
        let bytes = safetensors::serialize(views, info).unwrap();
        if metadata.is_empty() {
            return bytes;
        }
        let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
        let mut sorted = header.to_string().into_bytes();
        sorted.resize(sorted.len().next_multiple_of(8), b' ');
        let mut out = (sorted.len() as u64).to_le_bytes().to_vec();
        out.extend_from_slice(&sorted);
        out.extend_from_slice(&bytes[8 + n..]);
        out
    }

    #[test]
    fn streamed_safetensors_are_the_crates_bytes() {
        let tensors = vec![
            (
                "b.weight".to_string(),
                Tensor::arange_f(0.0, 12.0, 1.0).reshape([3, 4]),
            ),
            ("a.count".to_string(), Tensor::from_vec(vec![7i64, -2], [2])),
            (
                "a.mask".to_string(),
                Tensor::from_vec(vec![true, false, true], [3]),
            ),
            (
                "c.pixels".to_string(),
                Tensor::from_vec(vec![1u8, 2, 255], [3]),
            ),
            // Over a million elements, and not contiguous: written in chunks.
            (
                "d.large".to_string(),
                Tensor::arange_f(0.0, 1.1e6, 1.0).reshape([1100, 1000]).t(),
            ),
            (
                "a.weight".to_string(),
                Tensor::arange_f(0.0, 6.0, 0.5)
                    .to_dtype(DType::F64)
                    .reshape([3, 4])
                    .t(),
            ),
        ];
        for metadata in [
            HashMap::new(),
            HashMap::from([("kindling.module".to_string(), "{}".to_string())]),
            HashMap::from([
                ("z".to_string(), "1".to_string()),
                ("a".to_string(), "2".to_string()),
            ]),
        ] {
            assert_eq!(
                safetensors_bytes(&tensors, &metadata).unwrap(),
                crate_serialized(&tensors, &metadata)
            );
        }
        let dir = std::env::temp_dir().join(format!("kindling-stream-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.safetensors");
        save_safetensors(&path, &tensors, &HashMap::new()).unwrap();
        assert_eq!(
            fs::read(&path).unwrap(),
            crate_serialized(&tensors, &HashMap::new())
        );
        fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn round_trip_and_corruption() {
        let dir = std::env::temp_dir().join(format!("kindling-io-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.safetensors");
        let tensors = vec![
            ("a.weight".to_string(), Tensor::randn([3, 4])),
            ("b".to_string(), Tensor::arange(5)),
        ];
        let meta = HashMap::from([("arch".to_string(), "mlp".to_string())]);
        save_safetensors(&path, &tensors, &meta).unwrap();
        let (back, m) = load_safetensors(&path).unwrap();
        assert_eq!(m["arch"], "mlp");
        assert_eq!(back[0].0, "a.weight");
        assert_eq!(back[0].1.to_vec::<f32>(), tensors[0].1.to_vec::<f32>());
        assert_eq!(back[1].1.to_vec::<i64>(), vec![0, 1, 2, 3, 4]);
        let bytes = fs::read(&path).unwrap();
        fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();
        let e = load_safetensors(&path).unwrap_err().to_string();
        assert!(
            e.contains("t.safetensors") && e.contains("not a valid safetensors file"),
            "{e}"
        );
        assert!(fs::read_dir(&dir).unwrap().all(|e| !e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .contains(".tmp-")));
        fs::remove_dir_all(&dir).unwrap();
    }
}
