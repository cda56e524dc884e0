//! The on-disk schema, as code: column families, key layouts and the format version.
//!
//! ```text
//! CF "meta"                    (one per store)
//!   "format_version"        -> u32 little-endian            (FORMAT_VERSION)
//!   "rdkit_version"         -> UTF-8 string                 (RDKit that made the keys)
//!   "job/" + <job id>       -> codec(JobMeta)               (input, rule, offset, counters)
//! CF "products/" + <job id>    (one per job = input x rule)
//!   <canonical SMILES>      -> codec(ProductRecord)         (first provenance, occurrences)
//! ```
//! Changing any layout here means bumping [`FORMAT_VERSION`]; changing a record's fields means
//! bumping the codec version in `codec.rs`.

/// Version of the store layout described above.
pub const FORMAT_VERSION: u32 = 1;

/// Column family with store-wide metadata and the job table.
pub const CF_META: &str = "meta";

/// Prefix of the per-job product column families.
pub const CF_PRODUCTS_PREFIX: &str = "products/";

pub const KEY_FORMAT_VERSION: &[u8] = b"format_version";
pub const KEY_RDKIT_VERSION: &[u8] = b"rdkit_version";
pub const KEY_JOB_PREFIX: &[u8] = b"job/";

/// Column family holding the products of `job`.
pub fn products_cf(job: &str) -> String {
    format!("{CF_PRODUCTS_PREFIX}{job}")
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
    }
}
