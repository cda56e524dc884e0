//! The native part of the `xfstore` Python package (`xfstore._native`), built by maturin. It
//! binds the library's curated API (`xfstore`'s `pub use` list), never the CLI: a notebook
//! opens a store, looks products up, streams a job's products into pyarrow through the Arrow C
//! stream interface (no copy through Python objects), and runs ingests and campaigns.
//!
//! Long calls release the GIL. An ingest or a campaign runs on a Rust thread while the calling
//! thread waits in short slices, without the GIL, and between slices checks Python's signals
//! (Ctrl-C) and reports progress to an optional callback: a KeyboardInterrupt asks the run to
//! stop after the batch it is committing (`xfstore::RunControl`), waits for that, then raises,
//! so an interrupted run is exactly a resumable one.
#![deny(unsafe_code)]

use std::path::PathBuf;
use std::sync::mpsc::{channel, RecvTimeoutError};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use arrow_array::ffi_stream::FFI_ArrowArrayStream;
use arrow_array::RecordBatchIterator;
use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use rayon::prelude::*;
use xfstore::{
    Campaign, Error, Hit, IngestOptions, IngestPlan, IngestReport, InputFormat, InputSpec, JobMeta, MemoryBudget,
    ProductBatches, Query, QueryOutcome, Reader, RuleSet, RunControl, RunOptions, StoreOptions,
};

create_exception!(
    _native,
    XfstoreError,
    PyException,
    "Base class of every xfstore error; `.kind` names the subsystem."
);
create_exception!(_native, StoreError, XfstoreError, "The store cannot be opened, read or written.");
create_exception!(_native, InputError, XfstoreError, "The input cannot be read.");
create_exception!(_native, IngestError, XfstoreError, "An ingest cannot go on (changed input or rule, ...).");
create_exception!(_native, ExportError, XfstoreError, "An export or a verification failed.");
create_exception!(_native, RuleError, XfstoreError, "The rule file or a rule name is not valid.");
create_exception!(_native, ChemError, XfstoreError, "RDKit could not parse or process a molecule.");
create_exception!(_native, CampaignError, XfstoreError, "The campaign file is not valid, or cannot go on.");
create_exception!(_native, PartitionError, XfstoreError, "A partitioned run cannot go on.");

/// The Rust error as the Python exception of its subsystem, with its message (and the chain of
/// its sources) and `.kind`.
fn py_err(e: Error) -> PyErr {
    let mut msg = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        let text = s.to_string();
        if !msg.contains(&text) {
            msg.push_str(": ");
            msg.push_str(&text);
        }
        source = s.source();
    }
    let (err, kind) = match &e {
        Error::Store(_) => (StoreError::new_err(msg), "store"),
        Error::Input(_) => (InputError::new_err(msg), "input"),
        Error::Ingest(_) => (IngestError::new_err(msg), "ingest"),
        // publishing is what an export does last (temp file, fsync, rename)
        Error::Export(_) | Error::Publish { .. } => (ExportError::new_err(msg), "export"),
        Error::Rule(_) => (RuleError::new_err(msg), "rule"),
        Error::Chem(_) => (ChemError::new_err(msg), "chem"),
        Error::Campaign(_) => (CampaignError::new_err(msg), "campaign"),
        Error::Partition(_) => (PartitionError::new_err(msg), "partition"),
        _ => (XfstoreError::new_err(msg), "io"),
    };
    Python::attach(|py| {
        let _ = err.value(py).setattr("kind", kind);
    });
    err
}

trait OrPy<T> {
    fn py(self) -> PyResult<T>;
}

impl<T, E: Into<Error>> OrPy<T> for Result<T, E> {
    fn py(self) -> PyResult<T> {
        self.map_err(|e| py_err(e.into()))
    }
}

