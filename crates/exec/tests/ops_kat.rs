//! Known-answer tests: each operator on small integer inputs against results computed by hand
//! from docs/fixed-point.md.

use zkopml_exec::{run_op, ExecError};
use zkopml_model::ops::{CompareKind, Window};
use zkopml_model::{DType, QNode, QOp, QOperand, Tensor, TensorSpec};

fn node(op: QOp, inputs: Vec<QOperand>, out_shape: Vec<usize>) -> QNode {
    QNode {
        name: "t".into(),
        onnx_op: "t".into(),
        op,
        inputs,
        out: TensorSpec::new(out_shape, DType::Float, 0),
        macs: 0,
    }
}
fn t(shape: Vec<usize>, data: Vec<i32>) -> Tensor<i32> {
    Tensor::new(shape, data)
}
fn c(shape: Vec<usize>, data: Vec<i64>) -> QOperand {
    QOperand::Const {
        tensor: Tensor::new(shape, data),
        scale: 0,
    }
}
fn s(i: usize) -> QOperand {
    QOperand::Slot(i)
}
fn eval(op: QOp, inputs: Vec<QOperand>, slots: &[Tensor<i32>], out: Vec<usize>) -> Vec<i32> {
    run_op(slots.len(), &node(op, inputs, out), slots)
        .unwrap()
        .data
}
fn win(k: usize, s: usize, p: usize) -> Window {
    Window {
        kernel: [k, k],
        strides: [s, s],
        dilations: [1, 1],
        pads: [p, p, p, p],
    }
}

#[test]
fn conv_rescales_half_up() {
    // 1x1x3x3 input, one 2x2 kernel of ones, bias 1, shift 1: (sum + 1) / 2 rounded half up
    let x = t(vec![1, 1, 3, 3], vec![1, 2, 3, 4, 5, 6, 7, 8, 9]);
    let op = QOp::Conv {
        weight: Tensor::new(vec![1, 1, 2, 2], vec![1, 1, 1, 1]),
        bias: vec![1],
        window: win(2, 1, 0),
        groups: 1,
        shift: 1,
    };
    // sums 12,16,24,28 (+1) = 13,17,25,29 -> /2 half up: 7, 9, 13, 15
    assert_eq!(
        eval(op, vec![s(0)], &[x], vec![1, 1, 2, 2]),
        vec![7, 9, 13, 15]
    );
}

#[test]
fn conv_padding_stride_and_depthwise() {
    // depthwise (groups = 2), 3x3 kernel with centre 1 and corner -1, pad 1, stride 2
    let x = t(vec![1, 2, 3, 3], (1..=18).collect());
    let mut w = vec![0i64; 18];
    w[4] = 1; // channel 0 centre
    w[9] = -1; // channel 1 top-left
    let op = QOp::Conv {
        weight: Tensor::new(vec![2, 1, 3, 3], w),
        bias: vec![0, 100],
        window: win(3, 2, 1),
        groups: 2,
        shift: 0,
    };
    // channel 0 picks x at (0,0),(0,2),(2,0),(2,2) = 1,3,7,9; channel 1 picks -x at (-1,-1) (pad: 0),(-1,1),(1,-1),(1,1): 0,0,0,-14
    assert_eq!(
        eval(op, vec![s(0)], &[x], vec![1, 2, 2, 2]),
        vec![1, 3, 7, 9, 100, 100, 100, 86]
    );
}

#[test]
fn gemm_matmul() {
    let x = t(vec![1, 3], vec![1, -2, 3]);
    let op = QOp::Gemm {
        weight: Tensor::new(vec![3, 2], vec![1, 2, 3, 4, 5, 6]),
        bias: vec![10, -10],
        shift: 2,
    };
    // [1-6+15+10, 2-8+18-10] = [20, 2] -> /4: 5, 0.5 -> 1 (half up)
    assert_eq!(eval(op, vec![s(0)], &[x], vec![1, 2]), vec![5, 1]);
    let a = t(vec![2, 2], vec![1, 2, 3, 4]);
    assert_eq!(
        eval(QOp::MatMul { shift: 0 }, vec![s(0), s(0)], &[a], vec![2, 2]),
        vec![7, 10, 15, 22]
    );
}

