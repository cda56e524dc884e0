//! Chemistry: safe wrappers over RDKit (parse, canonical SMILES, SMARTS match, reactions).
//!
//! All FFI is in [`ffi`]; this module and its children are 100% safe Rust. The semantics follow
//! RDKit's Python defaults so `python3-rdkit` can serve as the reference oracle:
//! `Molecule::from_smiles` = `Chem.MolFromSmiles`, `Molecule::to_smiles` = `Chem.MolToSmiles`,
//! `Reaction::run` = `rxn.RunReactants((mol,))` followed by `Chem.SanitizeMol` on each product.

mod ffi;
mod reaction;

use std::sync::Once;

pub use ffi::bridge::MolProps;
pub use reaction::{Pattern, Reaction, SiteOutcome};

use crate::error::ChemError;

static SILENCE: Once = Once::new();

/// Turns off RDKit's own stderr logging: failures are reported through typed errors instead.
pub(crate) fn init() {
    SILENCE.call_once(ffi::bridge::silence_logs);
}

/// The version string of the linked RDKit (e.g. `2022.09.3`).
pub fn rdkit_version() -> String {
    ffi::bridge::rdkit_version()
}

/// One RDKit molecule, owned by the current thread (it is `Send`, not `Sync`).
pub struct Molecule {
    inner: cxx::UniquePtr<ffi::bridge::Molecule>,
}

impl Molecule {
    /// Parses and sanitizes a SMILES (Kekulé or aromatic), perceiving aromaticity and stereo.
    pub fn from_smiles(smiles: &str) -> Result<Self, ChemError> {
        init();
        if smiles.trim().is_empty() {
            return Err(ChemError::Parse { smiles: smiles.to_owned(), reason: "empty SMILES".into() });
        }
        let mut status = ffi::bridge::ParseStatus { kind: 0, message: String::new() };
        let inner =
            ffi::bridge::mol_from_smiles(smiles, &mut status).map_err(|e| ChemError::Rdkit(e.what().to_owned()))?;
        match status.kind {
            0 if !inner.is_null() => Ok(Self { inner }),
            2 => Err(ChemError::Sanitize { smiles: smiles.to_owned(), reason: status.message }),
            _ => Err(ChemError::Parse { smiles: smiles.to_owned(), reason: status.message }),
        }
    }

    /// Canonical isomeric SMILES.
    pub fn to_smiles(&self) -> Result<String, ChemError> {
        ffi::bridge::mol_to_smiles(self.as_ref()).map_err(|e| ChemError::Rdkit(e.what().to_owned()))
    }

    /// MW, TPSA, HBD, HBA, cLogP, RotB.
    pub fn props(&self) -> Result<MolProps, ChemError> {
        ffi::bridge::mol_props(self.as_ref()).map_err(|e| ChemError::Rdkit(e.what().to_owned()))
    }

    /// Number of (heavy, implicit-H) atoms.
    pub fn num_atoms(&self) -> u32 {
        ffi::bridge::mol_num_atoms(self.as_ref())
    }

    fn as_ref(&self) -> &ffi::bridge::Molecule {
        // `from_smiles` never builds a Molecule around a null pointer.
        self.inner.as_ref().expect("non-null molecule")
    }
}

/// Canonicalizes any SMILES spelling (the same settings used for product keys).
pub fn canonicalize(smiles: &str) -> Result<String, ChemError> {
    Molecule::from_smiles(smiles)?.to_smiles()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kekule_and_aromatic_spellings_agree() {
        assert_eq!(canonicalize("C1=CC=C(C=C1)O").unwrap(), "Oc1ccccc1");
        assert_eq!(canonicalize("c1ccccc1O").unwrap(), "Oc1ccccc1");
    }

    #[test]
    fn stereo_is_kept() {
        assert_eq!(canonicalize("C[C@H](N)C(=O)O").unwrap(), "C[C@H](N)C(=O)O");
    }

    #[test]
    fn bad_input_is_a_typed_error() {
        assert!(matches!(Molecule::from_smiles("C1CC"), Err(ChemError::Parse { .. })));
        assert!(matches!(Molecule::from_smiles("not a smiles"), Err(ChemError::Parse { .. })));
        assert!(matches!(Molecule::from_smiles(""), Err(ChemError::Parse { .. })));
        match Molecule::from_smiles("C(C)(C)(C)(C)C") {
            Err(ChemError::Sanitize { reason, .. }) => {
                assert!(reason.contains("valence"), "{reason}")
            }
            other => panic!("expected sanitize error, got {:?}", other.map(|_| ())),
        }
        assert!(matches!(Molecule::from_smiles("c1cccc1"), Err(ChemError::Sanitize { .. })));
    }

    #[test]
    fn properties_of_phenol() {
        let p = Molecule::from_smiles("Oc1ccccc1").unwrap().props().unwrap();
        assert!((p.mw - 94.113).abs() < 0.01, "{p:?}");
        assert!((p.tpsa - 20.23).abs() < 0.01, "{p:?}");
        assert_eq!((p.hbd, p.hba, p.rotb), (1, 1, 0));
        assert!((p.clogp - 1.3922).abs() < 0.001, "{p:?}");
    }

    #[test]
    fn version_is_debian_rdkit() {
        assert!(rdkit_version().starts_with("20"), "{}", rdkit_version());
    }
}
