//! Downloading dataset files: each file from the first mirror that serves it
//! whole, checked against its published MD5, written under a temporary name and
//! renamed only once complete, with a progress bar.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use md5::{Digest, Md5};

use crate::error::{Error, Result};

/// One file to fetch and the MD5 its publisher gives for it.
#[derive(Clone, Debug)]
pub struct Resource {
    /// File name, appended to each mirror's URL.
    pub file: String,
    /// Lower-case hex MD5 of the file as served.
    pub md5: String,
}

/// Hex MD5 of a byte stream.
pub fn md5_hex(mut reader: impl Read) -> std::io::Result<String> {
    let mut h = Md5::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(format!("{:x}", h.finalize()))
}

fn temp_name(dest: &Path) -> PathBuf {
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    dest.with_file_name(format!(".{name}.part-{}", std::process::id()))
}

/// Fetches every resource missing from `dir`, trying `mirrors` in order for each.
/// Files already present are left alone. On failure nothing is left under a
/// final name, and the error lists what each mirror answered.
pub fn download(
    dir: &Path,
    mirrors: &[String],
    resources: &[Resource],
    show_progress: bool,
) -> Result<()> {
    fs::create_dir_all(dir).map_err(|e| Error::Io {
        path: dir.to_path_buf(),
        message: e.to_string(),
    })?;
    for r in resources {
        let dest = dir.join(&r.file);
        if dest.exists() {
            continue;
        }
        let mut failures = Vec::new();
        for mirror in mirrors {
            let url = format!("{}/{}", mirror.trim_end_matches('/'), r.file);
            let tmp = temp_name(&dest);
            let result = fetch(&url, &tmp, &r.md5, show_progress)
                .and_then(|()| fs::rename(&tmp, &dest).map_err(|e| e.to_string()));
            match result {
                Ok(()) => {
                    failures.clear();
                    break;
                }
                Err(reason) => {
                    let _ = fs::remove_file(&tmp);
                    failures.push(format!("{url}: {reason}"));
                }
            }
        }
        if !failures.is_empty() {
            return Err(Error::Io {
                path: dest,
                message: format!(
                    "download failed from every mirror ({})",
                    failures.join("; ")
                ),
            });
        }
    }
    Ok(())
}

#[cfg(feature = "download")]
fn fetch(
    url: &str,
    tmp: &Path,
    expected_md5: &str,
    show_progress: bool,
) -> std::result::Result<(), String> {
    use std::time::Duration;

    let config = ureq::Agent::config_builder()
        .timeout_connect(Some(Duration::from_secs(20)))
        .timeout_recv_response(Some(Duration::from_secs(60)))
        .http_status_as_error(false)
        .build();
    let agent = ureq::Agent::new_with_config(config);
    let response = agent.get(url).call().map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    if status != 200 {
        return Err(format!("HTTP {status}"));
    }
    let length: Option<u64> = response
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok()?.parse().ok());
    let bar = progress_bar(length, show_progress, url);
    let mut reader = response.into_body().into_reader();
    let mut file =
        fs::File::create(tmp).map_err(|e| format!("cannot create {}: {e}", tmp.display()))?;
    let mut hasher = Md5::new();
    let mut got = 0u64;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => return Err(format!("connection lost after {got} bytes ({e})")),
        };
        hasher.update(&buf[..n]);
        file.write_all(&buf[..n])
            .map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
        got += n as u64;
        bar.inc(n as u64);
    }
    bar.finish_and_clear();
    if let Some(len) = length {
        if got != len {
            return Err(format!("connection closed after {got} of {len} bytes"));
        }
    }
    file.sync_all().map_err(|e| e.to_string())?;
    let digest = format!("{:x}", hasher.finalize());
    if digest != expected_md5 {
        return Err(format!(
            "checksum mismatch: MD5 {digest}, expected {expected_md5}"
        ));
    }
    Ok(())
}

#[cfg(feature = "download")]
fn progress_bar(length: Option<u64>, show: bool, url: &str) -> indicatif::ProgressBar {
    use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
    let bar = match length {
        Some(n) => ProgressBar::new(n),
        None => ProgressBar::no_length(),
    };
    if !show {
        bar.set_draw_target(ProgressDrawTarget::hidden());
        return bar;
    }
    // Hidden automatically when stderr is not a terminal; say what happens instead.
    if !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        eprintln!("downloading {url}");
    }
    bar.set_draw_target(ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template(
        "{msg} {bar:30} {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_message(url.rsplit('/').next().unwrap_or(url).to_string());
    bar
}

#[cfg(not(feature = "download"))]
fn fetch(_url: &str, _tmp: &Path, _md5: &str, _show: bool) -> std::result::Result<(), String> {
    Err("this kindling was built without the `download` feature".into())
}
