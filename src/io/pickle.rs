//! Python's pickle, restricted to what `torch.load(weights_only=True)` accepts,
//! and written as `torch.save` writes it (protocol 2).
//!
//! NOTE(restricted-unpickler): a pickle is a program for a stack machine whose
//! `GLOBAL` and `REDUCE` instructions import and call any Python function, which
//! is how a `.pth` file can run code on load. This reader interprets the
//! instructions itself and knows a fixed list of globals, each with its own Rust
//! meaning (an `OrderedDict`, `torch._utils._rebuild_tensor_v2`, a storage type,
//! `torch.Size`, ...); any other global (`os.system`, `builtins.eval`, ...) ends
//! the read with an error naming it, at the instruction that names it, before
//! anything is built from it. Nothing from the file is ever run.
//!
//! Why not a crate: `serde-pickle` (the well-kept one) decodes into serde values,
//! refuses persistent ids (`BINPERSID`, how every tensor refers to its storage)
//! and has no hook to give a global a meaning, so a tensor cannot come out of it;
//! candle's reader is part of candle-core. The instruction set `torch.save`
//! uses is small (the list below), and the checks that make a hostile file
//! harmless (sizes against the bytes present, nesting depth, sharing) are the
//! point of this module.
//!
//! Bounds: every length is checked against the bytes that remain before
//! anything is allocated; objects live in an arena indexed by the memo, so a
//! shared or self-referencing object costs nothing while reading; turning the
//! arena into [`Value`]s refuses nesting deeper than [`MAX_DEPTH`] and output
//! larger than the input could honestly describe (a "billion laughs" of shared
//! lists).

use std::collections::HashMap;

use super::pth::{StorageKind, Value};
use crate::tensor::Tensor;

/// The deepest nesting of containers accepted (PyTorch's own files nest 3–5 deep).
pub const MAX_DEPTH: usize = 256;

type Id = usize;

/// An object on the unpickler's stack or in its memo.
enum Obj {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    Tuple(Vec<Id>),
    List(Vec<Id>),
    Set(Vec<Id>),
    Dict {
        items: Vec<(Id, Id)>,
        ordered: bool,
    },
    Global(Global),
    /// What a persistent id resolved to: one of the file's storages.
    Storage(Tensor),
    Tensor(Tensor),
    Size(Vec<usize>),
}

/// The globals a weights file may name, each with its meaning here.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Global {
    OrderedDict,
    RebuildTensor,
    RebuildParameter,
    Size,
    Set,
    FrozenSet,
    CodecsEncode,
    Device,
    Storage(StorageKind),
    /// A dtype object (`torch.float32`): kept as its name.
    DType(&'static str),
}

const DTYPE_NAMES: &[&str] = &[
    "float32",
    "float64",
    "float16",
    "bfloat16",
    "int64",
    "int32",
    "int16",
    "int8",
    "uint8",
    "bool",
    "complex64",
    "complex128",
];

fn global(module: &str, name: &str) -> Option<Global> {
    Some(match (module, name) {
        ("collections", "OrderedDict") => Global::OrderedDict,
        ("torch._utils", "_rebuild_tensor_v2") => Global::RebuildTensor,
        ("torch._utils", "_rebuild_parameter") => Global::RebuildParameter,
        ("torch", "Size") => Global::Size,
        ("torch", "device") => Global::Device,
        ("builtins" | "__builtin__", "set") => Global::Set,
        ("builtins" | "__builtin__", "frozenset") => Global::FrozenSet,
        ("_codecs", "encode") => Global::CodecsEncode,
        ("torch", storage) if storage.ends_with("Storage") => {
            Global::Storage(StorageKind::from_class(storage)?)
        }
        ("torch", dtype) => Global::DType(DTYPE_NAMES.iter().find(|&&d| d == dtype)?),
        _ => return None,
    })
}

/// Reads a pickle whose persistent ids name storages; `storage` turns a
/// persistent id (`('storage', kind, key, location, numel)`) into the storage,
/// as a flat tensor of its elements.
pub fn read(
    bytes: &[u8],
    storage: &mut dyn FnMut(StorageKind, &str, usize) -> Result<Tensor, String>,
) -> Result<Value, String> {
    let mut r = Reader {
        bytes,
        pos: 0,
        arena: Vec::new(),
        stack: Vec::new(),
        marks: Vec::new(),
        memo: HashMap::new(),
        storage,
    };
    let root = r.run()?;
    let mut budget = 2 * bytes.len() + 10_000;
    r.value(root, 0, &mut budget)
}

