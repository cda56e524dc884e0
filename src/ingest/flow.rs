//! Flow control between the feeder (reads and transforms batches) and the writer (commits):
//! batches sized by the bytes their products hold, a bound on bytes in flight, and back-pressure
//! on the process's RSS. See [`crate::budget`] for how the budget is shared.
//!
//! - Unit: bytes as [`crate::budget::product_in_flight_bytes`] counts them, from the SMILES
//!   lengths of each chunk's actual products. Counting products instead would let RSS follow
//!   molecule size: a 57-OH tannin's product holds ~5x a flavonoid's.
//! - Batch size: a batch is built from chunks of rows transformed in parallel, until it holds the
//!   target bytes (or the most rows allowed). Chunks are sized from an estimate of bytes per
//!   row (the higher of the last chunk's ratio and a moving average, so a rising skew is
//!   followed at once and a falling one slowly) to fill half of what the batch still needs.
//!   An estimate cannot see the rows ahead (heavy rows right after light ones), so a chunk also
//!   stops taking rows once it holds what the batch still needs
//!   ([`super::batch::Chunk::transform_within`]): a batch overshoots its target by one row per
//!   thread at most.
//! - In flight: before preparing a batch the feeder waits until the bytes prepared but not yet
//!   committed leave room for one more batch. A batch is never refused when nothing is in flight,
//!   so a single huge row cannot deadlock the pipeline.
//! - Molecules: with properties computed for new products only, a chunk keeps each product's
//!   molecule (pickled) until it is folded: chunks are also sized so these fit in the budget's
//!   share for them ([`MemoryBudget::molecule_bytes`]). They are freed at the fold, so they do
//!   not count against the batch (counted there, they halved the batches and made the feeder
//!   wait for the writer: -20% products/s measured on the wide stream).
//! - RSS: the writer samples RSS after every commit, and the feeder after every chunk of the
//!   batch it builds. Above 90% of the budget (the high-water mark), the batch being built ends
//!   there (a batch of heavy rows grows RSS by more than its counted bytes: molecules, RDKit
//!   and allocator working sets), the feeder waits for the pipeline to drain and the batch
//!   target halves (down to 1/64); below 75% it grows back. Sampled after commits only, RSS
//!   was seen too late: on a campaign's 390-job store, whose open column families hold ~225
//!   MiB at 256 MiB, 26 one-second samples passed the budget in one stream (265.3 MiB peak).
//! - Poison: when the writer stops (an error, a panic, or the end of input), it poisons the
//!   flow and wakes the feeder, so a feeder waiting for room that will never come (the writer
//!   died with batches in flight) returns at once instead of hanging (fjall's `poison.rs`).

use std::sync::{Condvar, Mutex, MutexGuard};

use crate::budget::{MemoryBudget, RssMeter};

/// Most rows of one chunk per rayon thread. A chunk ends when its slowest row does, so each
/// thread idles about half a row per chunk: with 128 rows per thread, under 0.5% of the time.
pub(crate) const CHUNK_ROWS_PER_THREAD: usize = 128;

/// Smallest batch target, as a fraction of the budget's: 1/64.
const MIN_SCALE_SHIFT: u32 = 6;

struct State {
    in_flight: u64,
    /// Batch target = budget target >> scale_shift.
    scale_shift: u32,
    over_budget: bool,
    last_rss: u64,
    /// Batches that waited for the pipeline to drain because RSS was over the budget.
    throttled: u64,
    /// The writer is gone: nothing in flight will ever be committed.
    poisoned: bool,
}

/// Shared by the feeder and the writer of one ingest run.
pub(super) struct Flow {
    budget: MemoryBudget,
    max_rows: usize,
    state: Mutex<State>,
    drained: Condvar,
    meter: Mutex<RssMeter>,
}

/// Feeder-side estimate of in-flight bytes per input row, to size the chunks a batch is built
/// from.
pub(super) struct Sizer {
    per_row: f64,
    /// Bytes per row of the product molecules a chunk keeps for properties until it is folded.
    mols_per_row: f64,
    last_rows: usize,
}

