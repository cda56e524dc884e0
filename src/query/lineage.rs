//! Lineage: every path from an original input molecule to a product, and everything made from
//! a molecule across all steps (`xfstore query --lineage / --descendants`, Python
//! `Store.lineage()` / `Store.descendants()`).
//!
//! Why an index of its own: a product record keeps its first provenance only, and the parent
//! index is keyed by parent, so "which parents made this product" would scan a job's links. The
//! lineage index (`store/schema.rs`, format 7) keeps each job's links by product as well, and
//! the root rows of a file-input job (each input row whose molecule made a product, with its
//! id). Both are written in the same commit as the products (a kill leaves all of a batch or
//! none), are idempotent puts of keys a rebuild writes too (growth and resume end with the
//! same keys), are emptied with their job's family, and are as large as the parent index
//! plus one key per input row: bounded by what the job already stores.
//!
//! A path climbs from the product through the jobs holding it, each parent the job's links by
//! product name, into the upstream jobs holding that parent (a `job:` input), up to a job
//! reading a file: its parent is an original molecule, named with every input row of it.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use arrow_array::builder::{ListBuilder, StringBuilder, UInt32Builder, UInt64Builder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use serde::Serialize;

use crate::chem::canonicalize;
use crate::error::{ExportError, Result, StoreError};
use crate::input::InputSpec;
use crate::reader::Reader;
use crate::store::JobMeta;

/// Paths a lineage lists at most unless told otherwise; past it the answer says it was cut.
pub const DEFAULT_MAX_PATHS: usize = 10_000;

/// One input row of an original molecule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RootRow {
    /// Row number in the input (0-based).
    pub row: u64,
    /// The row's id, if the input has ids.
    pub id: Option<String>,
}

/// One step of a path: `job` (its rule) made `product` from the step before's molecule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LineageStep {
    /// Job id.
    pub job: String,
    /// Rule name.
    pub rule: String,
    /// Canonical SMILES made.
    pub product: String,
}

/// One path from an original input molecule to the product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LineagePath {
    /// Canonical SMILES of the original molecule.
    pub root: String,
    /// The input file the original molecule was read from (its path as given).
    pub input: String,
    /// Every row of that input holding the molecule (and making products), in row order.
    pub rows: Vec<RootRow>,
    /// The steps, from the original molecule's first product to the queried product.
    pub steps: Vec<LineageStep>,
}

/// Every path to a product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Lineage {
    /// The query as given.
    pub query: String,
    /// Its canonical SMILES.
    pub canonical: String,
    /// The paths, sorted (root, input, steps).
    pub paths: Vec<LineagePath>,
    /// Whether the paths were cut at the limit asked for.
    pub truncated: bool,
}

/// One product made from a molecule that descends from the query.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Descendant {
    /// Steps from the query's molecule: 1 for its own products.
    pub depth: u32,
    /// Job id.
    pub job: String,
    /// Rule name.
    pub rule: String,
    /// Canonical SMILES of the parent.
    pub parent: String,
    /// Canonical SMILES made.
    pub product: String,
}

/// Everything made from a molecule (by id: the original rows with that id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Descendants {
    /// The query as given.
    pub query: String,
    /// `id` when the query named input rows by id, else `smiles`.
    pub by: &'static str,
    /// The molecules descended from (canonical SMILES).
    pub molecules: Vec<String>,
    /// Each (job, parent, product) once, sorted by depth, job, parent, product.
    pub products: Vec<Descendant>,
}

/// The jobs of a store with what lineage needs of them.
struct Jobs {
    meta: BTreeMap<String, JobMeta>,
    /// Job -> the jobs it reads (a `job:` input), none for a file input.
    upstream: HashMap<String, Vec<String>>,
}

impl Jobs {
    fn load(store: &Reader) -> Result<Self> {
        for s in store.stores()? {
            if !s.has_lineage()? {
                return Err(StoreError::Invalid {
                    path: store.path().into(),
                    context: "lineage",
                    reason: "the store was made before the lineage index (format 7); run its jobs into a new store",
                }
                .into());
            }
        }
        let meta: BTreeMap<String, JobMeta> = store.jobs()?.into_iter().map(|m| (m.id.clone(), m)).collect();
        let mut upstream = HashMap::new();
        for (id, m) in &meta {
            if let InputSpec::Jobs(ids) = store.input_spec(m)? {
                upstream.insert(id.clone(), ids);
            }
        }
        Ok(Self { meta, upstream })
    }

    fn rule(&self, job: &str) -> String {
        self.meta.get(job).map(|m| m.rule.name.clone()).unwrap_or_default()
    }
}

/// A path's partial form while climbing: the file-input job at the top, its molecule, steps.
type Partial = (String, String, Vec<LineageStep>);

