//! Text inputs: SMILES files (`SMILES [id]` per line), CSV/TSV with a header, SDF (V2000 and
//! V3000), each optionally gzip-compressed (recognised by its magic bytes, not its name).
//!
//! A row is a record: a non-blank line of a SMILES file, a data record of a CSV/TSV file, a
//! molecule record (up to `$$$$`) of an SDF. Row numbers are record indices, so a resume at row
//! N re-reads the file and skips N records (reading is cheap next to RDKit). The fingerprint is
//! the xxh3 of the file's bytes as stored (compressed when gzip) with the format's tag, the row
//! count comes from a first pass over the records; both are taken in one pass when the input is
//! opened, so
//! a damaged gzip stream or a missing column is reported before anything is written.
//!
//! A record the reader cannot turn into a row (a CSV record with a missing field, a line that is
//! not UTF-8, an SDF record without `M  END` or one RDKit cannot read) is a counted reject with
//! its reason, like a SMILES that does not parse.

use std::cell::RefCell;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;

use arrow_array::{ArrayRef, StringArray};
use rayon::prelude::*;

use xxhash_rust::xxh3::Xxh3;

use super::record::{read_line, too_large, CsvRead, CsvRecords, MAX_RECORD_BYTES};
use super::{batched, InputBatch, InputColumns, Scanned};
use crate::chem::Molecule;
use crate::error::{ChemError, InputError};
use crate::transform::Reject;

/// Which kind of text file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TextKind {
    /// `SMILES [id]` per line.
    Smiles,
    /// CSV or TSV with a header line; the byte is the delimiter.
    Delimited(u8),
    /// MDL SD file.
    Sdf,
}

impl TextKind {
    fn tag(self) -> &'static [u8] {
        match self {
            TextKind::Smiles => b"smiles",
            TextKind::Delimited(b'\t') => b"tsv",
            TextKind::Delimited(_) => b"csv",
            TextKind::Sdf => b"sdf",
        }
    }
}

/// A text input, opened and checked.
pub(super) struct TextInput {
    path: PathBuf,
    kind: TextKind,
    cols: InputColumns,
    /// CSV/TSV: positions of the SMILES, id and carried columns in the header.
    smiles_at: usize,
    id_at: Option<usize>,
    carry_at: Vec<usize>,
    /// CSV/TSV: fields in the header.
    header_len: usize,
}

/// One record as read, before it becomes a row of a batch.
#[derive(Default)]
struct Record {
    smiles: Option<String>,
    /// SDF: the molblock, turned into SMILES (in parallel) when the batch is built.
    molblock: Option<String>,
    id: Option<String>,
    carried: Vec<Option<String>>,
    bad: Option<Reject>,
}

/// Opens `path`, transparently decompressing gzip (by magic bytes; concatenated members too).
fn open_decoded(path: &Path) -> Result<Box<dyn BufRead>, InputError> {
    let file = File::open(path).map_err(|source| InputError::Open { path: path.into(), source })?;
    decoded(path, Box::new(file))
}

/// `raw` (the bytes of `path` as stored), gzip-decompressed when it starts with the magic bytes.
fn decoded(path: &Path, raw: Box<dyn Read>) -> Result<Box<dyn BufRead>, InputError> {
    let open_err = |source| InputError::Open { path: path.into(), source };
    let mut file = BufReader::with_capacity(1 << 20, raw);
    let gzip = file.fill_buf().map_err(open_err)?.starts_with(&[0x1f, 0x8b]);
    Ok(if gzip {
        Box::new(BufReader::with_capacity(1 << 20, flate2::bufread::MultiGzDecoder::new(file)))
    } else {
        Box::new(file)
    })
}

/// Whether the file starts with the gzip magic bytes.
pub(super) fn is_gzip(path: &Path) -> bool {
    let mut magic = [0u8; 2];
    File::open(path).and_then(|mut f| f.read_exact(&mut magic)).is_ok() && magic == [0x1f, 0x8b]
}

/// The xxh3 and length of the raw bytes read through a [`Hashing`] reader.
type HashState = Rc<RefCell<(xxhash_rust::xxh3::Xxh3, u64)>>;