struct Reader<'a, 's> {
    bytes: &'a [u8],
    pos: usize,
    arena: Vec<Obj>,
    stack: Vec<Id>,
    marks: Vec<usize>,
    memo: HashMap<u32, Id>,
    storage: &'s mut dyn FnMut(StorageKind, &str, usize) -> Result<Tensor, String>,
}

impl Reader<'_, '_> {
    fn take(&mut self, n: usize) -> Result<&[u8], String> {
        if n > self.bytes.len() - self.pos {
            return Err(format!(
                "the pickle ends early (an instruction at byte {} wants {n} bytes, {} remain)",
                self.pos,
                self.bytes.len() - self.pos
            ));
        }
        let s = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    fn le<const N: usize>(&mut self) -> Result<[u8; N], String> {
        Ok(self.take(N)?.try_into().expect("N bytes"))
    }

    fn line(&mut self) -> Result<String, String> {
        let rest = &self.bytes[self.pos..];
        let end = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or("the pickle ends inside a GLOBAL instruction")?;
        let s = std::str::from_utf8(&rest[..end])
            .map_err(|_| "a GLOBAL instruction's name is not UTF-8")?
            .to_string();
        self.pos += end + 1;
        Ok(s)
    }

    fn push(&mut self, o: Obj) {
        self.arena.push(o);
        self.stack.push(self.arena.len() - 1);
    }

    fn pop(&mut self) -> Result<Id, String> {
        let floor = self.marks.last().copied().unwrap_or(0);
        if self.stack.len() <= floor {
            return Err("the pickle pops from an empty stack".into());
        }
        Ok(self.stack.pop().expect("checked"))
    }

    fn top(&self) -> Result<Id, String> {
        let floor = self.marks.last().copied().unwrap_or(0);
        if self.stack.len() <= floor {
            return Err("the pickle reads from an empty stack".into());
        }
        Ok(*self.stack.last().expect("checked"))
    }

    fn pop_mark(&mut self) -> Result<Vec<Id>, String> {
        let m = self.marks.pop().ok_or("the pickle has no MARK to pop to")?;
        Ok(self.stack.split_off(m))
    }

    fn string(&mut self, n: usize) -> Result<(), String> {
        let s = std::str::from_utf8(self.take(n)?)
            .map_err(|_| "a string in the pickle is not UTF-8")?
            .to_string();
        self.push(Obj::Str(s));
        Ok(())
    }

    fn bytes_obj(&mut self, n: usize) -> Result<(), String> {
        let b = self.take(n)?.to_vec();
        self.push(Obj::Bytes(b));
        Ok(())
    }

    fn long(&mut self, n: usize) -> Result<(), String> {
        let b = self.take(n)?;
        if n > 8 {
            return Err(format!("an integer of {n} bytes is larger than int64"));
        }
        let mut v: i64 = 0;
        for (i, &byte) in b.iter().enumerate() {
            v |= (byte as i64) << (8 * i);
        }
        if n > 0 && n < 8 && b[n - 1] & 0x80 != 0 {
            v -= 1i64 << (8 * n);
        }
        self.push(Obj::Int(v));
        Ok(())
    }

    fn memo_put(&mut self, key: u32) -> Result<(), String> {
        let top = self.top()?;
        self.memo.insert(key, top);
        Ok(())
    }

    fn memo_get(&mut self, key: u32) -> Result<(), String> {
        let id = *self
            .memo
            .get(&key)
            .ok_or_else(|| format!("the pickle reads memo entry {key}, which was never stored"))?;
        self.stack.push(id);
        Ok(())
    }

    /// Runs the instructions up to STOP and returns the object left.
    fn run(&mut self) -> Result<Id, String> {
        loop {
            let at = self.pos;
            let op = self
                .u8()
                .map_err(|_| "the pickle ends without STOP".to_string())?;
            match op {
                0x80 => {
                    let proto = self.u8()?;
                    if proto > 5 {
                        return Err(format!("pickle protocol {proto} is unknown"));
                    }
                }
                0x95 => {
                    self.le::<8>()?; // FRAME: a length hint
                }
                b'.' => {
                    let root = self.pop()?;
                    if !self.marks.is_empty() {
                        return Err("the pickle stops inside a MARK".into());
                    }
                    return Ok(root);
                }
                b'(' => self.marks.push(self.stack.len()),
                b'0' => {
                    self.pop()?;
                }
                b'1' => {
                    self.pop_mark()?;
                }
                b'2' => {
                    let t = self.top()?;
                    self.stack.push(t);
                }
                b'N' => self.push(Obj::None),
                0x88 => self.push(Obj::Bool(true)),
                0x89 => self.push(Obj::Bool(false)),
                b'J' => {
                    let v = i32::from_le_bytes(self.le()?);
                    self.push(Obj::Int(v as i64));
                }
                b'K' => {
                    let v = self.u8()?;
                    self.push(Obj::Int(v as i64));
                }
                b'M' => {
                    let v = u16::from_le_bytes(self.le()?);
                    self.push(Obj::Int(v as i64));
                }
                0x8a => {
                    let n = self.u8()? as usize;
                    self.long(n)?;
                }
                0x8b => {
                    let n = u32::from_le_bytes(self.le()?) as usize;
                    self.long(n)?;
                }
                b'G' => {
                    let v = f64::from_be_bytes(self.le()?);
                    self.push(Obj::Float(v));
                }
                b'X' => {
                    let n = u32::from_le_bytes(self.le()?) as usize;
                    self.string(n)?;
                }
                0x8c => {
                    let n = self.u8()? as usize;
                    self.string(n)?;
                }
                0x8d => {
                    let n = u64::from_le_bytes(self.le()?);
                    self.string(usize::try_from(n).unwrap_or(usize::MAX))?;
                }
                // SHORT_BINSTRING, BINSTRING: Python 2 strings, read as bytes
                // (what torch.load's default `encoding` gives for them).
                b'U' | b'C' => {
                    let n = self.u8()? as usize;
                    self.bytes_obj(n)?;
                }
                b'T' | b'B' => {
                    let n = u32::from_le_bytes(self.le()?) as usize;
                    self.bytes_obj(n)?;
                }
                0x8e => {
                    let n = u64::from_le_bytes(self.le()?);
                    self.bytes_obj(usize::try_from(n).unwrap_or(usize::MAX))?;
                }
                b')' => self.push(Obj::Tuple(Vec::new())),
                0x85..=0x87 => {
                    let n = (op - 0x84) as usize;
                    let mut items = Vec::with_capacity(n);
                    for _ in 0..n {
                        items.push(self.pop()?);
                    }
                    items.reverse();
                    self.push(Obj::Tuple(items));
                }
                b't' => {
                    let items = self.pop_mark()?;
                    self.push(Obj::Tuple(items));
                }
                b']' => self.push(Obj::List(Vec::new())),
                b'l' => {
                    let items = self.pop_mark()?;
                    self.push(Obj::List(items));
                }
                b'a' => {
                    let item = self.pop()?;
                    let list = self.top()?;
                    self.extend(list, vec![item], "APPEND")?;
                }
                b'e' => {
                    let items = self.pop_mark()?;
                    let list = self.top()?;
                    self.extend(list, items, "APPENDS")?;
                }
                b'}' => self.push(Obj::Dict {
                    items: Vec::new(),
                    ordered: false,
                }),
                b'd' => {
                    let items = self.pop_mark()?;
                    let pairs = pairs(items)?;
                    self.push(Obj::Dict {
                        items: pairs,
                        ordered: false,
                    });
                }
                b's' => {
                    let v = self.pop()?;
                    let k = self.pop()?;
                    let d = self.top()?;
                    self.set_items(d, vec![(k, v)])?;
                }
                b'u' => {
                    let items = self.pop_mark()?;
                    let d = self.top()?;
                    self.set_items(d, pairs(items)?)?;
                }
                0x8f => self.push(Obj::Set(Vec::new())),
                0x90 => {
                    let items = self.pop_mark()?;
                    let s = self.top()?;
                    match &mut self.arena[s] {
                        Obj::Set(v) => v.extend(items),
                        _ => return Err("ADDITEMS to something that is not a set".into()),
                    }
                }
                0x91 => {
                    let items = self.pop_mark()?;
                    self.push(Obj::Set(items));
                }
                b'q' => {
                    let k = self.u8()? as u32;
                    self.memo_put(k)?;
                }
                b'r' => {
                    let k = u32::from_le_bytes(self.le()?);
                    self.memo_put(k)?;
                }
                0x94 => {
                    let k = self.memo.len() as u32;
                    self.memo_put(k)?;
                }
                b'h' => {
                    let k = self.u8()? as u32;
                    self.memo_get(k)?;
                }
                b'j' => {
                    let k = u32::from_le_bytes(self.le()?);
                    self.memo_get(k)?;
                }
                b'c' => {
                    let module = self.line()?;
                    let name = self.line()?;
                    self.global(&module, &name)?;
                }
                0x93 => {
                    let name = self.pop()?;
                    let module = self.pop()?;
                    match (&self.arena[module], &self.arena[name]) {
                        (Obj::Str(m), Obj::Str(n)) => {
                            let (m, n) = (m.clone(), n.clone());
                            self.global(&m, &n)?;
                        }
                        _ => return Err("STACK_GLOBAL without two strings".into()),
                    }
                }
                b'Q' => {
                    let pid = self.pop()?;
                    let storage = self.persistent(pid)?;
                    self.push(Obj::Storage(storage));
                }
                b'R' => {
                    let args = self.pop()?;
                    let func = self.pop()?;
                    let result = self.reduce(func, args)?;
                    self.push(result);
                }
                b'b' => {
                    let state = self.pop()?;
                    let inst = self.top()?;
                    match &self.arena[inst] {
                        // The state dict's `_metadata` (module versions): not needed
                        // to load the tensors, and not kept.
                        Obj::Dict { ordered: true, .. } => {}
                        other => {
                            return Err(format!(
                                "the pickle sets the state of {} (BUILD), which a weights file never does",
                                describe(other)
                            ))
                        }
                    }
                    let _ = state;
                }
                b'P' | b'I' | b'L' | b'F' | b'S' | b'V' | b'g' | b'p' | b'i' | b'o' => {
                    return Err(format!(
                        "the pickle uses protocol 0's instruction {:?} at byte {at}, which torch.save never writes",
                        op as char
                    ))
                }
                0x81 | 0x92 => {
                    return Err(format!(
                        "the pickle creates an object (NEWOBJ) at byte {at}, which a weights file never does"
                    ))
                }
                other => {
                    return Err(format!(
                        "the pickle has instruction 0x{other:02x} at byte {at}, which torch.load(weights_only=True) refuses"
                    ))
                }
            }
        }
    }

    fn global(&mut self, module: &str, name: &str) -> Result<(), String> {
        match global(module, name) {
            Some(g) => {
                self.push(Obj::Global(g));
                Ok(())
            }
            None => {
                let module = if module == "__builtin__" {
                    "builtins"
                } else {
                    module
                };
                Err(format!(
                    "refusing to load: the pickle names `{module}.{name}`, which is not a tensor, a container or a number (kindling reads what torch.load(weights_only=True) reads, and runs nothing from the file)"
                ))
            }
        }
    }

    fn extend(&mut self, list: Id, items: Vec<Id>, op: &str) -> Result<(), String> {
        match &mut self.arena[list] {
            Obj::List(v) => {
                v.extend(items);
                Ok(())
            }
            other => Err(format!("{op} to {}, not a list", describe(other))),
        }
    }

    fn set_items(&mut self, dict: Id, new: Vec<(Id, Id)>) -> Result<(), String> {
        match &mut self.arena[dict] {
            Obj::Dict { items, .. } => {
                items.extend(new);
                Ok(())
            }
            other => Err(format!("SETITEM on {}, not a dict", describe(other))),
        }
    }

    fn int(&self, id: Id, what: &str) -> Result<i64, String> {
        match &self.arena[id] {
            Obj::Int(v) => Ok(*v),
            other => Err(format!("{what} is {}, not an integer", describe(other))),
        }
    }

    fn tuple(&self, id: Id, what: &str) -> Result<Vec<Id>, String> {
        match &self.arena[id] {
            Obj::Tuple(v) => Ok(v.clone()),
            other => Err(format!("{what} is {}, not a tuple", describe(other))),
        }
    }

    fn sizes(&self, id: Id, what: &str) -> Result<Vec<i64>, String> {
        let ids = match &self.arena[id] {
            Obj::Tuple(v) | Obj::List(v) => v.clone(),
            Obj::Size(v) => return Ok(v.iter().map(|&d| d as i64).collect()),
            other => return Err(format!("{what} is {}, not a tuple", describe(other))),
        };
        ids.iter().map(|&i| self.int(i, what)).collect()
    }

    /// A persistent id: `('storage', kind, key, location, numel)`.
    fn persistent(&mut self, pid: Id) -> Result<Tensor, String> {
        let parts = self.tuple(pid, "a persistent id")?;
        let field = |i: usize| parts.get(i).map(|&id| &self.arena[id]);
        let (
            Some(Obj::Str(tag)),
            Some(Obj::Global(Global::Storage(kind))),
            Some(Obj::Str(key)),
            Some(_),
            Some(Obj::Int(numel)),
        ) = (field(0), field(1), field(2), field(3), field(4))
        else {
            return Err(
                "a persistent id is not ('storage', type, key, location, size), the only kind torch.save writes"
                    .into(),
            );
        };
        if tag != "storage" {
            return Err(format!("a persistent id of kind {tag:?}, not 'storage'"));
        }
        let numel = usize::try_from(*numel)
            .map_err(|_| format!("storage {key} has a negative size ({numel})"))?;
        let (kind, key) = (*kind, key.clone());
        (self.storage)(kind, &key, numel)
    }

    fn reduce(&mut self, func: Id, args: Id) -> Result<Obj, String> {
        let Obj::Global(g) = self.arena[func] else {
            return Err(format!(
                "the pickle calls {} (REDUCE), which is not a known function",
                describe(&self.arena[func])
            ));
        };
        let args = self.tuple(args, "the arguments of a call")?;
        let arg = |i: usize| -> Result<Id, String> {
            args.get(i)
                .copied()
                .ok_or_else(|| format!("{g:?} is called with {} arguments", args.len()))
        };
        Ok(match g {
            Global::OrderedDict => {
                let mut items = Vec::new();
                if let Some(&init) = args.first() {
                    let Obj::List(pairs) = &self.arena[init] else {
                        return Err(
                            "OrderedDict is called with something other than a list of pairs"
                                .into(),
                        );
                    };
                    for &p in pairs {
                        match self.tuple(p, "an OrderedDict item")?.as_slice() {
                            &[k, v] => items.push((k, v)),
                            _ => return Err("an OrderedDict item is not a pair".into()),
                        }
                    }
                }
                Obj::Dict {
                    items,
                    ordered: true,
                }
            }
            Global::RebuildTensor => {
                let Obj::Storage(storage) = &self.arena[arg(0)?] else {
                    return Err("_rebuild_tensor_v2 is called without a storage".into());
                };
                let storage = storage.clone();
                let offset = self.int(arg(1)?, "a tensor's storage offset")?;
                let size = self.sizes(arg(2)?, "a tensor's size")?;
                let stride = self.sizes(arg(3)?, "a tensor's stride")?;
                let requires_grad = matches!(self.arena[arg(4)?], Obj::Bool(true));
                let t = super::pth::view(&storage, offset, &size, &stride)?;
                Obj::Tensor(if requires_grad && t.dtype().is_floating_point() {
                    t.requires_grad_(true)
                } else {
                    t
                })
            }
            Global::RebuildParameter => match &self.arena[arg(0)?] {
                Obj::Tensor(t) => {
                    let requires_grad = matches!(self.arena[arg(1)?], Obj::Bool(true));
                    let t = t.detach();
                    Obj::Tensor(if requires_grad && t.dtype().is_floating_point() {
                        t.requires_grad_(true)
                    } else {
                        t
                    })
                }
                other => {
                    return Err(format!(
                        "_rebuild_parameter is called with {}, not a tensor",
                        describe(other)
                    ))
                }
            },
            Global::Size => {
                let dims = self.sizes(arg(0)?, "torch.Size's argument")?;
                Obj::Size(
                    dims.iter()
                        .map(|&d| usize::try_from(d).map_err(|_| format!("torch.Size with {d}")))
                        .collect::<Result<_, _>>()?,
                )
            }
            Global::Set | Global::FrozenSet => match args.first().map(|&a| &self.arena[a]) {
                None => Obj::Set(Vec::new()),
                Some(Obj::List(v) | Obj::Tuple(v) | Obj::Set(v)) => Obj::Set(v.clone()),
                Some(other) => return Err(format!("set() of {}", describe(other))),
            },
            Global::CodecsEncode => match (&self.arena[arg(0)?], &self.arena[arg(1)?]) {
                (Obj::Str(s), Obj::Str(enc)) if enc == "latin1" || enc == "latin-1" => {
                    let bytes = s
                        .chars()
                        .map(|c| u8::try_from(c as u32))
                        .collect::<Result<Vec<u8>, _>>()
                        .map_err(|_| "bytes encoded as latin1 hold a character above U+00FF")?;
                    Obj::Bytes(bytes)
                }
                _ => return Err("_codecs.encode is called with other than (str, 'latin1')".into()),
            },
            Global::Device => match &self.arena[arg(0)?] {
                Obj::Str(s) => Obj::Str(s.clone()),
                other => return Err(format!("torch.device({})", describe(other))),
            },
            Global::Storage(_) | Global::DType(_) => {
                return Err(format!("the pickle calls {g:?}, which is not a function"))
            }
        })
    }

    /// The object `id` as a [`Value`], at nesting `depth`, spending `budget`.
    fn value(&self, id: Id, depth: usize, budget: &mut usize) -> Result<Value, String> {
        if depth > MAX_DEPTH {
            return Err(format!(
                "the pickle nests containers deeper than {MAX_DEPTH} levels (or holds a container inside itself)"
            ));
        }
        if *budget == 0 {
            return Err("the pickle refers to the same objects so often that reading it would take far more memory than the file (a \"billion laughs\")".into());
        }
        *budget -= 1;
        let all = |ids: &[Id], budget: &mut usize| -> Result<Vec<Value>, String> {
            ids.iter()
                .map(|&i| self.value(i, depth + 1, budget))
                .collect()
        };
        Ok(match &self.arena[id] {
            Obj::None => Value::None,
            Obj::Bool(b) => Value::Bool(*b),
            Obj::Int(v) => Value::Int(*v),
            Obj::Float(v) => Value::Float(*v),
            Obj::Str(s) => Value::Str(s.clone()),
            Obj::Bytes(b) => Value::Bytes(b.clone()),
            Obj::Tuple(v) => Value::Tuple(all(v, budget)?),
            Obj::List(v) => Value::List(all(v, budget)?),
            Obj::Set(v) => Value::Set(all(v, budget)?),
            Obj::Dict { items, ordered } => {
                // Python's semantics: a key set twice keeps its first place and
                // its last value.
                let mut out: Vec<(Value, Value)> = Vec::with_capacity(items.len());
                let mut index: HashMap<String, usize> = HashMap::new();
                for &(k, v) in items {
                    let key = self.value(k, depth + 1, budget)?;
                    let value = self.value(v, depth + 1, budget)?;
                    match key.hash_key().and_then(|h| index.get(&h).copied()) {
                        Some(i) => out[i].1 = value,
                        None => {
                            if let Some(h) = key.hash_key() {
                                index.insert(h, out.len());
                            }
                            out.push((key, value));
                        }
                    }
                }
                if *ordered {
                    Value::OrderedDict(out)
                } else {
                    Value::Dict(out)
                }
            }
            Obj::Tensor(t) => Value::Tensor(t.clone()),
            Obj::Size(v) => Value::Size(v.clone()),
            Obj::Global(Global::DType(name)) => Value::Str(format!("torch.{name}")),
            Obj::Global(g) => return Err(format!("the pickle's result holds {g:?} itself")),
            Obj::Storage(_) => {
                return Err("the pickle's result holds a bare storage, not a tensor".into())
            }
        })
    }
}

fn pairs(items: Vec<Id>) -> Result<Vec<(Id, Id)>, String> {
    if !items.len().is_multiple_of(2) {
        return Err("a dict is built from an odd number of items".into());
    }
    Ok(items.chunks_exact(2).map(|p| (p[0], p[1])).collect())
}

fn describe(o: &Obj) -> String {
    match o {
        Obj::None => "None".into(),
        Obj::Bool(_) => "a bool".into(),
        Obj::Int(_) => "an integer".into(),
        Obj::Float(_) => "a float".into(),
        Obj::Str(_) => "a string".into(),
        Obj::Bytes(_) => "bytes".into(),
        Obj::Tuple(_) => "a tuple".into(),
        Obj::List(_) => "a list".into(),
        Obj::Set(_) => "a set".into(),
        Obj::Dict { .. } => "a dict".into(),
        Obj::Global(g) => format!("{g:?}"),
        Obj::Storage(_) => "a storage".into(),
        Obj::Tensor(_) => "a tensor".into(),
        Obj::Size(_) => "a torch.Size".into(),
    }
}

// ----- writing ------------------------------------------------------------------

/// Hands a tensor over to be written as a storage; returns the storage's key,
/// its type's class name (`FloatStorage`) and its element count.
pub type WriteStorage<'a> =
    dyn FnMut(&Tensor) -> Result<(String, &'static str, usize), String> + 'a;

/// Writes `value` as `torch.save` pickles it (protocol 2), handing each tensor
/// to `storage`, which returns the key, storage type name and element count
/// of the storage written for it.
pub fn write(value: &Value, storage: &mut WriteStorage<'_>) -> Result<Vec<u8>, String> {
    let mut w = Writer {
        out: vec![0x80, 2],
        storage,
    };
    w.value(value, 0)?;
    w.out.push(b'.');
    Ok(w.out)
}

struct Writer<'s> {
    out: Vec<u8>,
    storage: &'s mut WriteStorage<'s>,
}

impl Writer<'_> {
    fn global(&mut self, module: &str, name: &str) {
        self.out.push(b'c');
        self.out.extend_from_slice(module.as_bytes());
        self.out.push(b'\n');
        self.out.extend_from_slice(name.as_bytes());
        self.out.push(b'\n');
    }

