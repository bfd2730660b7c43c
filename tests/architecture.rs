//! The architecture invariants of STYLE §1, enforced by reading the sources
//! (in one crate the compiler cannot forbid an import):
//! - `stitch` and `attribute` never name `truth`, `world` or `observe`;
//! - the library never prints, never exits the process, never uses clap,
//!   anyhow or indicatif;
//! - no global, thread-local or entropy-seeded RNG anywhere under `src/`;
//! - the layers: a module names only the modules listed above it in the
//!   table of `src/lib.rs`'s doc comment (no loop, no upward arrow).
//!
//! The checks work on code only: comments are removed and string and char
//! literals blanked first, so prose such as "never name the truth" is allowed.
//! Each checker has unit tests showing it fires on a violation and stays quiet
//! on the same words in a comment.

use std::path::{Path, PathBuf};

// ---- reading the sources -----------------------------------------------------

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `dir`, sorted.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let entries =
            std::fs::read_dir(dir).unwrap_or_else(|e| panic!("read {}: {e}", dir.display()));
        for entry in entries {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|x| x == "rs") {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, &mut out);
    out.sort();
    out
}

/// Run `check` on every file, and fail listing every violation with its file.
fn assert_clean(files: &[PathBuf], what: &str, check: fn(&str) -> Vec<String>) {
    assert!(!files.is_empty(), "no source files found for: {what}");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut violations = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(file)
            .unwrap_or_else(|e| panic!("read {}: {e}", file.display()));
        let shown = file
            .strip_prefix(root)
            .unwrap_or(file)
            .display()
            .to_string();
        for v in check(&text) {
            violations.push(format!("  {shown}:{v}"));
        }
    }
    assert!(
        violations.is_empty(),
        "Architecture invariant broken ({what}):\n{}",
        violations.join("\n")
    );
}

// ---- a small lexer: code without comments and literals ------------------------

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The source with comments removed and the contents of string and char
/// literals replaced by spaces; newlines are kept so line numbers still hold.
fn code_only(src: &str) -> String {
    let cs: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len());
    let blank = |c: char, out: &mut String| out.push(if c == '\n' { '\n' } else { ' ' });
    let mut i = 0;
    while i < cs.len() {
        let c = cs[i];
        let next = cs.get(i + 1).copied();
        // Line comment (also `///` and `//!`).
        if c == '/' && next == Some('/') {
            while i < cs.len() && cs[i] != '\n' {
                i += 1;
            }
            continue;
        }
        // Block comment, nested.
        if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < cs.len() {
                if cs[i] == '/' && cs.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if cs[i] == '*' && cs.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    blank(cs[i], &mut out);
                    i += 1;
                }
            }
            out.push(' ');
            continue;
        }
        // Raw string: r"…", r#"…"#, br#"…"# (the `r` must start a token or follow a lone `b`).
        let starts_token = i == 0 || !is_ident_char(cs[i - 1]);
        let after_lone_b = i >= 1 && cs[i - 1] == 'b' && (i == 1 || !is_ident_char(cs[i - 2]));
        if c == 'r' && (starts_token || after_lone_b) {
            let mut j = i + 1;
            while cs.get(j) == Some(&'#') {
                j += 1;
            }
            if cs.get(j) == Some(&'"') {
                let hashes = j - i - 1;
                out.push_str("r\"");
                i = j + 1;
                while i < cs.len() {
                    if cs[i] == '"' && (1..=hashes).all(|k| cs.get(i + k) == Some(&'#')) {
                        i += 1 + hashes;
                        break;
                    }
                    blank(cs[i], &mut out);
                    i += 1;
                }
                out.push('"');
                continue;
            }
        }
        // String literal.
        if c == '"' {
            out.push('"');
            i += 1;
            while i < cs.len() && cs[i] != '"' {
                if cs[i] == '\\' {
                    blank(cs[i], &mut out);
                    i += 1;
                }
                if i < cs.len() {
                    blank(cs[i], &mut out);
                    i += 1;
                }
            }
            out.push('"');
            i += 1;
            continue;
        }
        // Char literal ('a', '\n', '\u{1F600}'); otherwise a lifetime ('a).
        if c == '\'' {
            let is_char = next == Some('\\') || cs.get(i + 2) == Some(&'\'');
            if is_char {
                out.push('\'');
                i += 1;
                while i < cs.len() && cs[i] != '\'' {
                    if cs[i] == '\\' {
                        i += 1;
                    }
                    i += 1;
                    out.push(' ');
                }
                out.push('\'');
                i += 1;
                continue;
            }
        }
        out.push(c);
        i += 1;
    }
    out
}

