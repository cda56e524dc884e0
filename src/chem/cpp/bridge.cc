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
#include <GraphMol/Depictor/RDDepictor.h>
#include <GraphMol/FileParsers/FileParsers.h>
#include <GraphMol/GraphMol.h>
#include <GraphMol/MolOps.h>
#include <GraphMol/MolPickler.h>
#include <GraphMol/new_canon.h>
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

// Whether `q` or any query under it is recursive (`$(...)`): such an atom's Match reads the
// match set SubstructMatch computes first, so it cannot be asked alone.
static bool recursive(const RDKit::Atom::QUERYATOM_QUERY *q) {
  if (q->getDescription() == "RecursiveStructure") {
    return true;
  }
  return std::any_of(q->beginChildren(), q->endChildren(), [](const auto &c) { return recursive(c.get()); });
}

// A pattern of RDKit's Crippen table as a tree from its first atom: its atoms in breadth-first
// order (the first atom first), each later one with its parent's position and the query bond
// between them. Empty when the pattern has a ring or a recursive atom (then SubstructMatch
// decides, as in RDKit).
struct CrippenTree {
  std::vector<const RDKit::Atom *> atoms;
  std::vector<size_t> parent;
  std::vector<const RDKit::Bond *> bond;
  const RDKit::ROMol *pattern;
  double logp;
};

static CrippenTree crippen_tree(const RDKit::Descriptors::CrippenParams &param) {
  const RDKit::ROMol &p = *param.dp_pattern;
  CrippenTree t{{}, {}, {}, &p, param.logp};
  std::vector<int> pos(p.getNumAtoms(), -1);
  t.atoms.push_back(p.getAtomWithIdx(0));
  t.parent.push_back(0);
  t.bond.push_back(nullptr);
  pos[0] = 0;
  for (size_t i = 0; i < t.atoms.size(); ++i) {
    for (const auto &b : p.atomBonds(t.atoms[i])) {
      const unsigned other = b->getOtherAtomIdx(t.atoms[i]->getIdx());
      if (pos[other] < 0) {
        pos[other] = static_cast<int>(t.atoms.size());
        t.atoms.push_back(p.getAtomWithIdx(other));
        t.parent.push_back(i);
        t.bond.push_back(b);
      }
    }
  }
  bool plain = t.atoms.size() == p.getNumAtoms() && p.getNumBonds() + 1 == p.getNumAtoms();
  for (const RDKit::Atom *a : t.atoms) {
    plain = plain && a->hasQuery() && !recursive(a->getQuery());
  }
  if (!plain) {
    t.atoms.clear();
  }
  return t;
}

// RDKit's Crippen table (its own, in its order), as trees.
static const std::vector<CrippenTree> &crippen_trees() {
  static const std::vector<CrippenTree> trees = [] {
    std::vector<CrippenTree> out;
    for (const auto &param : *RDKit::Descriptors::CrippenParamCollection::getParams()) {
      out.push_back(crippen_tree(param));
    }
    return out;
  }();
  return trees;
}

// Counts, up to `limit`, the ways the tree's atoms from position `j` on extend `map` (the
// molecule atoms of positions before `j`) to a match: each atom onto a distinct molecule atom
// bonded to its parent's, the atom and bond queries matching (Atom::Match and Bond::Match, the
// tests of RDKit's SubstructMatch without chirality; a match need not be induced, as there).
static unsigned extend(const CrippenTree &t, const RDKit::ROMol &mol, std::vector<unsigned> &map, size_t j,
                       unsigned limit) {
  if (j == t.atoms.size()) {
    return 1;
  }
  const RDKit::Atom *from = mol.getAtomWithIdx(map[t.parent[j]]);
  unsigned count = 0;
  for (const auto &b : mol.atomBonds(from)) {
    const unsigned x = b->getOtherAtomIdx(from->getIdx());
    if (std::find(map.begin(), map.begin() + j, x) != map.begin() + j || !t.atoms[j]->Match(mol.getAtomWithIdx(x)) ||
        !t.bond[j]->Match(b)) {
      continue;
    }
    map[j] = x;
    count += extend(t, mol, map, j + 1, limit - count);
    if (count >= limit) {
      break;
    }
  }
  return count;
}

