//! The layer rules of ARCHITECTURE.md, checked against `cargo metadata`.
//!
//! Layers, lowest first: `core`, `ports`, `engines`, `adapters`, `apps`,
//! `bin`. A normal or build dependency may only point to a strictly lower
//! layer, except that `core` and `engines` crates may use siblings in their
//! own layer. `lib/*` crates depend on no Osiris crate; `testing/*` crates
//! appear only as dev-dependencies; `xtask` is tooling.

use std::collections::BTreeMap;
use std::fmt;

use anyhow::{Result, bail};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Layer {
    Core,
    Ports,
    Engines,
    Adapters,
    Apps,
    Bin,
    /// `lib/*`: independent libraries usable from any layer above core.
    Lib,
    /// `crates/testing/*`: dev-dependencies only.
    Testing,
    Tooling,
}

impl Layer {
    fn from_path(path: &str) -> Option<Self> {
        let parts: Vec<&str> = path.split('/').collect();
        let position = parts
            .iter()
            .rposition(|p| *p == "crates" || *p == "lib" || *p == "xtask")?;
        match (
            parts.get(position).copied(),
            parts.get(position + 1).copied(),
        ) {
            (Some("lib"), _) => Some(Self::Lib),
            (Some("xtask"), _) => Some(Self::Tooling),
            (Some("crates"), Some("core")) => Some(Self::Core),
            (Some("crates"), Some("ports")) => Some(Self::Ports),
            (Some("crates"), Some("engines")) => Some(Self::Engines),
            (Some("crates"), Some("adapters")) => Some(Self::Adapters),
            (Some("crates"), Some("apps")) => Some(Self::Apps),
            (Some("crates"), Some("bin")) => Some(Self::Bin),
            (Some("crates"), Some("testing")) => Some(Self::Testing),
            _ => None,
        }
    }

