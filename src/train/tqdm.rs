//! [`tqdm`]: a progress meter around any iterator, as Python's `tqdm`.

use std::cell::RefCell;
use std::fmt::Write as _;
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// Wraps an iterator in a progress meter, like Python's `tqdm(iterable)`.
///
/// On a terminal it redraws one line on stderr (as `tqdm` does), at most ten
/// times a second, in tqdm's format:
///
/// ```text
/// epoch 1:  45%|████▌     | 422/938 [00:01<00:01, 402.15it/s, loss=0.312]
/// ```
///
/// When stderr is not a terminal (a log file, a pipe, CI) it prints plain lines
/// instead of redrawing: one each time another tenth of the total is done and
/// one at the end (at most ten), or every ten seconds when the total is
/// unknown.
///
/// NOTE(tqdm-stream): like Python's tqdm it writes to stderr, and decides
/// between redrawing and plain lines by whether stderr is a terminal: with
/// `cargo run > out.txt` the bar stays on the screen and the file stays clean.
/// The total comes from the iterator's exact size hint (a `DataLoader`'s
/// batches have one) or from [`Tqdm::total`].
///
/// To update the postfix from inside the loop, iterate over a reference:
///
/// ```
/// use kindling::train::tqdm;
///
/// let pbar = tqdm(0..100).desc("steps").disable(true);
/// for step in &pbar {
///     pbar.set_postfix(&[("loss", 1.0 / (step + 1) as f64)]);
/// }
/// assert_eq!(pbar.n(), 100);
/// assert_eq!(pbar.postfix(), "loss=0.01");
/// ```
///
/// `for x in tqdm(iter)` works too, when nothing is updated inside.
pub fn tqdm<I: IntoIterator>(iterable: I) -> Tqdm<I::IntoIter> {
    let iter = iterable.into_iter();
    let total = match iter.size_hint() {
        (low, Some(high)) if low == high => Some(low as u64),
        _ => None,
    };
    Tqdm {
        iter: RefCell::new(iter),
        meter: RefCell::new(Meter {
            desc: String::new(),
            postfix: String::new(),
            total,
            n: 0,
            initial: 0,
            leave: true,
            disable: false,
            mode: None,
            start: Instant::now(),
            last_draw: None,
            next_tenth: 1,
            finished: false,
        }),
    }
}

/// The progress meter returned by [`tqdm`]; iterate over it (or over `&it`).
pub struct Tqdm<I> {
    iter: RefCell<I>,
    meter: RefCell<Meter>,
}

struct Meter {
    desc: String,
    postfix: String,
    total: Option<u64>,
    n: u64,
    initial: u64,
    leave: bool,
    disable: bool,
    mode: Option<Mode>,
    start: Instant,
    last_draw: Option<Instant>,
    next_tenth: u64,
    finished: bool,
}

/// How a meter line draws its bar.
#[derive(Clone, Copy)]
enum BarStyle {
    /// No bar (the text alone).
    None,
    /// Ten ASCII columns, for plain lines in logs.
    Ascii,
    /// Unicode blocks filling a terminal this wide.
    Fit(usize),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Hidden,
    Terminal,
    Lines,
}

impl<I> Tqdm<I> {
    /// The prefix shown before the meter (`desc=` in Python).
    pub fn desc(self, desc: impl Into<String>) -> Self {
        self.meter.borrow_mut().desc = desc.into();
        self
    }

    /// The number of items expected, when the iterator cannot tell.
    pub fn total(self, total: usize) -> Self {
        self.meter.borrow_mut().total = Some(total as u64);
        self
    }

    /// Items already done before this iterator starts (a resumed epoch): the
    /// count starts there, the rate counts only the new ones.
    pub fn initial(self, initial: usize) -> Self {
        {
            let mut m = self.meter.borrow_mut();
            m.initial = initial as u64;
            m.n = initial as u64;
        }
        self
    }

    /// Keep the finished meter's line on the terminal (default), or clear it.
    pub fn leave(self, leave: bool) -> Self {
        self.meter.borrow_mut().leave = leave;
        self
    }

    /// Show nothing at all.
    pub fn disable(self, disable: bool) -> Self {
        self.meter.borrow_mut().disable = disable;
        self
    }

    /// Sets the postfix from name–value pairs, numbers formatted as `tqdm`
    /// does (`loss=0.312`).
    pub fn set_postfix(&self, pairs: &[(&str, f64)]) {
        let text = pairs
            .iter()
            .map(|(k, v)| format!("{k}={}", format_num(*v)))
            .collect::<Vec<_>>()
            .join(", ");
        self.set_postfix_str(text);
    }

    /// Sets the postfix text as given.
    pub fn set_postfix_str(&self, postfix: impl Into<String>) {
        let mut m = self.meter.borrow_mut();
        m.postfix = postfix.into();
        m.refresh(false);
    }

    /// Changes the prefix.
    pub fn set_description(&self, desc: impl Into<String>) {
        let mut m = self.meter.borrow_mut();
        m.desc = desc.into();
        m.refresh(false);
    }

