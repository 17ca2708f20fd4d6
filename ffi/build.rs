//! Regenerates `include/corral.h` from this crate with cbindgen (written
//! only when the text changed; `scripts/test-c` fails if the checked-in
//! header differs from what this produces), and writes `corral.pc`
//! (pkg-config) next to the built library, e.g. `target/release/corral.pc`.

use std::path::{Path, PathBuf};

fn main() {
    let dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    let config = cbindgen::Config::from_file(dir.join("cbindgen.toml")).expect("ffi/cbindgen.toml");
    cbindgen::Builder::new()
        .with_crate(&dir)
        .with_config(config)
        .generate()
        .expect("cbindgen failed to read ffi/src")
        .write_to_file(dir.join("../include/corral.h"));
    write_pkg_config(&dir);
}

/// `corral.pc` in the profile directory (`target/<profile>`, where the
/// library lands): OUT_DIR is `target/<profile>/build/corral-ffi-<hash>/out`.
fn write_pkg_config(dir: &Path) {
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets it"));
    let Some(lib_dir) = out.ancestors().nth(3) else {
        return;
    };
    let include = dir.join("../include");
    let include = include.canonicalize().unwrap_or(include);
    let text = format!(
        "libdir={lib}\nincludedir={inc}\n\nName: corral\nDescription: C ABI of Corral, a ZooKeeper-compatible coordination service\nVersion: {version}\nCflags: -I${{includedir}}\nLibs: -L${{libdir}} -lcorral\nLibs.private: -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc\n",
        lib = lib_dir.display(),
        inc = include.display(),
        version = std::env::var("CARGO_PKG_VERSION").expect("cargo sets it"),
    );
    let path = lib_dir.join("corral.pc");
    if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
        // Best effort: a read-only target directory must not fail the build.
        let _ = std::fs::write(&path, text);
    }
}
