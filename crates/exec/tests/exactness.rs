//! Exactness of the executor's integer arithmetic (issue 19, item 9): the circuits compute
//! every rescale over the integers, so the executor must give the same value for every input
//! its types allow, or refuse. Each test compares a kernel with an i128 (or analytic)
//! reference on extreme values. Security regression tests: keep them.

use zkopml_exec::{run_op, ExecError};
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
fn s(i: usize) -> QOperand {
    QOperand::Slot(i)
}

/// The attack of the finding: a dynamic MatMul whose accumulator lies just below 2^63, with a
/// shift above 32. `x + 2^(shift-1)` wrapped in i64, so the executor stored -2^30 where the
/// circuit (exact: floor((acc + 2^32) / 2^33)) proves 2^30, and an honest submitter lost.
#[test]
fn matmul_accumulator_near_2_63_rescales_exactly() {
    // acc = (-2^31)(-2^31) + (-2^31 + 1)(-2^31 + 1) = 2^63 - 2^32 + 1
    let a = t(vec![1, 2], vec![i32::MIN, i32::MIN + 1]);
    let b = t(vec![2, 1], vec![i32::MIN, i32::MIN + 1]);
    let acc: i128 = 2 * (1i128 << 62) - (1i128 << 32) + 1;
    let want = ((acc + (1i128 << 32)) >> 33) as i32; // 2^30
    assert_eq!(want, 1 << 30);
    let y = run_op(
        2,
        &node(QOp::MatMul { shift: 33 }, vec![s(0), s(1)], vec![1, 1]),
        &[a, b],
    )
    .unwrap();
    assert_eq!(y.data, vec![want]);
}

/// An accumulator of 2^63 exactly (beyond i64). The circuit cannot prove it (its accumulator is
/// range-checked to 64 bits when shift > 32), so the executor must refuse it too; an earlier
/// version of this test asserted the opposite and the executor kept a value no defender could
/// prove (found when the zk crate's copies were made exact).
#[test]
fn matmul_accumulator_of_2_63_is_refused_as_the_circuit_refuses_it() {
    // 2·(2^31)^2 = 2^63: the MatMul circuit range-checks its accumulator to [-2^63, 2^63)
    // (zk circuits/matmul.rs), so no defender could prove a value kept here: refused, as the
    // zk crate's own evaluation refuses it.
    let a = t(vec![1, 2], vec![i32::MIN, i32::MIN]);
    let y = run_op(
        2,
        &node(QOp::MatMul { shift: 33 }, vec![s(0), s(1)], vec![1, 1]),
        &[a, t(vec![2, 1], vec![i32::MIN, i32::MIN])],
    );
    match y {
        Err(e) => assert!(e.to_string().contains("64 bits"), "{e}"),
        Ok(y) => panic!("kept {:?}, which the circuit cannot prove", y.data),
    }
    // one below the bound is kept, exactly: 2^62 + (2^31-1)·(-2^31) ... in range, rescaled
    let a = t(vec![1, 2], vec![i32::MIN, i32::MAX]);
    let y = run_op(
        2,
        &node(QOp::MatMul { shift: 33 }, vec![s(0), s(1)], vec![1, 1]),
        &[a, t(vec![2, 1], vec![i32::MIN, i32::MIN])],
    )
    .unwrap();
    let acc = (i32::MIN as i128) * (i32::MIN as i128) + (i32::MAX as i128) * (i32::MIN as i128);
    assert_eq!(y.data, vec![((acc + (1 << 32)) >> 33) as i32]);
}

// ---------------------------------------------------------------------------------------------
// Every kernel against an i128 reference on extreme 32-bit values

/// i32::MIN, i32::MAX, 0, ±1, and random values (some small).
fn extremes(n: usize, seed: u64) -> Vec<i32> {
    let mut v = vec![i32::MIN, i32::MAX, 0, 1, -1, i32::MIN + 1, i32::MAX - 1];
    let mut g = zkopml_model::input::SplitMix(seed);
    while v.len() < n {
        let r = g.next_u64();
        v.push(if r % 3 == 0 {
            (r >> 40) as i32 >> 12
        } else {
            (r >> 32) as i32
        });
    }
    v.truncate(n);
    v
}

