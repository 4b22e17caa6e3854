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

/// Reads a plain or gzipped (detected by content) IDX file. Memory is the
/// size the header announces, checked first: a gzipped file is decoded
/// straight into a buffer of exactly that size, never grown (or of what the
/// file could hold, when that is less).
pub fn read_idx(path: &Path) -> Result<Idx> {
    let io = |e: std::io::Error| bad(path, e.to_string());
    let file = std::fs::File::open(path).map_err(io)?;
    let file_len = file.metadata().map_err(io)?.len();
    let mut file = std::io::BufReader::new(file);
    let gz = {
        let peek = std::io::BufRead::fill_buf(&mut file).map_err(io)?;
        peek.starts_with(&[0x1f, 0x8b])
    };
    let mut reader: Box<dyn Read> = if gz {
        Box::new(flate2::read::MultiGzDecoder::new(file))
    } else {
        Box::new(file)
    };
    let corrupt = |e: std::io::Error| {
        if gz {
            bad(path, format!("corrupt gzip data ({e})"))
        } else {
            bad(path, e.to_string())
        }
    };
    // The fixed part of the header, then the sizes.
    let mut bytes = Vec::with_capacity(20);
    (&mut reader)
        .take(4)
        .read_to_end(&mut bytes)
        .map_err(corrupt)?;
    if bytes.len() == 4 && (1..=4).contains(&bytes[3]) {
        let ndim = bytes[3] as u64;
        (&mut reader)
            .take(4 * ndim)
            .read_to_end(&mut bytes)
            .map_err(corrupt)?;
    }
    let (dims, header) = parse_header(&bytes).map_err(|m| bad(path, m))?;
    let expected = match data_len(&dims) {
        None => return Err(bad(path, format!("impossible sizes {} in the header", show(&dims)))),
        Some(n) if n as u64 > MAX_DECODED => {
            return Err(bad(
                path,
                format!(
                    "the header announces {} = {n} bytes of data, more than the 1 GiB an MNIST-style file can hold",
                    show(&dims)
                ),
            ))
        }
        Some(n) => n,
    };
    // What the file can hold bounds the buffer too: a raw file its length, a
    // gzipped one 1032 times it (deflate's largest ratio), so a small file
    // whose header announces a gigabyte costs no more than its data.
    let room = if gz {
        file_len.saturating_mul(1032)
    } else {
        file_len
    };
    let want = (expected as u64 + 1).min(room) as usize;
    bytes.reserve_exact(want.saturating_sub(bytes.len() - header));
    (&mut reader)
        .take(expected as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(corrupt)?;
    let mut have = bytes.len() - header;
    if have > expected {
        // Count the rest without keeping it, to say how much there is.
        have += std::io::copy(&mut reader.take(MAX_DECODED), &mut std::io::sink())
            .map_err(corrupt)? as usize;
    }
    check_len(&dims, have).map_err(|m| bad(path, m))?;
    bytes.drain(..header);
    Ok(Idx { dims, data: bytes })
}

/// Parses IDX bytes; the error says what is wrong, without the path.
pub fn parse_idx(bytes: &[u8]) -> std::result::Result<Idx, String> {
    let (dims, header) = parse_header(bytes)?;
    check_len(&dims, bytes.len() - header)?;
    Ok(Idx {
        dims,
        data: bytes[header..].to_vec(),
    })
}

fn show(dims: &[usize]) -> String {
    dims.iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("×")
}

fn data_len(dims: &[usize]) -> Option<usize> {
    dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d))
}

/// The data length the header announces against the `have` bytes after it.
fn check_len(dims: &[usize], have: usize) -> std::result::Result<(), String> {
    let shown = show(dims);
    match data_len(dims) {
        Some(n) if n == have => Ok(()),
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

/// The dimensions and the header's length, every field checked.
fn parse_header(bytes: &[u8]) -> std::result::Result<(Vec<usize>, usize), String> {
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
    Ok((dims, header))
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
