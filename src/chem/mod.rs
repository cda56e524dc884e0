//! Chemistry: safe wrappers over RDKit (parse, canonical SMILES, SMARTS match, reactions).
//!
//! All FFI is in [`ffi`]; this module and its children are 100% safe Rust. The semantics follow
//! RDKit's Python defaults so `python3-rdkit` can serve as the reference oracle:
//! `Molecule::from_smiles` = `Chem.MolFromSmiles`, `Molecule::to_smiles` = `Chem.MolToSmiles`,
//! `Reaction::run` = `rxn.RunReactants((mol,))` followed by `Chem.SanitizeMol` on each product.
//!
//! **Site caps.** Over a rule's cap, the sites kept are those whose mapped atoms come first in
//! RDKit's canonical atom ranking (`Chem.CanonicalRankAtoms(mol, breakTies=True)`, compared as
//! the list of ranks in map-number order; equal lists keep match order), transformed in match
//! order. The ranking is a property of the molecule, so the same molecule written as another
//! SMILES keeps the same sites; RDKit's own `maxProducts` keeps the first N matches in atom
//! order, which depends on how the SMILES was written.
//!
//! **Sugar mask** ([`Molecule::sugar_mask`]). A *sugar ring* is a 5- or 6-membered ring of
//! single bonds whose atoms are carbons and exactly one oxygen, every ring carbon sp3 (so no
//! lactones, no unsaturated or aromatic rings) and at least two ring carbons bearing an
//! exocyclic single-bonded oxygen (hydroxyl, glycosidic or ester oxygen). Pyranoses and
//! furanoses, deoxy sugars included, qualify; a tetrahydropyran or -furan in a terpenoid or
//! lignan (none or one oxygen substituent), 1,8-cineole, lactones and pyranones do not. The
//! *mask* is every sugar ring, the oxygens and nitrogens single-bonded to its carbons (so the
//! glycosidic oxygen) and each acyclic sp3 carbon on a ring carbon that bears an oxygen (C6 of a
//! hexopyranose) with that oxygen. A masked rule never matches a site that touches the mask
//! (RDKit's `_protected` atom property, which its reaction runner honours for every atom of a
//! match); such matches are counted as masked sites.

#[allow(unsafe_code)] // the crate's one FFI module: see the SAFETY notes in it
mod ffi;
mod reaction;

use std::sync::Once;

pub use ffi::bridge::MolProps;
pub use reaction::{Pattern, PropsMode, Reaction, SiteOutcome};

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
        if let Some(at) = nul_position(smiles) {
            return Err(ChemError::Parse { smiles: smiles.to_owned(), reason: nul_reason(at) });
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

    /// Parses and sanitizes a molblock (V2000 or V3000) as `Chem.MolFromMolBlock` and
    /// `Chem.SDMolSupplier` do by default (sanitize, remove Hs, stereo from wedges or 3D).
    pub fn from_molblock(block: &str) -> Result<Self, ChemError> {
        init();
        let short = || block.lines().next().unwrap_or_default().to_owned();
        if let Some(at) = nul_position(block) {
            return Err(ChemError::Parse { smiles: short(), reason: nul_reason(at) });
        }
        let mut status = ffi::bridge::ParseStatus { kind: 0, message: String::new() };
        let inner =
            ffi::bridge::mol_from_molblock(block, &mut status).map_err(|e| ChemError::Rdkit(e.what().to_owned()))?;
        match status.kind {
            0 if !inner.is_null() => Ok(Self { inner }),
            2 => Err(ChemError::Sanitize { smiles: short(), reason: status.message }),
            _ => Err(ChemError::Parse { smiles: short(), reason: status.message }),
        }
    }

    /// Canonical isomeric SMILES.
    pub fn to_smiles(&self) -> Result<String, ChemError> {
        ffi::bridge::mol_to_smiles(self.as_ref()).map_err(|e| ChemError::Rdkit(e.what().to_owned()))
    }

    /// Standard InChIKey (IUPAC InChI library, stereo from the molecule's chiral tags and
    /// double-bond stereo as 0D parities); an error names the library's reason.
    pub fn inchikey(&self) -> Result<String, ChemError> {
        let r = ffi::bridge::mol_inchi(self.as_ref()).map_err(|e| ChemError::Rdkit(e.what().to_owned()))?;
        if r.ok {
            Ok(r.key)
        } else {
            Err(ChemError::Rdkit(format!("InChI: {}", if r.message.is_empty() { "no InChI made" } else { &r.message })))
        }
    }

    /// MW, TPSA, HBD, HBA, cLogP, RotB.
    pub fn props(&self) -> Result<MolProps, ChemError> {
        ffi::bridge::mol_props(self.as_ref()).map_err(|e| ChemError::Rdkit(e.what().to_owned()))
    }

    /// Number of (heavy, implicit-H) atoms.
    pub fn num_atoms(&self) -> u32 {
        ffi::bridge::mol_num_atoms(self.as_ref())
    }

    /// Atom indices of the sugar units (see the module docs), ascending; empty when the
    /// molecule has no sugar ring.
    pub fn sugar_mask(&self) -> Result<Vec<u32>, ChemError> {
        ffi::bridge::mol_sugar_mask(self.as_ref()).map_err(|e| ChemError::Rdkit(e.what().to_owned()))
    }

    fn as_ref(&self) -> &ffi::bridge::Molecule {
        // `from_smiles` never builds a Molecule around a null pointer.
        self.inner.as_ref().expect("non-null molecule")
    }
}

