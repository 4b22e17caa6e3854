//! A set of files that changes together or not at all: checkpoints.
//!
//! NOTE(file-sets): a set lives in a folder as generations. Each save writes a
//! new generation into a temporary sibling (`gen-N.tmp-PID`), syncs every file
//! and a `MANIFEST.json` that lists their sizes and MD5 digests, renames it to
//! `gen-N`, and only then switches the one-line `CURRENT` file to it (a write to
//! a temporary file and a rename, itself atomic). A crash or a full disk at any
//! moment leaves `CURRENT` naming a complete generation (the previous one until
//! the switch), and readers trust nothing but what the manifest of the current
//! generation lists, verified byte for byte. Leftovers of dead writers are
//! removed by the next save.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use md5::{Digest, Md5};
use serde_json::{json, Value};

use crate::error::{Error, Result};

const CURRENT: &str = "CURRENT";
const MANIFEST: &str = "MANIFEST.json";

fn io_err(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

fn hex_md5(bytes: &[u8]) -> String {
    Md5::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

/// Reads at most `limit` bytes of `path`; a longer file is an error, so a huge
/// or sparse file never costs more memory than the limit.
pub(crate) fn read_bounded(path: &Path, limit: u64) -> Result<Vec<u8>> {
    let f = fs::File::open(path).map_err(|e| io_err(path, e))?;
    let len = f.metadata().map_err(|e| io_err(path, e))?.len();
    if len > limit {
        return Err(io_err(
            path,
            format!("is {len} bytes, more than the {limit} expected"),
        ));
    }
    let mut bytes = Vec::with_capacity(len as usize);
    f.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| io_err(path, e))?;
    if bytes.len() as u64 > limit {
        return Err(io_err(
            path,
            format!("is more than the {limit} bytes expected"),
        ));
    }
    Ok(bytes)
}

/// The generation `CURRENT` names, if there is one.
fn current(dir: &Path) -> Result<Option<(u64, PathBuf)>> {
    let path = dir.join(CURRENT);
    if !path.exists() {
        return Ok(None);
    }
    let text = read_bounded(&path, 64)?;
    let name = String::from_utf8_lossy(&text).trim().to_string();
    // Only `gen-N`: a damaged pointer never leads outside the folder.
    let n = name
        .strip_prefix("gen-")
        .and_then(|n| n.parse::<u64>().ok())
        .ok_or_else(|| io_err(&path, format!("damaged checkpoint pointer '{name}'")))?;
    Ok(Some((n, dir.join(name))))
}

/// True when `dir` holds a file set (a completed save).
pub fn set_exists(dir: &Path) -> bool {
    matches!(current(dir), Ok(Some(_)))
}

/// Whether a process with this pid runs (signal 0, which checks only).
pub(crate) fn pid_alive(pid: u32) -> bool {
    // SAFETY: kill with signal 0 only checks that the process exists.
    let r = unsafe { libc::kill(pid as libc::pid_t, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

/// Removes generations other than `keep`, and temporary ones of dead writers.
fn clean(dir: &Path, keep: Option<&Path>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let path = e.path();
        if keep == Some(path.as_path()) {
            continue;
        }
        if let Some((_, pid)) = name.split_once(".tmp-") {
            let dead = pid.parse::<u32>().is_ok_and(|p| !pid_alive(p));
            if dead {
                let _ = fs::remove_dir_all(&path);
                let _ = fs::remove_file(&path);
            }
        } else if name.starts_with("gen-") {
            let _ = fs::remove_dir_all(&path);
        }
    }
}

/// Writes `files` as the new generation of the set in `dir`, atomically: after
/// an error the previous generation is still the current one.
pub fn write_set(dir: &Path, files: &[(&str, &[u8])]) -> Result<()> {
    fs::create_dir_all(dir).map_err(|e| io_err(dir, e))?;
    let previous = current(dir).ok().flatten();
    clean(dir, previous.as_ref().map(|(_, p)| p.as_path()));
    let n = previous.as_ref().map_or(1, |(n, _)| n + 1);
    let name = format!("gen-{n}");
    let tmp = dir.join(format!("{name}.tmp-{}", std::process::id()));
    let result = (|| -> Result<()> {
        fs::create_dir(&tmp).map_err(|e| io_err(&tmp, e))?;
        let mut listed = Vec::new();
        for (file, bytes) in files {
            let path = tmp.join(file);
            let mut f = fs::File::create(&path).map_err(|e| io_err(&path, e))?;
            f.write_all(bytes).map_err(|e| io_err(&path, e))?;
            f.sync_all().map_err(|e| io_err(&path, e))?;
            crate::io::test_hook(&format!("fileset:wrote {file}"));
            listed.push(json!({"name": file, "bytes": bytes.len(), "md5": hex_md5(bytes)}));
        }
        let manifest = json!({"format": "kindling file set 1", "files": listed}).to_string();
        let path = tmp.join(MANIFEST);
        let mut f = fs::File::create(&path).map_err(|e| io_err(&path, e))?;
        f.write_all(manifest.as_bytes())
            .and_then(|_| f.sync_all())
            .map_err(|e| io_err(&path, e))?;
        sync_dir(&tmp).map_err(|e| io_err(&tmp, e))?;
        let final_dir = dir.join(&name);
        fs::rename(&tmp, &final_dir).map_err(|e| io_err(&final_dir, e))?;
        sync_dir(dir).map_err(|e| io_err(dir, e))?;
        crate::io::test_hook("fileset:before switch");
        crate::io::write_atomic(&dir.join(CURRENT), format!("{name}\n").as_bytes())?;
        sync_dir(dir).map_err(|e| io_err(dir, e))?;
        Ok(())
    })();
    match result {
        Ok(()) => {
            clean(dir, Some(&dir.join(&name)));
            Ok(())
        }
        Err(e) => {
            let _ = fs::remove_dir_all(&tmp);
            // A generation renamed into place but never made current is not the set's.
            if current(dir).ok().flatten().map(|(m, _)| m) != Some(n) {
                let _ = fs::remove_dir_all(dir.join(&name));
            }
            Err(e)
        }
    }
}

/// Reads the current generation of the set in `dir`, each file verified
/// against the manifest and no larger than `max_file_bytes`.
pub fn read_set(dir: &Path, max_file_bytes: u64) -> Result<Vec<(String, Vec<u8>)>> {
    let (_, gen) = current(dir)?.ok_or_else(|| io_err(dir, "no checkpoint here"))?;
    let manifest_path = gen.join(MANIFEST);
    let manifest: Value = serde_json::from_slice(&read_bounded(&manifest_path, 1 << 20)?)
        .map_err(|e| io_err(&manifest_path, format!("damaged checkpoint manifest ({e})")))?;
    let entries = manifest["files"]
        .as_array()
        .ok_or_else(|| io_err(&manifest_path, "damaged checkpoint manifest (no file list)"))?;
    let mut out = Vec::new();
    for entry in entries {
        let (Some(name), Some(size), Some(md5)) = (
            entry["name"].as_str(),
            entry["bytes"].as_u64(),
            entry["md5"].as_str(),
        ) else {
            return Err(io_err(
                &manifest_path,
                "damaged checkpoint manifest (bad entry)",
            ));
        };
        if name.contains('/') || name.contains('\\') || name.starts_with('.') {
            return Err(io_err(
                &manifest_path,
                format!("damaged checkpoint manifest (file name '{name}')"),
            ));
        }
        let path = gen.join(name);
        let bytes = read_bounded(&path, size.min(max_file_bytes))?;
        if bytes.len() as u64 != size || hex_md5(&bytes) != md5 {
            return Err(io_err(
                &path,
                "damaged checkpoint: the file does not match its manifest",
            ));
        }
        out.push((name.to_string(), bytes));
    }
    Ok(out)
}

/// Removes the set in `dir` (all generations and leftovers).
pub fn remove_set(dir: &Path) -> Result<()> {
    match fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_err(dir, e)),
    }
}

/// An exclusive claim on a folder (a run's output folder) by this process: a
/// lock file holding the pid, created only if absent and removed on drop. A
/// lock left by a process that no longer runs is taken over.
pub struct DirLock {
    path: PathBuf,
}

/// The lock file's name in a locked folder.
pub const LOCK_FILE: &str = ".kindling.lock";

impl DirLock {
    /// Claims `dir` (which must exist), or says which live process holds it.
    pub fn acquire(dir: &Path) -> Result<DirLock> {
        let path = dir.join(LOCK_FILE);
        for _ in 0..2 {
            match fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(mut f) => {
                    f.write_all(std::process::id().to_string().as_bytes())
                        .map_err(|e| io_err(&path, e))?;
                    return Ok(DirLock { path });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let holder = read_bounded(&path, 32)
                        .ok()
                        .and_then(|b| String::from_utf8_lossy(&b).trim().parse::<u32>().ok());
                    match holder {
                        Some(pid) if pid != std::process::id() && pid_alive(pid) => {
                            return Err(io_err(
                                dir,
                                format!("in use by another kindling process (pid {pid}); wait for it to finish or choose another folder"),
                            ));
                        }
                        // A dead holder's (or an unreadable) lock: take it over.
                        _ => {
                            let _ = fs::remove_file(&path);
                        }
                    }
                }
                Err(e) => return Err(io_err(&path, e)),
            }
        }
        Err(io_err(&path, "cannot take the folder's lock"))
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("kindling-fileset-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn generations_replace_each_other_and_damage_is_refused() {
        let dir = temp("gen");
        assert!(!set_exists(&dir));
        write_set(&dir, &[("a", b"one"), ("b", b"two")]).unwrap();
        write_set(&dir, &[("a", b"three"), ("b", b"four")]).unwrap();
        let files = read_set(&dir, 1 << 20).unwrap();
        assert_eq!(files[0], ("a".to_string(), b"three".to_vec()));
        let gens: Vec<String> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("gen-"))
            .collect();
        assert_eq!(gens, ["gen-2"], "the old generation is gone");
        // A file changed after the save is refused by name.
        fs::write(dir.join("gen-2/b"), b"fore").unwrap();
        let e = read_set(&dir, 1 << 20).unwrap_err().to_string();
        assert!(e.contains("gen-2/b") && e.contains("does not match"), "{e}");
        // A pointer out of the folder is refused.
        fs::write(dir.join(CURRENT), b"../../etc\n").unwrap();
        assert!(read_set(&dir, 1 << 20).is_err());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_failed_save_keeps_the_previous_generation() {
        let dir = temp("fail");
        write_set(&dir, &[("a", b"good")]).unwrap();
        // A file name that cannot be created fails the save half way.
        assert!(write_set(&dir, &[("a", b"new"), ("no/such/dir", b"x")]).is_err());
        assert_eq!(read_set(&dir, 1 << 20).unwrap()[0].1, b"good");
        let leftovers: Vec<String> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(".tmp-"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn reads_are_bounded() {
        let dir = temp("bound");
        write_set(&dir, &[("big", &[0u8; 1000])]).unwrap();
        let e = read_set(&dir, 100).unwrap_err().to_string();
        assert!(e.contains("more than the 100"), "{e}");
        fs::remove_dir_all(&dir).unwrap();
    }
}
