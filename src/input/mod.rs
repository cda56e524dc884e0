//! Inputs: every source of rows an ingest can read, behind one type ([`InputFile`]) with stable
//! row numbers, a fingerprint and bounded batches from any row offset.
//!
//! | source | a row is | fingerprint |
//! |---|---|---|
//! | Parquet file | a row | xxh3 of the footer |
//! | Parquet folder (incl. split exports) or glob | a row, numbered across the parts in path order | xxh3 of every part's name, size and footer |
//! | SMILES (`.smi`, `.smiles`), CSV, TSV, SDF, each optionally gzip | a record (non-blank line, data record, molecule) | xxh3 of the file's bytes |
//! | `job:<ID>[,<ID>...]` | a distinct product of the union, in key order | the upstream jobs' identity and counters |
//!
//! The format comes from the path (a folder, a glob, the extension under an optional `.gz`)
//! unless given ([`InputFormat`]); gzip is recognised by its magic bytes. Why: a resume must
//! find the same row at the same number and must refuse an input that changed, whatever its
//! format (ARCHITECTURE.md, "Inputs").

mod batch;
mod cells;
mod content;
mod job;
mod parquet;
mod record;
mod spec;
mod text;

use std::path::{Path, PathBuf};

pub use batch::InputBatch;
pub use job::upstream_fingerprint;
pub(crate) use job::GrowthView;
pub use spec::InputSpec;

use crate::error::InputError;
use crate::store::{InputInfo, ReadOnlyStore, Supplied, UpstreamRead, UpstreamReads};
use job::JobInput;
use parquet::{Layout, ParquetInput};
use text::{TextInput, TextKind};

/// Which columns of the input to read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InputColumns {
    /// Name of the SMILES column (Parquet, CSV/TSV; ignored for SMILES files, SDF and jobs).
    pub smiles: String,
    /// Optional id column (an SD data field for SDF, whose id is otherwise the title line).
    pub id: Option<String>,
    /// Columns copied (as text) into each product's provenance and export (SD data fields for
    /// SDF, the upstream jobs' carried columns for a job input).
    pub carry: Vec<String>,
}

/// The format of an input, when not taken from its path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum InputFormat {
    /// A Parquet file, a folder of Parquet parts, or a glob of Parquet files.
    Parquet,
    /// `SMILES [id]` per line.
    Smiles,
    /// Comma-separated with a header line.
    Csv,
    /// Tab-separated with a header line.
    Tsv,
    /// MDL SD file (V2000 and V3000 molblocks).
    Sdf,
}

impl InputFormat {
    /// All formats with their names (for `--format` and error messages).
    pub const ALL: [(&'static str, InputFormat); 5] = [
        ("parquet", InputFormat::Parquet),
        ("smiles", InputFormat::Smiles),
        ("csv", InputFormat::Csv),
        ("tsv", InputFormat::Tsv),
        ("sdf", InputFormat::Sdf),
    ];

    /// The format of `path` by its extension (under an optional `.gz`); None when unknown.
    pub fn from_path(path: &Path) -> Option<Self> {
        let name = path.file_name()?.to_string_lossy().to_ascii_lowercase();
        let name = name.strip_suffix(".gz").unwrap_or(&name);
        let ext = name.rsplit_once('.').map(|(_, e)| e)?;
        Some(match ext {
            "parquet" | "pq" => InputFormat::Parquet,
            "smi" | "smiles" | "ism" | "can" => InputFormat::Smiles,
            "csv" => InputFormat::Csv,
            "tsv" | "tab" => InputFormat::Tsv,
            "sdf" | "sd" | "mol" => InputFormat::Sdf,
            _ => return None,
        })
    }
}

impl std::str::FromStr for InputFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(s))
            .map(|(_, f)| *f)
            .ok_or_else(|| format!("unknown format {s:?}; one of {}", Self::ALL.map(|(n, _)| n).join(", ")))
    }
}

/// What opening an input learned: rows, bytes and the fingerprint.
struct Scanned {
    rows: u64,
    size: u64,
    fingerprint: u64,
}

enum Source {
    Parquet(ParquetInput),
    Text(TextInput),
    Jobs(JobInput),
}

/// An input, opened and checked: its rows counted, its columns found, its fingerprint taken.
pub struct InputFile {
    spec: String,
    key: String,
    info: InputInfo,
    source: Source,
    /// The rows' content hashes, once read ([`InputFile::row_hashes`]).
    hashes: std::sync::Mutex<Option<content::RowHashes>>,
}

/// Batches of an input, in row order.
pub type Batches<'a> = Box<dyn Iterator<Item = Result<InputBatch, InputError>> + 'a>;