// Matches SubstructMatch returns at most (its default maxMatches).
static constexpr unsigned CRIPPEN_MAX_MATCHES = 1000;

// Wildman-Crippen logP exactly as RDKit's calcCrippenDescriptors(m, logp, mr) computes it: Hs
// added, each atom typed by the first pattern of RDKit's table with a match that starts at the
// atom (SubstructMatch, not uniquified, at most 1,000 matches), contributions summed in atom
// order. RDKit runs SubstructMatch for every pattern until all atoms are typed (~40% of the CPU of
// a product with properties). Here a pattern (all are trees of plain atom queries) is matched
// from each atom still untyped that its first atom matches: whether a match starts there is what
// typing needs. That is RDKit's answer whenever SubstructMatch would have returned all its
// matches, which holds when the pattern has at most 1,000 matches in all: bounded by
// atoms x (highest degree)^(pattern bonds), or else counted, and above 1,000 SubstructMatch
// decides, as in RDKit (the count also tells which atoms a match starts at). Only the atoms
// still untyped are tried, in a list that shrinks.
static double crippen_logp(const RDKit::ROMol &m) {
  std::unique_ptr<RDKit::ROMol> work(RDKit::MolOps::addHs(m, false, false));
  const RDKit::ROMol &mol = *work;
  const unsigned n = mol.getNumAtoms();
  unsigned degree = 0;
  for (const RDKit::Atom *a : mol.atoms()) {
    degree = std::max(degree, a->getDegree());
  }
  std::vector<double> contribs(n, 0.0);
  std::vector<unsigned> untyped(n);  // ascending
  for (unsigned i = 0; i < n; ++i) {
    untyped[i] = i;
  }
  std::vector<char> typed(n, 0), starts(n, 0);
  std::vector<unsigned> map;
  auto as_rdkit = [&](const CrippenTree &t) {  // SubstructMatch's matches, as RDKit types them
    std::vector<RDKit::MatchVectType> matches;
    RDKit::SubstructMatch(mol, *t.pattern, matches, false, true);
    for (const auto &match : matches) {
      const auto idx = static_cast<unsigned>(match[0].second);
      if (!typed[idx]) {
        typed[idx] = 1;
        contribs[idx] = t.logp;
      }
    }
  };
  for (const CrippenTree &t : crippen_trees()) {
    map.assign(std::max<size_t>(t.atoms.size(), 1), 0);
    // all its matches, from every atom, when there might be more than SubstructMatch returns
    double bound = n;
    for (size_t k = 1; k < t.atoms.size(); ++k) {
      bound *= degree;
    }
    unsigned total = 0;
    const bool counted = !t.atoms.empty() && bound > CRIPPEN_MAX_MATCHES;
    if (counted) {  // and, per atom, whether a match starts there (starts[i])
      for (unsigned i = 0; i < n && total <= CRIPPEN_MAX_MATCHES; ++i) {
        map[0] = i;
        const unsigned here =
            t.atoms[0]->Match(mol.getAtomWithIdx(i)) ? extend(t, mol, map, 1, CRIPPEN_MAX_MATCHES + 1 - total) : 0;
        starts[i] = here > 0;
        total += here;
      }
    }
    if (t.atoms.empty() || total > CRIPPEN_MAX_MATCHES) {
      as_rdkit(t);
    } else {
      for (unsigned i : untyped) {
        map[0] = i;
        if (counted ? starts[i] != 0 : t.atoms[0]->Match(mol.getAtomWithIdx(i)) && extend(t, mol, map, 1, 1) > 0) {
          typed[i] = 1;
          contribs[i] = t.logp;
        }
      }
    }
    untyped.erase(std::remove_if(untyped.begin(), untyped.end(), [&](unsigned i) { return typed[i] != 0; }),
                  untyped.end());
    if (untyped.empty()) {
      break;
    }
  }
  double logp = 0.0;
  for (double c : contribs) {
    logp += c;
  }
  return logp;
}

