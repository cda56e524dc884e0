//! Compiles the project's RDKit bridge (src/chem/cpp) against Debian's librdkit-dev.
fn main() {
    let rdkit_include = std::env::var("RDKIT_INCLUDE_DIR").unwrap_or_else(|_| "/usr/include/rdkit".into());
    if !std::path::Path::new("/usr/include/inchi_api.h").exists() {
        panic!("the IUPAC InChI library's header /usr/include/inchi_api.h is missing: install Debian's libinchi-dev (tools/setup.sh does)");
    }
    if !std::path::Path::new(&rdkit_include).join("GraphMol/GraphMol.h").exists() {
        panic!(
            "RDKit headers not found in {rdkit_include}: install Debian's librdkit-dev and libboost-dev \
             (tools/setup.sh does), or set RDKIT_INCLUDE_DIR"
        );
    }
    cxx_build::bridge("src/chem/ffi.rs")
        .file("src/chem/cpp/bridge.cc")
        .file("src/chem/cpp/inchi.cc")
        .include(&rdkit_include)
        .std("c++17")
        // Debian built RDKit with thread-safe substructure search; no header defines it and it
        // changes a class layout in QueryOps.h, so it must match.
        .define("RDK_BUILD_THREADSAFE_SSS", None)
        .flag_if_supported("-Wno-unused-parameter")
        .flag_if_supported("-Wno-deprecated-declarations")
        .flag_if_supported("-Wno-deprecated-copy")
        .compile("xfstore_rdkit_bridge");
    for lib in [
        "RDKitChemReactions",
        "RDKitChemTransforms",
        "RDKitDescriptors",
        "RDKitDepictor",
        "RDKitSubstructMatch",
        "RDKitFileParsers",
        "RDKitSmilesParse",
        "RDKitGraphMol",
        "RDKitRDGeneral",
        "inchi",
    ] {
        println!("cargo:rustc-link-lib={lib}");
    }
    println!("cargo:rerun-if-changed=src/chem/cpp/bridge.h");
    println!("cargo:rerun-if-changed=src/chem/cpp/bridge.cc");
    println!("cargo:rerun-if-changed=src/chem/cpp/inchi.cc");
    println!("cargo:rerun-if-changed=src/chem/ffi.rs");
    println!("cargo:rerun-if-env-changed=RDKIT_INCLUDE_DIR");
}
