//! The flat buffer behind one or more tensors.

use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use super::dtype::DType;

/// A typed, flat, row-major buffer.
#[derive(Clone, Debug)]
pub enum Buffer {
    /// bool elements
    Bool(Vec<bool>),
    /// uint8 elements
    U8(Vec<u8>),
    /// int64 elements
    I64(Vec<i64>),
    /// float32 elements
    F32(Vec<f32>),
    /// float64 elements
    F64(Vec<f64>),
}

impl Buffer {
    /// The element type held.
    pub fn dtype(&self) -> DType {
        match self {
            Buffer::Bool(_) => DType::Bool,
            Buffer::U8(_) => DType::U8,
            Buffer::I64(_) => DType::I64,
            Buffer::F32(_) => DType::F32,
            Buffer::F64(_) => DType::F64,
        }
    }
}

// NOTE(storage): a storage is shared (behind an `Arc`) by every view of it, and
// in-place ops (`add_`, `copy_`, optimizer steps) write through it, exactly as in
// PyTorch. The lock makes tensors `Send + Sync`; kernels take it once per op, so
// its cost (one uncontended atomic) is paid per op, never per element.
#[derive(Debug)]
pub(crate) struct Storage {
    buf: RwLock<Buffer>,
}

impl Storage {
    pub(crate) fn new(buf: Buffer) -> Storage {
        Storage {
            buf: RwLock::new(buf),
        }
    }

    pub(crate) fn read(&self) -> RwLockReadGuard<'_, Buffer> {
        self.buf.read().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn write(&self) -> RwLockWriteGuard<'_, Buffer> {
        self.buf.write().unwrap_or_else(|e| e.into_inner())
    }
}