// RDKit's strict rotatable-bond SMARTS (Lipinski.cpp, NumRotatableBondsVersion 3.1.0: the
// pattern calcNumRotatableBonds matches by default in Debian's build).
static const char *const ROTB_STRICT =
    "[!$(*#*)&!D1&!$(C(F)(F)F)&!$(C(Cl)(Cl)Cl)&!$(C(Br)(Br)Br)&!$(C([CH3])([CH3])[CH3])&!$([CD3](=[N,O,S])-!@[#7,"
    "O,S!D1])&!$([#7,O,S!D1]-!@[CD3]=[N,O,S])&!$([CD3](=[N+])-!@[#7!D1])&!$([#7!D1]-!@[CD3]=[N+])]-,:;!@[!$(*#*)&!"
    "D1&!$(C(F)(F)F)&!$(C(Cl)(Cl)Cl)&!$(C(Br)(Br)Br)&!$(C([CH3])([CH3])[CH3])]";

// Rotatable bonds as calcNumRotatableBonds(m) counts them (the matches of its pattern, with
// SubstructMatch's defaults), without its copy of the pattern at every call: RDKit copies a
// pattern with recursive queries per call because matching writes into them (thread safety;
// ~5% of the CPU of a product with properties), here each thread keeps its own copy. Checked
// once against calcNumRotatableBonds on molecules where the strict and the plain definitions
// differ; if this RDKit counts otherwise, its own function is used.
static unsigned num_rotatable_bonds(const RDKit::ROMol &m) {
  thread_local const std::unique_ptr<RDKit::ROMol> pattern(RDKit::SmartsToMol(ROTB_STRICT));
  auto count = [](const RDKit::ROMol &mol) {
    std::vector<RDKit::MatchVectType> matches;
    return RDKit::SubstructMatch(mol, *pattern, matches);
  };
  static const bool same = [&] {
    for (const char *smiles : {"CCC(=O)NCC", "CC(C)(C)CCOC(=O)CC(F)(F)F", "CCCCC(=O)OCCN(C)C(=O)c1ccccc1",
                               "CC(=[NH2+])NCCc1ccc(O)cc1", "CCCC#CCCOCC(Cl)(Cl)Cl"}) {
      std::unique_ptr<RDKit::ROMol> mol(RDKit::SmilesToMol(smiles));
      if (!mol || count(*mol) != RDKit::Descriptors::calcNumRotatableBonds(*mol)) {
        return false;
      }
    }
    return true;
  }();
  return same ? count(m) : RDKit::Descriptors::calcNumRotatableBonds(m);
}

static MolProps props_of(const RDKit::ROMol &m) {
  MolProps p{};
  p.mw = RDKit::Descriptors::calcAMW(m);
  p.tpsa = RDKit::Descriptors::calcTPSA(m);
  p.hbd = RDKit::Descriptors::calcNumHBD(m);
  p.hba = RDKit::Descriptors::calcNumHBA(m);
  p.clogp = crippen_logp(m);
  p.rotb = num_rotatable_bonds(m);
  return p;
}

// cLogP by RDKit's own calcCrippenDescriptors (forced: nothing cached), against which
// crippen_logp is tested bit for bit.
double mol_clogp_rdkit(const Molecule &mol) {
  double logp = 0.0, mr = 0.0;
  RDKit::Descriptors::calcCrippenDescriptors(*mol.mol, logp, mr, true, true);
  return logp;
}

uint32_t mol_rotb_rdkit(const Molecule &mol) { return RDKit::Descriptors::calcNumRotatableBonds(*mol.mol); }

MolProps mol_props(const Molecule &mol) { return props_of(*mol.mol); }