    /// Items done so far (including `initial`).
    pub fn n(&self) -> u64 {
        self.meter.borrow().n
    }

    /// The current postfix text.
    pub fn postfix(&self) -> String {
        self.meter.borrow().postfix.clone()
    }

    /// The meter's current text, as it would be printed without a bar.
    pub fn text(&self) -> String {
        self.meter.borrow().line(BarStyle::None)
    }

    /// Ends the meter now (also done when the iterator is exhausted or dropped).
    pub fn close(&self) {
        self.meter.borrow_mut().finish();
    }

    fn next_item(&self) -> Option<I::Item>
    where
        I: Iterator,
    {
        let item = self.iter.borrow_mut().next();
        let mut m = self.meter.borrow_mut();
        match item {
            Some(v) => {
                m.n += 1;
                m.refresh(false);
                Some(v)
            }
            None => {
                m.finish();
                None
            }
        }
    }
}

impl<I> Drop for Tqdm<I> {
    fn drop(&mut self) {
        self.meter.get_mut().finish();
    }
}

impl<I: Iterator> Iterator for Tqdm<I> {
    type Item = I::Item;

    fn next(&mut self) -> Option<I::Item> {
        self.next_item()
    }
}

/// Iterating over `&pbar`, so the loop body can call `pbar.set_postfix`.
pub struct TqdmIter<'a, I> {
    tqdm: &'a Tqdm<I>,
}

impl<I: Iterator> Iterator for TqdmIter<'_, I> {
    type Item = I::Item;

    fn next(&mut self) -> Option<I::Item> {
        self.tqdm.next_item()
    }
}

impl<'a, I: Iterator> IntoIterator for &'a Tqdm<I> {
    type Item = I::Item;
    type IntoIter = TqdmIter<'a, I>;

    fn into_iter(self) -> TqdmIter<'a, I> {
        TqdmIter { tqdm: self }
    }
}

/// Seconds between redraws on a terminal (tqdm's `mininterval`).
const MIN_INTERVAL: Duration = Duration::from_millis(100);
/// Seconds between plain lines when the total is unknown.
const LINE_INTERVAL: Duration = Duration::from_secs(10);

impl Meter {
    fn mode(&mut self) -> Mode {
        *self.mode.get_or_insert_with(|| {
            if self.disable {
                Mode::Hidden
            } else if std::io::stderr().is_terminal() {
                Mode::Terminal
            } else {
                Mode::Lines
            }
        })
    }

    /// Draws when it is time to (or always, when `force`).
    fn refresh(&mut self, force: bool) {
        if self.finished {
            return;
        }
        let now = Instant::now();
        match self.mode() {
            Mode::Hidden => {}
            Mode::Terminal => {
                if force || self.last_draw.is_none_or(|t| now - t >= MIN_INTERVAL) {
                    self.last_draw = Some(now);
                    let width = terminal_width();
                    let line = self.line(BarStyle::Fit(width));
                    let mut err = std::io::stderr().lock();
                    let _ = write!(err, "\r{line}\x1b[K");
                    let _ = err.flush();
                }
            }
            Mode::Lines => {
                let due = match self.total {
                    // The last line waits for `finish`, to show the final postfix.
                    Some(total) if total > 0 && self.n < total => {
                        let tenth = self.n * 10 / total;
                        if tenth >= self.next_tenth {
                            self.next_tenth = tenth + 1;
                            true
                        } else {
                            false
                        }
                    }
                    Some(_) => false,
                    None => self.last_draw.is_none_or(|t| now - t >= LINE_INTERVAL),
                };
                if due || force {
                    self.last_draw = Some(now);
                    eprintln!("{}", self.line(BarStyle::Ascii));
                }
            }
        }
    }

    fn finish(&mut self) {
        if self.finished {
            return;
        }
        match self.mode() {
            Mode::Hidden => {}
            Mode::Terminal => {
                let line = self.line(BarStyle::Fit(terminal_width()));
                let mut err = std::io::stderr().lock();
                if self.leave {
                    let _ = writeln!(err, "\r{line}\x1b[K");
                } else {
                    let _ = write!(err, "\r\x1b[K");
                }
                let _ = err.flush();
            }
            Mode::Lines => eprintln!("{}", self.line(BarStyle::Ascii)),
        }
        self.finished = true;
    }