/// The definition of shift_round over i128 (None beyond i128).
fn sr(x: i128, k: i32) -> Option<i128> {
    if k > 126 {
        Some(0)
    } else if k > 0 {
        Some((x + (1i128 << (k - 1))) >> k)
    } else if k > -127 {
        let y = x << -k;
        (y >> -k == x).then_some(y)
    } else {
        (x == 0).then_some(0)
    }
}
/// n / d rounded half up, exactly.
fn dr(n: i128, d: i128) -> i128 {
    let (n, d) = if d < 0 { (-n, -d) } else { (n, d) };
    // floor((2n + d) / 2d) without forming 2n, which wraps for an n near the i128 bounds
    let (q, r) = (n.div_euclid(d), n.rem_euclid(d));
    if 2 * r >= d {
        q + 1
    } else {
        q
    }
}
/// A stored value, or None (the executor must refuse it).
fn stored(v: Option<i128>) -> Option<i32> {
    v.and_then(|v| i32::try_from(v).ok())
}
/// run_op's values, or None for an overflow (other errors fail the test).
fn got(r: zkopml_exec::Result<Tensor<i32>>) -> Vec<Option<i32>> {
    match r {
        Ok(t) => t.data.into_iter().map(Some).collect(),
        Err(ExecError::Overflow { .. }) => vec![],
        Err(e) => panic!("{e}"),
    }
}
/// The expected outputs as run_op returns them: all values, or [] when one overflows.
fn want(v: Vec<Option<i32>>) -> Vec<Option<i32>> {
    if v.iter().any(|x| x.is_none()) {
        vec![]
    } else {
        v
    }
}

const SHIFTS: [i32; 16] = [
    -40, -31, -2, 0, 1, 2, 16, 30, 31, 32, 33, 40, 62, 63, 64, 100,
];

#[test]
fn elementwise_binary_ops_match_i128() {
    let a = extremes(64, 1);
    let b = extremes(64, 2);
    let n = a.len();
    let slots = [t(vec![n], a.clone()), t(vec![n], b.clone())];
    // (ua, ub): the i64 pass's bounds and beyond
    for (ua, ub) in [
        (0, 0),
        (1, 0),
        (29, 0),
        (0, 29),
        (30, 0),
        (31, 31),
        (32, 1),
        (40, 0),
        (0, 63),
    ] {
        for shift in SHIFTS {
            let pairs = || {
                a.iter()
                    .zip(&b)
                    .map(|(&x, &y)| ((x as i128) << ua, (y as i128) << ub))
            };
            let cases: [(QOp, Vec<Option<i32>>); 5] = [
                (
                    QOp::Add { ua, ub, shift },
                    pairs().map(|(p, q)| stored(sr(p + q, shift))).collect(),
                ),
                (
                    QOp::Sub { ua, ub, shift },
                    pairs().map(|(p, q)| stored(sr(p - q, shift))).collect(),
                ),
                (
                    QOp::Max { ua, ub, shift },
                    pairs().map(|(p, q)| stored(sr(p.max(q), shift))).collect(),
                ),
                (
                    QOp::Min { ua, ub, shift },
                    pairs().map(|(p, q)| stored(sr(p.min(q), shift))).collect(),
                ),
                (
                    QOp::Compare {
                        kind: zkopml_model::ops::CompareKind::Less,
                        ua,
                        ub,
                    },
                    pairs().map(|(p, q)| Some((p < q) as i32)).collect(),
                ),
            ];
            for (op, w) in cases {
                let name = format!("{op:?}");
                assert_eq!(
                    got(run_op(2, &node(op, vec![s(0), s(1)], vec![n]), &slots)),
                    want(w),
                    "{name}"
                );
            }
        }
    }
    // Mul and Div (including divisors of every sign and i32::MIN)
    for shift in SHIFTS {
        let w: Vec<Option<i32>> = a
            .iter()
            .zip(&b)
            .map(|(&x, &y)| stored(sr(x as i128 * y as i128, shift)))
            .collect();
        assert_eq!(
            got(run_op(
                2,
                &node(QOp::Mul { shift }, vec![s(0), s(1)], vec![n]),
                &slots
            )),
            want(w),
            "Mul {shift}"
        );
        let nz: Vec<i32> = b.iter().map(|&v| if v == 0 { 3 } else { v }).collect();
        let dslots = [slots[0].clone(), t(vec![n], nz.clone())];
        let w: Vec<Option<i32>> = a
            .iter()
            .zip(&nz)
            .map(|(&x, &d)| stored(sr(x as i128, -shift).map(|v| dr(v, d as i128))))
            .collect();
        assert_eq!(
            got(run_op(
                2,
                &node(QOp::Div { up: shift }, vec![s(0), s(1)], vec![n]),
                &dslots
            )),
            want(w),
            "Div up {shift}"
        );
    }
}

