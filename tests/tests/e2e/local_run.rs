//! `make run` as a new user meets it: `scripts/run.sh` builds exactly what `make bench` (the
//! release build) and `make build` (the debug one) build, so that running it after either
//! compiles nothing; it starts cloop-notify with a demo configuration whose notices land in a
//! file it names; `CLOOP_SKIP_BUILD` is documented; `make help` says that `make tools` may
//! install Chromium with apt. (`scripts/quickstart-check.sh` runs the script itself.)

use std::path::PathBuf;

fn repository_file(path: &str) -> String {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    std::fs::read_to_string(root.join(path)).unwrap_or_else(|error| panic!("read {path}: {error}"))
}

/// The `cargo build` commands of a script or Makefile, with `$(CARGO)` and `$(FAILPOINTS)`
/// written out and spaces normalised.
fn build_commands(text: &str, failpoints: &str) -> Vec<String> {
    text.lines()
        .map(|line| {
            line.trim()
                .replace("$(CARGO)", "cargo")
                .replace("$(FAILPOINTS)", failpoints)
        })
        .filter(|line| line.starts_with("cargo build"))
        .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

fn failpoints(makefile: &str) -> String {
    makefile
        .lines()
        .find_map(|line| line.strip_prefix("FAILPOINTS := "))
        .expect("FAILPOINTS in the Makefile")
        .trim()
        .to_owned()
}

/// The recipe lines of one Makefile target.
fn recipe<'a>(makefile: &'a str, target: &str) -> Vec<&'a str> {
    let start = format!("{target}:");
    makefile
        .lines()
        .skip_while(|line| !line.starts_with(&start))
        .skip(1)
        .take_while(|line| line.starts_with('\t'))
        .collect()
}

#[test]
fn make_run_builds_what_make_bench_and_make_build_build() {
    let makefile = repository_file("Makefile");
    let run = repository_file("scripts/run.sh");
    let failpoints = failpoints(&makefile);
    let bench = build_commands(&recipe(&makefile, "bench").join("\n"), &failpoints);
    let build = build_commands(&recipe(&makefile, "build").join("\n"), &failpoints);
    assert_eq!(bench, ["cargo build --release --bins --locked"]);
    let script = build_commands(&run, &failpoints);
    assert_eq!(
        script,
        [bench[0].clone(), build[0].clone()],
        "scripts/run.sh must build exactly what `make bench` (release) and `make build` \
         (debug) build: another package list or feature set recompiles the workspace"
    );
}

#[test]
fn make_run_starts_notify_into_a_file_and_its_switches_are_documented() {
    let run = repository_file("scripts/run.sh");
    assert!(
        run.contains("\"$bin/cloop-notify\""),
        "run.sh starts cloop-notify"
    );
    assert!(run.contains("CLOOP_NOTIFY_TOKEN=demo-service"));
    assert!(run.contains("notices=$data/notify/notices.jsonl"));
    let demo = repository_file("deploy/config/demo.toml");
    assert!(
        demo.contains("[notify.file]\npath = \"notices.jsonl\""),
        "{demo}"
    );
    for document in ["README.md", "docs/operations.md"] {
        let text = repository_file(document);
        assert!(
            text.contains("CLOOP_SKIP_BUILD"),
            "{document} documents CLOOP_SKIP_BUILD"
        );
        assert!(
            text.contains("notices.jsonl"),
            "{document} says where notices go"
        );
    }
    let makefile = repository_file("Makefile");
    let tools = makefile
        .lines()
        .find(|line| line.starts_with("tools:"))
        .expect("the tools target");
    assert!(
        tools.contains("Chromium") && tools.contains("apt"),
        "`make help` says that `make tools` may install Chromium with apt: {tools}"
    );
}
