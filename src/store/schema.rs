//! The on-disk schema, as code: column families, key layouts and the format version.
//!
//! ```text
//! CF "meta"                    (one per store)
//!   "format_version"        -> u32 little-endian            (FORMAT_VERSION)
//!   "lineage"               -> empty                        (every job family has the lineage
//!                              keys below: the store was made at format 7 or later)
//!   "generation"            -> u64 little-endian            (the last generation handed out:
//!                              a job's `born` and `version`, `Store::next_generation`)
//!   "rdkit_version"         -> UTF-8 string                 (RDKit that made the keys)
//!   "job/" + <job id>       -> codec(JobMeta)               (input, rule, offset, counters)
//!   "drop/" + <CF name>     -> empty                        (a drop pending since a restart)
//!   "rows/" + <input key>   -> codec(Vec<RowsHash>)         (content hashes of the versions of
//!                              a single Parquet input the jobs read: its growth, `ingest/job.rs`;
//!                              absent in stores made before, which refuse that growth)
//! CF "products/" + <job id>    (one per job = input x rule)
//!   <canonical SMILES>      -> codec(ProductRecord)         (first provenance, occurrences)
//!                              then merge operands 0xFF + u64 LE  (occurrences to add, see
//!                              `merge.rs`; folded in by RocksDB on read and compaction) or
//!                              0xFE + codec body  (occurrences and a provenance candidate, from
//!                              a job growing from new upstream keys)
//!   0x00                    -> codec(JobMeta)               (batch sentinel: the job as of the
//!                              last batch bulk-loaded into this family; see `write.rs`)
//!   0x00 <canonical parent> 0x00 <canonical product> -> empty  (parent index, in the same
//!                              file or WriteBatch as the products; between the sentinel and
//!                              the first product key, so product scans never see it)
//!   0x00 0x00 <canonical product> 0x00 <canonical parent> -> empty  (the same links by product:
//!                              the lineage index, written with them; format 7)
//!   0x00 0x01 <canonical parent> 0x00 <row: u64 big-endian> -> UTF-8 id  (a file-input job's
//!                              root rows: each input row whose molecule made a product of the
//!                              job, so a lineage names every original row; format 7)
//! CF "keys"                    (one per store: which jobs hold a product key)
//!   <canonical SMILES> 0x00 <job id> -> empty               (written with the job's first
//!                              record of the key; may outlive a dropped job, so a reader
//!                              confirms each entry in the job's family)
//! CF "rejects/" + <input key>  (one per input; shared by the jobs of that input)
//!   <row: u64 big-endian>   -> codec(RejectRecord)          (why the row produced nothing)
//! ```
//! Changing any layout here means bumping [`FORMAT_VERSION`]; changing a record's fields means
//! bumping the codec version in `codec.rs`.

/// Version of the store layout described above. 7: the lineage index (links by product, root
/// rows of file-input jobs; #32); a version-6 store is read as is and marked 7 when opened for
/// writing, without the `lineage` key (its older families lack the index: lineage queries on it
/// are refused with a clear message). 6: provenance merge operands (0xFE) and the
/// `generation` counter (growth of jobs reading jobs, #30); a version-5 store is read as is and
/// marked 6 when opened for writing (its records read with version 0, its chained jobs are
/// redone, not grown, when their upstream changes). 5: the parent index lives in the job's
/// products family (format 4 had a `parents/<job>` family per job: half the families, each
/// ~75-110 KiB of RocksDB memory whenever the store is open, #27); a version-4 store is read
/// as is and its links moved when opened for writing. 4: the `keys` family lists the jobs of every
/// product key; a version-3 or -2 store is read without it (a lookup asks every job) and
/// indexed when opened for writing. 3: product families may hold occurrences merge
/// operands (the blind write path); a version-2 store is read as is and marked 3 when opened
/// for writing. 2: records in the postcard codec (codec version 2); 1 was bincode and is
/// refused with a clear message.
pub const FORMAT_VERSION: u32 = 7;

/// First version whose `keys` family is complete.
pub const KEY_INDEX_VERSION: u32 = 4;