/// A token of code: an identifier, `::`, or one punctuation character.
#[derive(Debug)]
struct Token {
    text: String,
    line: usize,
}

fn tokens(src: &str) -> Vec<Token> {
    let code = code_only(src);
    let cs: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    let mut line = 1;
    let mut i = 0;
    while i < cs.len() {
        let c = cs[i];
        if c == '\n' {
            line += 1;
            i += 1;
        } else if c.is_whitespace() {
            i += 1;
        } else if is_ident_char(c) {
            let start = i;
            while i < cs.len() && is_ident_char(cs[i]) {
                i += 1;
            }
            let text: String = cs[start..i].iter().collect();
            // `r#ident` is the identifier `ident`: drop the `r#`.
            if text == "r"
                && cs.get(i) == Some(&'#')
                && cs.get(i + 1).is_some_and(|&c| is_ident_char(c))
            {
                i += 1;
                continue;
            }
            out.push(Token { text, line });
        } else if c == ':' && cs.get(i + 1) == Some(&':') {
            out.push(Token {
                text: "::".into(),
                line,
            });
            i += 2;
        } else {
            out.push(Token {
                text: c.to_string(),
                line,
            });
            i += 1;
        }
    }
    out
}

/// Text of token `i`, or "" outside the list.
fn tok(ts: &[Token], i: isize) -> &str {
    if i < 0 {
        return "";
    }
    ts.get(i as usize).map_or("", |t| t.text.as_str())
}

/// The `(start, end)` token ranges of every `use …;` declaration.
fn use_declarations(ts: &[Token]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    for (i, t) in ts.iter().enumerate() {
        if t.text == "use" {
            let end = (i..ts.len())
                .find(|&j| ts[j].text == ";")
                .unwrap_or(ts.len());
            out.push((i, end));
        }
    }
    out
}

// ---- the checkers ----------------------------------------------------------------

/// Modules a strategy must never name.
const HIDDEN_MODULES: [&str; 3] = ["truth", "world", "observe"];
/// Types that carry what only the simulation knows.
const HIDDEN_TYPES: [&str; 5] = ["Truth", "TrueLead", "World", "Observation", "EventPersons"];

/// Whether token `i` is a segment of a `::` path.
fn in_path(ts: &[Token], i: isize) -> bool {
    tok(ts, i - 1) == "::" || tok(ts, i + 1) == "::"
}

/// Uses of the `truth`, `world` or `observe` modules (or their types) in a
/// strategy's source, as `line: description`.
fn strategy_violations(src: &str) -> Vec<String> {
    let ts = tokens(src);
    let mut out = Vec::new();
    for (i, t) in ts.iter().enumerate() {
        let name = t.text.as_str();
        if HIDDEN_MODULES.contains(&name) && in_path(&ts, i as isize) {
            out.push(format!("{}: path through module `{name}`", t.line));
        }
        if HIDDEN_TYPES.contains(&name) {
            out.push(format!("{}: names the type `{name}`", t.line));
        }
    }
    // The last segment of an import: `use crate::{log, truth};`, `use super::super::world;`.
    for (start, end) in use_declarations(&ts) {
        for j in start..end {
            let name = ts[j].text.as_str();
            if HIDDEN_MODULES.contains(&name) && !in_path(&ts, j as isize) {
                out.push(format!("{}: imports module `{name}`", ts[j].line));
            }
        }
    }
    out
}

/// Crates only the binary may use.
const CLI_CRATES: [&str; 3] = ["clap", "anyhow", "indicatif"];
/// Macros that write to the terminal.
const PRINT_MACROS: [&str; 5] = ["println", "eprintln", "print", "eprint", "dbg"];

