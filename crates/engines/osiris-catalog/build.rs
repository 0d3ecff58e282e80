//! Embeds the repository's `catalog/` directory: writes a list of
//! `(relative path, include_str!)` pairs so the binary carries the catalog and
//! Cargo rebuilds when any catalog file changes.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::{env, fs, io};

fn main() -> io::Result<()> {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").map_err(io::Error::other)?);
    let root = manifest.join("../../../catalog");
    println!("cargo:rerun-if-changed={}", root.display());
    let mut files = Vec::new();
    collect(&root, &root, &mut files)?;
    files.sort();
    let mut out = String::from(
        "/// Every file of `catalog/` at build time, as (relative path, contents).\npub(crate) static FILES: &[(&str, &str)] = &[\n",
    );
    for (relative, absolute) in &files {
        println!("cargo:rerun-if-changed={}", absolute.display());
        writeln!(
            out,
            "    ({relative:?}, include_str!({:?})),",
            absolute.display().to_string()
        )
        .map_err(io::Error::other)?;
    }
    out.push_str("];\n");
    let target =
        PathBuf::from(env::var("OUT_DIR").map_err(io::Error::other)?).join("catalog_files.rs");
    fs::write(target, out)
}

fn collect(root: &Path, dir: &Path, files: &mut Vec<(String, PathBuf)>) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            println!("cargo:rerun-if-changed={}", path.display());
            collect(root, &path, files)?;
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "json") {
            let relative = path.strip_prefix(root).map_err(io::Error::other)?;
            let relative = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            files.push((relative, path.canonicalize()?));
        }
    }
    Ok(())
}
