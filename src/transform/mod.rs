//! One input molecule through a set of rules: parse once, run every rule, one outcome per
//! matched site. Pure chemistry, no storage; safe to call from many threads at once.

use crate::chem::{count_heavy_atoms, Molecule, PickledMol, PropsMode, SiteOutcome};
use crate::error::ChemError;
use crate::rules::Rule;

/// Why an input row produced nothing at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reject {
    /// The SMILES cell is null.
    NullSmiles,
    /// The SMILES does not parse.
    Parse(String),
    /// The SMILES parses but RDKit cannot sanitize the molecule.
    Sanitize(String),
    /// RDKit raised an unexpected error on this molecule.
    Rdkit(String),
    /// The reader could not make a row of this record (a CSV record with too few or too many
    /// fields, a line that is not UTF-8).
    Malformed(String),
    /// A record (a line, an SDF record, a CSV record) longer than the reader's limit: not
    /// read whole; the detail gives its length, the xxh3 of its bytes and its first bytes.
    RecordTooLarge(String),
    /// More heavy atoms than [`RowOptions::max_heavy_atoms`]: not parsed at all.
    TooLarge {
        /// Heavy atoms counted from the SMILES text.
        atoms: usize,
        /// The limit in force.
        limit: u32,
    },
}

/// Default for [`RowOptions::max_heavy_atoms`]. The largest real natural products have ~270 heavy
/// atoms (SMILES of ~700 characters). RDKit parses a linear chain of 270 atoms in 0.015 s, 500 in
/// 0.06 s, 1,000 in 0.5 s, 2,000 in 4.2 s, 3,000 in 20 s and 5,000 in ~78 s (same in Python).
pub const DEFAULT_MAX_HEAVY_ATOMS: u32 = 1000;

/// How one row is transformed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowOptions {
    /// Compute MW, TPSA, HBD, HBA, cLogP, RotB for each product.
    pub with_props: bool,
    /// Canonicalize the parent too (for the parent -> products index).
    pub canonical_parent: bool,
    /// Rows with more heavy atoms than this (counted from the SMILES text, before parsing)
    /// are rejected as `too_large`.
    pub max_heavy_atoms: u32,
}

impl Default for RowOptions {
    fn default() -> Self {
        Self { with_props: true, canonical_parent: false, max_heavy_atoms: DEFAULT_MAX_HEAVY_ATOMS }
    }
}

impl Reject {
    /// Stable reason key used in counters and rejects files.
    pub fn key(&self) -> &'static str {
        match self {
            Reject::NullSmiles => "null_smiles",
            Reject::Parse(_) => "parse_error",
            Reject::Sanitize(_) => "sanitize_error",
            Reject::Rdkit(_) => "rdkit_error",
            Reject::TooLarge { .. } | Reject::RecordTooLarge(_) => "too_large",
            Reject::Malformed(_) => "malformed_record",
        }
    }

    /// Human-readable detail.
    pub fn detail(&self) -> String {
        match self {
            Reject::NullSmiles => "SMILES is null".into(),
            Reject::Parse(s)
            | Reject::Sanitize(s)
            | Reject::Rdkit(s)
            | Reject::Malformed(s)
            | Reject::RecordTooLarge(s) => s.clone(),
            Reject::TooLarge { atoms, limit } => {
                format!("{atoms} heavy atoms, over the limit of {limit} (--max-heavy-atoms); not parsed")
            }
        }
    }
}

/// The outcome of one input row: a rejection, or per rule (same order as given) the outcome
/// of every matched site.
pub type RowOutcome = Result<Vec<Vec<SiteOutcome>>, Reject>;

/// A transformed row.
#[derive(Debug, Clone, PartialEq)]
pub struct Transformed {
    /// Canonical SMILES of the parent, when asked for (parent -> products index) and the row
    /// yielded at least one product.
    pub canonical_parent: Option<String>,
    /// Per rule, the outcome of every matched site.
    pub per_rule: Vec<Vec<SiteOutcome>>,
    /// Per rule, the matches its sugar mask excluded (0 for unmasked rules).
    pub masked: Vec<u32>,
}

impl Transformed {
    /// Products (one per parent x site) over all rules; unsanitizable sites do not count.
    pub fn products(&self) -> u64 {
        self.per_rule.iter().flatten().filter(|s| matches!(s, SiteOutcome::Product { .. })).count() as u64
    }
}

/// Transforms one input SMILES with each of `rules` ([`RowOptions`] defaults otherwise).
pub fn transform(smiles: Option<&str>, rules: &[&Rule], with_props: bool) -> RowOutcome {
    transform_row(smiles, rules, &RowOptions { with_props, ..RowOptions::default() }).map(|t| t.per_rule)
}

/// Transforms one input SMILES with each of `rules`, optionally canonicalizing the parent.
pub fn transform_row(smiles: Option<&str>, rules: &[&Rule], opts: &RowOptions) -> Result<Transformed, Reject> {
    let mode = if opts.with_props { PropsMode::Now } else { PropsMode::None };
    transform_row_with(smiles, rules, opts, mode).map(|(t, _)| t)
}

