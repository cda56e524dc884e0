//! The memory budget: one number (`--memory-budget`, default 1 GiB) divided among everything
//! that holds memory, and the process's resident set size (RSS) as seen by the OS.
//!
//! | share | holder |
//! |---|---|
//! | 1/8 | RocksDB block cache (data, index and filter blocks) |
//! | 1/8 | RocksDB memtables, all column families together (write-buffer manager) |
//! | 1/4 | work in flight: products transformed and not yet committed ([`MemoryBudget::in_flight_bytes`]) |
//! | 1/8 | export: one Parquet row group being encoded ([`MemoryBudget::row_group_bytes`]) |
//! | 1/8 | product molecules kept (pickled) for properties until their chunk is folded ([`MemoryBudget::molecule_bytes`]) |
//! | rest | RDKit and rayon working sets, RocksDB table readers (at most [`MemoryBudget::open_files`], ~1/10) and compaction, allocator slack |
//!
//! A writer first takes what its store's column families hold whatever it does
//! ([`FAMILY_BYTES`] each: 53 MiB for the natural campaign's 428) off the top
//! ([`MemoryBudget::for_families`]): the shares above are of what is left, the RSS marks stay
//! at the whole budget.
//!
//! Products, not rows, are what grow: one polyphenol row with 57 phenolic OH yields 57 products
//! per rule, and a tannin's products are SMILES of 500+ characters where a flavonoid's are 60.
//! Ingest therefore sizes each batch by the bytes its products hold ([`product_in_flight_bytes`]: SMILES
//! lengths counted as they are made, adapting to the rows it sees) and bounds the bytes waiting
//! for the writer. The RSS watch is a second line of defence: above the budget, ingest drains the
//! pipeline and shrinks batches instead of growing ([`crate::ingest`]).

use std::str::FromStr;

/// Fixed bytes one product costs while in flight, besides its SMILES: the `String` and `Vec`
/// headers and site atoms of its transform outcome and record, its slot in the batch's dedup
/// index, its WriteBatch entry, allocator rounding.
pub const PRODUCT_FIXED_BYTES: u64 = 512;
/// Copies of a product's SMILES held while in flight: transform outcome, dedup-index key,
/// record key, WriteBatch key, and the lineage key of its parent link built at commit (the
/// link itself is counted with the parent).
pub const PRODUCT_SMILES_COPIES: u64 = 5;
/// Copies of the parent's SMILES per product: the record, its encoding in the WriteBatch, the
/// (canonical parent, product) link and its lineage key (links by product, `store/schema.rs`).
pub const PARENT_SMILES_COPIES: u64 = 4;
/// Fixed bytes one input row costs while in flight (its outcome), whether it yields or not.
pub const ROW_FIXED_BYTES: u64 = 64;

/// Bytes one product of `product_len` SMILES bytes, made from a parent of `parent_len` SMILES
/// bytes, holds while in flight. With flavonoid-sized SMILES (~60 characters) this is ~1 KiB;
/// a 57-OH tannin's product (~600 characters, same parent length) holds ~5.8 KiB.
pub fn product_in_flight_bytes(product_len: usize, parent_len: usize) -> u64 {
    PRODUCT_FIXED_BYTES + PRODUCT_SMILES_COPIES * product_len as u64 + PARENT_SMILES_COPIES * parent_len as u64
}

/// Bytes one product molecule kept for its properties holds until its chunk is folded: its
/// RDKit pickle and the box around it. (Kept live, as before, a natural product's molecule held
/// ~40-60 KiB of atoms, bonds, property dictionaries and rings that no count saw: 1.45 GiB at any
/// budget on 150 molecules. The pickle is ~1/30 of that.)
pub fn pickled_bytes(mol: &crate::chem::PickledMol) -> u64 {
    mol.len() as u64 + 32
}

/// The smallest budget accepted: below this, the fixed costs (RDKit, RocksDB, thread stacks)
/// leave nothing to divide.
pub const MIN_BUDGET: u64 = 256 << 20;

/// RocksDB memory one column family holds whenever a store is open for writing, read or not:
/// its table cache, blob-file cache, internal statistics and memtable (heaptrack: ~75 KiB
/// with glibc), and in xfstore's writer ~110-150 KiB measured from outside (writer open of a
/// 390-job campaign store: 132.7 MiB with 814 families, 107.9 MiB with 428, 43.8 MiB fresh).
/// A store has one family per job, one per input and two more.
pub const FAMILY_BYTES: u64 = 128 << 10;