/// First version whose parent links are in the products families.
pub const LINKS_IN_PRODUCTS_VERSION: u32 = 5;

/// Column family with store-wide metadata and the job table.
pub const CF_META: &str = "meta";

/// Prefix of the per-job product column families.
pub const CF_PRODUCTS_PREFIX: &str = "products/";

/// Prefix of the per-job parent -> products index column families of format 4 and older.
pub const CF_PARENTS_PREFIX: &str = "parents/";

/// Column family indexing which jobs hold each product key.
pub const CF_KEYS: &str = "keys";

/// Prefix of the per-input reject column families.
pub const CF_REJECTS_PREFIX: &str = "rejects/";

pub const KEY_FORMAT_VERSION: &[u8] = b"format_version";
pub const KEY_RDKIT_VERSION: &[u8] = b"rdkit_version";
pub const KEY_GENERATION: &[u8] = b"generation";
/// Meta key present when every job family of the store has the lineage index.
pub const KEY_LINEAGE: &[u8] = b"lineage";
pub const KEY_JOB_PREFIX: &[u8] = b"job/";
/// Reserved key of a products family: the job record as of the family's last bulk-loaded batch
/// (the commit point of the bulk-load protocol, `write.rs`). No SMILES starts with a NUL.
pub const KEY_BATCH_SENTINEL: &[u8] = b"\0";
/// Where product scans start: just past [`KEY_BATCH_SENTINEL`].
pub const FIRST_PRODUCT_KEY: &[u8] = b"\x01";
/// Sorts after every key of a products or rejects family (a SMILES or a 0x00-prefixed key
/// begins with a byte below 0xFF; a reject key is 8 bytes): `[b"", FAMILY_END)` is a whole
/// family, which is how a dropped job is emptied (`Store::drop_job`).
pub const FAMILY_END: &[u8] = &[0xFF; 9];

/// Meta keys of the content hashes of an input's versions.
pub const KEY_ROWS_PREFIX: &[u8] = b"rows/";

/// Meta key of the content hashes of the input with key `input_key`.
pub fn rows_key(input_key: &str) -> Vec<u8> {
    let mut k = KEY_ROWS_PREFIX.to_vec();
    k.extend_from_slice(input_key.as_bytes());
    k
}

/// Meta keys of column families whose drop is pending (`ingest --restart` killed part-way).
pub const KEY_DROP_PREFIX: &[u8] = b"drop/";

/// Meta key recording that column family `cf_name` is to be dropped.
pub fn pending_drop_key(cf_name: &str) -> Vec<u8> {
    let mut k = KEY_DROP_PREFIX.to_vec();
    k.extend_from_slice(cf_name.as_bytes());
    k
}

/// Column family holding the products of `job`.
pub fn products_cf(job: &str) -> String {
    format!("{CF_PRODUCTS_PREFIX}{job}")
}

/// Column family holding the parent index of `job` in a store of format 4 or older.
pub fn parents_cf(job: &str) -> String {
    format!("{CF_PARENTS_PREFIX}{job}")
}

/// Parent link as (parent, product) bytes: parent, a NUL separator (never in SMILES),
/// product. The key of a format-4 `parents/` family, and of a link in a partition's run file.
pub fn parent_link_key(parent: &str, product: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(parent.len() + product.len() + 1);
    k.extend_from_slice(parent.as_bytes());
    k.push(0);
    k.extend_from_slice(product.as_bytes());
    k
}

/// Key of a parent link in a products family: [`KEY_BATCH_SENTINEL`] then
/// [`parent_link_key`], into `out` (cleared first). It sorts after the sentinel (a parent is
/// never empty) and before [`FIRST_PRODUCT_KEY`].
pub fn family_link_key_into(out: &mut Vec<u8>, parent: &str, product: &str) {
    out.clear();
    out.extend_from_slice(KEY_BATCH_SENTINEL);
    out.extend_from_slice(parent.as_bytes());
    out.push(0);
    out.extend_from_slice(product.as_bytes());
}

