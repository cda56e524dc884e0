//! Which products of a batch are new to the store, decided before the writer, exactly.
//!
//! Why: the writer is one thread; if it reads every key before writing (the previous path), its
//! reads cap the whole ingest (~134k products/s measured on MOSES), however many cores
//! transform. Deciding novelty here, on the feeder side and with RocksDB's concurrent reads,
//! lets the writer write blind (`store/merge.rs`), and tells the feeder which products need
//! properties at all (only new ones).
//!
//! A product new to its batch is new to the store unless (a) it is in the store, or (b) an
//! earlier batch that is prepared but not yet committed made it new. (a) is a batched multi-get;
//! for (b) each sealed batch keeps the set of keys it found new, until the writer reports the
//! batch committed. Race-free because the committed count is read BEFORE the store is: a batch
//! counted as committed is visible to the read, and one not yet counted is still in its set.

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::Result;
use crate::store::Store;

/// The feeder's novelty state for one run.
pub struct Novelty<'a> {
    /// Job ids, in job order.
    jobs: Vec<String>,
    /// Batches the writer has committed (it counts them in commit order, from 1).
    committed: &'a AtomicU64,
    /// Sealed batches not known to be committed: (sequence number, per job the keys it found
    /// new).
    in_flight: VecDeque<(u64, Vec<HashSet<Box<str>>>)>,
    /// The batch being assembled: per job, the keys found new so far.
    current: Vec<HashSet<Box<str>>>,
    /// Sequence number of the batch being assembled.
    seq: u64,
}

impl<'a> Novelty<'a> {
    /// A fresh state for `jobs`, whose writer counts its commits in `committed`.
    pub fn new(jobs: Vec<String>, committed: &'a AtomicU64) -> Self {
        let current = jobs.iter().map(|_| HashSet::new()).collect();
        Self { jobs, committed, in_flight: VecDeque::new(), current, seq: 1 }
    }

    /// Classifies `keys` (distinct, each new to the batch being assembled) of job `job`: true
    /// for the ones new to the store.
    pub fn classify(&mut self, store: &Store, job: usize, keys: &[&str]) -> Result<Vec<bool>> {
        // first the committed count, then the store read (see the module docs)
        let done = self.committed.load(Ordering::Acquire);
        while self.in_flight.front().is_some_and(|(s, _)| *s <= done) {
            self.in_flight.pop_front();
        }
        let mut verdicts = vec![true; keys.len()];
        let mut ask = Vec::with_capacity(keys.len());
        let mut ask_at = Vec::with_capacity(keys.len());
        for (i, key) in keys.iter().enumerate() {
            if self.in_flight.iter().any(|(_, sets)| sets[job].contains(*key)) {
                verdicts[i] = false;
            } else {
                ask.push(*key);
                ask_at.push(i);
            }
        }
        for (at, found) in ask_at.into_iter().zip(store.contains_products(&self.jobs[job], &ask)?) {
            verdicts[at] = !found;
        }
        let current = &mut self.current[job];
        current.extend(keys.iter().zip(&verdicts).filter(|(_, novel)| **novel).map(|(k, _)| Box::from(*k)));
        Ok(verdicts)
    }

    /// Keys of job `job` classified new in the batch being assembled that it will not write (a
    /// property filter dropped them): new again if they come back.
    pub fn forget(&mut self, job: usize, keys: &[String]) {
        for k in keys {
            self.current[job].remove(k.as_str());
        }
    }

    /// The batch being assembled is complete and goes to the writer as batch `seq`.
    pub fn seal(&mut self) {
        let sets = std::mem::replace(&mut self.current, self.jobs.iter().map(|_| HashSet::new()).collect());
        self.in_flight.push_back((self.seq, sets));
        self.seq += 1;
    }
}
