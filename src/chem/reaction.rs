//! Compiled reaction SMARTS and SMARTS patterns, shareable across threads.

use super::ffi::bridge;
use super::{init, MolProps, Molecule};
use crate::error::ChemError;

/// A reaction SMARTS compiled once (`initReactantMatchers` done) and run per molecule.
pub struct Reaction {
    inner: cxx::UniquePtr<bridge::Reaction>,
}

/// What one matched site produced.
#[derive(Debug, Clone, PartialEq)]
pub enum SiteOutcome {
    /// A sanitized product.
    Product {
        /// Canonical SMILES of the product.
        smiles: String,
        /// Reactant atom indices of the mapped site atoms, ordered by atom-map number.
        site_atoms: Vec<u32>,
        /// Its properties, when asked for.
        props: Option<MolProps>,
    },
    /// RDKit could not sanitize the product of this site.
    SanitizeFailed {
        /// Reactant atom indices of the mapped site atoms.
        site_atoms: Vec<u32>,
        /// RDKit's message.
        reason: String,
    },
}

impl Reaction {
    /// Compiles a single-reactant, single-product reaction SMARTS.
    pub fn from_smarts(smarts: &str) -> Result<Self, ChemError> {
        init();
        check_nul(smarts)?;
        let inner = bridge::reaction_from_smarts(smarts)
            .map_err(|e| ChemError::Smarts { smarts: smarts.to_owned(), reason: e.what().to_owned() })?;
        let rxn = Self { inner };
        let (r, p) = (
            bridge::reaction_num_reactant_templates(rxn.as_ref()),
            bridge::reaction_num_product_templates(rxn.as_ref()),
        );
        if r != 1 || p != 1 {
            return Err(ChemError::Smarts {
                smarts: smarts.to_owned(),
                reason: format!("expected 1 reactant and 1 product template, found {r} and {p}"),
            });
        }
        Ok(rxn)
    }

    /// Runs the reaction on `mol`: one outcome per matched site, in RDKit's match order.
    /// `max_sites` = 0 means no cap.
    pub fn run(&self, mol: &Molecule, max_sites: u32, with_props: bool) -> Result<Vec<SiteOutcome>, ChemError> {
        let cap = if max_sites == 0 { u32::MAX } else { max_sites };
        let raw = bridge::reaction_run(self.as_ref(), mol_ref(mol), cap, with_props)
            .map_err(|e| ChemError::Rdkit(e.what().to_owned()))?;
        Ok(raw
            .into_iter()
            .map(|sp| {
                if sp.ok {
                    SiteOutcome::Product {
                        smiles: sp.smiles,
                        site_atoms: sp.site_atoms,
                        props: with_props.then_some(sp.props),
                    }
                } else {
                    SiteOutcome::SanitizeFailed { site_atoms: sp.site_atoms, reason: sp.error }
                }
            })
            .collect())
    }

    fn as_ref(&self) -> &bridge::Reaction {
        self.inner.as_ref().expect("non-null reaction")
    }
}

/// A compiled SMARTS query.
pub struct Pattern {
    inner: cxx::UniquePtr<bridge::Pattern>,
}

impl Pattern {
    pub fn from_smarts(smarts: &str) -> Result<Self, ChemError> {
        init();
        check_nul(smarts)?;
        let inner = bridge::pattern_from_smarts(smarts)
            .map_err(|e| ChemError::Smarts { smarts: smarts.to_owned(), reason: e.what().to_owned() })?;
        Ok(Self { inner })
    }

    /// Number of unique matches of the pattern in `mol`.
    pub fn count_matches(&self, mol: &Molecule) -> Result<u32, ChemError> {
        let p = self.inner.as_ref().expect("non-null pattern");
        bridge::pattern_count_matches(p, mol_ref(mol)).map_err(|e| ChemError::Rdkit(e.what().to_owned()))
    }
}

fn check_nul(smarts: &str) -> Result<(), ChemError> {
    match super::nul_position(smarts) {
        Some(at) => Err(ChemError::Smarts { smarts: smarts.to_owned(), reason: super::nul_reason(at) }),
        None => Ok(()),
    }
}

fn mol_ref(mol: &Molecule) -> &bridge::Molecule {
    mol.as_ref()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn products(rxn: &Reaction, smiles: &str) -> Vec<String> {
        let mol = Molecule::from_smiles(smiles).unwrap();
        rxn.run(&mol, 0, false)
            .unwrap()
            .into_iter()
            .filter_map(|o| match o {
                SiteOutcome::Product { smiles, .. } => Some(smiles),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn one_product_per_phenolic_site() {
        let rxn = Reaction::from_smarts("[c:1][OX2H:2]>>[c:1][O:2]C").unwrap();
        // catechol: two OH sites, symmetric -> same product twice
        assert_eq!(products(&rxn, "Oc1ccccc1O"), vec!["COc1ccccc1O", "COc1ccccc1O"]);
        // aliphatic OH is not phenolic
        assert!(products(&rxn, "OCCc1ccccc1").is_empty());
        // Kekulé input is perceived as aromatic
        assert_eq!(products(&rxn, "C1=CC=C(C=C1)O"), vec!["COc1ccccc1"]);
    }

    #[test]
    fn site_atoms_are_reactant_indices() {
        let rxn = Reaction::from_smarts("[c:1][OX2H:2]>>[c:1][O:2]C").unwrap();
        let mol = Molecule::from_smiles("Cc1ccc(O)cc1").unwrap();
        match &rxn.run(&mol, 0, true).unwrap()[..] {
            [SiteOutcome::Product { site_atoms, props: Some(p), .. }] => {
                assert_eq!(site_atoms, &vec![4, 5]);
                assert!(p.mw > 100.0);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn site_cap_is_applied() {
        let rxn = Reaction::from_smarts("[c:1][OX2H:2]>>[c:1][O:2]C").unwrap();
        let mol = Molecule::from_smiles("Oc1cc(O)cc(O)c1").unwrap();
        assert_eq!(rxn.run(&mol, 0, false).unwrap().len(), 3);
        assert_eq!(rxn.run(&mol, 2, false).unwrap().len(), 2);
    }

    #[test]
    fn bad_reaction_smarts_is_an_error() {
        assert!(Reaction::from_smarts("[c:1][OX2H:2]>>[c:1][O:2").is_err());
        assert!(Reaction::from_smarts("not a reaction").is_err());
        assert!(Reaction::from_smarts("[C:1].[O:2]>>[C:1][O:2]").is_err());
    }

    #[test]
    fn pattern_counts_sites() {
        let p = Pattern::from_smarts("[c][OX2H]").unwrap();
        let mol = Molecule::from_smiles("Oc1cc(O)cc(O)c1").unwrap();
        assert_eq!(p.count_matches(&mol).unwrap(), 3);
        assert!(Pattern::from_smarts("[c").is_err());
    }

    #[test]
    fn reaction_is_shareable_across_threads() {
        let rxn = Reaction::from_smarts("[c:1][OX2H:2]>>[c:1][O:2]C").unwrap();
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..50 {
                        assert_eq!(products(&rxn, "Oc1ccc(O)cc1").len(), 2);
                    }
                });
            }
        });
    }
}
