//! Rank-4 chunk geometry (docs/commitments.md): whole rows when they are small, else a power of
//! two of pixels, then narrowed until every windowed and elementwise operator reads its inputs
//! at the same offsets from every interior output chunk.

use std::path::PathBuf;
use zkopml_model::input::read_input_json;
use zkopml_model::program::default_chunk_pixels;
use zkopml_model::{compile_onnx, default_calibration, Program, QOp, QOperand};

fn compiled(name: &str) -> Program {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/models")
        .join(name)
        .join("network.onnx");
    let sample = read_input_json(&path.with_file_name("input.json")).unwrap();
    compile_onnx(&path, &default_calibration(sample.len(), Some(&sample)))
        .unwrap()
        .1
}

#[test]
fn default_pixels_per_chunk() {
    assert_eq!(default_chunk_pixels(28, 1), 28); // LeNet's input: a whole row
    assert_eq!(default_chunk_pixels(32, 64), 32); // exactly 2048 values: still a whole row
    assert_eq!(default_chunk_pixels(112, 96), 16); // 112 = 16·7; 16·96 = 1536
    assert_eq!(default_chunk_pixels(56, 144), 8); // 8·144 = 1152; 16 does not divide 56
    assert_eq!(default_chunk_pixels(7, 1280), 1);
    assert_eq!(default_chunk_pixels(3, 4096), 1); // one pixel even when it exceeds 2048 values
}

/// Every rule of `align_chunks`, checked on the compiled program.
fn assert_aligned(p: &Program) {
    for (i, node) in p.ops.iter().enumerate() {
        if node.op.is_elementwise() {
            for x in node.input_slots() {
                let x = p.slot_spec(x);
                if x.shape == node.out.shape {
                    assert_eq!(
                        x.chunk_len,
                        node.out.chunk_len,
                        "op {}: elementwise chunks differ",
                        i + 1
                    );
                }
            }
        }
        let Some(p_out) = node.out.chunk_pixels() else {
            continue;
        };
        assert_eq!(
            node.out.shape[3] % p_out,
            0,
            "op {} chunk straddles rows",
            i + 1
        );
        let stride = match &node.op {
            QOp::Conv { window, .. }
            | QOp::MaxPool { window }
            | QOp::AveragePool { window, .. } => Some(window.strides[1]),
            _ => None,
        };
        if let (Some(s), Some(QOperand::Slot(x))) = (stride, node.inputs.first()) {
            let p_in = p.slot_spec(*x).chunk_pixels().unwrap();
            if p_out < node.out.shape[3] {
                assert_eq!(
                    (s * p_out) % p_in,
                    0,
                    "op {}: P_in {p_in} does not divide {s}·{p_out}",
                    i + 1
                );
            }
        }
    }
}

/// Committed weights narrow a Gemm's output chunks to whole columns of one row that read few
/// enough weights; the Relu after it follows; a Gemm that fits keeps its chunks, and a program
/// where every Gemm fits is unchanged (so baked programs keep their hashes).
#[test]
fn gemm_chunks_narrow_to_a_weight_budget() {
    let p = compiled("lenet_5");
    let mut unchanged = p.clone();
    unchanged.lay_out_gemm_weights(|_, _| true);
    assert_eq!(unchanged, p);

    let budget = 27_000;
    let mut q = p.clone();
    q.lay_out_gemm_weights(|k, columns| k * columns <= budget);
    assert_aligned(&q);
    let mut narrowed = 0;
    for (i, (before, after)) in p.ops.iter().zip(&q.ops).enumerate() {
        let QOp::Gemm { weight, .. } = &after.op else {
            if !after.op.is_elementwise() {
                assert_eq!(
                    before.out,
                    after.out,
                    "op {} is no Gemm and not elementwise",
                    i + 1
                );
            }
            continue;
        };
        let (k, n) = (weight.shape[0], weight.shape[1]);
        if k * n.min(before.out.chunk_len) <= budget {
            assert_eq!(
                before.out,
                after.out,
                "op {}: a Gemm that fits keeps its chunks",
                i + 1
            );
            continue;
        }
        narrowed += 1;
        let len = after.out.chunk_len;
        assert_eq!(n % len, 0, "op {}: a chunk stays in one row", i + 1);
        assert!(k * len <= budget);
        let g = gcd(n, before.out.chunk_len);
        assert_eq!(g % len, 0, "op {}: divides the shape's chunks", i + 1);
        assert!(
            (len + 1..=g).all(|d| g % d != 0 || k * d > budget),
            "op {}: the widest",
            i + 1
        );
    }
    // LeNet's 400 -> 120: 48,000 weights in one chunk before, 60 columns (24,000) after
    assert_eq!(narrowed, 1);
    let wide = q
        .ops
        .iter()
        .find(|n| matches!(&n.op, QOp::Gemm { weight, .. } if weight.shape == [400, 120]));
    assert_eq!(wide.unwrap().out.chunk_len, 60);
}

