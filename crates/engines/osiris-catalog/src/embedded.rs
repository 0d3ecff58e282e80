//! The catalog files: built into the binary, or read from an override directory.

use std::fs;
use std::path::Path;

use crate::Error;
use crate::catalog::SourceFile;

include!(concat!(env!("OUT_DIR"), "/catalog_files.rs"));

/// The embedded files.
pub(crate) fn sources() -> Vec<SourceFile> {
    FILES
        .iter()
        .map(|(path, text)| SourceFile {
            path: (*path).to_owned(),
            text: (*text).to_owned(),
        })
        .collect()
}

/// Every regular file under `dir` (hidden files and `*.md` skipped), sorted by path.
pub(crate) fn read_dir(dir: &Path) -> Result<Vec<SourceFile>, Error> {
    let mut files = Vec::new();
    walk(dir, "", &mut files)?;
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}

fn walk(dir: &Path, prefix: &str, files: &mut Vec<SourceFile>) -> Result<(), Error> {
    let io = |source| Error::Io {
        path: dir.to_path_buf(),
        source,
    };
    for entry in fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || name.ends_with(".md") {
            continue;
        }
        let path = entry.path();
        let relative = format!("{prefix}{name}");
        if entry.file_type().map_err(io)?.is_dir() {
            walk(&path, &format!("{relative}/"), files)?;
        } else {
            let bytes = fs::read(&path).map_err(|source| Error::Io {
                path: path.clone(),
                source,
            })?;
            let text =
                String::from_utf8(bytes).map_err(|_| Error::NotUtf8 { path: path.clone() })?;
            files.push(SourceFile {
                path: relative,
                text,
            });
        }
    }
    Ok(())
}
