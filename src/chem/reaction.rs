//! Compiled reaction SMARTS and SMARTS patterns, shareable across threads.

use super::ffi::bridge;
use super::{init, MolProps, Molecule, PickledMol};
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

/// What [`Reaction::run_with`] returns.
pub struct RunOutput {
    /// One outcome per matched site, in RDKit's match order.
    pub sites: Vec<SiteOutcome>,
    /// Matches the mask excluded.
    pub masked: u32,
    /// With [`PropsMode::Later`], each site's product molecule, pickled (None for failed sites
    /// and for sites repeating an earlier site's product); else empty.
    pub mols: Vec<Option<PickledMol>>,
}

/// When a reaction run computes its products' properties.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum PropsMode {
    /// Never.
    None = 0,
    /// For every product, at once.
    Now = 1,
    /// Later, for the products the caller picks: the run hands back their molecules, pickled.
    Later = 2,
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
    /// `max_sites` = 0 means no cap; over the cap, the sites first in canonical atom rank are
    /// kept (see the module docs of [`crate::chem`]).
    pub fn run(&self, mol: &Molecule, max_sites: u32, with_props: bool) -> Result<Vec<SiteOutcome>, ChemError> {
        Ok(self.run_masked(mol, max_sites, with_props, &[])?.0)
    }

    /// As [`Reaction::run`], never matching a site that touches an atom of `masked` (atom
    /// indices, e.g. [`Molecule::sugar_mask`]); also returns how many matches that excluded.
    pub fn run_masked(
        &self,
        mol: &Molecule,
        max_sites: u32,
        with_props: bool,
        masked: &[u32],
    ) -> Result<(Vec<SiteOutcome>, u32), ChemError> {
        let mode = if with_props { PropsMode::Now } else { PropsMode::None };
        self.run_with(mol, max_sites, mode, masked).map(|r| (r.sites, r.masked))
    }

    /// As [`Reaction::run_masked`]; with [`PropsMode::Later`], also returns each product's
    /// molecule, pickled (None for failed sites and for a site whose product an earlier site of
    /// this run already made), on which [`PickledMol::props`] gives exactly the properties
    /// [`PropsMode::Now`] would have.
    pub fn run_with(
        &self,
        mol: &Molecule,
        max_sites: u32,
        mode: PropsMode,
        masked: &[u32],
    ) -> Result<RunOutput, ChemError> {
        let raw = bridge::reaction_run(self.as_ref(), mol_ref(mol), max_sites, mode as u8, masked)
            .map_err(|e| ChemError::Rdkit(e.what().to_owned()))?;
        let mut mols = Vec::new();
        let outcomes = raw
            .sites
            .into_iter()
            .map(|sp| {
                if mode == PropsMode::Later {
                    mols.push((!sp.pickle.is_empty()).then(|| PickledMol::new(sp.pickle)));
                }
                if sp.ok {
                    SiteOutcome::Product {
                        smiles: sp.smiles,
                        site_atoms: sp.site_atoms,
                        props: (mode == PropsMode::Now).then_some(sp.props),
                    }
                } else {
                    SiteOutcome::SanitizeFailed { site_atoms: sp.site_atoms, reason: sp.error }
                }
            })
            .collect();
        Ok(RunOutput { sites: outcomes, masked: raw.masked, mols })
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
    fn capped_sites_do_not_depend_on_how_the_smiles_is_written() {
        let rxn = Reaction::from_smarts("[cH:1]>>[c:1]Cl").unwrap();
        // 4-methylphenol written two ways: 4 aromatic C-H, 2 distinct products; a cap of 2
        // keeps the same two sites (the two C-H of lowest canonical rank) either way
        let sites = |smiles: &str| {
            let mol = Molecule::from_smiles(smiles).unwrap();
            let mut out: Vec<String> = rxn
                .run(&mol, 2, false)
                .unwrap()
                .into_iter()
                .map(|o| match o {
                    SiteOutcome::Product { smiles, .. } => smiles,
                    other => panic!("{other:?}"),
                })
                .collect();
            out.sort();
            out
        };
        let a = sites("Cc1ccc(O)cc1");
        assert_eq!(a.len(), 2);
        assert_eq!(a, sites("Oc1ccc(C)cc1"));
        assert_eq!(a, sites("c1cc(C)ccc1O"));
        // uncapped: all four, capped at 10: all four
        let mol = Molecule::from_smiles("Cc1ccc(O)cc1").unwrap();
        assert_eq!(rxn.run(&mol, 0, false).unwrap().len(), 4);
        assert_eq!(rxn.run(&mol, 10, false).unwrap().len(), 4);
    }

    #[test]
    fn sugar_rings_are_masked_and_counted() {
        let rsp3 = Reaction::from_smarts("[C;R;H1,H2:1]>>[C;R:1]Cl").unwrap();
        // salidroside-like: a glucoside of tyrosol, plus a cyclohexane on the aglycone side
        let glucoside =
            Molecule::from_smiles("OC[C@H]1O[C@@H](OCCc2ccc(C3CCCCC3)cc2)[C@H](O)[C@@H](O)[C@@H]1O").unwrap();
        let mask = glucoside.sugar_mask().unwrap();
        // 6 ring atoms + 4 ring-carbon oxygens (3 OH, glycosidic O) + C6 and its O
        assert_eq!(mask.len(), 12, "{mask:?}");
        let (all, none_masked) = rsp3.run_masked(&glucoside, 0, false, &[]).unwrap();
        let (kept, masked) = rsp3.run_masked(&glucoside, 0, false, &mask).unwrap();
        assert_eq!(none_masked, 0);
        // cyclohexyl: 1 CH + 5 CH2 = 6 sites kept; pyranose: 5 CH masked
        assert_eq!((kept.len(), masked), (6, 5));
        assert_eq!(all.len(), 11);
        // the molecule is unchanged afterwards: no protection left behind
        assert_eq!(rsp3.run(&glucoside, 0, false).unwrap().len(), 11);
        // not sugars: 1,8-cineole, a tetrahydropyran with one OH, a lactone, a dihydropyran
        for smiles in ["CC1(C)OC2(C)CCC1CC2", "OC1CCOCC1", "O=C1CCC(O)C(O)O1", "OC1C=COC(O)C1O"] {
            let mol = Molecule::from_smiles(smiles).unwrap();
            assert!(mol.sugar_mask().unwrap().is_empty(), "{smiles} is not a sugar");
        }
        // a furanose (ribose in a nucleoside-like glycoside) is one
        let riboside = Molecule::from_smiles("OC[C@H]1O[C@@H](Oc2ccccc2)[C@H](O)[C@@H]1O").unwrap();
        assert_eq!(riboside.sugar_mask().unwrap().len(), 5 + 3 + 2);
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

    #[test]
    fn pickled_products_give_the_same_properties_bit_for_bit_and_repeats_keep_nothing() {
        let rules = [
            "[c:1][OX2H:2]>>[c:1][O:2]C",
            "[cH:1]>>[c:1]Cl",
            "[C;R;H1,H2:1]>>[C;R:1]Br",
            "[CX3:1](=O)[OX2H1:2]>>[C:1](=O)[O:2]CC",
        ];
        let parents = [
            "Oc1cc(O)cc(O)c1",
            "O=C(O)/C=C/c1ccc(O)c(O)c1",
            "OC[C@H]1O[C@@H](Oc2cc(O)c3c(c2)O[C@H](c2ccc(O)c(O)c2)[C@@H](O)C3)[C@H](O)[C@@H](O)[C@@H]1O",
            "CC1(C)[C@@H]2CC[C@@]1(C)C(=O)C2",
            "CN1CC[C@]23c4c5ccc(O)c4O[C@H]2C(=O)CC[C@@]3(O)[C@H]1C5",
        ];
        let mut compared = 0;
        for smarts in rules {
            let rxn = Reaction::from_smarts(smarts).unwrap();
            for smiles in parents {
                let mol = Molecule::from_smiles(smiles).unwrap();
                let now = rxn.run_with(&mol, 0, PropsMode::Now, &[]).unwrap();
                let later = rxn.run_with(&mol, 0, PropsMode::Later, &[]).unwrap();
                assert_eq!(now.sites.len(), later.mols.len());
                let mut seen = std::collections::HashSet::new();
                for (site, (outcome, kept)) in now.sites.iter().zip(&later.mols).enumerate() {
                    let SiteOutcome::Product { smiles, props: Some(props), .. } = outcome else { continue };
                    let first = seen.insert(smiles.clone());
                    assert_eq!(kept.is_some(), first, "{smiles} at site {site}: kept only for its first site");
                    if let Some(p) = kept {
                        let q = p.props().unwrap();
                        // bit for bit, not approximately
                        assert_eq!(q.mw.to_bits(), props.mw.to_bits(), "{smiles}");
                        assert_eq!(q.tpsa.to_bits(), props.tpsa.to_bits(), "{smiles}");
                        assert_eq!(q.clogp.to_bits(), props.clogp.to_bits(), "{smiles}");
                        assert_eq!((q.hbd, q.hba, q.rotb), (props.hbd, props.hba, props.rotb), "{smiles}");
                        assert!(p.len() < 64 * smiles.len() + 256, "{smiles}: {} bytes", p.len());
                        compared += 1;
                    }
                }
            }
        }
        assert!(compared > 30, "{compared}");
    }
}