#[test]
fn add_sub_mul_align_and_rescale() {
    let a = t(vec![3], vec![3, -3, 5]);
    // a·2 + b, then /2: b = [1, 1, 0] -> 7/2=3.5->4, -5/2=-2.5->-2, 10/2=5
    assert_eq!(
        eval(
            QOp::Add {
                ua: 1,
                ub: 0,
                shift: 1
            },
            vec![s(0), c(vec![3], vec![1, 1, 0])],
            &[a.clone()],
            vec![3]
        ),
        vec![4, -2, 5]
    );
    assert_eq!(
        eval(
            QOp::Sub {
                ua: 0,
                ub: 0,
                shift: 0
            },
            vec![s(0), c(vec![1], vec![5])],
            &[a.clone()],
            vec![3]
        ),
        vec![-2, -8, 0]
    );
    // a·a / 4: 9/4 = 2.25 -> 2, 9/4 -> 2, 25/4 = 6.25 -> 6
    assert_eq!(
        eval(QOp::Mul { shift: 2 }, vec![s(0), s(0)], &[a], vec![3]),
        vec![2, 2, 6]
    );
}

#[test]
fn div_rounds_half_up_and_rejects_zero() {
    let a = t(vec![4], vec![7, -7, 5, 1]);
    let b = c(vec![4], vec![2, 2, -2, 3]);
    // 3.5 -> 4, -3.5 -> -3, -2.5 -> -2, 0.33 -> 0
    assert_eq!(
        eval(QOp::Div { up: 0 }, vec![s(0), b], &[a.clone()], vec![4]),
        vec![4, -3, -2, 0]
    );
    let err = run_op(
        1,
        &node(QOp::Div { up: 0 }, vec![s(0), c(vec![1], vec![0])], vec![4]),
        &[a],
    )
    .unwrap_err();
    assert!(matches!(err, ExecError::Arithmetic { .. }), "{err}");
    assert!(err.to_string().contains("division by zero"));
}

#[test]
fn relu_clip_compare_not_where() {
    let a = t(vec![4], vec![-3, 0, 2, 9]);
    assert_eq!(
        eval(QOp::Relu, vec![s(0)], &[a.clone()], vec![4]),
        vec![0, 0, 2, 9]
    );
    assert_eq!(
        eval(
            QOp::Clip { lo: -1, hi: 5 },
            vec![s(0)],
            &[a.clone()],
            vec![4]
        ),
        vec![-1, 0, 2, 5]
    );
    assert_eq!(
        eval(
            QOp::Compare {
                kind: CompareKind::Less,
                ua: 1,
                ub: 0
            },
            vec![s(0), c(vec![1], vec![4])],
            &[a.clone()],
            vec![4]
        ),
        vec![1, 1, 0, 0]
    );
    assert_eq!(
        eval(
            QOp::Compare {
                kind: CompareKind::Greater,
                ua: 0,
                ub: 0
            },
            vec![s(0), c(vec![1], vec![0])],
            &[a.clone()],
            vec![4]
        ),
        vec![0, 0, 1, 1]
    );
    assert_eq!(
        eval(QOp::Not, vec![s(0)], &[a.clone()], vec![4]),
        vec![0, 1, 0, 0]
    );
    assert_eq!(
        eval(
            QOp::LeakyRelu {
                alpha: 1,
                alpha_shift: 1
            },
            vec![s(0)],
            &[a],
            vec![4]
        ),
        vec![-1, 0, 2, 9]
    );
}

#[test]
fn pools() {
    let x = t(vec![1, 1, 2, 3], vec![1, 2, 4, -5, 0, 3]);
    assert_eq!(
        eval(
            QOp::MaxPool {
                window: win(2, 1, 0)
            },
            vec![s(0)],
            &[x.clone()],
            vec![1, 1, 1, 2]
        ),
        vec![2, 4]
    );
    // averages: (1+2-5+0)/4 = -0.5 -> 0 (half up); (2+4+0+3)/4 = 2.25 -> 2
    assert_eq!(
        eval(
            QOp::AveragePool {
                window: win(2, 1, 0),
                count_include_pad: false
            },
            vec![s(0)],
            &[x.clone()],
            vec![1, 1, 1, 2]
        ),
        vec![0, 2]
    );
    // global: 5 / 6 = 0.83 -> 1
    assert_eq!(
        eval(
            QOp::GlobalAveragePool { divisor: 6 },
            vec![s(0)],
            &[x.clone()],
            vec![1, 1, 1, 1]
        ),
        vec![1]
    );
    // lowered (graph.rs): row sums [7, -2], then their sum over the divisor H·W = 6: same 1
    let rows = eval(
        QOp::ReduceSum { axes: vec![3] },
        vec![s(0)],
        &[x.clone()],
        vec![1, 1, 2, 1],
    );
    assert_eq!(rows, vec![7, -2]);
    assert_eq!(
        eval(
            QOp::GlobalAveragePool { divisor: 6 },
            vec![s(0)],
            &[t(vec![1, 1, 2, 1], rows)],
            vec![1, 1, 1, 1]
        ),
        vec![1]
    );
    // divisor 12: 5/12 = 0.42 -> 0
    assert_eq!(
        eval(
            QOp::GlobalAveragePool { divisor: 12 },
            vec![s(0)],
            &[x.clone()],
            vec![1, 1, 1, 1]
        ),
        vec![0]
    );
    // padded average excluding pads: corner window of a 1-pad 2x2 kernel sees only x[0][0]
    assert_eq!(
        eval(
            QOp::AveragePool {
                window: win(2, 2, 1),
                count_include_pad: false
            },
            vec![s(0)],
            &[x],
            vec![1, 1, 2, 2]
        )[0],
        1
    );
}

