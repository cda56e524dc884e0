//! The export columns, defined ONCE: [`COLUMNS`] gives each column's name, type, nullability,
//! meaning and the value it takes from a stored product. The Arrow schema of Parquet exports,
//! the CSV header and records (written by arrow-csv from the same record batches), the
//! validation of both, and the checked-in `schemas/products.parquet.json` are all derived from
//! it; a test requires the JSON file to be current. Moving or retyping a column here moves its
//! name, type and value together.

use std::sync::Arc;

use arrow_array::builder::{Float64Builder, ListBuilder, StringBuilder, UInt32Builder, UInt64Builder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef};

use crate::store::{JobMeta, ProductRecord};

/// Prefix of the export columns that carry input columns (`--carry COL` -> `source_COL`).
pub const CARRIED_PREFIX: &str = "source_";

/// Types an export column can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    /// Text (`utf8`).
    Utf8,
    /// Unsigned 32-bit integer.
    UInt32,
    /// Unsigned 64-bit integer.
    UInt64,
    /// 64-bit float.
    Float64,
    /// List of unsigned 32-bit integers (`3;4` in CSV).
    ListUInt32,
}

impl ColumnType {
    /// The Arrow type.
    pub fn data_type(self) -> DataType {
        match self {
            ColumnType::Utf8 => DataType::Utf8,
            ColumnType::UInt32 => DataType::UInt32,
            ColumnType::UInt64 => DataType::UInt64,
            ColumnType::Float64 => DataType::Float64,
            ColumnType::ListUInt32 => DataType::List(Arc::new(Field::new("item", DataType::UInt32, true))),
        }
    }

    /// The name used in `schemas/products.parquet.json`.
    pub fn name(self) -> &'static str {
        match self {
            ColumnType::Utf8 => "utf8",
            ColumnType::UInt32 => "uint32",
            ColumnType::UInt64 => "uint64",
            ColumnType::Float64 => "float64",
            ColumnType::ListUInt32 => "list<uint32>",
        }
    }
}

/// One product as the columns see it.
pub struct Row<'a> {
    pub smiles: &'a str,
    pub job: &'a JobMeta,
    pub record: &'a ProductRecord,
    /// Its lineage, in a campaign export ([`CAMPAIGN_COLUMNS`]).
    pub lineage: Option<&'a Lineage<'a>>,
    /// Its InChIKey and its first parent's, in an export asked for them ([`INCHIKEY_COLUMNS`]).
    pub inchikeys: Option<(Option<&'a str>, Option<&'a str>)>,
}

/// What a campaign export adds to a product: where it comes from, along its first provenance.
pub struct Lineage<'a> {
    /// Halogens added since the original input molecule.
    pub k: u32,
    /// The halogen the job's rule adds (None: not a halogenation rule).
    pub halogen: Option<&'a str>,
    /// The original input molecule's SMILES, as in the input.
    pub root_smiles: &'a str,
}

/// A product's halogens added before its job's rule and its original molecule's SMILES, or why
/// they cannot be found.
pub(crate) type LineageFn<'a> = dyn Fn(&ProductRecord) -> std::result::Result<(u32, String), String> + 'a;

/// How a campaign export fills [`CAMPAIGN_COLUMNS`] and its carried columns for one job.
pub(crate) struct CampaignCols<'a> {
    /// Every carried column of the campaign's jobs (each file of the dataset has them all).
    pub carry: &'a [String],
    /// The halogen the job's rule adds.
    pub halogen: Option<&'a str>,
    /// A product's halogens added before this job's rule, and its original molecule's SMILES.
    pub lineage: &'a LineageFn<'a>,
}

/// A column's value in one row.
pub enum Value<'a> {
    Str(Option<&'a str>),
    U32(Option<u32>),
    U64(Option<u64>),
    F64(Option<f64>),
    ListU32(&'a [u32]),
}

/// One export column.
pub struct Column {
    /// Column name in every format.
    pub name: &'static str,
    /// Column type.
    pub ty: ColumnType,
    /// Whether the column can be null (empty in CSV).
    pub nullable: bool,
    /// What the column holds (written to the JSON schema file).
    pub doc: &'static str,
    /// The column's value for one product.
    pub value: for<'a> fn(&Row<'a>) -> Value<'a>,
}