/// The columns of a job input: the upstream product's SMILES, its parent id (the original
/// molecule's id, carried down), the carried columns asked for.
fn job_columns(cols: &InputColumns) -> InputColumns {
    InputColumns { smiles: "smiles".into(), id: Some("parent_id".into()), carry: cols.carry.clone() }
}

fn has_glob(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

impl InputFile {
    /// Opens a file, folder or glob input (`job:` inputs need a store: [`InputFile::open_in`]).
    pub fn open(path: &Path, cols: &InputColumns) -> Result<Self, InputError> {
        Self::open_in(&InputSpec::Path(path.into()), None, cols, None)
    }

    /// A job input read from the shard stores of a partitioned run: the same rows, in the same
    /// order, as from one store holding all of their products.
    pub fn open_sharded(spec: &InputSpec, cols: &InputColumns, shards: Vec<ReadOnlyStore>) -> Result<Self, InputError> {
        let InputSpec::Jobs(jobs) = spec else {
            return Err(InputError::Upstream {
                spec: spec.to_string(),
                reason: "a partitioned run's shards are read by a job input only".into(),
            });
        };
        let (j, s) = JobInput::open_sharded(jobs, cols, shards)?;
        Ok(Self::new(spec, Source::Jobs(j), s, job_columns(cols)))
    }

    /// Opens `spec`: a path, a folder of Parquet parts, a glob, or other jobs' products (which
    /// need `store`). `format` overrides the format the path implies.
    pub fn open_in(
        spec: &InputSpec,
        format: Option<InputFormat>,
        cols: &InputColumns,
        store: Option<&ReadOnlyStore>,
    ) -> Result<Self, InputError> {
        let path = match spec {
            InputSpec::Path(path) => path.as_path(),
            InputSpec::Jobs(jobs) => {
                let store = store.ok_or_else(|| InputError::Upstream {
                    spec: spec.to_string(),
                    reason: "a job input is read from a store; none is open".into(),
                })?;
                let (j, s) = JobInput::open(jobs, cols, store)?;
                return Ok(Self::new(spec, Source::Jobs(j), s, job_columns(cols)));
            }
        };
        let format_err = |reason: String| InputError::Format { path: path.into(), reason };
        let text = path.to_string_lossy();
        let (source, scanned, cols) = if path.is_dir() {
            if format.is_some_and(|f| f != InputFormat::Parquet) {
                return Err(format_err("a folder input must hold Parquet parts".into()));
            }
            let (p, s) = ParquetInput::open(Layout::Folder(path), cols)?;
            (Source::Parquet(p), s, cols.clone())
        } else if !path.exists() && has_glob(&text) {
            let (p, s) = ParquetInput::open(Layout::Glob(&text), cols)?;
            (Source::Parquet(p), s, cols.clone())
        } else {
            if !path.exists() {
                return Err(InputError::Open {
                    path: path.into(),
                    source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file or directory"),
                });
            }
            let format =
                match format.or_else(|| InputFormat::from_path(path)) {
                    Some(f) => f,
                    None if text::is_gzip(path) => return Err(format_err(
                        "gzip file of unknown format: name it .smi.gz, .csv.gz, .tsv.gz or .sdf.gz, or pass --format"
                            .into(),
                    )),
                    None => InputFormat::Parquet, // the historical default; its reader says if it is not Parquet
                };
            let kind = match format {
                InputFormat::Parquet => {
                    if text::is_gzip(path) {
                        return Err(format_err("a gzip-compressed Parquet file cannot be read; decompress it".into()));
                    }
                    let (p, s) = ParquetInput::open(Layout::File(path), cols)?;
                    return Ok(Self::new(spec, Source::Parquet(p), s, cols.clone()));
                }
                InputFormat::Smiles => TextKind::Smiles,
                InputFormat::Csv => TextKind::Delimited(b','),
                InputFormat::Tsv => TextKind::Delimited(b'\t'),
                InputFormat::Sdf => TextKind::Sdf,
            };
            let (t, s) = TextInput::open(path, kind, cols)?;
            let mut cols = cols.clone();
            if matches!(kind, TextKind::Smiles | TextKind::Sdf) {
                cols.smiles = "smiles".into();
            }
            if kind == TextKind::Smiles {
                cols.id = Some("id".into());
            }
            (Source::Text(t), s, cols)
        };
        Ok(Self::new(spec, source, scanned, cols))
    }

    fn new(spec: &InputSpec, source: Source, s: Scanned, cols: InputColumns) -> Self {
        let text = spec.to_string();
        let shown = match spec.path() {
            Some(path) => std::fs::canonicalize(path).map(|p| p.display().to_string()).unwrap_or_else(|_| text.clone()),
            None => text.clone(),
        };
        let info = InputInfo {
            path: shown,
            size: s.size,
            rows: s.rows,
            footer_hash: s.fingerprint,
            smiles_column: cols.smiles,
            id_column: cols.id,
            carry_columns: cols.carry,
        };
        Self { key: default_key(spec), spec: text, info, source, hashes: Default::default() }
    }

    /// Path (or spec), size, row count, fingerprint and columns of the input.
    pub fn info(&self) -> &InputInfo {
        &self.info
    }

    /// The input as given.
    pub fn spec(&self) -> &str {
        &self.spec
    }

    /// The input's default key in a store (names its jobs and its rejects): the file name
    /// without its format extensions, the folder name, or the job ids with `/` as `.`.
    pub fn default_key(&self) -> &str {
        &self.key
    }

    /// Whether this input is the one `old` describes with rows appended since (a text file
    /// whose old bytes read back as they were: [`TextInput::extends`]; a Parquet folder or glob
    /// with parts added after its old ones: [`ParquetInput::extends`]); the old rows keep their
    /// numbers, so a job made from `old` goes on from where it stopped. Job inputs cannot tell,
    /// nor can a single Parquet file from its footer: false (its growth is proven by the
    /// content hash recorded in the store, [`InputFile::row_hashes`], `ingest/job.rs`).
    pub(crate) fn extends(&self, old: &InputInfo) -> Result<bool, InputError> {
        match &self.source {
            Source::Text(t) if self.info.rows > old.rows && self.info.same_columns(old) => {
                t.extends(old.size, old.rows, old.footer_hash)
            }
            Source::Parquet(p) if self.info.rows > old.rows && self.info.same_columns(old) => {
                Ok(p.extends(old.size, old.rows, old.footer_hash))
            }
            _ => Ok(false),
        }
    }

    /// Whether the input is one Parquet file: the one kind whose growth (a rewrite with more
    /// rows) only a recorded content hash can prove ([`InputFile::row_hashes`]).
    pub(crate) fn is_parquet_file(&self) -> bool {
        matches!(&self.source, Source::Parquet(p) if p.is_single())
    }

    /// Whether the input is read from the store's own jobs.
    pub fn is_job_input(&self) -> bool {
        matches!(self.source, Source::Jobs(_))
    }

    /// Batches of at most `batch_rows` rows from row `offset`, at most `limit` rows. A job input
    /// reads `store` (the one it was opened on).
    pub fn batches<'a>(
        &'a self,
        store: Option<&'a ReadOnlyStore>,
        offset: u64,
        batch_rows: usize,
        limit: Option<u64>,
    ) -> Result<Batches<'a>, InputError> {
        self.batches_in(store, offset, batch_rows, limit, None)
    }

    /// As [`InputFile::batches`]; a job input with a growth `view` yields only the upstream keys
    /// new since the versions it names ([`InputFile::growth_view`]).
    pub(crate) fn batches_in<'a>(
        &'a self,
        store: Option<&'a ReadOnlyStore>,
        offset: u64,
        batch_rows: usize,
        limit: Option<u64>,
        view: Option<&GrowthView>,
    ) -> Result<Batches<'a>, InputError> {
        Ok(match &self.source {
            Source::Parquet(p) => Box::new(p.batches(offset, batch_rows, limit)?),
            Source::Text(t) => Box::new(t.batches(offset, batch_rows, limit)?),
            Source::Jobs(j) => {
                if store.is_none() && !j.is_sharded() {
                    return Err(InputError::Format {
                        path: PathBuf::from(&self.spec),
                        reason: "a job input is read from a store; none is open".into(),
                    });
                }
                Box::new(j.batches(store, offset, batch_rows, limit, view)?)
            }
        })
    }

    /// A job input's upstream jobs as they are now (None for a file).
    pub(crate) fn upstream_now(&self) -> Option<&[UpstreamRead]> {
        match &self.source {
            Source::Jobs(j) => Some(j.now()),
            _ => None,
        }
    }

    /// The rows a job that recorded `reads` reads when it grows: the keys new since (None for
    /// a file, or when it cannot grow from them).
    pub(crate) fn growth_view(&self, reads: &UpstreamReads) -> Option<GrowthView> {
        match &self.source {
            Source::Jobs(j) => j.view(reads),
            _ => None,
        }
    }

    /// The old keys of a growth `view` whose supplied values may have changed since they were
    /// read ([`JobInput::resupplied`]); nothing for a file.
    pub(crate) fn resupplied<'a>(
        &'a self,
        store: Option<&'a ReadOnlyStore>,
        view: &GrowthView,
    ) -> Result<Box<dyn Iterator<Item = Result<Supplied, InputError>> + 'a>, InputError> {
        match &self.source {
            Source::Jobs(j) => Ok(Box::new(j.resupplied(store, view)?)),
            _ => Ok(Box::new(std::iter::empty())),
        }
    }
}

