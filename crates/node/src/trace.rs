//! The trace an actor computes for a request: the honest one, or one with a deliberate defect
//! at one (operator, output chunk) (a test and demo knob: only that operator is wrong, every
//! later operator is recomputed from the corrupted slot, so the dispute must end on it).

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use zkopml_chain::{TensorMeta, B256};
use zkopml_exec::commit::{
    canonical, pack_be, unpack_be, Leaves, TensorCommitment, TraceCommitment,
};
use zkopml_exec::{run, run_op, Trace};
use zkopml_model::{Program, Tensor, TensorSpec};

/// Add 1 to the first value of chunk `chunk` of slot `op` (canonical layout).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Defect {
    pub op: usize,
    pub chunk: usize,
}

/// A computed trace with its commitment.
pub struct Computed {
    pub trace: Trace,
    pub commitment: TraceCommitment,
}

impl Computed {
    pub fn final_root(&self) -> B256 {
        B256::from(self.commitment.final_root())
    }
    pub fn state_root(&self, i: usize) -> B256 {
        B256::from(self.commitment.state_roots[i])
    }
    /// The output values in the layout `submitResult` hashes (canonical).
    pub fn output_values(&self) -> Vec<i32> {
        canonical(self.trace.output())
    }
    /// The output's packed bytes (docs/commitments.md, "Boundary tensors"): the canonical
    /// values as big-endian `int32`, what an inline output is.
    pub fn output_bytes(&self) -> Vec<u8> {
        pack_be(&self.output_values())
    }
    /// What `submitResult` takes besides the output: the output's tensor root (slot n, keccak
    /// chunk leaves) and its path, the siblings of leaf n under the final state root.
    pub fn output_root_and_path(&self) -> (B256, Vec<B256>) {
        let n = self.commitment.tensors.len() - 1;
        let root = B256::from(self.commitment.tensors[n].root);
        let path = self
            .commitment
            .state_path(n, n)
            .into_iter()
            .map(B256::from)
            .collect();
        (root, path)
    }
}

/// The registry's geometry of a slot.
pub fn tensor_meta(spec: &TensorSpec) -> TensorMeta {
    TensorMeta {
        dims: spec.shape.iter().map(|&d| d as u32).collect(),
        scale: spec.scale,
        chunk_len: spec.chunk_len as u32,
    }
}

/// Index in ONNX (NCHW) order of the value at canonical position `q`.
fn logical_index(shape: &[usize], q: usize) -> usize {
    if shape.len() != 4 {
        return q;
    }
    let (c, h, w) = (shape[1], shape[2], shape[3]);
    let ch = q % c;
    let x = (q / c) % w;
    let y = (q / (c * w)) % h;
    let n = q / (c * w * h);
    ((n * c + ch) * h + y) * w + x
}

fn check_input_len(program: &Program, values: &[i32]) -> Result<()> {
    let spec = &program.input;
    if values.len() != spec.numel() {
        bail!(
            "the request's input has {} values, the model expects shape {:?} ({} values)",
            values.len(),
            spec.shape,
            spec.numel()
        );
    }
    Ok(())
}

/// The input tensor from the values of a request (canonical layout, as the contract hashes them).
pub fn input_from_canonical(program: &Program, values: &[i32]) -> Result<Tensor<i32>> {
    let spec = &program.input;
    check_input_len(program, values)?;
    let mut data = vec![0i32; values.len()];
    for (q, &v) in values.iter().enumerate() {
        data[logical_index(&spec.shape, q)] = v;
    }
    Ok(Tensor::new(spec.shape.clone(), data))
}

/// The bytes of an input stored by CID: its packed bytes (docs/commitments.md, "Boundary
/// tensors"), the values in canonical layout, each a big-endian `int32`; the same bytes as
/// an inline input (docs/node.md).
pub fn encode_input(values: &[i32]) -> Vec<u8> {
    pack_be(values)
}

/// Inverse of [`encode_input`].
pub fn decode_input(bytes: &[u8]) -> Result<Vec<i32>> {
    match unpack_be(bytes) {
        Some(v) => Ok(v),
        None => bail!(
            "a stored input is big-endian int32 values, but it has {} bytes (not a multiple of 4)",
            bytes.len()
        ),
    }
}

/// The tensor root of slot 0 for these input values (canonical layout): what the request
/// records (`tensorRootOf` inline, `tensorRootOfChunks` of the chunks root by CID).
pub fn input_root(program: &Program, values: &[i32]) -> Result<B256> {
    Ok(B256::from(input_commitment(program, values)?.root))
}

/// The root of slot 0's chunk tree (keccak leaves of the packed chunks) for these input
/// values: what `requestInferenceByRoot` takes (the contract binds it to the registered input
/// geometry).
pub fn input_chunks_root(program: &Program, values: &[i32]) -> Result<B256> {
    Ok(B256::from(input_commitment(program, values)?.chunks.root()))
}

/// Slot 0's commitment (a boundary tensor: keccak chunk leaves), as in the trace's.
fn input_commitment(program: &Program, values: &[i32]) -> Result<TensorCommitment> {
    check_input_len(program, values)?;
    Ok(TensorCommitment::from_canonical(
        &program.input,
        values,
        Leaves::Keccak,
    ))
}

