//! Reading single cells of Arrow arrays as text (SMILES, ids, carried columns).

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type, UInt16Type, UInt32Type, UInt64Type, UInt8Type,
};
use arrow_array::{Array, ArrayRef};
use arrow_schema::DataType;

/// String column types.
pub(super) fn is_text(dt: &DataType) -> bool {
    match dt {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => true,
        // a pandas categorical: cast to utf8 when read (`parquet.rs`)
        DataType::Dictionary(_, values) => matches!(**values, DataType::Utf8 | DataType::LargeUtf8),
        _ => false,
    }
}

/// Types whose cells [`text_at`] can render.
pub(super) fn is_textual(dt: &DataType) -> bool {
    is_text(dt) || dt.is_integer() || matches!(dt, DataType::Float32 | DataType::Float64 | DataType::Boolean)
}

/// A string cell, borrowed (None when null or not a string column).
pub(super) fn str_at(a: &ArrayRef, i: usize) -> Option<&str> {
    if a.is_null(i) {
        return None;
    }
    match a.data_type() {
        DataType::Utf8 => Some(a.as_string::<i32>().value(i)),
        DataType::LargeUtf8 => Some(a.as_string::<i64>().value(i)),
        DataType::Utf8View => Some(a.as_string_view().value(i)),
        _ => None,
    }
}

/// Any supported cell rendered as text (None when null).
pub(super) fn text_at(a: &ArrayRef, i: usize) -> Option<String> {
    if a.is_null(i) {
        return None;
    }
    Some(match a.data_type() {
        DataType::Int8 => a.as_primitive::<Int8Type>().value(i).to_string(),
        DataType::Int16 => a.as_primitive::<Int16Type>().value(i).to_string(),
        DataType::Int32 => a.as_primitive::<Int32Type>().value(i).to_string(),
        DataType::Int64 => a.as_primitive::<Int64Type>().value(i).to_string(),
        DataType::UInt8 => a.as_primitive::<UInt8Type>().value(i).to_string(),
        DataType::UInt16 => a.as_primitive::<UInt16Type>().value(i).to_string(),
        DataType::UInt32 => a.as_primitive::<UInt32Type>().value(i).to_string(),
        DataType::UInt64 => a.as_primitive::<UInt64Type>().value(i).to_string(),
        DataType::Float32 => a.as_primitive::<Float32Type>().value(i).to_string(),
        DataType::Float64 => a.as_primitive::<Float64Type>().value(i).to_string(),
        DataType::Boolean => a.as_boolean().value(i).to_string(),
        _ => str_at(a, i)?.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{BooleanArray, Int64Array, StringArray};
    use std::sync::Arc;

    #[test]
    fn cells_render_as_text() {
        let s: ArrayRef = Arc::new(StringArray::from(vec![Some("a"), None]));
        let n: ArrayRef = Arc::new(Int64Array::from(vec![Some(-3), None]));
        let b: ArrayRef = Arc::new(BooleanArray::from(vec![Some(true), None]));
        assert_eq!(str_at(&s, 0), Some("a"));
        assert_eq!(text_at(&n, 0).as_deref(), Some("-3"));
        assert_eq!(text_at(&b, 0).as_deref(), Some("true"));
        assert_eq!((text_at(&s, 1), text_at(&n, 1), text_at(&b, 1)), (None, None, None));
        assert!(is_textual(&DataType::UInt16) && !is_textual(&DataType::Binary) && !is_text(&DataType::Int32));
    }
}
