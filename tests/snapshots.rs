//! One insta snapshot per example with every generated file, under `snapshots/`. A change
//! to the output shows up as a reviewable snapshot diff (`cargo insta review`).

mod common;

use common::*;

fn settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path(root().join("snapshots"));
    s.set_prepend_module_to_snapshot(false);
    s.set_omit_expression(true);
    s
}

#[test]
fn every_example_output_is_snapshotted() {
    for ex in examples() {
        // A fixed folder: the header names the spec relative to it.
        let dir = root().join("target/test-scratch/snapshots").join(ex.trim_start_matches("examples/"));
        let _ = std::fs::remove_dir_all(&dir);
        let o = aimgen(&["render", &ex, "-o", dir.to_str().expect("utf-8")]);
        assert!(o.status.success(), "{ex}: {}", stderr(&o));
        let mut all = String::new();
        for (path, text) in read_tree(&dir) {
            all.push_str(&format!("===== {path} =====\n{text}"));
        }
        let name = ex.trim_start_matches("examples/").trim_end_matches(".yaml").to_string();
        settings().bind(|| insta::assert_snapshot!(format!("render-{name}"), all));
    }
}

#[test]
fn every_example_kubernetes_manifests_are_snapshotted() {
    for ex in examples() {
        let dir = root().join("target/test-scratch/snapshots-kubernetes").join(ex.trim_start_matches("examples/"));
        let _ = std::fs::remove_dir_all(&dir);
        let o = aimgen(&["render", &ex, "--target", "kubernetes", "-o", dir.to_str().expect("utf-8")]);
        assert!(o.status.success(), "{ex}: {}", stderr(&o));
        let mut all = String::new();
        for (path, text) in read_tree(&dir) {
            all.push_str(&format!("===== {path} =====\n{text}"));
        }
        let name = ex.trim_start_matches("examples/").trim_end_matches(".yaml").to_string();
        settings().bind(|| insta::assert_snapshot!(format!("render-kubernetes-{name}"), all));
    }
}

#[test]
fn help_is_snapshotted() {
    for args in [vec!["--help"], vec!["render", "--help"], vec!["check", "--help"]] {
        let o = aimgen(&args);
        let name = format!("help-{}", args.join("-").trim_start_matches("--").replace("--", ""));
        settings().bind(|| insta::assert_snapshot!(name, stdout(&o)));
    }
}

#[test]
fn every_example_plan_is_snapshotted() {
    // The resolved facts every target renders from, as JSON: a second target reuses exactly
    // these, and a change in resolution shows here apart from any target's layout.
    for ex in examples() {
        let compiled = aimgen::compile::compile_file(&root().join(&ex), &ex, &aimgen::compile::Options::default())
            .unwrap_or_else(|e| panic!("{ex}: {e:?}"));
        let json = serde_json::to_string_pretty(&compiled.resolution.plan).expect("the plan serializes");
        let name = ex.trim_start_matches("examples/").trim_end_matches(".yaml").to_string();
        settings().bind(|| insta::assert_snapshot!(format!("plan-{name}"), format!("{json}\n")));
    }
}