/// Runs the program on `input` (ONNX layout), with `defect` if any, and commits the trace.
pub fn compute(program: &Program, input: Tensor<i32>, defect: Option<Defect>) -> Result<Computed> {
    let mut trace = run(program, input).context("running the model")?;
    if let Some(d) = defect {
        let n = program.n_ops();
        if d.op == 0 || d.op > n {
            bail!("defect at op {}: the model has ops 1..={n}", d.op);
        }
        let spec = program.slot_spec(d.op);
        if d.chunk >= spec.num_chunks() {
            bail!(
                "defect at op {} chunk {}: that slot has {} chunks",
                d.op,
                d.chunk,
                spec.num_chunks()
            );
        }
        let slot = &mut trace.slots[d.op];
        let i = logical_index(&slot.shape, d.chunk * spec.chunk_len);
        slot.data[i] = if slot.data[i] == i32::MAX {
            slot.data[i] - 1
        } else {
            slot.data[i] + 1
        };
        for op in d.op + 1..=n {
            let y = run_op(op, &program.ops[op - 1], &trace.slots[..op])
                .with_context(|| format!("recomputing op {op} after the defect"))?;
            trace.slots[op] = y;
        }
    }
    let commitment = TraceCommitment::new(program, &trace).context("committing the trace")?;
    Ok(Computed { trace, commitment })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_input_round_trips_and_rejects_ragged_bytes() {
        let v = vec![0, -1, i32::MAX, i32::MIN, 12345];
        assert_eq!(decode_input(&encode_input(&v)).unwrap(), v);
        // the packed bytes: big-endian int32, two's complement
        assert_eq!(
            hex::encode(encode_input(&[1, -1, i32::MIN])),
            "00000001ffffffff80000000"
        );
        let err = decode_input(&[1, 2, 3]).unwrap_err().to_string();
        assert!(err.contains("not a multiple of 4"), "{err}");
    }

    #[test]
    fn logical_index_inverts_canonical() {
        let shape = vec![2, 3, 4, 5];
        let data: Vec<i32> = (0..120).collect();
        let t = Tensor::new(shape.clone(), data);
        let c = canonical(&t);
        for (q, &v) in c.iter().enumerate() {
            assert_eq!(logical_index(&shape, q), v as usize);
        }
    }

    /// `y [1, 6] = x [1, 6] · w + b` then ReLU: slot 0 and slot 2 are boundary tensors.
    fn small() -> Program {
        use zkopml_model::{DType, QNode, QOp, QOperand};
        let spec = |chunk_len| TensorSpec {
            chunk_len,
            ..TensorSpec::new(vec![1, 6], DType::Float, 0)
        };
        let w: Vec<i64> = (0..36).map(|i| (i % 5) - 2).collect();
        Program {
            format_version: zkopml_model::program::FORMAT_VERSION,
            inputs: vec![],
            input: spec(4),
            outputs: vec![2],
            ops: vec![
                QNode {
                    name: "gemm".into(),
                    onnx_op: "Gemm".into(),
                    op: QOp::Gemm {
                        weight: Tensor::new(vec![6, 6], w),
                        bias: vec![1, -2, 3, -4, 5, -6],
                        shift: 0,
                    },
                    inputs: vec![QOperand::Slot(0)],
                    out: spec(4),
                    macs: 0,
                },
                QNode {
                    name: "relu".into(),
                    onnx_op: "Relu".into(),
                    op: QOp::Relu,
                    inputs: vec![QOperand::Slot(1)],
                    out: spec(4),
                    macs: 0,
                },
            ],
        }
    }

    #[test]
    fn input_and_output_roots_are_the_traces_boundary_commitments() {
        use zkopml_exec::commit::{boundary_leaf, verify_path};
        let p = small();
        let values = vec![3, -1, 4, -1, 5, -9];
        let c = compute(&p, input_from_canonical(&p, &values).unwrap(), None).unwrap();
        let t0 = &c.commitment.tensors[0];
        assert_eq!(
            t0.leaves,
            vec![boundary_leaf(&values[..4]), boundary_leaf(&values[4..])]
        );
        assert_eq!(input_root(&p, &values).unwrap(), B256::from(t0.root));
        assert_eq!(
            input_chunks_root(&p, &values).unwrap(),
            B256::from(t0.chunks.root())
        );
        assert!(input_root(&p, &values[..5]).is_err());

        let out = c.output_values();
        assert_eq!(c.output_bytes(), encode_input(&out));
        let (root, path) = c.output_root_and_path();
        let tn = &c.commitment.tensors[2];
        assert_eq!(tn.leaves[1], boundary_leaf(&out[4..]));
        assert_eq!(root, B256::from(tn.root));
        let path: Vec<[u8; 32]> = path.iter().map(|w| w.0).collect();
        assert_eq!(path.len(), p.state_depth() as usize);
        assert!(verify_path(&tn.root, 2, &path, &c.commitment.final_root()));
    }
}
