//! Calibration and compilation: from the f64 graph to the integer program.
//!
//! Scales are powers of two chosen from the largest magnitude each tensor reaches on the
//! calibration inputs, leaving 2^11 of headroom below the 2^31 value bound. Weights get their
//! own scale (about 15 significant bits); accumulators live at `scale(x) + scale(w)` and are
//! rescaled once with the rounding rule of `fixed::shift_round`.

use crate::error::{ModelError, Result};
use crate::fixed::PiecewisePoly;
use crate::graph::{Graph, Operand};
use crate::onnx::{Const, DType};
use crate::ops::{BinaryKind, Op, UnaryKind};
use crate::program::{
    align_chunks, Program, ProgramInput, QNode, QOp, QOperand, TensorSpec, FORMAT_VERSION,
};
use crate::tensor::Tensor;

/// Calibrated activations stay below 2^ACT_BITS (2^11 headroom to the 2^31 bound).
pub const ACT_BITS: i32 = 20;
/// Finest scale (inputs in [0, 0.1) need about 2^-21 to keep their relative precision).
pub const MAX_SCALE: i32 = 24;
pub const MIN_SCALE: i32 = -8;
/// Weights are quantised to about this many bits (sign included).
pub const WEIGHT_BITS: i32 = 20;
/// Output scale of Sigmoid, Tanh, Erf and Softmax (values in [-1, 1]).
pub const UNIT_SCALE: i32 = 14;
/// Extra fractional bits of piecewise-polynomial coefficients.
pub const POLY_GUARD: i32 = 4;

fn scale_for(maxabs: f64, bits: i32) -> i32 {
    if !(maxabs > 0.0) || !maxabs.is_finite() {
        return MAX_SCALE;
    }
    let s = ((2f64.powi(bits - 1) - 1.0) / maxabs).log2().floor() as i32;
    s.clamp(MIN_SCALE, MAX_SCALE)
}

fn max_abs(data: &[f64]) -> f64 {
    data.iter().fold(0.0f64, |m, v| m.max(v.abs()))
}

fn quantise(t: &Tensor<f64>, scale: i32) -> Result<Tensor<i64>> {
    let f = 2f64.powi(scale);
    let mut out = Vec::with_capacity(t.len());
    for &v in &t.data {
        let q = (v * f).round();
        if !q.is_finite() || q.abs() >= 2f64.powi(46) {
            return Err(ModelError::Calibration(format!(
                "constant {v} does not fit at scale {scale}"
            )));
        }
        out.push(q as i64);
    }
    Ok(Tensor::new(t.shape.clone(), out))
}

fn quantise_vec(v: &[f64], scale: i32) -> Result<Vec<i64>> {
    Ok(quantise(&Tensor::new(vec![v.len()], v.to_vec()), scale)?.data)
}

/// Per-slot calibration statistics: the largest magnitude seen.
#[derive(Clone, Debug)]
pub struct Calibration {
    pub max_abs: Vec<f64>,
    pub inputs: usize,
}

impl Calibration {
    pub fn run(graph: &Graph, inputs: &[Tensor<f64>]) -> Result<Calibration> {
        if inputs.is_empty() {
            return Err(ModelError::Calibration("no calibration input".into()));
        }
        let mut maxes = vec![0.0f64; graph.n_ops() + 1];
        // identical inputs add nothing (a token model's calibration set repeats the sample's ids)
        let mut seen: Vec<&Tensor<f64>> = Vec::with_capacity(inputs.len());
        for x in inputs {
            if seen.iter().any(|s| s.data == x.data) {
                continue;
            }
            seen.push(x);
            if x.data.iter().any(|v| !v.is_finite()) {
                return Err(ModelError::Input(
                    "a calibration input holds a non-finite value".into(),
                ));
            }
            for (s, t) in graph.run_f64(x)?.iter().enumerate() {
                let m = max_abs(&t.data);
                if !m.is_finite() {
                    return Err(ModelError::Calibration(format!(
                        "op {s} produced a non-finite value in float"
                    )));
                }
                maxes[s] = maxes[s].max(m);
            }
        }
        Ok(Calibration {
            max_abs: maxes,
            inputs: inputs.len(),
        })
    }
}

