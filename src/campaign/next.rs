//! What the next `xfstore run` of a campaign will do, before it does it (`run --check`,
//! `status --campaign`): per job, nothing, the whole input, the rest after a stop, only the
//! rows appended since, a redo (its upstream changed) or a refusal (changed otherwise than by
//! growth). Read-only: the same comparisons ingest makes when it opens a job
//! ([`crate::ingest::job::compare`]), and the same rule `run` applies to chained streams (a
//! stream whose upstream jobs only grow or resume reads the upstream keys new since; one whose
//! upstream jobs are made or redone is redone from row 0). `tests/it/campaign.rs` checks each
//! prediction against what the run then did.

use std::collections::BTreeSet;

use serde::Serialize;

use super::{rule_hash, stream_options, upstream_changed, Campaign, RunOptions, Stream, StreamSource};
use crate::error::Result;
use crate::ingest::job::{compare, grows_from, Compared};
use crate::ingest::IngestPlan;
use crate::rules::RuleSet;
use crate::store::{JobState, ReadOnlyStore, UpstreamRead};

/// What the next run does with one job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
#[non_exhaustive]
pub enum JobNext {
    /// Complete and made from its input and rule as they are now: nothing.
    Done,
    /// Not made yet: every row of its input (None: not known before its upstream runs).
    New {
        /// Rows of its input now.
        rows: Option<u64>,
    },
    /// Stopped (killed, `--max-rows`, Ctrl-C) before the end: the rows after its offset.
    Resume {
        /// Rows committed.
        from: u64,
        /// Rows of its input.
        rows: u64,
    },
    /// Its input grew since it was made (rows appended, parts added; proven): the new rows only.
    Grow {
        /// Rows it was made from.
        from: u64,
        /// Rows of its input now.
        rows: u64,
    },
    /// Its upstream jobs grow in this run: the upstream keys new since it read them, once they
    /// are made.
    GrowUpstream {
        /// Rows (upstream keys) it was made from.
        from: u64,
    },
    /// Redone from row 0.
    Redo {
        /// Why.
        why: String,
    },
    /// Changed otherwise than by growth: the run stops here (`--redo-changed` redoes it).
    Changed {
        /// The input, its columns or the rule definition.
        what: String,
        /// Was and is now.
        detail: String,
    },
}

impl JobNext {
    /// Whether the run computes anything for this job.
    pub fn has_work(&self) -> bool {
        *self != JobNext::Done
    }
}

/// What the next run does with one stream: per job, in rule order.
#[derive(Debug, Clone, Serialize)]
pub struct StreamNext {
    /// The stream's key.
    pub stream: String,
    /// Its jobs.
    pub jobs: Vec<NextJob>,
}

/// One job of [`StreamNext`].
#[derive(Debug, Clone, Serialize)]
pub struct NextJob {
    /// Job id.
    pub job: String,
    /// What happens to it.
    #[serde(flatten)]
    pub next: JobNext,
}

/// What `run` (with `opts`' `redo_changed`) would do with every stream of `c` in `store`
/// (None: no store yet, every job new).
pub fn next_run(
    store: Option<&ReadOnlyStore>,
    rules: &RuleSet,
    c: &Campaign,
    opts: &RunOptions,
) -> Result<Vec<StreamNext>> {
    // streams with work in this run, and those of them with jobs redone (a new `born`: the
    // streams reading them are redone)
    let mut working: BTreeSet<String> = BTreeSet::new();
    let mut renewed: BTreeSet<String> = BTreeSet::new();
    let mut out = Vec::with_capacity(c.streams.len());
    for s in &c.streams {
        let jobs = match store {
            Some(store) => stream_next(store, rules, c, s, opts, (&working, &renewed))?,
            None => {
                let rows = match &s.source {
                    StreamSource::File { .. } => {
                        Some(IngestPlan::new(rules, stream_options(c, s, opts))?.input().info().rows)
                    }
                    StreamSource::Stream { .. } => None,
                };
                s.jobs().into_iter().map(|id| (id, JobNext::New { rows })).collect()
            }
        };
        if jobs.iter().any(|(_, n): &(String, JobNext)| n.has_work()) {
            working.insert(s.key.clone());
        }
        // a redone job gets a new `born` (the streams reading it are redone); a new job leaves
        // the others as they are (the streams reading them read its keys in full)
        if jobs.iter().any(|(_, n)| matches!(n, JobNext::Redo { .. } | JobNext::Changed { .. })) {
            renewed.insert(s.key.clone());
        }
        let jobs = jobs.into_iter().map(|(job, next)| NextJob { job, next }).collect();
        out.push(StreamNext { stream: s.key.clone(), jobs });
    }
    Ok(out)
}

