//! A tiny HTTP/1.1 server on 127.0.0.1 for download tests: it serves fixed
//! routes, can answer 404 or cut a response short, and stops when dropped.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

#[derive(Clone)]
pub enum Reply {
    /// 200 with the whole body.
    Body(Vec<u8>),
    /// 200 announcing the whole length but closing after `cut` bytes.
    Truncated(Vec<u8>, usize),
    /// 200 announcing the whole length, sending `cut` bytes, then nothing
    /// (the connection stays open until the client gives up or the server stops).
    Stall(Vec<u8>, usize),
    /// 200 sending one byte of the body every `interval`.
    Trickle(Vec<u8>, Duration),
    /// 200 with no length and zeros forever.
    Endless,
}

pub struct Server {
    pub url: String,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// Serves `routes` (path → reply); any other path gets 404.
    pub fn start(routes: HashMap<String, Reply>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let url = format!("http://{}", listener.local_addr().unwrap());
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => serve(stream, &routes, &flag),
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Server {
            url,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Sleeps for `d` in small steps, returning early when the server stops.
fn pause(d: Duration, stop: &AtomicBool) -> bool {
    let end = std::time::Instant::now() + d;
    while std::time::Instant::now() < end {
        if stop.load(Ordering::Relaxed) {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    true
}

fn serve(stream: TcpStream, routes: &HashMap<String, Reply>, stop: &AtomicBool) {
    stream.set_nonblocking(false).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request = String::new();
    if reader.read_line(&mut request).is_err() {
        return;
    }
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
    }
    let path = request.split_whitespace().nth(1).unwrap_or("/").to_string();
    let mut out = stream;
    match routes.get(&path) {
        Some(Reply::Body(body)) => {
            let _ = write!(
                out,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = out.write_all(body);
        }
        Some(Reply::Truncated(body, cut)) => {
            let _ = write!(
                out,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = out.write_all(&body[..*cut]);
        }
        Some(Reply::Stall(body, cut)) => {
            let _ = write!(
                out,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = out.write_all(&body[..*cut]);
            let _ = out.flush();
            // Until the client hangs up (a read sees the end) or the server stops.
            let _ = out.set_read_timeout(Some(Duration::from_millis(50)));
            let mut probe = [0u8; 1];
            while !stop.load(Ordering::Relaxed) {
                match std::io::Read::read(&mut out, &mut probe) {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(_) => {}
                }
            }
        }
        Some(Reply::Trickle(body, interval)) => {
            let _ = write!(
                out,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            for b in body {
                if out.write_all(&[*b]).and_then(|_| out.flush()).is_err()
                    || !pause(*interval, stop)
                {
                    break;
                }
            }
        }
        Some(Reply::Endless) => {
            let _ = write!(out, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
            let zeros = vec![0u8; 1 << 16];
            while !stop.load(Ordering::Relaxed) && out.write_all(&zeros).is_ok() {}
        }
        None => {
            let _ = write!(
                out,
                "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
        }
    }
    let _ = out.flush();
}