/// One stored product in one job: the canonical SMILES, its first provenance (parent row, id,
/// SMILES, site), how many (parent, site) pairs made it, its properties and carried columns.
#[pyclass(module = "xfstore", frozen, get_all)]
struct Product {
    /// Canonical SMILES (the key).
    smiles: String,
    /// Job id (`<input>/<rule>`).
    job: String,
    /// Rule name.
    rule: String,
    /// Rule label, e.g. `OH->OMe`.
    label: String,
    /// 0-based input row of the first parent that made it.
    parent_row: u64,
    /// That row's id, if the input had one.
    parent_id: Option<String>,
    /// That parent's SMILES as it was in the input.
    parent_smiles: String,
    /// Index of the site among the parent's matches.
    site_index: u32,
    /// Parent atom indices of the mapped site atoms.
    site_atoms: Vec<u32>,
    /// (parent, site) pairs that made this product, over the whole input.
    occurrences: u64,
    /// {"mw", "tpsa", "hbd", "hba", "clogp", "rotb"} (the keys of `xfstore query --json`), or None
    /// (ingested with no_props).
    props: Option<Py<PyDict>>,
    /// The carried input columns' values, in the job's order.
    carried: Vec<Option<String>>,
}

#[pymethods]
impl Product {
    fn __repr__(&self) -> String {
        format!(
            "Product({:?}, job={:?}, parent_row={}, site_index={}, occurrences={})",
            self.smiles, self.job, self.parent_row, self.site_index, self.occurrences
        )
    }
}

fn product(py: Python<'_>, h: Hit) -> PyResult<Product> {
    let r = h.record;
    let props = match r.props {
        Some(p) => {
            let d = PyDict::new(py);
            d.set_item("mw", p.mw)?;
            d.set_item("tpsa", p.tpsa)?;
            d.set_item("hbd", p.hbd)?;
            d.set_item("hba", p.hba)?;
            d.set_item("clogp", p.clogp)?;
            d.set_item("rotb", p.rotb)?;
            Some(d.unbind())
        }
        None => None,
    };
    Ok(Product {
        smiles: h.smiles,
        job: h.job,
        rule: h.rule,
        label: h.label,
        parent_row: r.parent_row,
        parent_id: r.parent_id,
        parent_smiles: r.parent_smiles,
        site_index: r.site_index,
        site_atoms: r.site_atoms,
        occurrences: r.occurrences,
        props,
        carried: r.carried,
    })
}

/// A lookup's Python value: None when not found, a list of products (one per job) otherwise;
/// an invalid SMILES raises ValueError (or is None when `strict` is false).
fn outcome(py: Python<'_>, o: QueryOutcome, strict: bool) -> PyResult<Option<Vec<Product>>> {
    match o {
        QueryOutcome::Found { hits, .. } => {
            Ok(Some(hits.into_iter().map(|h| product(py, h)).collect::<PyResult<_>>()?))
        }
        QueryOutcome::NotFound { .. } => Ok(None),
        QueryOutcome::Invalid { query, error, .. } if strict => {
            Err(PyValueError::new_err(format!("not a valid SMILES {query:?}: {error}")))
        }
        QueryOutcome::Invalid { .. } => Ok(None),
    }
}

/// An open store. `Store(path)` opens it read-only: any number of readers, even while another
/// process ingests into it (a consistent point-in-time view). `Store(path, read_only=False)`
/// takes the store's single-writer lock (as an ingest does) until `close()` (or the end of a
/// `with` block, or garbage collection).
#[pyclass(module = "xfstore", frozen)]
struct Store {
    path: PathBuf,
    read_only: bool,
    /// None once closed.
    open: RwLock<Option<OpenStore>>,
}

/// Any store folder (a store, a partitioned run or campaign), read-only; with read_only=False
/// also the writer (holding the lock), which lookups read through. Streams from `products()`
/// own the read-only view, so they outlive `close()` without keeping the lock.
struct OpenStore {
    reader: Arc<Reader>,
    writer: Option<Reader>,
}

impl OpenStore {
    fn read(&self) -> &Reader {
        self.writer.as_ref().unwrap_or(&self.reader)
    }
}

impl Store {
    /// Runs `f` on the open store; StoreError once closed.
    fn with<T>(&self, f: impl FnOnce(&OpenStore) -> PyResult<T>) -> PyResult<T> {
        let guard = self.open.read().map_err(|_| StoreError::new_err("store handle poisoned by a panic"))?;
        match guard.as_ref() {
            Some(open) => f(open),
            None => Err(StoreError::new_err(format!("store {} is closed", self.path.display()))),
        }
    }

