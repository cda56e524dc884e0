//! One record of a text input at a time, never more than [`MAX_RECORD_BYTES`] of it in memory.
//!
//! A gzip bomb (2 GiB of zeros in 2 MB) is one "line" of 2 GiB: read whole, it took 6-7 GB of
//! RSS and panicked building an Arrow array (#28). So a line, an SDF record or a CSV record is
//! read into a bounded buffer: past the limit the rest is consumed without being kept, only
//! counted and hashed, and the record becomes a `too_large` reject that names its length, the
//! xxh3 of its bytes and its first bytes.

use std::io::{self, BufRead};

use xxhash_rust::xxh3::Xxh3;

use crate::transform::Reject;

/// Largest record kept: a line of a SMILES file, an SDF record (molblock and data fields), a
/// CSV/TSV record. Real records are far below it (the largest natural products' SMILES are
/// ~700 bytes, a 1,000-atom molblock ~100 KiB, and `--max-heavy-atoms` rejects more atoms).
pub const MAX_RECORD_BYTES: usize = 1 << 20;

/// Fields of a CSV record kept (more make it `too_large`).
const MAX_FIELDS: usize = 1 << 16;

/// First bytes of a `too_large` record kept in its reject.
const HEAD_BYTES: usize = 64;

/// The reject of a record of `bytes` bytes whose bytes hashed to `hash` and began with `head`.
pub(super) fn too_large(bytes: u64, hash: &Xxh3, head: &[u8]) -> Reject {
    Reject::RecordTooLarge(format!(
        "record of {bytes} bytes, over the limit of {MAX_RECORD_BYTES}; not kept (xxh3 {:016x}, begins {:?})",
        hash.digest(),
        String::from_utf8_lossy(&head[..head.len().min(HEAD_BYTES)])
    ))
}

/// `fill_buf`, retried when interrupted.
fn fill(r: &mut dyn BufRead) -> io::Result<&[u8]> {
    loop {
        match r.fill_buf() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
            Ok(_) => break,
        }
    }
    // the data is buffered now: this call returns it without reading
    r.fill_buf()
}

/// Reads one line: keeps its first `keep` bytes in `line` (without the line end), hashes all of
/// them, line end included, into `hash`. Returns the bytes consumed (0 at the end of the input).
pub(super) fn read_line(r: &mut dyn BufRead, line: &mut Vec<u8>, keep: usize, hash: &mut Xxh3) -> io::Result<u64> {
    line.clear();
    let mut consumed = 0u64;
    loop {
        let buf = fill(r)?;
        if buf.is_empty() {
            break;
        }
        let (n, done) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (buf.len(), false),
        };
        let room = keep.saturating_sub(line.len()).min(n);
        line.extend_from_slice(&buf[..room]);
        hash.update(&buf[..n]);
        r.consume(n);
        consumed += n as u64;
        if done {
            break;
        }
    }
    while matches!(line.last(), Some(b'\n' | b'\r')) {
        line.pop();
    }
    Ok(consumed)
}

/// What [`CsvRecords::next`] found.
pub(super) enum CsvRead {
    /// A record: its fields are [`CsvRecords::field`].
    Record,
    /// A record over the limit, consumed and not kept.
    TooLarge(Reject),
    /// The end of the input.
    End,
}

/// CSV/TSV records, parsed by `csv_core` into bounded buffers (the `csv` crate's reader grows
/// its record to whatever the input holds).
pub(super) struct CsvRecords {
    reader: csv_core::Reader,
    input: Box<dyn BufRead>,
    fields: Vec<u8>,
    ends: Vec<usize>,
    nfields: usize,
    /// Lines consumed so far.
    lines: u64,
    /// Line on which the last record started (1-based).
    pub line: u64,
}

impl CsvRecords {
    pub(super) fn new(input: Box<dyn BufRead>, delimiter: u8) -> Self {
        Self {
            reader: csv_core::ReaderBuilder::new().delimiter(delimiter).build(),
            input,
            fields: vec![0; 4096],
            ends: vec![0; 64],
            nfields: 0,
            lines: 0,
            line: 0,
        }
    }

    /// Number of fields of the last record read.
    pub(super) fn len(&self) -> usize {
        self.nfields
    }

    /// Field `i` of the last record read.
    pub(super) fn field(&self, i: usize) -> Option<&[u8]> {
        let end = *self.ends[..self.nfields].get(i)?;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        Some(&self.fields[start..end])
    }