/// Row batches from a stream of items, one per row numbered from 0: skips the first `offset`,
/// then groups at most `batch_rows` items per batch, at most `limit` rows in all, each batch built
/// by `build(first_row, items)`. An error ends the stream once returned; the rows of the batch it
/// interrupts are not returned (nor committed: a resume reads them again).
fn batched<'a, T: 'a>(
    mut items: impl Iterator<Item = Result<T, InputError>> + 'a,
    offset: u64,
    batch_rows: usize,
    limit: Option<u64>,
    mut build: impl FnMut(u64, Vec<T>) -> InputBatch + 'a,
) -> Result<impl Iterator<Item = Result<InputBatch, InputError>> + 'a, InputError> {
    let mut skipped = 0;
    while skipped < offset {
        match items.next() {
            Some(item) => {
                item?;
                skipped += 1;
            }
            None => break,
        }
    }
    let (mut row, mut left, batch_rows) = (offset, limit.unwrap_or(u64::MAX), batch_rows.max(1) as u64);
    Ok(std::iter::from_fn(move || {
        let mut batch = Vec::new();
        while (batch.len() as u64) < left.min(batch_rows) {
            match items.next() {
                None => break,
                Some(Ok(item)) => batch.push(item),
                Some(Err(e)) => {
                    left = 0;
                    return Some(Err(e));
                }
            }
        }
        if batch.is_empty() {
            return None;
        }
        left -= batch.len() as u64;
        let first_row = row;
        row += batch.len() as u64;
        Some(Ok(build(first_row, batch)))
    }))
}