    fn str(&mut self, s: &str) {
        self.out.push(b'X');
        self.out.extend_from_slice(&(s.len() as u32).to_le_bytes());
        self.out.extend_from_slice(s.as_bytes());
    }

    fn int(&mut self, v: i64) {
        match v {
            0..=0xff => self.out.extend_from_slice(&[b'K', v as u8]),
            0x100..=0xffff => {
                self.out.push(b'M');
                self.out.extend_from_slice(&(v as u16).to_le_bytes());
            }
            _ if i32::try_from(v).is_ok() => {
                self.out.push(b'J');
                self.out.extend_from_slice(&(v as i32).to_le_bytes());
            }
            _ => {
                // LONG1: the shortest two's complement, little-endian.
                let bytes = v.to_le_bytes();
                let mut n = 8;
                while n > 1 {
                    let (last, prev) = (bytes[n - 1], bytes[n - 2]);
                    if (last == 0 && prev & 0x80 == 0) || (last == 0xff && prev & 0x80 != 0) {
                        n -= 1;
                    } else {
                        break;
                    }
                }
                self.out.extend_from_slice(&[0x8a, n as u8]);
                self.out.extend_from_slice(&bytes[..n]);
            }
        }
    }

    fn tuple_of(
        &mut self,
        n: usize,
        items: impl FnOnce(&mut Self) -> Result<(), String>,
    ) -> Result<(), String> {
        match n {
            0 => {
                self.out.push(b')');
                return Ok(());
            }
            1..=3 => items(self)?,
            _ => {
                self.out.push(b'(');
                items(self)?;
            }
        }
        self.out.push(match n {
            1 => 0x85,
            2 => 0x86,
            3 => 0x87,
            _ => b't',
        });
        Ok(())
    }