    /// Reads the next record.
    pub(super) fn next(&mut self) -> io::Result<CsvRead> {
        let (mut nbytes, mut over, mut bytes) = (0usize, false, 0u64);
        let (mut hash, mut head) = (Xxh3::new(), Vec::new());
        self.nfields = 0;
        self.line = self.lines + 1;
        loop {
            let input = fill(self.input.as_mut())?;
            let (res, nin, nout, nend) =
                self.reader.read_record(input, &mut self.fields[nbytes..], &mut self.ends[self.nfields..]);
            hash.update(&input[..nin]);
            bytes += nin as u64;
            self.lines += input[..nin].iter().filter(|&&b| b == b'\n').count() as u64;
            self.input.consume(nin);
            nbytes += nout;
            self.nfields += nend;
            match res {
                csv_core::ReadRecordResult::InputEmpty => {}
                csv_core::ReadRecordResult::OutputFull if self.fields.len() < MAX_RECORD_BYTES => {
                    self.fields.resize((self.fields.len() * 2).min(MAX_RECORD_BYTES), 0);
                }
                csv_core::ReadRecordResult::OutputFull => {
                    if !over {
                        head = self.fields[..HEAD_BYTES].to_vec();
                    }
                    (over, nbytes) = (true, 0);
                }
                csv_core::ReadRecordResult::OutputEndsFull if self.ends.len() < MAX_FIELDS => {
                    self.ends.resize(self.ends.len() * 2, 0);
                }
                csv_core::ReadRecordResult::OutputEndsFull => {
                    if !over {
                        head = self.fields[..nbytes.min(HEAD_BYTES)].to_vec();
                    }
                    (over, self.nfields) = (true, 0);
                }
                csv_core::ReadRecordResult::Record if over => {
                    self.nfields = 0;
                    return Ok(CsvRead::TooLarge(too_large(bytes, &hash, &head)));
                }
                csv_core::ReadRecordResult::Record => return Ok(CsvRead::Record),
                csv_core::ReadRecordResult::End => return Ok(CsvRead::End),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn csv(text: &[u8]) -> CsvRecords {
        CsvRecords::new(Box::new(io::Cursor::new(text.to_vec())), b',')
    }

    #[test]
    fn a_line_longer_than_kept_is_consumed_hashed_and_cut() {
        let text = [b"CCO\n".as_slice(), &vec![b'C'; 5000], b"\r\nc1ccccc1"].concat();
        let mut r = io::Cursor::new(text.clone());
        let (mut line, mut h) = (Vec::new(), Xxh3::new());
        assert_eq!(read_line(&mut r, &mut line, 100, &mut h).unwrap(), 4);
        assert_eq!(line, b"CCO");
        h.reset();
        assert_eq!(read_line(&mut r, &mut line, 100, &mut h).unwrap(), 5002);
        assert_eq!(line, vec![b'C'; 100]);
        assert_eq!(h.digest(), xxhash_rust::xxh3::xxh3_64(&text[4..5006]));
        assert_eq!(read_line(&mut r, &mut line, 100, &mut h).unwrap(), 8);
        assert_eq!(line, b"c1ccccc1");
        assert_eq!(read_line(&mut r, &mut line, 100, &mut h).unwrap(), 0);
    }

    #[test]
    fn csv_records_are_read_with_quotes_and_an_oversized_one_is_rejected_whole() {
        let huge = vec![b'C'; MAX_RECORD_BYTES + 10];
        let text = [b"smiles,id\n\"CC,O\",a\n".as_slice(), &huge, b",b\n\nCCN,\"c\nd\"\n"].concat();
        let mut r = csv(&text);
        assert!(matches!(r.next().unwrap(), CsvRead::Record));
        assert_eq!((r.len(), r.field(0), r.field(1)), (2, Some(&b"smiles"[..]), Some(&b"id"[..])));
        assert!(matches!(r.next().unwrap(), CsvRead::Record));
        assert_eq!((r.field(0), r.field(1), r.line), (Some(&b"CC,O"[..]), Some(&b"a"[..]), 2));
        let CsvRead::TooLarge(reject) = r.next().unwrap() else { panic!("not too large") };
        let detail = reject.detail();
        assert!(detail.contains(&format!("record of {} bytes", huge.len() + 3)), "{detail}");
        assert!(detail.contains("begins \"CCCC"), "{detail}");
        assert_eq!(r.len(), 0);
        assert!(matches!(r.next().unwrap(), CsvRead::Record));
        assert_eq!((r.field(0), r.field(1)), (Some(&b"CCN"[..]), Some(&b"c\nd"[..])));
        assert!(matches!(r.next().unwrap(), CsvRead::End));
    }
}