/// Hashes the bytes of the file as they are read, so the first pass over a text input counts
/// its records and fingerprints it at once.
struct Hashing {
    file: Box<dyn Read>,
    state: HashState,
}

/// Remembers the last byte read through it (whether decoded text ends with a newline).
struct LastByte {
    inner: Box<dyn BufRead>,
    last: Rc<std::cell::Cell<Option<u8>>>,
}

impl Read for LastByte {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n > 0 {
            self.last.set(Some(buf[n - 1]));
        }
        Ok(n)
    }
}

impl Read for Hashing {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.file.read(buf)?;
        let mut s = self.state.borrow_mut();
        s.0.update(&buf[..n]);
        s.1 += n as u64;
        Ok(n)
    }
}

/// Finishes a fingerprint: hashes what the decoder left unread (bytes after the last gzip
/// member, say), so the fingerprint always covers the whole file. Returns (xxh3, size).
fn finish_hash(path: &Path, state: &HashState) -> Result<(u64, u64), InputError> {
    finish_hash_to(path, state, u64::MAX)
}

/// [`finish_hash`] of the file's first `len` bytes.
fn finish_hash_to(path: &Path, state: &HashState, len: u64) -> Result<(u64, u64), InputError> {
    let open_err = |source| InputError::Open { path: path.into(), source };
    let (h, read) = &mut *state.borrow_mut();
    let mut f = File::open(path).map_err(open_err)?;
    f.seek(SeekFrom::Start(*read)).map_err(open_err)?;
    let mut f = f.take(len.saturating_sub(*read));
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf).map_err(open_err)?;
        if n == 0 {
            break;
        }
        *read += n as u64;
        h.update(&buf[..n]);
    }
    Ok((h.digest(), *read))
}

impl TextInput {
    /// Checks the header (CSV/TSV), counts the records and fingerprints the file, in one pass.
    pub(super) fn open(path: &Path, kind: TextKind, cols: &InputColumns) -> Result<(Self, Scanned), InputError> {
        let mut input = TextInput {
            path: path.into(),
            kind,
            cols: cols.clone(),
            smiles_at: 0,
            id_at: None,
            carry_at: vec![],
            header_len: 0,
        };
        if kind == TextKind::Smiles && !cols.carry.is_empty() {
            return Err(InputError::Format {
                path: path.into(),
                reason: "a SMILES file has no columns to carry (only `SMILES [id]` per line)".into(),
            });
        }
        if let TextKind::Delimited(_) = kind {
            let header = input.csv_reader(open_decoded(path)?)?.0;
            let find = |name: &str| {
                header.iter().position(|h| h == name).ok_or_else(|| InputError::MissingColumn {
                    path: path.into(),
                    column: name.to_owned(),
                    available: header.join(", "),
                })
            };
            input.smiles_at = find(&cols.smiles)?;
            input.id_at = cols.id.as_deref().map(find).transpose()?;
            input.carry_at = cols.carry.iter().map(|c| find(c)).collect::<Result<_, _>>()?;
            input.header_len = header.len();
        }
        let state: HashState = Rc::default();
        state.borrow_mut().0.update(kind.tag());
        let file = File::open(path).map_err(|source| InputError::Open { path: path.into(), source })?;
        let mut records =
            input.records(decoded(path, Box::new(Hashing { file: Box::new(file), state: state.clone() }))?)?;
        let mut rows = 0u64;
        while let Some(r) = records.next_record() {
            r?;
            rows += 1;
        }
        drop(records);
        if rows == 0 {
            return Err(InputError::Empty { path: path.into() });
        }
        let (fingerprint, size) = finish_hash(path, &state)?;
        Ok((input, Scanned { rows, size, fingerprint }))
    }