/// What a writing process holds before any family: RDKit, the rule set, thread stacks, the
/// pipeline's smallest batches (a writer on a fresh store: 43.8 MiB).
pub const PROCESS_BASE_BYTES: u64 = 64 << 20;

/// A memory budget in bytes, and how it is shared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryBudget {
    bytes: u64,
    /// Taken off the top before the shares: the fixed memory of a writer's column families
    /// ([`MemoryBudget::for_families`]).
    reserved: u64,
}

impl Default for MemoryBudget {
    fn default() -> Self {
        Self { bytes: 1 << 30, reserved: 0 }
    }
}

impl MemoryBudget {
    /// A budget of `bytes`; at least [`MIN_BUDGET`].
    pub fn new(bytes: u64) -> Result<Self, String> {
        if bytes < MIN_BUDGET {
            return Err(format!("memory budget {} is below the minimum of {}", human(bytes), human(MIN_BUDGET)));
        }
        Ok(Self { bytes, reserved: 0 })
    }

    /// The budget in bytes.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The smallest budget a writer of a store of `families` column families runs within: its
    /// fixed holders ([`PROCESS_BASE_BYTES`], [`FAMILY_BYTES`] per family) must fit in what the
    /// budget's RSS mark (90%) leaves beside the block cache and memtables (1/4); never below
    /// [`MIN_BUDGET`]. The minimum up to 819 families (the natural campaign's 390 jobs make
    /// 428), 291 MiB for 1,000.
    pub fn least_for_families(families: usize) -> u64 {
        let fixed = PROCESS_BASE_BYTES + FAMILY_BYTES * families as u64;
        // fixed <= 0.9 B - 0.25 B
        (fixed * 20).div_ceil(13).max(MIN_BUDGET)
    }

    /// Refuses a budget a writer of a store of `families` column families cannot keep (see
    /// [`MemoryBudget::least_for_families`]): a clear error before any work, never a run over
    /// the budget.
    pub fn check_families(&self, families: usize) -> Result<(), String> {
        let least = Self::least_for_families(families);
        if self.bytes >= least {
            return Ok(());
        }
        Err(format!(
            "memory budget {} is below what a store of {families} column families needs to be written \
             (one per job: ~{} KiB of RocksDB memory each, whether read or not): at least {}; raise \
             --memory-budget or split the work into several stores",
            human(self.bytes),
            FAMILY_BYTES >> 10,
            human(least.next_multiple_of(16 << 20))
        ))
    }

    /// This budget as a writer of a store of `families` column families keeps it: refused below
    /// [`MemoryBudget::least_for_families`]; otherwise their fixed memory ([`FAMILY_BYTES`]
    /// each) is taken off the top and the shares (block cache, in flight, molecules, row
    /// groups) are of the rest, while [`MemoryBudget::bytes`] (the RSS marks) stays the whole
    /// budget. Without it a campaign's writer held its 428 families (53 MiB) beside full shares
    /// of 256 MiB: 267 MiB at the heaviest stream.
    pub fn for_families(self, families: usize) -> Result<Self, String> {
        self.check_families(families)?;
        Ok(Self { reserved: FAMILY_BYTES * families as u64, ..self })
    }

    /// What the shares divide: the budget less what [`MemoryBudget::for_families`] reserved.
    fn shared(&self) -> u64 {
        self.bytes - self.reserved
    }

    /// RocksDB block cache: 1/8.
    pub fn block_cache_bytes(&self) -> usize {
        to_usize(self.shared() / 8)
    }

    /// RocksDB memtables of all column families together: 1/8 (fixed when the store opens: the
    /// default write path bulk-loads table files, its memtables hold a few MiB).
    pub fn write_buffer_bytes(&self) -> usize {
        to_usize(self.shared() / 8)
    }

    /// Bytes of work allowed in flight (products transformed, not yet committed, as counted by
    /// [`product_in_flight_bytes`]): 1/4.
    pub fn in_flight_bytes(&self) -> u64 {
        self.shared() / 4
    }

