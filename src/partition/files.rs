//! Reading what a partitioned run publishes (plans, done markers): JSON files, written by
//! [`crate::publish`] (temp beside, fsync, rename), so a file is complete or absent.

use std::path::Path;

use serde::de::DeserializeOwned;

use crate::error::{PartitionError, Result};

/// Reads a JSON file.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T> {
    let bytes =
        std::fs::read(path).map_err(|source| PartitionError::Io { path: path.into(), context: "read", source })?;
    serde_json::from_slice(&bytes)
        .map_err(|e| PartitionError::Plan { path: path.into(), reason: format!("not valid: {e}") }.into())
}

/// Reads a step's done marker at `path`: None when the step is not done.
pub fn read_marker<T: DeserializeOwned>(path: &Path) -> Result<Option<T>> {
    if !path.exists() {
        return Ok(None);
    }
    read_json(path).map(Some)
}