    /// Whether this file is the one that held `rows` records in `size` bytes with
    /// `fingerprint`, with records appended since: its first `size` bytes (as stored) have
    /// that fingerprint, decode to exactly `rows` records and end with a newline (a last line
    /// without one would be continued by the appended bytes, so its row would have changed).
    /// A gzip file grows by a new member appended (`cat more.smi.gz >> lib.smi.gz`). False,
    /// never an error, when the old bytes do not read back as they were.
    pub(super) fn extends(&self, size: u64, rows: u64, fingerprint: u64) -> Result<bool, InputError> {
        let open_err = |source| InputError::Open { path: self.path.clone(), source };
        let file = File::open(&self.path).map_err(open_err)?;
        if file.metadata().map_err(open_err)?.len() <= size {
            return Ok(false);
        }
        let state: HashState = Rc::default();
        state.borrow_mut().0.update(self.kind.tag());
        let prefix = Hashing { file: Box::new(file.take(size)), state: state.clone() };
        let last = Rc::new(std::cell::Cell::new(None));
        let Ok(text) = decoded(&self.path, Box::new(prefix)) else { return Ok(false) };
        let text = BufReader::new(LastByte { inner: text, last: last.clone() });
        let Ok(mut records) = self.records(Box::new(text)) else { return Ok(false) };
        let mut counted = 0u64;
        while let Some(r) = records.next_record() {
            if r.is_err() {
                return Ok(false);
            }
            counted += 1;
        }
        drop(records);
        let (hash, read) = finish_hash_to(&self.path, &state, size)?;
        Ok(counted == rows && read == size && hash == fingerprint && last.get() == Some(b'\n'))
    }

    /// The header and a reader of `decoded` positioned after it.
    fn csv_reader(&self, decoded: Box<dyn BufRead>) -> Result<(Vec<String>, CsvRecords), InputError> {
        let TextKind::Delimited(delim) = self.kind else { unreachable!("csv_reader on a non-delimited input") };
        let mut r = CsvRecords::new(decoded, delim);
        let bad = |reason: String| InputError::Format { path: self.path.clone(), reason };
        match r.next().map_err(|source| InputError::Decode { path: self.path.clone(), row: 0, source })? {
            CsvRead::Record => {}
            CsvRead::End => return Ok((Vec::new(), r)),
            CsvRead::TooLarge(why) => return Err(bad(format!("the header line is too large: {}", why.detail()))),
        }
        let header = (0..r.len())
            // a UTF-8 byte-order mark before the first name is not part of it
            .map(|i| {
                std::str::from_utf8(r.field(i).unwrap_or_default()).map(|h| h.trim_start_matches('\u{feff}').to_owned())
            })
            .collect::<Result<_, _>>()
            .map_err(|_| bad("the header line is not UTF-8".into()))?;
        Ok((header, r))
    }

    /// The records of `decoded` (the file's text).
    fn records(&self, decoded: Box<dyn BufRead>) -> Result<Records<'_>, InputError> {
        let source = match self.kind {
            TextKind::Delimited(_) => Source::Csv(Box::new(self.csv_reader(decoded)?.1)),
            _ => Source::Lines(decoded),
        };
        Ok(Records { input: self, source, row: 0, line: Vec::new(), hash: Xxh3::new() })
    }

    /// Batches of at most `batch_rows` rows from row `offset`, at most `limit` rows.
    pub(super) fn batches(
        &self,
        offset: u64,
        batch_rows: usize,
        limit: Option<u64>,
    ) -> Result<impl Iterator<Item = Result<InputBatch, InputError>> + '_, InputError> {
        let mut records = self.records(open_decoded(&self.path)?)?;
        let records = std::iter::from_fn(move || records.next_record());
        batched(records, offset, batch_rows, limit, move |first_row, recs| self.batch(first_row, recs))
    }

    /// Builds a batch of rows from records (SDF molblocks become SMILES here, in parallel).
    fn batch(&self, first_row: u64, mut recs: Vec<Record>) -> InputBatch {
        recs.par_iter_mut().for_each(|r| {
            if let Some(block) = r.molblock.take() {
                match Molecule::from_molblock(&block).and_then(|m| m.to_smiles()) {
                    Ok(s) => r.smiles = Some(s),
                    Err(ChemError::Parse { reason, .. }) => r.bad = Some(Reject::Parse(reason)),
                    Err(ChemError::Sanitize { reason, .. }) => r.bad = Some(Reject::Sanitize(reason)),
                    Err(e) => r.bad = Some(Reject::Rdkit(e.to_string())),
                }
            }
        });
        let bad = recs.iter().enumerate().filter_map(|(i, r)| r.bad.clone().map(|b| (i, b))).collect();
        let text =
            |f: &dyn Fn(&Record) -> Option<&str>| -> ArrayRef { Arc::new(recs.iter().map(f).collect::<StringArray>()) };
        let has_ids = self.cols.id.is_some() || matches!(self.kind, TextKind::Smiles | TextKind::Sdf);
        InputBatch {
            first_row,
            smiles: text(&|r| r.smiles.as_deref()),
            ids: has_ids.then(|| text(&|r| r.id.as_deref())),
            carried: (0..self.cols.carry.len()).map(|k| text(&|r| r.carried[k].as_deref())).collect(),
            bad,
            source_rows: None,
        }
    }
}

