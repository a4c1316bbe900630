//! Plan figures of a compiled model without synthesising a circuit (what `zkopml setup --plan`
//! prints, less the constraint counts, so it stays quick on models of thousands of ops): ops,
//! table leaves, distinct circuits by kind (and those only one op uses: what grows with the
//! layers) and the step reading most chunks.
//!
//! `cargo run -p zkopml-zk --release --example plan_stats -- MODEL.zkml [baked|committed] [KIND]`
//! (with `KIND`, each circuit of that kind is listed with the ops that use it)
//! (a program from `zkopml compile [--weights committed]`).
use zkopml_model::Program;
use zkopml_zk::{circuit_set::CircuitSet, table::WeightsMode};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let path = args
        .get(1)
        .ok_or("usage: plan_stats MODEL.zkml [baked|committed] [KIND]")?;
    let program = Program::from_bytes(&std::fs::read(path)?)?;
    let mode = match args.get(2).map(String::as_str) {
        None | Some("baked") => WeightsMode::Baked,
        Some("committed") => WeightsMode::Committed,
        Some(other) => return Err(format!("weights mode {other}: baked or committed").into()),
    };
    let t = std::time::Instant::now();
    let (set, _) = CircuitSet::plan_in(&program, mode)?;
    let mut kinds: std::collections::BTreeMap<&str, usize> = Default::default();
    for c in &set.circuits {
        *kinds.entry(c.kind.as_str()).or_default() += 1;
    }
    let most = set
        .entries
        .iter()
        .max_by_key(|e| e.reads.len())
        .ok_or("the program has no ops")?;
    // circuits only one op uses: what grows with the layers (a circuit per shape is shared)
    let mut ops_of = vec![std::collections::BTreeSet::new(); set.circuits.len()];
    for e in &set.entries {
        ops_of[e.circuit].insert(e.op);
    }
    let mut single: std::collections::BTreeMap<&str, usize> = Default::default();
    for (c, ops) in set.circuits.iter().zip(&ops_of) {
        if ops.len() == 1 {
            *single.entry(c.kind.as_str()).or_default() += 1;
        }
    }
    // `plan_stats MODEL MODE KIND`: each circuit of that kind with the ops that use it
    if let Some(kind) = args.get(3) {
        for (i, (c, ops)) in set.circuits.iter().zip(&ops_of).enumerate() {
            if &c.kind == kind {
                let names: Vec<String> = ops
                    .iter()
                    .map(|&op| format!("{op} {}", program.ops[op - 1].name))
                    .collect();
                println!("circuit {i}: {}", names.join(", "));
            }
        }
    }
    println!("circuits by kind: {kinds:?}");
    println!("of them used by one op only: {single:?}");
    println!(
        "{} ops, {} table leaves, {} distinct circuits, most reads {} (op {} {}), planned in {:.1} s",
        program.n_ops(),
        set.entries.len(),
        set.circuits.len(),
        most.reads.len(),
        most.op,
        program.ops[most.op - 1].op.kind(),
        t.elapsed().as_secs_f64()
    );
    Ok(())
}
