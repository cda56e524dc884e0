//! `xfstore status`: every job with its progress, counters and state, and the store's size.

use std::fmt::Write;

use crate::error::Result;
use crate::reader::Reader;
use crate::store::{JobMeta, JobState};

/// Whether a job is done, being worked on right now, or stopped part-way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunState {
    /// Every input row is committed.
    Complete,
    /// Partial, and a writer process holds the store.
    Running,
    /// Partial, and nobody is writing: rerun the same ingest to resume.
    Interrupted,
}

#[derive(Debug, Clone)]
/// One job in `xfstore status`.
pub struct JobStatus {
    /// Complete, running or interrupted.
    pub state: RunState,
    /// The job's stored metadata.
    pub meta: JobMeta,
}

#[derive(Debug, Clone)]
/// What `xfstore status` shows: the store and its jobs.
pub struct StoreStatus {
    /// The store's folder.
    pub path: String,
    /// Bytes of the store's live files (RocksDB's count).
    pub disk_bytes: u64,
    /// Pid of the process writing, if any.
    pub writer_pid: Option<u32>,
    /// Every job, ordered by id.
    pub jobs: Vec<JobStatus>,
}

/// Collects the status of every job in `store` (a partitioned folder's jobs are partial until
/// every unit is mapped and every shard reduced; their steps have no writer to name).
pub fn status(store: &Reader) -> Result<StoreStatus> {
    let writer_pid = store.single().and_then(|s| s.writer_pid());
    let jobs = store
        .jobs()?
        .into_iter()
        .map(|meta| {
            let state = match (meta.state, writer_pid) {
                (JobState::Complete, _) => RunState::Complete,
                (JobState::Partial, Some(_)) => RunState::Running,
                (JobState::Partial, None) => RunState::Interrupted,
            };
            JobStatus { state, meta }
        })
        .collect();
    Ok(StoreStatus { path: store.path().display().to_string(), disk_bytes: store.disk_bytes(), writer_pid, jobs })
}

impl StoreStatus {
    /// Readable table.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{:<48} {:<11} {:>21} {:>8} {:>9} {:>11} {:>11}",
            "JOB", "STATE", "ROWS DONE/TOTAL", "FAILED", "NO SITE", "PRODUCTS", "UNIQUE"
        );
        for j in &self.jobs {
            let (m, c) = (&j.meta, &j.meta.counters);
            let state = format!("{:?}", j.state).to_lowercase();
            let rows = format!("{}/{}", m.offset, m.input.rows);
            let _ = writeln!(
                s,
                "{:<48} {:<11} {:>21} {:>8} {:>9} {:>11} {:>11}",
                m.id,
                state,
                rows,
                c.failed_total(),
                c.no_site,
                c.site_products,
                c.unique_products
            );
            let reasons = c.failed.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ");
            let _ = writeln!(
                s,
                "    input {} (column {}), rule {} [{}], unsanitizable products {}, masked sites {}, failed: {}, {:.1} s busy",
                m.input.path,
                m.input.smiles_column,
                m.rule.name,
                m.rule.smirks,
                c.product_failed,
                c.masked_sites,
                if reasons.is_empty() { "none".into() } else { reasons },
                m.busy_secs
            );
        }
        let writer =
            self.writer_pid.map(|p| format!("ingest running as pid {p}")).unwrap_or_else(|| "no writer".into());
        let _ = writeln!(
            s,
            "store {}: {} job(s), {:.1} MiB on disk, {writer}",
            self.path,
            self.jobs.len(),
            self.disk_bytes as f64 / (1 << 20) as f64
        );
        s
    }
}
