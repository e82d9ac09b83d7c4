//! Every input the fuzzers keep (`fuzz/seeds/<target>/` and every crash or
//! hang they found, `fuzz/regressions/<target>/`), run through the fuzz
//! targets' own code on stable Rust: a fixed bug stays fixed.

#[allow(dead_code, unreachable_pub, reason = "the fuzz targets' harness")]
#[path = "../../fuzz/src/lib.rs"]
mod harness;

use std::path::Path;

fn inputs(target: &str) -> Vec<(String, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let mut inputs = Vec::new();
    for kind in ["seeds", "regressions"] {
        let Ok(entries) = std::fs::read_dir(root.join(kind).join(target)) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("a directory entry").path();
            if path.is_file() {
                let data = std::fs::read(&path).expect("a readable input");
                inputs.push((path.display().to_string(), data));
            }
        }
    }
    inputs.sort();
    inputs
}

fn replay(target: &str, run: fn(&[u8])) {
    let inputs = inputs(target);
    assert!(!inputs.is_empty(), "no inputs kept for {target}");
    for (name, data) in inputs {
        eprintln!("{target}: {name}");
        run(&data);
    }
}

#[test]
fn headers() {
    replay("headers", harness::headers);
}

#[test]
fn requests() {
    replay("requests", harness::request);
}

#[test]
fn derive() {
    replay("derive", harness::derive);
}
