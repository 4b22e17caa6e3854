//! PyTorch's `.pth`/`.pt` files: what `torch.save` writes and
//! `torch.load(weights_only=True)` reads, without running anything from them.
//!
//! A `.pth` (PyTorch ≥ 1.6) is an uncompressed zip: `<name>/data.pkl`, a
//! pickle of the saved object whose tensors refer to storages by key, and
//! `<name>/data/<key>`, each storage's raw little-endian bytes. The pickle is
//! read by [`super::pickle`]'s restricted unpickler (NOTE(restricted-unpickler)).
//!
//! What kindling does on purpose (and says in the README):
//! - **Zip files only.** The legacy format of `torch.save` before PyTorch 1.6
//!   (and `_use_new_zipfile_serialization=False`) and TorchScript archives
//!   (`torch.jit.save`) are refused with a line saying so.
//! - **Stored entries only**, as `torch.save` writes them: an entry compressed
//!   with any method is refused, so no entry can expand beyond the bytes the
//!   file holds (a zip bomb).
//! - **Views stay views**: tensors that share a storage in the file share it
//!   in memory, with their offsets and strides (checked against the storage:
//!   out-of-range or negative values are refused). Every storage is read once,
//!   and its size must be what its entry holds.
//! - **Element types**: float32, float64, int64, uint8 and bool, kindling's
//!   five; a storage of another type (float16, bfloat16, int32, ...) is refused
//!   with its name.
//! - **Writing**: one contiguous storage per tensor (views are written as the
//!   values they show), data aligned to 64 bytes as PyTorch aligns it; a
//!   [`Value::OrderedDict`] is written as `collections.OrderedDict`, which is
//!   what `model.state_dict()` is in PyTorch.

use std::collections::HashMap;
use std::fmt;
use std::io::{Read, Seek, Write};
use std::ops::Index;
use std::path::Path;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::tensor::layout::Layout;
use crate::tensor::storage::Storage;
use crate::tensor::{Buffer, DType, Device, Tensor};

use super::{pickle, read_bounded, NamedTensors};

/// A value stored in a `.pth` file: what `torch.load(..., weights_only=True)`
/// returns in Python, with its containers kept in order.
///
/// A `state_dict` is an [`OrderedDict`](Value::OrderedDict) of names to
/// tensors; a checkpoint is usually a [`Dict`](Value::Dict) such as
/// `{"model": ..., "optimizer": ..., "epoch": 3}`. Index it as in Python:
///
/// ```
/// use kindling::io::Value;
/// use kindling::Tensor;
/// let ckpt = Value::dict([
///     ("model", Value::from(vec![("fc.weight".to_string(), Tensor::ones([2, 3]))])),
///     ("epoch", Value::from(3)),
/// ]);
/// assert_eq!(ckpt["epoch"].as_i64(), Some(3));
/// assert_eq!(ckpt["model"].state_dict()?[0].0, "fc.weight");
/// assert!(ckpt["missing"].is_none());
/// # Ok::<(), kindling::Error>(())
/// ```
#[derive(Clone, Debug)]
pub enum Value {
    /// `None`
    None,
    /// `True` / `False`
    Bool(bool),
    /// A Python `int` (within int64).
    Int(i64),
    /// A Python `float`.
    Float(f64),
    /// A Python `str` (a dtype object such as `torch.float32` reads as its name).
    Str(String),
    /// Python `bytes`.
    Bytes(Vec<u8>),
    /// A tuple.
    Tuple(Vec<Value>),
    /// A list.
    List(Vec<Value>),
    /// A set, in the file's order.
    Set(Vec<Value>),
    /// A `dict`, in insertion order.
    Dict(Vec<(Value, Value)>),
    /// A `collections.OrderedDict` (what `state_dict()` returns).
    OrderedDict(Vec<(Value, Value)>),
    /// A tensor (a `torch.nn.Parameter` reads as a tensor that requires grad).
    Tensor(Tensor),
    /// A `torch.Size`.
    Size(Vec<usize>),
}

static NONE: Value = Value::None;

impl Value {
    /// A `dict` with string keys, in the order given.
    pub fn dict<K: Into<String>>(items: impl IntoIterator<Item = (K, Value)>) -> Value {
        Value::Dict(
            items
                .into_iter()
                .map(|(k, v)| (Value::Str(k.into()), v))
                .collect(),
        )
    }

