//! [`Catalog`]: every check, runbook and built-in rule, parsed, validated and
//! cross-referenced as one unit. A catalog either loads whole or reports
//! every problem it found; there is no partially loaded catalog.

use std::collections::BTreeMap;
use std::path::Path;

use osiris_core::RunbookId;

use crate::Error;
use crate::model::{Check, Platform, Runbook};
use crate::parse::{Problem, parse_yaml, problem_at};
use crate::rules::RuleFile;

/// The loaded catalog.
#[derive(Debug, Clone)]
pub struct Catalog {
    checks: BTreeMap<String, Check>,
    runbooks: BTreeMap<RunbookId, Runbook>,
    rule_files: Vec<(String, RuleFile)>,
}

/// One file of a catalog: its path relative to the catalog root, with `/`
/// separators, and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    /// For example `runbooks/windows/RB-WIN-AV-001.yaml`.
    pub path: String,
    /// The file's contents.
    pub text: String,
}

impl Catalog {
    /// The catalog built into this binary.
    ///
    /// # Errors
    /// Only if the shipped catalog is broken, which the crate's tests rule out.
    pub fn embedded() -> Result<Self, Error> {
        Self::from_sources(crate::embedded::sources())
    }

    /// The files of the embedded catalog, for tools that overlay or inspect them.
    #[must_use]
    pub fn embedded_sources() -> Vec<SourceFile> {
        crate::embedded::sources()
    }

    /// A catalog from a directory laid out like `catalog/` (overrides the embedded one).
    ///
    /// # Errors
    /// [`Error::Io`] when the directory cannot be read, [`Error::Invalid`] with
    /// every problem found otherwise.
    pub fn load_dir(dir: &Path) -> Result<Self, Error> {
        Self::from_sources(crate::embedded::read_dir(dir)?)
    }

    /// A catalog from files in memory.
    ///
    /// # Errors
    /// [`Error::Invalid`] with every problem in every file.
    pub fn from_sources(files: Vec<SourceFile>) -> Result<Self, Error> {
        let mut loader = Loader::default();
        for file in &files {
            loader.add(file);
        }
        loader.cross_check(&files);
        if loader.problems.is_empty() {
            Ok(Self {
                checks: loader.checks,
                runbooks: loader.runbooks,
                rule_files: loader.rule_files,
            })
        } else {
            loader
                .problems
                .sort_by(|a, b| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)));
            Err(Error::Invalid(loader.problems))
        }
    }

    /// Every check, by id.
    #[must_use]
    pub const fn checks(&self) -> &BTreeMap<String, Check> {
        &self.checks
    }

    /// One check.
    #[must_use]
    pub fn check(&self, id: &str) -> Option<&Check> {
        self.checks.get(id)
    }

    /// Every runbook, by id.
    #[must_use]
    pub const fn runbooks(&self) -> &BTreeMap<RunbookId, Runbook> {
        &self.runbooks
    }

    /// One runbook.
    #[must_use]
    pub fn runbook(&self, id: &RunbookId) -> Option<&Runbook> {
        self.runbooks.get(id)
    }

    /// The built-in rule files, with their paths.
    #[must_use]
    pub fn rule_files(&self) -> &[(String, RuleFile)] {
        &self.rule_files
    }
}