macro_rules! col {
    ($name:literal, $ty:ident, $nullable:literal, $doc:literal, |$r:ident| $value:expr) => {
        Column { name: $name, ty: ColumnType::$ty, nullable: $nullable, doc: $doc, value: |$r| $value }
    };
}

/// The fixed columns of every export, in order; carried input columns follow as nullable text
/// columns named [`CARRIED_PREFIX`] + the input column's name.
pub const COLUMNS: &[Column] = &[
    col!("smiles", Utf8, false, "canonical isomeric SMILES of the product (RDKit MolToSmiles)", |r| Value::Str(Some(
        r.smiles
    ))),
    col!("xf_rule_id", Utf8, false, "rule name, e.g. FG_PHENOL_OH__OH__TO__OMe", |r| Value::Str(Some(
        &r.job.rule.name
    ))),
    col!("xf_label", Utf8, false, "rule label, e.g. OH->OMe", |r| Value::Str(Some(&r.job.rule.label))),
    col!("xf_site_index", UInt32, false, "index of the matched site in the first parent (RDKit match order)", |r| {
        Value::U32(Some(r.record.site_index))
    }),
    col!("xf_site_atoms", ListUInt32, false, "parent atom indices of the mapped site atoms, by atom-map number", |r| {
        Value::ListU32(&r.record.site_atoms)
    }),
    col!("source_smiles", Utf8, false, "SMILES of the first parent (input order) that produced the product", |r| {
        Value::Str(Some(&r.record.parent_smiles))
    }),
    col!(
        "source_row",
        UInt64,
        false,
        "0-based input row of that parent (a chained step: of the original input molecule it came from)",
        |r| Value::U64(Some(r.record.parent_row))
    ),
    col!("source_id", Utf8, true, "value of the input id column for that parent, if one was given", |r| Value::Str(
        r.record.parent_id.as_deref()
    )),
    col!("occurrences", UInt64, false, "number of (parent, site) pairs in the input that produced this product", |r| {
        Value::U64(Some(r.record.occurrences))
    }),
    col!("MW", Float64, true, "average molecular weight (RDKit calcAMW)", |r| Value::F64(r.record.props.map(|p| p.mw))),
    col!("TPSA", Float64, true, "topological polar surface area", |r| Value::F64(r.record.props.map(|p| p.tpsa))),
    col!("HBD", UInt32, true, "H-bond donors (calcNumHBD)", |r| Value::U32(r.record.props.map(|p| p.hbd))),
    col!("HBA", UInt32, true, "H-bond acceptors (calcNumHBA)", |r| Value::U32(r.record.props.map(|p| p.hba))),
    col!("cLogP", Float64, true, "Crippen logP", |r| Value::F64(r.record.props.map(|p| p.clogp))),
    col!("RotB", UInt32, true, "rotatable bonds (strict)", |r| Value::U32(r.record.props.map(|p| p.rotb))),
];

/// The columns a campaign export's Parquet dataset adds after [`COLUMNS`], before the carried
/// ones (`export --campaign`: every file has them, so the dataset reads as one table).
pub const CAMPAIGN_COLUMNS: &[Column] = &[
    col!("k", UInt32, false, "halogens added since the original input molecule, along the first provenance", |r| {
        Value::U32(r.lineage.map(|l| l.k))
    }),
    col!("halogen", Utf8, true, "the halogen the rule adds (F, Cl, Br, I); null for other rules", |r| Value::Str(
        r.lineage.and_then(|l| l.halogen)
    )),
    col!("root_id", Utf8, true, "id of the original input molecule of the first provenance (as source_id)", |r| {
        Value::Str(r.record.parent_id.as_deref())
    }),
    col!("root_smiles", Utf8, false, "SMILES of that original input molecule, as in the input", |r| Value::Str(
        r.lineage.map(|l| l.root_smiles)
    )),
];

