//! The flat buffer behind one or more tensors, in the memory of its device.

use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use super::device::Device;
use super::dtype::DType;

/// A typed, flat, row-major buffer of host memory. Not part of the public API:
/// kernels reach it through the backend (`crate::backend`).
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

    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            Buffer::Bool(v) => v.len(),
            Buffer::U8(v) => v.len(),
            Buffer::I64(v) => v.len(),
            Buffer::F32(v) => v.len(),
            Buffer::F64(v) => v.len(),
        }
    }
}

/// A storage's elements, by the backend that owns them.
///
/// NOTE(memory): both of today's backends keep host memory, so both variants
/// hold a [`Buffer`] and everything that reads elements on the host (printing,
/// `to_vec`, the backends themselves) reaches it through [`Memory::host`]. A GPU
/// backend adds a variant holding device memory, and `host` becomes a copy for
/// it; the ops above never see the difference.
#[derive(Debug)]
pub(crate) enum Memory {
    /// Computed on by the CPU backend.
    Cpu(Buffer),
    /// Computed on by the reference backend.
    Reference(Buffer),
}

impl Memory {
    fn on(buf: Buffer, device: Device) -> Memory {
        match device {
            Device::Cpu => Memory::Cpu(buf),
            Device::Reference => Memory::Reference(buf),
        }
    }

    fn into_host(self) -> Buffer {
        match self {
            Memory::Cpu(b) | Memory::Reference(b) => b,
        }
    }

    fn host(&self) -> &Buffer {
        match self {
            Memory::Cpu(b) | Memory::Reference(b) => b,
        }
    }

    fn host_mut(&mut self) -> &mut Buffer {
        match self {
            Memory::Cpu(b) | Memory::Reference(b) => b,
        }
    }
}

// NOTE(storage): a storage is shared (behind an `Arc`) by every view of it, and
// in-place ops (`add_`, `copy_`, optimizer steps) write through it, exactly as in
// PyTorch. The lock makes tensors `Send + Sync`; kernels take it once per op, so
// its cost (one uncontended atomic) is paid per op, never per element.
#[derive(Debug)]
pub(crate) struct Storage {
    /// The device, as `device_code` writes it (read by every op, so atomic).
    device: AtomicU8,
    mem: RwLock<Memory>,
}

fn device_code(d: Device) -> u8 {
    match d {
        Device::Cpu => 0,
        Device::Reference => 1,
    }
}

fn device_of_code(c: u8) -> Device {
    match c {
        0 => Device::Cpu,
        _ => Device::Reference,
    }
}

/// A read lock on a storage, seen as its host buffer.
pub(crate) struct ReadBuf<'a>(RwLockReadGuard<'a, Memory>);

impl Deref for ReadBuf<'_> {
    type Target = Buffer;
    fn deref(&self) -> &Buffer {
        self.0.host()
    }
}

/// A write lock on a storage, seen as its host buffer.
pub(crate) struct WriteBuf<'a>(RwLockWriteGuard<'a, Memory>);

impl Deref for WriteBuf<'_> {
    type Target = Buffer;
    fn deref(&self) -> &Buffer {
        self.0.host()
    }
}

impl DerefMut for WriteBuf<'_> {
    fn deref_mut(&mut self) -> &mut Buffer {
        self.0.host_mut()
    }
}

impl Storage {
    pub(crate) fn new(buf: Buffer, device: Device) -> Storage {
        Storage {
            device: AtomicU8::new(device_code(device)),
            mem: RwLock::new(Memory::on(buf, device)),
        }
    }

    pub(crate) fn device(&self) -> Device {
        device_of_code(self.device.load(Ordering::Acquire))
    }

    /// Moves the elements to `device`, in place: every tensor viewing this
    /// storage is then on `device` (how a module's parameters and buffers
    /// move while the optimizer holds the same handles).
    pub(crate) fn relocate(&self, device: Device) {
        let mut mem = self.mem.write().unwrap_or_else(|e| e.into_inner());
        let placeholder = Memory::Cpu(Buffer::Bool(Vec::new()));
        let old = std::mem::replace(&mut *mem, placeholder);
        *mem = Memory::on(old.into_host(), device);
        self.device.store(device_code(device), Ordering::Release);
    }

    pub(crate) fn read(&self) -> ReadBuf<'_> {
        ReadBuf(self.mem.read().unwrap_or_else(|e| e.into_inner()))
    }

    pub(crate) fn write(&self) -> WriteBuf<'_> {
        WriteBuf(self.mem.write().unwrap_or_else(|e| e.into_inner()))
    }
}