/// Per rule, per site: the product molecule kept (pickled) for properties computed later.
pub(crate) type RowMols = Vec<Vec<Option<PickledMol>>>;

/// As [`transform_row`], with the properties computed as `mode` says (`opts.with_props` is
/// ignored); with [`PropsMode::Later`] the product molecules come back beside the outcome.
pub(crate) fn transform_row_with(
    smiles: Option<&str>,
    rules: &[&Rule],
    opts: &RowOptions,
    mode: PropsMode,
) -> Result<(Transformed, RowMols), Reject> {
    let smiles = smiles.ok_or(Reject::NullSmiles)?;
    let atoms = count_heavy_atoms(smiles);
    if atoms > opts.max_heavy_atoms as usize {
        return Err(Reject::TooLarge { atoms, limit: opts.max_heavy_atoms });
    }
    let mol = Molecule::from_smiles(smiles).map_err(|e| match e {
        ChemError::Parse { reason, .. } => Reject::Parse(reason),
        ChemError::Sanitize { reason, .. } => Reject::Sanitize(reason),
        other => Reject::Rdkit(other.to_string()),
    })?;
    let rdkit = |e: ChemError| Reject::Rdkit(e.to_string());
    // the sugar mask, computed once per row when a rule asks for it
    let mask = if rules.iter().any(|r| r.sugar_mask) { mol.sugar_mask().map_err(rdkit)? } else { Vec::new() };
    let mut out = Transformed {
        canonical_parent: None,
        per_rule: Vec::with_capacity(rules.len()),
        masked: Vec::with_capacity(rules.len()),
    };
    let mut mols = Vec::new();
    for rule in rules {
        let masked_atoms: &[u32] = if rule.sugar_mask { &mask } else { &[] };
        let run = rule.reaction.run_with(&mol, rule.max_sites, mode, masked_atoms).map_err(rdkit)?;
        out.per_rule.push(run.sites);
        out.masked.push(run.masked);
        if mode == PropsMode::Later {
            mols.push(run.mols);
        }
    }
    // The parent's canonical SMILES only serves the parent -> products links: skip the
    // canonicalization (a full canonical ranking) for rows that yielded no product.
    if opts.canonical_parent && out.products() > 0 {
        out.canonical_parent = Some(mol.to_smiles().map_err(|e| Reject::Rdkit(e.to_string()))?);
    }
    Ok((out, mols))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::RuleSet;

    #[test]
    fn rows_are_classified() {
        let set = RuleSet::builtin().unwrap();
        let ome = set.get("FG_PHENOL_OH__OH__TO__OMe").unwrap();
        let ester = set.get("FG_CARBOXYL__COOH__TO__COOMe").unwrap();
        let rules = [ome, ester];
        assert_eq!(transform(None, &rules, false), Err(Reject::NullSmiles));
        assert_eq!(transform(Some("C1CC"), &rules, false).unwrap_err().key(), "parse_error");
        assert_eq!(transform(Some("c1cccc1"), &rules, false).unwrap_err().key(), "sanitize_error");
        // 4-hydroxybenzoic acid: one phenolic site, one acid site
        let out = transform(Some("OC(=O)c1ccc(O)cc1"), &rules, false).unwrap();
        let smiles = |v: &Vec<SiteOutcome>| -> Vec<String> {
            v.iter()
                .map(|o| match o {
                    SiteOutcome::Product { smiles, .. } => smiles.clone(),
                    other => panic!("{other:?}"),
                })
                .collect()
        };
        assert_eq!(smiles(&out[0]), vec!["COc1ccc(C(=O)O)cc1"]);
        assert_eq!(smiles(&out[1]), vec!["COC(=O)c1ccc(O)cc1"]);
        // no site at all is not a rejection
        assert_eq!(transform(Some("CCCC"), &rules, false).unwrap(), vec![vec![], vec![]]);
        // an embedded NUL is a parse error, not phenol
        assert_eq!(transform(Some("c1ccccc1O\0junk"), &rules, false).unwrap_err().key(), "parse_error");
    }

    #[test]
    fn rows_over_the_size_limit_are_rejected_before_parsing() {
        let set = RuleSet::builtin().unwrap();
        let rules = [set.get("FG_PHENOL_OH__OH__TO__OMe").unwrap()];
        // a 5,000-carbon chain: ~80 s in RDKit's parser; rejected at once
        let chain = "C".repeat(5000);
        let started = std::time::Instant::now();
        let r = transform_row(Some(&chain), &rules, &RowOptions::default()).unwrap_err();
        assert!(started.elapsed().as_secs_f64() < 0.5);
        assert_eq!(r, Reject::TooLarge { atoms: 5000, limit: DEFAULT_MAX_HEAVY_ATOMS });
        assert_eq!(r.key(), "too_large");
        let opts = RowOptions { max_heavy_atoms: 6, ..RowOptions::default() };
        assert_eq!(transform_row(Some("Oc1ccccc1"), &rules, &opts).unwrap_err().key(), "too_large");
        let opts = RowOptions { max_heavy_atoms: 7, ..RowOptions::default() };
        assert_eq!(transform_row(Some("Oc1ccccc1"), &rules, &opts).unwrap().products(), 1);
    }
}