    fn ints(&mut self, v: &[usize]) -> Result<(), String> {
        self.tuple_of(v.len(), |w| {
            v.iter().for_each(|&d| w.int(d as i64));
            Ok(())
        })
    }

    fn items(&mut self, items: &[(Value, Value)], depth: usize) -> Result<(), String> {
        if items.is_empty() {
            return Ok(());
        }
        self.out.push(b'(');
        for (k, v) in items {
            self.value(k, depth + 1)?;
            self.value(v, depth + 1)?;
        }
        self.out.push(b'u');
        Ok(())
    }

    fn value(&mut self, v: &Value, depth: usize) -> Result<(), String> {
        if depth > MAX_DEPTH {
            return Err(format!("a value nested deeper than {MAX_DEPTH} levels"));
        }
        match v {
            Value::None => self.out.push(b'N'),
            Value::Bool(b) => self.out.push(if *b { 0x88 } else { 0x89 }),
            Value::Int(i) => self.int(*i),
            Value::Float(f) => {
                self.out.push(b'G');
                self.out.extend_from_slice(&f.to_be_bytes());
            }
            Value::Str(s) => self.str(s),
            Value::Bytes(b) => {
                // Protocol 2 has no bytes: `_codecs.encode(latin1 text, 'latin1')`.
                self.global("_codecs", "encode");
                let text: String = b.iter().map(|&c| c as char).collect();
                self.str(&text);
                self.str("latin1");
                self.out.extend_from_slice(&[0x86, b'R']);
            }
            Value::Tuple(items) => self.tuple_of(items.len(), |w| {
                items.iter().try_for_each(|i| w.value(i, depth + 1))
            })?,
            Value::List(items) => {
                self.out.push(b']');
                if !items.is_empty() {
                    self.out.push(b'(');
                    for i in items {
                        self.value(i, depth + 1)?;
                    }
                    self.out.push(b'e');
                }
            }
            Value::Set(items) => {
                self.global("__builtin__", "set");
                self.value(&Value::List(items.clone()), depth + 1)?;
                self.out.extend_from_slice(&[0x85, b'R']);
            }
            Value::Dict(items) => {
                self.out.push(b'}');
                self.items(items, depth)?;
            }
            Value::OrderedDict(items) => {
                self.global("collections", "OrderedDict");
                self.out.extend_from_slice(b")R");
                self.items(items, depth)?;
            }
            Value::Size(dims) => {
                self.global("torch", "Size");
                self.ints(dims)?;
                self.out.extend_from_slice(&[0x85, b'R']);
            }
            Value::Tensor(t) => {
                let (key, class, numel) = (self.storage)(t)?;
                self.global("torch._utils", "_rebuild_tensor_v2");
                self.out.push(b'(');
                self.out.push(b'(');
                self.str("storage");
                self.global("torch", class);
                self.str(&key);
                self.str("cpu");
                self.int(numel as i64);
                self.out.extend_from_slice(b"tQ");
                self.int(0);
                self.ints(t.shape())?;
                let strides = crate::tensor::layout::contiguous_strides(t.shape());
                self.ints(&strides)?;
                self.out.push(if t.requires_grad() { 0x88 } else { 0x89 });
                self.global("collections", "OrderedDict");
                self.out.extend_from_slice(b")R");
                self.out.extend_from_slice(b"tR");
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn no_storage(_: StorageKind, key: &str, _: usize) -> Result<Tensor, String> {
        Err(format!("no storage {key}"))
    }

    fn read_plain(bytes: &[u8]) -> Result<Value, String> {
        read(bytes, &mut no_storage)
    }

    /// Python's own `pickle.dumps` of
    /// `(('a', {1, 2}), 'a', -300, 2**40, -2**63, 1.5, b'xy', None, True,
    /// [1, [2]], {'k': 1, 'k2': (1,)}, frozenset([3]))`.
    const PROTOCOL_4: &str = "8004955e00000000000000288c0161948f94284b014b0290869468004ad4feffff8a060000000000018a080000000000000080473ff800000000000043027879944e885d94284b015d944b0261657d94288c016b944b018c026b32944b01859475284b03919474942e";
    const PROTOCOL_2: &str = "8002285801000000617100635f5f6275696c74696e5f5f0a7365740a71015d7102284b014b026585710352710486710568004ad4feffff8a060000000000018a080000000000000080473ff8000000000000635f636f646563730a656e636f64650a710658020000007879710758060000006c6174696e31710886710952710a4e885d710b284b015d710c4b0261657d710d2858010000006b710e4b0158020000006b32710f4b0185711075635f5f6275696c74696e5f5f0a66726f7a656e7365740a71115d71124b03618571135271147471152e";
    /// Python's repr of it (a frozenset reads as a set).
    const REPR: &str = "(('a', {1, 2}), 'a', -300, 1099511627776, -9223372036854775808, 1.5, b'xy', None, True, [1, [2]], {'k': 1, 'k2': (1,)}, {3})";

    #[test]
    fn pythons_pickles_of_protocols_2_and_4_read_as_python_reads_them() {
        for p in [PROTOCOL_4, PROTOCOL_2] {
            assert_eq!(read_plain(&hex(p)).unwrap().to_string(), REPR);
        }
    }

    #[test]
    fn what_kindling_writes_reads_back_the_same() {
        let v = read_plain(&hex(PROTOCOL_4)).unwrap();
        let ints = Value::List(
            [
                0,
                255,
                256,
                65535,
                65536,
                -1,
                -129,
                i32::MIN as i64,
                i32::MAX as i64 + 1,
                i64::MIN,
                i64::MAX,
            ]
            .into_iter()
            .map(Value::Int)
            .collect(),
        );
        for v in [v, ints] {
            let bytes = write(&v, &mut |_| Err("no tensors".into())).unwrap();
            assert_eq!(read_plain(&bytes).unwrap().to_string(), v.to_string());
        }
    }

    #[test]
    fn a_key_set_twice_keeps_its_place_and_its_last_value() {
        // {'a': 1, 'b': 0, 'a': 2} built with SETITEMS.
        let mut b = b"\x80\x02}(".to_vec();
        for (k, v) in [(b'a', 1u8), (b'b', 0), (b'a', 2)] {
            b.extend_from_slice(&[b'X', 1, 0, 0, 0, k, b'K', v]);
        }
        b.extend_from_slice(b"u.");
        assert_eq!(read_plain(&b).unwrap().to_string(), "{'a': 2, 'b': 0}");
    }

    #[test]
    fn shared_objects_cannot_expand_beyond_the_file() {
        // A pair of the same pair of ... 40 deep: 2^40 nodes from 300 bytes.
        let mut b = b"\x80\x02]q\x00".to_vec();
        for _ in 0..40 {
            b.extend_from_slice(b"h\x00h\x00\x86q\x00");
        }
        b.extend_from_slice(b"h\x00.");
        let e = read_plain(&b).unwrap_err();
        assert!(e.contains("billion laughs"), "{e}");
        // A list inside itself.
        let e = read_plain(b"\x80\x02]q\x00h\x00a.").unwrap_err();
        assert!(e.contains("inside itself"), "{e}");
    }

    #[test]
    fn broken_pickles_are_errors_not_panics() {
        for (bytes, words) in [
            (&b"\x80\x02h\x05."[..], "never stored"),
            (b"\x80\x02a.", "empty stack"),
            (b"\x80\x02X\xff\xff\xff\x7f", "ends early"),
            (b"\x80\x02(K\x01", "without STOP"),
            (b"\x80\x02(K\x01.", "inside a MARK"),
            (b"\x80\x02K\x00K\x01K\x02s.", "not a dict"),
            (b"\x80\x02I1\n.", "protocol 0"),
            (
                b"\x80\x02\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x00\x01.",
                "larger than int64",
            ),
            (b"\x80\x02cos\nsystem\n.", "`os.system`"),
            (b"\x80\x02}K\x01R.", "not a known function"),
            (b"\x80\x02]}b.", "sets the state of a list"),
            (
                b"\x80\x02ccollections\nOrderedDict\n)R}b.",
                "OrderedDict({})",
            ),
        ] {
            let e = read_plain(bytes)
                .map(|v| v.to_string())
                .unwrap_or_else(|e| e);
            assert!(e.contains(words), "{bytes:?}: {e}");
        }
    }
}