/// The columns an export asked for InChIKeys adds (`export --inchikey`), after [`COLUMNS`] (and
/// [`CAMPAIGN_COLUMNS`]), before the carried ones. Computed at export from the stored molecule
/// by the IUPAC InChI library (standard InChI, stereo from the molecule); null where the library
/// makes none (counted in the export's report).
pub const INCHIKEY_COLUMNS: &[Column] = &[
    col!("inchikey", Utf8, true, "standard InChIKey of the product (IUPAC InChI library, export --inchikey)", |r| {
        Value::Str(r.inchikeys.and_then(|k| k.0))
    }),
    col!(
        "parent_inchikey",
        Utf8,
        true,
        "standard InChIKey of source_smiles, the first parent (export --inchikey)",
        |r| { Value::Str(r.inchikeys.and_then(|k| k.1)) }
    ),
];

/// Export schema: [`COLUMNS`], [`CAMPAIGN_COLUMNS`] in a campaign dataset, [`INCHIKEY_COLUMNS`]
/// when asked, then one nullable text column per carried column.
pub(crate) fn schema_of(carry_columns: &[String], campaign: bool, inchikey: bool) -> SchemaRef {
    let groups: [&[Column]; 3] =
        [COLUMNS, if campaign { CAMPAIGN_COLUMNS } else { &[] }, if inchikey { INCHIKEY_COLUMNS } else { &[] }];
    let fixed = groups.into_iter().flatten().map(|c| Field::new(c.name, c.ty.data_type(), c.nullable));
    let carried = carry_columns.iter().map(|c| Field::new(format!("{CARRIED_PREFIX}{c}"), DataType::Utf8, true));
    Arc::new(Schema::new(fixed.chain(carried).collect::<Vec<_>>()))
}

/// Export schema of a job: the fixed columns, then one nullable text column per carried input
/// column.
pub fn job_schema(carry_columns: &[String]) -> SchemaRef {
    schema_of(carry_columns, false, false)
}

/// Checks that `found` is the fixed schema (a campaign dataset's: with [`CAMPAIGN_COLUMNS`])
/// followed only by carried text columns.
pub fn check_schema(found: &Schema) -> Result<(), String> {
    let matches = |at: usize, cols: &[Column]| {
        found.fields().len() >= at + cols.len()
            && found.fields()[at..]
                .iter()
                .zip(cols)
                .all(|(a, c)| a.name() == c.name && *a.data_type() == c.ty.data_type())
    };
    if !matches(0, COLUMNS) {
        return Err(format!("columns differ from the export's columns (schemas/products.parquet.json): {found:?}"));
    }
    let mut skip = COLUMNS.len();
    for optional in [CAMPAIGN_COLUMNS, INCHIKEY_COLUMNS] {
        if matches(skip, optional) {
            skip += optional.len();
        }
    }
    check_carried(found.fields().iter().skip(skip).map(|f| (f.name().as_str(), f.data_type() == &DataType::Utf8)))
}

/// Checks a header of column names (CSV) against the export's columns.
pub fn check_header<'a>(names: impl Iterator<Item = &'a str>) -> Result<(), String> {
    let names: Vec<&str> = names.collect();
    let head_ok = names.len() >= COLUMNS.len() && names.iter().zip(COLUMNS).all(|(n, c)| *n == c.name);
    if !head_ok {
        return Err(format!("header differs from the export's columns: {names:?}"));
    }
    let mut skip = COLUMNS.len();
    if names[skip..].iter().zip(INCHIKEY_COLUMNS).filter(|(n, c)| **n == c.name).count() == INCHIKEY_COLUMNS.len() {
        skip += INCHIKEY_COLUMNS.len();
    }
    check_carried(names[skip..].iter().map(|n| (*n, true)))
}

fn check_carried<'a>(mut extra: impl Iterator<Item = (&'a str, bool)>) -> Result<(), String> {
    match extra.find(|(name, text)| !name.starts_with(CARRIED_PREFIX) || !text) {
        Some((name, _)) => Err(format!("unexpected extra column {name:?}")),
        None => Ok(()),
    }
}

enum Builder {
    Str(StringBuilder),
    U32(UInt32Builder),
    U64(UInt64Builder),
    F64(Float64Builder),
    ListU32(ListBuilder<UInt32Builder>),
}