    /// tqdm's `format_meter`: `desc: 45%|████▌     | 422/938 [00:01<00:01,
    /// 402.15it/s, postfix]`.
    fn line(&self, style: BarStyle) -> String {
        let elapsed = self.start.elapsed().as_secs_f64();
        let done = self.n - self.initial;
        // Like tqdm's `?it/s` at the start: a rate from a few milliseconds says nothing.
        let rate = (elapsed >= 0.05 && done > 0).then(|| done as f64 / elapsed);
        let rate_text = match rate {
            Some(r) if r >= 1.0 => format!("{r:5.2}it/s"),
            Some(r) => format!("{:5.2}s/it", 1.0 / r),
            None => "?it/s".to_string(),
        };
        let postfix = if self.postfix.is_empty() {
            String::new()
        } else {
            format!(", {}", self.postfix)
        };
        let desc = if self.desc.is_empty() {
            String::new()
        } else {
            format!("{}: ", self.desc)
        };
        let Some(total) = self.total else {
            return format!(
                "{desc}{} [{}, {rate_text}{postfix}]",
                self.n,
                format_interval(elapsed)
            );
        };
        let fraction = if total == 0 {
            1.0
        } else {
            (self.n as f64 / total as f64).min(1.0)
        };
        let remaining = match rate {
            Some(r) => format_interval(total.saturating_sub(self.n) as f64 / r),
            None => "?".to_string(),
        };
        let left = format!("{desc}{:3.0}%|", fraction * 100.0);
        let right = format!(
            "| {}/{total} [{}<{remaining}, {rate_text}{postfix}]",
            self.n,
            format_interval(elapsed)
        );
        match style {
            BarStyle::None => format!("{left}{right}"),
            BarStyle::Ascii => format!("{left}{}{right}", bar(fraction, 10, false)),
            BarStyle::Fit(width) => {
                let used = left.chars().count() + right.chars().count();
                let bar_width = width.saturating_sub(used + 1).max(1);
                format!("{left}{}{right}", bar(fraction, bar_width, true))
            }
        }
    }
}

/// tqdm's bar: full blocks and one partial block (unicode), or `#` (ASCII).
fn bar(fraction: f64, width: usize, unicode: bool) -> String {
    let mut s = String::with_capacity(width * 3);
    if unicode {
        const PARTS: [char; 8] = [' ', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];
        let eighths = (fraction * width as f64 * 8.0) as usize;
        let (full, part) = (eighths / 8, eighths % 8);
        for _ in 0..full.min(width) {
            s.push('█');
        }
        if full < width {
            s.push(PARTS[part]);
            for _ in full + 1..width {
                s.push(' ');
            }
        }
    } else {
        let full = ((fraction * width as f64) as usize).min(width);
        let _ = write!(s, "{}{}", "#".repeat(full), " ".repeat(width - full));
    }
    s
}

/// `MM:SS`, or `H:MM:SS` from an hour on (tqdm's `format_interval`).
fn format_interval(seconds: f64) -> String {
    let s = seconds.max(0.0) as u64;
    let (h, m, s) = (s / 3600, s / 60 % 60, s % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m:02}:{s:02}")
    }
}

/// A number as tqdm's postfix shows it: three significant digits (`%.3g`, with
/// `e+3` for `e+03`), or the plain number when that is shorter.
pub(crate) fn format_num(v: f64) -> String {
    if !v.is_finite() {
        return if v.is_nan() {
            "nan".into()
        } else if v > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        };
    }
    let plain = format!("{v:?}"); // `1234.0`, as Python's `str` writes a float
    if v == 0.0 {
        return "0".into();
    }
    let sci = format!("{v:.2e}"); // "3.12e-1": the rounding decides the exponent
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let strip = |s: &str| -> String {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s.to_string()
        }
    };
    let g = if (-4..3).contains(&exp) {
        let decimals = (2 - exp).max(0) as usize;
        strip(&format!("{v:.decimals$}"))
    } else {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{}e{sign}{}", strip(mantissa), exp.abs())
    };
    if g.len() < plain.len() {
        g
    } else {
        plain
    }
}

/// The terminal's width in columns (80 when it cannot be asked).
fn terminal_width() -> usize {
    // SAFETY: TIOCGWINSZ fills a winsize struct for a terminal descriptor and
    // fails (leaving it zeroed) for anything else.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    let ok = unsafe { libc::ioctl(libc::STDERR_FILENO, libc::TIOCGWINSZ, &mut ws) } == 0;
    if ok && ws.ws_col > 0 {
        ws.ws_col as usize
    } else {
        80
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_as_tqdm_formats_them() {
        for (v, want) in [
            (0.31234, "0.312"),
            (1234.0, "1234.0"),
            (123456.5, "1.23e+5"),
            (0.000123456, "0.000123"),
            (0.0000123456, "1.23e-5"),
            (999.7, "1e+3"),
            (2.0, "2"),
            (91.23456, "91.2"),
            (0.0, "0"),
        ] {
            assert_eq!(format_num(v), want, "{v}");
        }
    }

    #[test]
    fn meter_text_has_tqdm_fields() {
        let p = tqdm(0..4).desc("epoch 1").disable(true);
        let mut it = (&p).into_iter();
        it.next();
        it.next();
        p.set_postfix(&[("loss", 0.5)]);
        let text = p.text();
        assert!(text.starts_with("epoch 1:  50%|| 2/4 ["), "{text}");
        assert!(text.ends_with(", loss=0.5]"), "{text}");
        assert_eq!(format_interval(3725.0), "1:02:05");
        assert_eq!(format_interval(65.0), "01:05");
        assert_eq!(bar(0.5, 10, false), "#####     ");
        assert_eq!(bar(0.55, 4, true).chars().count(), 4);
    }
}
