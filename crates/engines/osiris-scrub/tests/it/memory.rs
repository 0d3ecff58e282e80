//! Huge inputs stream through in bounded memory. What the scrubber holds is
//! what it has read and not yet written, so the tests follow that lag
//! between a generating reader and a counting writer, at every read.
//! (Values in these inputs are shorter than their tokens, so written bytes
//! never trail the input they stand for.)

use std::cell::Cell;
use std::io::{Read, Write};
use std::rc::Rc;

use crate::scrubber;

#[derive(Default)]
struct Counters {
    read: Cell<usize>,
    written: Cell<usize>,
    tokens: Cell<usize>,
    max_lag: Cell<usize>,
}

/// Generates `left` bytes from `next_piece`, noting the lag before each read.
struct Source<F> {
    left: usize,
    pending: Vec<u8>,
    next_piece: F,
    counters: Rc<Counters>,
}

impl<F: FnMut() -> Vec<u8>> Read for Source<F> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let c = &self.counters;
        let lag = c.read.get().saturating_sub(c.written.get());
        c.max_lag.set(c.max_lag.get().max(lag));
        if self.pending.is_empty() && self.left > 0 {
            self.pending = (self.next_piece)();
            self.pending.truncate(self.left);
            self.left -= self.pending.len();
        }
        let n = buf.len().min(self.pending.len());
        buf[..n].copy_from_slice(&self.pending[..n]);
        self.pending.drain(..n);
        c.read.set(c.read.get() + n);
        Ok(n)
    }
}

/// Counts what it is given and keeps nothing.
struct Sink(Rc<Counters>);

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let c = &self.0;
        c.written.set(c.written.get() + buf.len());
        let tokens = buf.windows(5).filter(|w| w == b"[PHI:").count();
        c.tokens.set(c.tokens.get() + tokens);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn stream(len: usize, next_piece: impl FnMut() -> Vec<u8>) -> (Rc<Counters>, u64) {
    let counters = Rc::new(Counters::default());
    let source = Source {
        left: len,
        pending: Vec::new(),
        next_piece,
        counters: Rc::clone(&counters),
    };
    let report = scrubber()
        .scrub_stream(source, Sink(Rc::clone(&counters)))
        .unwrap();
    (counters, report.total())
}

#[test]
fn sixteen_mebibytes_of_log_lines_stream_holding_only_a_block() {
    let len = 16 << 20;
    let mut line = 0_usize;
    let (counters, redactions) = stream(len, || {
        line += 1;
        let text = if line.is_multiple_of(10) {
            format!(
                "Patient: Ann Lee SSN 219-09-{:04} from 73.162.44.201\n",
                line % 9000 + 1000
            )
        } else {
            format!(
                "{line} INFO backup job {} finished on 10.20.1.5 in 00:12:31\n",
                line * 7
            )
        };
        text.into_bytes()
    });
    assert_eq!(counters.read.get(), len);
    assert!(counters.written.get() > len);
    let lag = counters.max_lag.get();
    assert!(
        lag < 64 << 10,
        "held up to {lag} bytes of a {len}-byte input"
    );
    assert_eq!(redactions as usize, counters.tokens.get());
    // One line in ten carries a name, an SSN and a public address.
    assert!(redactions > 80_000, "{redactions}");
}

#[test]
fn a_line_without_newlines_is_held_to_the_line_limit() {
    let len = 4 * osiris_scrub::MAX_LINE;
    let (counters, redactions) = stream(len, || b"x SSN 219-09-9999 \xff\xfe ".to_vec());
    assert_eq!(counters.read.get(), len);
    let lag = counters.max_lag.get();
    assert!(
        lag <= osiris_scrub::MAX_LINE + (64 << 10),
        "held up to {lag} bytes of a {len}-byte line"
    );
    assert!(
        lag >= osiris_scrub::MAX_LINE / 2,
        "a line is cut near the limit, not before"
    );
    assert_eq!(redactions as usize, counters.tokens.get());
    assert!(redactions > 100_000);
}
