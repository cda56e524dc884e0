//! Fault injection for tests, in the spirit of TiKV's `fail` crate but with no build feature:
//! the same release binary the user runs is the one the tests break. Points are armed by the
//! environment variable `XFSTORE_FAILPOINTS`, read once:
//!
//! ```text
//! XFSTORE_FAILPOINTS="store.commit=error@3;budget.rss=on"
//! ```
//!
//! Each entry is `NAME=ACTION[@N]`: with `@N` the action fires on the Nth time the point is
//! reached (1-based) only, without it every time. Actions: `on`/`error` (the code at the point
//! fails or takes the injected branch), `abort` (the process aborts there, as a SIGKILL would
//! stop it), `panic`. Unset (every real run), a point costs one relaxed atomic load.
//!
//! Points: `store.commit` (the batch commit fails), `store.commit.ingested` (after a job's
//! products file is bulk-loaded, before the job records are written), `budget.rss` (RSS reads
//! as over the budget),
//! `store.restart.N` for N in 1..=3 (between the steps of `ingest --restart`, see
//! `store/write.rs`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// Name of the environment variable that arms the points.
pub const ENV: &str = "XFSTORE_FAILPOINTS";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Action {
    On,
    Abort,
    Panic,
}

struct Point {
    action: Action,
    nth: Option<u64>,
    hits: AtomicU64,
}

fn points() -> &'static HashMap<String, Point> {
    static POINTS: OnceLock<HashMap<String, Point>> = OnceLock::new();
    POINTS.get_or_init(|| std::env::var(ENV).map(|spec| parse(&spec)).unwrap_or_default())
}

fn parse(spec: &str) -> HashMap<String, Point> {
    let mut out = HashMap::new();
    for entry in spec.split(';').map(str::trim).filter(|e| !e.is_empty()) {
        let Some((name, rest)) = entry.split_once('=') else { continue };
        let (action, nth) = match rest.split_once('@') {
            Some((a, n)) => (a, n.trim().parse().ok()),
            None => (rest, None),
        };
        let action = match action.trim() {
            "on" | "error" => Action::On,
            "abort" => Action::Abort,
            "panic" => Action::Panic,
            _ => continue,
        };
        out.insert(name.trim().to_owned(), Point { action, nth, hits: AtomicU64::new(0) });
    }
    out
}

/// Reached point `name`: true when an `on`/`error` action fires here (the caller then takes
/// the failing branch); aborts or panics the process for those actions.
pub(crate) fn hit(name: &str) -> bool {
    let points = points();
    if points.is_empty() {
        return false;
    }
    let Some(p) = points.get(name) else { return false };
    let n = p.hits.fetch_add(1, Ordering::Relaxed) + 1;
    if p.nth.is_some_and(|nth| nth != n) {
        return false;
    }
    match p.action {
        Action::On => true,
        Action::Abort => std::process::abort(),
        Action::Panic => panic!("failpoint {name} (hit {n})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_parses() {
        let p = parse("store.commit=error@3; budget.rss=on;bad;x=unknown");
        assert_eq!(p.len(), 2);
        assert!(p["store.commit"].action == Action::On && p["store.commit"].nth == Some(3));
        assert!(p["budget.rss"].nth.is_none());
    }
}