impl Builder {
    fn new(ty: ColumnType) -> Self {
        match ty {
            ColumnType::Utf8 => Builder::Str(StringBuilder::new()),
            ColumnType::UInt32 => Builder::U32(UInt32Builder::new()),
            ColumnType::UInt64 => Builder::U64(UInt64Builder::new()),
            ColumnType::Float64 => Builder::F64(Float64Builder::new()),
            ColumnType::ListUInt32 => Builder::ListU32(ListBuilder::new(UInt32Builder::new())),
        }
    }

    fn push(&mut self, v: Value<'_>) {
        match (self, v) {
            (Builder::Str(b), Value::Str(v)) => b.append_option(v),
            (Builder::U32(b), Value::U32(v)) => b.append_option(v),
            (Builder::U64(b), Value::U64(v)) => b.append_option(v),
            (Builder::F64(b), Value::F64(v)) => b.append_option(v),
            (Builder::ListU32(b), Value::ListU32(v)) => {
                b.values().append_slice(v);
                b.append(true);
            }
            // COLUMNS pairs each type with a value of that type (tested for every column)
            _ => unreachable!("export column value does not match its declared type"),
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Builder::Str(b) => Arc::new(b.finish()),
            Builder::U32(b) => Arc::new(b.finish()),
            Builder::U64(b) => Arc::new(b.finish()),
            Builder::F64(b) => Arc::new(b.finish()),
            Builder::ListU32(b) => Arc::new(b.finish()),
        }
    }
}

/// Builds record batches of a job's export schema from stored products.
pub(super) struct ColumnsBuilder<'j> {
    schema: SchemaRef,
    job: &'j JobMeta,
    len: usize,
    fixed: Vec<Builder>,
    carried: Vec<StringBuilder>,
    /// Per carried column of the schema, its index in the job's carried cells.
    carry_at: Vec<Option<usize>>,
    /// A campaign dataset's columns: how to fill them, their builders, the first error.
    campaign: Option<(&'j CampaignCols<'j>, Vec<Builder>, Option<String>)>,
    /// The InChIKey columns, when asked for.
    inchi: Option<InchiCols>,
}

/// The InChIKey columns of an export: their builders, the first parents' keys computed so far
/// (a parent has several products; emptied when full), and the count of keys the library could
/// not make.
struct InchiCols {
    builders: Vec<Builder>,
    parents: std::collections::HashMap<String, Option<String>>,
    failed: Arc<std::sync::atomic::AtomicU64>,
}

/// Most parents' InChIKeys an export keeps (~150 bytes each).
const PARENT_KEYS_CACHE: usize = 1 << 16;

/// A molecule's standard InChIKey from its SMILES; None when RDKit or the InChI library fails.
fn inchikey_of(smiles: &str) -> Option<String> {
    crate::chem::Molecule::from_smiles(smiles).ok()?.inchikey().ok()
}

impl<'j> ColumnsBuilder<'j> {
    pub(super) fn new(job: &'j JobMeta) -> Self {
        Self::with_campaign(job, None)
    }

    /// As [`ColumnsBuilder::new`], with a campaign dataset's columns when `campaign` is given.
    pub(super) fn with_campaign(job: &'j JobMeta, campaign: Option<&'j CampaignCols<'j>>) -> Self {
        let own = &job.input.carry_columns;
        let (schema, carry) = match campaign {
            Some(c) => (schema_of(c.carry, true, false), c.carry),
            None => (job_schema(own), own.as_slice()),
        };
        Self {
            schema,
            job,
            len: 0,
            fixed: COLUMNS.iter().map(|c| Builder::new(c.ty)).collect(),
            carried: carry.iter().map(|_| StringBuilder::new()).collect(),
            carry_at: carry.iter().map(|c| own.iter().position(|o| o == c)).collect(),
            campaign: campaign.map(|c| (c, CAMPAIGN_COLUMNS.iter().map(|c| Builder::new(c.ty)).collect(), None)),
            inchi: None,
        }
    }

