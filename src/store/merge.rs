//! The products families' merge operator: how the blind write path adds occurrences to a
//! product already in the store without reading it.
//!
//! Why: the writer used to read every product key of a batch before writing it (multi-get,
//! decode, add, encode), which capped the single writer thread near 134k products/s. Novelty
//! is now decided before the writer (`ingest::novelty`), in parallel with the transform, so the
//! writer knows which keys are new: a new key is a `Put` of its full record (first provenance,
//! properties, its occurrences in the batch), a key already stored is a `Merge` of an
//! occurrences operand. RocksDB combines them when the key is read and when files are
//! compacted, with this operator.
//!
//! Operand wire format (see `schema.rs`): [`OCCURRENCES_TAG`] then the occurrences to add as a
//! u64 little-endian: 9 bytes. Full records start with a codec version byte (2 or 3), never
//! the tag, so a value is never mistaken for an operand.
//!
//! The operator never sees two full records (a key is `Put` once, when it is new), and an
//! operand is only written for a key already present, so a full merge always has its base
//! record; without one (a damaged store) the merge fails and RocksDB reports corruption rather
//! than inventing a record.

use rocksdb::MergeOperands;

use super::codec::{decode, encode};
use super::records::ProductRecord;

/// Name the operator is registered under (RocksDB records it in the OPTIONS file).
pub const MERGE_OPERATOR_NAME: &str = "xfstore.occurrences.v1";

/// First byte of an occurrences operand.
pub const OCCURRENCES_TAG: u8 = 0xFF;

/// The operand adding `n` occurrences to a stored product.
pub fn occurrences_operand(n: u64) -> [u8; 9] {
    let mut out = [0u8; 9];
    out[0] = OCCURRENCES_TAG;
    out[1..].copy_from_slice(&n.to_le_bytes());
    out
}

fn operand_value(op: &[u8]) -> Option<u64> {
    match op.split_first() {
        Some((&OCCURRENCES_TAG, n)) => Some(u64::from_le_bytes(n.try_into().ok()?)),
        _ => None,
    }
}

/// Full merge: the stored record with every operand's occurrences added.
pub fn full_merge(_key: &[u8], existing: Option<&[u8]>, operands: &MergeOperands) -> Option<Vec<u8>> {
    let mut rec: ProductRecord = decode(existing?, "product (merge base)").ok()?;
    for op in operands {
        rec.occurrences = rec.occurrences.checked_add(operand_value(op)?)?;
    }
    Some(encode(&rec))
}

/// Partial merge: consecutive operands folded into one.
pub fn partial_merge(_key: &[u8], _existing: Option<&[u8]>, operands: &MergeOperands) -> Option<Vec<u8>> {
    let mut sum = 0u64;
    for op in operands {
        sum = sum.checked_add(operand_value(op)?)?;
    }
    Some(occurrences_operand(sum).to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operands_are_nine_bytes_and_never_a_record() {
        assert_eq!(occurrences_operand(258), [0xFF, 2, 1, 0, 0, 0, 0, 0, 0]);
        assert_eq!(operand_value(&occurrences_operand(u64::MAX)), Some(u64::MAX));
        assert_eq!(operand_value(&[0xFF, 1]), None);
        assert_ne!(super::super::codec::CODEC_VERSION, OCCURRENCES_TAG);
    }
}
