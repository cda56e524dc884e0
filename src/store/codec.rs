//! Versioned value codec: one version byte, then the record in postcard's wire format
//! (<https://postcard.jamesmunns.com/wire-format>: varint integers, little-endian floats,
//! length-prefixed strings and sequences, fields in declaration order, enum variants by index).
//! The format is specified and stable across postcard 1.x, so a record written today decodes
//! with any later build of the same codec version.
//!
//! Readers dispatch on the version byte, so a new layout is added next to the old ones without
//! rewriting existing stores: each [`Record`] type says which older versions it can read.
//! Version 3 added `Counters::masked_sites` (job records); product and reject records are the
//! same in versions 2 and 3. Version 1 was bincode 2 (discontinued upstream); stores written
//! with it are refused at open by their format version (see `schema.rs`).

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::records::{Counters, InputInfo, JobMeta, JobState, ProductRecord, RejectRecord, RuleInfo};
use crate::error::StoreError;

/// Version byte written in front of every value.
pub const CODEC_VERSION: u8 = 3;

/// A record stored through the codec.
pub trait Record: Serialize + DeserializeOwned {
    /// Decodes the body of a record written with an older codec `version`, if this type can
    /// read it; `None` for versions it cannot.
    fn decode_older(version: u8, body: &[u8]) -> Option<Result<Self, postcard::Error>> {
        // unchanged since version 2
        (version == 2).then(|| take_all(body))
    }
}

impl Record for ProductRecord {}
impl Record for RejectRecord {}
// new in codec version 3: never written by an older one
impl Record for Vec<super::records::RowsHash> {
    fn decode_older(_: u8, _: &[u8]) -> Option<Result<Self, postcard::Error>> {
        None
    }
}

impl Record for JobMeta {
    fn decode_older(version: u8, body: &[u8]) -> Option<Result<Self, postcard::Error>> {
        (version == 2).then(|| take_all::<v2::JobMeta>(body).map(Into::into))
    }
}

/// Version 2 of the job record: counters without `masked_sites`.
mod v2 {
    use super::*;

    #[derive(Deserialize)]
    pub(super) struct Counters {
        inputs: u64,
        failed: std::collections::BTreeMap<String, u64>,
        no_site: u64,
        site_products: u64,
        product_failed: u64,
        unique_products: u64,
    }

    #[derive(Deserialize)]
    pub(super) struct JobMeta {
        id: String,
        input_key: String,
        input: InputInfo,
        rule: RuleInfo,
        rdkit_version: String,
        offset: u64,
        counters: Counters,
        state: JobState,
        busy_secs: f64,
        created_unix: u64,
        updated_unix: u64,
    }

    impl From<JobMeta> for super::JobMeta {
        fn from(m: JobMeta) -> Self {
            let c = m.counters;
            super::JobMeta {
                id: m.id,
                input_key: m.input_key,
                input: m.input,
                rule: m.rule,
                rdkit_version: m.rdkit_version,
                offset: m.offset,
                counters: super::Counters {
                    inputs: c.inputs,
                    failed: c.failed,
                    no_site: c.no_site,
                    site_products: c.site_products,
                    product_failed: c.product_failed,
                    unique_products: c.unique_products,
                    masked_sites: 0,
                },
                state: m.state,
                busy_secs: m.busy_secs,
                created_unix: m.created_unix,
                updated_unix: m.updated_unix,
            }
        }
    }
}

fn take_all<T: DeserializeOwned>(body: &[u8]) -> Result<T, postcard::Error> {
    let (value, rest) = postcard::take_from_bytes(body)?;
    if !rest.is_empty() {
        return Err(postcard::Error::DeserializeBadEncoding);
    }
    Ok(value)
}

/// Encodes a record with the current codec version.
pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    out.push(CODEC_VERSION);
    // Serializing a plain record into a Vec cannot fail (no I/O, no unsupported serde shapes).
    postcard::to_io(value, &mut out).expect("encoding a record into a Vec cannot fail");
    out
}

/// Encodes a record with the current codec version into `out` (cleared first): the bulk-load
/// writer reuses one buffer for every product of a batch.
pub fn encode_into<T: Serialize>(out: &mut Vec<u8>, value: &T) {
    out.clear();
    out.push(CODEC_VERSION);
    postcard::to_io(value, &mut *out).expect("encoding a record into a Vec cannot fail");
}

