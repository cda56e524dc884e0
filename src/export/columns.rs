//! Column builders for one record batch of the export schema.

use std::sync::Arc;

use arrow_array::builder::{Float64Builder, ListBuilder, StringBuilder, UInt32Builder, UInt64Builder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{ArrowError, SchemaRef};

use crate::store::{JobMeta, ProductRecord};

pub(super) struct ColumnsBuilder {
    schema: SchemaRef,
    rule: String,
    label: String,
    len: usize,
    smiles: StringBuilder,
    rule_col: StringBuilder,
    label_col: StringBuilder,
    site_index: UInt32Builder,
    site_atoms: ListBuilder<UInt32Builder>,
    source_smiles: StringBuilder,
    source_row: UInt64Builder,
    source_id: StringBuilder,
    occurrences: UInt64Builder,
    mw: Float64Builder,
    tpsa: Float64Builder,
    hbd: UInt32Builder,
    hba: UInt32Builder,
    clogp: Float64Builder,
    rotb: UInt32Builder,
    carried: Vec<StringBuilder>,
}

impl ColumnsBuilder {
    pub(super) fn new(job: &JobMeta, schema: SchemaRef) -> Self {
        Self {
            schema,
            rule: job.rule.name.clone(),
            label: job.rule.label.clone(),
            len: 0,
            smiles: StringBuilder::new(),
            rule_col: StringBuilder::new(),
            label_col: StringBuilder::new(),
            site_index: UInt32Builder::new(),
            site_atoms: ListBuilder::new(UInt32Builder::new()),
            source_smiles: StringBuilder::new(),
            source_row: UInt64Builder::new(),
            source_id: StringBuilder::new(),
            occurrences: UInt64Builder::new(),
            mw: Float64Builder::new(),
            tpsa: Float64Builder::new(),
            hbd: UInt32Builder::new(),
            hba: UInt32Builder::new(),
            clogp: Float64Builder::new(),
            rotb: UInt32Builder::new(),
            carried: job.input.carry_columns.iter().map(|_| StringBuilder::new()).collect(),
        }
    }

    pub(super) fn len(&self) -> usize {
        self.len
    }

    pub(super) fn push(&mut self, smiles: &str, r: &ProductRecord) {
        self.len += 1;
        self.smiles.append_value(smiles);
        self.rule_col.append_value(&self.rule);
        self.label_col.append_value(&self.label);
        self.site_index.append_value(r.site_index);
        self.site_atoms.values().append_slice(&r.site_atoms);
        self.site_atoms.append(true);
        self.source_smiles.append_value(&r.parent_smiles);
        self.source_row.append_value(r.parent_row);
        self.source_id.append_option(r.parent_id.as_deref());
        self.occurrences.append_value(r.occurrences);
        let p = r.props.as_ref();
        self.mw.append_option(p.map(|p| p.mw));
        self.tpsa.append_option(p.map(|p| p.tpsa));
        self.hbd.append_option(p.map(|p| p.hbd));
        self.hba.append_option(p.map(|p| p.hba));
        self.clogp.append_option(p.map(|p| p.clogp));
        self.rotb.append_option(p.map(|p| p.rotb));
        for (i, b) in self.carried.iter_mut().enumerate() {
            b.append_option(r.carried.get(i).and_then(|v| v.as_deref()));
        }
    }

    /// Takes the rows pushed so far as a record batch (the builders are reset).
    pub(super) fn finish(&mut self) -> Result<RecordBatch, ArrowError> {
        self.len = 0;
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(self.smiles.finish()),
            Arc::new(self.rule_col.finish()),
            Arc::new(self.label_col.finish()),
            Arc::new(self.site_index.finish()),
            Arc::new(self.site_atoms.finish()),
            Arc::new(self.source_smiles.finish()),
            Arc::new(self.source_row.finish()),
            Arc::new(self.source_id.finish()),
            Arc::new(self.occurrences.finish()),
            Arc::new(self.mw.finish()),
            Arc::new(self.tpsa.finish()),
            Arc::new(self.hbd.finish()),
            Arc::new(self.hba.finish()),
            Arc::new(self.clogp.finish()),
            Arc::new(self.rotb.finish()),
        ];
        columns.extend(self.carried.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
        RecordBatch::try_new(self.schema.clone(), columns)
    }
}