impl Flow {
    pub(super) fn new(budget: MemoryBudget, max_rows: usize) -> Self {
        Self {
            budget,
            max_rows: max_rows.max(1),
            state: Mutex::new(State {
                in_flight: 0,
                scale_shift: 0,
                over_budget: false,
                last_rss: 0,
                throttled: 0,
                poisoned: false,
            }),
            drained: Condvar::new(),
            meter: Mutex::new(RssMeter::new()),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Bytes the next batch should hold (the budget's target, scaled down under pressure).
    fn batch_target(&self, st: &State) -> u64 {
        (self.budget.batch_bytes() >> st.scale_shift).max(16 << 10)
    }

    /// Blocks until there is room for another batch; returns the bytes it should hold, or None
    /// once the flow is poisoned (the writer is gone: stop feeding).
    pub(super) fn wait_for_room(&self) -> Option<u64> {
        let mut st = self.state();
        if st.over_budget {
            st.throttled += 1;
            st = self.drained.wait_while(st, |s| s.in_flight > 0 && !s.poisoned).unwrap_or_else(|e| e.into_inner());
            st.over_budget = false;
        }
        let target = self.batch_target(&st);
        let limit = self.budget.in_flight_bytes();
        st = self
            .drained
            .wait_while(st, |s| s.in_flight > 0 && s.in_flight + target > limit && !s.poisoned)
            .unwrap_or_else(|e| e.into_inner());
        (!st.poisoned).then(|| self.batch_target(&st))
    }

    /// The writer is gone (failed, panicked or finished): wakes and stops the feeder.
    pub(super) fn poison(&self) {
        self.state().poisoned = true;
        self.drained.notify_all();
    }

    /// Bytes the product molecules of one chunk, kept for properties until it is folded, may
    /// hold.
    pub(super) fn mol_room(&self) -> u64 {
        self.budget.molecule_bytes()
    }

    /// Most rows in one batch.
    pub(super) fn max_rows(&self) -> usize {
        self.max_rows
    }

    /// The feeder prepared a batch holding `bytes`: in flight until [`Flow::committed`].
    pub(super) fn prepared(&self, bytes: u64) {
        self.state().in_flight += bytes;
    }

    /// The writer committed a batch holding `bytes`; samples RSS and adjusts the batch target.
    pub(super) fn committed(&self, bytes: u64) {
        self.committed_at(bytes, self.sample_rss());
    }

    /// RSS now (over the budget when the `budget.rss` failpoint says so).
    fn sample_rss(&self) -> u64 {
        let rss = self.meter.lock().unwrap_or_else(|e| e.into_inner()).sample().unwrap_or(0);
        if crate::failpoint::hit("budget.rss") {
            return self.budget.bytes() + 1;
        }
        rss
    }

    fn committed_at(&self, bytes: u64, rss: u64) {
        let mut st = self.state();
        st.in_flight = st.in_flight.saturating_sub(bytes);
        st.last_rss = rss;
        if rss > self.high_water() {
            st.over_budget = true;
            st.scale_shift = (st.scale_shift + 1).min(MIN_SCALE_SHIFT);
        } else if rss < self.budget.bytes() / 4 * 3 && st.scale_shift > 0 {
            st.scale_shift -= 1;
        }
        drop(st);
        self.drained.notify_all();
    }

    /// The feeder's check after each chunk: true (end the batch here) when RSS is above the
    /// high-water mark; the next batch then waits for the pipeline to drain, at half the size.
    pub(super) fn pressed(&self) -> bool {
        self.pressed_at(self.sample_rss())
    }

    fn pressed_at(&self, rss: u64) -> bool {
        if rss <= self.high_water() {
            return false;
        }
        let mut st = self.state();
        if !st.over_budget {
            st.over_budget = true;
            st.scale_shift = (st.scale_shift + 1).min(MIN_SCALE_SHIFT);
        }
        true
    }

    /// RSS above which batches end early and shrink: 90% of the budget.
    fn high_water(&self) -> u64 {
        self.budget.bytes() / 10 * 9
    }

    /// RSS at the last commit, in bytes.
    pub(super) fn last_rss(&self) -> u64 {
        self.state().last_rss
    }

    /// Peak RSS of the process so far, in bytes.
    pub(super) fn peak_rss(&self) -> u64 {
        self.meter.lock().unwrap_or_else(|e| e.into_inner()).peak()
    }

    pub(super) fn throttled(&self) -> u64 {
        self.state().throttled
    }
}

impl Sizer {
    /// Starts from 8 KiB per row (8 flavonoid products): the first batch is small and the
    /// estimate adapts.
    pub(super) fn new() -> Self {
        Self { per_row: 8192.0, mols_per_row: 0.0, last_rows: 0 }
    }

    /// Rows of the next chunk, when the batch still needs `remaining` bytes: enough to
    /// fill about half of them, at most twice the previous chunk and at most
    /// [`CHUNK_ROWS_PER_THREAD`] per thread (a long run of rows without sites must not make the
    /// next chunk swallow the heavy rows that follow), at least 32 rows (the cores need rows to
    /// share); and few enough that the product molecules it keeps for properties fit in
    /// `mol_room` bytes (down to one row per thread).
    pub(super) fn chunk_rows(&self, remaining: u64, mol_room: u64) -> usize {
        let want = (remaining as f64 / 2.0 / self.per_row.max(1e-3)) as usize;
        let grow = if self.last_rows == 0 { usize::MAX } else { 2 * self.last_rows };
        let threads = rayon::current_num_threads();
        let rows = want.min(grow).min(CHUNK_ROWS_PER_THREAD * threads).max(32);
        let mols = (mol_room as f64 / self.mols_per_row.max(1e-3)) as usize;
        rows.min(mols.max(threads))
    }

    /// Learns from a prepared chunk of `rows` rows that holds `bytes` until committed and
    /// `mol_bytes` of product molecules until folded.
    pub(super) fn observe(&mut self, rows: usize, bytes: u64, mol_bytes: u64) {
        if rows == 0 {
            return;
        }
        self.last_rows = rows;
        let follow = |estimate: f64, ratio: f64| ratio.max(0.5 * estimate + 0.5 * ratio);
        self.per_row = follow(self.per_row, bytes as f64 / rows as f64);
        self.mols_per_row = follow(self.mols_per_row, mol_bytes as f64 / rows as f64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_shrink_as_bytes_per_row_grow_and_grow_slowly() {
        const KIB: u64 = 1024;
        let need = 32 << 20; // the batch target at a 1 GiB budget
        let mut sizer = Sizer::new();
        sizer.observe(100, 100 * 8 * KIB, 0); // flavonoids: 8 products of ~1 KiB
        let light = sizer.chunk_rows(need, u64::MAX);
        assert!(light > 100 && light <= 200, "{light}"); // at most twice the previous chunk
        sizer.observe(10_000, 0, 0);
        assert!(sizer.chunk_rows(need, u64::MAX) <= CHUNK_ROWS_PER_THREAD * rayon::current_num_threads());
        let tannin = 57 * 5 * KIB; // 57 sites of ~5 KiB each
        sizer.observe(100, 100 * tannin, 0);
        let heavy = sizer.chunk_rows(need, u64::MAX);
        assert!(heavy as u64 * tannin <= need / 2 + tannin, "{heavy}");
        sizer.observe(heavy, 0, 0); // a stretch without sites
        assert!(sizer.chunk_rows(need, u64::MAX) <= 2 * heavy);
        assert_eq!(sizer.chunk_rows(0, u64::MAX), 32);
    }

    #[test]
    fn chunks_keep_their_molecules_within_the_room() {
        const KIB: u64 = 1024;
        let mut sizer = Sizer::new();
        // 12 rules x 50 sites of 2 KiB pickles per row: 1.2 MiB of molecules per row
        sizer.observe(32, 32 * 600 * KIB, 32 * 1200 * KIB);
        let room = 32 << 20;
        let rows = sizer.chunk_rows(u64::MAX / 4, room);
        assert!(rows as u64 * 1200 * KIB <= room, "{rows}");
        assert!(rows >= rayon::current_num_threads());
        // rows without molecules (properties off) are not limited by the room
        let mut plain = Sizer::new();
        plain.observe(32, 32 * 600 * KIB, 0);
        assert!(plain.chunk_rows(u64::MAX / 4, room) >= 32);
    }

    #[test]
    fn in_flight_bytes_are_bounded() {
        let budget = MemoryBudget::new(256 << 20).unwrap();
        let flow = std::sync::Arc::new(Flow::new(budget, 4096));
        flow.prepared(budget.in_flight_bytes()); // pipeline full
        let f = flow.clone();
        let waiter = std::thread::spawn(move || f.wait_for_room());
        std::thread::sleep(std::time::Duration::from_millis(100));
        assert!(!waiter.is_finished(), "feeder must wait while the pipeline is full");
        flow.committed(budget.in_flight_bytes());
        assert_eq!(waiter.join().unwrap(), Some(budget.batch_bytes()));
    }

    #[test]
    fn a_poisoned_flow_releases_a_waiting_feeder() {
        let budget = MemoryBudget::new(256 << 20).unwrap();
        for over_budget in [false, true] {
            let flow = std::sync::Arc::new(Flow::new(budget, 4096));
            flow.prepared(budget.in_flight_bytes()); // pipeline full ...
            if over_budget {
                flow.prepared(1);
                flow.committed_at(1, budget.bytes() + 1); // ... and RSS over the budget
            }
            let f = flow.clone();
            let waiter = std::thread::spawn(move || f.wait_for_room());
            std::thread::sleep(std::time::Duration::from_millis(100));
            assert!(!waiter.is_finished(), "feeder must wait while the pipeline is full");
            flow.poison(); // the writer died with batches in flight: they will never commit
            let started = std::time::Instant::now();
            assert_eq!(waiter.join().unwrap(), None);
            assert!(started.elapsed().as_secs() < 2);
            assert_eq!(flow.wait_for_room(), None, "stays poisoned");
        }
    }

    #[test]
    fn over_budget_drains_and_shrinks_batches() {
        let budget = MemoryBudget::new(256 << 20).unwrap();
        let flow = Flow::new(budget, 1 << 20);
        let normal = flow.wait_for_room().unwrap();
        flow.prepared(500 << 10);
        flow.committed_at(500 << 10, budget.bytes() + 1);
        let squeezed = flow.wait_for_room().unwrap();
        assert_eq!(flow.throttled(), 1);
        assert_eq!(squeezed * 2, normal);
        flow.committed_at(0, budget.bytes() / 2);
        assert_eq!(flow.wait_for_room(), Some(normal));
    }

    #[test]
    fn a_batch_ends_when_rss_nears_the_budget() {
        let budget = MemoryBudget::new(256 << 20).unwrap();
        let flow = Flow::new(budget, 1 << 20);
        let normal = flow.wait_for_room().unwrap();
        assert!(!flow.pressed_at(budget.bytes() / 10 * 9), "at the high-water mark: go on");
        assert!(flow.pressed_at(budget.bytes() / 10 * 9 + 1));
        assert!(flow.pressed_at(budget.bytes()), "still pressed, shrunk once per batch");
        assert_eq!(flow.wait_for_room().unwrap() * 2, normal);
        assert_eq!(flow.throttled(), 1);
        // between 75% and 90% the target holds; below 75% it grows back
        flow.committed_at(0, budget.bytes() / 10 * 8);
        assert_eq!(flow.wait_for_room().unwrap() * 2, normal);
        flow.committed_at(0, budget.bytes() / 2);
        assert_eq!(flow.wait_for_room(), Some(normal));
    }
}
