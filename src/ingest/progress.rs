//! Progress reporting: an indicatif bar on a terminal; otherwise (logs, pipes) one plain line
//! per minute. Both show rows, products and the process's RSS against the memory budget.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::budget::{human, MemoryBudget};
use crate::store::StoreMemory;

/// Interval of the plain progress lines when stderr is not a terminal.
const PLAIN_EVERY: Duration = Duration::from_secs(60);

pub(super) struct Progress {
    bar: Option<ProgressBar>,
    /// Plain mode: (start, last line printed, rows at start).
    plain: Option<Mutex<(Instant, Instant, u64)>>,
    total: u64,
    budget: MemoryBudget,
}

impl Progress {
    pub(super) fn new(enabled: bool, total_rows: u64, start: u64, budget: MemoryBudget) -> Self {
        let terminal = std::io::stderr().is_terminal();
        let bar = (enabled && terminal).then(|| {
            let bar = ProgressBar::with_draw_target(Some(total_rows), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(
                    "{elapsed_precise} [{bar:40}] {pos}/{len} rows ({per_sec}, eta {eta}) {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            bar.set_position(start);
            bar
        });
        let now = Instant::now();
        let plain = (enabled && !terminal).then(|| Mutex::new((now, now, start)));
        Self { bar, plain, total: total_rows, budget }
    }

    /// Shows `row` and `products`; a plain line also names what RocksDB holds (`holders`, read
    /// only when a line is printed: it sums properties over every family), so a timeline of a
    /// long run tells which holder grew.
    pub(super) fn advance(&self, row: u64, products: u64, rss: u64, holders: impl FnOnce() -> StoreMemory) {
        let memory = format!("RSS {} of {}", human(rss), human(self.budget.bytes()));
        if let Some(bar) = &self.bar {
            bar.set_position(row);
            bar.set_message(format!("{products} products, {memory}"));
        }
        if let Some(plain) = &self.plain {
            let mut p = plain.lock().unwrap_or_else(|e| e.into_inner());
            if p.1.elapsed() >= PLAIN_EVERY {
                p.1 = Instant::now();
                let secs = p.0.elapsed().as_secs_f64().max(1e-9);
                let h = holders();
                eprintln!(
                    "progress: row {row} of {} ({:.0} rows/s), {products} products ({:.0}/s), {memory}; \
                     rocksdb: block cache {} ({} pinned), memtables {}, table readers {}",
                    self.total,
                    (row - p.2) as f64 / secs,
                    products as f64 / secs,
                    human(h.block_cache),
                    human(h.pinned),
                    human(h.memtables),
                    human(h.table_readers)
                );
            }
        }
    }

    pub(super) fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
