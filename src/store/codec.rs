//! Versioned value codec: one version byte, then the record in postcard's wire format
//! (<https://postcard.jamesmunns.com/wire-format>: varint integers, little-endian floats,
//! length-prefixed strings and sequences, fields in declaration order, enum variants by index).
//! The format is specified and stable across postcard 1.x, so a record written today decodes
//! with any later build of the same codec version.
//!
//! Readers dispatch on the version byte, so a future layout can be added next to version 2
//! without rewriting existing stores. Version 1 was bincode 2 (discontinued upstream); stores
//! written with it are refused at open by their format version (see `schema.rs`).

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::StoreError;

/// Version byte written in front of every value.
pub const CODEC_VERSION: u8 = 2;

/// Encodes a record with the current codec version.
pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    out.push(CODEC_VERSION);
    // Serializing a plain record into a Vec cannot fail (no I/O, no unsupported serde shapes).
    postcard::to_io(value, &mut out).expect("encoding a record into a Vec cannot fail");
    out
}

/// Decodes a record; `what` names it in errors.
pub fn decode<T: DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T, StoreError> {
    let err = |reason: String| StoreError::Codec { what: what.to_owned(), reason };
    match bytes.split_first() {
        Some((&CODEC_VERSION, body)) => {
            let (value, rest) = postcard::take_from_bytes(body).map_err(|e| err(e.to_string()))?;
            if !rest.is_empty() {
                return Err(err(format!("{} trailing bytes", rest.len())));
            }
            Ok(value)
        }
        Some((v, _)) => Err(err(format!("unknown codec version {v}"))),
        None => Err(err("empty value".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::records::{ProductRecord, Props};

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
            2,                                          // codec version
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
