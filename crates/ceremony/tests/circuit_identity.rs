//! The identity check of a circuit set against its model (issue 19, item 8), as ceremony
//! verification uses it: every (op, chunk) must be mapped to a circuit it synthesises.

use std::path::PathBuf;

use zkopml_ceremony::{model::check_circuit_set, CeremonyError};
use zkopml_model::{compile_onnx, default_calibration, input::read_input_json};
use zkopml_zk::{
    circuit_set::CircuitSet, circuits::chunk::ChunkCircuit, groth16::circuit_info, ZkError,
};

#[test]
fn a_circuit_set_that_maps_a_chunk_to_another_circuit_is_refused() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/models/ezkl/1l_mlp/network.onnx");
    let sample = read_input_json(&path.with_file_name("input.json")).unwrap();
    let (_, program) =
        compile_onnx(&path, &default_calibration(sample.len(), Some(&sample))).unwrap();
    let (mut set, shapes) = CircuitSet::plan(&program).unwrap();
    for (meta, shape) in set.circuits.iter_mut().zip(shapes) {
        meta.id = circuit_info(ChunkCircuit::shape(shape)).unwrap().id_hex();
    }
    check_circuit_set(&program, &set, true).unwrap();

    // the last (op, chunk) mapped to the first circuit
    let last = set.entries.len() - 1;
    let (op, chunk) = (set.entries[last].op, set.entries[last].chunk);
    let mut forged = set.clone();
    let was = forged.entries[last].circuit;
    assert_ne!(was, 0);
    forged.entries[last].circuit = 0;
    forged.circuits[0].uses += 1;
    forged.circuits[was].uses -= 1;
    let err = check_circuit_set(&program, &forged, false).unwrap_err();
    assert!(
        matches!(
            &err,
            CeremonyError::Zk(ZkError::CircuitIdentity { op: o, chunk: c, circuit: 0, .. })
                if (*o, *c) == (op, chunk)
        ),
        "{err}"
    );

    // a circuit id that its chunks do not synthesise
    let mut ids = set.clone();
    ids.circuits[0].id = set.circuits[was].id.clone();
    let err = check_circuit_set(&program, &ids, true).unwrap_err();
    assert!(
        matches!(&err, CeremonyError::Zk(ZkError::CircuitIdentity { .. })),
        "{err}"
    );
}