/// A product molecule kept for properties computed later, as RDKit's binary pickle: a fraction
/// of the live molecule's memory (see [`crate::budget`]), and bit-identical properties (the
/// unpickled molecule has the same atom and bond order, flags and rings).
pub struct PickledMol {
    bytes: Box<[u8]>,
}

impl PickledMol {
    fn new(bytes: Vec<u8>) -> Self {
        Self { bytes: bytes.into_boxed_slice() }
    }

    /// MW, TPSA, HBD, HBA, cLogP, RotB of the molecule, exactly as [`Molecule::props`] gives
    /// them on the molecule that was pickled.
    pub fn props(&self) -> Result<MolProps, ChemError> {
        ffi::bridge::pickle_props(&self.bytes).map_err(|e| ChemError::Rdkit(e.what().to_owned()))
    }

    /// Bytes held (the pickle).
    pub fn len(&self) -> usize {
        self.bytes.len()
    }
}

/// The atoms the sugar mask covers in the molecule of `smiles` (see the module docs), as atom
/// indices of the molecule RDKit parses from it; empty when it has no sugar ring.
pub fn sugar_mask(smiles: &str) -> Result<Vec<u32>, ChemError> {
    Molecule::from_smiles(smiles)?.sugar_mask()
}

/// A V2000 molblock with 2D coordinates (RDKit's depictor) for a SMILES, as `Chem.MolToMolBlock`
/// writes it after `AllChem.Compute2DCoords`; the title line is empty.
pub fn smiles_to_molblock(smiles: &str) -> Result<String, ChemError> {
    init();
    if let Some(at) = nul_position(smiles) {
        return Err(ChemError::Parse { smiles: smiles.to_owned(), reason: nul_reason(at) });
    }
    ffi::bridge::smiles_to_molblock(smiles).map_err(|e| ChemError::Rdkit(e.what().to_owned()))
}

/// Position of the first NUL byte of `text`. A C++ string built from a Rust `&str` keeps it, but
/// RDKit's parsers read only up to it: `c1ccccc1O\0junk` would be parsed as phenol. Every text
/// that crosses into RDKit is checked first.
pub(crate) fn nul_position(text: &str) -> Option<usize> {
    text.bytes().position(|b| b == 0)
}

pub(crate) fn nul_reason(at: usize) -> String {
    format!("embedded NUL byte at position {at} (RDKit would read only the text before it)")
}

