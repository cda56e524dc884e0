//! What an ingest reads, as given: a path, or the products of jobs of the same store.
//!
//! One type instead of a `job:` prefix recognised on a `PathBuf` by every caller (the CLI, the
//! Python module, the partition plan and the campaign each checked the string; a campaign built
//! `job:a,b` only to parse it again). The text form (`job:<ID>[,<ID>...]`) is parsed once, where
//! a user typed it (`--input`, Python's `input=`), and written once ([`std::fmt::Display`]), for
//! plans and messages.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// Prefix of a job input in its text form: `job:<ID>[,<ID>...]`.
const JOB_PREFIX: &str = "job:";

/// An ingest's input: a file, folder or glob, or other jobs' products.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum InputSpec {
    /// A Parquet file, folder or glob, or a SMILES, CSV, TSV or SDF file (optionally gzip).
    Path(PathBuf),
    /// The deduplicated union of the products of these complete jobs of the same store.
    Jobs(Vec<String>),
}

impl InputSpec {
    /// Reads the text form: `job:<ID>[,<ID>...]` (ids trimmed, empty ones dropped), else a path.
    pub fn parse(text: &str) -> Self {
        match text.strip_prefix(JOB_PREFIX) {
            Some(ids) => {
                Self::Jobs(ids.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect())
            }
            None => Self::Path(text.into()),
        }
    }

    /// Whether the input is read from the store's own jobs.
    pub fn is_jobs(&self) -> bool {
        matches!(self, Self::Jobs(_))
    }

    /// The path, for a path input.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Self::Path(p) => Some(p),
            Self::Jobs(_) => None,
        }
    }
}

impl fmt::Display for InputSpec {
    /// The text form [`InputSpec::parse`] reads back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Path(p) => write!(f, "{}", p.display()),
            Self::Jobs(ids) => write!(f, "{JOB_PREFIX}{}", ids.join(",")),
        }
    }
}

impl FromStr for InputSpec {
    type Err = std::convert::Infallible;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Ok(Self::parse(text))
    }
}

impl From<&str> for InputSpec {
    fn from(text: &str) -> Self {
        Self::parse(text)
    }
}

impl From<String> for InputSpec {
    fn from(text: String) -> Self {
        Self::parse(&text)
    }
}

impl From<PathBuf> for InputSpec {
    /// A path is a path, whatever its name.
    fn from(path: PathBuf) -> Self {
        Self::Path(path)
    }
}

impl From<&Path> for InputSpec {
    fn from(path: &Path) -> Self {
        Self::Path(path.into())
    }
}

impl From<&PathBuf> for InputSpec {
    fn from(path: &PathBuf) -> Self {
        Self::Path(path.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_form_reads_back() {
        let jobs = InputSpec::parse("job: a/R1, ,a/R2");
        assert_eq!(jobs, InputSpec::Jobs(vec!["a/R1".into(), "a/R2".into()]));
        assert_eq!(jobs.to_string(), "job:a/R1,a/R2");
        assert_eq!(InputSpec::parse(&jobs.to_string()), jobs);
        let path = InputSpec::parse("data/lib.smi.gz");
        assert_eq!(path.path(), Some(Path::new("data/lib.smi.gz")));
        assert!(!path.is_jobs() && jobs.is_jobs());
        assert_eq!(InputSpec::parse("job:"), InputSpec::Jobs(vec![]));
        // a path given as a path is never a job input
        assert_eq!(InputSpec::from(PathBuf::from("job:x")), InputSpec::Path("job:x".into()));
    }
}