#[test]
fn mobilenet_chunks_are_small_and_aligned() {
    let p = compiled("mobilenet_v2");
    assert_aligned(&p);
    for s in 0..=p.n_ops() {
        let spec = p.slot_spec(s);
        if spec.shape.len() == 4 {
            assert!(
                spec.chunk_len <= 2048 || spec.chunk_pixels() == Some(1),
                "slot {s}: {} values per chunk",
                spec.chunk_len
            );
        }
    }
    // the input (224 × 3 = 672 values per row) is narrowed to 32 pixels for the stride-2 first Conv
    // whose output chunks hold 16 pixels of 32 channels
    assert_eq!(p.input.chunk_pixels(), Some(32));
    assert_eq!(p.ops[0].out.chunk_pixels(), Some(16));
}

#[test]
fn small_rows_stay_whole() {
    for name in ["lenet_5", "conv2d", "variable_cnn"] {
        let p = compiled(name);
        assert_aligned(&p);
        for s in 0..=p.n_ops() {
            let spec = p.slot_spec(s);
            if spec.shape.len() == 4 {
                assert_eq!(spec.chunk_pixels(), Some(spec.shape[3]), "{name} slot {s}");
            }
        }
    }
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// A Gemm that narrowing would cut too finely becomes column slices of the widest width that
/// fits, joined by Concats that each read at most `MAX_CONCAT_READS` parts; the slices hold the
/// layer's weights and bias column by column, the root Concat writes the old output (name, spec)
/// and the operators after it read the new slot.
#[test]
fn a_wide_gemm_becomes_column_slices_joined_by_concats() {
    use zkopml_model::weights_layout::MAX_CONCAT_READS;
    use zkopml_model::{DType, QNode, Tensor, TensorSpec};
    let (k, n) = (50, 60);
    let weight = Tensor::new(vec![k, n], (0..(k * n) as i64).collect());
    let bias: Vec<i64> = (0..n as i64).map(|c| -c).collect();
    let p = Program {
        format_version: zkopml_model::program::FORMAT_VERSION,
        inputs: vec![],
        input: TensorSpec::new(vec![7, k], DType::Float, 8),
        outputs: vec![2],
        ops: vec![
            QNode {
                name: "fc".into(),
                onnx_op: "MatMul".into(),
                op: QOp::Gemm {
                    weight: weight.clone(),
                    bias: bias.clone(),
                    shift: 8,
                },
                inputs: vec![QOperand::Slot(0)],
                out: TensorSpec::new(vec![7, n], DType::Float, 8),
                macs: (7 * k * n) as u64,
            },
            QNode {
                name: "relu".into(),
                onnx_op: "Relu".into(),
                op: QOp::Relu,
                inputs: vec![QOperand::Slot(1)],
                out: TensorSpec::new(vec![7, n], DType::Float, 8),
                macs: 0,
            },
        ],
    };
    let mut q = p.clone();
    // 2 columns fit: 30 slices (narrowing would cut the 420-value chunk into 210)
    q.lay_out_gemm_weights(|k, columns| k * columns <= 100);
    let slices: Vec<&QNode> = q
        .ops
        .iter()
        .filter(|n| matches!(n.op, QOp::Gemm { .. }))
        .collect();
    assert_eq!(slices.len(), 30);
    for (j, s) in slices.iter().enumerate() {
        let QOp::Gemm {
            weight: w, bias: b, ..
        } = &s.op
        else {
            unreachable!()
        };
        assert_eq!(w.shape, vec![k, 2]);
        for t in 0..k {
            assert_eq!(
                w.data[2 * t..2 * t + 2],
                weight.data[t * n + 2 * j..t * n + 2 * j + 2]
            );
        }
        assert_eq!(b[..], bias[2 * j..2 * j + 2]);
        assert_eq!(s.name, format!("fc[columns {}..{}]", 2 * j, 2 * j + 2));
        assert_eq!(s.out.shape, vec![7, 2]);
        assert_eq!(s.out.chunk_len, 14, "all 7 rows, as the old chunk held");
    }
    assert_eq!(slices.iter().map(|s| s.macs).sum::<u64>(), p.ops[0].macs);
    for node in &q.ops {
        if let QOp::Concat { axis, shifts } = &node.op {
            assert_eq!(*axis, 1);
            assert!(shifts.len() <= MAX_CONCAT_READS && shifts.iter().all(|&s| s == 0));
        }
    }
    let root = q.n_ops() - 1;
    assert_eq!(q.ops[root - 1].name, "fc");
    assert_eq!(q.ops[root - 1].out, p.ops[0].out);
    assert_eq!(q.ops[root].inputs, vec![QOperand::Slot(root)]);
    assert_eq!(q.outputs, vec![q.n_ops()]);
}

/// The narrowing gate counts the pieces an old chunk becomes, also when it spans rows: a
/// [10, 20] output in one chunk of 200 values with 5 columns fitting would become 40 chunks
/// (not 20 / 5 = 4), so it is sliced. A width that no fitting divisor of N comes near is taken
/// as it is, with a narrower last slice.
#[test]
fn chunks_spanning_rows_slice_and_slices_need_not_divide_n() {
    use zkopml_model::{DType, QNode, Tensor, TensorSpec};
    let gemm = |rows: usize, k: usize, n: usize| Program {
        format_version: zkopml_model::program::FORMAT_VERSION,
        inputs: vec![],
        input: TensorSpec::new(vec![rows, k], DType::Float, 8),
        outputs: vec![1],
        ops: vec![QNode {
            name: "fc".into(),
            onnx_op: "Gemm".into(),
            op: QOp::Gemm {
                weight: Tensor::new(vec![k, n], (0..(k * n) as i64).collect()),
                bias: (0..n as i64).collect(),
                shift: 8,
            },
            inputs: vec![QOperand::Slot(0)],
            out: TensorSpec::new(vec![rows, n], DType::Float, 8),
            macs: (rows * k * n) as u64,
        }],
    };
    let widths = |p: &Program| -> Vec<usize> {
        p.ops
            .iter()
            .filter_map(|node| match &node.op {
                QOp::Gemm { weight, .. } => Some(weight.shape[1]),
                _ => None,
            })
            .collect()
    };
    let mut p = gemm(10, 50, 20);
    assert_eq!(p.ops[0].out.chunk_len, 200);
    p.lay_out_gemm_weights(|k, columns| k * columns <= 250);
    assert_eq!(widths(&p), vec![5; 4], "sliced, not narrowed to 40 chunks");

    // N = 14: the fitting divisors are 1, 2; 5 columns fit: slices of 5, 5, 4
    let mut p = gemm(3, 10, 14);
    p.lay_out_gemm_weights(|k, columns| k * columns <= 50);
    assert_eq!(widths(&p), vec![5, 5, 4]);
    let QOp::Gemm { weight, bias, .. } = &p.ops[2].op else {
        unreachable!()
    };
    assert_eq!(p.ops[2].name, "fc[columns 10..14]");
    assert_eq!(bias, &vec![10, 11, 12, 13]);
    assert_eq!(weight.data[..4], [10, 11, 12, 13]);
    assert_eq!(weight.data[4..8], [24, 25, 26, 27]);
    assert_eq!(p.ops.iter().map(|n| n.macs).sum::<u64>(), 3 * 10 * 14);
}