/// Terminal, argv and process concerns in library source, as `line: description`.
fn library_violations(src: &str) -> Vec<String> {
    let ts = tokens(src);
    let mut out = Vec::new();
    for (i, t) in ts.iter().enumerate() {
        let i = i as isize;
        let name = t.text.as_str();
        if CLI_CRATES.contains(&name) {
            out.push(format!("{}: uses `{name}` (binary only)", t.line));
        }
        // `println!(…)`, not `print != x`.
        if PRINT_MACROS.contains(&name) && tok(&ts, i + 1) == "!" && tok(&ts, i + 2) != "=" {
            out.push(format!("{}: prints with `{name}!`", t.line));
        }
        if name == "exit" && tok(&ts, i - 1) == "::" && tok(&ts, i - 2) == "process" {
            out.push(format!("{}: calls `process::exit`", t.line));
        }
        if (name == "stdout" || name == "stderr")
            && tok(&ts, i - 1) == "::"
            && tok(&ts, i - 2) == "io"
        {
            out.push(format!("{}: writes to `io::{name}`", t.line));
        }
        if name == "args" && tok(&ts, i - 1) == "::" && tok(&ts, i - 2) == "env" {
            out.push(format!("{}: reads argv with `env::args`", t.line));
        }
    }
    // `use std::process::{self, exit};`, `use std::io::{stdout, Write};`
    for (start, end) in use_declarations(&ts) {
        let names: Vec<&str> = ts[start..end].iter().map(|t| t.text.as_str()).collect();
        for (module, leaf) in [("process", "exit"), ("io", "stdout"), ("io", "stderr")] {
            let direct = names.windows(3).any(|w| w == [module, "::", leaf]);
            if names.contains(&module) && names.contains(&leaf) && !direct {
                out.push(format!("{}: imports `{module}::{leaf}`", ts[start].line));
            }
        }
    }
    out
}

/// Generators that are global, thread-local, entropy-seeded, or whose
/// algorithm may change between rand releases (StdRng, SmallRng).
const BANNED_RNG: [&str; 8] = [
    "thread_rng",
    "ThreadRng",
    "StdRng",
    "SmallRng",
    "from_entropy",
    "from_os_rng",
    "OsRng",
    "getrandom",
];

/// Free functions of `rand` that draw from its thread-local generator.
const THREAD_RNG_FNS: [&str; 7] = [
    "rng",
    "random",
    "random_range",
    "random_bool",
    "random_ratio",
    "random_iter",
    "fill",
];

/// Randomness that does not flow from the master seed, as `line: description`.
fn rng_violations(src: &str) -> Vec<String> {
    let ts = tokens(src);
    let mut out = Vec::new();
    for (i, t) in ts.iter().enumerate() {
        let i = i as isize;
        let name = t.text.as_str();
        if BANNED_RNG.contains(&name) {
            out.push(format!("{}: uses `{name}`", t.line));
        }
        // `rand::rng()`, `rand::random()`, `use rand::rng;`
        if THREAD_RNG_FNS.contains(&name) && tok(&ts, i - 1) == "::" && tok(&ts, i - 2) == "rand" {
            out.push(format!("{}: uses `rand::{name}`", t.line));
        }
    }
    // `use rand::{rng, Rng};`
    for (start, end) in use_declarations(&ts) {
        if tok(&ts, start as isize + 1) != "rand" || tok(&ts, start as isize + 3) != "{" {
            continue;
        }
        for t in &ts[start..end] {
            if THREAD_RNG_FNS.contains(&t.text.as_str()) {
                out.push(format!("{}: imports `rand::{}`", t.line, t.text));
            }
        }
    }
    out
}

/// The layer table of `src/lib.rs`: the first word of each line of the
/// doc comment's `text` block, top (lowest layer) first.
fn layers(lib_rs: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut inside = false;
    for line in lib_rs.lines() {
        let Some(doc) = line.strip_prefix("//!") else {
            continue;
        };
        let doc = doc.strip_prefix(' ').unwrap_or(doc);
        if doc.starts_with("```") {
            if inside {
                break;
            }
            inside = true;
            continue;
        }
        if inside && !doc.starts_with(char::is_whitespace) {
            if let Some(word) = doc.split_whitespace().next() {
                out.push(word.to_string());
            }
        }
    }
    out
}

