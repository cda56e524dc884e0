//! A campaign file validated into streams: every problem found at once, nothing touched.
//!
//! A **stream** is one input read by one step: step `S` reading input `I` is stream `S.I`;
//! step `S` reading step `T` reads each of `T`'s streams separately, so each original input
//! (and its class) keeps its own lineage: `x2.x1.poly` is step x2 over the products of step x1
//! over input poly. A stream is one ingest: its input is read once for all the step's rules,
//! and its jobs are `<stream>/<rule>`. A stream over a step's stream reads the deduplicated
//! union of that stream's jobs (`job:<T>/<rule1>,<T>/<rule2>,...`).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use super::classes::{ClassTable, LevelRules};
use super::file::{CampaignFile, InputDef, RuleSelection, IN_SCOPE};
use crate::error::CampaignError;
use crate::ingest::RuleSettings;
use crate::input::{InputColumns, InputFile, InputFormat, InputSpec};
use crate::keep::Keep;
use crate::rules::RuleSet;

/// Compound classes known whatever the rule file says (those of the replaced pipeline).
pub const KNOWN_CLASSES: [&str; 8] =
    ["polyphenol", "terpenoid", "alkaloid", "lipid", "aa_peptide", "glycoside", "polysaccharide", "other"];

/// Where a stream's rows come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamSource {
    /// A campaign input (file, folder or glob), resolved against the campaign file's folder.
    File {
        /// The path as resolved.
        path: String,
        /// Its format, when given.
        format: Option<InputFormat>,
        /// Its columns.
        columns: InputColumns,
    },
    /// Another stream's products: the union of its jobs.
    Stream {
        /// The upstream stream's key.
        key: String,
        /// The upstream jobs (`<key>/<rule>`).
        jobs: Vec<String>,
    },
}

/// One input read by one step: one ingest, one job per rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stream {
    /// `<step>.<input>` or `<step>.<upstream stream>`; the jobs' input key.
    pub key: String,
    /// The step.
    pub step: String,
    /// The original input's name.
    pub root: String,
    /// The class carried down from the original input.
    pub class: String,
    /// Where the rows come from.
    pub source: StreamSource,
    /// Rules applied, in rule-file order when from `in_scope`.
    pub rules: Vec<String>,
    /// Site caps and sugar masks of the class configuration, by rule name (`by_class` steps).
    pub rule_settings: BTreeMap<String, RuleSettings>,
    /// The step's property filter, if any.
    pub keep: Option<Keep>,
}

impl Stream {
    /// Job ids of this stream, in rule order.
    pub fn jobs(&self) -> Vec<String> {
        self.rules.iter().map(|r| crate::ingest::job_id(&self.key, r)).collect()
    }

    /// What ingest reads: the input's path, or the upstream jobs.
    pub fn input_spec(&self) -> InputSpec {
        match &self.source {
            StreamSource::File { path, .. } => InputSpec::Path(path.into()),
            StreamSource::Stream { jobs, .. } => InputSpec::Jobs(jobs.clone()),
        }
    }
}

/// A validated campaign.
#[derive(Debug, Clone)]
pub struct Campaign {
    /// The file as parsed.
    pub file: CampaignFile,
    /// Where it was read from.
    pub path: PathBuf,
    /// Streams in an order where every stream comes after the streams it reads.
    pub streams: Vec<Stream>,
    /// Things worth knowing that are not errors (a class with no rule in scope, say).
    pub notes: Vec<String>,
    /// The class configuration (`classes_file` or `classes`), if the campaign has one.
    pub classes: Option<ClassTable>,
}

