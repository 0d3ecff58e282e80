//! Each file in `tests/data/bad/` replaces (or adds) the catalog file named on
//! its first line (`# as: PATH`); loading must fail with exactly the text in
//! the `.expected` file beside it. `OSIRIS_UPDATE_EXPECT=1` rewrites them.

use std::path::Path;

use osiris_catalog::{Catalog, SourceFile};

#[test]
fn every_broken_file_gives_its_expected_error() {
    let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/bad"));
    let mut cases = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        cases += 1;
        let text = std::fs::read_to_string(&path).unwrap();
        let target = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# as: "))
            .expect("first line names the target");
        let mut files: Vec<SourceFile> = Catalog::embedded_sources()
            .into_iter()
            .filter(|f| f.path != target)
            .collect();
        files.push(SourceFile {
            path: target.to_owned(),
            text: text.clone(),
        });
        let err = Catalog::from_sources(files).expect_err(&path.display().to_string());
        let actual = format!("{err}\n");
        let expected_path = path.with_extension("expected");
        if std::env::var_os("OSIRIS_UPDATE_EXPECT").is_some() {
            std::fs::write(&expected_path, &actual).unwrap();
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        assert_eq!(actual, expected, "{}", path.display());
    }
    assert!(cases >= 8, "only {cases} cases");
}