#[test]
fn data_movement() {
    let x = t(vec![1, 2, 1, 2], vec![1, 2, 3, 4]);
    assert_eq!(
        eval(
            QOp::Transpose {
                perm: vec![0, 3, 2, 1]
            },
            vec![s(0)],
            &[x.clone()],
            vec![1, 2, 1, 2]
        ),
        vec![1, 3, 2, 4]
    );
    assert_eq!(
        eval(QOp::Reshape, vec![s(0)], &[x.clone()], vec![4]),
        vec![1, 2, 3, 4]
    );
    // concat along axis 1 of x (shift 0) and a constant at a finer scale (shift 1: 5/2 -> 3)
    assert_eq!(
        eval(
            QOp::Concat {
                axis: 1,
                shifts: vec![0, 1]
            },
            vec![s(0), c(vec![1, 1, 1, 2], vec![5, -5])],
            &[x.clone()],
            vec![1, 3, 1, 2]
        ),
        vec![1, 2, 3, 4, 3, -2]
    );
    let v = t(vec![2, 3], vec![10, 20, 30, 40, 50, 60]);
    assert_eq!(
        eval(
            QOp::Gather { axis: 1 },
            vec![s(0), c(vec![2], vec![2, -3])],
            &[v.clone()],
            vec![2, 2]
        ),
        vec![30, 10, 60, 40]
    );
    assert_eq!(
        eval(
            QOp::GatherElements { axis: 1 },
            vec![s(0), c(vec![2, 1], vec![1, 2])],
            &[v.clone()],
            vec![2, 1]
        ),
        vec![20, 60]
    );
    assert_eq!(
        eval(
            QOp::Slice {
                starts: vec![0, 1],
                steps: vec![1, 2]
            },
            vec![s(0)],
            &[v.clone()],
            vec![2, 1]
        ),
        vec![20, 50]
    );
    let err = run_op(
        1,
        &node(
            QOp::Gather { axis: 1 },
            vec![s(0), c(vec![1], vec![3])],
            vec![2, 1],
        ),
        &[v],
    )
    .unwrap_err();
    assert!(err.to_string().contains("index out of range"));
}

#[test]
fn reductions_argmax_cast() {
    let x = t(vec![2, 3], vec![1, 5, 5, -2, -1, -7]);
    assert_eq!(
        eval(
            QOp::ReduceSum { axes: vec![1] },
            vec![s(0)],
            &[x.clone()],
            vec![2, 1]
        ),
        vec![11, -10]
    );
    // means: 11/3 = 3.67 -> 4; -10/3 = -3.33 -> -3
    assert_eq!(
        eval(
            QOp::ReduceMean { axes: vec![1] },
            vec![s(0)],
            &[x.clone()],
            vec![2, 1]
        ),
        vec![4, -3]
    );
    assert_eq!(
        eval(
            QOp::ArgMax {
                axis: 1,
                select_last: false
            },
            vec![s(0)],
            &[x.clone()],
            vec![2, 1]
        ),
        vec![1, 1]
    );
    assert_eq!(
        eval(
            QOp::ArgMax {
                axis: 1,
                select_last: true
            },
            vec![s(0)],
            &[x.clone()],
            vec![2, 1]
        ),
        vec![2, 1]
    );
    // cast to int truncates toward zero: values at scale 1: 0.5, 2.5, 2.5, -1, -0.5, -3.5
    assert_eq!(
        eval(
            QOp::Cast {
                to: DType::Int,
                shift: 1
            },
            vec![s(0)],
            &[x],
            vec![2, 3]
        ),
        vec![0, 2, 2, -1, 0, -3]
    );
}

