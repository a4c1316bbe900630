//! The circuit table against the executor: every (operator, output chunk) circuit of the
//! testdata models computes exactly the executor's output chunk from the chunks it reads,
//! and LeNet's circuits are satisfied by the honest trace and by nothing else.

use std::{collections::BTreeMap, path::PathBuf};

use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystem};
use zkopml_exec::commit::chunk_values;
use zkopml_model::{compile_onnx, default_calibration, input::read_input_json, Program, Tensor};
use zkopml_zk::{
    circuits::chunk::{ChunkCircuit, ChunkOp},
    native::chunk_digest,
    table::{op_chunk, read_chunks},
    Fr, ZkError,
};

fn compiled(dir: &str) -> (Program, Vec<Tensor<i32>>) {
    try_compiled(dir).unwrap_or_else(|e| panic!("{dir}: {e}"))
}

/// The compiled model and its trace on the sample input, or why the compiler refused it.
fn try_compiled(dir: &str) -> Result<(Program, Vec<Tensor<i32>>), String> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/models")
        .join(dir)
        .join("network.onnx");
    let sample = read_input_json(&path.with_file_name("input.json")).map_err(|e| e.to_string())?;
    let (_, p) = compile_onnx(&path, &default_calibration(sample.len(), Some(&sample)))
        .map_err(|e| e.to_string())?;
    let x = zkopml_exec::quantise_input(&p, &sample).map_err(|e| e.to_string())?;
    let trace = zkopml_exec::run(&p, x).map_err(|e| e.to_string())?;
    Ok((p, trace.slots))
}

/// Checks every chunk the table can build; returns the kinds it cannot prove yet.
fn check_model(dir: &str) -> BTreeMap<&'static str, usize> {
    let (p, slots) = compiled(dir);
    check_program(dir, &p, &slots)
}

fn check_program(dir: &str, p: &Program, slots: &[Tensor<i32>]) -> BTreeMap<&'static str, usize> {
    let mut missing = BTreeMap::new();
    for op in 1..=p.n_ops() {
        let spec = &p.ops[op - 1].out;
        for chunk in 0..spec.num_chunks() {
            match op_chunk(p, op, chunk) {
                Ok((c, reads)) => {
                    let inputs = read_chunks(p, slots, &reads);
                    assert_eq!(
                        c.input_lens(),
                        inputs.iter().map(Vec::len).collect::<Vec<_>>(),
                        "{dir} op {op}"
                    );
                    let y = c
                        .evaluate(&inputs)
                        .unwrap_or_else(|e| panic!("{dir} op {op} chunk {chunk}: {e}"));
                    assert_eq!(
                        y,
                        chunk_values(spec, &slots[op], chunk),
                        "{dir} op {op} ({}) chunk {chunk}",
                        c.kind()
                    );
                }
                Err(ZkError::Unsupported { kind, .. }) => *missing.entry(kind).or_default() += 1,
                Err(e) => panic!("{dir} op {op} chunk {chunk}: {e}"),
            }
        }
    }
    missing
}

#[test]
fn every_chunk_circuit_computes_the_executors_chunk() {
    for dir in ["lenet_5", "conv2d", "variable_cnn"] {
        let missing = check_model(dir);
        assert!(missing.is_empty(), "{dir}: no circuit for {missing:?}");
    }
    for dir in [
        "ezkl/1l_average",
        "ezkl/1l_concat",
        "ezkl/1l_flatten",
        "ezkl/1l_max_pool",
        "ezkl/1l_mean",
        "ezkl/1l_pad",
        "ezkl/1l_reshape",
        "ezkl/1l_slice",
        "ezkl/1l_relu",
        "ezkl/1l_linear",
        "ezkl/1l_conv",
        "ezkl/1l_mlp",
        "ezkl/clip",
        "ezkl/1l_leakyrelu",
        "ezkl/2l_relu_fc",
        "ezkl/1l_batch_norm",
    ] {
        let missing = check_model(dir);
        eprintln!("{dir}: without a circuit: {missing:?}");
    }
    let missing = check_model("xgboost");
    assert!(missing.is_empty(), "xgboost: no circuit for {missing:?}");
}