/// Top-level modules a source file names through `crate::`: `crate::x::…`
/// and each item of `crate::{x, y::z}`, with their lines.
fn crate_modules(src: &str) -> Vec<(usize, String)> {
    let ts = tokens(src);
    let mut out = Vec::new();
    for i in 0..ts.len() {
        if ts[i].text != "crate" || tok(&ts, i as isize + 1) != "::" {
            continue;
        }
        let next = i + 2;
        if tok(&ts, next as isize) != "{" {
            if let Some(t) = ts.get(next) {
                out.push((t.line, t.text.clone()));
            }
            continue;
        }
        // A group: the first segment of every item at depth 1.
        let mut depth = 0;
        let mut item_start = true;
        for t in &ts[next..] {
            match t.text.as_str() {
                "{" => {
                    depth += 1;
                    item_start = depth == 1;
                    continue;
                }
                "}" => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                "," if depth == 1 => {
                    item_start = true;
                    continue;
                }
                name if depth == 1 && item_start && name != "self" => {
                    out.push((t.line, name.to_string()));
                }
                _ => {}
            }
            item_start = false;
        }
    }
    out
}

/// Upward or unknown arrows in a file of module `own`, given the layer
/// order, as `line: description`.
fn layer_violations(own: &str, order: &[String], src: &str) -> Vec<String> {
    let rank = |m: &str| order.iter().position(|x| x == m);
    let Some(own_rank) = rank(own) else {
        return vec![format!("0: module `{own}` is not in lib.rs's layer table")];
    };
    let mut out = Vec::new();
    for (line, m) in crate_modules(src) {
        match rank(&m) {
            Some(r) if r > own_rank => out.push(format!(
                "{line}: `{own}` names `{m}`, which is listed below it (an upward arrow)"
            )),
            Some(_) => {}
            None => out.push(format!(
                "{line}: `crate::{m}` is not a module of the layer table"
            )),
        }
    }
    out
}

// ---- the invariants ----------------------------------------------------------------

#[test]
fn strategies_never_name_truth_world_or_observe() {
    let mut files = rust_files(&src_dir().join("stitch"));
    files.extend(rust_files(&src_dir().join("attribute")));
    files.extend(rust_files(&src_dir().join("io/pathfile")));
    assert_clean(
        &files,
        "`stitch`, `attribute` and `pathfile` see only the log (STYLE §1)",
        strategy_violations,
    );
}

#[test]
fn the_library_never_prints_exits_or_uses_cli_crates() {
    let src = src_dir();
    let files: Vec<PathBuf> = rust_files(&src)
        .into_iter()
        .filter(|f| {
            f != &src.join("main.rs")
                && !f.starts_with(src.join("cli"))
                && !f.starts_with(src.join("bin"))
        })
        .collect();
    assert!(
        files.contains(&src.join("lib.rs")),
        "src/lib.rs not among the library files"
    );
    assert_clean(
        &files,
        "the library never prints, exits or depends on clap/anyhow/indicatif (STYLE §1)",
        library_violations,
    );
}

#[test]
fn all_randomness_flows_from_the_master_seed() {
    assert_clean(
        &rust_files(&src_dir()),
        "no global, thread-local or entropy RNG (STYLE §1, §4)",
        rng_violations,
    );
}

#[test]
fn each_module_names_only_the_layers_above_it() {
    let src = src_dir();
    let lib = std::fs::read_to_string(src.join("lib.rs")).expect("read lib.rs");
    let order = layers(&lib);
    let declared: Vec<String> = lib
        .lines()
        .filter_map(|l| l.strip_prefix("pub mod "))
        .map(|l| l.trim_end_matches(';').to_string())
        .collect();
    let mut sorted_order = order.clone();
    sorted_order.sort();
    let mut sorted_declared = declared.clone();
    sorted_declared.sort();
    assert_eq!(
        sorted_order, sorted_declared,
        "lib.rs's layer table and its `pub mod` lines must list the same modules"
    );
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut violations = Vec::new();
    for module in &order {
        let dir = src.join(module);
        let mut files = if dir.is_dir() {
            rust_files(&dir)
        } else {
            Vec::new()
        };
        let single = src.join(format!("{module}.rs"));
        if single.exists() {
            files.push(single);
        }
        assert!(!files.is_empty(), "no source for module `{module}`");
        for file in files {
            let text = std::fs::read_to_string(&file).expect("read source");
            let shown = file
                .strip_prefix(root)
                .unwrap_or(&file)
                .display()
                .to_string();
            for v in layer_violations(module, &order, &text) {
                violations.push(format!("  {shown}:{v}"));
            }
        }
    }
    assert!(
        violations.is_empty(),
        "Architecture invariant broken (layers point down only):\n{}",
        violations.join("\n")
    );
}