    fn jobs_for(store: &Reader, job: Option<&str>, rule: Option<&str>) -> PyResult<Vec<JobMeta>> {
        xfstore::select_jobs(store, job, rule).py()
    }
}

fn json_value<'py>(py: Python<'py>, text: &str) -> PyResult<Bound<'py, PyAny>> {
    py.import("json")?.call_method1("loads", (text,))
}

#[pymethods]
impl Store {
    #[new]
    #[pyo3(signature = (path, read_only = true))]
    fn new(py: Python<'_>, path: PathBuf, read_only: bool) -> PyResult<Self> {
        let open = py
            .detach(|| -> Result<OpenStore, Error> {
                let writer = if read_only {
                    None
                } else {
                    Some(Reader::from_writer(xfstore::Store::open(&path, &StoreOptions::default())?))
                };
                Ok(OpenStore { reader: Arc::new(Reader::open(&path)?), writer })
            })
            .map_err(py_err)?;
        Ok(Store { path, read_only, open: RwLock::new(Some(open)) })
    }

    /// Closes the store (a writer releases its lock). Streams from `products()` already made
    /// keep working; anything else raises StoreError afterwards.
    fn close(&self) {
        if let Ok(mut guard) = self.open.write() {
            guard.take();
        }
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, _args: &Bound<'_, pyo3::types::PyTuple>) -> bool {
        self.close();
        false
    }

    /// The store's folder.
    #[getter]
    fn path(&self) -> PathBuf {
        self.path.clone()
    }

    fn __repr__(&self) -> String {
        let closed = self.open.read().map(|g| g.is_none()).unwrap_or(true);
        format!("Store({:?}, read_only={}{})", self.path, self.read_only, if closed { ", closed" } else { "" })
    }

    /// Looks a SMILES (any spelling: canonicalized as ingest does) up in every job, or in the
    /// job / rule given. Returns a list of Product (one per job holding it), or None.
    #[pyo3(signature = (smiles, *, job = None, rule = None))]
    fn lookup(
        &self,
        py: Python<'_>,
        smiles: String,
        job: Option<String>,
        rule: Option<String>,
    ) -> PyResult<Option<Vec<Product>>> {
        let o = self.with(|s| {
            let jobs = Self::jobs_for(s.read(), job.as_deref(), rule.as_deref())?;
            py.detach(|| xfstore::lookup(s.read(), &jobs, &smiles)).py()
        })?;
        outcome(py, o, true)
    }

    /// Looks many SMILES up, in parallel without the GIL; one result per query, in order (a
    /// list of Product, or None). An invalid SMILES raises ValueError, or is None when
    /// `strict=False`.
    #[pyo3(signature = (smiles, *, job = None, rule = None, strict = true))]
    fn lookup_many(
        &self,
        py: Python<'_>,
        smiles: Bound<'_, PyAny>,
        job: Option<String>,
        rule: Option<String>,
        strict: bool,
    ) -> PyResult<Vec<Option<Vec<Product>>>> {
        let queries: Vec<String> = smiles.try_iter()?.map(|s| s?.extract::<String>()).collect::<PyResult<_>>()?;
        let outcomes: Vec<QueryOutcome> = self.with(|s| {
            let store = s.read();
            let jobs = Self::jobs_for(store, job.as_deref(), rule.as_deref())?;
            py.detach(|| {
                queries
                    .into_par_iter()
                    .map(|q| xfstore::lookup_query(store, &jobs, &Query { smiles: q, id: None }))
                    .collect::<Result<Vec<_>, Error>>()
            })
            .py()
        })?;
        outcomes.into_iter().map(|o| outcome(py, o, strict)).collect()
    }

    /// The products made from a parent (any spelling), via the parent index: a list of
    /// Product, or None.
    #[pyo3(signature = (parent, *, job = None, rule = None))]
    fn products_of_parent(
        &self,
        py: Python<'_>,
        parent: String,
        job: Option<String>,
        rule: Option<String>,
    ) -> PyResult<Option<Vec<Product>>> {
        let o = self.with(|s| {
            let jobs = Self::jobs_for(s.read(), job.as_deref(), rule.as_deref())?;
            py.detach(|| xfstore::products_of_parent(s.read(), &jobs, &parent)).py()
        })?;
        outcome(py, o, true)
    }