    /// The value under a string key of a dict, if this is one and has it.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.items()?
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v)
    }

    /// A dict's (or an OrderedDict's) items, in order.
    pub fn items(&self) -> Option<&[(Value, Value)]> {
        match self {
            Value::Dict(items) | Value::OrderedDict(items) => Some(items),
            _ => None,
        }
    }

    /// A list's, tuple's or set's elements.
    pub fn elements(&self) -> Option<&[Value]> {
        match self {
            Value::List(v) | Value::Tuple(v) | Value::Set(v) => Some(v),
            _ => None,
        }
    }

    /// True for `None`.
    pub fn is_none(&self) -> bool {
        matches!(self, Value::None)
    }

    /// The tensor, if this is one.
    pub fn as_tensor(&self) -> Option<&Tensor> {
        match self {
            Value::Tensor(t) => Some(t),
            _ => None,
        }
    }

    /// The integer (or bool, as Python counts it), if this is one.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(v) => Some(*v),
            Value::Bool(b) => Some(*b as i64),
            _ => None,
        }
    }

    /// The number, if this is a float or an integer.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Float(v) => Some(*v),
            Value::Int(v) => Some(*v as f64),
            _ => None,
        }
    }

    /// The bool, if this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// This dict as a state dict: its string keys and tensors, in order, for
    /// [`Module::load_state_dict`](crate::nn::Module::load_state_dict).
    ///
    /// # Errors
    /// Not a dict, or a key that is not a string, or a value that is not a
    /// tensor (named).
    pub fn state_dict(&self) -> Result<NamedTensors> {
        let items = self.items().ok_or_else(|| {
            Error::Value(format!(
                "expected a state dict (a dict of names to tensors), found {}",
                self.kind()
            ))
        })?;
        items
            .iter()
            .map(|(k, v)| {
                let key = k.as_str().ok_or_else(|| {
                    Error::Value(format!(
                        "a state dict's keys are strings, found {}",
                        k.kind()
                    ))
                })?;
                let t = v.as_tensor().ok_or_else(|| {
                    Error::Value(format!(
                        "state dict entry {key:?} is {}, not a tensor",
                        v.kind()
                    ))
                })?;
                Ok((key.to_string(), t.clone()))
            })
            .collect()
    }

    /// What kind of value this is, in Python's words (`a dict`, `a tensor`).
    pub fn kind(&self) -> &'static str {
        match self {
            Value::None => "None",
            Value::Bool(_) => "a bool",
            Value::Int(_) => "an int",
            Value::Float(_) => "a float",
            Value::Str(_) => "a str",
            Value::Bytes(_) => "bytes",
            Value::Tuple(_) => "a tuple",
            Value::List(_) => "a list",
            Value::Set(_) => "a set",
            Value::Dict(_) => "a dict",
            Value::OrderedDict(_) => "an OrderedDict",
            Value::Tensor(_) => "a tensor",
            Value::Size(_) => "a torch.Size",
        }
    }

    /// A key for dict lookups while reading: equal for equal scalar keys.
    pub(crate) fn hash_key(&self) -> Option<String> {
        Some(match self {
            Value::None => "N".into(),
            Value::Bool(b) => format!("i{}", *b as i64),
            Value::Int(v) => format!("i{v}"),
            Value::Str(s) => format!("s{s}"),
            Value::Bytes(b) => format!("b{b:?}"),
            Value::Tuple(items) => {
                let keys: Option<Vec<String>> = items.iter().map(Value::hash_key).collect();
                format!("t{:?}", keys?)
            }
            _ => return None,
        })
    }
}

impl Index<&str> for Value {
    type Output = Value;
    /// The value under `key`, or `None` when this is not a dict or has no
    /// such key (as `serde_json` indexes).
    fn index(&self, key: &str) -> &Value {
        self.get(key).unwrap_or(&NONE)
    }
}

impl Index<usize> for Value {
    type Output = Value;
    /// The element at `i` of a list or tuple, or `None` when out of range.
    fn index(&self, i: usize) -> &Value {
        self.elements().and_then(|e| e.get(i)).unwrap_or(&NONE)
    }
}

