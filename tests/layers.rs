//! The committed layer order, checked. Every module of `src/` belongs to one
//! layer; a module may use modules of its own layer or of the layers below,
//! never above, and inside a layer the modules (two levels deep, such as
//! `responses::object`) form no cycle. Edges are read from the source text:
//! `use crate::…` (braces expanded) and inline `crate::…` paths, tests left out,
//! each path resolved to the deepest module it names. Nothing may hide an edge:
//! no re-export at the crate root, no `pub use crate::…` of another module's
//! items, no `super::super::` path.
//!
//! The code does not follow the order everywhere yet: `tests/layers/known.txt`
//! lists the edges that still break it (issue 17 removes them). A new one
//! fails this test, and so does a listed one that is gone (take it off the
//! list: the list only shrinks).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers from the bottom up, each with the modules (path prefixes) it
/// holds; a module belongs to the layer of its longest listed prefix.
const LAYERS: [(&str, &[&str]); 6] = [
    (
        "wire: OpenAI objects, request types and their validators, ids, the error type",
        &["wire"],
    ),
    (
        "stream: every event grammar, SSE encoding and decoding",
        &["stream"],
    ),
    ("store: persistence", &["store"]),
    (
        "services: backends, the engine, lifecycles, cache, access control, metrics",
        &[
            "config",
            "backends",
            "cache",
            "inflight",
            "coordination",
            "observe",
            "metrics",
            "access",
            "background",
            "engine",
        ],
    ),
    (
        "http: the app, handlers, extractors, middleware, the OpenAPI document",
        &["http"],
    ),
    (
        "tools: the command line, the mock backend, the conformance suite",
        &["cli", "conformance", "mock_backend"],
    ),
];

/// Where a module sits: its layer's index and the prefix that put it there.
fn layer_of(module: &str) -> Option<(usize, &'static str)> {
    LAYERS
        .iter()
        .enumerate()
        .flat_map(|(index, (_, prefixes))| prefixes.iter().map(move |prefix| (index, *prefix)))
        .filter(|(_, prefix)| module == *prefix || module.starts_with(&format!("{prefix}::")))
        .max_by_key(|(_, prefix)| prefix.len())
}

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|error| panic!("{dir:?}: {error}")) {
        let path = entry.map(|entry| entry.path()).unwrap_or_default();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|extension| extension == "rs") {
            found.push(path);
        }
    }
}