    /// Every path from an original input molecule to the product `smiles` (any spelling) as a
    /// `pyarrow.Table`: a row per step (`path`, `step`, `job`, `rule`, `parent`, `product`),
    /// with the path's `root_smiles`, `root_input` and the original `root_rows` / `root_ids`.
    /// Empty when no job holds the product; at most `max_paths` paths.
    #[pyo3(signature = (smiles, *, max_paths = xfstore::DEFAULT_MAX_PATHS))]
    fn lineage<'py>(&self, py: Python<'py>, smiles: String, max_paths: usize) -> PyResult<Bound<'py, PyAny>> {
        let batch = self.with(|s| {
            py.detach(|| xfstore::lineage(s.read(), &smiles, max_paths).and_then(|l| xfstore::lineage_batch(&l))).py()
        })?;
        table(py, batch)
    }

    /// Everything made from `query` across all steps as a `pyarrow.Table` (`depth`, `job`,
    /// `rule`, `parent`, `product`): the molecule of the input rows whose id is `query`, or
    /// (no row has that id) the molecule `query` as a SMILES wherever it is a parent.
    fn descendants<'py>(&self, py: Python<'py>, query: String) -> PyResult<Bound<'py, PyAny>> {
        let batch = self.with(|s| {
            py.detach(|| xfstore::descendants(s.read(), &query).and_then(|d| xfstore::descendants_batch(&d))).py()
        })?;
        table(py, batch)
    }

    /// The folder's status as a dict (schemas/status.schema.json): its `kind` says which view
    /// (a store's jobs, as `xfstore status --json` prints them; a partitioned run's progress;
    /// a partitioned campaign's runs and the streams waiting for their upstream).
    fn status<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let doc = self.with(|s| py.detach(|| xfstore::status_summary(s.read())).py())?;
        json_value(py, &doc)
    }

    /// Every job's record as a dict (the `jobs` of a store's status; for a partitioned folder,
    /// each job summed over its units and shards, in the same shape).
    fn jobs<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let st = self.with(|s| py.detach(|| xfstore::status(s.read())).py())?;
        json_value(py, &xfstore::status_json(&st))?.get_item("jobs")
    }

    /// A job's products (by `job` id, or the one job of `rule`, or the store's only job) as a
    /// `pyarrow.RecordBatchReader` of the export schema, in key order, read through the Arrow
    /// C stream interface: pandas (`.read_pandas()`), polars (`pl.from_arrow`) and DuckDB read
    /// it directly. The job must be complete unless `allow_incomplete`.
    #[pyo3(signature = (job = None, *, rule = None, batch_rows = 65536, allow_incomplete = false, inchikey = false))]
    fn products<'py>(
        &self,
        py: Python<'py>,
        job: Option<String>,
        rule: Option<String>,
        batch_rows: usize,
        allow_incomplete: bool,
        inchikey: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (jobs, reader) =
            self.with(|s| Ok((Self::jobs_for(s.read(), job.as_deref(), rule.as_deref())?, s.reader.clone())))?;
        let meta = match jobs.as_slice() {
            [one] => one.clone(),
            [] => return Err(StoreError::new_err("the store has no jobs")),
            many => {
                let ids: Vec<&str> = many.iter().map(|j| j.id.as_str()).collect();
                return Err(PyValueError::new_err(format!("{} jobs match; pick one: {}", many.len(), ids.join(", "))));
            }
        };
        if meta.state != xfstore::JobState::Complete && !allow_incomplete {
            return Err(py_err(
                xfstore::ExportError::Incomplete { job: meta.id.clone(), done: meta.offset, total: meta.input.rows }
                    .into(),
            ));
        }
        let batches = ProductBatches::new(reader, meta, batch_rows);
        let batches = if inchikey { batches.with_inchikeys() } else { batches };
        let schema = batches.schema();
        let reader = RecordBatchIterator::new(batches, schema);
        let mut stream = FFI_ArrowArrayStream::new(Box::new(reader));
        // pyarrow moves the stream out of `stream` (marking it released); dropping `stream`
        // afterwards then releases nothing
        let address = std::ptr::addr_of_mut!(stream) as usize;
        let pa = py.import("pyarrow")?;
        pa.getattr("RecordBatchReader")?.call_method1("_import_from_c", (address,))
    }

    /// Rewrites the store's files and folds merge operands (needs read_only=False).
    fn compact(&self, py: Python<'_>) -> PyResult<()> {
        self.with(|s| {
            let w =
                s.read().writer().ok_or_else(|| StoreError::new_err("compact needs Store(path, read_only=False)"))?;
            py.detach(|| w.compact()).py()
        })
    }
}