    /// With the [`INCHIKEY_COLUMNS`] when `failed` is given (products whose key the library
    /// could not make are counted there).
    pub(super) fn inchikeys(mut self, failed: Option<Arc<std::sync::atomic::AtomicU64>>) -> Self {
        if let Some(failed) = failed {
            let carry = self.campaign.as_ref().map_or(self.job.input.carry_columns.as_slice(), |(c, _, _)| c.carry);
            self.schema = schema_of(carry, self.campaign.is_some(), true);
            let builders = INCHIKEY_COLUMNS.iter().map(|c| Builder::new(c.ty)).collect();
            self.inchi = Some(InchiCols { builders, parents: Default::default(), failed });
        }
        self
    }

    pub(super) fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    pub(super) fn len(&self) -> usize {
        self.len
    }

    pub(super) fn push(&mut self, smiles: &str, record: &ProductRecord) {
        self.len += 1;
        let row = Row { smiles, job: self.job, record, lineage: None, inchikeys: None };
        for (b, c) in self.fixed.iter_mut().zip(COLUMNS) {
            b.push((c.value)(&row));
        }
        for (b, at) in self.carried.iter_mut().zip(&self.carry_at) {
            b.append_option(at.and_then(|i| record.carried.get(i)?.as_deref()));
        }
        if let Some((cols, builders, error)) = &mut self.campaign {
            let (k, root) = (cols.lineage)(record).unwrap_or_else(|e| {
                error.get_or_insert(format!("{smiles}: {e}"));
                (0, String::new())
            });
            let add = u32::from(cols.halogen.is_some());
            let lineage = Lineage { k: k + add, halogen: cols.halogen, root_smiles: &root };
            let row = Row { lineage: Some(&lineage), ..row };
            for (b, c) in builders.iter_mut().zip(CAMPAIGN_COLUMNS) {
                b.push((c.value)(&row));
            }
        }
        if let Some(inchi) = &mut self.inchi {
            let own = inchikey_of(smiles);
            if inchi.parents.len() >= PARENT_KEYS_CACHE {
                inchi.parents.clear();
            }
            let parent = inchi
                .parents
                .entry(record.parent_smiles.clone())
                .or_insert_with(|| inchikey_of(&record.parent_smiles))
                .clone();
            let missing = u64::from(own.is_none()) + u64::from(parent.is_none());
            inchi.failed.fetch_add(missing, std::sync::atomic::Ordering::Relaxed);
            let row = Row { inchikeys: Some((own.as_deref(), parent.as_deref())), ..row };
            for (b, c) in inchi.builders.iter_mut().zip(INCHIKEY_COLUMNS) {
                b.push((c.value)(&row));
            }
        }
    }

