//! Versioned value codec: one version byte, then the record in postcard's wire format
//! (<https://postcard.jamesmunns.com/wire-format>: varint integers, little-endian floats,
//! length-prefixed strings and sequences, fields in declaration order, enum variants by index).
//! The format is specified and stable across postcard 1.x, so a record written today decodes
//! with any later build of the same codec version.
//!
//! Readers dispatch on the version byte, so a new layout is added next to the old ones without
//! rewriting existing stores: each [`Record`] type says which older versions it can read.
//! Version 3 added `Counters::masked_sites` (job records); product and reject records are the
//! same in versions 2 and 3. Version 4 added the growth stamps: `ProductRecord::{since, moved}`
//! and `JobMeta::{born, version, upstream}` (older records read with 0 and None). Version 1 was bincode 2 (discontinued upstream); stores written
//! with it are refused at open by their format version (see `schema.rs`).

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::records::{Counters, InputInfo, JobMeta, JobState, ProductRecord, RejectRecord, RuleInfo};
use crate::error::StoreError;

/// Version byte written in front of every value.
pub const CODEC_VERSION: u8 = 4;

/// A record stored through the codec.
pub trait Record: Serialize + DeserializeOwned {
    /// Decodes the body of a record written with an older codec `version`, if this type can
    /// read it; `None` for versions it cannot.
    fn decode_older(version: u8, body: &[u8]) -> Option<Result<Self, postcard::Error>> {
        // unchanged since version 2
        (2..CODEC_VERSION).contains(&version).then(|| take_all(body))
    }
}

impl Record for ProductRecord {
    fn decode_older(version: u8, body: &[u8]) -> Option<Result<Self, postcard::Error>> {
        (version == 2 || version == 3).then(|| take_all::<v3::ProductRecord>(body).map(Into::into))
    }
}
impl Record for RejectRecord {}
// new in codec version 3 (unchanged in 4): never written by an older one
impl Record for Vec<super::records::RowsHash> {
    fn decode_older(version: u8, body: &[u8]) -> Option<Result<Self, postcard::Error>> {
        (version == 3).then(|| take_all(body))
    }
}

impl Record for JobMeta {
    fn decode_older(version: u8, body: &[u8]) -> Option<Result<Self, postcard::Error>> {
        match version {
            2 => Some(take_all::<v2::JobMeta>(body).map(|m| v3::JobMeta::from(m).into())),
            3 => Some(take_all::<v3::JobMeta>(body).map(Into::into)),
            _ => None,
        }
    }
}

/// Version 3 of the records: no growth stamps.
mod v3 {
    use super::*;
    use crate::store::records::Props;

    #[derive(Deserialize)]
    pub(super) struct ProductRecord {
        parent_row: u64,
        parent_id: Option<String>,
        parent_smiles: String,
        site_index: u32,
        site_atoms: Vec<u32>,
        occurrences: u64,
        props: Option<Props>,
        carried: Vec<Option<String>>,
    }

    impl From<ProductRecord> for super::ProductRecord {
        fn from(r: ProductRecord) -> Self {
            super::ProductRecord {
                parent_row: r.parent_row,
                parent_id: r.parent_id,
                parent_smiles: r.parent_smiles,
                site_index: r.site_index,
                site_atoms: r.site_atoms,
                occurrences: r.occurrences,
                props: r.props,
                carried: r.carried,
                since: 0,
                moved: 0,
            }
        }
    }

    #[derive(Deserialize)]
    pub(super) struct Counters {
        pub(super) inputs: u64,
        pub(super) failed: std::collections::BTreeMap<String, u64>,
        pub(super) no_site: u64,
        pub(super) site_products: u64,
        pub(super) product_failed: u64,
        pub(super) unique_products: u64,
        pub(super) masked_sites: u64,
    }

    #[derive(Deserialize)]
    pub(super) struct JobMeta {
        pub(super) id: String,
        pub(super) input_key: String,
        pub(super) input: InputInfo,
        pub(super) rule: RuleInfo,
        pub(super) rdkit_version: String,
        pub(super) offset: u64,
        pub(super) counters: Counters,
        pub(super) state: JobState,
        pub(super) busy_secs: f64,
        pub(super) created_unix: u64,
        pub(super) updated_unix: u64,
    }

    impl From<JobMeta> for super::JobMeta {
        fn from(m: JobMeta) -> Self {
            super::JobMeta {
                id: m.id,
                input_key: m.input_key,
                input: m.input,
                rule: m.rule,
                rdkit_version: m.rdkit_version,
                offset: m.offset,
                counters: super::Counters {
                    inputs: m.counters.inputs,
                    failed: m.counters.failed,
                    no_site: m.counters.no_site,
                    site_products: m.counters.site_products,
                    product_failed: m.counters.product_failed,
                    unique_products: m.counters.unique_products,
                    masked_sites: m.counters.masked_sites,
                    filtered: 0,
                },
                state: m.state,
                busy_secs: m.busy_secs,
                created_unix: m.created_unix,
                updated_unix: m.updated_unix,
                born: 0,
                version: 0,
                upstream: None,
            }
        }
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