#[test]
fn sqrt_and_reciprocal_are_exact() {
    let x = t(vec![4], vec![0, 1, 15, 16]);
    assert_eq!(
        eval(QOp::Sqrt { up: 0 }, vec![s(0)], &[x.clone()], vec![4]),
        vec![0, 1, 3, 4]
    );
    // 1/x at 2^4: 16/1 = 16, 16/15 = 1.07 -> 1, 16/16 = 1
    assert_eq!(
        eval(
            QOp::Reciprocal { num_bits: 4 },
            vec![s(0)],
            &[t(vec![3], vec![1, 15, 16])],
            vec![3]
        ),
        vec![16, 1, 1]
    );
    let neg = run_op(
        1,
        &node(QOp::Sqrt { up: 0 }, vec![s(0)], vec![1]),
        &[t(vec![1], vec![-4])],
    )
    .unwrap_err();
    assert!(neg.to_string().contains("negative"));
}

#[test]
fn overflow_names_the_op() {
    let x = t(vec![1], vec![i32::MAX]);
    let err = run_op(
        1,
        &node(
            QOp::Add {
                ua: 0,
                ub: 0,
                shift: 0,
            },
            vec![s(0), s(0)],
            vec![1],
        ),
        &[x],
    )
    .unwrap_err();
    match err {
        ExecError::Overflow {
            op, kind, value, ..
        } => {
            assert_eq!((op, kind, value), (1, "Add", 2 * i32::MAX as i64));
        }
        e => panic!("{e}"),
    }
}

#[test]
fn softmax_sums_to_one_and_sigmoid_poly() {
    use zkopml_model::fixed::PiecewisePoly;
    let exp = PiecewisePoly::fit(f64::exp, -16.0, 0, 17, 3, 4, 16, 4).unwrap();
    // equal logits: each exactly 1/3 at 2^14 -> div_round(e·2^14, 3e) = 5461
    let x = t(vec![1, 3], vec![16, 16, 16]);
    let y = eval(
        QOp::Softmax {
            axis: 1,
            legacy: false,
            exp: exp.clone(),
            out_scale: 14,
        },
        vec![s(0)],
        &[x],
        vec![1, 3],
    );
    assert_eq!(y, vec![5461, 5461, 5461]);
    let x = t(vec![1, 2], vec![0, -160]); // 0 and -10 at scale 4
    let y = eval(
        QOp::Softmax {
            axis: 1,
            legacy: false,
            exp,
            out_scale: 14,
        },
        vec![s(0)],
        &[x],
        vec![1, 2],
    );
    assert!((y[0] - 16383).abs() <= 2 && y[1] <= 2, "{y:?}");
}

#[test]
fn pad_and_reduce_extremes() {
    let x = t(vec![1, 2], vec![3, -4]);
    assert_eq!(
        eval(
            QOp::Pad {
                begins: vec![0, 1],
                value: 7
            },
            vec![s(0)],
            &[x.clone()],
            vec![2, 4]
        ),
        vec![7, 3, -4, 7, 7, 7, 7, 7]
    );
    assert_eq!(
        eval(
            QOp::ReduceExtreme {
                axes: vec![1],
                max: true
            },
            vec![s(0)],
            &[x.clone()],
            vec![1, 1]
        ),
        vec![3]
    );
    assert_eq!(
        eval(
            QOp::ReduceExtreme {
                axes: vec![1],
                max: false
            },
            vec![s(0)],
            &[x],
            vec![1, 1]
        ),
        vec![-4]
    );
}

#[test]
fn infer_fuses_conv_relu_with_the_trace_semantics() {
    use zkopml_exec::{run, Engine};
    use zkopml_model::Program;
    // conv (→ relu, fused in infer) → conv read by both a relu and an add (not fused) → add
    let conv = |m: usize, c: usize, seed: i64, shift: i32| QOp::Conv {
        weight: Tensor::new(
            vec![m, c, 3, 3],
            (0..(m * c * 9) as i64)
                .map(|i| ((i * 37 + seed) % 19) - 9)
                .collect(),
        ),
        bias: (0..m as i64).map(|i| i * 5 - 7).collect(),
        window: win(3, 1, 1),
        groups: 1,
        shift,
    };
    let shape = vec![1, 4, 6, 6];
    let program = |shift: i32| Program {
        format_version: zkopml_model::program::FORMAT_VERSION,
        inputs: vec![],
        input: TensorSpec::new(vec![1, 3, 6, 6], DType::Float, 0),
        ops: vec![
            node(conv(4, 3, 1, shift), vec![s(0)], shape.clone()),
            node(QOp::Relu, vec![s(1)], shape.clone()),
            node(conv(4, 4, 2, 3), vec![s(2)], shape.clone()),
            node(QOp::Relu, vec![s(3)], shape.clone()),
            node(
                QOp::Add {
                    ua: 0,
                    ub: 0,
                    shift: 0,
                },
                vec![s(3), s(4)],
                shape.clone(),
            ),
        ],
        outputs: vec![5],
    };
    let x = t(
        vec![1, 3, 6, 6],
        (0..108).map(|i| (i * 7919 % 201) - 100).collect(),
    );
    let p = program(2);
    let trace = run(&p, x.clone()).unwrap();
    assert!(
        trace.slots[1].data.iter().any(|&v| v < 0),
        "the relu has work to do"
    );
    assert_eq!(&Engine::new(&p).infer(x.clone()).unwrap(), trace.output());
    // a fused convolution that overflows: the same error (op 1, its first value) as the trace
    let p = program(-20);
    let want = run(&p, x.clone()).unwrap_err().to_string();
    assert!(want.starts_with("op 1 ("), "{want}");
    assert_eq!(Engine::new(&p).infer(x).unwrap_err().to_string(), want);
}

