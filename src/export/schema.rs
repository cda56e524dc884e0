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

/// Prefix of the export columns that carry input columns (`--carry COL` -> `source_COL`).
pub const CARRIED_PREFIX: &str = "source_";

/// Export schema of a job: the fixed columns, then one nullable text column per carried input
/// column.
pub fn job_schema(carry_columns: &[String]) -> SchemaRef {
    let fixed = products_schema();
    let mut fields: Vec<Field> = fixed.fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.extend(carry_columns.iter().map(|c| Field::new(format!("{CARRIED_PREFIX}{c}"), DataType::Utf8, true)));
    Arc::new(Schema::new(fields))
}

/// Checks that `found` is the fixed schema followed only by carried text columns.
pub fn check_schema(found: &Schema) -> Result<(), String> {
    let fixed = products_schema();
    let n = fixed.fields().len();
    let head_ok = found.fields().len() >= n
        && found
            .fields()
            .iter()
            .zip(fixed.fields())
            .all(|(a, b)| a.name() == b.name() && a.data_type() == b.data_type());
    if !head_ok {
        return Err(format!("columns differ from schemas/products.parquet.json: {found:?}"));
    }
    for f in found.fields().iter().skip(n) {
        if !f.name().starts_with(CARRIED_PREFIX) || f.data_type() != &DataType::Utf8 {
            return Err(format!("unexpected extra column {:?} ({})", f.name(), f.data_type()));
        }
    }
    Ok(())
}

/// Arrow schema of exported product files (the fixed columns).
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

    #[test]
    fn carried_columns_extend_the_schema() {
        let s = job_schema(&["k".into(), "halogen".into()]);
        assert_eq!(s.fields().len(), 17);
        assert_eq!(s.field(16).name(), "source_halogen");
        assert!(check_schema(&s).is_ok());
        let bad = Schema::new(vec![Field::new("smiles", DataType::Utf8, false)]);
        assert!(check_schema(&bad).is_err());
    }
}