/// Runs `work` on a Rust thread while this thread waits without the GIL in 100 ms slices; in
/// between, checks Python's signals and calls `progress(rows, products)` when they changed. On
/// KeyboardInterrupt (or an exception from the callback) the run is asked to stop, the thread
/// finishes its batch, and the exception is raised.
fn run_controlled<T: Send + 'static>(
    py: Python<'_>,
    control: Arc<RunControl>,
    progress: Option<Bound<'_, PyAny>>,
    work: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> PyResult<T> {
    let (tx, rx) = channel();
    let thread = std::thread::spawn(move || {
        let _ = tx.send(work());
    });
    // a Receiver is not Sync; the detached closure borrows it through a Mutex
    let rx = std::sync::Mutex::new(rx);
    let mut seen = (u64::MAX, u64::MAX);
    let mut interrupted: Option<PyErr> = None;
    let result = loop {
        let received = py.detach(|| match rx.lock() {
            Ok(r) => r.recv_timeout(Duration::from_millis(100)),
            Err(_) => Err(RecvTimeoutError::Disconnected),
        });
        match received {
            Ok(r) => break r,
            Err(RecvTimeoutError::Disconnected) => {
                break Err(Error::Io {
                    context: "ingest thread",
                    source: std::io::Error::other("the ingest thread ended without a result (panic)"),
                })
            }
            Err(RecvTimeoutError::Timeout) => {}
        }
        if interrupted.is_some() {
            continue; // stopping: wait for the batch being committed
        }
        let now = (control.rows(), control.products());
        let callback = match (&progress, now != seen) {
            (Some(cb), true) => {
                seen = now;
                cb.call1(now).map(|_| ())
            }
            _ => Ok(()),
        };
        if let Err(e) = callback.and_then(|_| py.check_signals()) {
            control.stop();
            interrupted = Some(e);
        }
    };
    let _ = thread.join();
    if let Some(e) = interrupted {
        return Err(e);
    }
    // the last commits may have landed after the last poll: report where the run ended
    let end = (control.rows(), control.products());
    if let (Some(cb), true) = (&progress, end != seen && result.is_ok()) {
        cb.call1(end)?;
    }
    result.map_err(py_err)
}

fn report_dict<'py>(py: Python<'py>, r: &IngestReport) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    let jobs = PyList::empty(py);
    for j in &r.jobs {
        let m = &j.meta;
        let c = &m.counters;
        let jd = PyDict::new(py);
        jd.set_item("job", &m.id)?;
        jd.set_item("rule", &m.rule.name)?;
        jd.set_item("state", if m.state == xfstore::JobState::Complete { "complete" } else { "partial" })?;
        jd.set_item("rows_done", m.offset)?;
        jd.set_item("rows_total", m.input.rows)?;
        jd.set_item("resumed_from", j.resumed_from)?;
        jd.set_item("inputs", c.inputs)?;
        jd.set_item("failed", c.failed.clone())?;
        jd.set_item("no_site", c.no_site)?;
        jd.set_item("products", c.site_products)?;
        jd.set_item("product_failed", c.product_failed)?;
        jd.set_item("masked_sites", c.masked_sites)?;
        jd.set_item("unique", c.unique_products)?;
        jobs.append(jd)?;
    }
    d.set_item("jobs", jobs)?;
    d.set_item("rows", r.rows)?;
    d.set_item("products", r.site_products)?;
    d.set_item("elapsed_secs", r.elapsed_secs)?;
    d.set_item("peak_rss", r.peak_rss)?;
    d.set_item("props_computed", r.props_computed)?;
    d.set_item("stopped", r.stopped)?;
    Ok(d)
}

fn durability(sync: bool) -> xfstore::Durability {
    if sync {
        xfstore::Durability::Sync
    } else {
        xfstore::Durability::Process
    }
}