/// Every path from an original input molecule to the product `smiles` (any spelling), at most
/// `max_paths` of them.
pub fn lineage(store: &Reader, smiles: &str, max_paths: usize) -> Result<Lineage> {
    let jobs = Jobs::load(store)?;
    // a stored spelling is its own key (no RDKit), as in `lookup`
    let (canonical, holding) = match store.jobs_holding(smiles)? {
        Some(h) if !h.is_empty() => (smiles.to_owned(), h),
        _ => {
            let canonical = canonicalize(smiles)?;
            let holding = store.jobs_holding(&canonical)?.unwrap_or_default();
            (canonical, holding)
        }
    };
    let mut climb = Climb { store, jobs: &jobs, memo: HashMap::new(), max: max_paths, truncated: false };
    let mut partials: Vec<Partial> = Vec::new();
    for job in holding.iter().filter(|j| jobs.meta.contains_key(*j)) {
        if store.product(job, &canonical)?.is_some() {
            partials.extend(climb.paths_to(job, &canonical)?.iter().cloned());
        }
    }
    let truncated = climb.truncated || partials.len() > max_paths;
    partials.truncate(max_paths);
    let mut paths = Vec::with_capacity(partials.len());
    for (top, root, steps) in partials {
        let rows = store.store_for(&top, &root)?.root_rows(&top, &root)?;
        let input = jobs.meta.get(&top).map(|m| m.input.path.clone()).unwrap_or_default();
        paths.push(LineagePath {
            rows: rows.into_iter().map(|(row, id)| RootRow { row, id }).collect(),
            root,
            input,
            steps,
        });
    }
    paths.sort_by(|a, b| (&a.root, &a.input, &a.steps).cmp(&(&b.root, &b.input, &b.steps)));
    paths.dedup();
    Ok(Lineage { query: smiles.to_owned(), canonical, paths, truncated })
}

impl PartialOrd for LineageStep {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for LineageStep {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (&self.job, &self.product).cmp(&(&other.job, &other.product))
    }
}

/// The climb from a product to its original molecules, memoized per (job, key).
struct Climb<'a> {
    store: &'a Reader,
    jobs: &'a Jobs,
    memo: HashMap<(String, String), Arc<Vec<Partial>>>,
    max: usize,
    truncated: bool,
}

impl Climb<'_> {
    /// The paths to `key` as job `job` made it.
    fn paths_to(&mut self, job: &str, key: &str) -> Result<Arc<Vec<Partial>>> {
        let memo_key = (job.to_owned(), key.to_owned());
        if let Some(done) = self.memo.get(&memo_key) {
            return Ok(done.clone());
        }
        let step = LineageStep { job: job.to_owned(), rule: self.jobs.rule(job), product: key.to_owned() };
        let parents = self.store.store_for(job, key)?.parents_of_product(job, key)?;
        let mut out: Vec<Partial> = Vec::new();
        match self.jobs.upstream.get(job).cloned() {
            None => out.extend(parents.into_iter().map(|p| (job.to_owned(), p, vec![step.clone()]))),
            Some(ups) => {
                for parent in parents {
                    for up in &ups {
                        if self.store.product(up, &parent)?.is_none() {
                            continue;
                        }
                        for (top, root, steps) in self.paths_to(up, &parent)?.iter() {
                            if out.len() >= self.max {
                                self.truncated = true;
                                break;
                            }
                            let mut steps = steps.clone();
                            steps.push(step.clone());
                            out.push((top.clone(), root.clone(), steps));
                        }
                    }
                }
            }
        }
        let out = Arc::new(out);
        self.memo.insert(memo_key, out.clone());
        Ok(out)
    }
}

/// Everything made from `query` across all steps: the molecule of the input rows whose id is
/// `query` (when some row has that id), else the molecule `query` as a SMILES, wherever it is a
/// parent.
pub fn descendants(store: &Reader, query: &str) -> Result<Descendants> {
    let jobs = Jobs::load(store)?;
    let mut seeds: BTreeSet<(String, String)> = BTreeSet::new();
    for (id, _) in jobs.meta.iter().filter(|(id, _)| !jobs.upstream.contains_key(*id)) {
        for shard in store.stores_of(id)? {
            seeds.extend(shard.root_rows_with_id(id, query)?.into_iter().map(|(m, _)| (id.clone(), m)));
        }
    }
    let by = if seeds.is_empty() { "smiles" } else { "id" };
    if seeds.is_empty() {
        let canonical = canonicalize(query)?;
        seeds.extend(jobs.meta.keys().map(|id| (id.clone(), canonical.clone())));
    }
    let molecules: BTreeSet<String> = seeds.iter().map(|(_, m)| m.clone()).collect();
    let mut downstream: HashMap<&str, Vec<&str>> = HashMap::new();
    for (job, ups) in &jobs.upstream {
        for up in ups {
            downstream.entry(up.as_str()).or_default().push(job.as_str());
        }
    }
    let mut products = BTreeSet::new();
    let mut seen: BTreeSet<(String, String)> = BTreeSet::new();
    let mut level: Vec<(String, String)> = seeds.into_iter().collect();
    let mut depth = 0u32;
    while !level.is_empty() {
        depth += 1;
        let mut next = Vec::new();
        for (job, parent) in level {
            if !seen.insert((job.clone(), parent.clone())) {
                continue;
            }
            let mut made = Vec::new();
            for shard in store.stores_of(&job)? {
                made.extend(shard.products_of_parent(&job, &parent)?);
            }
            let rule = jobs.rule(&job);
            for product in made {
                for down in downstream.get(job.as_str()).into_iter().flatten() {
                    next.push(((*down).to_owned(), product.clone()));
                }
                products.insert(Descendant {
                    depth,
                    job: job.clone(),
                    rule: rule.clone(),
                    parent: parent.clone(),
                    product,
                });
            }
        }
        level = next;
    }
    Ok(Descendants {
        query: query.to_owned(),
        by,
        molecules: molecules.into_iter().collect(),
        products: products.into_iter().collect(),
    })
}