macro_rules! value_from {
    ($($t:ty => $v:expr),* $(,)?) => {$(
        impl From<$t> for Value {
            fn from(x: $t) -> Value {
                let f: fn($t) -> Value = $v;
                f(x)
            }
        }
    )*};
}
value_from! {
    bool => Value::Bool,
    i64 => Value::Int,
    i32 => |v| Value::Int(v as i64),
    usize => |v| Value::Int(v as i64),
    f64 => Value::Float,
    f32 => |v| Value::Float(v as f64),
    &str => |s| Value::Str(s.to_string()),
    String => Value::Str,
    Tensor => Value::Tensor,
    &Tensor => |t| Value::Tensor(t.clone()),
    Vec<Value> => Value::List,
    // A state dict, written as PyTorch's `OrderedDict`.
    NamedTensors => |sd| Value::OrderedDict(
        sd.into_iter().map(|(k, t)| (Value::Str(k), Value::Tensor(t))).collect()
    ),
}

impl fmt::Display for Value {
    /// Python's repr, tensors as PyTorch prints them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn seq(f: &mut fmt::Formatter<'_>, items: &[Value]) -> fmt::Result {
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{v}")?;
            }
            Ok(())
        }
        fn dict(f: &mut fmt::Formatter<'_>, items: &[(Value, Value)]) -> fmt::Result {
            f.write_str("{")?;
            for (i, (k, v)) in items.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{k}: {v}")?;
            }
            f.write_str("}")
        }
        match self {
            Value::None => f.write_str("None"),
            Value::Bool(b) => f.write_str(crate::nn::py_bool(*b)),
            Value::Int(v) => write!(f, "{v}"),
            Value::Float(v) => f.write_str(&crate::tensor::dtype::python_float(*v)),
            Value::Str(s) => write!(f, "'{}'", s.replace('\\', "\\\\").replace('\'', "\\'")),
            Value::Bytes(b) => {
                f.write_str("b'")?;
                for &c in b {
                    match c {
                        b'\\' => f.write_str("\\\\")?,
                        b'\'' => f.write_str("\\'")?,
                        0x20..=0x7e => write!(f, "{}", c as char)?,
                        _ => write!(f, "\\x{c:02x}")?,
                    }
                }
                f.write_str("'")
            }
            Value::Tuple(items) => {
                f.write_str("(")?;
                seq(f, items)?;
                f.write_str(if items.len() == 1 { ",)" } else { ")" })
            }
            Value::List(items) => {
                f.write_str("[")?;
                seq(f, items)?;
                f.write_str("]")
            }
            Value::Set(items) if items.is_empty() => f.write_str("set()"),
            Value::Set(items) => {
                f.write_str("{")?;
                seq(f, items)?;
                f.write_str("}")
            }
            Value::Dict(items) => dict(f, items),
            Value::OrderedDict(items) => {
                f.write_str("OrderedDict(")?;
                dict(f, items)?;
                f.write_str(")")
            }
            Value::Tensor(t) => write!(f, "{t}"),
            Value::Size(dims) => write!(f, "{}", crate::Size::from(dims.as_slice())),
        }
    }
}

/// A storage type of `torch.save`'s files (`torch.FloatStorage`, ...).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StorageKind {
    class: &'static str,
    /// PyTorch's dtype name, for messages.
    dtype_name: &'static str,
    /// kindling's dtype, when it has one.
    dtype: Option<DType>,
    /// Bytes per element.
    size: usize,
}

const STORAGES: &[StorageKind] = &[
    StorageKind::new("FloatStorage", "float32", Some(DType::F32), 4),
    StorageKind::new("DoubleStorage", "float64", Some(DType::F64), 8),
    StorageKind::new("LongStorage", "int64", Some(DType::I64), 8),
    StorageKind::new("ByteStorage", "uint8", Some(DType::U8), 1),
    StorageKind::new("BoolStorage", "bool", Some(DType::Bool), 1),
    StorageKind::new("HalfStorage", "float16", None, 2),
    StorageKind::new("BFloat16Storage", "bfloat16", None, 2),
    StorageKind::new("IntStorage", "int32", None, 4),
    StorageKind::new("ShortStorage", "int16", None, 2),
    StorageKind::new("CharStorage", "int8", None, 1),
    StorageKind::new("ComplexFloatStorage", "complex64", None, 8),
    StorageKind::new("ComplexDoubleStorage", "complex128", None, 16),
];