    /// Bytes one ingest batch aims at: a quarter of those in flight, at most 32 MiB (about
    /// 32,000 flavonoid products, ~8 s of work on two cores; larger batches do not go faster, they
    /// only checkpoint less), at least 1 MiB.
    pub fn batch_bytes(&self) -> u64 {
        (self.in_flight_bytes() / 4).clamp(1 << 20, 32 << 20)
    }

    /// Table files a store opened for reading keeps open (RocksDB's table cache; a writer keeps
    /// at most 512): one per 128 KiB of the budget,
    /// 2,048 at 256 MiB and 8,192 at 1 GiB. An open table costs ~12 KiB (its reader, properties
    /// and pinned top-level index and filter; opening all 1,487 files of a 283-job store added
    /// 17 MiB), so at most ~1/10 of the budget. Too few, and a lookup across many jobs reopens
    /// tables (footer, properties, index) at every probe: with 512, that store answered 92
    /// lookups/s; with room for all its files, 1,106/s.
    pub fn open_files(&self) -> usize {
        to_usize(self.bytes / (128 << 10))
    }

    /// Product molecules one chunk keeps for properties until it is folded ([`pickled_bytes`]
    /// each): 1/8.
    pub fn molecule_bytes(&self) -> u64 {
        self.shared() / 8
    }

    /// Export: bytes of one Parquet row group being encoded before it is flushed: 1/8.
    pub fn row_group_bytes(&self) -> usize {
        to_usize(self.shared() / 8)
    }
}

impl FromStr for MemoryBudget {
    type Err = String;

    /// Parses `1GiB`, `512MiB`, `2G`, `800M`, `1.5GiB` or a plain number of bytes.
    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim();
        let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
        let (num, unit) = t.split_at(split);
        let num: f64 = num.parse().map_err(|_| format!("not a size: {s:?} (try 1GiB, 512MiB)"))?;
        let scale: u64 = match unit.trim().to_ascii_lowercase().as_str() {
            "" | "b" => 1,
            "k" | "kb" | "kib" => 1 << 10,
            "m" | "mb" | "mib" => 1 << 20,
            "g" | "gb" | "gib" => 1 << 30,
            "t" | "tb" | "tib" => 1 << 40,
            other => return Err(format!("unknown size unit {other:?} in {s:?} (use KiB, MiB, GiB)")),
        };
        Self::new((num * scale as f64) as u64)
    }
}

impl std::fmt::Display for MemoryBudget {
    /// The shortest exact spelling that [`MemoryBudget::from_str`] reads back: `1GiB`,
    /// `768MiB`, or plain bytes.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.bytes {
            b if b % (1 << 30) == 0 => write!(f, "{}GiB", b >> 30),
            b if b % (1 << 20) == 0 => write!(f, "{}MiB", b >> 20),
            b => write!(f, "{b}"),
        }
    }
}

fn to_usize(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// `1.5 GiB`, `300 MiB`.
pub fn human(bytes: u64) -> String {
    let b = bytes as f64;
    if b >= (1u64 << 30) as f64 {
        format!("{:.2} GiB", b / (1u64 << 30) as f64)
    } else {
        format!("{:.0} MiB", b / (1u64 << 20) as f64)
    }
}

/// Watches this process's resident set size. Both the current RSS (`VmRSS`) and the kernel's
/// exact high-water mark (`VmHWM`) come from one read of `/proc/self/status`: one way to read
/// memory for the whole crate (sysinfo, used before, cannot give the high-water mark).
#[derive(Debug, Default)]
pub struct RssMeter {
    peak: u64,
}

impl RssMeter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Current RSS in bytes (None where /proc is not available); updates the sampled peak.
    pub fn sample(&mut self) -> Option<u64> {
        let (rss, _) = proc_status()?;
        self.peak = self.peak.max(rss);
        Some(rss)
    }

    /// Highest RSS of the process so far: the kernel's high-water mark where available
    /// (VmHWM, exact), else the highest sample.
    pub fn peak(&self) -> u64 {
        proc_status().map_or(0, |(_, hwm)| hwm).max(self.peak)
    }
}

/// Peak RSS of this process so far, in bytes (for a summary line at the end of a command).
pub fn peak_rss() -> u64 {
    RssMeter::new().peak()
}