#[test]
fn elementwise_binary_ops_match_i128_value_by_value() {
    // one pair at a time, so that an overflow elsewhere does not hide a wrong value
    let a = extremes(24, 3);
    let b = extremes(24, 4);
    for (ua, ub) in [(0, 0), (31, 31), (29, 0), (33, 2)] {
        for shift in SHIFTS {
            for (&x, &y) in a.iter().zip(&b) {
                let slots = [t(vec![1], vec![x]), t(vec![1], vec![y])];
                let (p, q) = ((x as i128) << ua, (y as i128) << ub);
                let r = got(run_op(
                    2,
                    &node(QOp::Add { ua, ub, shift }, vec![s(0), s(1)], vec![1]),
                    &slots,
                ));
                assert_eq!(
                    r,
                    want(vec![stored(sr(p + q, shift))]),
                    "Add {x} {y} {ua} {ub} {shift}"
                );
                let r = got(run_op(
                    2,
                    &node(QOp::Sub { ua, ub, shift }, vec![s(0), s(1)], vec![1]),
                    &slots,
                ));
                assert_eq!(
                    r,
                    want(vec![stored(sr(p - q, shift))]),
                    "Sub {x} {y} {ua} {ub} {shift}"
                );
            }
        }
    }
}

#[test]
fn unary_ops_match_i128() {
    let x = extremes(64, 5);
    let n = x.len();
    let slots = [t(vec![1, 1, 8, 8], x.clone())];
    let one = |op: QOp| got(run_op(1, &node(op, vec![s(0)], vec![1, 1, 8, 8]), &slots));
    for shift in SHIFTS {
        for alpha in [1i64, 13107, -7, 1 << 40, i64::MAX] {
            let w = x
                .iter()
                .map(|&v| {
                    if v >= 0 {
                        Some(v)
                    } else {
                        stored(sr(v as i128 * alpha as i128, shift))
                    }
                })
                .collect();
            assert_eq!(
                one(QOp::LeakyRelu {
                    alpha,
                    alpha_shift: shift
                }),
                want(w),
                "LeakyRelu {alpha} {shift}"
            );
        }
        let (mul, add) = (vec![i64::MAX], vec![i64::MIN]);
        let w = x
            .iter()
            .map(|&v| stored(sr(v as i128 * mul[0] as i128 + add[0] as i128, shift)))
            .collect();
        assert_eq!(
            one(QOp::Affine {
                mul: mul.clone(),
                add: add.clone(),
                shift
            }),
            want(w),
            "Affine {shift}"
        );
        let w = x.iter().map(|&v| stored(sr(v as i128, shift))).collect();
        assert_eq!(
            one(QOp::Cast {
                to: DType::Float,
                shift
            }),
            want(w),
            "Cast {shift}"
        );
        let w = x
            .iter()
            .map(|&v| {
                Some(if shift > 0 {
                    (v as i128 / (1i128 << shift.min(126))) as i32
                } else {
                    v
                })
            })
            .collect::<Vec<_>>();
        assert_eq!(
            one(QOp::Cast {
                to: DType::Int,
                shift
            }),
            w,
            "Cast to Int {shift}"
        );
    }
    // Sqrt and Reciprocal, one value at a time (negative roots and 1/0 are errors)
    for &v in &x {
        let sl = [t(vec![1], vec![v])];
        for up in [-40, -1, 0, 1, 2, 31, 32, 33, 62, 63, 64, 100] {
            let r = run_op(1, &node(QOp::Sqrt { up }, vec![s(0)], vec![1]), &sl);
            match sr(v as i128, -up) {
                Some(m) if m < 0 => assert!(
                    matches!(r, Err(ExecError::Arithmetic { .. })),
                    "sqrt {v} {up}"
                ),
                None if v < 0 => assert!(
                    matches!(r, Err(ExecError::Arithmetic { .. })),
                    "sqrt {v} {up}"
                ),
                Some(m) => {
                    // floor(sqrt(m)) in i128 by bisection
                    let (mut lo, mut hi) = (0i128, 1i128 << 64);
                    while hi - lo > 1 {
                        let mid = (lo + hi) / 2;
                        if mid * mid <= m {
                            lo = mid
                        } else {
                            hi = mid
                        }
                    }
                    assert_eq!(got(r), want(vec![stored(Some(lo))]), "sqrt {v} {up}");
                }
                None => assert_eq!(got(r), vec![], "sqrt {v} {up}"),
            }
        }
        for num_bits in [0u32, 16, 31, 32, 62, 63, 64, 100, 126, 127, 200] {
            let r = run_op(
                1,
                &node(QOp::Reciprocal { num_bits }, vec![s(0)], vec![1]),
                &sl,
            );
            if v == 0 {
                assert!(matches!(r, Err(ExecError::Arithmetic { .. })));
            } else {
                let w = if num_bits < 127 {
                    stored(Some(dr(1i128 << num_bits, v as i128)))
                } else {
                    None
                };
                assert_eq!(got(r), want(vec![w]), "reciprocal {v} {num_bits}");
            }
        }
    }
    let _ = n;
}