    impl From<JobMeta> for super::v3::JobMeta {
        fn from(m: JobMeta) -> Self {
            let c = m.counters;
            super::v3::JobMeta {
                id: m.id,
                input_key: m.input_key,
                input: m.input,
                rule: m.rule,
                rdkit_version: m.rdkit_version,
                offset: m.offset,
                counters: super::v3::Counters {
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
            since: 5,
            moved: 6,
        }
    }

    #[test]
    fn roundtrip() {
        let r = sample();
        let bytes = encode(&r);
        assert_eq!(bytes[0], CODEC_VERSION);
        assert_eq!(decode::<ProductRecord>(&bytes, "t").unwrap(), r);
    }

    /// The wire format is fixed: these bytes are what version 4 writes for this record, and
    /// what every later build must read; versions 2 and 3 wrote the same without the stamps.
    #[test]
    fn wire_format_is_stable() {
        let r = ProductRecord { props: None, carried: vec![None, Some("ab".into())], ..sample() };
        let bytes = encode(&r);
        #[rustfmt::skip]
        let expected: &[u8] = &[
            4,                                          // codec version
            7,                                          // parent_row: varint 7
            1, 4, b'C', b'I', b'D', b'7',               // parent_id: Some, len 4
            9, b'O', b'c', b'1', b'c', b'c', b'c', b'c', b'c', b'1', // parent_smiles
            0,                                          // site_index
            2, 1, 0,                                    // site_atoms: len 2, [1, 0]
            3,                                          // occurrences
            0,                                          // props: None
            2, 0, 1, 2, b'a', b'b',                     // carried: [None, Some("ab")]
            5, 6,                                       // since, moved
        ];
        assert_eq!(bytes, expected);
        assert_eq!(decode::<ProductRecord>(expected, "t").unwrap(), r);
        // the same record written by codec versions 2 and 3 (no stamps) still reads, stamped 0
        for v in [2, 3] {
            let mut older = expected[..expected.len() - 2].to_vec();
            older[0] = v;
            assert_eq!(
                decode::<ProductRecord>(&older, "t").unwrap(),
                ProductRecord { since: 0, moved: 0, ..r.clone() }
            );
        }
        // a version-3 record is never misread as version 4
        let mut as_v4 = expected[..expected.len() - 2].to_vec();
        as_v4[0] = 4;
        assert!(decode::<ProductRecord>(&as_v4, "t").is_err());
    }

    /// Job records written by codec versions 2 (no `masked_sites`) and 3 (no growth stamps)
    /// read with 0 masked sites, generation 0 and no upstream versions.
    #[test]
    fn version_2_and_3_job_records_still_read() {
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
        let v4 = encode(&meta);
        assert_eq!(decode::<JobMeta>(&v4, "t").unwrap(), meta);
        // version 3: the same fields without the filtered counter (the last one, 0 here) and
        // without born, version and upstream (0, 0, None: the last 3 bytes)
        assert_eq!(&v4[v4.len() - 3..], &[0, 0, 0]);
        let filtered_at = {
            let seven =
                encode(&JobMeta { counters: Counters { filtered: 7, ..meta.counters.clone() }, ..meta.clone() });
            seven.iter().zip(&v4).position(|(x, y)| x != y).unwrap()
        };
        let mut v3 = v4[..v4.len() - 3].to_vec();
        v3.remove(filtered_at);
        v3[0] = 3;
        assert_eq!(decode::<JobMeta>(&v3, "t").unwrap(), meta);
        // version 2: also without the masked_sites varint (the last counter)
        let v2 = {
            let zero = Counters { masked_sites: 0, ..meta.counters.clone() };
            let a = encode(&JobMeta { counters: zero, ..meta.clone() });
            let at = a.iter().zip(&v4).position(|(x, y)| x != y).unwrap();
            let mut b = a[..a.len() - 3].to_vec();
            b.remove(filtered_at);
            b.remove(at);
            b[0] = 2;
            b
        };
        let read = decode::<JobMeta>(&v2, "t").unwrap();
        assert_eq!(read, JobMeta { counters: Counters { masked_sites: 0, ..meta.counters.clone() }, ..meta.clone() });
        // an older job record is never misread as a newer one (that would shift every field)
        let mut as_v3 = v2.clone();
        as_v3[0] = 3;
        assert!(decode::<JobMeta>(&as_v3, "t").is_err());
        let mut as_v4 = v3.clone();
        as_v4[0] = 4;
        assert!(decode::<JobMeta>(&as_v4, "t").is_err());
        // a grown job's stamps round-trip
        let grown = JobMeta {
            born: 3,
            version: 9,
            upstream: Some(crate::store::UpstreamReads {
                now: vec![crate::store::UpstreamRead { job: "a/R".into(), born: 1, version: 8 }],
                before: vec![crate::store::UpstreamRead { job: "a/R".into(), born: 1, version: 1 }],
                rows_before: 40,
            }),
            ..meta
        };
        assert_eq!(decode::<JobMeta>(&encode(&grown), "t").unwrap(), grown);
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
