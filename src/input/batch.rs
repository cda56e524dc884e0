//! One batch of input rows, whatever the source: Arrow arrays of the SMILES, ids and carried
//! cells (zero-copy slices of what the reader decoded), plus the rows the reader itself already
//! found bad (a CSV record with a missing field, an SDF record RDKit cannot read), which become
//! counted rejects like a SMILES that does not parse.

use arrow_array::{Array, ArrayRef};

use super::cells::{str_at, text_at};
use crate::transform::Reject;

/// A batch of input rows: their first row number, SMILES, optional ids and carried columns.
pub struct InputBatch {
    /// Row number (0-based, over the whole input) of the batch's first row.
    pub first_row: u64,
    /// SMILES per row (a string array; null where the cell is empty or the row is bad).
    pub smiles: ArrayRef,
    /// Ids per row, when the input has them.
    pub ids: Option<ArrayRef>,
    /// Carried cells per row, in `carry_columns` order.
    pub carried: Vec<ArrayRef>,
    /// Rows the reader rejected, as (index in this batch, why), ascending.
    pub bad: Vec<(usize, Reject)>,
    /// The row number a product records as its parent's (`source_row`), when it is not the
    /// row's own: a job input's rows are upstream products, whose recorded row is that of the
    /// original input molecule (it does not shift when the upstream grows). A UInt64 array.
    pub source_rows: Option<ArrayRef>,
}

impl InputBatch {
    /// Rows in the batch.
    pub fn len(&self) -> usize {
        self.smiles.len()
    }

    /// Whether the batch has no rows.
    pub fn is_empty(&self) -> bool {
        self.smiles.is_empty()
    }

    /// SMILES of row `i` of the batch (None when null).
    pub fn smiles(&self, i: usize) -> Option<&str> {
        str_at(&self.smiles, i)
    }

    /// Why the reader rejected row `i`, if it did.
    pub fn bad(&self, i: usize) -> Option<&Reject> {
        self.bad.binary_search_by_key(&i, |(j, _)| *j).ok().map(|k| &self.bad[k].1)
    }

    /// The row number a product of row `i` records as its parent's: the row's own, or the
    /// original input row a job input carries down.
    pub fn source_row(&self, i: usize) -> u64 {
        match &self.source_rows {
            Some(a) => a.as_any().downcast_ref::<arrow_array::UInt64Array>().map_or(0, |a| a.value(i)),
            None => self.first_row + i as u64,
        }
    }

    /// Id of row `i` as text (None when there is no id column or the cell is null).
    pub fn id(&self, i: usize) -> Option<String> {
        text_at(self.ids.as_ref()?, i)
    }

    /// The batch as consecutive pieces of at most `rows` rows each (zero-copy slices), in order.
    pub fn chunks(&self, rows: usize) -> impl Iterator<Item = InputBatch> + '_ {
        let rows = rows.max(1);
        (0..self.len()).step_by(rows).map(move |at| self.slice(at, rows.min(self.len() - at)))
    }

    /// Rows `start..start + len` of the batch (zero-copy).
    pub fn slice(&self, start: usize, len: usize) -> InputBatch {
        InputBatch {
            first_row: self.first_row + start as u64,
            smiles: self.smiles.slice(start, len),
            ids: self.ids.as_ref().map(|a| a.slice(start, len)),
            carried: self.carried.iter().map(|a| a.slice(start, len)).collect(),
            bad: self
                .bad
                .iter()
                .filter(|(j, _)| (start..start + len).contains(j))
                .map(|(j, r)| (j - start, r.clone()))
                .collect(),
            source_rows: self.source_rows.as_ref().map(|a| a.slice(start, len)),
        }
    }

    /// Bytes of text a product record copies from row `i`: its SMILES, id and carried cells
    /// (non-string cells counted at 24 bytes, their longest rendering), without rendering them.
    pub fn row_text_len(&self, i: usize) -> usize {
        let cell = |a: &ArrayRef| match str_at(a, i) {
            Some(s) => s.len(),
            None if a.is_null(i) => 0,
            None => 24,
        };
        self.smiles(i).map_or(0, str::len) + self.ids.iter().chain(&self.carried).map(cell).sum::<usize>()
    }

    /// Carried cells of row `i`, as text, in `carry_columns` order.
    pub fn carried(&self, i: usize) -> Vec<Option<String>> {
        self.carried.iter().map(|a| text_at(a, i)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::StringArray;
    use std::sync::Arc;

    #[test]
    fn slices_keep_bad_rows_in_place() {
        let s: ArrayRef = Arc::new(StringArray::from(vec![Some("C"), None, Some("O"), None]));
        let b = InputBatch {
            first_row: 10,
            smiles: s,
            ids: None,
            carried: vec![],
            bad: vec![(1, Reject::Malformed("x".into())), (3, Reject::Malformed("y".into()))],
            source_rows: None,
        };
        let t = b.slice(2, 2);
        assert_eq!(t.first_row, 12);
        assert_eq!(t.smiles(0), Some("O"));
        assert!(t.bad(0).is_none());
        assert_eq!(t.bad(1), Some(&Reject::Malformed("y".into())));
    }
}