impl StorageKind {
    const fn new(
        class: &'static str,
        dtype_name: &'static str,
        dtype: Option<DType>,
        size: usize,
    ) -> StorageKind {
        StorageKind {
            class,
            dtype_name,
            dtype,
            size,
        }
    }

    pub(crate) fn from_class(class: &str) -> Option<StorageKind> {
        STORAGES.iter().find(|k| k.class == class).copied()
    }

    fn of(dtype: DType) -> StorageKind {
        *STORAGES
            .iter()
            .find(|k| k.dtype == Some(dtype))
            .expect("every kindling dtype has a storage type")
    }
}

/// A view of a storage (a flat tensor) with PyTorch's offset, sizes and
/// strides, all checked to stay inside it.
pub(crate) fn view(
    storage: &Tensor,
    offset: i64,
    size: &[i64],
    stride: &[i64],
) -> std::result::Result<Tensor, String> {
    if size.len() != stride.len() {
        return Err(format!(
            "a tensor has {} sizes but {} strides",
            size.len(),
            stride.len()
        ));
    }
    let len = storage.numel();
    let bad = |what: &str, v: i64| format!("a tensor has {what} {v}");
    let offset = usize::try_from(offset).map_err(|_| bad("storage offset", offset))?;
    let mut shape = Vec::with_capacity(size.len());
    let mut strides = Vec::with_capacity(size.len());
    let mut numel: usize = 1;
    let mut last = offset; // the largest element index the view reaches
    for (&n, &s) in size.iter().zip(stride) {
        let n = usize::try_from(n).map_err(|_| bad("size", n))?;
        let s = usize::try_from(s).map_err(|_| bad("negative stride", s))?;
        numel = numel.checked_mul(n).ok_or("a tensor's size overflows")?;
        if n > 0 {
            last = (n - 1)
                .checked_mul(s)
                .and_then(|reach| last.checked_add(reach))
                .ok_or("a tensor's strides overflow")?;
        }
        shape.push(n);
        strides.push(s);
    }
    let fits = if numel == 0 {
        offset <= len
    } else {
        last < len
    };
    if !fits {
        return Err(format!(
            "a tensor of size {shape:?} at offset {offset} with strides {strides:?} reaches beyond its storage of {len} elements"
        ));
    }
    Ok(storage.view_with(
        Layout {
            shape: shape.into(),
            strides: strides.into(),
            offset,
        },
        None,
    ))
}

/// Little-endian bytes as a buffer of `dtype`.
pub(crate) fn buffer_from_le(dtype: DType, data: &[u8]) -> Buffer {
    match dtype {
        DType::F32 => Buffer::F32(
            data.chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
                .collect(),
        ),
        DType::F64 => Buffer::F64(
            data.chunks_exact(8)
                .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")))
                .collect(),
        ),
        DType::I64 => Buffer::I64(
            data.chunks_exact(8)
                .map(|c| i64::from_le_bytes(c.try_into().expect("8 bytes")))
                .collect(),
        ),
        DType::U8 => Buffer::U8(data.to_vec()),
        DType::Bool => Buffer::Bool(data.iter().map(|&b| b != 0).collect()),
    }
}

/// The first bytes of a zip file (a local file header).
pub(crate) fn is_zip(bytes: &[u8]) -> bool {
    bytes.starts_with(b"PK\x03\x04")
}

/// The magic number that starts `torch.save`'s legacy (pre-1.6) format: a
/// pickled `LONG1` of 0x1950a86a20f9469cfc6c.
const LEGACY_MAGIC: &[u8] = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19";