fn budget(memory_budget: Option<&str>) -> PyResult<MemoryBudget> {
    match memory_budget {
        Some(s) => s.parse().map_err(|e: String| PyValueError::new_err(e)),
        None => Ok(MemoryBudget::default()),
    }
}

/// The input of `ingest()`: a `str` in the CLI's text form (a path, or `job:ID,...`), or any
/// `os.PathLike` (a path, never parsed).
fn input_spec(input: &Bound<'_, PyAny>) -> PyResult<InputSpec> {
    match input.extract::<String>() {
        Ok(text) => Ok(InputSpec::parse(&text)),
        Err(_) => Ok(InputSpec::Path(input.extract::<PathBuf>()?)),
    }
}

/// Ingests `input` with `rules` into the store at `store` (created if needed), resumably,
/// exactly as `xfstore ingest` does (the same options, by the same names), and returns the
/// run's report as a dict (`rejects=PATH` also writes the rejected rows as TSV). The GIL is
/// released while it runs; `progress(rows_committed, products_committed)` is called as batches
/// commit; Ctrl-C stops it after the batch being committed (the jobs resume from there next
/// time) and raises KeyboardInterrupt.
#[pyfunction]
#[pyo3(signature = (store, input, rules, *, name = None, format = None, smiles_column = "smiles".to_owned(),
    id_column = None, carry = Vec::new(), no_props = false, memory_budget = None, batch_rows = None,
    max_rows = None, restart = false, site_cap = None, sugar_mask = false, rules_file = None,
    max_heavy_atoms = None, sync = false, rejects = None, progress = None))]
#[allow(clippy::too_many_arguments)]
fn ingest<'py>(
    py: Python<'py>,
    store: PathBuf,
    input: Bound<'py, PyAny>,
    rules: Vec<String>,
    name: Option<String>,
    format: Option<String>,
    smiles_column: String,
    id_column: Option<String>,
    carry: Vec<String>,
    no_props: bool,
    memory_budget: Option<String>,
    batch_rows: Option<usize>,
    max_rows: Option<u64>,
    restart: bool,
    site_cap: Option<i64>,
    sugar_mask: bool,
    rules_file: Option<PathBuf>,
    max_heavy_atoms: Option<u32>,
    sync: bool,
    rejects: Option<PathBuf>,
    progress: Option<Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyDict>> {
    let rule_set = RuleSet::load_or_builtin(rules_file.as_deref()).map_err(|e| py_err(e.into()))?;
    let format = format.map(|f| f.parse::<InputFormat>()).transpose().map_err(PyValueError::new_err)?;
    let control = RunControl::new();
    let mut opts = IngestOptions::for_rules(input_spec(&input)?, &rule_set, &rules, site_cap, sugar_mask)
        .py()?
        .format(format)
        .input_key(name)
        .smiles_column(smiles_column)
        .id_column(id_column)
        .carry_columns(carry)
        .with_props(!no_props)
        .budget(budget(memory_budget.as_deref())?)
        .max_rows(max_rows)
        .restart(restart)
        .control(control.clone());
    if let Some(n) = batch_rows {
        opts = opts.batch_rows(n);
    }
    if let Some(n) = max_heavy_atoms {
        opts = opts.max_heavy_atoms(n);
    }
    let store_options = StoreOptions { durability: durability(sync), ..opts.store_options() };
    let report = run_controlled(py, control, progress, move || {
        let (plan, db) = IngestPlan::with_store(&rule_set, opts, &store, &store_options)?;
        let report = plan.run(&db)?;
        let rejected = match &rejects {
            Some(path) => Some(xfstore::write_rejects(&db, plan.input_key(), path)?),
            None => None,
        };
        Ok((report, rejected))
    })?;
    let d = report_dict(py, &report.0)?;
    if let Some(n) = report.1 {
        d.set_item("rejects_written", n)?;
    }
    Ok(d)
}

/// Runs a campaign file into the store at `store` (every step in dependency order, resumable,
/// complete streams skipped), as `xfstore run`; returns a dict with one ingest report per stream
/// that ran. GIL released; `progress(rows, products)` per committed batch of the current stream;
/// Ctrl-C stops after the batch being committed and raises KeyboardInterrupt.
#[pyfunction]
#[pyo3(signature = (campaign, store, *, rules_file = None, no_props = false, memory_budget = None, batch_rows = None,
    max_heavy_atoms = None, sync = false, redo_changed = false, progress = None))]