/// Where records come from: lines (SMILES, SDF) or CSV records.
enum Source {
    Lines(Box<dyn BufRead>),
    Csv(Box<CsvRecords>),
}

/// Reads records one by one, counting rows.
struct Records<'a> {
    input: &'a TextInput,
    source: Source,
    /// Rows read so far (= the row number of the next record).
    row: u64,
    line: Vec<u8>,
    /// xxh3 of the current record's bytes (named in a `too_large` reject).
    hash: Xxh3,
}

impl Records<'_> {
    fn decode_err(&self, source: std::io::Error) -> InputError {
        InputError::Decode { path: self.input.path.clone(), row: self.row, source }
    }

    /// The next record; None at the end of the file.
    fn next_record(&mut self) -> Option<Result<Record, InputError>> {
        let out = match self.input.kind {
            TextKind::Smiles => self.smiles_record(),
            TextKind::Sdf => self.sdf_record(),
            TextKind::Delimited(_) => self.csv_record(),
        };
        if let Some(Ok(_)) = out {
            self.row += 1;
        }
        out
    }

    /// Reads one line into `self.line` (without its end; at most [`MAX_RECORD_BYTES`] + 1 bytes
    /// of it, the rest only hashed into `self.hash`); the bytes consumed, 0 at the end.
    fn read_line(&mut self) -> Result<u64, InputError> {
        let Source::Lines(r) = &mut self.source else { unreachable!("line read on a CSV source") };
        read_line(r.as_mut(), &mut self.line, MAX_RECORD_BYTES + 1, &mut self.hash).map_err(|e| InputError::Decode {
            path: self.input.path.clone(),
            row: self.row,
            source: e,
        })
    }

    fn smiles_record(&mut self) -> Option<Result<Record, InputError>> {
        loop {
            self.hash.reset();
            let bytes = match self.read_line() {
                Err(e) => return Some(Err(e)),
                Ok(0) => return None,
                Ok(n) => n,
            };
            if self.line.len() > MAX_RECORD_BYTES {
                return Some(Ok(Record { bad: Some(too_large(bytes, &self.hash, &self.line)), ..Record::default() }));
            }
            if self.line.iter().all(u8::is_ascii_whitespace) {
                continue; // blank lines are not rows
            }
            let Ok(text) = std::str::from_utf8(&self.line) else {
                return Some(Ok(Record {
                    bad: Some(Reject::Malformed("line is not UTF-8".into())),
                    ..Record::default()
                }));
            };
            let text = text.trim();
            let (smiles, id) = match text.find([' ', '\t']) {
                Some(at) => (&text[..at], Some(text[at..].trim()).filter(|s| !s.is_empty())),
                None => (text, None),
            };
            return Some(Ok(Record {
                smiles: Some(smiles.to_owned()),
                id: id.map(str::to_owned),
                ..Record::default()
            }));
        }
    }

    fn csv_record(&mut self) -> Option<Result<Record, InputError>> {
        let Source::Csv(reader) = &mut self.source else { unreachable!("csv read on a line source") };
        match reader.next() {
            Err(e) => return Some(Err(self.decode_err(e))),
            Ok(CsvRead::End) => return None,
            Ok(CsvRead::TooLarge(why)) => return Some(Ok(Record { bad: Some(why), ..Record::default() })),
            Ok(CsvRead::Record) => {}
        }
        let Source::Csv(rec) = &self.source else { unreachable!("csv read on a line source") };
        let expected = self.input.header_len;
        let line = rec.line;
        if rec.len() != expected {
            let why = format!("line {line}: {} fields, the header has {expected}", rec.len());
            return Some(Ok(Record { bad: Some(Reject::Malformed(why)), ..Record::default() }));
        }
        let mut bad = None;
        let mut cell = |at: usize| -> Option<String> {
            let bytes = rec.field(at)?;
            match std::str::from_utf8(bytes) {
                Ok("") => None,
                Ok(s) => Some(s.to_owned()),
                Err(_) => {
                    bad = Some(Reject::Malformed(format!("line {line}: field {} is not UTF-8", at + 1)));
                    None
                }
            }
        };
        let input = self.input;
        let smiles = cell(input.smiles_at);
        let id = input.id_at.and_then(&mut cell);
        let carried = input.carry_at.iter().map(|&k| cell(k)).collect();
        Some(Ok(Record { smiles, id, carried, bad, molblock: None }))
    }

    /// One SDF record, up to its `$$$$` line. Past [`MAX_RECORD_BYTES`] its lines are read on
    /// (hashed, counted) but not kept, and it is a `too_large` reject.
    fn sdf_record(&mut self) -> Option<Result<Record, InputError>> {
        let mut lines: Vec<String> = Vec::new();
        let (mut not_utf8, mut bytes, mut head) = (false, 0u64, Vec::new());
        self.hash.reset();
        loop {
            match self.read_line() {
                Err(e) => return Some(Err(e)),
                Ok(0) => {
                    // the last record may lack its `$$$$`; trailing blank lines are not a record
                    if bytes <= MAX_RECORD_BYTES as u64 && lines.iter().all(|l| l.trim().is_empty()) {
                        return None;
                    }
                    break;
                }
                Ok(n) => bytes += n,
            }
            if self.line.starts_with(b"$$$$") {
                break;
            }
            if head.len() < 64 {
                head.extend_from_slice(&self.line[..self.line.len().min(64)]);
                head.push(b'\n');
            }
            if bytes > MAX_RECORD_BYTES as u64 {
                lines.clear();
                continue;
            }
            match std::str::from_utf8(&self.line) {
                Ok(s) => lines.push(s.to_owned()),
                Err(_) => {
                    not_utf8 = true;
                    lines.push(String::from_utf8_lossy(&self.line).into_owned());
                }
            }
        }
        if bytes > MAX_RECORD_BYTES as u64 {
            return Some(Ok(Record { bad: Some(too_large(bytes, &self.hash, &head)), ..Record::default() }));
        }
        Some(Ok(self.input.sdf_fields(lines, not_utf8)))
    }
}

