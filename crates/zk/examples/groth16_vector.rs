//! Writes `testdata/vectors/groth16.json` (or the path given as the first argument).
//!
//! `cargo run -p zkopml-zk --release --example groth16_vector`

use zkopml_zk::vectors::{groth16_vector_json, repo_root, GROTH16_VECTOR_FILE};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = match std::env::args_os().nth(1) {
        Some(p) => p.into(),
        None => repo_root().join(GROTH16_VECTOR_FILE),
    };
    std::fs::write(&path, groth16_vector_json()?)?;
    println!("wrote {}", path.display());
    Ok(())
}