#[test]
fn reductions_and_pools_match_i128() {
    // every value i32::MIN or i32::MAX: sums far beyond 2^31, exact means within one unit
    for fill in [i32::MIN, i32::MAX, -1] {
        let x = vec![fill; 64];
        let slots = [t(vec![1, 1, 8, 8], x.clone())];
        let sum = 8 * fill as i128;
        let y = run_op(
            1,
            &node(
                QOp::ReduceMean { axes: vec![3] },
                vec![s(0)],
                vec![1, 1, 8, 1],
            ),
            &slots,
        )
        .unwrap();
        assert_eq!(y.data, vec![stored(Some(dr(sum, 8))).unwrap(); 8]);
        let y = run_op(
            1,
            &node(
                QOp::GlobalAveragePool { divisor: 64 },
                vec![s(0)],
                vec![1, 1, 1, 1],
            ),
            &slots,
        )
        .unwrap();
        assert_eq!(y.data, vec![fill]);
        let win = zkopml_model::ops::Window {
            kernel: [3, 3],
            strides: [1, 1],
            dilations: [1, 1],
            pads: [1, 1, 1, 1],
        };
        for count_include_pad in [false, true] {
            let y = run_op(
                1,
                &node(
                    QOp::AveragePool {
                        window: win.clone(),
                        count_include_pad,
                    },
                    vec![s(0)],
                    vec![1, 1, 8, 8],
                ),
                &slots,
            )
            .unwrap();
            // corner: 4 values; divided by 4 or 9
            assert_eq!(
                y.data[0] as i128,
                dr(4 * fill as i128, if count_include_pad { 9 } else { 4 })
            );
        }
        assert!(
            matches!(
                run_op(
                    1,
                    &node(
                        QOp::ReduceSum { axes: vec![3] },
                        vec![s(0)],
                        vec![1, 1, 8, 1]
                    ),
                    &slots
                ),
                Err(ExecError::Overflow { .. })
            ) || fill == -1
        );
    }
}