// A product kept for properties computed later is kept as RDKit's binary pickle, not as the live
// molecule: ~30x smaller (a 60-atom product: ~1.5 KiB against ~40-60 KiB of atoms, bonds,
// property dictionaries, graph and ring info), and the unpickled molecule has the same atom and
// bond order, flags and rings, so its properties are bit-identical (tested against props mode 1).
static void pickle_into(const RDKit::ROMol &m, rust::Vec<uint8_t> &out) {
  std::string bytes;
  RDKit::MolPickler::pickleMol(m, bytes, RDKit::PicklerOps::NoProps);
  out.reserve(bytes.size());
  for (char c : bytes) {
    out.push_back(static_cast<uint8_t>(c));
  }
}

MolProps pickle_props(rust::Slice<const uint8_t> pickle) {
  const std::string bytes(reinterpret_cast<const char *>(pickle.data()), pickle.size());
  RDKit::ROMol m;
  RDKit::MolPickler::molFromPickle(bytes, m);
  return props_of(m);
}

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

// Sugar rings (documented in src/chem/mod.rs, `sugar_mask`): 5- or 6-membered rings of single
// bonds with exactly one ring atom that is not carbon, an oxygen; every ring carbon sp3 and not
// aromatic; at least two ring carbons bearing an exocyclic oxygen. The mask is each such ring,
// the oxygens and nitrogens bonded to its carbons (hydroxyls, the glycosidic oxygen, ester and
// ether oxygens), and each non-ring sp3 carbon bonded to a ring carbon that itself bears an
// oxygen (the hydroxymethyl C6 of a hexopyranose, C5 of a furanose) with those oxygens.
rust::Vec<uint32_t> mol_sugar_mask(const Molecule &mol) {
  const RDKit::ROMol &m = *mol.mol;
  const RDKit::RingInfo *ri = m.getRingInfo();
  if (!ri->isInitialized()) {
    RDKit::MolOps::findSSSR(m);
  }
  std::vector<bool> masked(m.getNumAtoms(), false);
  auto bonded_oxygens = [&](const RDKit::Atom *a, std::vector<unsigned int> &out) {
    for (const auto nb : m.atomNeighbors(a)) {
      const auto bond = m.getBondBetweenAtoms(a->getIdx(), nb->getIdx());
      if (nb->getAtomicNum() == 8 && bond->getBondType() == RDKit::Bond::SINGLE) {
        out.push_back(nb->getIdx());
      }
    }
  };
  for (const auto &ring : ri->atomRings()) {
    if (ring.size() != 5 && ring.size() != 6) {
      continue;
    }
    std::vector<bool> in_ring(m.getNumAtoms(), false);
    for (int idx : ring) {
      in_ring[idx] = true;
    }
    unsigned int ring_o = 0, other = 0, oxygenated = 0;
    bool ok = true;
    for (int idx : ring) {
      const RDKit::Atom *a = m.getAtomWithIdx(idx);
      if (a->getIsAromatic()) {
        ok = false;
        break;
      }
      if (a->getAtomicNum() == 8) {
        ++ring_o;
      } else if (a->getAtomicNum() != 6) {
        ++other;
      } else {
        if (a->getHybridization() != RDKit::Atom::SP3) {
          ok = false;
          break;
        }
        bool has_o = false;
        for (const auto nb : m.atomNeighbors(a)) {
          const auto bond = m.getBondBetweenAtoms(a->getIdx(), nb->getIdx());
          if (!in_ring[nb->getIdx()] && nb->getAtomicNum() == 8 && bond->getBondType() == RDKit::Bond::SINGLE) {
            has_o = true;
          }
        }
        oxygenated += has_o ? 1 : 0;
      }
    }
    for (size_t i = 0; ok && i < ring.size(); ++i) {
      const auto bond = m.getBondBetweenAtoms(ring[i], ring[(i + 1) % ring.size()]);
      if (bond == nullptr || bond->getBondType() != RDKit::Bond::SINGLE) {
        ok = false;
      }
    }
    if (!ok || ring_o != 1 || other != 0 || oxygenated < 2) {
      continue;
    }
    for (int idx : ring) {
      masked[idx] = true;
      const RDKit::Atom *a = m.getAtomWithIdx(idx);
      if (a->getAtomicNum() != 6) {
        continue;
      }
      for (const auto nb : m.atomNeighbors(a)) {
        if (in_ring[nb->getIdx()]) {
          continue;
        }
        const auto bond = m.getBondBetweenAtoms(a->getIdx(), nb->getIdx());
        const bool single = bond->getBondType() == RDKit::Bond::SINGLE;
        if (single && (nb->getAtomicNum() == 8 || nb->getAtomicNum() == 7)) {
          masked[nb->getIdx()] = true;
        } else if (single && nb->getAtomicNum() == 6 && !nb->getIsAromatic() &&
                   nb->getHybridization() == RDKit::Atom::SP3 && !ri->numAtomRings(nb->getIdx())) {
          std::vector<unsigned int> oxygens;
          bonded_oxygens(nb, oxygens);
          if (!oxygens.empty()) {
            masked[nb->getIdx()] = true;
            for (auto o : oxygens) {
              masked[o] = true;
            }
          }
        }
      }
    }
  }
  rust::Vec<uint32_t> out;
  for (size_t i = 0; i < masked.size(); ++i) {
    if (masked[i]) {
      out.push_back(static_cast<uint32_t>(i));
    }
  }
  return out;
}