/// (VmRSS, VmHWM) of this process from /proc/self/status (Linux), in bytes.
fn proc_status() -> Option<(u64, u64)> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib = |key: &str| -> Option<u64> {
        let line = status.lines().find(|l| l.starts_with(key))?;
        line.split_whitespace().nth(1)?.parse::<u64>().ok().map(|k| k * 1024)
    };
    let rss = kib("VmRSS:")?;
    Some((rss, kib("VmHWM:").unwrap_or(rss)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_reads_back() {
        for text in ["1GiB", "768MiB", "300000001"] {
            let b: MemoryBudget = text.parse().unwrap();
            assert_eq!(b.to_string(), text);
            assert_eq!(b.to_string().parse::<MemoryBudget>().unwrap(), b);
        }
        assert_eq!(MemoryBudget::default().to_string(), "1GiB");
    }

    #[test]
    fn parses_sizes() {
        assert_eq!("1GiB".parse::<MemoryBudget>().unwrap().bytes(), 1 << 30);
        assert_eq!("512MiB".parse::<MemoryBudget>().unwrap().bytes(), 512 << 20);
        assert_eq!("1.5G".parse::<MemoryBudget>().unwrap().bytes(), 3 << 29);
        assert_eq!("300000000".parse::<MemoryBudget>().unwrap().bytes(), 300_000_000);
        assert!("12 parsecs".parse::<MemoryBudget>().is_err());
        assert!("1MiB".parse::<MemoryBudget>().unwrap_err().contains("below the minimum"));
    }

    #[test]
    fn a_store_of_many_families_needs_more_than_the_minimum() {
        assert_eq!(MemoryBudget::least_for_families(428), MIN_BUDGET);
        assert_eq!(MemoryBudget::least_for_families(819), MIN_BUDGET);
        assert!(MemoryBudget::least_for_families(820) > MIN_BUDGET);
        assert_eq!(MemoryBudget::least_for_families(1000) >> 20, 290);
        let b = MemoryBudget::new(256 << 20).unwrap();
        assert!(b.check_families(428).is_ok());
        let err = b.check_families(1000).unwrap_err();
        assert!(err.contains("1000 column families") && err.contains("at least 304 MiB"), "{err}");
        assert!(MemoryBudget::new(304 << 20).unwrap().check_families(1000).is_ok());
    }

    #[test]
    fn shares_fit_in_the_budget() {
        for bytes in [MIN_BUDGET, 1 << 30, 8 << 30] {
            let b = MemoryBudget::new(bytes).unwrap();
            let shares = b.block_cache_bytes() as u64
                + b.write_buffer_bytes() as u64
                + b.in_flight_bytes()
                + b.row_group_bytes() as u64
                + b.molecule_bytes();
            assert!(shares <= bytes * 6 / 8, "{bytes}: {shares}");
            assert!(b.batch_bytes() <= b.in_flight_bytes());
        }
    }

    #[test]
    fn a_writers_families_come_off_the_top() {
        let b = MemoryBudget::new(256 << 20).unwrap();
        let w = b.for_families(428).unwrap();
        assert_eq!(w.bytes(), b.bytes(), "the RSS marks stay the whole budget");
        let families = FAMILY_BYTES * 428;
        let shares = |b: &MemoryBudget| b.block_cache_bytes() as u64 + b.in_flight_bytes() + b.molecule_bytes();
        assert_eq!(shares(&w), shares(&b) - families / 2);
        assert_eq!(w.in_flight_bytes(), (b.bytes() - families) / 4);
        assert!(b.for_families(1000).unwrap_err().contains("at least 304 MiB"));
        assert_eq!(b.for_families(0).unwrap(), b);
    }

    #[test]
    fn in_flight_cost_follows_smiles_length() {
        let flavonoid = product_in_flight_bytes(60, 60);
        assert!((900..=1100).contains(&flavonoid), "{flavonoid}");
        assert!(product_in_flight_bytes(600, 600) > 5 * flavonoid);
    }

    #[test]
    fn meter_sees_this_process() {
        let mut m = RssMeter::new();
        let rss = m.sample().expect("/proc/self/status gives RSS on Linux");
        assert!(rss > 1 << 20 && m.peak() >= rss);
    }
}