#[test]
fn matmul_gemm_and_conv_match_i128_on_extremes() {
    // MatMul: every shift, accumulators up to k·2^62
    let a = extremes(4 * 6, 7);
    let b = extremes(6 * 3, 8);
    let slots = [t(vec![4, 6], a.clone()), t(vec![6, 3], b.clone())];
    for shift in SHIFTS {
        let mut w = Vec::new();
        for i in 0..4 {
            for j in 0..3 {
                let acc: i128 = (0..6)
                    .map(|k| a[i * 6 + k] as i128 * b[k * 3 + j] as i128)
                    .sum();
                w.push(stored(sr(acc, shift)));
            }
        }
        assert_eq!(
            got(run_op(
                2,
                &node(QOp::MatMul { shift }, vec![s(0), s(1)], vec![4, 3]),
                &slots
            )),
            want(w),
            "MatMul {shift}"
        );
    }
    // Gemm and Conv with weights whose i64 sums wrap (a crafted program), and compiled-size
    // weights with extreme inputs
    let x = extremes(2 * 8, 9);
    for (wmax, shift) in [
        (1i64 << 19, 20),
        (1 << 19, 45),
        (1 << 40, 60),
        (i64::MAX, 90),
        (i64::MAX, 100),
    ] {
        let mut g = zkopml_model::input::SplitMix(wmax as u64);
        let w: Vec<i64> = (0..8 * 5).map(|_| (g.next_u64() as i64) % wmax).collect();
        let bias: Vec<i64> = (0..5)
            .map(|i| {
                if i == 0 {
                    i64::MIN
                } else {
                    (g.next_u64() as i64) % wmax
                }
            })
            .collect();
        let mut wg = Vec::new();
        for r in 0..2 {
            for j in 0..5 {
                let acc = bias[j] as i128
                    + (0..8)
                        .map(|k| x[r * 8 + k] as i128 * w[k * 5 + j] as i128)
                        .sum::<i128>();
                wg.push(stored(sr(acc, shift)));
            }
        }
        let xs = [t(vec![2, 8], x.clone())];
        let op = QOp::Gemm {
            weight: Tensor::new(vec![8, 5], w.clone()),
            bias: bias.clone(),
            shift,
        };
        assert_eq!(
            got(run_op(1, &node(op, vec![s(0)], vec![2, 5]), &xs)),
            want(wg),
            "Gemm {wmax} {shift}"
        );
        // the same numbers as a 1x1 convolution over 2 pixels: w [5, 8, 1, 1]
        let wc: Vec<i64> = (0..5)
            .flat_map(|j| (0..8).map(move |k| (j, k)))
            .map(|(j, k)| w[k * 5 + j])
            .collect();
        let xc: Vec<i32> = (0..8)
            .flat_map(|k| (0..2).map(move |r| (r, k)))
            .map(|(r, k)| x[r * 8 + k])
            .collect();
        let mut wcv = Vec::new();
        for j in 0..5 {
            for r in 0..2 {
                let acc = bias[j] as i128
                    + (0..8)
                        .map(|k| x[r * 8 + k] as i128 * w[k * 5 + j] as i128)
                        .sum::<i128>();
                wcv.push(stored(sr(acc, shift)));
            }
        }
        let win = zkopml_model::ops::Window {
            kernel: [1, 1],
            strides: [1, 1],
            dilations: [1, 1],
            pads: [0, 0, 0, 0],
        };
        let op = QOp::Conv {
            weight: Tensor::new(vec![5, 8, 1, 1], wc),
            bias: bias.clone(),
            window: win,
            groups: 1,
            shift,
        };
        let p = zkopml_model::Program {
            format_version: zkopml_model::program::FORMAT_VERSION,
            inputs: vec![],
            input: TensorSpec::new(vec![1, 8, 1, 2], DType::Float, 0),
            ops: vec![node(op, vec![s(0)], vec![1, 5, 1, 2])],
            outputs: vec![1],
        };
        let r = zkopml_exec::Engine::new(&p)
            .run(t(vec![1, 8, 1, 2], xc))
            .map(|tr| tr.output().clone());
        assert_eq!(got(r), want(wcv), "Conv {wmax} {shift}");
    }
}

