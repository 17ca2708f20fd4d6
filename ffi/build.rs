//! Regenerates `include/corral.h` from this crate with cbindgen. It writes
//! only when the text changed; `scripts/test-c` fails if the checked-in
//! header differs from what this produces.

fn main() {
    let dir = std::path::PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    let config = cbindgen::Config::from_file(dir.join("cbindgen.toml")).expect("ffi/cbindgen.toml");
    cbindgen::Builder::new()
        .with_crate(&dir)
        .with_config(config)
        .generate()
        .expect("cbindgen failed to read ffi/src")
        .write_to_file(dir.join("../include/corral.h"));
}
