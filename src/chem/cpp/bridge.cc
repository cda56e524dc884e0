// RDKit calls behind the cxx bridge. Semantics deliberately mirror RDKit's Python defaults
// (Chem.MolFromSmiles, Chem.MolToSmiles, rxn.RunReactants + Chem.SanitizeMol) so that the Python
// bindings can serve as the reference oracle in tests.
#include "xfstore/src/chem/cpp/bridge.h"

#include <GraphMol/ChemReactions/Reaction.h>
#include <GraphMol/ChemReactions/ReactionParser.h>
#include <GraphMol/Descriptors/Crippen.h>
#include <GraphMol/Descriptors/Lipinski.h>
#include <GraphMol/Descriptors/MolDescriptors.h>
#include <GraphMol/Descriptors/MolSurf.h>
#include <GraphMol/FileParsers/FileParsers.h>
#include <GraphMol/GraphMol.h>
#include <GraphMol/MolOps.h>
#include <GraphMol/SmilesParse/SmartsWrite.h>
#include <GraphMol/SmilesParse/SmilesParse.h>
#include <GraphMol/SmilesParse/SmilesWrite.h>
#include <GraphMol/Substruct/SubstructMatch.h>
#include <RDGeneral/RDLog.h>
#include <RDGeneral/versions.h>

#include <algorithm>
#include <mutex>
#include <utility>
#include <vector>

#include "xfstore/src/chem/ffi.rs.h"

