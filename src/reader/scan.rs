//! A job's products in key order over several shards: the shards of a partitioned run hold
//! disjoint sets of keys (a product's partition is a function of its key), so merging their
//! key-ordered scans by taking the smallest head gives the job's products in the order a
//! single store's scan gives them, one record per key.

use crate::error::StoreError;
use crate::store::{ProductRecord, ProductScan};

type Item = Result<(String, ProductRecord), StoreError>;

/// Key-ordered merge of the scans of one job's shards.
pub(crate) struct MergedScan<'a> {
    /// Each shard's scan and its next item (None: that scan is exhausted).
    heads: Vec<(Option<Item>, ProductScan<'a>)>,
}

impl<'a> MergedScan<'a> {
    /// Merges `scans` (each in key order, their keys disjoint).
    pub(crate) fn new(scans: Vec<ProductScan<'a>>) -> Self {
        let heads = scans
            .into_iter()
            .map(|mut s| {
                let first = s.next();
                (first, s)
            })
            .collect();
        Self { heads }
    }
}

impl Iterator for MergedScan<'_> {
    type Item = Item;

    fn next(&mut self) -> Option<Item> {
        // an error is returned as soon as it is seen; otherwise the smallest key
        let mut pick: Option<usize> = None;
        for (i, (head, _)) in self.heads.iter().enumerate() {
            match (head, pick) {
                (None, _) => {}
                (Some(Err(_)), _) => {
                    pick = Some(i);
                    break;
                }
                (Some(Ok(_)), None) => pick = Some(i),
                (Some(Ok((k, _))), Some(j)) => {
                    if let Some(Ok((best, _))) = &self.heads[j].0 {
                        if k < best {
                            pick = Some(i);
                        }
                    }
                }
            }
        }
        let (head, scan) = &mut self.heads[pick?];
        let item = head.take();
        *head = scan.next();
        item
    }
}
