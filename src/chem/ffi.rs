//! The only place where xfstore crosses into C++: a `cxx` bridge to Debian's RDKit.
//!
//! Everything `unsafe` in the crate lives in this file. The safe wrappers in
//! [`crate::chem`] own the `UniquePtr`s and expose only safe methods. The C++ side is
//! `src/chem/cpp/bridge.{h,cc}` and `src/chem/cpp/inchi.cc` (the IUPAC InChI library), compiled by `build.rs` against `/usr/include/rdkit` with
//! `-DRDK_BUILD_THREADSAFE_SSS` (Debian built RDKit with it; it changes a class layout).

#[cxx::bridge(namespace = "xfstore_ffi")]
pub(crate) mod bridge {
    /// Result of parsing a SMILES: 0 = ok, 1 = syntax error, 2 = sanitization error.
    struct ParseStatus {
        kind: u8,
        message: String,
    }

    /// Properties of a molecule, as RDKit's Descriptors module computes them.
    #[derive(Clone, Copy, Debug, Default, PartialEq)]
    struct MolProps {
        /// Average molecular weight (calcAMW).
        mw: f64,
        /// Topological polar surface area.
        tpsa: f64,
        /// H-bond donors (calcNumHBD).
        hbd: u32,
        /// H-bond acceptors (calcNumHBA).
        hba: u32,
        /// Crippen logP.
        clogp: f64,
        /// Rotatable bonds (strict).
        rotb: u32,
    }

    /// One product of one matched site (`runReactants` result set).
    struct SiteProduct {
        ok: bool,
        smiles: String,
        error: String,
        site_atoms: Vec<u32>,
        props: MolProps,
        /// The sanitized product as RDKit's binary pickle, kept for properties computed later
        /// (props mode 2); empty otherwise, and for a site repeating an earlier site's product.
        pickle: Vec<u8>,
    }

    /// A molecule's standard InChI and InChIKey (`ok` false: the library made none; `message`
    /// says why, or warns).
    struct InchiResult {
        ok: bool,
        inchi: String,
        key: String,
        message: String,
    }

    /// Every transformed site of one molecule, and how many the mask kept from being matched.
    struct SiteRun {
        sites: Vec<SiteProduct>,
        masked: u32,
    }

    unsafe extern "C++" {
        include!("xfstore/src/chem/cpp/bridge.h");

        type Molecule;
        type Pattern;
        type Reaction;

        fn silence_logs();
        fn rdkit_version() -> String;

        fn mol_from_smiles(smiles: &str, status: &mut ParseStatus) -> Result<UniquePtr<Molecule>>;
        fn mol_from_molblock(block: &str, status: &mut ParseStatus) -> Result<UniquePtr<Molecule>>;
        fn mol_to_smiles(mol: &Molecule) -> Result<String>;
        fn mol_props(mol: &Molecule) -> Result<MolProps>;
        /// cLogP by RDKit's own `calcCrippenDescriptors`: the reference of the bridge's cLogP in tests.
        #[allow(dead_code)] // tests only
        fn mol_clogp_rdkit(mol: &Molecule) -> Result<f64>;
        /// Rotatable bonds by RDKit's own `calcNumRotatableBonds`: the reference in tests.
        #[allow(dead_code)] // tests only
        fn mol_rotb_rdkit(mol: &Molecule) -> Result<u32>;
        fn pickle_props(pickle: &[u8]) -> Result<MolProps>;
        fn mol_num_atoms(mol: &Molecule) -> u32;
        fn mol_sugar_mask(mol: &Molecule) -> Result<Vec<u32>>;
        fn smiles_to_molblock(smiles: &str) -> Result<String>;
        fn mol_inchi(mol: &Molecule) -> Result<InchiResult>;

        fn pattern_from_smarts(smarts: &str) -> Result<UniquePtr<Pattern>>;
        fn pattern_count_matches(pattern: &Pattern, mol: &Molecule) -> Result<u32>;

        fn reaction_from_smarts(smarts: &str) -> Result<UniquePtr<Reaction>>;
        fn reaction_num_reactant_templates(rxn: &Reaction) -> u32;
        fn reaction_num_product_templates(rxn: &Reaction) -> u32;
        fn reaction_run(
            rxn: &Reaction,
            mol: &Molecule,
            max_sites: u32,
            props_mode: u8,
            masked_atoms: &[u32],
        ) -> Result<SiteRun>;
    }
}

// SAFETY: a `Molecule` exclusively owns its RDKit `ROMol`; no other object aliases it. Moving
// that ownership to another thread is sound. It is deliberately NOT `Sync`: RDKit caches
// computed properties inside the molecule (MolToSmiles, descriptors), so two threads must not
// use one molecule at once.
unsafe impl Send for bridge::Molecule {}

// SAFETY: a `Pattern` is an immutable SMARTS query molecule after construction. RDKit's
// substructure search on a const query is thread-safe in builds with RDK_BUILD_THREADSAFE_SSS
// (Debian's build), so sharing `&Pattern` across threads is sound.
unsafe impl Send for bridge::Pattern {}
unsafe impl Sync for bridge::Pattern {}

// SAFETY: a `Reaction` has `initReactantMatchers()` called in its constructor and is only ever
// used through `const` methods afterwards (`runReactants` is const). With
// RDK_BUILD_THREADSAFE_SSS, concurrent `runReactants` calls on one reaction are thread-safe.
unsafe impl Send for bridge::Reaction {}
unsafe impl Sync for bridge::Reaction {}