/// A file's module path (`src/store/responses.rs` → `store::responses`).
fn module_path(src: &Path, file: &Path) -> Vec<String> {
    let relative = file.strip_prefix(src).unwrap_or(file).with_extension("");
    let mut parts: Vec<String> = relative
        .components()
        .map(|part| part.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

/// `text` without its `#[cfg(test)] mod … { … }` blocks.
fn without_tests(text: &str) -> String {
    let mut kept = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("#[cfg(test)]") {
        kept.push_str(&rest[..start]);
        let after = &rest[start..];
        let opens_module = after["#[cfg(test)]".len()..]
            .trim_start()
            .trim_start_matches("pub(crate) ")
            .trim_start_matches("pub ")
            .starts_with("mod ");
        let Some(open) = after.find(['{', ';']) else {
            rest = "";
            break;
        };
        if !opens_module || after.as_bytes()[open] == b';' {
            kept.push_str("#[cfg(test)]");
            rest = &after["#[cfg(test)]".len()..];
            continue;
        }
        let mut depth = 0usize;
        let mut end = after.len();
        for (index, character) in after[open..].char_indices() {
            match character {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = open + index + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        rest = &after[end..];
    }
    kept.push_str(rest);
    kept
}

/// `text` without its comment lines (a doc link names no dependency).
fn without_comments(text: &str) -> String {
    text.lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `a::{b, c::{d, e}}` → `[a::b, a::c::d, a::c::e]`.
fn expand_use(body: &str) -> Vec<Vec<String>> {
    let spaced = body.split_whitespace().collect::<Vec<_>>().join(" ");
    let body: String = spaced.replace(" as ", "@").replace(' ', "");
    fn split_top(text: &str) -> Vec<&str> {
        let mut parts = Vec::new();
        let (mut depth, mut start) = (0usize, 0usize);
        for (index, character) in text.char_indices() {
            match character {
                '{' => depth += 1,
                '}' => depth = depth.saturating_sub(1),
                ',' if depth == 0 => {
                    parts.push(&text[start..index]);
                    start = index + 1;
                }
                _ => {}
            }
        }
        parts.push(&text[start..]);
        parts
    }
    fn expand(prefix: &[String], text: &str, out: &mut Vec<Vec<String>>) {
        for part in split_top(text).into_iter().filter(|part| !part.is_empty()) {
            if let Some((head, tail)) = part.split_once('{') {
                let mut deeper = prefix.to_vec();
                deeper.extend(head.split("::").filter(|s| !s.is_empty()).map(String::from));
                expand(&deeper, tail.strip_suffix('}').unwrap_or(tail), out);
            } else {
                let mut path = prefix.to_vec();
                let part = part.split('@').next().unwrap_or(part);
                path.extend(
                    part.split("::")
                        .filter(|s| !s.is_empty() && *s != "self")
                        .map(String::from),
                );
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    expand(&[], &body, &mut out);
    out
}

/// The paths `text` names from the crate root (`crate::…`, and `super::…`
/// resolved from `module`, the module the text is), with the line of each.
fn crate_paths(text: &str, module: &[String]) -> Vec<(Vec<String>, String)> {
    let mut paths = Vec::new();
    for (anchor, base) in [("crate::", Some(Vec::new())), ("super::", parent(module))] {
        let Some(base) = base else { continue };
        let mut searched = 0;
        while let Some(found) = text[searched..].find(anchor) {
            let start = searched + found;
            searched = start + anchor.len();
            let before = text[..start].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            let line_start = text[..start].rfind('\n').map_or(0, |index| index + 1);
            let line_end = text[start..]
                .find('\n')
                .map_or(text.len(), |index| start + index);
            let line = text[line_start..line_end].trim().to_string();
            let is_use = text[line_start..start].trim_end().ends_with("use");
            let named = if is_use {
                let end = text[searched..]
                    .find(';')
                    .map_or(text.len(), |index| searched + index);
                expand_use(&text[searched..end])
            } else {
                let path: String = text[searched..]
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                    .collect();
                vec![path
                    .split("::")
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect()]
            };
            for path in named {
                paths.push(([base.clone(), path].concat(), line.clone()));
            }
        }
    }
    paths
}

/// The paths into `module`'s child module `child` that `text` names
/// relatively (`child::item`, as `mod.rs` does), with the line of each.
fn child_paths(text: &str, module: &[String], child: &str) -> Vec<(Vec<String>, String)> {
    let anchor = format!("{child}::");
    let mut paths = Vec::new();
    let mut searched = 0;
    while let Some(found) = text[searched..].find(&anchor) {
        let start = searched + found;
        searched = start + anchor.len();
        let before = text[..start].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        let line_start = text[..start].rfind('\n').map_or(0, |index| index + 1);
        let line_end = text[start..]
            .find('\n')
            .map_or(text.len(), |index| start + index);
        let mut path = module.to_vec();
        path.push(child.to_string());
        paths.push((path, text[line_start..line_end].trim().to_string()));
    }
    paths
}

/// The module `super` names from `module` (`None` above the crate root).
fn parent(module: &[String]) -> Option<Vec<String>> {
    module.split_last().map(|(_, parent)| parent.to_vec())
}

/// The deepest known module a path names, cut to two levels.
fn resolve(modules: &BTreeSet<Vec<String>>, path: &[String]) -> Option<String> {
    (1..=path.len())
        .rev()
        .map(|length| path[..length].to_vec())
        .find(|prefix| modules.contains(prefix))
        .map(|module| module.into_iter().take(2).collect::<Vec<_>>().join("::"))
}

/// What reading the source found: edges with an example each, and whatever
/// hides an edge.
struct Graph {
    edges: BTreeMap<(String, String), String>,
    hidden: Vec<String>,
    unplaced: BTreeSet<String>,
}

fn read_graph(src: &Path) -> Graph {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let modules: BTreeSet<Vec<String>> = files.iter().map(|file| module_path(src, file)).collect();
    let mut graph = Graph {
        edges: BTreeMap::new(),
        hidden: Vec::new(),
        unplaced: BTreeSet::new(),
    };
    for file in &files {
        let name = file
            .file_name()
            .map(|name| name.to_string_lossy().into_owned());
        let name = name.unwrap_or_default();
        if name == "main.rs" || name == "tests.rs" || name.ends_with("_tests.rs") {
            continue;
        }
        let module = module_path(src, file);
        let shown = file.strip_prefix(src).unwrap_or(file).display().to_string();
        let text = without_comments(&without_tests(
            &std::fs::read_to_string(file).unwrap_or_default(),
        ));
        if text.contains("super::super::") {
            graph.hidden.push(format!("{shown}: a super::super:: path"));
        }
        for line in text.lines().map(str::trim) {
            if line.starts_with("pub use crate::")
                || module.is_empty() && line.starts_with("pub use ")
            {
                graph.hidden.push(format!("{shown}: {line}"));
            }
        }
        if module.is_empty() {
            continue;
        }
        let from = module
            .iter()
            .take(2)
            .cloned()
            .collect::<Vec<_>>()
            .join("::");
        if layer_of(&from).is_none() {
            graph.unplaced.insert(from.clone());
        }
        let children = modules
            .iter()
            .filter(|other| other.len() == module.len() + 1 && other.starts_with(&module))
            .filter_map(|child| child.last().cloned());
        let mut named = crate_paths(&text, &module);
        for child in children {
            named.extend(child_paths(&text, &module, &child));
        }
        for (path, line) in named {
            let Some(to) = resolve(&modules, &path) else {
                graph.hidden.push(format!(
                    "{shown}: crate::{} (the crate root)",
                    path.join("::")
                ));
                continue;
            };
            if to != from {
                graph
                    .edges
                    .entry((from.clone(), to))
                    .or_insert_with(|| format!("{shown}: {line}"));
            }
        }
    }
    graph
}

/// The modules of each strongly connected component with more than one.
fn cycles(edges: &BTreeSet<(String, String)>) -> Vec<BTreeSet<String>> {
    let nodes: BTreeSet<&String> = edges.iter().flat_map(|(a, b)| [a, b]).collect();
    let reaches = |start: &String| {
        let mut seen = BTreeSet::from([start.clone()]);
        let mut todo = vec![start.clone()];
        while let Some(node) = todo.pop() {
            for (_, next) in edges.iter().filter(|(from, _)| *from == node) {
                if seen.insert(next.clone()) {
                    todo.push(next.clone());
                }
            }
        }
        seen
    };
    let reach: BTreeMap<&String, BTreeSet<String>> =
        nodes.iter().map(|node| (*node, reaches(node))).collect();
    let mut components: Vec<BTreeSet<String>> = Vec::new();
    for node in &nodes {
        let component: BTreeSet<String> = reach[node]
            .iter()
            .filter(|other| reach.get(other).is_some_and(|back| back.contains(*node)))
            .cloned()
            .collect();
        if component.len() > 1 && !components.contains(&component) {
            components.push(component);
        }
    }
    components
}

/// The edges that break the order: `up: a -> b` (to a higher layer) and
/// `cycle: a -> b` (inside a cycle within one layer), with an example each.
fn breaches(graph: &Graph) -> BTreeMap<String, String> {
    let mut found = BTreeMap::new();
    let mut level = BTreeSet::new();
    for ((from, to), example) in &graph.edges {
        let (Some((below, _)), Some((above, _))) = (layer_of(from), layer_of(to)) else {
            continue;
        };
        if above > below {
            found.insert(format!("up: {from} -> {to}"), example.clone());
        } else if above == below {
            level.insert((from.clone(), to.clone()));
        }
    }
    for component in cycles(&level) {
        for (from, to) in level
            .iter()
            .filter(|(a, b)| component.contains(a) && component.contains(b))
        {
            let example = graph.edges[&(from.clone(), to.clone())].clone();
            found.insert(format!("cycle: {from} -> {to}"), example);
        }
    }
    found
}

#[test]
fn modules_only_use_their_own_layer_or_the_layers_below() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let graph = read_graph(&root.join("src"));
    assert!(
        graph.hidden.is_empty(),
        "paths that hide an edge:\n{}",
        graph.hidden.join("\n")
    );
    assert!(
        graph.unplaced.is_empty(),
        "modules in no layer (add them to LAYERS in tests/layers.rs): {:?}",
        graph.unplaced
    );
    let found = breaches(&graph);
    let known_text =
        std::fs::read_to_string(root.join("tests/layers/known.txt")).unwrap_or_default();
    let known: BTreeSet<&str> = known_text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .collect();
    let new: Vec<String> = found
        .iter()
        .filter(|(edge, _)| !known.contains(edge.as_str()))
        .map(|(edge, example)| format!("{edge}    ({example})"))
        .collect();
    let gone: Vec<&&str> = known
        .iter()
        .filter(|edge| !found.contains_key(**edge))
        .collect();
    assert!(
        new.is_empty(),
        "edges that break the layer order:\n{}",
        new.join("\n")
    );
    assert!(
        gone.is_empty(),
        "no longer in the code, take them off tests/layers/known.txt: {gone:?}"
    );
}

#[test]
fn use_statements_are_read_whole() {
    let text =
        "use crate::a::{b, c::{d, E as F}};\nlet x = crate::g::h::I::new();\nuse super::j::K;";
    let paths = crate_paths(text, &["m".to_string(), "n".to_string()]);
    let names: Vec<String> = paths.into_iter().map(|(path, _)| path.join("::")).collect();
    assert_eq!(
        names,
        ["a::b", "a::c::d", "a::c::E", "g::h::I::new", "m::j::K"]
    );
}

#[test]
fn test_modules_are_left_out() {
    let text = "use crate::a;\n#[cfg(test)]\nmod tests {\n    use crate::b;\n    fn f() { {} }\n}\nuse crate::c;";
    let names: Vec<String> = crate_paths(&without_tests(text), &[])
        .into_iter()
        .map(|(path, _)| path.join("::"))
        .collect();
    assert_eq!(names, ["a", "c"]);
}

#[test]
fn an_edge_up_or_round_is_a_breach() {
    let edge = |a: &str, b: &str| ((a.to_string(), b.to_string()), format!("{a} uses {b}"));
    let graph = Graph {
        edges: BTreeMap::from([
            edge("store::responses", "http::responses"),
            edge("http::responses", "store::responses"),
            edge("engine::run", "access::meter"),
            edge("access::meter", "engine::run"),
            edge("wire::ids", "wire::error"),
        ]),
        hidden: Vec::new(),
        unplaced: BTreeSet::new(),
    };
    let found: Vec<String> = breaches(&graph).into_keys().collect();
    assert_eq!(
        found,
        [
            "cycle: access::meter -> engine::run",
            "cycle: engine::run -> access::meter",
            "up: store::responses -> http::responses",
        ]
    );
}

/// Where SQL may be written: the implementations of the storage seam (and
/// the driver's errors turned into the seam's).
const SQL_HOMES: [&str; 3] = ["store/sqlite", "store/postgres", "store/driver_errors.rs"];

/// The lines outside [`SQL_HOMES`] that name `sqlx` or hold an SQL statement.
fn sql_outside_its_home(src: &Path) -> Vec<String> {
    let statement = [
        "SELECT ",
        "INSERT INTO",
        "DELETE FROM",
        "UPDATE ",
        "PRAGMA ",
    ];
    let outside = |relative: &str| !SQL_HOMES.iter().any(|home| relative.starts_with(home));
    lines_where(src, outside, without_comments, |line| {
        let mut quoted = line.split('"').skip(1).step_by(2);
        line.contains("sqlx")
            || quoted.any(|literal| statement.iter().any(|word| literal.starts_with(word)))
    })
}

/// The lines (`file: line`, paths relative to `src`) of the files `select`
/// picks, as `prepare` leaves their text, that `matches`.
fn lines_where(
    src: &Path,
    select: impl Fn(&str) -> bool,
    prepare: impl Fn(&str) -> String,
    matches: impl Fn(&str) -> bool,
) -> Vec<String> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut found = Vec::new();
    for file in files {
        let relative = file
            .strip_prefix(src)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        if !select(&relative) {
            continue;
        }
        let text = prepare(&std::fs::read_to_string(&file).unwrap());
        for line in text.lines().filter(|line| matches(line)) {
            found.push(format!("{relative}: {}", line.trim()));
        }
    }
    found
}

#[test]
fn sqlx_and_sql_live_only_in_the_store_implementations() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let found = sql_outside_its_home(&src);
    assert!(
        found.is_empty(),
        "sqlx or SQL outside {SQL_HOMES:?}:\n{}",
        found.join("\n")
    );
}

#[test]
fn sql_is_found_where_it_should_not_be() {
    let directory = tempfile::tempdir().unwrap();
    let engine = directory.path().join("engine");
    std::fs::create_dir_all(&engine).unwrap();
    std::fs::write(
        engine.join("mod.rs"),
        "fn f() { let q = \"SELECT id FROM responses\"; }\nuse sqlx::SqlitePool;\n// SELECT in a comment\n",
    )
    .unwrap();
    let home = directory.path().join(SQL_HOMES[0]);
    std::fs::create_dir_all(&home).unwrap();
    std::fs::write(home.join("mod.rs"), "const Q: &str = \"SELECT 1\";\n").unwrap();
    let found = sql_outside_its_home(directory.path());
    assert_eq!(found.len(), 2, "{found:?}");
}

/// Where SSE frames and stream events are written: the grammars.
const GRAMMAR_HOME: &str = "stream";

/// The lines outside [`GRAMMAR_HOME`] (test modules left out) that write an
/// SSE frame or a stream's error event by hand.
fn frames_outside_the_grammar(src: &Path) -> Vec<String> {
    let by_hand = [
        "\"event: ",
        "\"data: ",
        "\"type\": \"error\"",
        "\"type\":\"error\"",
    ];
    let outside =
        |relative: &str| !relative.starts_with(GRAMMAR_HOME) && !relative.ends_with("tests.rs");
    lines_where(
        src,
        outside,
        |text| without_comments(&without_tests(text)),
        |line| by_hand.iter().any(|pattern| line.contains(pattern)),
    )
}

#[test]
fn events_and_sse_frames_are_written_only_by_the_grammars() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let found = frames_outside_the_grammar(&src);
    assert!(
        found.is_empty(),
        "frames or events written outside {GRAMMAR_HOME}:\n{}",
        found.join("\n")
    );
}

#[test]
fn a_frame_written_by_hand_is_found() {
    let directory = tempfile::tempdir().unwrap();
    let http = directory.path().join("http");
    std::fs::create_dir_all(&http).unwrap();
    std::fs::write(
        http.join("kill.rs"),
        "fn f() -> String { format!(\"event: error\\ndata: {}\\n\\n\", 1) }\n#[cfg(test)]\nmod tests {\n    const T: &str = \"data: [DONE]\";\n}\n",
    )
    .unwrap();
    let grammar = directory.path().join(GRAMMAR_HOME);
    std::fs::create_dir_all(&grammar).unwrap();
    std::fs::write(
        grammar.join("sse.rs"),
        "const F: &str = \"data: [DONE]\";\n",
    )
    .unwrap();
    let found = frames_outside_the_grammar(directory.path());
    assert_eq!(found.len(), 1, "{found:?}");
}