impl TextInput {
    /// Splits one SDF record into its molblock, title and data fields.
    fn sdf_fields(&self, lines: Vec<String>, not_utf8: bool) -> Record {
        let title = lines.first().map(|t| t.trim().to_owned()).filter(|t| !t.is_empty());
        let end = lines.iter().position(|l| l.starts_with("M  END"));
        let mut fields: Vec<(String, String)> = Vec::new();
        if let Some(end) = end {
            let mut current: Option<(String, Vec<&str>)> = None;
            for l in &lines[end + 1..] {
                if l.starts_with('>') {
                    if let Some((n, v)) = current.take() {
                        fields.push((n, v.join("\n")));
                    }
                    let name = l.split_once('<').and_then(|(_, r)| r.split_once('>')).map(|(n, _)| n.to_owned());
                    current = name.map(|n| (n, Vec::new()));
                } else if l.trim().is_empty() {
                    if let Some((n, v)) = current.take() {
                        fields.push((n, v.join("\n")));
                    }
                } else if let Some((_, v)) = current.as_mut() {
                    v.push(l);
                }
            }
            if let Some((n, v)) = current.take() {
                fields.push((n, v.join("\n")));
            }
        }
        let field =
            |name: &str| fields.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone()).filter(|v| !v.is_empty());
        let id = match &self.cols.id {
            Some(name) => field(name),
            None => title,
        };
        let carried = self.cols.carry.iter().map(|c| field(c)).collect();
        let mut rec = Record { id, carried, ..Record::default() };
        match end {
            _ if not_utf8 => rec.bad = Some(Reject::Malformed("SDF record is not UTF-8".into())),
            None => rec.bad = Some(Reject::Parse("SDF record has no `M  END` line".into())),
            Some(end) => {
                let mut block = lines[..=end].join("\n");
                block.push('\n');
                rec.molblock = Some(block);
            }
        }
        rec
    }
}