/// The kind of a catalog file, from its place in the tree.
enum Place {
    Check(&'static [Platform]),
    Runbook(&'static [Platform]),
    Rules,
    Schema,
}

const WINDOWS: &[Platform] = &[Platform::Windows];
const LINUX: &[Platform] = &[Platform::Debian, Platform::Rhel];
const APPLIANCE: &[Platform] = &[Platform::Appliance];

fn place(path: &str) -> Option<Place> {
    let parts: Vec<&str> = path.split('/').collect();
    let yaml = path.ends_with(".yaml");
    match parts.as_slice() {
        ["checks", "windows", _] if yaml => Some(Place::Check(WINDOWS)),
        ["checks", "linux", _] if yaml => Some(Place::Check(LINUX)),
        ["checks", "appliance", _] if yaml => Some(Place::Check(APPLIANCE)),
        ["runbooks", "windows", _] if yaml => Some(Place::Runbook(WINDOWS)),
        ["runbooks", "linux", _] if yaml => Some(Place::Runbook(LINUX)),
        ["rules", _] if yaml => Some(Place::Rules),
        ["schema", name] if name.ends_with(".schema.json") => Some(Place::Schema),
        _ => None,
    }
}

fn platform_list(platforms: &[Platform]) -> String {
    platforms
        .iter()
        .map(|p| p.as_str())
        .collect::<Vec<_>>()
        .join(" or ")
}

#[derive(Default)]
struct Loader {
    checks: BTreeMap<String, Check>,
    check_files: BTreeMap<String, String>,
    runbooks: BTreeMap<RunbookId, Runbook>,
    rule_files: Vec<(String, RuleFile)>,
    /// Runbook files that did not parse, by file name: references to them are
    /// not reported again as missing.
    unparsed_runbooks: std::collections::BTreeSet<String>,
    problems: Vec<Problem>,
}

impl Loader {
    fn add(&mut self, file: &SourceFile) {
        let at = |path: &str, message: String| problem_at(&file.path, &file.text, path, message);
        match place(&file.path) {
            None => self.problems.push(at(
                "",
                "unexpected file: checks/{windows,linux,appliance}/, runbooks/{windows,linux}/ and rules/ hold .yaml files, schema/ holds .schema.json".into(),
            )),
            Some(Place::Schema) => {}
            Some(Place::Check(allowed)) => match parse_yaml::<Check>(&file.path, &file.text) {
                Err(problem) => self.problems.push(problem),
                Ok(check) => {
                    if !allowed.contains(&check.platform) {
                        self.problems.push(at("platform", format!("a check in this folder must be for {}", platform_list(allowed))));
                    }
                    if check.detect.shell != check.platform.shell() {
                        self.problems.push(at("detect.shell", format!("{} checks run {:?} scripts", check.platform, check.platform.shell()).to_lowercase()));
                    }
                    if check.hipaa.is_empty() {
                        self.problems.push(at("hipaa", "a check must cite at least one HIPAA control".into()));
                    }
                    if !is_check_id(&check.id) {
                        self.problems.push(at("id", format!("check id {:?} must be lowercase words joined by dots, like win.av.defender", check.id)));
                    }
                    for (path, message) in check.criteria.problems() {
                        self.problems.push(at(&path, message));
                    }
                    if let Some(first) = self.check_files.get(&check.id) {
                        self.problems.push(at("id", format!("duplicate check id {:?}, also in {first}", check.id)));
                    } else {
                        self.check_files.insert(check.id.clone(), file.path.clone());
                        self.checks.insert(check.id.clone(), check);
                    }
                }
            },
            Some(Place::Runbook(allowed)) => match parse_yaml::<Runbook>(&file.path, &file.text) {
                Err(problem) => {
                    let stem = file.path.rsplit('/').next().and_then(|n| n.strip_suffix(".yaml")).unwrap_or_default();
                    self.unparsed_runbooks.insert(stem.to_owned());
                    self.problems.push(problem);
                }
                Ok(runbook) => {
                    for (path, message) in runbook_problems(&file.path, &runbook, allowed) {
                        self.problems.push(at(&path, message));
                    }
                    if self.runbooks.contains_key(&runbook.id) {
                        self.problems.push(at("id", format!("duplicate runbook id {}", runbook.id)));
                    } else {
                        self.runbooks.insert(runbook.id.clone(), runbook);
                    }
                }
            },
            Some(Place::Rules) => match parse_yaml::<RuleFile>(&file.path, &file.text) {
                Err(problem) => self.problems.push(problem),
                Ok(rules) => {
                    if !rules.is_osiris() {
                        self.problems.push(at("format", "built-in rule files must declare format: osiris.rules.v1".into()));
                    }
                    for (path, message) in rules.problems() {
                        self.problems.push(at(&path, message));
                    }
                    self.rule_files.push((file.path.clone(), rules));
                }
            },
        }
    }

    /// References between files: check → runbook, rule → runbook, rule ids unique.
    fn cross_check(&mut self, files: &[SourceFile]) {
        let text_of = |path: &str| {
            files
                .iter()
                .find(|f| f.path == path)
                .map_or("", |f| f.text.as_str())
        };
        let mut problems = Vec::new();
        for (id, check) in &self.checks {
            let file = self.check_files.get(id).map_or("", String::as_str);
            match self.runbooks.get(&check.runbook) {
                None if self.unparsed_runbooks.contains(check.runbook.as_str()) => {}
                None => problems.push(problem_at(
                    file,
                    text_of(file),
                    "runbook",
                    format!("runbook {} does not exist in the catalog", check.runbook),
                )),
                Some(runbook) if !runbook.platforms.contains(&check.platform) => {
                    problems.push(problem_at(
                        file,
                        text_of(file),
                        "runbook",
                        format!(
                            "runbook {} is for {}, not {}",
                            check.runbook,
                            platform_list(&runbook.platforms),
                            check.platform
                        ),
                    ))
                }
                Some(_) => {}
            }
        }
        let mut rule_ids: BTreeMap<&str, &str> = BTreeMap::new();
        for (file, rules) in &self.rule_files {
            for (index, rule) in rules.rules.iter().enumerate() {
                let at = |field: &str, message: String| {
                    problem_at(
                        file,
                        text_of(file),
                        &format!("rules[{index}].{field}"),
                        message,
                    )
                };
                if let Some(first) = rule_ids
                    .insert(&rule.id, file)
                    .filter(|first| first != file)
                {
                    problems.push(at(
                        "id",
                        format!("duplicate rule id {:?}, also in {first}", rule.id),
                    ));
                }
                let Some(runbook_id) = rule.runbook_id() else {
                    continue;
                };
                let Ok(runbook_id) = runbook_id.parse::<RunbookId>() else {
                    continue;
                };
                match (self.runbooks.get(&runbook_id), rule.platform) {
                    (None, _) if self.unparsed_runbooks.contains(runbook_id.as_str()) => {}
                    (None, _) => problems.push(at(
                        "action_params.runbook_id",
                        format!("runbook {runbook_id} does not exist in the catalog"),
                    )),
                    (Some(runbook), Some(platform)) if !runbook.platforms.contains(&platform) => {
                        problems.push(at(
                            "action_params.runbook_id",
                            format!(
                                "runbook {runbook_id} is for {}, not {platform}",
                                platform_list(&runbook.platforms)
                            ),
                        ))
                    }
                    _ => {}
                }
            }
        }
        self.problems.extend(problems);
    }
}

fn is_check_id(id: &str) -> bool {
    !id.is_empty()
        && id.split('.').all(|word| {
            !word.is_empty()
                && word
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        })
}

fn runbook_problems(file: &str, runbook: &Runbook, allowed: &[Platform]) -> Vec<(String, String)> {
    let mut problems = Vec::new();
    let stem = file
        .rsplit('/')
        .next()
        .and_then(|name| name.strip_suffix(".yaml"))
        .unwrap_or_default();
    if stem != runbook.id.as_str() {
        problems.push((
            "id".to_owned(),
            format!("runbook id {} must equal the file name {stem}", runbook.id),
        ));
    }
    if runbook.platforms.is_empty() {
        problems.push((
            "platforms".to_owned(),
            "a runbook needs at least one platform".to_owned(),
        ));
    }
    for (index, platform) in runbook.platforms.iter().enumerate() {
        if !allowed.contains(platform) {
            problems.push((
                format!("platforms[{index}]"),
                format!(
                    "a runbook in this folder must be for {}",
                    platform_list(allowed)
                ),
            ));
        }
    }
    let shell = runbook.platforms.first().map(|p| p.shell());
    let steps = &runbook.steps;
    let mut scripts = vec![("steps.remediate.shell", Some(steps.remediate.shell))];
    if let Some(rollback) = &steps.rollback {
        scripts.push(("steps.rollback.shell", Some(rollback.shell)));
    }
    if let Some(confirm) = &steps.confirm {
        scripts.push(("steps.confirm.shell", Some(confirm.shell)));
    }
    scripts.push(("steps.verify.shell", steps.verify.shell));
    for (path, script_shell) in scripts {
        if let (Some(expected), Some(actual)) = (shell, script_shell)
            && expected != actual
        {
            problems.push((
                path.to_owned(),
                format!(
                    "scripts for {} must be {expected:?}",
                    platform_list(&runbook.platforms)
                )
                .to_lowercase(),
            ));
        }
    }
    let verify = &steps.verify;
    match (
        verify.rerun_detect,
        verify.shell.is_some(),
        verify.script.is_some(),
    ) {
        (true, false, false) | (false, true, true) => {}
        _ => problems.push((
            "steps.verify".to_owned(),
            "set either rerun_detect: true or both shell and script".to_owned(),
        )),
    }
    match (&steps.rollback, &steps.no_rollback) {
        (Some(_), None) | (None, Some(_)) => {}
        _ => problems.push((
            "steps.rollback".to_owned(),
            "give either a rollback step or no_rollback with the reason".to_owned(),
        )),
    }
    if let Err(err) = jsonschema::meta::validate(&runbook.parameters) {
        problems.push((
            "parameters".to_owned(),
            format!("not a valid JSON Schema: {err}"),
        ));
    } else if let Err(err) = jsonschema::validator_for(&runbook.parameters) {
        problems.push((
            "parameters".to_owned(),
            format!("JSON Schema does not compile: {err}"),
        ));
    }
    problems
}