rust::String smiles_to_molblock(rust::Str smiles) {
  std::unique_ptr<RDKit::RWMol> m(RDKit::SmilesToMol(std::string(smiles)));
  if (!m) {
    throw std::invalid_argument("invalid SMILES");
  }
  // Python's rdDepictor.Compute2DCoords defaults (canonOrient=True; C++ defaults to false), so
  // the molblock is the one RDKit's Python writer makes.
  RDDepict::compute2DCoords(*m, nullptr, /*canonOrient=*/true);
  return rust::String(RDKit::MolToMolBlock(*m));
}

// Sets (or clears) RDKit's `_protected` atom property: the reaction runner skips every match
// that touches a protected atom. Properties are mutable through const in RDKit (RDProps).
static void protect(const RDKit::ROMol &m, rust::Slice<const uint32_t> atoms, bool on) {
  for (auto idx : atoms) {
    if (idx >= m.getNumAtoms()) {
      throw std::out_of_range("masked atom index out of range");
    }
    const RDKit::Atom *a = m.getAtomWithIdx(idx);
    if (on) {
      a->setProp(RDKit::common_properties::_protected, 1);
    } else {
      a->clearProp(RDKit::common_properties::_protected);
    }
  }
}

// Clears the protection however the run ends.
struct Protected {
  const RDKit::ROMol &m;
  rust::Slice<const uint32_t> atoms;
  Protected(const RDKit::ROMol &mol, rust::Slice<const uint32_t> a) : m(mol), atoms(a) { protect(m, atoms, true); }
  ~Protected() {
    try {
      protect(m, atoms, false);
    } catch (...) {
    }
  }
};