/// Reads a `.pth`/`.pt` file written by `torch.save` (PyTorch ≥ 1.6), as
/// `torch.load(path, weights_only=True)` does: tensors, containers, numbers,
/// strings, `torch.Size`; anything else in the file (a global such as
/// `os.system`) is refused before anything is built, and nothing in it runs.
///
/// ```no_run
/// use kindling::nn::{Linear, Module};
/// let model = Linear::new(784, 10);
/// let state = kindling::io::load("model_weights.pth")?;
/// model.load_state_dict(&state.state_dict()?)?;
/// # Ok::<(), kindling::Error>(())
/// ```
///
/// # Errors
/// One line naming the file: not a zip, the legacy format, a global that is
/// not allowed, a storage of another element type or larger than its entry, a
/// tensor reaching beyond its storage, nesting deeper than
/// [`MAX_DEPTH`](super::pickle::MAX_DEPTH), and the like.
pub fn load(path: impl AsRef<Path>) -> Result<Value> {
    let path = path.as_ref();
    let err = |message: String| Error::Io {
        path: path.to_path_buf(),
        message,
    };
    let len = std::fs::metadata(path)
        .map_err(|e| err(e.to_string()))?
        .len();
    let bytes = read_bounded(path, len)?;
    parse(&bytes).map_err(err)
}

/// Reads the bytes of a `.pth` file: [`load`] without the file.
pub fn parse(bytes: &[u8]) -> std::result::Result<Value, String> {
    if bytes.starts_with(LEGACY_MAGIC) {
        return Err("a .pth file in torch.save's legacy format (before PyTorch 1.6), which kindling does not read: load it in PyTorch and save it again with torch.save".into());
    }
    if !is_zip(bytes) {
        return Err(
            "not a PyTorch .pth file (torch.save writes a zip archive; this is not one)".into(),
        );
    }
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes))
        .map_err(|e| format!("not a valid .pth file (a damaged zip archive: {e})"))?;
    let pkl = (0..zip.len())
        .filter_map(|i| zip.name_for_index(i)?.ok().map(|n| n.to_string()))
        .find(|n| n.ends_with("/data.pkl") && n.matches('/').count() == 1)
        .ok_or_else(|| {
            if zip.by_name_seek("constants.pkl").is_ok()
                || (0..zip.len()).any(|i| {
                    zip.name_for_index(i)
                        .and_then(|n| n.ok())
                        .is_some_and(|n| n.ends_with("/constants.pkl"))
                })
            {
                "a TorchScript archive (torch.jit.save), not a torch.save file: save the model's state_dict() with torch.save".to_string()
            } else {
                "not a PyTorch .pth file (a zip without <name>/data.pkl)".to_string()
            }
        })?;
    let prefix = pkl.trim_end_matches("data.pkl").to_string();
    if let Ok(order) = entry(&mut zip, &format!("{prefix}byteorder"), 16) {
        if order != b"little" {
            return Err(format!(
                "a .pth file written in {} byte order; kindling reads little-endian files",
                String::from_utf8_lossy(&order)
            ));
        }
    }
    let pickle_bytes = entry(&mut zip, &pkl, bytes.len() as u64)?;
    let mut storages: HashMap<String, Tensor> = HashMap::new();
    let mut load_storage = |kind: StorageKind,
                            key: &str,
                            numel: usize|
     -> std::result::Result<Tensor, String> {
        if let Some(t) = storages.get(key) {
            return Ok(t.clone());
        }
        let dtype = kind.dtype.ok_or_else(|| {
                format!(
                    "storage {key} holds {} (torch.{}), an element type kindling does not have (it has float32, float64, int64, uint8 and bool)",
                    kind.dtype_name, kind.class
                )
            })?;
        let want = numel
                .checked_mul(kind.size)
                .filter(|&n| n as u64 <= bytes.len() as u64)
                .ok_or_else(|| {
                    format!(
                        "storage {key} is declared as {numel} elements of {}, more than the file's {} bytes",
                        kind.dtype_name,
                        bytes.len()
                    )
                })?;
        let name = format!("{prefix}data/{key}");
        let data = entry(&mut zip, &name, want as u64)?;
        if data.len() != want {
            return Err(format!(
                    "storage {key} is declared as {numel} elements of {} ({want} bytes) but its entry holds {} bytes",
                    kind.dtype_name,
                    data.len()
                ));
        }
        let t = Tensor::from_parts(
            Arc::new(Storage::new(buffer_from_le(dtype, &data), Device::Cpu)),
            Layout::contiguous(&[numel]),
            dtype,
            None,
        );
        storages.insert(key.to_string(), t.clone());
        Ok(t)
    };
    pickle::read(&pickle_bytes, &mut load_storage)
}