/// Heavy atoms of a SMILES, counted from its text without parsing it: each bracket atom other
/// than hydrogen (`[H]`, `[2H]`, `[H+]`), each organic-subset atom (`B C N O P S F Cl Br I`,
/// aromatic `b c n o p s`) and each `*`. This is exact for valid SMILES and costs one pass over
/// the bytes, so it can bound RDKit's parse time (which grows steeply with size) BEFORE parsing.
pub fn count_heavy_atoms(smiles: &str) -> usize {
    let b = smiles.as_bytes();
    let (mut i, mut n) = (0, 0);
    while i < b.len() {
        match b[i] {
            b'[' => {
                let end = b[i..].iter().position(|&c| c == b']').map_or(b.len(), |e| i + e);
                let inner = &b[i + 1..end];
                let mut element = inner.iter().skip_while(|c| c.is_ascii_digit());
                // `[H]`, `[2H]`, `[H+]`: hydrogen; `[Hg]`, `[He]`, `[Ho]`, `[Hf]`, `[Hs]`: heavy
                let hydrogen = element.next() == Some(&b'H') && !element.next().is_some_and(u8::is_ascii_lowercase);
                n += usize::from(!hydrogen);
                i = end + 1;
                continue;
            }
            b'C' if b.get(i + 1) == Some(&b'l') => i += 1,
            b'B' if b.get(i + 1) == Some(&b'r') => i += 1,
            b'B' | b'C' | b'N' | b'O' | b'P' | b'S' | b'F' | b'I' | b'b' | b'c' | b'n' | b'o' | b'p' | b's' | b'*' => {}
            _ => {
                i += 1;
                continue;
            }
        }
        n += 1;
        i += 1;
    }
    n
}

