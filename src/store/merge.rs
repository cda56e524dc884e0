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
//! u64 little-endian: 9 bytes. Full records start with a codec version byte (2 to 4), never
//! a tag, so a value is never mistaken for an operand.
//!
//! A job growing from new upstream keys (`job:` input) may find a product it holds from a
//! parent key smaller than its recorded one: the first provenance of a job input is the
//! smallest (parent key, site), which a run over every key finds first because its rows are in
//! key order. Its known keys get a provenance operand instead: [`PROVENANCE_TAG`] then the
//! batch's record (codec), whose occurrences are added and whose provenance replaces the
//! stored one when its (parent, site) is smaller; `moved` records the version that did it.
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

/// First byte of a provenance operand.
pub const PROVENANCE_TAG: u8 = 0xFE;

/// The operand adding `rec.occurrences` to a stored product and offering `rec`'s first
/// provenance (kept when its (parent, site) is smaller than the stored one's).
pub fn provenance_operand(rec: &ProductRecord) -> Vec<u8> {
    let mut out = encode(rec);
    out[0] = PROVENANCE_TAG;
    out
}

/// A decoded operand: occurrences to add, and a provenance candidate.
struct Operand {
    occurrences: u64,
    candidate: Option<ProductRecord>,
}

fn operand(op: &[u8]) -> Option<Operand> {
    match op.split_first() {
        Some((&PROVENANCE_TAG, _)) => {
            let mut bytes = op.to_vec();
            bytes[0] = super::codec::CODEC_VERSION;
            let rec: ProductRecord = decode(&bytes, "provenance operand").ok()?;
            Some(Operand { occurrences: rec.occurrences, candidate: Some(rec) })
        }
        _ => Some(Operand { occurrences: operand_value(op)?, candidate: None }),
    }
}

/// Whether `a`'s first provenance comes before `b`'s: the smaller parent key, then site.
fn precedes(a: &ProductRecord, b: &ProductRecord) -> bool {
    (a.parent_smiles.as_str(), a.site_index) < (b.parent_smiles.as_str(), b.site_index)
}

/// `rec` with `cand`'s first provenance, when it comes first.
pub(super) fn offer(rec: &mut ProductRecord, cand: ProductRecord) {
    if precedes(&cand, rec) {
        rec.parent_row = cand.parent_row;
        rec.parent_id = cand.parent_id;
        rec.parent_smiles = cand.parent_smiles;
        rec.site_index = cand.site_index;
        rec.site_atoms = cand.site_atoms;
        rec.carried = cand.carried;
        rec.props = cand.props.or(rec.props);
        rec.moved = cand.since;
    }
}

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

/// Full merge: the stored record with every operand's occurrences added and the first of
/// the provenances offered.
pub fn full_merge(_key: &[u8], existing: Option<&[u8]>, operands: &MergeOperands) -> Option<Vec<u8>> {
    let mut rec: ProductRecord = decode(existing?, "product (merge base)").ok()?;
    for op in operands {
        let op = operand(op)?;
        rec.occurrences = rec.occurrences.checked_add(op.occurrences)?;
        if let Some(cand) = op.candidate {
            offer(&mut rec, cand);
        }
    }
    Some(encode(&rec))
}

/// Partial merge: consecutive operands folded into one (a provenance operand with the first
/// candidate when any operand has one).
pub fn partial_merge(_key: &[u8], _existing: Option<&[u8]>, operands: &MergeOperands) -> Option<Vec<u8>> {
    let mut sum = 0u64;
    let mut best: Option<ProductRecord> = None;
    for op in operands {
        let op = operand(op)?;
        sum = sum.checked_add(op.occurrences)?;
        if let Some(cand) = op.candidate {
            if best.as_ref().is_none_or(|b| precedes(&cand, b)) {
                best = Some(cand);
            }
        }
    }
    Some(match best {
        Some(mut rec) => {
            rec.occurrences = sum;
            provenance_operand(&rec)
        }
        None => occurrences_operand(sum).to_vec(),
    })
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
        assert_ne!(super::super::codec::CODEC_VERSION, PROVENANCE_TAG);
    }

    fn rec(parent: &str, site: u32, occurrences: u64, since: u64) -> ProductRecord {
        ProductRecord {
            parent_row: since,
            parent_id: Some(format!("id-{parent}")),
            parent_smiles: parent.into(),
            site_index: site,
            site_atoms: vec![site],
            occurrences,
            props: None,
            carried: vec![Some(parent.into())],
            since,
            moved: since,
        }
    }

    /// The smallest (parent, site) offered wins whatever the order of the operands, partial
    /// merges included; occurrences always add up; a larger candidate changes nothing.
    #[test]
    fn provenance_operands_keep_the_first_parent() {
        let base = rec("Oc1ccc(Cl)cc1", 1, 2, 1);
        let a = provenance_operand(&rec("Oc1ccc(Br)cc1", 2, 3, 5)); // smaller key: wins
        let b = provenance_operand(&rec("Oc1ccc(Br)cc1", 0, 1, 7)); // same key, smaller site: wins over a
        let c = provenance_operand(&rec("Oc1ccc(I)cc1", 0, 4, 7)); // larger key: loses
        let d = occurrences_operand(10).to_vec();
        let fold = |ops: &[&[u8]]| -> ProductRecord {
            let mut r = base.clone();
            for op in ops {
                let op = operand(op).unwrap();
                r.occurrences += op.occurrences;
                if let Some(cand) = op.candidate {
                    offer(&mut r, cand);
                }
            }
            r
        };
        let want = ProductRecord { occurrences: 20, moved: 7, parent_row: 7, ..rec("Oc1ccc(Br)cc1", 0, 20, 1) };
        for order in [[&a, &b, &c], [&c, &b, &a], [&b, &c, &a]] {
            let ops: Vec<&[u8]> = order.iter().map(|v| v.as_slice()).chain([d.as_slice()]).collect();
            assert_eq!(fold(&ops), want);
        }
        // a larger candidate alone: only occurrences change
        assert_eq!(fold(&[&c]), ProductRecord { occurrences: 6, ..base.clone() });
    }
}