    /// Whether a normal dependency from `self` to `to` respects the layering.
    fn may_depend_on(self, to: Self) -> bool {
        use Layer::{Adapters, Apps, Bin, Core, Engines, Lib, Ports, Testing, Tooling};
        match (self, to) {
            (_, Testing) => false,
            (Tooling | Testing, _) => true,
            (Lib, Lib) => true,
            (Lib, _) => false,
            (Core, Core) => true,
            (Core, _) => false,
            (Ports, Core) => true,
            (Engines, Core | Ports | Engines) => true,
            (Adapters, Core | Ports | Engines | Lib) => true,
            (Apps, Core | Ports | Engines | Adapters | Lib) => true,
            (Bin, Core | Ports | Engines | Adapters | Apps | Lib) => true,
            _ => false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Normal,
    Dev,
}

#[derive(Debug)]
pub(crate) struct Package {
    pub(crate) layer: Layer,
    /// Internal dependencies only: (name, kind).
    pub(crate) deps: Vec<(String, Kind)>,
}

/// The workspace's crates by name, each with its layer and internal edges.
#[derive(Debug, Default)]
pub(crate) struct Workspace {
    pub(crate) packages: BTreeMap<String, Package>,
}

impl Workspace {
    pub(crate) fn from_metadata(metadata: &cargo_metadata::Metadata) -> Result<Self> {
        let root = metadata.workspace_root.as_str();
        let members: Vec<&cargo_metadata::Package> = metadata.workspace_packages();
        let names: Vec<&str> = members.iter().map(|p| p.name.as_str()).collect();
        let mut workspace = Self::default();
        for package in &members {
            let relative = package
                .manifest_path
                .as_str()
                .strip_prefix(root)
                .unwrap_or_default();
            let Some(layer) = Layer::from_path(relative) else {
                bail!(
                    "crate {} at {relative} is not under a layer folder (crates/<layer>/, lib/, xtask/)",
                    package.name
                );
            };
            let deps = package
                .dependencies
                .iter()
                .filter(|d| names.contains(&d.name.as_str()))
                .map(|d| {
                    let kind = match d.kind {
                        cargo_metadata::DependencyKind::Development => Kind::Dev,
                        _ => Kind::Normal,
                    };
                    (d.name.clone(), kind)
                })
                .collect();
            workspace
                .packages
                .insert(package.name.to_string(), Package { layer, deps });
        }
        Ok(workspace)
    }
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Violation {
    from: String,
    from_layer: Layer,
    to: String,
    to_layer: Layer,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({:?}) depends on {} ({:?}); dependencies must point to a lower layer",
            self.from, self.from_layer, self.to, self.to_layer
        )
    }
}

pub(crate) fn violations(workspace: &Workspace) -> Vec<Violation> {
    let mut found = Vec::new();
    for (name, package) in &workspace.packages {
        for (dep, kind) in &package.deps {
            let Some(target) = workspace.packages.get(dep) else {
                continue;
            };
            // Dev-dependencies may reach testing crates and anything below
            // the apps, but never turn a lower layer into a dependent of a
            // higher one at build time.
            let allowed = match kind {
                Kind::Dev => {
                    target.layer == Layer::Testing || package.layer.may_depend_on(target.layer)
                }
                Kind::Normal => package.layer.may_depend_on(target.layer),
            };
            if !allowed {
                found.push(Violation {
                    from: name.clone(),
                    from_layer: package.layer,
                    to: dep.clone(),
                    to_layer: target.layer,
                });
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    type Crate<'a> = (&'a str, Layer, &'a [(&'a str, Kind)]);

    fn workspace(crates: &[Crate<'_>]) -> Workspace {
        let mut workspace = Workspace::default();
        for (name, layer, deps) in crates {
            let deps = deps.iter().map(|(d, k)| ((*d).to_owned(), *k)).collect();
            workspace.packages.insert(
                (*name).to_owned(),
                Package {
                    layer: *layer,
                    deps,
                },
            );
        }
        workspace
    }

    #[test]
    fn the_real_workspace_respects_its_layers() {
        let metadata = cargo_metadata::MetadataCommand::new()
            .manifest_path(concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.toml"))
            .no_deps()
            .exec()
            .unwrap();
        let workspace = Workspace::from_metadata(&metadata).unwrap();
        assert!(workspace.packages.contains_key("osiris-core"));
        let found = violations(&workspace);
        assert!(found.is_empty(), "{found:?}");
    }

    #[test]
    fn a_crate_depending_on_a_higher_layer_is_a_violation() {
        let ws = workspace(&[
            (
                "osiris-core",
                Layer::Core,
                &[("osiris-evidence", Kind::Normal)],
            ),
            ("osiris-evidence", Layer::Engines, &[]),
        ]);
        assert_eq!(violations(&ws).len(), 1);
        assert!(
            violations(&ws)[0]
                .to_string()
                .contains("osiris-core (Core) depends on osiris-evidence")
        );
    }

    #[test]
    fn adapters_never_depend_on_adapters_or_apps() {
        let ws = workspace(&[
            (
                "a",
                Layer::Adapters,
                &[("b", Kind::Normal), ("server", Kind::Normal)],
            ),
            ("b", Layer::Adapters, &[]),
            ("server", Layer::Apps, &[]),
        ]);
        assert_eq!(violations(&ws).len(), 2);
    }

    #[test]
    fn lib_crates_depend_on_no_osiris_crate_and_testing_only_as_dev() {
        let ws = workspace(&[
            ("winrm", Layer::Lib, &[("osiris-core", Kind::Normal)]),
            ("osiris-core", Layer::Core, &[]),
            (
                "osiris-agent",
                Layer::Apps,
                &[("osiris-testkit", Kind::Normal), ("winrm", Kind::Normal)],
            ),
            (
                "osiris-server",
                Layer::Apps,
                &[("osiris-testkit", Kind::Dev)],
            ),
            (
                "osiris-testkit",
                Layer::Testing,
                &[("osiris-core", Kind::Normal)],
            ),
        ]);
        let found: Vec<String> = violations(&ws).iter().map(ToString::to_string).collect();
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found.iter().any(|v| v.starts_with("winrm")));
        assert!(
            found
                .iter()
                .any(|v| v.starts_with("osiris-agent") && v.contains("testkit"))
        );
    }

    #[test]
    fn dependencies_pointing_down_are_allowed() {
        let ws = workspace(&[
            (
                "osiris",
                Layer::Bin,
                &[("server", Kind::Normal), ("osiris-core", Kind::Normal)],
            ),
            (
                "server",
                Layer::Apps,
                &[("store-pg", Kind::Normal), ("evidence", Kind::Normal)],
            ),
            ("store-pg", Layer::Adapters, &[("store", Kind::Normal)]),
            ("store", Layer::Ports, &[("osiris-core", Kind::Normal)]),
            ("evidence", Layer::Engines, &[("osiris-core", Kind::Normal)]),
            ("osiris-core", Layer::Core, &[]),
        ]);
        assert!(violations(&ws).is_empty());
    }

    #[test]
    fn layer_is_read_from_the_folder() {
        assert_eq!(
            Layer::from_path("/crates/engines/osiris-evidence/Cargo.toml"),
            Some(Layer::Engines)
        );
        assert_eq!(Layer::from_path("/lib/winrm/Cargo.toml"), Some(Layer::Lib));
        assert_eq!(Layer::from_path("/xtask/Cargo.toml"), Some(Layer::Tooling));
        assert_eq!(Layer::from_path("/other/thing/Cargo.toml"), None);
    }
}
