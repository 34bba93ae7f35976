//! Release builds embed `console/dist` (rust-embed tracks the files it saw,
//! not files added later): rebuild when the console's build output changes.

fn main() {
    println!("cargo:rerun-if-changed=../../console/dist");
}