#[test]
fn residual_add_after_a_convolution_is_exact() {
    // the fused Conv + Add path (Engine::infer) and the ops one by one, against i128, with
    // alignments at and beyond the i64 pass's bound
    let (c, hw) = (4usize, 16usize * 16);
    let x = extremes(c * hw, 11)
        .into_iter()
        .map(|v| v >> 12)
        .collect::<Vec<_>>();
    let win = zkopml_model::ops::Window {
        kernel: [1, 1],
        strides: [1, 1],
        dilations: [1, 1],
        pads: [0, 0, 0, 0],
    };
    let w: Vec<i64> = (0..c * c).map(|i| (i as i64 * 37 % 11) - 5).collect();
    for (ua, ub, shift) in [
        (0, 0, 1),
        (29, 0, 62),
        (29, 29, 1),
        (30, 0, 1),
        (31, 0, 0),
        (31, 31, -31),
        (0, 31, 40),
    ] {
        let conv = node(
            QOp::Conv {
                weight: Tensor::new(vec![c, c, 1, 1], w.clone()),
                bias: vec![0; c],
                window: win.clone(),
                groups: 1,
                shift: 0,
            },
            vec![s(0)],
            vec![1, c, 16, 16],
        );
        let add = node(
            QOp::Add { ua, ub, shift },
            vec![s(1), s(0)],
            vec![1, c, 16, 16],
        );
        let p = zkopml_model::Program {
            format_version: zkopml_model::program::FORMAT_VERSION,
            inputs: vec![],
            input: TensorSpec::new(vec![1, c, 16, 16], DType::Float, 0),
            ops: vec![conv, add],
            outputs: vec![2],
        };
        let mut y = Vec::new();
        for o in 0..c {
            for q in 0..hw {
                let acc: i128 = (0..c)
                    .map(|i| w[o * c + i] as i128 * x[i * hw + q] as i128)
                    .sum();
                y.push(stored(sr(
                    (acc << ua) + ((x[o * hw + q] as i128) << ub),
                    shift,
                )));
            }
        }
        let input = t(vec![1, c, 16, 16], x.clone());
        let e = zkopml_exec::Engine::new(&p);
        assert_eq!(
            got(e.infer(input.clone())),
            want(y.clone()),
            "infer {ua} {ub} {shift}"
        );
        assert_eq!(
            got(e.run(input).map(|tr| tr.output().clone())),
            want(y),
            "run {ua} {ub} {shift}"
        );
    }
}

#[test]
fn softmax_and_polynomials_match_i128() {
    use zkopml_model::fixed::PiecewisePoly;
    let exp = PiecewisePoly::fit(f64::exp, -16.0, 0, 17, 3, 4, 16, 4).unwrap();
    let x = extremes(40, 13);
    let slots = [t(vec![5, 8], x.clone())];
    let y = run_op(
        1,
        &node(
            QOp::Softmax {
                axis: 1,
                legacy: false,
                exp: exp.clone(),
                out_scale: 14,
            },
            vec![s(0)],
            vec![5, 8],
        ),
        &slots,
    )
    .unwrap();
    for lane in 0..5 {
        let l = &x[lane * 8..lane * 8 + 8];
        let m = *l.iter().max().unwrap() as i64;
        let e: Vec<i128> = l
            .iter()
            .map(|&v| exp.checked_eval(v as i64 - m).unwrap())
            .collect();
        let sum: i128 = e.iter().sum();
        for k in 0..8 {
            assert_eq!(
                y.data[lane * 8 + k] as i128,
                dr(e[k] << 14, sum),
                "lane {lane} {k}"
            );
        }
    }
    let bad = run_op(
        1,
        &node(
            QOp::Softmax {
                axis: 1,
                legacy: false,
                exp: exp.clone(),
                out_scale: 70,
            },
            vec![s(0)],
            vec![5, 8],
        ),
        &slots,
    );
    assert!(matches!(bad, Err(ExecError::Arithmetic { .. })));
    // a polynomial over extreme inputs: the clamp, and the i64 value of every compiled one
    let y = run_op(
        1,
        &node(QOp::Poly(exp.clone()), vec![s(0)], vec![5, 8]),
        &slots,
    )
    .unwrap();
    for (&v, &o) in x.iter().zip(&y.data) {
        assert_eq!(o as i128, exp.checked_eval(v as i64).unwrap());
    }
}
