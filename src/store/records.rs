//! Records stored as values (see `schema.rs` for where they live).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Computed properties of a product (RDKit Descriptors).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Props {
    /// Average molecular weight.
    pub mw: f64,
    /// Topological polar surface area.
    pub tpsa: f64,
    /// H-bond donors.
    pub hbd: u32,
    /// H-bond acceptors.
    pub hba: u32,
    /// Crippen logP.
    pub clogp: f64,
    /// Rotatable bonds (strict).
    pub rotb: u32,
}

impl From<crate::chem::MolProps> for Props {
    fn from(p: crate::chem::MolProps) -> Self {
        Self { mw: p.mw, tpsa: p.tpsa, hbd: p.hbd, hba: p.hba, clogp: p.clogp, rotb: p.rotb }
    }
}

/// One distinct product of a job, keyed by its canonical SMILES.
/// Provenance is that of the first (parent, site) in input order that produced it: the lowest
/// row of a file input, the smallest parent key of a job input (whose rows are in key order).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProductRecord {
    /// 0-based row of the parent in the input file; for a job input, the row of the original
    /// input molecule the parent came from (carried down like its id).
    pub parent_row: u64,
    /// Value of the input's id column for that row, when one was given.
    pub parent_id: Option<String>,
    /// The parent's SMILES as it was in the input.
    pub parent_smiles: String,
    /// Index of the matched site among the parent's sites (RDKit match order).
    pub site_index: u32,
    /// Parent atom indices of the mapped site atoms, ordered by atom-map number.
    pub site_atoms: Vec<u32>,
    /// Number of (parent, site) pairs that produced this product, over the whole input.
    pub occurrences: u64,
    /// Properties of the product (None with `--no-props`).
    pub props: Option<Props>,
    /// The parent row's values of the job's carried input columns, as text.
    pub carried: Vec<Option<String>>,
    /// The job version ([`JobMeta::version`]) that stored this key first: what a job reading
    /// this one as its input compares with the version it read, to read only keys new since.
    /// Added in codec version 4; older records read as 0.
    pub since: u64,
    /// The job version that last changed this record's first provenance (its parent, id,
    /// carried cells): `since` unless a smaller parent was found later. Codec version 4.
    pub moved: u64,
}

/// An input row that produced nothing, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectRecord {
    /// The row's id, if an id column was given.
    pub id: Option<String>,
    /// The row's SMILES (None when the cell was null).
    pub smiles: Option<String>,
    /// Stable reason key: `null_smiles`, `parse_error`, `sanitize_error`, `rdkit_error`.
    pub reason: String,
    /// RDKit's message.
    pub detail: String,
}

/// Where a job reads from, with enough to recognise the same file again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputInfo {
    /// The input's path as given.
    pub path: String,
    /// File size in bytes.
    pub size: u64,
    /// Rows in the file.
    pub rows: u64,
    /// xxh3 of the Parquet footer (schema + row-group metadata).
    pub footer_hash: u64,
    /// Name of the SMILES column.
    pub smiles_column: String,
    /// Name of the id column, if any.
    pub id_column: Option<String>,
    /// Input columns carried into product records (`ProductRecord::carried`).
    pub carry_columns: Vec<String>,
}

impl InputInfo {
    /// Whether `other` is the same input content: size, rows and fingerprint (the path may
    /// differ: a moved file is the same input).
    pub fn same_rows(&self, other: &InputInfo) -> bool {
        (self.size, self.rows, self.footer_hash) == (other.size, other.rows, other.footer_hash)
    }

    /// Whether `other` reads the same columns.
    pub fn same_columns(&self, other: &InputInfo) -> bool {
        (&self.smiles_column, &self.id_column, &self.carry_columns)
            == (&other.smiles_column, &other.id_column, &other.carry_columns)
    }
}

