//! Replays every kept fuzz input on stable Rust: the corpora the fuzzers
//! grew (`fuzz/corpus/<target>/`) and the inputs that once crashed a parser
//! (`fuzz/regressions/<target>/`). The checks are the fuzz targets' own.

#[path = "../../../fuzz/src/lib.rs"]
mod targets;

use std::path::Path;

fn replay(folder: &str) -> usize {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz").join(folder);
    let mut replayed = 0;
    for (name, check) in targets::TARGETS {
        let Ok(entries) = std::fs::read_dir(root.join(name)) else { continue };
        for entry in entries {
            let path = entry.expect("corpus entry").path();
            // A running fuzzer may replace corpus files meanwhile.
            let Ok(data) = std::fs::read(&path) else { continue };
            let outcome = std::panic::catch_unwind(|| check(&data));
            assert!(outcome.is_ok(), "{name} panics on {}", path.display());
            replayed += 1;
        }
    }
    replayed
}

#[test]
fn every_corpus_input_is_answered_without_a_panic() {
    let n = replay("corpus");
    assert!(n >= targets::TARGETS.len(), "each target has a corpus; replayed {n}");
}

#[test]
fn every_input_that_once_crashed_is_answered_now() {
    replay("regressions");
}