SiteRun reaction_run(const Reaction &rxn, const Molecule &mol, uint32_t max_sites, uint8_t props_mode,
                     rust::Slice<const uint32_t> masked_atoms) {
  SiteRun run{};
  const RDKit::ROMol &m = *mol.mol;
  if (masked_atoms.size() > 0) {
    // Masked sites: every match of the reactant template (as the runner matches it: not
    // uniquified) that touches a masked atom.
    std::vector<bool> is_masked(m.getNumAtoms(), false);
    for (auto idx : masked_atoms) {
      if (idx < is_masked.size()) {
        is_masked[idx] = true;
      }
    }
    std::vector<RDKit::MatchVectType> matches;
    RDKit::SubstructMatch(m, *rxn.rxn->getReactants()[0], matches, /*uniquify=*/false);
    for (const auto &match : matches) {
      for (const auto &pr : match) {
        if (is_masked[pr.second]) {
          ++run.masked;
          break;
        }
      }
    }
  }
  Protected guard(m, masked_atoms);
  RDKit::MOL_SPTR_VECT reactants;
  // The reaction copies atoms out of the reactant; it never mutates it. A non-owning shared_ptr
  // (no-op deleter) avoids copying the molecule.
  reactants.emplace_back(mol.mol.get(), [](RDKit::ROMol *) {});
  std::vector<RDKit::MOL_SPTR_VECT> sets = rxn.rxn->runReactants(reactants, UINT32_MAX);
  // Site atoms of every set: reactant indices of the mapped atoms, ordered by map number.
  std::vector<std::vector<uint32_t>> sites(sets.size());
  for (size_t i = 0; i < sets.size(); ++i) {
    if (sets[i].empty() || !sets[i][0]) {
      continue;
    }
    std::vector<std::pair<int, unsigned int>> mapped;
    for (const auto atom : sets[i][0]->atoms()) {
      int mapno = 0;
      unsigned int ridx = 0;
      if (atom->getPropIfPresent("old_mapno", mapno) &&
          atom->getPropIfPresent(RDKit::common_properties::reactantAtomIdx, ridx)) {
        mapped.emplace_back(mapno, ridx);
      }
    }
    std::sort(mapped.begin(), mapped.end());
    for (const auto &mp : mapped) {
      sites[i].push_back(mp.second);
    }
  }
  // Over the cap, keep the sites whose mapped atoms come first in the canonical atom ranking
  // (ties broken by match order), then run them in match order: the kept set depends on the
  // molecule, not on how its SMILES was written.
  std::vector<size_t> keep(sets.size());
  for (size_t i = 0; i < keep.size(); ++i) {
    keep[i] = i;
  }
  if (max_sites > 0 && sets.size() > max_sites) {
    std::vector<unsigned int> ranks;
    RDKit::Canon::rankMolAtoms(m, ranks, /*breakTies=*/true);
    std::vector<std::vector<unsigned int>> keys(sets.size());
    for (size_t i = 0; i < sets.size(); ++i) {
      for (auto a : sites[i]) {
        keys[i].push_back(ranks[a]);
      }
    }
    std::stable_sort(keep.begin(), keep.end(), [&](size_t a, size_t b) { return keys[a] < keys[b]; });
    keep.resize(max_sites);
    std::sort(keep.begin(), keep.end());
  }
  run.sites.reserve(keep.size());
  for (size_t i : keep) {
    auto &set = sets[i];
    SiteProduct sp{};
    sp.ok = false;
    if (set.empty() || !set[0]) {
      sp.error = rust::String("reaction produced no product molecule");
      run.sites.push_back(std::move(sp));
      continue;
    }
    for (auto a : sites[i]) {
      sp.site_atoms.push_back(a);
    }
    // runReactants builds each product as an RWMol: sanitize it in place, as RDKit's Python
    // SanitizeMol does, instead of copying it first (a copy and its destruction were ~6% of a
    // run without properties); a product of another type is copied as before.
    std::unique_ptr<RDKit::RWMol> copy;
    auto *owned = dynamic_cast<RDKit::RWMol *>(set[0].get());
    if (owned == nullptr) {
      copy = std::make_unique<RDKit::RWMol>(*set[0]);
    }
    RDKit::RWMol &prod = owned != nullptr ? *owned : *copy;
    try {
      RDKit::MolOps::sanitizeMol(prod);
      sp.smiles = rust::String(RDKit::MolToSmiles(prod));
      if (props_mode == 1) {
        sp.props = props_of(prod);
      } else if (props_mode == 2) {
        // the very object the properties would have been computed on, pickled: same atom
        // order, so bit-identical properties later (a re-parse of the SMILES is not: summation
        // order). A site repeating an earlier site's product in this run is never a product's
        // first provenance (the earlier site is), so it keeps nothing.
        bool repeat = false;
        for (const auto &earlier : run.sites) {
          repeat = repeat || (earlier.ok && earlier.smiles == sp.smiles);
        }
        if (!repeat) {
          pickle_into(prod, sp.pickle);
        }
      }
      sp.ok = true;
    } catch (const std::exception &e) {
      sp.error = rust::String(e.what());
    }
    run.sites.push_back(std::move(sp));
  }
  return run;
}

}  // namespace xfstore_ffi