/// The content of one version of an input file, as the transform reads it (`meta` family,
/// per input key): what proves a single Parquet file rewritten with more rows kept its old
/// rows, since its fingerprint (the footer) changes with any rewrite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowsHash {
    /// Rows in that version.
    pub rows: u64,
    /// Its size in bytes.
    pub size: u64,
    /// Its fingerprint ([`InputInfo::footer_hash`]).
    pub fingerprint: u64,
    /// xxh3 of its rows as the transform reads them (columns, cells, rejections).
    pub hash: u64,
}

impl RowsHash {
    /// Whether this is the version `input` describes.
    pub fn describes(&self, input: &InputInfo) -> bool {
        (self.rows, self.size, self.fingerprint) == (input.rows, input.size, input.footer_hash)
    }
}

/// The rule a job applies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleInfo {
    /// Rule name.
    pub name: String,
    /// Rule label.
    pub label: String,
    /// Rule family.
    pub family: String,
    /// Reaction SMARTS.
    pub smirks: String,
    /// Hash of the rule's definition (a resume is refused when it changes).
    pub hash: u64,
}

/// Running totals of a job; exact, because they are committed with the products.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    /// Input rows consumed (successful or not).
    pub inputs: u64,
    /// Input rows rejected, by reason (`null_smiles`, `parse_error`, `sanitize_error`).
    pub failed: BTreeMap<String, u64>,
    /// Parsed inputs where the rule matched no site.
    pub no_site: u64,
    /// Products made, one per (parent, site), before dedup.
    pub site_products: u64,
    /// Sites whose product RDKit could not sanitize.
    pub product_failed: u64,
    /// Distinct products in the job's column family.
    pub unique_products: u64,
    /// Matches the rule's sugar mask kept from being transformed (0 without a mask). Added in
    /// codec version 3; records of version 2 read as 0.
    pub masked_sites: u64,
    /// Products (one per parent x site) a step's property filter (`keep:`) dropped: not stored.
    /// Codec version 4; older records read as 0.
    pub filtered: u64,
}

#[cfg(test)]
impl ProductRecord {
    /// Anisole as made from phenol's oxygen (site 0, atom 6), once, without properties or
    /// carried cells, for tests.
    pub(crate) fn for_test() -> Self {
        ProductRecord {
            parent_row: 0,
            parent_id: None,
            parent_smiles: "Oc1ccccc1".into(),
            site_index: 0,
            site_atoms: vec![6],
            occurrences: 1,
            props: None,
            carried: vec![],
            since: 0,
            moved: 0,
        }
    }
}

#[cfg(test)]
impl JobMeta {
    /// A fresh job of input `in` (`in.smi`, 2 rows) and rule `R`, for tests of the store.
    pub(crate) fn for_test(id: &str) -> Self {
        let input = InputInfo {
            path: "in.smi".into(),
            size: 10,
            rows: 2,
            footer_hash: 5,
            smiles_column: "smiles".into(),
            id_column: None,
            carry_columns: vec![],
        };
        let rule = RuleInfo { name: "R".into(), label: "l".into(), family: "f".into(), smirks: "s".into(), hash: 9 };
        Self::fresh(id.into(), "in".into(), input, rule, "2022.09.3".into(), 0)
    }
}

impl Counters {
    /// Rows rejected, over all reasons.
    pub fn failed_total(&self) -> u64 {
        self.failed.values().sum()
    }
}

/// Lifecycle of a job. (The codec stores the variant index; JSON names are in `query/json.rs`.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum JobState {
    /// Some input rows are not yet committed (running now, or interrupted).
    Partial,
    /// All input rows are committed.
    Complete,
}

impl JobState {
    /// The state's name in JSON and tables: `partial`, `complete`.
    pub fn name(self) -> &'static str {
        match self {
            JobState::Partial => "partial",
            JobState::Complete => "complete",
        }
    }
}