#[allow(clippy::too_many_arguments)]
fn run<'py>(
    py: Python<'py>,
    campaign: PathBuf,
    store: PathBuf,
    rules_file: Option<PathBuf>,
    no_props: bool,
    memory_budget: Option<String>,
    batch_rows: Option<usize>,
    max_heavy_atoms: Option<u32>,
    sync: bool,
    redo_changed: bool,
    progress: Option<Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyDict>> {
    let (c, rules, _) = Campaign::load(&campaign, rules_file.as_deref()).py()?;
    let control = RunControl::new();
    let budget = budget(memory_budget.as_deref())?;
    let mut opts = RunOptions::default()
        .budget(budget)
        .no_props(no_props)
        .max_heavy_atoms(max_heavy_atoms)
        .redo_changed(redo_changed)
        .control(control.clone());
    if let Some(n) = batch_rows {
        opts = opts.batch_rows(n);
    }
    let store_options = StoreOptions { durability: durability(sync), ..StoreOptions::from_budget(&budget) };
    let report = run_controlled(py, control, progress, move || {
        let db = xfstore::Store::open(&store, &store_options)?;
        xfstore::run_campaign(&db, &rules, &c, &opts, |_, _| {})
    })?;
    let d = PyDict::new(py);
    let streams = PyList::empty(py);
    for s in &report.streams {
        let sd = PyDict::new(py);
        sd.set_item("stream", &s.key)?;
        match &s.ingest {
            Some(r) => sd.set_item("ingest", report_dict(py, r)?)?,
            None => sd.set_item("ingest", py.None())?,
        }
        streams.append(sd)?;
    }
    d.set_item("streams", streams)?;
    d.set_item("elapsed_secs", report.elapsed_secs)?;
    d.set_item("stopped", report.stopped)?;
    Ok(d)
}

/// Canonical SMILES of `smiles` with the settings every key is made with.
#[pyfunction]
fn canonicalize(smiles: &str) -> PyResult<String> {
    xfstore::canonicalize(smiles).map_err(|e| py_err(e.into()))
}

/// The versions this module was built with: xfstore and RDKit.
#[pyfunction]
fn versions(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("xfstore", env!("CARGO_PKG_VERSION"))?;
    d.set_item("rdkit", xfstore::rdkit_version())?;
    Ok(d)
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_class::<Store>()?;
    m.add_class::<Product>()?;
    m.add_function(wrap_pyfunction!(ingest, m)?)?;
    m.add_function(wrap_pyfunction!(run, m)?)?;
    m.add_function(wrap_pyfunction!(canonicalize, m)?)?;
    m.add_function(wrap_pyfunction!(versions, m)?)?;
    m.add("XfstoreError", py.get_type::<XfstoreError>())?;
    m.add("StoreError", py.get_type::<StoreError>())?;
    m.add("InputError", py.get_type::<InputError>())?;
    m.add("IngestError", py.get_type::<IngestError>())?;
    m.add("ExportError", py.get_type::<ExportError>())?;
    m.add("RuleError", py.get_type::<RuleError>())?;
    m.add("ChemError", py.get_type::<ChemError>())?;
    m.add("CampaignError", py.get_type::<CampaignError>())?;
    m.add("PartitionError", py.get_type::<PartitionError>())?;
    Ok(())
}

/// One record batch as a `pyarrow.Table`, through the Arrow C stream interface.
fn table<'py>(py: Python<'py>, batch: arrow_array::RecordBatch) -> PyResult<Bound<'py, PyAny>> {
    let schema = batch.schema();
    let reader = RecordBatchIterator::new(vec![Ok(batch)], schema);
    let mut stream = FFI_ArrowArrayStream::new(Box::new(reader));
    // pyarrow moves the stream out of `stream` (marking it released)
    let address = std::ptr::addr_of_mut!(stream) as usize;
    let pa = py.import("pyarrow")?;
    pa.getattr("RecordBatchReader")?.call_method1("_import_from_c", (address,))?.call_method0("read_all")
}