/// The bytes of entry `name`, refused if compressed or larger than `limit`.
fn entry<R: Read + Seek>(
    zip: &mut zip::ZipArchive<R>,
    name: &str,
    limit: u64,
) -> std::result::Result<Vec<u8>, String> {
    let f = zip
        .by_name(name)
        .map_err(|_| format!("not a valid .pth file (no entry {name})"))?;
    if f.compression() != zip::CompressionMethod::Stored {
        return Err(format!(
            "entry {name} is compressed ({}); torch.save writes its entries uncompressed, and kindling reads only those",
            f.compression()
        ));
    }
    if f.size() > limit {
        return Err(format!(
            "entry {name} declares {} bytes, more than it may hold ({limit})",
            f.size()
        ));
    }
    let mut out = Vec::with_capacity(f.size() as usize);
    f.take(limit)
        .read_to_end(&mut out)
        .map_err(|e| format!("not a valid .pth file (entry {name}: {e})"))?;
    Ok(out)
}

/// Writes `value` as `torch.save(value, path)` does (PyTorch 2.x reads it with
/// `weights_only=True`), atomically. A state dict goes in as
/// `model.state_dict().into()`; a checkpoint as a [`Value::dict`].
///
/// ```
/// use kindling::nn::{Linear, Module};
/// let model = Linear::new(3, 2);
/// let path = std::env::temp_dir().join(format!("kindling-doc-{}.pth", std::process::id()));
/// kindling::io::save(model.state_dict(), &path)?;
/// let back = Linear::new(3, 2);
/// back.load_state_dict(&kindling::io::load(&path)?.state_dict()?)?;
/// assert_eq!(back.weight.to_vec::<f32>(), model.weight.to_vec::<f32>());
/// # std::fs::remove_file(&path).ok();
/// # Ok::<(), kindling::Error>(())
/// ```
pub fn save(value: impl Into<Value>, path: impl AsRef<Path>) -> Result<()> {
    let value = value.into();
    super::write_atomic_with(path.as_ref(), |file| write_archive(&value, file).map(drop))
}

/// The bytes [`save`] writes.
pub fn to_bytes(value: &Value) -> std::result::Result<Vec<u8>, String> {
    Ok(write_archive(value, std::io::Cursor::new(Vec::new()))?.into_inner())
}

/// Writes `value`'s archive into `out` and gives `out` back. Each tensor's
/// bytes are made and written in turn (NOTE(stream-save)): saving holds one
/// tensor's copy at a time, not the whole file (VGG16's 553 MB).
fn write_archive<W: Write + Seek>(value: &Value, out: W) -> std::result::Result<W, String> {
    let mut storages: Vec<Tensor> = Vec::new();
    let pickle_bytes = pickle::write(value, &mut |t: &Tensor| {
        let kind = StorageKind::of(t.dtype());
        storages.push(t.clone());
        Ok(((storages.len() - 1).to_string(), kind.class, t.numel()))
    })?;
    let zip_err = |e: zip::result::ZipError| format!("cannot write the archive: {e}");
    let io_err = |e: std::io::Error| format!("cannot write the archive: {e}");
    let mut w = zip::ZipWriter::new(out);
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .with_alignment(64);
    let start = |w: &mut zip::ZipWriter<W>, name: &str| {
        w.start_file(format!("archive/{name}"), options)
            .map_err(zip_err)
    };
    let put = |w: &mut zip::ZipWriter<W>, name: &str, data: &[u8]| {
        start(w, name)?;
        w.write_all(data).map_err(io_err)
    };
    put(&mut w, "data.pkl", &pickle_bytes)?;
    put(&mut w, ".format_version", b"1")?;
    put(&mut w, ".storage_alignment", b"64")?;
    put(&mut w, "byteorder", b"little")?;
    for (i, t) in storages.iter().enumerate() {
        start(&mut w, &format!("data/{i}"))?;
        super::write_raw(t, &mut w).map_err(io_err)?;
    }
    put(&mut w, "version", b"3\n")?;
    w.finish().map_err(zip_err)
}