namespace xfstore_ffi {

Molecule::Molecule(RDKit::ROMol *m) : mol(m) {}
Molecule::~Molecule() = default;
Pattern::Pattern(RDKit::ROMol *m) : query(m) {}
Pattern::~Pattern() = default;
Reaction::Reaction(RDKit::ChemicalReaction *r) : rxn(r) {}
Reaction::~Reaction() = default;

void silence_logs() {
  static std::once_flag once;
  std::call_once(once, [] { boost::logging::disable_logs("rdApp.*"); });
}

rust::String rdkit_version() { return rust::String(RDKit::rdkitVersion); }

// Runs an RDKit parser with RDKit's own error classes mapped to a status: 1 = syntax error,
// 2 = sanitization error; null on failure.
template <typename Parse>
static std::unique_ptr<Molecule> parse_with(ParseStatus &status, const char *empty, Parse parse) {
  RDKit::RWMol *m = nullptr;
  try {
    m = parse();
  } catch (const RDKit::MolSanitizeException &e) {
    status.kind = 2;
    status.message = rust::String(e.what());
    return nullptr;
  } catch (const std::exception &e) {
    status.kind = 1;
    status.message = rust::String(e.what());
    return nullptr;
  }
  if (m == nullptr) {
    status.kind = 1;
    status.message = rust::String(empty);
    return nullptr;
  }
  status.kind = 0;
  return std::make_unique<Molecule>(m);
}

std::unique_ptr<Molecule> mol_from_smiles(rust::Str smiles, ParseStatus &status) {
  std::string text(smiles);
  // Same defaults as Chem.MolFromSmiles: sanitize, remove Hs, assign stereo.
  return parse_with(status, "invalid SMILES syntax", [&] { return RDKit::SmilesToMol(text); });
}

std::unique_ptr<Molecule> mol_from_molblock(rust::Str block, ParseStatus &status) {
  std::string text(block);
  // Same defaults as Chem.SDMolSupplier / Chem.MolFromMolBlock: sanitize, remove Hs, strict
  // parsing; stereo from wedges (2D) or coordinates (3D); V2000 and V3000.
  return parse_with(status, "invalid molblock", [&] { return RDKit::MolBlockToMol(text, true, true, true); });
}

rust::String mol_to_smiles(const Molecule &mol) {
  // Canonical, isomeric: Chem.MolToSmiles defaults.
  return rust::String(RDKit::MolToSmiles(*mol.mol));
}

static MolProps props_of(const RDKit::ROMol &m) {
  MolProps p{};
  p.mw = RDKit::Descriptors::calcAMW(m);
  p.tpsa = RDKit::Descriptors::calcTPSA(m);
  p.hbd = RDKit::Descriptors::calcNumHBD(m);
  p.hba = RDKit::Descriptors::calcNumHBA(m);
  double logp = 0.0, mr = 0.0;
  RDKit::Descriptors::calcCrippenDescriptors(m, logp, mr);
  p.clogp = logp;
  p.rotb = RDKit::Descriptors::calcNumRotatableBonds(m);
  return p;
}

MolProps mol_props(const Molecule &mol) { return props_of(*mol.mol); }

uint32_t mol_num_atoms(const Molecule &mol) { return mol.mol->getNumAtoms(); }

std::unique_ptr<Pattern> pattern_from_smarts(rust::Str smarts) {
  RDKit::RWMol *q = RDKit::SmartsToMol(std::string(smarts));
  if (q == nullptr) {
    throw std::invalid_argument("invalid SMARTS");
  }
  return std::make_unique<Pattern>(q);
}

uint32_t pattern_count_matches(const Pattern &pattern, const Molecule &mol) {
  std::vector<RDKit::MatchVectType> matches;
  return RDKit::SubstructMatch(*mol.mol, *pattern.query, matches, /*uniquify=*/true);
}

std::unique_ptr<Reaction> reaction_from_smarts(rust::Str smarts) {
  std::unique_ptr<RDKit::ChemicalReaction> r(
      RDKit::RxnSmartsToChemicalReaction(std::string(smarts)));
  if (!r) {
    throw std::invalid_argument("invalid reaction SMARTS");
  }
  r->initReactantMatchers(/*silent=*/true);
  if (!r->isInitialized()) {
    throw std::invalid_argument("reaction could not be initialised");
  }
  return std::make_unique<Reaction>(r.release());
}

uint32_t reaction_num_reactant_templates(const Reaction &rxn) {
  return rxn.rxn->getNumReactantTemplates();
}

uint32_t reaction_num_product_templates(const Reaction &rxn) {
  return rxn.rxn->getNumProductTemplates();
}

rust::Vec<SiteProduct> reaction_run(const Reaction &rxn, const Molecule &mol, uint32_t max_products,
                                    bool with_props) {
  RDKit::MOL_SPTR_VECT reactants;
  // The reaction copies atoms out of the reactant; it never mutates it. A non-owning shared_ptr
  // (no-op deleter) avoids copying the molecule.
  reactants.emplace_back(mol.mol.get(), [](RDKit::ROMol *) {});
  std::vector<RDKit::MOL_SPTR_VECT> sets = rxn.rxn->runReactants(reactants, max_products);
  rust::Vec<SiteProduct> out;
  out.reserve(sets.size());
  for (auto &set : sets) {
    SiteProduct sp{};
    sp.ok = false;
    if (set.empty() || !set[0]) {
      sp.error = rust::String("reaction produced no product molecule");
      out.push_back(std::move(sp));
      continue;
    }
    RDKit::RWMol prod(*set[0]);
    // Site atoms: reactant indices of the mapped atoms, ordered by map number.
    std::vector<std::pair<int, unsigned int>> mapped;
    for (const auto atom : prod.atoms()) {
      int mapno = 0;
      unsigned int ridx = 0;
      if (atom->getPropIfPresent("old_mapno", mapno) &&
          atom->getPropIfPresent(RDKit::common_properties::reactantAtomIdx, ridx)) {
        mapped.emplace_back(mapno, ridx);
      }
    }
    std::sort(mapped.begin(), mapped.end());
    for (const auto &m : mapped) {
      sp.site_atoms.push_back(m.second);
    }
    try {
      RDKit::MolOps::sanitizeMol(prod);
      sp.smiles = rust::String(RDKit::MolToSmiles(prod));
      if (with_props) {
        sp.props = props_of(prod);
      }
      sp.ok = true;
    } catch (const std::exception &e) {
      sp.error = rust::String(e.what());
    }
    out.push_back(std::move(sp));
  }
  return out;
}

}  // namespace xfstore_ffi