/// Everything the store knows about one job (input x rule).
/// `input_key` names the input's reject column family (shared by the input's jobs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobMeta {
    /// Job id: `<input key>/<rule name>`.
    pub id: String,
    /// The input's key (its file stem): names its rejects column family.
    pub input_key: String,
    /// The input as fingerprinted when the job started.
    pub input: InputInfo,
    /// The rule as it was when the job started.
    pub rule: RuleInfo,
    /// RDKit version that canonicalized the job's keys.
    pub rdkit_version: String,
    /// Number of input rows whose results are committed; ingest resumes here.
    pub offset: u64,
    /// Running totals, exact at `offset`.
    pub counters: Counters,
    /// Shown as `committed_state` in JSON, next to the live run state of `xfstore status`.
    pub state: JobState,
    /// Seconds spent ingesting, summed over runs.
    pub busy_secs: f64,
    /// When the job was created (Unix seconds).
    pub created_unix: u64,
    /// When the job last committed (Unix seconds).
    pub updated_unix: u64,
    /// The store generation that created the job: a job redone from row 0 is another job for
    /// the jobs reading it (their rows are redone too). Codec version 4; older records: 0.
    pub born: u64,
    /// The store generation of the job's last growth (`born` until it grows): the `since` of
    /// the products it stores from then on. Codec version 4; older records: 0.
    pub version: u64,
    /// For a job reading other jobs (`job:` input): which upstream versions its rows are, and
    /// which it had read before the growth in progress (None: a file input, or a job made by a
    /// codec older than 4, which cannot grow and is redone when its upstream changes).
    pub upstream: Option<UpstreamReads>,
}

/// Which versions of its upstream jobs a job reading them has read (see [`JobMeta::upstream`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpstreamReads {
    /// The upstream jobs as the job's rows are now (its input fingerprint's).
    pub now: Vec<UpstreamRead>,
    /// The upstream jobs as read before the growth now recorded (empty: the job is made from
    /// every key of `now`). Its keys are the rows below `rows_before`.
    pub before: Vec<UpstreamRead>,
    /// Rows (distinct upstream keys) read before the growth; the keys new since follow them.
    pub rows_before: u64,
}

/// One upstream job as a job read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpstreamRead {
    /// Its id.
    pub job: String,
    /// Its [`JobMeta::born`].
    pub born: u64,
    /// Its [`JobMeta::version`].
    pub version: u64,
}

impl From<&JobMeta> for UpstreamRead {
    /// The job as a job reading it now records it.
    fn from(m: &JobMeta) -> Self {
        Self { job: m.id.clone(), born: m.born, version: m.version }
    }
}

impl JobMeta {
    /// A job that has committed nothing yet (offset 0, partial), created at `now_unix`.
    pub fn fresh(
        id: String,
        input_key: String,
        input: InputInfo,
        rule: RuleInfo,
        rdkit_version: String,
        now_unix: u64,
    ) -> Self {
        Self {
            id,
            input_key,
            input,
            rule,
            rdkit_version,
            offset: 0,
            counters: Counters::default(),
            state: JobState::Partial,
            busy_secs: 0.0,
            created_unix: now_unix,
            updated_unix: now_unix,
            born: 0,
            version: 0,
            upstream: None,
        }
    }
}

impl JobMeta {
    /// Whether the job grows from upstream keys new since it last read them: a product it
    /// holds may then have been made from a smaller parent key (`store/merge.rs`).
    pub(crate) fn grows_from_keys(&self) -> bool {
        self.upstream.as_ref().is_some_and(|u| !u.before.is_empty())
    }
}

impl Counters {
    /// Adds a batch's counters (everything but `unique_products`, which the commit computes).
    pub fn add(&mut self, d: &Counters) {
        self.inputs += d.inputs;
        for (k, v) in &d.failed {
            *self.failed.entry(k.clone()).or_default() += v;
        }
        self.no_site += d.no_site;
        self.site_products += d.site_products;
        self.product_failed += d.product_failed;
        self.masked_sites += d.masked_sites;
        self.filtered += d.filtered;
    }
}