#[test]
fn layer_checker_catches_upward_arrows_in_paths_and_groups() {
    let order: Vec<String> = ["base", "log", "world", "report"]
        .map(String::from)
        .to_vec();
    let upward = "use crate::report::Stats;\nfn f() { crate::base::rng::x(); }\n";
    assert_eq!(layer_violations("world", &order, upward).len(), 1);
    let grouped = "use crate::{base::rng, report::{a, b}, log};\n";
    let v = layer_violations("log", &order, grouped);
    assert_eq!(v.len(), 1, "{v:?}");
    assert!(v[0].contains("`report`"), "{v:?}");
    assert!(layer_violations("report", &order, grouped).is_empty());
    assert_eq!(
        layer_violations("log", &order, "use crate::nowhere::X;").len(),
        1
    );
    // Prose and strings are not imports.
    assert!(
        layer_violations(
            "base",
            &order,
            "// crate::report\nlet s = \"crate::report\";"
        )
        .is_empty()
    );
    assert_eq!(
        layers(
            "//! ```text\n//! base  the floor\n//!       more words\n//! log   the log\n//! ```\npub mod base;"
        ),
        ["base", "log"]
    );
}

/// The binary's crates are optional and switched on only by the `cli`
/// feature, which the binary requires: an embedder who turns off default
/// features never builds clap, anyhow or indicatif.
#[test]
fn the_library_builds_without_the_cli_crates() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).expect("read Cargo.toml");
    let doc: toml::Table = text.parse().expect("Cargo.toml parses");
    let deps = doc["dependencies"].as_table().expect("[dependencies]");
    let features = doc["features"].as_table().expect("[features]");
    let cli: Vec<&str> = features["cli"]
        .as_array()
        .expect("a `cli` feature")
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    for krate in CLI_CRATES {
        let optional = deps[krate]
            .as_table()
            .and_then(|t| t.get("optional"))
            .and_then(|v| v.as_bool());
        assert_eq!(
            optional,
            Some(true),
            "`{krate}` must be an optional dependency"
        );
        let enabling: Vec<&String> = features
            .iter()
            .filter(|(_, list)| {
                list.as_array().is_some_and(|l| {
                    l.iter()
                        .any(|v| v.as_str() == Some(&format!("dep:{krate}")))
                })
            })
            .map(|(name, _)| name)
            .collect();
        assert_eq!(
            enabling,
            ["cli"],
            "only the `cli` feature may enable `{krate}`"
        );
        assert!(cli.contains(&format!("dep:{krate}").as_str()));
    }
    let bins = doc["bin"].as_array().expect("[[bin]]");
    for bin in bins {
        let required: Vec<&str> = bin
            .get("required-features")
            .and_then(|v| v.as_array())
            .map(|a| a.iter().filter_map(|v| v.as_str()).collect())
            .unwrap_or_default();
        assert!(
            required.contains(&"cli"),
            "every binary requires the `cli` feature"
        );
    }
}

// ---- the checkers can fail ------------------------------------------------------------

#[test]
fn strategy_checker_catches_imports_and_paths() {
    for bad in [
        "use crate::truth::Truth;",
        "use crate::truth;",
        "use crate::{log::EventLog, world};",
        "use super::super::observe;",
        "use super::super::truth::TRUTHS;",
        "fn f(w: &crate::world::World) {}",
        "let n = crate::observe::LOSS_MECHANISMS.len();",
        "fn f(t: &Truth) {}",
        "fn f(o: Observation) {}",
        "let x = 1; /* fine */ let t = world::generate();",
    ] {
        assert!(!strategy_violations(bad).is_empty(), "not caught: {bad}");
    }
}

