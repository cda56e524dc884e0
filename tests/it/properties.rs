//! Property tests on random REAL molecules (the 22k natural products + the sample): for any
//! molecule and any rule, every product parses, differs from its parent, and its canonical
//! SMILES is a fixed point of re-canonicalization (so `query` finds what `ingest` stored).

use std::sync::OnceLock;

use arrow_array::cast::AsArray;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use proptest::prelude::*;
use xfstore::{canonicalize, transform, RuleSet, SiteOutcome};

fn molecules() -> &'static Vec<String> {
    static MOLS: OnceLock<Vec<String>> = OnceLock::new();
    MOLS.get_or_init(|| {
        let mut out = Vec::new();
        for f in ["tests/data/natural_products_22k.parquet", "tests/data/sample.parquet"] {
            let file = std::fs::File::open(crate::common::root().join(f)).unwrap();
            for b in ParquetRecordBatchReaderBuilder::try_new(file).unwrap().build().unwrap() {
                let b = b.unwrap();
                out.extend(b.column_by_name("smiles").unwrap().as_string::<i32>().iter().flatten().map(str::to_owned));
            }
        }
        out
    })
}

fn rules() -> &'static RuleSet {
    static RULES: OnceLock<RuleSet> = OnceLock::new();
    RULES.get_or_init(|| RuleSet::builtin().unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn products_are_new_parseable_and_canonical(mol in 0usize..24_991, rule in 0usize..64) {
        let mols = molecules();
        let set = rules();
        let smiles = &mols[mol % mols.len()];
        let rule = &set.rules()[rule % set.rules().len()];
        let Ok(parent) = canonicalize(smiles) else { return Ok(()) };
        let out = transform(Some(smiles), &[rule], false).expect("parsable parent");
        for site in &out[0] {
            if let SiteOutcome::Product { smiles: p, .. } = site {
                prop_assert_ne!(p, &parent, "product equals parent for {}", rule.def.name);
                let again = canonicalize(p);
                prop_assert!(again.is_ok(), "product {} of {} does not parse", p, smiles);
                prop_assert_eq!(&again.unwrap(), p, "not a canonical fixed point");
            }
        }
    }
}