/// Canonicalizes any SMILES spelling (the same settings used for product keys).
pub fn canonicalize(smiles: &str) -> Result<String, ChemError> {
    Molecule::from_smiles(smiles)?.to_smiles()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// InChIKeys as RDKit's own MolToInchiKey gives them (its PyPI wheel 2026.09.1, printed by
    /// `target/py-inchi/bin/python`): tetrahedral centres with 4 neighbours, an implicit H or a
    /// lone pair (both parities), double bonds both ways, charges, isotopes, a steroid.
    #[test]
    fn inchikeys_equal_rdkits_on_stereo_cases() {
        let cases = [
            ("C[C@H](N)C(=O)O", "QNAYBMKLOCPYGJ-REOHCLBHSA-N"),
            ("C[C@@H](N)C(=O)O", "QNAYBMKLOCPYGJ-UWTATZPHSA-N"),
            ("N[C@@H](C)C(=O)O", "QNAYBMKLOCPYGJ-REOHCLBHSA-N"),
            ("F/C=C/F", "WFLOTYSKFUPZQB-OWOJBTEDSA-N"),
            ("F/C=C\\F", "WFLOTYSKFUPZQB-UPHRSURJSA-N"),
            ("OC[C@H]1O[C@@H](O)[C@H](O)[C@@H](O)[C@@H]1O", "WQZGKKKJIJFFOK-VFUOTHLCSA-N"),
            ("C[C@H]1[C@H](OC2=C(C1=O)C(=CC(=C2Cl)O)O)C3=CC=C(C=C3)O", "ZOHPKYIJNNAJAJ-MLXNANBUSA-N"),
            ("[NH4+]", "QGZKDVFQNNGYKY-UHFFFAOYSA-O"),
            ("CC(=O)[O-]", "QTBSBXVTEAMEQO-UHFFFAOYSA-M"),
            ("[2H]C([2H])([2H])O", "OKKJLVBELUTLKV-FIBGUPNXSA-N"),
            ("C[S@](=O)c1ccccc1", "JXTGICXCHWMCPM-VIFPVBQESA-N"),
            ("C[C@](F)(Cl)Br", "IUEOVIJFFFDZTG-UWTATZPHSA-N"),
            ("C[C@@]1(O)CCC[C@H]1N", "KKBCPZUWBKCECT-PHDIDXHHSA-N"),
            ("F[C@H]1CC[C@@H](F)CC1", "XVITVIOGDRQODF-OLQVQODUSA-N"),
            ("C/C=C(/C)C(F)=C(C)/C", "STTXDVYMNHPLQS-ALCCZGGFSA-N"),
            ("O=C1C=C[C@@]2(C)[C@H]3CC[C@@]4(C)[C@@H](O)CC[C@H]4[C@@H]3CCC2=C1", "RSIHSRDYCUFFLA-XREYTECCSA-N"),
            // halogen oxides, which RDKit's sanitization charge-separates (inchi.cc joins
            // perchlorate back, as RDKit's wrapper does; the others stay separated, as there)
            ("[O-]Cl(=O)(=O)=O", "VLTRZXGMWDSKGL-UHFFFAOYSA-M"),
            ("C[NH3+].[O-]Cl(=O)(=O)=O", "UTGIWXUFDNQZEG-UHFFFAOYSA-N"),
            ("[O-]Cl(=O)=O", "TYJXBNGPLHOYOB-UHFFFAOYSA-N"),
            ("COCl(=O)(=O)=O", "NHZLDRXCSVFATE-UHFFFAOYSA-N"),
            ("O=I(=O)(=O)[O-]", "XOYUQZOQLOSQSZ-UHFFFAOYSA-N"),
            ("[O-][Br+2]([O-])[O-]", "KYHSUUVXZLFMQS-UHFFFAOYSA-N"),
            ("OCl(=O)(=O)=O", "VLTRZXGMWDSKGL-UHFFFAOYSA-N"),
            ("c1ccccc1I(=O)=O", "BDOLQESNFGCNSC-UHFFFAOYSA-N"),
        ];
        for (smiles, key) in cases {
            assert_eq!(Molecule::from_smiles(smiles).unwrap().inchikey().unwrap(), key, "{smiles}");
        }
    }

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
    fn embedded_nul_is_a_parse_error_not_a_truncation() {
        match Molecule::from_smiles("c1ccccc1O\0junk") {
            Err(ChemError::Parse { reason, .. }) => assert!(reason.contains("NUL byte at position 9"), "{reason}"),
            other => panic!("expected a parse error, got {:?}", other.map(|m| m.to_smiles())),
        }
        assert!(Reaction::from_smarts("[c:1][OX2H:2]>>[c:1][O:2]C\0junk").is_err());
        assert!(Pattern::from_smarts("[OX2H]\0").is_err());
    }

    #[test]
    fn heavy_atoms_are_counted_from_the_text() {
        for (smiles, n) in [
            ("Oc1ccccc1", 7),
            ("C1=CC=C(C=C1)O", 7),
            ("ClCBr", 3),
            ("[H]C([H])([H])[H]", 1),
            ("[2H]OC", 2),
            ("[Hg+2].[Cl-].[Cl-]", 3),
            ("C[C@H](N)C(=O)O", 6),
            ("[13CH3]c1ccc[nH]1", 6),
            ("*CC", 3),
            ("", 0),
            ("[", 1),
        ] {
            assert_eq!(count_heavy_atoms(smiles), n, "{smiles}");
        }
        // agrees with RDKit's own count on real molecules
        for smiles in ["OC(=O)c1ccc(O)cc1", "CC(C)Cc1ccc(cc1)[C@@H](C)C(=O)O", "[Na+].[O-]C(=O)c1ccccc1Br"] {
            let m = Molecule::from_smiles(smiles).unwrap();
            assert_eq!(count_heavy_atoms(smiles), m.num_atoms() as usize, "{smiles}");
        }
    }

    #[test]
    fn properties_of_phenol() {
        let p = Molecule::from_smiles("Oc1ccccc1").unwrap().props().unwrap();
        assert!((p.mw - 94.113).abs() < 0.01, "{p:?}");
        assert!((p.tpsa - 20.23).abs() < 0.01, "{p:?}");
        assert_eq!((p.hbd, p.hba, p.rotb), (1, 1, 0));
        assert!((p.clogp - 1.3922).abs() < 0.001, "{p:?}");
    }

    /// The bridge types atoms for cLogP with fewer matches than RDKit's `calcCrippenDescriptors`
    /// (`crippen_logp` in bridge.cc), and counts rotatable bonds with a pattern kept per thread
    /// (`num_rotatable_bonds`): the same values, bit for bit, on every molecule of the
    /// sample (2,700 polyphenols and drugs), on the products of every bundled rule over its first
    /// 300 molecules, and on shapes the sample lacks: charges, metals, isotopes, explicit and
    /// only Hs, and a molecule with more than 1,000 hydrogens (one-atom patterns then match
    /// more atoms than SubstructMatch returns, and RDKit's cut decides).
    #[test]
    fn clogp_and_rotatable_bonds_equal_rdkits_own() {
        use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/sample.parquet");
        let reader =
            ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(path).unwrap()).unwrap().build().unwrap();
        let mut sample = Vec::new();
        for batch in reader {
            let batch = batch.unwrap();
            let col = batch.column_by_name("smiles").unwrap();
            let col = col.as_any().downcast_ref::<arrow_array::StringArray>().unwrap();
            sample.extend(col.iter().flatten().map(str::to_owned));
        }
        let long_chain = format!("OC{}C(=O)O", "C".repeat(600));
        let odd = [
            "[Na+].[O-]C(=O)c1ccccc1",
            "[NH4+].[Cl-]",
            "C[N+](C)(C)C",
            "[2H]OC([2H])([2H])[2H]",
            "[H]C([H])([H])O[H]",
            "[H][H]",
            "[Fe+2].[O-]S(=O)(=O)[O-]",
            "CC[Si](C)(C)O[Se]C",
            "O=[N+]([O-])c1ccc(I)cc1Br",
            "[CH2]C",
            "C#N",
            "c1cc[nH]c1",
            "O=S(=O)(O)c1ccsc1",
            "C1CC1",
            "CC1OC1C",
            "C1CN1",
            "[N-]=[N+]=NCC",
            "FS(F)(F)(F)(F)F",
            "F[P-](F)(F)(F)(F)F",
            "c1cc2ccc3ccc4ccc5ccc6ccc1c1c2c3c4c5c61",
            "[NH3]->[Pt](<-[NH3])(Cl)Cl",
            "C=C=C",
            "OC(=O)C#CC(=O)[O-]",
            "C[S+](C)[O-]",
            "CN(C)N=O",
            "O=C1C=CC(=O)C=C1",
            "Oc1c(O)c(O)c(O)c(O)c1O",
        ];
        let check = |m: &Molecule, what: &str| {
            let ours = m.props().unwrap();
            let theirs = ffi::bridge::mol_clogp_rdkit(m.as_ref()).unwrap();
            assert_eq!(ours.clogp.to_bits(), theirs.to_bits(), "{what}: {} vs RDKit's {theirs}", ours.clogp);
            assert_eq!(ours.rotb, ffi::bridge::mol_rotb_rdkit(m.as_ref()).unwrap(), "{what}: rotatable bonds");
        };
        let mut compared = 0;
        for smiles in sample.iter().map(String::as_str).chain(odd).chain([long_chain.as_str()]) {
            check(&Molecule::from_smiles(smiles).unwrap(), smiles);
            compared += 1;
        }
        let rules = crate::rules::RuleSet::load_or_builtin(None).unwrap();
        for rule in rules.rules() {
            for smiles in &sample[..300] {
                let mol = Molecule::from_smiles(smiles).unwrap();
                let run = rule.reaction.run_with(&mol, 0, PropsMode::Later, &[]).unwrap();
                for (site, kept) in run.sites.iter().zip(&run.mols) {
                    let (SiteOutcome::Product { smiles, .. }, Some(_)) = (site, kept) else { continue };
                    check(&Molecule::from_smiles(smiles).unwrap(), smiles);
                    compared += 1;
                }
            }
        }
        assert!(compared > 10_000, "{compared}");
    }

    #[test]
    fn version_is_debian_rdkit() {
        assert!(rdkit_version().starts_with("20"), "{}", rdkit_version());
    }
}