/// Key of a link by product in a products family (the lineage index): two NULs, product, NUL,
/// parent, into `out` (cleared first). `\0\0` sorts after the sentinel and before every
/// `\0 <parent>` link (a SMILES never starts with a byte below `#`).
pub fn family_reverse_link_key_into(out: &mut Vec<u8>, product: &str, parent: &str) {
    out.clear();
    out.extend_from_slice(b"\0\0");
    out.extend_from_slice(product.as_bytes());
    out.push(0);
    out.extend_from_slice(parent.as_bytes());
}

/// A root row as (molecule, row) bytes: the row's canonical molecule, NUL, the row big-endian
/// (so a molecule's rows list in input order). The key of a root row in a partition's run file,
/// and, after [`ROOTS_START`], in a products family ([`family_root_key_into`]); its value is the
/// row's id.
pub fn root_row_key(molecule: &str, row: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(molecule.len() + 9);
    k.extend_from_slice(molecule.as_bytes());
    k.push(0);
    k.extend_from_slice(&row.to_be_bytes());
    k
}

/// The (molecule, row) of a [`root_row_key`]; None if it is not one.
pub fn split_root_row_key(key: &[u8]) -> Option<(&str, u64)> {
    let at = key.len().checked_sub(9).filter(|&at| key[at] == 0)?;
    let row = u64::from_be_bytes(key[at + 1..].try_into().ok()?);
    Some((std::str::from_utf8(&key[..at]).ok()?, row))
}

/// Key of a root row in a products family: [`ROOTS_START`] then [`root_row_key`], into `out`
/// (cleared first).
pub fn family_root_key_into(out: &mut Vec<u8>, molecule: &str, row: u64) {
    out.clear();
    out.extend_from_slice(ROOTS_START);
    out.extend_from_slice(&root_row_key(molecule, row));
}

/// Where the root rows of a products family start and end.
pub const ROOTS_START: &[u8] = b"\0\x01";
/// Just past the root rows.
pub const ROOTS_END: &[u8] = b"\0\x02";

/// Key-index entry: product, a NUL separator (never in SMILES), job id. A product's entries
/// are exactly the keys in `[product 0x00, product 0x01)`.
pub fn key_index_key(product: &[u8], job: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(product.len() + job.len() + 1);
    k.extend_from_slice(product);
    k.push(0);
    k.extend_from_slice(job.as_bytes());
    k
}

/// Column family holding the rejected rows of an input.
pub fn rejects_cf(input_key: &str) -> String {
    format!("{CF_REJECTS_PREFIX}{input_key}")
}

/// Key of a rejected row: big-endian, so a scan lists rows in input order.
pub fn reject_key(row: u64) -> [u8; 8] {
    row.to_be_bytes()
}

/// Meta key of a job.
pub fn job_key(job: &str) -> Vec<u8> {
    let mut k = KEY_JOB_PREFIX.to_vec();
    k.extend_from_slice(job.as_bytes());
    k
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(products_cf("a/b"), "products/a/b");
        assert_eq!(job_key("x"), b"job/x".to_vec());
        let mut k = Vec::new();
        family_link_key_into(&mut k, "C", "CO");
        assert_eq!(k, b"\0C\0CO".to_vec());
        assert!(KEY_BATCH_SENTINEL < k.as_slice() && k.as_slice() < FIRST_PRODUCT_KEY);
        let (mut r, mut root) = (Vec::new(), Vec::new());
        family_reverse_link_key_into(&mut r, "CO", "C");
        family_root_key_into(&mut root, "C", 258);
        assert_eq!(r, b"\0\0CO\0C".to_vec());
        assert_eq!(root, b"\0\x01C\0\0\0\0\0\0\0\x01\x02".to_vec());
        // sentinel < links by product < root rows < links by parent < products
        assert!(KEY_BATCH_SENTINEL < r.as_slice() && r.as_slice() < ROOTS_START);
        assert!(ROOTS_START < root.as_slice() && root.as_slice() < ROOTS_END && ROOTS_END < k.as_slice());
        assert_eq!(split_root_row_key(&root[ROOTS_START.len()..]), Some(("C", 258)));
        assert_eq!(split_root_row_key(b"C\0\0"), None);
    }
}