fn stream_next(
    store: &ReadOnlyStore,
    rules: &RuleSet,
    c: &Campaign,
    s: &Stream,
    opts: &RunOptions,
    (working, renewed): (&BTreeSet<String>, &BTreeSet<String>),
) -> Result<Vec<(String, JobNext)>> {
    let ids = s.jobs();
    let mut metas = Vec::with_capacity(ids.len());
    for id in &ids {
        metas.push(store.job(id)?);
    }
    if let StreamSource::Stream { key: upstream, jobs: up_jobs } = &s.source {
        let why = if renewed.contains(upstream) {
            Some(format!("its upstream {upstream} is redone in this run"))
        } else if upstream_changed(store, s)? {
            Some(format!("its upstream {upstream} changed since it was made"))
        } else {
            None
        };
        if let Some(why) = why {
            // run restarts the whole stream: made jobs are redone, missing ones made
            let next = |m: &Option<_>| match m {
                Some(_) => JobNext::Redo { why: why.clone() },
                None => JobNext::New { rows: None },
            };
            return Ok(ids.into_iter().zip(metas.iter().map(next)).collect());
        }
        if working.contains(upstream) {
            // the upstream jobs grow or resume (their `born` stays): each job reads the keys
            // new since, if it can (else it is redone), once they are made
            let mut reads = Vec::with_capacity(up_jobs.len());
            for id in up_jobs {
                // a job not made yet is made in this run: new to every job reading it
                reads.push(match store.job(id)? {
                    Some(m) => UpstreamRead::from(&m),
                    None => UpstreamRead { job: id.clone(), born: u64::MAX, version: 0 },
                });
            }
            let mut out = Vec::with_capacity(ids.len());
            for ((id, meta), name) in ids.into_iter().zip(metas).zip(&s.rules) {
                let next = match meta {
                    None => JobNext::New { rows: None },
                    Some(m) if m.rule.hash != rule_hash(rules, s, name)? => {
                        changed("the rule definition", format!("smirks was {:?}", m.rule.smirks), opts)
                    }
                    Some(m) if grows_from(&m, &reads) => JobNext::GrowUpstream { from: m.input.rows },
                    Some(_) => JobNext::Redo { why: format!("its upstream {upstream} changed since it was made") },
                };
                out.push((id, next));
            }
            return Ok(out);
        }
        let now = super::upstream_now(store, up_jobs)?;
        if metas.iter().all(|m| m.as_ref().is_some_and(|m| Some(m.input.footer_hash) == now)) {
            // the upstream is as the jobs recorded it: no need to scan it for its rows
            let mut out = Vec::with_capacity(ids.len());
            for ((id, meta), name) in ids.into_iter().zip(metas.into_iter().flatten()).zip(&s.rules) {
                let next = if meta.rule.hash != rule_hash(rules, s, name)? {
                    let detail = format!("smirks was {:?}", meta.rule.smirks);
                    changed("the rule definition", detail, opts)
                } else if meta.state == JobState::Complete {
                    JobNext::Done
                } else {
                    JobNext::Resume { from: meta.offset, rows: meta.input.rows }
                };
                out.push((id, next));
            }
            return Ok(out);
        }
    }
    let plan = IngestPlan::new_in(rules, stream_options(c, s, opts), store)?;
    let (input, rows) = (plan.input(), plan.input().info().rows);
    let mut out = Vec::with_capacity(ids.len());
    for ((id, meta), rule) in ids.into_iter().zip(metas).zip(plan.rules()) {
        let next = match meta {
            None => JobNext::New { rows: Some(rows) },
            Some(m) => match compare(store, &m, input, rule)? {
                Compared::Same if m.state == JobState::Complete || m.offset >= rows => JobNext::Done,
                Compared::Same => JobNext::Resume { from: m.offset, rows },
                Compared::Grown { .. } => JobNext::Grow { from: m.input.rows, rows },
                Compared::Changed { what, detail } => changed(what, detail, opts),
            },
        };
        out.push((id, next));
    }
    Ok(out)
}

/// A job changed otherwise than by growth: redone with `--redo-changed`, else the run stops.
fn changed(what: &str, detail: String, opts: &RunOptions) -> JobNext {
    if opts.redo_changed {
        JobNext::Redo { why: format!("{what} changed since it was made ({detail})") }
    } else {
        JobNext::Changed { what: what.into(), detail }
    }
}

impl StreamNext {
    /// One line: the stream and what happens to its jobs, grouped (`x1.poly: 4 job(s) grow:
    /// 3 new row(s) (9 -> 12)`).
    pub fn summary(&self) -> String {
        let mut parts: Vec<(String, usize)> = Vec::new();
        for j in &self.jobs {
            let text = match &j.next {
                JobNext::Done => "done".to_owned(),
                JobNext::New { rows: Some(r) } => format!("new, {r} row(s)"),
                JobNext::New { rows: None } => "new, rows once its upstream has run".to_owned(),
                JobNext::Resume { from, rows } => format!("resume at row {from} of {rows}"),
                JobNext::Grow { from, rows } => format!("grow: {} new row(s) ({from} -> {rows})", rows - from),
                JobNext::GrowUpstream { from } => {
                    format!("grow: the upstream products new since its {from} row(s), once made")
                }
                JobNext::Redo { why } => format!("redo from row 0: {why}"),
                JobNext::Changed { what, detail } => {
                    format!("CHANGED: {what} ({detail}); the run stops here unless --redo-changed")
                }
            };
            match parts.iter_mut().find(|(t, _)| *t == text) {
                Some((_, k)) => *k += 1,
                None => parts.push((text, 1)),
            }
        }
        let parts: Vec<String> = parts.into_iter().map(|(t, k)| format!("{k} job(s) {t}")).collect();
        format!("{}: {}", self.stream, parts.join("; "))
    }
}