/// The models that use comparisons, Where, Div, Sqrt, the piecewise polynomials, Softmax,
/// dynamic Gather/GatherElements and ArgMax: every op has a circuit, equal to the executor.
#[test]
fn models_with_data_dependent_ops_have_every_circuit() {
    for dir in [
        "xgboost",
        "ezkl/less",
        "ezkl/gather_elements",
        "ezkl/1l_where",
        "ezkl/1l_div",
        "ezkl/1l_sqrt",
        "ezkl/1l_sigmoid",
        "ezkl/1l_softmax",
        "ezkl/1l_tanh",
        "ezkl/1l_erf",
        "ezkl/1l_gelu_noappx",
        "ezkl/1l_eltwise_div",
        "ezkl/decision_tree",
    ] {
        let (p, slots) = match try_compiled(dir) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("{dir}: refused by the compiler: {e}");
                continue;
            }
        };
        let kinds: BTreeMap<&str, usize> = p.ops.iter().fold(BTreeMap::new(), |mut m, n| {
            *m.entry(n.op.kind()).or_default() += 1;
            m
        });
        let missing = check_program(dir, &p, &slots);
        eprintln!("{dir}: ops {kinds:?}");
        assert!(missing.is_empty(), "{dir}: no circuit for {missing:?}");
    }
}

fn satisfied<O: ChunkOp>(c: ChunkCircuit<O>) -> (bool, usize) {
    let cs = ConstraintSystem::<Fr>::new_ref();
    c.generate_constraints(cs.clone()).unwrap();
    (cs.is_satisfied().unwrap(), cs.num_constraints())
}

#[test]
fn lenet_chunks_satisfy_their_circuits_and_a_wrong_output_does_not() {
    chunks_satisfy_their_circuits("lenet_5");
}

#[test]
fn xgboost_chunks_satisfy_their_circuits_and_a_wrong_output_does_not() {
    chunks_satisfy_their_circuits("xgboost");
}

#[test]
fn ezkl_data_dependent_chunks_satisfy_their_circuits() {
    for dir in [
        "ezkl/less",
        "ezkl/1l_where",
        "ezkl/1l_div",
        "ezkl/1l_sqrt",
        "ezkl/1l_sigmoid",
        "ezkl/1l_softmax",
        "ezkl/1l_tanh",
        "ezkl/1l_erf",
        "ezkl/1l_gelu_noappx",
        "ezkl/1l_eltwise_div",
        "ezkl/decision_tree",
    ] {
        if try_compiled(dir).is_ok() {
            chunks_satisfy_their_circuits(dir);
        }
    }
}

/// Every chunk circuit of the model is satisfied by the honest trace, and not by the output
/// chunk with one value changed.
fn chunks_satisfy_their_circuits(dir: &str) {
    let (p, slots) = compiled(dir);
    for op in 1..=p.n_ops() {
        let spec = &p.ops[op - 1].out;
        for chunk in 0..spec.num_chunks() {
            let (c, reads) = op_chunk(&p, op, chunk).unwrap();
            let inputs = read_chunks(&p, &slots, &reads);
            let honest = ChunkCircuit::new(c.clone(), inputs.clone()).unwrap();
            let publics = ChunkCircuit::public_inputs(&c, &inputs).unwrap();
            let y = chunk_values(spec, &slots[op], chunk);
            assert_eq!(publics.last(), Some(&chunk_digest(&y)));
            let (ok, n) = satisfied(honest);
            assert!(ok, "{dir} op {op} chunk {chunk}");
            eprintln!(
                "{dir} op {op:2} {:8} ({}) chunk {chunk}: {n} constraints, reads {reads:?}",
                c.kind(),
                p.ops[op - 1].op.kind(),
            );
            let mut bad = y.clone();
            bad[y.len() / 2] += 1;
            let mut claim = publics.clone();
            *claim.last_mut().unwrap() = chunk_digest(&bad);
            assert!(
                !satisfied(ChunkCircuit::with_claim(c.clone(), inputs, claim)).0,
                "{dir} op {op} chunk {chunk}"
            );
        }
    }
}

#[test]
fn interior_chunks_share_a_circuit() {
    let (p, _) = compiled("conv2d");
    for op in 1..=p.n_ops() {
        let n = p.ops[op - 1].out.num_chunks();
        let keys: std::collections::BTreeSet<[u8; 32]> = (0..n)
            .map(|j| op_chunk(&p, op, j).unwrap().0.structure_key())
            .collect();
        eprintln!(
            "conv2d op {op} ({}): {n} chunks, {} circuits",
            p.ops[op - 1].op.kind(),
            keys.len()
        );
        assert!(
            keys.len() <= 3,
            "op {op}: {} distinct circuits for {n} chunks",
            keys.len()
        );
    }
}