/// Decodes a record; `what` names it in errors.
pub fn decode<T: Record>(bytes: &[u8], what: &str) -> Result<T, StoreError> {
    let err = |reason: String| StoreError::Codec { what: what.to_owned(), reason };
    match bytes.split_first() {
        Some((&CODEC_VERSION, body)) => {
            let (value, rest) = postcard::take_from_bytes(body).map_err(|e| err(e.to_string()))?;
            if !rest.is_empty() {
                return Err(err(format!("{} trailing bytes", rest.len())));
            }
            Ok(value)
        }
        Some((&v, body)) => match T::decode_older(v, body) {
            Some(r) => r.map_err(|e| err(format!("codec version {v}: {e}"))),
            None => Err(err(format!("unknown codec version {v}"))),
        },
        None => Err(err("empty value".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::records::Props;

    fn sample() -> ProductRecord {
        ProductRecord {
            parent_row: 7,
            parent_id: Some("CID7".into()),
            parent_smiles: "Oc1ccccc1".into(),
            site_index: 0,
            site_atoms: vec![1, 0],
            occurrences: 3,
            props: Some(Props { mw: 108.1, tpsa: 9.2, hbd: 0, hba: 1, clogp: 1.7, rotb: 1 }),
            carried: vec![Some("2".into()), None],
        }
    }

    #[test]
    fn roundtrip() {
        let r = sample();
        let bytes = encode(&r);
        assert_eq!(bytes[0], CODEC_VERSION);
        assert_eq!(decode::<ProductRecord>(&bytes, "t").unwrap(), r);
    }

    /// The wire format is fixed: these bytes are what version 2 writes for this record, and
    /// what every later build must read.
    #[test]
    fn wire_format_is_stable() {
        let r = ProductRecord { props: None, carried: vec![None, Some("ab".into())], ..sample() };
        let bytes = encode(&r);
        #[rustfmt::skip]
        let expected: &[u8] = &[
            3,                                          // codec version
            7,                                          // parent_row: varint 7
            1, 4, b'C', b'I', b'D', b'7',               // parent_id: Some, len 4
            9, b'O', b'c', b'1', b'c', b'c', b'c', b'c', b'c', b'1', // parent_smiles
            0,                                          // site_index
            2, 1, 0,                                    // site_atoms: len 2, [1, 0]
            3,                                          // occurrences
            0,                                          // props: None
            2, 0, 1, 2, b'a', b'b',                     // carried: [None, Some("ab")]
        ];
        assert_eq!(bytes, expected);
        assert_eq!(decode::<ProductRecord>(expected, "t").unwrap(), r);
        // the same record written by codec version 2 (same layout) still reads
        let mut older = expected.to_vec();
        older[0] = 2;
        assert_eq!(decode::<ProductRecord>(&older, "t").unwrap(), r);
    }

    /// A job record written by codec version 2 (no `masked_sites`) reads with 0 masked sites;
    /// the current version writes the new field last in the counters.
    #[test]
    fn version_2_job_records_still_read() {
        let meta = JobMeta {
            offset: 2,
            counters: Counters {
                inputs: 2,
                site_products: 3,
                unique_products: 2,
                masked_sites: 4,
                ..Counters::default()
            },
            state: JobState::Complete,
            busy_secs: 0.5,
            created_unix: 1,
            updated_unix: 2,
            ..JobMeta::for_test("in/R")
        };
        let v3 = encode(&meta);
        assert_eq!(decode::<JobMeta>(&v3, "t").unwrap(), meta);
        // version 2 bytes: the same fields without the masked_sites varint (the last counter)
        let mut v2 = v3.clone();
        let without_masked = {
            let zero = Counters { masked_sites: 0, ..meta.counters.clone() };
            let a = encode(&JobMeta { counters: zero, ..meta.clone() });
            // a differs from v3 only in the masked_sites byte (4 -> 0); find it and drop it
            let at = a.iter().zip(&v3).position(|(x, y)| x != y).unwrap();
            let mut b = a.clone();
            b.remove(at);
            b
        };
        v2.clone_from(&without_masked);
        v2[0] = 2;
        let read = decode::<JobMeta>(&v2, "t").unwrap();
        assert_eq!(read, JobMeta { counters: Counters { masked_sites: 0, ..meta.counters.clone() }, ..meta });
        // a version 2 job record is never misread as version 3 (that would shift every field)
        let mut as_v3 = v2.clone();
        as_v3[0] = 3;
        assert!(decode::<JobMeta>(&as_v3, "t").is_err());
    }

    #[test]
    fn rejects_unknown_version_truncation_and_empty() {
        let mut bytes = encode(&sample());
        assert!(decode::<ProductRecord>(&bytes[..bytes.len() - 3], "t").is_err());
        bytes[0] = 99;
        assert!(decode::<ProductRecord>(&bytes, "t").unwrap_err().to_string().contains("version 99"));
        assert!(decode::<ProductRecord>(&[], "t").is_err());
    }
}
