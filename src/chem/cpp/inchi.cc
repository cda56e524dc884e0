// Standard InChI and InChIKey of an RDKit molecule through the IUPAC InChI library (Debian's
// libinchi, API 1.03). Debian's RDKit is built without its InChI wrapper, so the molecule is
// handed to the library here: atoms with their implicit hydrogens, charges, isotopes and
// radicals, Kekulé bonds, and stereo as 0D parities from RDKit's chiral tags and double-bond
// stereo (a product has no coordinates). RDKit's own MolToInchiKey (the PyPI wheel) is the
// reference the tests compare against (tests/py/test_inchikey.py).
#include <inchi_api.h>

#include <GraphMol/GraphMol.h>
#include <GraphMol/MolOps.h>

#include <cstring>
#include <mutex>
#include <stdexcept>
#include <vector>

#include "xfstore/src/chem/cpp/bridge.h"
#include "xfstore/src/chem/ffi.rs.h"

namespace xfstore_ffi {

namespace {

// libinchi 1.03 keeps global state: one call at a time in the process (it answers
// inchi_Ret_BUSY otherwise).
std::mutex inchi_lock;

// The 0D parity of a tetrahedral centre: neighbours in RDKit's bond order (its chiral tag: seen
// from the first, the others turn clockwise (CW) or not); with 3 neighbours the central atom
// stands for the implicit H or lone pair in first place, as InChI asks, and RDKit counts that
// one last: moving it to the front is an odd permutation, so the parity flips.
bool tetrahedral(const RDKit::ROMol &m, const RDKit::Atom *a, inchi_Stereo0D &s) {
  auto tag = a->getChiralTag();
  if (tag != RDKit::Atom::CHI_TETRAHEDRAL_CW && tag != RDKit::Atom::CHI_TETRAHEDRAL_CCW) {
    return false;
  }
  std::vector<AT_NUM> nbrs;
  for (const auto b : m.atomBonds(a)) {
    nbrs.push_back(static_cast<AT_NUM>(b->getOtherAtomIdx(a->getIdx())));
  }
  bool implicit = nbrs.size() == 3;
  if (implicit) {
    nbrs.insert(nbrs.begin(), static_cast<AT_NUM>(a->getIdx()));
  }
  if (nbrs.size() != 4) {
    return false;
  }
  std::copy(nbrs.begin(), nbrs.end(), s.neighbor);
  s.central_atom = static_cast<AT_NUM>(a->getIdx());
  s.type = INCHI_StereoType_Tetrahedral;
  // CW: seen from the first neighbour, the others turn clockwise = InChI's 'e'
  bool even = (tag == RDKit::Atom::CHI_TETRAHEDRAL_CW) != implicit;
  s.parity = even ? INCHI_PARITY_EVEN : INCHI_PARITY_ODD;
  return true;
}

// The 0D parity of a stereo double bond X-A=B-Y from its stereo atoms: trans 'e', cis 'o'.
bool double_bond(const RDKit::Bond *b, inchi_Stereo0D &s) {
  auto st = b->getStereo();
  bool trans = st == RDKit::Bond::STEREOE || st == RDKit::Bond::STEREOTRANS;
  bool cis = st == RDKit::Bond::STEREOZ || st == RDKit::Bond::STEREOCIS;
  const auto &ends = b->getStereoAtoms();
  if ((!trans && !cis) || ends.size() != 2) {
    return false;
  }
  s.neighbor[0] = static_cast<AT_NUM>(ends[0]);
  s.neighbor[1] = static_cast<AT_NUM>(b->getBeginAtomIdx());
  s.neighbor[2] = static_cast<AT_NUM>(b->getEndAtomIdx());
  s.neighbor[3] = static_cast<AT_NUM>(ends[1]);
  s.central_atom = NO_ATOM;
  s.type = INCHI_StereoType_DoubleBond;
  s.parity = trans ? INCHI_PARITY_EVEN : INCHI_PARITY_ODD;
  return true;
}

S_CHAR bond_type(const RDKit::Bond *b) {
  switch (b->getBondType()) {
    case RDKit::Bond::SINGLE:
      return INCHI_BOND_TYPE_SINGLE;
    case RDKit::Bond::DOUBLE:
      return INCHI_BOND_TYPE_DOUBLE;
    case RDKit::Bond::TRIPLE:
      return INCHI_BOND_TYPE_TRIPLE;
    default:
      throw std::runtime_error("InChI: bond type not single, double or triple after kekulization");
  }
}

// The library's input for `m` (Kekulé form): each bond listed once, from its higher-numbered atom.
std::vector<inchi_Atom> atoms_of(const RDKit::ROMol &m) {
  std::vector<inchi_Atom> atoms(m.getNumAtoms());
  for (const auto a : m.atoms()) {
    inchi_Atom &x = atoms[a->getIdx()];
    std::memset(&x, 0, sizeof(x));
    std::strncpy(x.elname, a->getSymbol().c_str(), ATOM_EL_LEN - 1);
    for (const auto b : m.atomBonds(a)) {
      unsigned other = b->getOtherAtomIdx(a->getIdx());
      if (other > a->getIdx()) {
        continue;
      }
      if (x.num_bonds >= MAXVAL) {
        throw std::runtime_error("InChI: an atom has more than 20 bonds");
      }
      x.neighbor[x.num_bonds] = static_cast<AT_NUM>(other);
      x.bond_type[x.num_bonds] = bond_type(b);
      x.num_bonds++;
    }
    x.num_iso_H[0] = static_cast<S_CHAR>(a->getTotalNumHs());
    x.charge = static_cast<S_CHAR>(a->getFormalCharge());
    x.isotopic_mass = static_cast<AT_NUM>(a->getIsotope());
    switch (a->getNumRadicalElectrons()) {
      case 0:
        break;
      case 1:
        x.radical = INCHI_RADICAL_DOUBLET;
        break;
      default:
        x.radical = INCHI_RADICAL_TRIPLET;
    }
  }
  return atoms;
}

// Undoes RDKit's charge separation of perchlorates before InChI sees them, as RDKit's own InChI
// wrapper does (its "reverse clean-up"): sanitization writes perchlorate as
// [O-][Cl+3]([O-])([O-])[O-], which InChI reads as another species than the O=Cl(=O)(=O)[O-] the
// registries' InChIs are made from. A Cl of charge +3 bonded to 4 oxygens, at least 3 of them
// singly bonded terminal [O-], gets 3 of those (the first in bond order) as neutral doubly bonded
// O, and charge 0. Only perchlorate: RDKit leaves chlorate, bromate and periodate as they are,
// and so does this (the keys then equal RDKit's MolToInchiKey; see tests/py/test_inchikey.py).
void join_perchlorates(RDKit::RWMol &m) {
  for (auto a : m.atoms()) {
    if (a->getAtomicNum() != 17 || a->getFormalCharge() != 3 || a->getDegree() != 4) {
      continue;
    }
    std::vector<RDKit::Bond *> oxides;
    bool all_oxygen = true;
    for (auto b : m.atomBonds(a)) {
      auto o = b->getOtherAtom(a);
      all_oxygen = all_oxygen && o->getAtomicNum() == 8;
      if (o->getAtomicNum() == 8 && o->getFormalCharge() == -1 && o->getDegree() == 1 &&
          b->getBondType() == RDKit::Bond::SINGLE) {
        oxides.push_back(b);
      }
    }
    if (!all_oxygen || oxides.size() < 3) {
      continue;
    }
    for (int k = 0; k < 3; ++k) {
      oxides[k]->setBondType(RDKit::Bond::DOUBLE);
      oxides[k]->getOtherAtom(a)->setFormalCharge(0);
    }
    a->setFormalCharge(0);
  }
  m.updatePropertyCache(false);
}

}  // namespace

InchiResult mol_inchi(const Molecule &mol) {
  RDKit::RWMol m(*mol.mol);
  RDKit::MolOps::Kekulize(m, /*markAtomsBonds=*/true);
  join_perchlorates(m);
  if (m.getNumAtoms() >= 1024) {
    throw std::runtime_error("InChI: more than 1023 atoms");
  }
  std::vector<inchi_Atom> atoms = atoms_of(m);
  std::vector<inchi_Stereo0D> stereo;
  inchi_Stereo0D s{};
  for (const auto a : m.atoms()) {
    if (tetrahedral(m, a, s)) {
      stereo.push_back(s);
    }
  }
  for (const auto b : m.bonds()) {
    if (b->getBondType() == RDKit::Bond::DOUBLE && double_bond(b, s)) {
      stereo.push_back(s);
    }
  }
  inchi_Input input{};
  input.atom = atoms.data();
  input.stereo0D = stereo.empty() ? nullptr : stereo.data();
  input.num_atoms = static_cast<AT_NUM>(atoms.size());
  input.num_stereo0D = static_cast<AT_NUM>(stereo.size());
  char options[] = "";
  input.szOptions = options;
  InchiResult r{};
  std::lock_guard<std::mutex> guard(inchi_lock);
  inchi_Output out{};
  int ret = GetStdINCHI(&input, &out);
  if ((ret == inchi_Ret_OKAY || ret == inchi_Ret_WARNING) && out.szInChI != nullptr) {
    r.inchi = rust::String(out.szInChI);
    char key[32] = {0};
    if (GetStdINCHIKeyFromStdINCHI(out.szInChI, key) == 0) {
      r.key = rust::String(key);
      r.ok = true;
    }
  }
  if (out.szMessage != nullptr) {
    r.message = rust::String(out.szMessage);
  }
  FreeStdINCHI(&out);
  return r;
}

}  // namespace xfstore_ffi
