//! The IDX file format of MNIST and its relatives, read with every header field
//! checked against the file before anything is trusted.

use std::io::Read;
use std::path::Path;

use crate::error::{Error, Result};

/// A decoded IDX file of unsigned bytes: its dimensions and its data.
#[derive(Clone, Debug, PartialEq)]
pub struct Idx {
    /// Sizes from the header (`[60000, 28, 28]` for training images).
    pub dims: Vec<usize>,
    /// The elements, row-major.
    pub data: Vec<u8>,
}

/// Decompressed IDX files are refused above this size: no MNIST-like file comes
/// near it, and it bounds what a corrupt or hostile `.gz` can make us allocate.
const MAX_DECODED: u64 = 1 << 30;

fn bad(path: &Path, message: impl Into<String>) -> Error {
    Error::Io {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// Reads a plain or gzipped (detected by content) IDX file.
pub fn read_idx(path: &Path) -> Result<Idx> {
    let raw = std::fs::read(path).map_err(|e| bad(path, e.to_string()))?;
    let bytes = if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(raw.as_slice())
            .take(MAX_DECODED + 1)
            .read_to_end(&mut out)
            .map_err(|e| bad(path, format!("corrupt gzip data ({e})")))?;
        if out.len() as u64 > MAX_DECODED {
            return Err(bad(
                path,
                "decompresses to more than 1 GiB; not an MNIST-style file",
            ));
        }
        out
    } else {
        raw
    };
    parse_idx(&bytes).map_err(|m| bad(path, m))
}

/// Parses IDX bytes; the error says what is wrong, without the path.
pub fn parse_idx(bytes: &[u8]) -> std::result::Result<Idx, String> {
    if bytes.len() < 4 {
        return Err(format!(
            "truncated: {} bytes, too short for an IDX header",
            bytes.len()
        ));
    }
    if bytes[0] != 0 || bytes[1] != 0 {
        return Err(format!(
            "wrong magic number {:02x}{:02x}{:02x}{:02x} (an IDX file starts with two zero bytes)",
            bytes[0], bytes[1], bytes[2], bytes[3]
        ));
    }
    let (kind, ndim) = (bytes[2], bytes[3] as usize);
    let type_name = match kind {
        0x08 => "unsigned byte",
        0x09 => "signed byte",
        0x0B => "short",
        0x0C => "int",
        0x0D => "float",
        0x0E => "double",
        other => return Err(format!("unknown IDX element type 0x{other:02x}")),
    };
    if kind != 0x08 {
        return Err(format!("element type {type_name} (0x{kind:02x}) is not supported; MNIST-style files hold unsigned bytes"));
    }
    if ndim == 0 || ndim > 4 {
        return Err(format!(
            "{ndim} dimensions; MNIST-style files have 1 (labels) or 3 (images)"
        ));
    }
    let header = 4 + 4 * ndim;
    if bytes.len() < header {
        return Err(format!(
            "truncated: the header needs {header} bytes, the file has {}",
            bytes.len()
        ));
    }
    let dims: Vec<usize> = (0..ndim)
        .map(|d| u32::from_be_bytes(bytes[4 + 4 * d..8 + 4 * d].try_into().unwrap()) as usize)
        .collect();
    let expected = dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d));
    let shown = dims
        .iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("×");
    let have = bytes.len() - header;
    match expected {
        Some(n) if n == have => Ok(Idx {
            dims,
            data: bytes[header..].to_vec(),
        }),
        Some(n) if n > have => Err(format!(
            "truncated: the header says {shown} = {n} bytes of data, the file has {have}"
        )),
        Some(n) => Err(format!(
            "{} bytes after the {shown} = {n} bytes the header announces",
            have - n
        )),
        None => Err(format!("impossible sizes {shown} in the header")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idx(kind: u8, dims: &[u32], data: &[u8]) -> Vec<u8> {
        let mut v = vec![0, 0, kind, dims.len() as u8];
        for d in dims {
            v.extend(d.to_be_bytes());
        }
        v.extend(data);
        v
    }

    #[test]
    fn errors_say_what_is_wrong() {
        assert_eq!(
            parse_idx(&idx(8, &[2, 2], &[1, 2, 3, 4])).unwrap().dims,
            vec![2, 2]
        );
        let e = |b: &[u8]| parse_idx(b).unwrap_err();
        assert!(
            e(&idx(8, &[2, 2], &[1, 2, 3])).starts_with("truncated: the header says 2×2 = 4 bytes")
        );
        assert!(e(&idx(8, &[2], &[1, 2, 3])).contains("1 bytes after"));
        assert!(e(&[1, 0, 8, 1]).starts_with("wrong magic number"));
        assert!(e(&idx(0x0D, &[1], &[0, 0, 0, 0])).contains("float"));
        assert!(
            e(&idx(8, &[u32::MAX, u32::MAX, u32::MAX], &[])).contains("truncated")
                || e(&idx(8, &[u32::MAX, u32::MAX, u32::MAX], &[])).contains("impossible")
        );
        assert!(e(&[0, 0]).starts_with("truncated"));
    }
}
