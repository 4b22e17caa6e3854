//! Downloading dataset files: each file from the first mirror that serves it
//! whole, checked against its published MD5, written under a temporary name and
//! renamed only once complete, with a progress bar.

use std::fs;
use std::io::Read;
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
    /// The most bytes accepted for it (twice its published size): a server
    /// that sends more, or announces more, is refused before the disk fills.
    pub max_bytes: u64,
}

/// NOTE(download-limits): a download gives up, leaving no file, when no byte
/// arrives for `KINDLING_DOWNLOAD_TIMEOUT` seconds (default 30), when fewer than
/// 1 KiB per second on average arrived over that long (a trickle), or when the
/// body outgrows the file's `max_bytes`; connecting and the response headers
/// have the same timeout.
pub fn download_timeout() -> std::time::Duration {
    let secs = std::env::var("KINDLING_DOWNLOAD_TIMEOUT")
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|s| *s > 0.0 && s.is_finite())
        .unwrap_or(30.0);
    std::time::Duration::from_secs_f64(secs)
}

/// The mirrors to try: `KINDLING_MIRRORS` (URLs separated by commas or
/// spaces) when set, else `defaults`.
pub fn mirrors_from_env(defaults: Vec<String>) -> Vec<String> {
    match std::env::var("KINDLING_MIRRORS") {
        Ok(v) if !v.trim().is_empty() => v
            .split([',', ' '])
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        _ => defaults,
    }
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

/// Removes the partial downloads (`.NAME.part-PID`) and temporary files
/// (`.NAME.tmp-PID`) that processes which no longer run left in `dir`.
pub fn clean_stale_files(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let pid = name
            .rsplit_once(".part-")
            .or_else(|| name.rsplit_once(".tmp-"))
            .filter(|_| name.starts_with('.'))
            .and_then(|(_, pid)| pid.parse::<u32>().ok());
        if let Some(pid) = pid {
            if pid != std::process::id() && !crate::io::pid_alive(pid) {
                let _ = fs::remove_file(e.path());
            }
        }
    }
}

/// Fetches every resource missing from `dir`, trying `mirrors` in order for each.
/// Files already present are left alone. On failure nothing is left under a
/// final name (nor a folder this call made and left empty), and the error
/// lists what each mirror answered. Limits: NOTE(download-limits).
pub fn download(
    dir: &Path,
    mirrors: &[String],
    resources: &[Resource],
    show_progress: bool,
) -> Result<()> {
    // The folders this call makes, to remove again if nothing lands in them.
    let mut made = Vec::new();
    let mut d = Some(dir);
    while let Some(p) = d.filter(|p| !p.as_os_str().is_empty() && !p.exists()) {
        made.push(p.to_path_buf());
        d = p.parent();
    }
    fs::create_dir_all(dir).map_err(|e| Error::Io {
        path: dir.to_path_buf(),
        message: e.to_string(),
    })?;
    clean_stale_files(dir);
    let result = fetch_all(dir, mirrors, resources, show_progress);
    if result.is_err() {
        for p in &made {
            let _ = fs::remove_dir(p);
        }
    }
    result
}

fn fetch_all(
    dir: &Path,
    mirrors: &[String],
    resources: &[Resource],
    show_progress: bool,
) -> Result<()> {
    if mirrors.is_empty() {
        return Err(Error::Io {
            path: dir.to_path_buf(),
            message: "no mirror to download from".into(),
        });
    }
    for r in resources {
        let dest = dir.join(&r.file);
        if dest.exists() {
            continue;
        }
        let mut failures = Vec::new();
        for mirror in mirrors {
            let url = format!("{}/{}", mirror.trim_end_matches('/'), r.file);
            let tmp = temp_name(&dest);
            let result = fetch(&url, &tmp, r, show_progress)
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
    resource: &Resource,
    show_progress: bool,
) -> std::result::Result<(), String> {
    use std::io::Write;
    use std::time::Instant;

    if !cfg!(feature = "https") && url.starts_with("https://") {
        return Err("this kindling was built without the `https` feature, so it fetches over plain HTTP only".into());
    }
    let timeout = download_timeout();
    let config = ureq::Agent::config_builder()
        .timeout_connect(Some(timeout))
        .timeout_recv_response(Some(timeout))
        .timeout_per_read(Some(timeout))
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
    let max = resource.max_bytes;
    if let Some(len) = length.filter(|&l| l > max) {
        return Err(format!(
            "the server announces {len} bytes, more than the {max} this file can have"
        ));
    }
    let bar = progress_bar(length, show_progress, url);
    let mut reader = response
        .into_body()
        .into_with_config()
        .limit(max.saturating_add(1))
        .reader();
    let mut file =
        fs::File::create(tmp).map_err(|e| format!("cannot create {}: {e}", tmp.display()))?;
    let mut hasher = Md5::new();
    let mut got = 0u64;
    let mut buf = vec![0u8; 1 << 16];
    let start = Instant::now();
    // (when, bytes so far): the start of the current rate window.
    let mut window = (start, 0u64);
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if is_timeout(&e) => {
                return Err(format!(
                    "no data for {:.0} s after {got} bytes (set KINDLING_DOWNLOAD_TIMEOUT for slow links)",
                    timeout.as_secs_f64()
                ))
            }
            Err(e) => return Err(format!("connection lost after {got} bytes ({e})")),
        };
        got += n as u64;
        if got > max {
            return Err(format!("more than the {max} bytes this file can have"));
        }
        hasher.update(&buf[..n]);
        file.write_all(&buf[..n])
            .map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
        bar.inc(n as u64);
        let now = Instant::now();
        if now - window.0 >= timeout {
            let rate = (got - window.1) as f64 / (now - window.0).as_secs_f64();
            if rate < 1024.0 {
                return Err(format!(
                    "too slow: {:.0} bytes/s over the last {:.0} s, after {got} bytes",
                    rate,
                    (now - window.0).as_secs_f64()
                ));
            }
            window = (now, got);
        }
    }
    bar.finish_and_clear();
    if let Some(len) = length {
        if got != len {
            return Err(format!("connection closed after {got} of {len} bytes"));
        }
    }
    file.sync_all().map_err(|e| e.to_string())?;
    let digest = format!("{:x}", hasher.finalize());
    if digest != resource.md5 {
        return Err(format!(
            "checksum mismatch: MD5 {digest}, expected {}",
            resource.md5
        ));
    }
    if show_progress && !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        // In a log, where no bar is drawn, one line per file, after the fact.
        eprintln!("downloaded {url} ({got} bytes)");
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
fn fetch(_url: &str, _tmp: &Path, _r: &Resource, _show: bool) -> std::result::Result<(), String> {
    Err("this kindling was built without the `download` feature".into())
}

/// Whether a read failed because no data came within the timeout: ureq
/// wraps its own `Timeout` error inside the `io::Error` its body reader
/// returns.
#[cfg(feature = "download")]
fn is_timeout(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::TimedOut
        || e.get_ref()
            .and_then(|inner| inner.downcast_ref::<ureq::Error>())
            .is_some_and(|u| matches!(u, ureq::Error::Timeout(_)))
}