fn valid_name(n: &str) -> bool {
    !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

impl Campaign {
    /// Parses the file (YAML syntax and fields only).
    pub fn parse(path: &Path) -> Result<CampaignFile, CampaignError> {
        let text = std::fs::read_to_string(path).map_err(|source| CampaignError::Io { path: path.into(), source })?;
        serde_yaml_ng::from_str(&text).map_err(|source| CampaignError::Yaml { path: path.into(), source })
    }

    /// The rule file a parsed campaign names, resolved against the campaign's folder.
    pub fn rules_file(file: &CampaignFile, path: &Path) -> Option<PathBuf> {
        file.rules_file.as_ref().map(|r| base_dir(path).join(r))
    }

    /// Reads and validates the campaign file at `path` with its rules: `rules_file` when
    /// given, else the campaign's own `rules_file`, else the built-in rules. Returns the
    /// campaign, its rule set and the rule file used (None: built-in). Every problem of the
    /// file is reported before anything is created or touched.
    pub fn load(path: &Path, rules_file: Option<&Path>) -> crate::error::Result<(Self, RuleSet, Option<PathBuf>)> {
        let file = Self::parse(path)?;
        let rules_file = rules_file.map(Path::to_path_buf).or_else(|| Self::rules_file(&file, path));
        let rules = RuleSet::load_or_builtin(rules_file.as_deref())?;
        Ok((Self::validate(file, path, &rules)?, rules, rules_file))
    }

    /// Checks everything and orders the streams; every problem is reported at once.
    pub fn validate(file: CampaignFile, path: &Path, rules: &RuleSet) -> Result<Self, CampaignError> {
        let mut problems = Vec::new();
        let base = base_dir(path);
        let mut classes: BTreeSet<String> = KNOWN_CLASSES.iter().map(|c| (*c).to_owned()).collect();
        for r in rules.rules() {
            classes.extend(r.def.scope_classes.iter().cloned());
        }
        let mut names: HashMap<&str, &str> = HashMap::new();
        for i in &file.inputs {
            if !valid_name(&i.name) {
                problems.push(format!("input {:?}: a name is letters, digits, `_` and `-` only", i.name));
            }
            if names.insert(&i.name, "input").is_some() {
                problems.push(format!("input {:?}: the name is used twice", i.name));
            }
            if !classes.contains(&i.class) {
                problems.push(format!(
                    "input {}: unknown class {:?}; known: {}",
                    i.name,
                    i.class,
                    classes.iter().cloned().collect::<Vec<_>>().join(", ")
                ));
            }
            let p = resolve(&base, &i.path);
            let exists = Path::new(&p).exists() || (p.contains(['*', '?', '[']) && glob_matches(&p));
            if !exists {
                problems.push(format!("input {}: {} does not exist", i.name, p));
            }
        }
        for s in &file.steps {
            if !valid_name(&s.name) {
                problems.push(format!("step {:?}: a name is letters, digits, `_` and `-` only", s.name));
            }
            if let Some(Err(e)) = s.keep.as_deref().map(Keep::parse) {
                problems.push(format!("step {:?}: keep: {e}", s.name));
            }
            if let Some(kind) = names.insert(&s.name, "step") {
                problems.push(format!("step {:?}: the name is already used by an {kind}", s.name));
            }
        }
        let classes = match (&file.classes_file, &file.classes) {
            (Some(_), Some(_)) => {
                problems.push("give the class configuration as `classes_file` or as `classes`, not both".into());
                None
            }
            (Some(f), None) => match ClassTable::load(&base.join(f)) {
                Ok(t) => Some(t),
                Err(e) => {
                    let reason = match e {
                        CampaignError::Yaml { source, .. } => source.to_string(),
                        CampaignError::Io { source, .. } => source.to_string(),
                        other => other.to_string(),
                    };
                    problems.push(format!("classes_file {}: {reason}", base.join(f).display()));
                    None
                }
            },
            (None, t) => t.clone().map(|classes| ClassTable { classes }),
        };
        if let Some(t) = &classes {
            problems.extend(t.problems(rules).into_iter().map(|p| format!("class configuration: {p}")));
        }
        for s in &file.steps {
            if s.from.is_empty() {
                problems.push(format!("step {}: `from` is empty", s.name));
            }
            for f in &s.from {
                if !names.contains_key(f.as_str()) {
                    problems.push(format!("step {}: from {f:?}: no input or step of that name", s.name));
                }
            }
            if let RuleSelection::ByClass(b) = &s.rules {
                if classes.is_none() && file.classes_file.is_none() {
                    problems.push(format!(
                        "step {}: rules by_class {:?} needs a class configuration (`classes_file` or `classes`)",
                        s.name, b.by_class
                    ));
                }
                continue;
            }
            let entries = s.rules.entries();
            if entries.is_empty() {
                problems.push(format!("step {}: no rules", s.name));
            }
            for r in entries {
                if r != IN_SCOPE && rules.resolve(r).is_err() {
                    problems.push(format!("step {}: unknown rule {r:?}", s.name));
                }
            }
        }
        let order = match step_order(&file) {
            Ok(o) => o,
            Err(cycle) => {
                problems.push(format!("steps form a cycle: {}", cycle.join(" -> ")));
                vec![]
            }
        };
        if !problems.is_empty() {
            return Err(CampaignError::Invalid { path: path.into(), problems });
        }
        let (streams, notes, mut missing) = expand(&file, &base, &order, rules, classes.as_ref());
        missing.extend(unreadable_inputs(&streams));
        if !missing.is_empty() {
            return Err(CampaignError::Invalid { path: path.into(), problems: missing });
        }
        Ok(Campaign { file, path: path.into(), streams, notes, classes })
    }

    /// Every job id of the campaign, in stream order.
    pub fn jobs(&self) -> Vec<String> {
        self.streams.iter().flat_map(Stream::jobs).collect()
    }
}

/// Opens every file input as its job will (format, columns, every record read, rows counted),
/// so that a missing column, a folder without Parquet parts or an empty file is reported with
/// every other problem before anything is written (#28).
fn unreadable_inputs(streams: &[Stream]) -> Vec<String> {
    let mut seen = BTreeSet::new();
    streams
        .iter()
        .filter_map(|s| match &s.source {
            StreamSource::File { path, format, columns } if seen.insert(path.clone()) => {
                InputFile::open_in(&InputSpec::Path(path.into()), *format, columns, None)
                    .err()
                    .map(|e| format!("stream {}: {e}", s.key))
            }
            _ => None,
        })
        .collect()
}

fn base_dir(path: &Path) -> PathBuf {
    path.parent().filter(|p| !p.as_os_str().is_empty()).map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

fn resolve(base: &Path, p: &str) -> String {
    if Path::new(p).is_absolute() {
        p.to_owned()
    } else {
        base.join(p).to_string_lossy().into_owned()
    }
}

fn glob_matches(pattern: &str) -> bool {
    glob::glob(pattern).map(|mut g| g.any(|p| p.is_ok())).unwrap_or(false)
}

/// Steps in dependency order (Kahn's algorithm; ties in file order), or a cycle.
fn step_order(file: &CampaignFile) -> Result<Vec<usize>, Vec<String>> {
    let idx: HashMap<&str, usize> = file.steps.iter().enumerate().map(|(i, s)| (s.name.as_str(), i)).collect();
    let deps: Vec<Vec<usize>> =
        file.steps.iter().map(|s| s.from.iter().filter_map(|f| idx.get(f.as_str()).copied()).collect()).collect();
    let mut done = vec![false; file.steps.len()];
    let mut order = Vec::new();
    while order.len() < file.steps.len() {
        let next = (0..file.steps.len()).find(|&i| !done[i] && deps[i].iter().all(|&d| done[d]));
        match next {
            Some(i) => {
                done[i] = true;
                order.push(i);
            }
            None => {
                // follow undone dependencies from any undone step until one repeats
                let mut path = vec![(0..file.steps.len()).find(|&i| !done[i]).unwrap_or(0)];
                loop {
                    let last = *path.last().unwrap_or(&0);
                    let Some(&d) = deps[last].iter().find(|&&d| !done[d]) else { break };
                    if let Some(at) = path.iter().position(|&p| p == d) {
                        let mut cycle: Vec<String> = path[at..].iter().map(|&i| file.steps[i].name.clone()).collect();
                        cycle.push(file.steps[d].name.clone());
                        return Err(cycle);
                    }
                    path.push(d);
                }
                return Err(path.iter().map(|&i| file.steps[i].name.clone()).collect());
            }
        }
    }
    Ok(order)
}

/// The streams of every step, in step order, notes, and problems only the expansion finds (a
/// class or level missing from the class configuration).
fn expand(
    file: &CampaignFile,
    base: &Path,
    order: &[usize],
    rules: &RuleSet,
    classes: Option<&ClassTable>,
) -> (Vec<Stream>, Vec<String>, Vec<String>) {
    let mut missing = Vec::new();
    let inputs: HashMap<&str, &InputDef> = file.inputs.iter().map(|i| (i.name.as_str(), i)).collect();
    let mut by_step: HashMap<&str, Vec<usize>> = HashMap::new();
    let mut streams: Vec<Stream> = Vec::new();
    let mut notes = Vec::new();
    for &si in order {
        let step = &file.steps[si];
        let mut mine = Vec::new();
        for f in &step.from {
            let sources: Vec<(String, String, String, StreamSource)> = if let Some(i) = inputs.get(f.as_str()) {
                let columns = InputColumns {
                    smiles: i.smiles_column.clone().unwrap_or_else(|| crate::ingest::DEFAULT_SMILES_COLUMN.into()),
                    id: i.id_column.clone(),
                    carry: i.carry.clone(),
                };
                let source = StreamSource::File { path: resolve(base, &i.path), format: i.format, columns };
                vec![(format!("{}.{}", step.name, i.name), i.name.clone(), i.class.clone(), source)]
            } else {
                by_step
                    .get(f.as_str())
                    .map(|v| v.as_slice())
                    .unwrap_or_default()
                    .iter()
                    .map(|&u| {
                        let up = &streams[u];
                        let source = StreamSource::Stream { key: up.key.clone(), jobs: up.jobs() };
                        (format!("{}.{}", step.name, up.key), up.root.clone(), up.class.clone(), source)
                    })
                    .collect()
            };
            for (key, root, class, source) in sources {
                let mut selected: Vec<String> = Vec::new();
                let mut rule_settings = BTreeMap::new();
                if let (RuleSelection::ByClass(b), Some(table)) = (&step.rules, classes) {
                    match table.level(&class, &b.by_class, rules) {
                        Err(problem) => {
                            if !missing.contains(&problem) {
                                missing.push(problem);
                            }
                            continue;
                        }
                        Ok(LevelRules::Off) => {
                            notes.push(format!(
                                "stream {key}: class {class} is off at level {}; nothing to do",
                                b.by_class
                            ));
                            continue;
                        }
                        Ok(LevelRules::Rules(uses)) => {
                            for u in uses {
                                rule_settings
                                    .insert(u.rule.clone(), RuleSettings { cap: u.cap, sugar_mask: u.sugar_mask });
                                selected.push(u.rule);
                            }
                        }
                    }
                }
                for e in step.rules.entries() {
                    if e == IN_SCOPE {
                        let in_scope = rules.rules().iter().filter(|r| r.def.scope_classes.contains(&class));
                        selected.extend(in_scope.map(|r| r.def.name.clone()));
                    } else {
                        selected.extend(rules.resolve(e).unwrap_or_default().into_iter().map(|r| r.def.name.clone()));
                    }
                }
                let mut seen = BTreeSet::new();
                selected.retain(|r| seen.insert(r.clone()));
                if selected.is_empty() {
                    notes.push(format!("stream {key}: no rule in scope for class {class}; nothing to do"));
                    continue;
                }
                mine.push(streams.len());
                streams.push(Stream {
                    key,
                    step: step.name.clone(),
                    root,
                    class,
                    source,
                    rules: selected,
                    rule_settings,
                    keep: step.keep.as_deref().and_then(|k| Keep::parse(k).ok()),
                });
            }
        }
        by_step.insert(&step.name, mine);
    }
    (streams, notes, missing)
}
