//! The content of an input's rows as the transform reads them, as one hash: what proves a
//! single Parquet file rewritten with more rows kept its old rows (its fingerprint, the
//! footer, changes with any rewrite, and a rewrite may cut row groups anew). Hashing decoded
//! cells, not bytes, makes the proof independent of the writer's encoding.

use arrow_array::ArrayRef;
use xxhash_rust::xxh3::Xxh3;

use super::cells::{str_at, text_at};
use super::{InputBatch, InputFile};
use crate::error::InputError;

/// Rows read per batch while hashing.
const HASH_BATCH_ROWS: usize = 8192;

/// Hashes of the rows of an input: after its first `n` rows for each `n` asked, and of them all.
#[derive(Debug, Clone, Default)]
pub(crate) struct RowHashes {
    /// (n, hash of the first n rows), for each `n` asked that the input reaches.
    at: Vec<(u64, u64)>,
    /// Rows in the input.
    rows: u64,
    /// Hash of every row.
    pub all: u64,
}

impl RowHashes {
    /// The hash of the first `n` rows, if `n` was asked (or is every row).
    pub fn at(&self, n: u64) -> Option<u64> {
        if n == self.rows {
            return Some(self.all);
        }
        self.at.iter().find(|(m, _)| *m == n).map(|(_, h)| *h)
    }
}

impl InputFile {
    /// Hashes every row in order (the columns' names, then per row each cell (SMILES, id,
    /// carried, null apart from empty) and whether the reader rejected it, and why), with the
    /// hash after the first `n` rows for each `n` in `at`. Reads the whole input once per
    /// `InputFile`: the jobs of an input's rules share the hashes of one read.
    pub(crate) fn row_hashes(&self, at: &[u64]) -> Result<RowHashes, InputError> {
        let mut cached = self.hashes.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        // a count past the input's rows has no hash: asking again would read it again
        if let Some(h) = cached.as_ref().filter(|h| at.iter().all(|n| *n > h.rows || h.at(*n).is_some())) {
            return Ok(h.clone());
        }
        let hashes = self.hash_rows(at)?;
        *cached = Some(hashes.clone());
        Ok(hashes)
    }

    fn hash_rows(&self, at: &[u64]) -> Result<RowHashes, InputError> {
        let mut h = Xxh3::new();
        let info = self.info();
        for name in std::iter::once(&info.smiles_column).chain(&info.id_column).chain(&info.carry_columns) {
            cell(&mut h, Some(name));
        }
        let mut out = RowHashes::default();
        let mut row = 0u64;
        let mark = |h: &Xxh3, row: u64, out: &mut RowHashes| {
            if at.contains(&row) {
                out.at.push((row, h.digest()));
            }
        };
        for batch in self.batches(None, 0, HASH_BATCH_ROWS, None)? {
            let batch = batch?;
            let mut bad = batch.bad.iter().peekable();
            for i in 0..batch.len() {
                mark(&h, row, &mut out);
                hash_row(&mut h, &batch, i);
                match bad.next_if(|(j, _)| *j == i) {
                    Some((_, why)) => cell(&mut h, Some(&format!("{why:?}"))),
                    None => cell(&mut h, None),
                }
                row += 1;
            }
        }
        mark(&h, row, &mut out);
        out.rows = row;
        out.all = h.digest();
        Ok(out)
    }
}

fn hash_row(h: &mut Xxh3, batch: &InputBatch, i: usize) {
    let column = |h: &mut Xxh3, a: &ArrayRef| match str_at(a, i) {
        Some(s) => cell(h, Some(s)),
        None => cell(h, text_at(a, i).as_deref()),
    };
    column(h, &batch.smiles);
    if let Some(ids) = &batch.ids {
        column(h, ids);
    }
    for carried in &batch.carried {
        column(h, carried);
    }
}

/// One cell: 0 for null, else 1, its length and its bytes (no two rows hash the same bytes).
fn cell(h: &mut Xxh3, text: Option<&str>) {
    match text {
        None => h.update(&[0]),
        Some(t) => {
            h.update(&[1]);
            h.update(&(t.len() as u64).to_le_bytes());
            h.update(t.as_bytes());
        }
    }
}
