//! Versioned value codec: one version byte, then bincode (standard config) of the record.
//!
//! Readers dispatch on the version byte, so a future layout can be added next to version 1
//! without rewriting existing stores.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::StoreError;

/// Version byte written in front of every value.
pub const CODEC_VERSION: u8 = 1;

/// Encodes a record with the current codec version.
pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    out.push(CODEC_VERSION);
    bincode::serde::encode_into_std_write(value, &mut out, bincode::config::standard())
        .expect("encoding into a Vec cannot fail");
    out
}

/// Decodes a record; `what` names it in errors.
pub fn decode<T: DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T, StoreError> {
    let err = |reason: String| StoreError::Codec { what: what.to_owned(), reason };
    match bytes.split_first() {
        Some((&CODEC_VERSION, body)) => {
            let (value, used) =
                bincode::serde::decode_from_slice(body, bincode::config::standard()).map_err(|e| err(e.to_string()))?;
            if used != body.len() {
                return Err(err(format!("{} trailing bytes", body.len() - used)));
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

    #[test]
    fn rejects_unknown_version_truncation_and_empty() {
        let mut bytes = encode(&sample());
        assert!(decode::<ProductRecord>(&bytes[..bytes.len() - 3], "t").is_err());
        bytes[0] = 99;
        assert!(decode::<ProductRecord>(&bytes, "t").unwrap_err().to_string().contains("version 99"));
        assert!(decode::<ProductRecord>(&[], "t").is_err());
    }
}