fn default_key(spec: &InputSpec) -> String {
    let path = match spec {
        InputSpec::Jobs(ids) => return ids.join("+").replace('/', "."),
        InputSpec::Path(path) => path.to_string_lossy(),
    };
    let p = Path::new(path.trim_end_matches('/'));
    let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "input".into());
    if p.is_dir() {
        return name;
    }
    let name = name.strip_suffix(".gz").unwrap_or(&name);
    let stem = name.rsplit_once('.').map_or(name, |(s, _)| s);
    let stem: String = stem.chars().filter(|c| !matches!(c, '*' | '?' | '[' | ']')).collect();
    if stem.is_empty() {
        "input".into()
    } else {
        stem
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_keys_come_from_the_path() {
        let f = |p: &str| InputFormat::from_path(Path::new(p));
        assert_eq!(f("a/b.parquet"), Some(InputFormat::Parquet));
        assert_eq!(f("x.smi.gz"), Some(InputFormat::Smiles));
        assert_eq!(f("x.CSV"), Some(InputFormat::Csv));
        assert_eq!(f("x.tsv.gz"), Some(InputFormat::Tsv));
        assert_eq!(f("x.sdf.gz"), Some(InputFormat::Sdf));
        assert_eq!(f("x.txt"), None);
        assert_eq!(default_key(&InputSpec::parse("data/lib.smi.gz")), "lib");
        assert_eq!(default_key(&InputSpec::parse("data/lib.parquet")), "lib");
        assert_eq!(default_key(&InputSpec::parse("data/part-*.parquet")), "part-");
        assert_eq!(default_key(&InputSpec::parse("job:a/R1,a/R2")), "a.R1+a.R2");
        assert_eq!("SDF".parse::<InputFormat>(), Ok(InputFormat::Sdf));
        assert!("xls".parse::<InputFormat>().unwrap_err().contains("one of parquet"));
    }

    #[test]
    fn batches_skip_the_offset_keep_every_row_and_stop_at_an_error() {
        use arrow_array::{ArrayRef, StringArray};
        use std::sync::Arc;
        let build = |first_row, items: Vec<u64>| InputBatch {
            first_row,
            smiles: Arc::new(items.iter().map(|i| Some(i.to_string())).collect::<StringArray>()) as ArrayRef,
            ids: None,
            carried: vec![],
            bad: vec![],
            source_rows: None,
        };
        let rows = |offset, limit| -> Vec<(u64, usize)> {
            let items = (0..10u64).map(Ok);
            batched(items, offset, 4, limit, build)
                .unwrap()
                .map(|b| b.map(|b| (b.first_row, b.len())).unwrap())
                .collect()
        };
        assert_eq!(rows(0, None), vec![(0, 4), (4, 4), (8, 2)]);
        assert_eq!(rows(3, None), vec![(3, 4), (7, 3)]);
        assert_eq!(rows(3, Some(5)), vec![(3, 4), (7, 1)]);
        assert_eq!(rows(10, None), vec![]);
        let failing = (0..10u64).map(|i| if i == 6 { Err(InputError::Empty { path: "x".into() }) } else { Ok(i) });
        let out: Vec<_> = batched(failing, 0, 4, None, build).unwrap().collect();
        assert_eq!(out.len(), 2);
        assert!(out[0].is_ok() && out[1].is_err());
    }
}