#[test]
fn strategy_checker_ignores_prose_strings_and_lookalikes() {
    for ok in [
        "/// A stitcher must never name the truth, the world or the observe module.",
        "//! Must never: depend on truth::Truth or world::World.",
        "// use crate::truth::Truth;",
        "/* crate::world::World */ let x = 1;",
        "let x = 1; // observe::Observation is off limits",
        r#"let s = "truth::Truth";"#,
        r##"let s = r#"use crate::world;"#;"##,
        "let ground_truth = 1; let world_size = 2; let observed = 3;",
        "fn observe(&self) {} let y = self.observe();",
        "use crate::log::EventLog; let t: TruthTable = todo!();",
        "fn f<'a>(x: &'a str) -> &'a str { let q = '\"'; x } // truth::",
    ] {
        let v = strategy_violations(ok);
        assert!(v.is_empty(), "false alarm on {ok:?}: {v:?}");
    }
}

#[test]
fn library_checker_catches_printing_exits_and_cli_crates() {
    for bad in [
        "use clap::Parser;",
        "fn f() -> anyhow::Result<()> { Ok(()) }",
        "use indicatif::ProgressBar;",
        "println!(\"hi\");",
        "eprintln!(\"{x}\");",
        "print!(\"no newline\");",
        "eprint ! (\"spaced\");",
        "let y = dbg!(x);",
        "std::process::exit(1);",
        "use std::process::{self, exit};",
        "std::io::stdout().write_all(b\"x\");",
    ] {
        assert!(!library_violations(bad).is_empty(), "not caught: {bad}");
    }
}

#[test]
fn library_checker_ignores_prose_strings_and_lookalikes() {
    for ok in [
        "//! The library never prints (no println!), never calls std::process::exit.",
        "/// Unlike clap or anyhow, this is a library error.",
        "let msg = \"println!\"; let crate_name = \"anyhow\";",
        "if print != 0 { return; }",
        "let exit_code = 1; fn exit(&self) {}",
        "writeln!(out, \"{x}\")?;",
    ] {
        let v = library_violations(ok);
        assert!(v.is_empty(), "false alarm on {ok:?}: {v:?}");
    }
}

#[test]
fn rng_checker_catches_global_and_entropy_generators() {
    for bad in [
        "let mut r = rand::thread_rng();",
        "let mut r = rand::rng();",
        "let x: f64 = rand::random();",
        "use rand::{rng, Rng};",
        "let r = StdRng::seed_from_u64(1);",
        "let r = SmallRng::from_os_rng();",
        "let r = Xoshiro256PlusPlus::from_entropy();",
        "use rand::rngs::OsRng;",
    ] {
        assert!(!rng_violations(bad).is_empty(), "not caught: {bad}");
    }
}

#[test]
fn rng_checker_ignores_prose_and_seeded_generators() {
    for ok in [
        "/// Never thread_rng, rand::rng() or StdRng: one master seed.",
        "use rand::{Rng, SeedableRng}; use rand_xoshiro::Xoshiro256PlusPlus;",
        "let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);",
        "let u: f64 = stream.rng().random();",
        "fn rng(&mut self) -> &mut Xoshiro256PlusPlus { &mut self.rng }",
        "let s = \"OsRng\";",
    ] {
        let v = rng_violations(ok);
        assert!(v.is_empty(), "false alarm on {ok:?}: {v:?}");
    }
}

#[test]
fn the_lexer_keeps_code_and_line_numbers() {
    let src = "let a = 1; // truth::\n/* world::\n */ let b = \"observe::\";\nlet c = 'x';";
    let code = code_only(src);
    assert_eq!(code.lines().count(), src.lines().count());
    assert!(!code.contains("truth") && !code.contains("world") && !code.contains("observe"));
    assert!(code.contains("let a = 1;") && code.contains("let b =") && code.contains("let c ="));
    let ts = tokens("x\ny\n\nuse crate::truth;");
    let t = ts.iter().find(|t| t.text == "truth").unwrap();
    assert_eq!(t.line, 4);
    assert_eq!(
        strategy_violations("x\ny\n\nuse crate::truth;"),
        vec!["4: path through module `truth`"]
    );
}