/// A lineage as one Arrow batch: a row per step of each path (`path`, `step` from 0), with the
/// path's original molecule, its input and its rows' ids.
pub fn lineage_batch(l: &Lineage) -> Result<RecordBatch> {
    let mut path = UInt32Builder::new();
    let mut step = UInt32Builder::new();
    let (mut job, mut rule, mut parent, mut product) =
        (StringBuilder::new(), StringBuilder::new(), StringBuilder::new(), StringBuilder::new());
    let (mut root, mut input) = (StringBuilder::new(), StringBuilder::new());
    let mut root_rows = ListBuilder::new(UInt64Builder::new());
    let mut root_ids = ListBuilder::new(StringBuilder::new());
    for (i, p) in l.paths.iter().enumerate() {
        let mut from = p.root.as_str();
        for (k, s) in p.steps.iter().enumerate() {
            path.append_value(i as u32);
            step.append_value(k as u32);
            job.append_value(&s.job);
            rule.append_value(&s.rule);
            parent.append_value(from);
            product.append_value(&s.product);
            root.append_value(&p.root);
            input.append_value(&p.input);
            for r in &p.rows {
                root_rows.values().append_value(r.row);
                root_ids.values().append_option(r.id.as_deref());
            }
            root_rows.append(true);
            root_ids.append(true);
            from = &s.product;
        }
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(path.finish()),
        Arc::new(step.finish()),
        Arc::new(job.finish()),
        Arc::new(rule.finish()),
        Arc::new(parent.finish()),
        Arc::new(product.finish()),
        Arc::new(root.finish()),
        Arc::new(input.finish()),
        Arc::new(root_rows.finish()),
        Arc::new(root_ids.finish()),
    ];
    let schema = Schema::new(vec![
        Field::new("path", DataType::UInt32, false),
        Field::new("step", DataType::UInt32, false),
        Field::new("job", DataType::Utf8, false),
        Field::new("rule", DataType::Utf8, false),
        Field::new("parent", DataType::Utf8, false),
        Field::new("product", DataType::Utf8, false),
        Field::new("root_smiles", DataType::Utf8, false),
        Field::new("root_input", DataType::Utf8, false),
        Field::new("root_rows", DataType::List(Arc::new(Field::new("item", DataType::UInt64, true))), false),
        Field::new("root_ids", DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))), false),
    ]);
    Ok(RecordBatch::try_new(Arc::new(schema), columns)
        .map_err(|source| ExportError::Arrow { path: "lineage batch".into(), source })?)
}

/// Descendants as one Arrow batch: `depth`, `job`, `rule`, `parent`, `product`.
pub fn descendants_batch(d: &Descendants) -> Result<RecordBatch> {
    let mut depth = UInt32Builder::new();
    let (mut job, mut rule, mut parent, mut product) =
        (StringBuilder::new(), StringBuilder::new(), StringBuilder::new(), StringBuilder::new());
    for p in &d.products {
        depth.append_value(p.depth);
        job.append_value(&p.job);
        rule.append_value(&p.rule);
        parent.append_value(&p.parent);
        product.append_value(&p.product);
    }
    let schema = Schema::new(vec![
        Field::new("depth", DataType::UInt32, false),
        Field::new("job", DataType::Utf8, false),
        Field::new("rule", DataType::Utf8, false),
        Field::new("parent", DataType::Utf8, false),
        Field::new("product", DataType::Utf8, false),
    ]);
    let columns: Vec<ArrayRef> = vec![
        Arc::new(depth.finish()),
        Arc::new(job.finish()),
        Arc::new(rule.finish()),
        Arc::new(parent.finish()),
        Arc::new(product.finish()),
    ];
    Ok(RecordBatch::try_new(Arc::new(schema), columns)
        .map_err(|source| ExportError::Arrow { path: "descendants batch".into(), source })?)
}
