//! The export schema, built from `schemas/products.parquet.json` (single source of truth).

use std::sync::Arc;

use arrow_schema::{DataType, Field, Schema, SchemaRef};
use serde::Deserialize;

/// The schema document, embedded at build time.
pub const PRODUCTS_SCHEMA_JSON: &str = include_str!("../../schemas/products.parquet.json");

#[derive(Deserialize)]
struct Doc {
    fields: Vec<FieldDoc>,
}

#[derive(Deserialize)]
struct FieldDoc {
    name: String,
    #[serde(rename = "type")]
    ty: String,
    nullable: bool,
}

fn data_type(ty: &str) -> DataType {
    match ty {
        "utf8" => DataType::Utf8,
        "uint32" => DataType::UInt32,
        "uint64" => DataType::UInt64,
        "float64" => DataType::Float64,
        "list<uint32>" => DataType::List(Arc::new(Field::new("item", DataType::UInt32, true))),
        other => panic!("schemas/products.parquet.json: unsupported type {other:?}"),
    }
}

/// Arrow schema of exported product files.
pub fn products_schema() -> SchemaRef {
    // The document is compiled in and covered by a unit test, so parsing cannot fail at run time.
    let doc: Doc = serde_json::from_str(PRODUCTS_SCHEMA_JSON).expect("valid embedded schema document");
    Arc::new(Schema::new(
        doc.fields.iter().map(|f| Field::new(&f.name, data_type(&f.ty), f.nullable)).collect::<Vec<_>>(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_document_builds() {
        let s = products_schema();
        assert_eq!(s.field(0).name(), "smiles");
        assert!(s.index_of("occurrences").is_ok());
        assert_eq!(s.fields().len(), 15);
    }
}