#[test]
fn add_sub_and_reduce_sum_fast_paths_match_the_formulas() {
    use zkopml_model::fixed::shift_round;
    let mut seed = 7u64;
    let mut rnd = move |m: i64| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((seed >> 33) as i64 % (2 * m + 1)) - m
    };
    for case in 0..300 {
        let (ua, ub, shift) = (
            rnd(3).unsigned_abs() as u32,
            rnd(3).unsigned_abs() as u32,
            rnd(4) as i32,
        );
        let big = if case % 3 == 0 { 1 << 30 } else { 1 << 20 };
        let a: Vec<i32> = (0..24).map(|_| rnd(big) as i32).collect();
        let b: Vec<i32> = (0..24).map(|_| rnd(big) as i32).collect();
        let x = [t(vec![2, 3, 4], a.clone()), t(vec![2, 3, 4], b.clone())];
        for (sub, op) in [
            (false, QOp::Add { ua, ub, shift }),
            (true, QOp::Sub { ua, ub, shift }),
        ] {
            let want: Result<Vec<i32>, i64> = a
                .iter()
                .zip(&b)
                .map(|(&p, &q)| {
                    let (p, q) = ((p as i64) << ua, (q as i64) << ub);
                    let v = shift_round(if sub { p - q } else { p + q }, shift);
                    i32::try_from(v).map_err(|_| v)
                })
                .collect();
            let got = run_op(2, &node(op, vec![s(0), s(1)], vec![2, 3, 4]), &x)
                .map(|y| y.data)
                .map_err(|e| match e {
                    ExecError::Overflow { value, .. } => value,
                    e => panic!("{e}"),
                });
            assert_eq!(
                got, want,
                "case {case}: ua {ua} ub {ub} shift {shift} sub {sub}"
            );
        }
        let sums: Vec<i32> = a
            .chunks(4)
            .map(|c| c.iter().map(|&v| v as i64).sum::<i64>() as i32)
            .collect();
        let y = run_op(
            1,
            &node(QOp::ReduceSum { axes: vec![2] }, vec![s(0)], vec![2, 3, 1]),
            &x[..1],
        );
        if a.iter().all(|v| v.abs() < 1 << 28) {
            assert_eq!(y.unwrap().data, sums);
        }
    }
}

#[test]
fn large_add_in_parallel_reports_the_first_overflow() {
    let n = 100_000;
    let mut a: Vec<i32> = (0..n)
        .map(|i| ((i as i64 * 7919) % 2_000_001 - 1_000_000) as i32)
        .collect();
    let mut b: Vec<i32> = (0..n)
        .map(|i| ((i as i64 * 104_729) % 2_000_001 - 1_000_000) as i32)
        .collect();
    let add = |a: &[i32], b: &[i32]| {
        run_op(
            2,
            &node(
                QOp::Add {
                    ua: 1,
                    ub: 0,
                    shift: 0,
                },
                vec![s(0), s(1)],
                vec![n],
            ),
            &[t(vec![n], a.to_vec()), t(vec![n], b.to_vec())],
        )
    };
    let want: Vec<i32> = a.iter().zip(&b).map(|(&p, &q)| 2 * p + q).collect();
    assert_eq!(add(&a, &b).unwrap().data, want);
    // two overflows, in different parallel chunks: the first in order is reported
    (a[70_000], b[70_000], a[90_000], b[90_000]) = (1000, i32::MAX, 2000, i32::MAX);
    match add(&a, &b).unwrap_err() {
        ExecError::Overflow { value, .. } => assert_eq!(value, 2000 + i32::MAX as i64),
        e => panic!("{e}"),
    }
}