/// Compile a graph to its fixed-point program using calibration statistics.
pub fn compile(graph: &Graph, cal: &Calibration) -> Result<Program> {
    let slot_scale = |s: usize, specs: &[TensorSpec]| specs[s].scale;
    let mut specs: Vec<TensorSpec> = Vec::with_capacity(graph.n_ops() + 1);
    // several inputs: slot 0 holds each at its own scale (that of its Slice below)
    let in_scale = if graph.input_dtype == DType::Float && graph.inputs.is_empty() {
        scale_for(cal.max_abs[0], ACT_BITS)
    } else {
        0
    };
    specs.push(TensorSpec::new(
        graph.input_shape.clone(),
        graph.input_dtype,
        in_scale,
    ));
    let mut ops = Vec::with_capacity(graph.n_ops());

    for (i, node) in graph.nodes.iter().enumerate() {
        let slot = i + 1;
        let err = |r: String| ModelError::node(&node.name, &node.onnx_op, r);
        let calibrated = if node.dtype == DType::Float {
            scale_for(cal.max_abs[slot], ACT_BITS)
        } else {
            0
        };
        // scale of operand k (constants get their scale below)
        let operand_scale = |k: usize| -> Option<i32> {
            match &node.inputs[k] {
                Operand::Slot(s) => Some(slot_scale(*s, &specs)),
                Operand::Const(_) => None,
            }
        };
        let weight_scale = |t: &[f64]| scale_for(max_abs(t), WEIGHT_BITS);
        // Conv/Gemm: also keep every accumulator below 2^62 for any 32-bit input, so the i64
        // arithmetic of the executor is exact whatever the input (not only calibrated ones).
        // ... and keep the bias, quantised at s_x + s_w, below 2^45.
        let bias_bound = |bias: &[f64], s_x: i32| -> i32 {
            let m = max_abs(bias);
            if m > 0.0 {
                (2f64.powi(45) / m).log2().floor() as i32 - s_x
            } else {
                MAX_SCALE
            }
        };
        let linear_weight_scale = |w: &Tensor<f64>, rows_are_outputs: bool| -> i32 {
            let (outs, per) = if rows_are_outputs {
                (w.shape[0], w.len() / w.shape[0])
            } else {
                (w.shape[1], w.shape[0])
            };
            let row_sum = (0..outs)
                .map(|o| {
                    (0..per)
                        .map(|k| {
                            if rows_are_outputs {
                                w.data[o * per + k]
                            } else {
                                w.data[k * outs + o]
                            }
                            .abs()
                        })
                        .sum::<f64>()
                })
                .fold(0.0, f64::max);
            let bound = if row_sum > 0.0 {
                (2f64.powi(62 - 31) / (row_sum * 1.01)).log2().floor() as i32
            } else {
                MAX_SCALE
            };
            weight_scale(&w.data).min(bound)
        };
        // a constant operand of an additive or comparing op: at its own activation scale,
        // or the other operand's if that is finer
        let const_at = |c: &Const, other: Option<i32>| -> i32 {
            if c.dtype != DType::Float {
                return 0;
            }
            let own = scale_for(max_abs(&c.tensor.data), ACT_BITS);
            other.map_or(own, |o| o.max(own))
        };
        let mut inputs: Vec<QOperand> = Vec::with_capacity(node.inputs.len());
        let mut in_scales: Vec<i32> = Vec::with_capacity(node.inputs.len());
        // resolve constants with a chosen scale
        let push_const = |c: &Const,
                          scale: i32,
                          inputs: &mut Vec<QOperand>,
                          in_scales: &mut Vec<i32>|
         -> Result<()> {
            inputs.push(QOperand::Const {
                tensor: quantise(&c.tensor, scale)?,
                scale,
            });
            in_scales.push(scale);
            Ok(())
        };
        for (k, o) in node.inputs.iter().enumerate() {
            match o {
                Operand::Slot(s) => {
                    inputs.push(QOperand::Slot(*s));
                    in_scales.push(slot_scale(*s, &specs));
                }
                Operand::Const(c) => {
                    let other = (0..node.inputs.len())
                        .filter(|&j| j != k)
                        .find_map(operand_scale);
                    let scale = match &node.op {
                        Op::Binary(BinaryKind::Mul) | Op::Binary(BinaryKind::Div) | Op::MatMul => {
                            if c.dtype == DType::Float {
                                weight_scale(&c.tensor.data)
                            } else {
                                0
                            }
                        }
                        Op::Gather { .. } | Op::GatherElements { .. } if k == 1 => 0,
                        Op::Where if k == 0 => 0,
                        _ => const_at(c, other),
                    };
                    // Division by a constant is multiplication by its reciprocal.
                    if matches!(node.op, Op::Binary(BinaryKind::Div)) && k == 1 {
                        if c.tensor.data.contains(&0.0) {
                            return Err(err("division by a constant zero".into()));
                        }
                        let r = c.tensor.map(|v| 1.0 / v);
                        push_const(
                            &Const {
                                dtype: DType::Float,
                                tensor: r.clone(),
                            },
                            weight_scale(&r.data),
                            &mut inputs,
                            &mut in_scales,
                        )
                        .map_err(|e| err(e.to_string()))?;
                    } else {
                        push_const(c, scale, &mut inputs, &mut in_scales)
                            .map_err(|e| err(e.to_string()))?;
                    }
                }
            }
        }
        let s0 = in_scales.first().copied().unwrap_or(0);
        let dyn_in_scale = |k: usize| in_scales[k];
        let (op, out_scale) = match &node.op {
            Op::Conv {
                weight,
                bias,
                window,
                groups,
            } => {
                let sw = linear_weight_scale(weight, true).min(bias_bound(bias, s0));
                let acc = s0 + sw;
                (
                    QOp::Conv {
                        weight: quantise(weight, sw)?,
                        bias: quantise_vec(bias, acc)?,
                        window: window.clone(),
                        groups: *groups,
                        shift: acc - calibrated,
                    },
                    calibrated,
                )
            }
            Op::Gemm { weight, bias } => {
                let sw = linear_weight_scale(weight, false).min(bias_bound(bias, s0));
                let acc = s0 + sw;
                (
                    QOp::Gemm {
                        weight: quantise(weight, sw)?,
                        bias: quantise_vec(bias, acc)?,
                        shift: acc - calibrated,
                    },
                    calibrated,
                )
            }
            Op::MatMul => (
                QOp::MatMul {
                    shift: in_scales[0] + in_scales[1] - calibrated,
                },
                calibrated,
            ),
            Op::Binary(kind) => {
                let (sa, sb) = (in_scales[0], in_scales[1]);
                match kind {
                    BinaryKind::Add | BinaryKind::Sub | BinaryKind::Max | BinaryKind::Min => {
                        let m = sa.max(sb).max(calibrated);
                        let (ua, ub, shift) = ((m - sa) as u32, (m - sb) as u32, m - calibrated);
                        if ua > 30 || ub > 30 {
                            return Err(err(format!("operand scales 2^-{sa} and 2^-{sb} are too far apart to align exactly in 64 bits")));
                        }
                        (
                            match kind {
                                BinaryKind::Add => QOp::Add { ua, ub, shift },
                                BinaryKind::Sub => QOp::Sub { ua, ub, shift },
                                BinaryKind::Max => QOp::Max { ua, ub, shift },
                                _ => QOp::Min { ua, ub, shift },
                            },
                            calibrated,
                        )
                    }
                    BinaryKind::Mul => (
                        QOp::Mul {
                            shift: sa + sb - calibrated,
                        },
                        calibrated,
                    ),
                    BinaryKind::Div => {
                        if matches!(node.inputs[1], Operand::Const(_)) {
                            (
                                QOp::Mul {
                                    shift: sa + sb - calibrated,
                                },
                                calibrated,
                            )
                        } else {
                            (
                                QOp::Div {
                                    up: calibrated + sb - sa,
                                },
                                calibrated,
                            )
                        }
                    }
                }
            }
            Op::Compare(kind) => {
                let (sa, sb) = (in_scales[0], in_scales[1]);
                let m = sa.max(sb);
                (
                    QOp::Compare {
                        kind: *kind,
                        ua: (m - sa) as u32,
                        ub: (m - sb) as u32,
                    },
                    0,
                )
            }
            Op::Unary(kind) => match kind {
                UnaryKind::Relu => (QOp::Relu, s0),
                UnaryKind::Neg => (QOp::Neg, s0),
                UnaryKind::Abs => (QOp::Abs, s0),
                UnaryKind::Sigmoid => (
                    QOp::Poly(
                        poly(|x| 1.0 / (1.0 + (-x).exp()), -10.0, 10.0, 0, s0, UNIT_SCALE)
                            .ok_or_else(|| err("input scale too coarse for Sigmoid".into()))?,
                    ),
                    UNIT_SCALE,
                ),
                UnaryKind::Tanh => (
                    QOp::Poly(
                        poly(f64::tanh, -6.0, 6.0, -1, s0, UNIT_SCALE)
                            .ok_or_else(|| err("input scale too coarse for Tanh".into()))?,
                    ),
                    UNIT_SCALE,
                ),
                UnaryKind::Erf => (
                    QOp::Poly(
                        poly(crate::ops::erf, -4.0, 4.0, -1, s0, UNIT_SCALE)
                            .ok_or_else(|| err("input scale too coarse for Erf".into()))?,
                    ),
                    UNIT_SCALE,
                ),
                UnaryKind::Exp => {
                    let hi = (cal.max_abs[slot].max(1.0)).ln().ceil() + 1.0;
                    (
                        QOp::Poly(
                            poly(f64::exp, -16.0, hi, -1, s0, calibrated)
                                .ok_or_else(|| err("input scale too coarse for Exp".into()))?,
                        ),
                        calibrated,
                    )
                }
                UnaryKind::Sqrt => {
                    let out = calibrated.max((s0 + 1).div_euclid(2));
                    (QOp::Sqrt { up: 2 * out - s0 }, out)
                }
                UnaryKind::Reciprocal => {
                    let bits = s0 + calibrated;
                    if bits < 0 || bits > 62 {
                        return Err(err(format!(
                            "reciprocal needs 2^{bits}: scales out of range"
                        )));
                    }
                    (
                        QOp::Reciprocal {
                            num_bits: bits as u32,
                        },
                        calibrated,
                    )
                }
            },
            Op::LeakyRelu { alpha } => (
                QOp::LeakyRelu {
                    alpha: (alpha * 65536.0).round() as i64,
                    alpha_shift: 16,
                },
                s0,
            ),
            Op::Clip { min, max } => {
                let q = |v: Option<f64>, d: i64| {
                    v.map_or(d, |v| {
                        ((v * 2f64.powi(s0)).round() as i64).clamp(i32::MIN as i64, i32::MAX as i64)
                    })
                };
                (
                    QOp::Clip {
                        lo: q(*min, i32::MIN as i64),
                        hi: q(*max, i32::MAX as i64),
                    },
                    s0,
                )
            }
            Op::Softmax { axis, legacy } => {
                let exp = poly(f64::exp, -16.0, 1.0, 0, s0, 16)
                    .ok_or_else(|| err("input scale too coarse for Softmax".into()))?;
                (
                    QOp::Softmax {
                        axis: *axis,
                        legacy: *legacy,
                        exp,
                        out_scale: UNIT_SCALE,
                    },
                    UNIT_SCALE,
                )
            }
            Op::MaxPool { window } => (
                QOp::MaxPool {
                    window: window.clone(),
                },
                s0,
            ),
            Op::AveragePool {
                window,
                count_include_pad,
            } => (
                QOp::AveragePool {
                    window: window.clone(),
                    count_include_pad: *count_include_pad,
                },
                s0,
            ),
            Op::GlobalAveragePool { divisor } => (
                QOp::GlobalAveragePool {
                    divisor: *divisor as u64,
                },
                s0,
            ),
            Op::Affine { mul, add } => {
                let sw = weight_scale(mul).min(bias_bound(add, s0));
                let acc = s0 + sw;
                (
                    QOp::Affine {
                        mul: quantise_vec(mul, sw)?,
                        add: quantise_vec(add, acc)?,
                        shift: acc - calibrated,
                    },
                    calibrated,
                )
            }
            Op::Reshape { .. } => (QOp::Reshape, s0),
            Op::Transpose { perm } => (QOp::Transpose { perm: perm.clone() }, s0),
            Op::Concat { axis } => {
                let out = *in_scales.iter().min().unwrap();
                (
                    QOp::Concat {
                        axis: *axis,
                        shifts: in_scales.iter().map(|s| s - out).collect(),
                    },
                    out,
                )
            }
            Op::Slice { starts, steps, .. } => (
                QOp::Slice {
                    starts: starts.clone(),
                    steps: steps.clone(),
                },
                // a graph input's Slice of slot 0 gives the input its own calibrated scale
                if graph.inputs.iter().any(|g| g.slot == Some(slot)) {
                    calibrated
                } else {
                    s0
                },
            ),
            Op::Gather { axis } => (QOp::Gather { axis: *axis }, s0),
            Op::GatherElements { axis } => (QOp::GatherElements { axis: *axis }, s0),
            Op::Not => (QOp::Not, 0),
            Op::IntDiv => (QOp::Div { up: 0 }, 0),
            Op::Where => {
                let out = dyn_in_scale(1).max(dyn_in_scale(2));
                (
                    QOp::Where {
                        sa: dyn_in_scale(1) - out,
                        sb: dyn_in_scale(2) - out,
                    },
                    out,
                )
            }
            Op::Cast { to } => match to {
                DType::Float => (
                    QOp::Cast {
                        to: DType::Float,
                        shift: 0,
                    },
                    s0,
                ),
                DType::Int => {
                    // the kernel truncates v·2^-s0 for s0 >= 0 only; a coarser input (s0 < 0)
                    // would need a left shift the circuit does not prove
                    if s0 < 0 {
                        return Err(err(format!(
                            "a cast to integer of a tensor at scale 2^{} (values beyond 2^19): coarser than integers",
                            -s0
                        )));
                    }
                    (
                        QOp::Cast {
                            to: DType::Int,
                            shift: s0,
                        },
                        0,
                    )
                }
                DType::Bool => (
                    QOp::Cast {
                        to: DType::Bool,
                        shift: 0,
                    },
                    0,
                ),
            },
            Op::ReduceSum { axes, .. } => (QOp::ReduceSum { axes: axes.clone() }, s0),
            Op::ReduceMean { axes, .. } => (QOp::ReduceMean { axes: axes.clone() }, s0),
            Op::ReduceExtreme { axes, max, .. } => (
                QOp::ReduceExtreme {
                    axes: axes.clone(),
                    max: *max,
                },
                s0,
            ),
            Op::Pad { begins, value, .. } => {
                let v = (value * 2f64.powi(s0)).round();
                if v.abs() >= 2f64.powi(31) {
                    return Err(err(format!(
                        "pad value {value} does not fit at scale 2^-{s0}"
                    )));
                }
                (
                    QOp::Pad {
                        begins: begins.clone(),
                        value: v as i64,
                    },
                    s0,
                )
            }
            Op::ArgMax {
                axis, select_last, ..
            } => (
                QOp::ArgMax {
                    axis: *axis,
                    select_last: *select_last,
                },
                0,
            ),
            Op::Shape => return Err(err("Shape should have been folded".into())),
            Op::Smooth(f) => {
                // a bounded function: its output scale follows from its bound, as a calibrated
                // tensor's from its largest value
                let (lo, hi, seg_log2) = f.domain();
                let out = scale_for(f.bound(), ACT_BITS);
                let p = poly(|x| f.eval(x), lo, hi, seg_log2, s0, out)
                    .ok_or_else(|| err(format!("input scale 2^-{s0} too coarse for {f:?}")))?;
                (QOp::Poly(p), out)
            }
        };
        let out_scale = if node.dtype == DType::Float {
            out_scale
        } else {
            0
        };
        let spec = TensorSpec::new(node.shape.clone(), node.dtype, out_scale);
        ops.push(QNode {
            name: node.name.clone(),
            onnx_op: node.onnx_op.clone(),
            op,
            inputs,
            out: spec.clone(),
            macs: node.macs() as u64,
        });
        specs.push(spec);
    }
    let mut input = specs[0].clone();
    align_chunks(&mut input, &mut ops);
    let inputs = graph
        .inputs
        .iter()
        .map(|g| ProgramInput {
            part: g.part.clone(),
            scale: g.slot.map_or(0, |s| specs[s].scale),
        })
        .collect();
    Ok(Program {
        format_version: FORMAT_VERSION,
        input,
        inputs,
        ops,
        outputs: graph.outputs.clone(),
    })
}

/// A piecewise cubic on `[lo, hi)` with segments of 2^seg_log2 real units (widened so that a
/// segment is at least one quantum of the input). `lo` is rounded down to a multiple of the
/// segment width (so 0 is always a segment boundary), and the segments cover up to `hi` from
/// there.
fn poly(
    f: impl Fn(f64) -> f64,
    lo: f64,
    hi: f64,
    seg_log2: i32,
    in_scale: i32,
    out_scale: i32,
) -> Option<PiecewisePoly> {
    let seg_log2 = seg_log2.max(-in_scale);
    let width = 2f64.powi(seg_log2);
    let lo = (lo / width).floor() * width;
    let segments = ((hi - lo) / width).ceil() as usize;
    PiecewisePoly::fit(
        f,
        lo,
        seg_log2,
        segments.max(1),
        3,
        in_scale,
        out_scale,
        POLY_GUARD,
    )
}
