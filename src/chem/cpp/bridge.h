// C++ side of the RDKit bridge (see src/chem/ffi.rs). Every entry point either reports expected
// chemistry failures through a status value or lets an exception escape, which cxx turns into a
// Rust `Err` (the custom trycatch below also catches non-std exceptions, so nothing can abort).
#pragma once
#include <exception>
#include <memory>
#include <string>

#include "rust/cxx.h"

namespace rust {
namespace behavior {
template <typename Try, typename Fail>
static void trycatch(Try &&func, Fail &&fail) noexcept try {
  func();
} catch (const std::exception &e) {
  fail(e.what());
} catch (...) {
  fail("unknown C++ exception from RDKit");
}
}  // namespace behavior
}  // namespace rust

namespace RDKit {
class ROMol;
class ChemicalReaction;
}  // namespace RDKit

namespace xfstore_ffi {

struct ParseStatus;
struct SiteProduct;
struct SiteRun;
struct MolProps;
struct InchiResult;

// Owns one RDKit molecule. Used by one thread at a time (RDKit caches properties lazily).
class Molecule {
 public:
  explicit Molecule(RDKit::ROMol *m);
  ~Molecule();
  std::unique_ptr<RDKit::ROMol> mol;
};

// A compiled SMARTS pattern; read-only after construction.
class Pattern {
 public:
  explicit Pattern(RDKit::ROMol *m);
  ~Pattern();
  std::unique_ptr<RDKit::ROMol> query;
};

// A compiled reaction with initialised reactant matchers; read-only (const) after construction.
class Reaction {
 public:
  explicit Reaction(RDKit::ChemicalReaction *r);
  ~Reaction();
  std::unique_ptr<RDKit::ChemicalReaction> rxn;
};

void silence_logs();
rust::String rdkit_version();

std::unique_ptr<Molecule> mol_from_smiles(rust::Str smiles, ParseStatus &status);
std::unique_ptr<Molecule> mol_from_molblock(rust::Str block, ParseStatus &status);
rust::String mol_to_smiles(const Molecule &mol);
MolProps mol_props(const Molecule &mol);
double mol_clogp_rdkit(const Molecule &mol);
uint32_t mol_rotb_rdkit(const Molecule &mol);
MolProps pickle_props(rust::Slice<const uint8_t> pickle);
uint32_t mol_num_atoms(const Molecule &mol);
rust::Vec<uint32_t> mol_sugar_mask(const Molecule &mol);
rust::String smiles_to_molblock(rust::Str smiles);
// Standard InChI and InChIKey (src/chem/cpp/inchi.cc).
InchiResult mol_inchi(const Molecule &mol);

std::unique_ptr<Pattern> pattern_from_smarts(rust::Str smarts);
uint32_t pattern_count_matches(const Pattern &pattern, const Molecule &mol);

std::unique_ptr<Reaction> reaction_from_smarts(rust::Str smarts);
uint32_t reaction_num_reactant_templates(const Reaction &rxn);
uint32_t reaction_num_product_templates(const Reaction &rxn);
// props_mode: 0 no properties, 1 properties of every product, 2 keep each product molecule
// pickled (SiteProduct::pickle; empty for a site repeating an earlier site's product) for
// properties computed later on the same molecule (pickle_props).
SiteRun reaction_run(const Reaction &rxn, const Molecule &mol, uint32_t max_sites, uint8_t props_mode,
                     rust::Slice<const uint32_t> masked_atoms);

}  // namespace xfstore_ffi