    /// Takes the rows pushed so far as a record batch (the builders are reset).
    pub(super) fn finish(&mut self) -> Result<RecordBatch, ArrowError> {
        self.len = 0;
        let mut arrays: Vec<ArrayRef> = self.fixed.iter_mut().map(Builder::finish).collect();
        if let Some((_, builders, error)) = &mut self.campaign {
            if let Some(e) = error.take() {
                return Err(ArrowError::ExternalError(format!("lineage of {e}").into()));
            }
            arrays.extend(builders.iter_mut().map(Builder::finish));
        }
        if let Some(inchi) = &mut self.inchi {
            arrays.extend(inchi.builders.iter_mut().map(Builder::finish));
        }
        arrays.extend(self.carried.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
        RecordBatch::try_new(self.schema.clone(), arrays)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Counters, InputInfo, JobState, Props, RuleInfo};

    pub(crate) fn job(carry: &[&str]) -> JobMeta {
        JobMeta {
            id: "in/R".into(),
            input_key: "in".into(),
            input: InputInfo {
                path: "in.parquet".into(),
                size: 1,
                rows: 1,
                footer_hash: 0,
                smiles_column: "smiles".into(),
                id_column: None,
                carry_columns: carry.iter().map(|c| c.to_string()).collect(),
            },
            rule: RuleInfo { name: "R".into(), label: "a->b".into(), family: "f".into(), smirks: "s".into(), hash: 0 },
            rdkit_version: "x".into(),
            offset: 1,
            counters: Counters::default(),
            state: JobState::Complete,
            busy_secs: 0.0,
            created_unix: 0,
            updated_unix: 0,
            born: 0,
            version: 0,
            upstream: None,
        }
    }

    #[test]
    fn every_column_builds_with_and_without_values() {
        let job = job(&["k"]);
        let mut b = ColumnsBuilder::new(&job);
        let mut rec = ProductRecord {
            parent_row: 7,
            parent_id: Some("P7".into()),
            parent_smiles: "Oc1ccccc1".into(),
            site_index: 1,
            site_atoms: vec![3, 4],
            occurrences: 2,
            props: Some(Props { mw: 108.1, tpsa: 9.2, hbd: 0, hba: 1, clogp: 1.7, rotb: 1 }),
            carried: vec![Some("2".into())],
            since: 0,
            moved: 0,
        };
        b.push("COc1ccccc1", &rec);
        rec.props = None;
        rec.parent_id = None;
        b.push("CC", &rec);
        let batch = b.finish().unwrap(); // types checked against the schema by arrow
        assert_eq!(batch.num_rows(), 2);
        assert_eq!(batch.num_columns(), COLUMNS.len() + 1);
        assert_eq!(batch.schema().field(COLUMNS.len()).name(), "source_k");
        assert!(check_schema(&batch.schema()).is_ok());
        assert!(check_header(batch.schema().fields().iter().map(|f| f.name().as_str())).is_ok());
        assert!(check_header(["xf_rule_id", "smiles"].into_iter()).is_err());
        let bad = Schema::new(vec![Field::new("smiles", DataType::Utf8, false)]);
        assert!(check_schema(&bad).is_err());
    }

    /// A campaign dataset's batch: the campaign columns between the fixed and carried ones, the
    /// campaign's carried columns mapped by name (absent from the job: null), and a schema
    /// `check_schema` accepts; a lineage that fails fails the batch, naming the product.
    #[test]
    fn campaign_columns_build_and_validate() {
        let job = job(&["k"]);
        let carry = vec!["name".to_owned(), "k".to_owned()];
        let ok = |_: &ProductRecord| Ok((1, "Oc1ccccc1".to_owned()));
        let cols = CampaignCols { carry: &carry, halogen: Some("Cl"), lineage: &ok };
        let mut b = ColumnsBuilder::with_campaign(&job, Some(&cols));
        let mut rec = ProductRecord {
            parent_row: 7,
            parent_id: Some("P7".into()),
            parent_smiles: "Oc1ccc(Cl)cc1".into(),
            site_index: 1,
            site_atoms: vec![3, 4],
            occurrences: 2,
            props: None,
            carried: vec![Some("2".into())],
            since: 0,
            moved: 0,
        };
        b.push("Oc1ccc(Cl)cc1Cl", &rec);
        rec.carried = vec![None];
        b.push("Oc1cc(Cl)ccc1Cl", &rec);
        let batch = b.finish().unwrap();
        assert!(check_schema(&batch.schema()).is_ok());
        let col =
            |name: &str| arrow_cast::display::array_value_to_string(batch.column_by_name(name).unwrap(), 0).unwrap();
        assert_eq!(
            (col("k"), col("halogen"), col("root_id"), col("root_smiles")),
            ("2".into(), "Cl".into(), "P7".into(), "Oc1ccccc1".into())
        );
        assert_eq!((col("source_k"), batch.column_by_name("source_name").unwrap().null_count()), ("2".into(), 2));
        let names: Vec<&str> = batch.schema_ref().fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(&names[COLUMNS.len()..], ["k", "halogen", "root_id", "root_smiles", "source_name", "source_k"]);
        let broken = |_: &ProductRecord| Err("parent not found".to_owned());
        let cols = CampaignCols { carry: &carry, halogen: None, lineage: &broken };
        let mut b = ColumnsBuilder::with_campaign(&job, Some(&cols));
        b.push("CCl", &rec);
        assert!(b.finish().unwrap_err().to_string().contains("CCl: parent not found"));
    }

    /// The InChIKey columns: after the campaign ones, before the carried ones; keys from the
    /// InChI library (phenol's and anisole's, as RDKit's MolToInchiKey gives them); a molecule
    /// the library refuses is null and counted; the schema and a CSV header validate.
    #[test]
    fn inchikey_columns_build_and_validate() {
        let job = job(&["k"]);
        let carry = vec!["k".to_owned()];
        let ok = |_: &ProductRecord| Ok((0, "Oc1ccccc1".to_owned()));
        let cols = CampaignCols { carry: &carry, halogen: None, lineage: &ok };
        let failed = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let mut b = ColumnsBuilder::with_campaign(&job, Some(&cols)).inchikeys(Some(failed.clone()));
        let mut rec = ProductRecord { carried: vec![None], ..ProductRecord::for_test() };
        b.push("COc1ccccc1", &rec);
        rec.parent_smiles = "not a molecule".into();
        b.push("COc1ccccc1", &rec);
        let batch = b.finish().unwrap();
        assert!(check_schema(&batch.schema()).is_ok());
        let names: Vec<&str> = batch.schema_ref().fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(&names[COLUMNS.len() + CAMPAIGN_COLUMNS.len()..], ["inchikey", "parent_inchikey", "source_k"]);
        let cell =
            |name: &str, i| arrow_cast::display::array_value_to_string(batch.column_by_name(name).unwrap(), i).unwrap();
        assert_eq!(cell("inchikey", 0), "RDOXTESZEPMUJZ-UHFFFAOYSA-N");
        assert_eq!(cell("parent_inchikey", 0), "ISWSIDIOOBJBQZ-UHFFFAOYSA-N");
        assert!(batch.column_by_name("parent_inchikey").unwrap().is_null(1));
        assert_eq!(failed.load(std::sync::atomic::Ordering::Relaxed), 1);
        let mut plain = ColumnsBuilder::new(&job).inchikeys(Some(failed));
        plain.push("COc1ccccc1", &rec);
        let batch = plain.finish().unwrap();
        assert!(check_schema(&batch.schema()).is_ok());
        assert!(check_header(batch.schema().fields().iter().map(|f| f.name().as_str())).is_ok());
    }

    /// `schemas/products.parquet.json`, as derived from [`COLUMNS`] (one field per line).
    fn schema_document() -> String {
        #[derive(serde::Serialize)]
        struct FieldDoc<'a> {
            name: &'a str,
            #[serde(rename = "type")]
            ty: &'a str,
            nullable: bool,
            doc: &'a str,
        }
        fn json<T: serde::Serialize>(v: &T) -> String {
            serde_json::to_string(v).expect("plain values serialize")
        }
        let description = "Schema of the files written by `xfstore export` (generated from src/export/columns.rs; a \
                           test keeps it current). One row per distinct product of a job; carried input columns \
                           follow as nullable utf8 columns named source_<COL>. The files of a campaign's Parquet \
                           dataset (`export --campaign`) have campaign_fields between the two, and every carried \
                           column of the campaign. An export asked for InChIKeys (`--inchikey`) has inchikey_fields \
                           after those, before the carried columns.";
        let fields = |cols: &[Column]| -> String {
            cols.iter()
                .map(|c| json(&FieldDoc { name: c.name, ty: c.ty.name(), nullable: c.nullable, doc: c.doc }))
                .collect::<Vec<_>>()
                .join(",\n    ")
        };
        format!(
            "{{\n  \"title\": \"xfstore product export (Parquet)\",\n  \"description\": {},\n  \"version\": 2,\n  \"fields\": [\n    {}\n  ],\n  \"campaign_fields\": [\n    {}\n  ],\n  \"inchikey_fields\": [\n    {}\n  ]\n}}\n",
            json(&description),
            fields(COLUMNS),
            fields(CAMPAIGN_COLUMNS),
            fields(INCHIKEY_COLUMNS)
        )
    }

    /// `schemas/products.parquet.json` is generated from COLUMNS; regenerate it with
    /// `XFSTORE_UPDATE_SCHEMAS=1 cargo test --lib schema_file`.
    #[test]
    fn schema_file_is_current() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schemas/products.parquet.json");
        let fresh = schema_document();
        if std::env::var_os("XFSTORE_UPDATE_SCHEMAS").is_some() {
            std::fs::write(path, &fresh).unwrap();
        }
        let committed = std::fs::read_to_string(path).unwrap();
        assert!(committed == fresh, "{path} is stale: run XFSTORE_UPDATE_SCHEMAS=1 cargo test --lib schema_file");
    }
}
