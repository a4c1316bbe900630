//! math: the variadic Sum, Mean, Max and Min as chains of binary operators, Pow with a constant
//! exponent (or a constant base) as Mul chains, Sqrt, Reciprocal or Exp, Sign as two
//! comparisons, and Floor and Ceil from the truncating Cast and a comparison.

use super::{int_const, scalar, uniform, Builder, Ref};
use crate::error::Result;
use crate::onnx::{Const, DType};
use crate::ops::{BinaryKind, CompareKind, Op, UnaryKind};
use crate::tensor::{broadcast_shape, Tensor};

/// The largest `|exponent|` of Pow compiled to a Mul chain (at most 2·log2(16) = 8 Muls).
pub const MAX_POW_EXPONENT: f64 = 16.0;

/// `((x1 ⋄ x2) ⋄ x3) ⋄ ...`, each step one binary operator (its own rounding), broadcasting as
/// ONNX's variadic operators do. One input is the input itself.
fn chain(b: &mut Builder<'_>, kind: BinaryKind, part: &str) -> Result<Ref> {
    let n = b.n_inputs();
    if n == 0 {
        return Err(b.err("no input"));
    }
    let mut acc = b.input(0)?;
    for i in 1..n {
        let next = b.input(i)?;
        acc = b.binary(&format!("{part}{i}"), kind, &acc, &next)?;
    }
    Ok(acc)
}

/// `Sum(x1, ..., xk) = ((x1 + x2) + x3) + ...` (k − 1 Adds; Sum of one input is that input).
pub fn sum(b: &mut Builder<'_>) -> Result<Ref> {
    chain(b, BinaryKind::Add, "sum")
}

/// `Mean(x1, ..., xk) = Mul(Sum(x1, ..., xk), 1/k)`.
pub fn mean(b: &mut Builder<'_>) -> Result<Ref> {
    let s = chain(b, BinaryKind::Add, "sum")?;
    let k = b.n_inputs();
    if k == 1 {
        return Ok(s);
    }
    b.binary("mean", BinaryKind::Mul, &s, &scalar(1.0 / k as f64))
}

/// `Max(x1, ..., xk)` and `Min(...)` with k != 2 inputs: chains of the binary Max / Min (exact
/// but for the final rescale of each step).
pub fn max_min(b: &mut Builder<'_>) -> Result<Ref> {
    let (kind, part) = if b.node.op_type == "Max" {
        (BinaryKind::Max, "max")
    } else {
        (BinaryKind::Min, "min")
    };
    chain(b, kind, part)
}

/// `Pow(x, e)`:
/// - `e` a constant with one value: `e = 0` gives the constant 1, `e = 1` the input itself; an
///   integer or half-integer `e` with `|e| <= 16` is `b^n` by square-and-multiply (Mul), times
///   `Sqrt(b)` for the half, where `b = x`, or `b = Reciprocal(x)` when `e < 0` (so
///   `x^2 = Mul(x, x)`, `x^0.5 = Sqrt(x)`, `x^-1 = Reciprocal(x)`,
///   `x^-0.5 = Sqrt(Reciprocal(x))`); a negative `x` under a half-integer exponent, or 0 under a
///   negative one, is refused at run time by Sqrt or Reciprocal. Any other exponent of a float
///   `x` is `Exp(e · Log(x))` ([`log`]: `x` clamped to `[8.6e-14, 2^64]`, so a negative `x`
///   gives `exp(e · ln 8.6e-14)` where ONNX gives NaN).
/// - the base a positive constant `c` (the exponent dynamic): `c^e = Exp(Mul(e, ln c))`, with
///   Exp's calibrated range.
pub fn pow(b: &mut Builder<'_>) -> Result<Ref> {
    let (xr, er) = (b.input(0)?, b.input(1)?);
    match (b.constant(0).cloned(), b.constant(1).cloned()) {
        (None, Some(e)) => pow_const_exponent(b, &xr, &e),
        (Some(c), None) => {
            if b.dtype(&er) != DType::Float {
                return Err(b.unsupported("an integer exponent tensor under a constant base"));
            }
            if c.tensor.data.iter().any(|&v| v <= 0.0) {
                return Err(b.unsupported("a constant base that is not positive everywhere (only c^x = exp(x·ln c), c > 0)"));
            }
            let ln = Ref::Const(Const { dtype: DType::Float, tensor: c.tensor.map(|v| v.ln()) });
            let t = b.binary("exponent", BinaryKind::Mul, &er, &ln)?;
            Ok(b.unary("exp", Op::Unary(UnaryKind::Exp), &t))
        }
        _ => Err(b.unsupported("both the base and the exponent depend on the input; only a constant exponent or a constant base")),
    }
}

fn pow_const_exponent(b: &mut Builder<'_>, x: &Ref, e: &Const) -> Result<Ref> {
    let xs = b.shape(x);
    if broadcast_shape(&xs, &e.tensor.shape).as_deref() != Some(&xs[..]) {
        return Err(b.unsupported(format!(
            "an exponent of shape {:?} that widens the base {xs:?}",
            e.tensor.shape
        )));
    }
    let v = uniform(e).ok_or_else(|| {
        b.unsupported("an exponent tensor with different values; only one constant exponent")
    })?;
    let float = b.dtype(x) == DType::Float;
    if v == 0.0 {
        let dtype = b.dtype(x);
        return Ok(Ref::Const(Const {
            dtype,
            tensor: Tensor::filled(xs, 1.0),
        }));
    }
    if v == 1.0 {
        return Ok(x.clone());
    }
    let twice = 2.0 * v;
    if twice != twice.round() || v.abs() > MAX_POW_EXPONENT {
        if !float {
            return Err(b.unsupported(format!("the exponent {v} on an integer tensor")));
        }
        // x^e = exp(e · ln x), for x > 0 (x <= 0 is clamped as Log clamps it)
        let ln = log_of(b, "log_", x)?;
        let t = b.binary("exponent", BinaryKind::Mul, &ln, &scalar(v))?;
        return Ok(b.unary("exp", Op::Unary(UnaryKind::Exp), &t));
    }
    let n = v.abs().floor() as u32;
    let half = v.abs().fract() != 0.0;
    if !float && (half || v < 0.0) {
        return Err(b.unsupported(format!("the exponent {v} on an integer tensor")));
    }
    // a negative exponent: the reciprocal first, so that large results (small |x|) keep their
    // precision, then (1/x)^|e|
    let x = if v < 0.0 {
        b.unary("reciprocal", Op::Unary(UnaryKind::Reciprocal), x)
    } else {
        x.clone()
    };
    // x^n by square-and-multiply: base runs through x, x^2, x^4, ...
    let mut acc: Option<Ref> = None;
    let mut base = x.clone();
    let mut k = n;
    let mut power = 1u32;
    while k > 0 {
        if k & 1 == 1 {
            acc = Some(match acc {
                None => base.clone(),
                Some(a) => b.binary(&format!("times_pow{power}"), BinaryKind::Mul, &a, &base)?,
            });
        }
        k >>= 1;
        if k > 0 {
            power *= 2;
            base = b.binary(&format!("pow{power}"), BinaryKind::Mul, &base, &base)?;
        }
    }
    if half {
        let s = b.unary("sqrt", Op::Unary(UnaryKind::Sqrt), &x);
        acc = Some(match acc {
            None => s,
            Some(a) => b.binary("times_sqrt", BinaryKind::Mul, &a, &s)?,
        });
    }
    Ok(acc.expect("|e| >= 1/2"))
}

/// `Sign(x) = [x > 0] − [x < 0]`: two comparisons with 0 and a Sub, exact; the result is a
/// float tensor (the values −1, 0, 1) as ONNX's Sign keeps the input's type.
pub fn sign(b: &mut Builder<'_>) -> Result<Ref> {
    let x = b.input(0)?;
    let float = b.dtype(&x) == DType::Float;
    let zero = Ref::Const(Const {
        dtype: b.dtype(&x),
        tensor: Tensor::scalar(0.0),
    });
    let pos = b.compare("positive", CompareKind::Greater, &x, &zero)?;
    let neg = b.compare("negative", CompareKind::Less, &x, &zero)?;
    let shape = b.shape(&x);
    let dtype = if float { DType::Float } else { DType::Int };
    Ok(b.push(
        "sub",
        Op::Binary(BinaryKind::Sub),
        vec![pos, neg],
        shape,
        dtype,
    ))
}

/// `Floor(x) = t − [x < t]` and `Ceil(x) = t + [x > t]`, `t = Cast<int>(x)` (truncation toward
/// zero, exact at any scale): the comparison aligns `t` to `x`'s scale exactly. The result is a
/// float tensor holding integers; an integer input is its own floor and ceiling.
pub fn floor_ceil(b: &mut Builder<'_>) -> Result<Ref> {
    let x = b.input(0)?;
    if b.dtype(&x) != DType::Float {
        return Ok(x);
    }
    if b.node.op_type == "Floor" {
        floor_of(b, "", &x)
    } else {
        let t = b.cast("truncate", &x, DType::Int);
        let beyond = b.compare("beyond", CompareKind::Greater, &x, &t)?;
        b.binary_as("add", BinaryKind::Add, &t, &beyond, DType::Float)
    }
}

/// `Floor(x)` of a float `x` (see [`floor_ceil`]), its parts named after `prefix`.
fn floor_of(b: &mut Builder<'_>, prefix: &str, x: &Ref) -> Result<Ref> {
    let t = b.cast(&format!("{prefix}truncate"), x, DType::Int);
    let beyond = b.compare(&format!("{prefix}beyond"), CompareKind::Less, x, &t)?;
    b.binary_as(
        &format!("{prefix}sub"),
        BinaryKind::Sub,
        &t,
        &beyond,
        DType::Float,
    )
}

/// `Round(x)`, ties to even as ONNX defines it: `f = Floor(x)`, `r = x − f` in `[0, 1)`, then
/// `f + [r > 1/2] + [r = 1/2] · (f − 2·Floor(f/2))` (the last factor is 1 when `f` is odd).
/// Exact: every step is an integer, a half or a comparison, and `r` keeps `x`'s fraction bits.
pub fn round(b: &mut Builder<'_>) -> Result<Ref> {
    let x = b.input(0)?;
    if b.dtype(&x) != DType::Float {
        return Ok(x);
    }
    let f = floor_of(b, "floor_", &x)?;
    let r = b.binary("fraction", BinaryKind::Sub, &x, &f)?;
    let above = b.compare("above_half", CompareKind::Greater, &r, &scalar(0.5))?;
    let tie = b.compare("tie", CompareKind::Equal, &r, &scalar(0.5))?;
    let half = b.binary("half", BinaryKind::Mul, &f, &scalar(0.5))?;
    let half_floor = floor_of(b, "half_floor_", &half)?;
    let even = b.binary("even", BinaryKind::Mul, &half_floor, &scalar(2.0))?;
    let odd = b.binary("odd", BinaryKind::Sub, &f, &even)?;
    let tie_up = b.binary("tie_up", BinaryKind::Mul, &tie, &odd)?;
    let up = b.binary("up", BinaryKind::Add, &above, &tie_up)?;
    b.binary("round", BinaryKind::Add, &f, &up)
}

/// `MatMul(A, B)` with a constant `A` `[.., m, k]` and a computed `B` `[.., k, n]` (a decoder
/// step's folded query against the encoder's keys): every batch `g` of the output is
/// `A_g · B_g`, which is a grouped 1x1 convolution over `B` laid out as `[1, G·k, 1, n]` with
/// the weight `[G·m, k, 1, 1]` (group `g`'s rows are `A_g`), reshaped back to `[.., m, n]`:
/// the same sums, proved by the Conv circuits. `A`'s batch may broadcast; `B`'s may not.
pub fn mat_mul_constant_lhs(b: &mut Builder<'_>) -> Result<Ref> {
    let a = b
        .constant(0)
        .ok_or_else(|| b.err("input #0 is not a constant"))?
        .tensor
        .clone();
    let rhs = b.float_input(1)?;
    constant_times(b, "", &a, rhs)
}

/// `A · B` for a constant `A` `[.., m, k]` and a computed `B` `[.., k, n]`, as
/// [`mat_mul_constant_lhs`] describes; its parts named after `prefix`.
fn constant_times(b: &mut Builder<'_>, prefix: &str, a: &Tensor<f64>, rhs: Ref) -> Result<Ref> {
    let (ash, bsh) = (a.shape.clone(), b.shape(&rhs));
    if ash.len() < 2 || bsh.len() < 2 || ash[ash.len() - 1] != bsh[bsh.len() - 2] {
        return Err(b.err(format!("MatMul shapes {ash:?} x {bsh:?} do not match")));
    }
    let (m, k, n) = (ash[ash.len() - 2], ash[ash.len() - 1], bsh[bsh.len() - 1]);
    let batch = bsh[..bsh.len() - 2].to_vec();
    if broadcast_shape(&ash[..ash.len() - 2], &batch).as_ref() != Some(&batch) {
        return Err(b.unsupported(format!(
            "MatMul of a constant {ash:?} by {bsh:?}: the computed operand's batch would broadcast"
        )));
    }
    let g: usize = batch.iter().product();
    let a_of = crate::tensor::broadcast_offsets(&ash[..ash.len() - 2], &batch);
    let mut weight = Vec::with_capacity(g * m * k);
    for &ab in &a_of {
        weight.extend_from_slice(&a.data[ab * m * k..(ab + 1) * m * k]);
    }
    let lanes = vec![1, g * k, 1, n];
    let x = b.push(
        &format!("{prefix}lanes"),
        Op::Reshape {
            shape: lanes.clone(),
        },
        vec![rhs],
        lanes,
        DType::Float,
    );
    let conv = b.push(
        &format!("{prefix}grouped"),
        Op::Conv {
            weight: Tensor::new(vec![g * m, k, 1, 1], weight),
            bias: vec![0.0; g * m],
            window: crate::ops::Window {
                kernel: [1, 1],
                strides: [1, 1],
                dilations: [1, 1],
                pads: [0; 4],
            },
            groups: g,
        },
        vec![x],
        vec![1, g * m, 1, n],
        DType::Float,
    );
    let out = [&batch[..], &[m, n]].concat();
    Ok(b.push(
        &format!("{prefix}matmul"),
        Op::Reshape { shape: out.clone() },
        vec![conv],
        out,
        DType::Float,
    ))
}

/// An Einsum operand: computed (a value of the trace) or a constant, whose rearrangements are
/// done here at compile time.
#[derive(Clone)]
enum Operand {
    Dyn(Ref),
    Const(Tensor<f64>),
}

impl Operand {
    fn shape(&self, b: &Builder<'_>) -> Vec<usize> {
        match self {
            Operand::Dyn(r) => b.shape(r),
            Operand::Const(t) => t.shape.clone(),
        }
    }
    fn reduce(self, b: &mut Builder<'_>, part: &str, axes: Vec<usize>) -> Operand {
        if axes.is_empty() {
            return self;
        }
        let shape = self.shape(b);
        let out: Vec<usize> = (0..shape.len())
            .filter(|a| !axes.contains(a))
            .map(|a| shape[a])
            .collect();
        let op = Op::ReduceSum {
            axes,
            keepdims: false,
        };
        match self {
            Operand::Const(t) => Operand::Const(crate::ops::eval(&op, &[&t], &out)),
            Operand::Dyn(r) => Operand::Dyn(b.push(part, op, vec![r], out, DType::Float)),
        }
    }
    fn permute(self, b: &mut Builder<'_>, part: &str, perm: Vec<usize>) -> Operand {
        if perm.iter().enumerate().all(|(i, &p)| i == p) {
            return self;
        }
        match self {
            Operand::Const(t) => Operand::Const(t.transpose(&perm)),
            Operand::Dyn(r) => {
                let shape = b.shape(&r);
                let out = perm.iter().map(|&p| shape[p]).collect();
                Operand::Dyn(b.push(part, Op::Transpose { perm }, vec![r], out, DType::Float))
            }
        }
    }
    fn reshape(self, b: &mut Builder<'_>, part: &str, shape: Vec<usize>) -> Operand {
        if self.shape(b) == shape {
            return self;
        }
        match self {
            Operand::Const(t) => Operand::Const(Tensor::new(shape, t.data)),
            Operand::Dyn(r) => Operand::Dyn(b.push(
                part,
                Op::Reshape {
                    shape: shape.clone(),
                },
                vec![r],
                shape,
                DType::Float,
            )),
        }
    }
    fn into_ref(self) -> Ref {
        match self {
            Operand::Dyn(r) => r,
            Operand::Const(t) => Ref::Const(Const {
                dtype: DType::Float,
                tensor: t,
            }),
        }
    }
}

/// The letters of each Einsum term and of the output, with every `...` replaced by letters of
/// its own (aligned from the right, as numpy broadcasts them).
fn einsum_terms(
    b: &Builder<'_>,
    equation: &str,
    ranks: &[usize],
) -> Result<(Vec<Vec<char>>, Vec<char>)> {
    let eq: String = equation.chars().filter(|c| !c.is_whitespace()).collect();
    let (lhs, rhs) = match eq.split_once("->") {
        Some((l, r)) => (l.to_string(), Some(r.to_string())),
        None => (eq.clone(), None),
    };
    let terms: Vec<&str> = lhs.split(',').collect();
    if terms.len() != ranks.len() {
        return Err(b.err(format!(
            "equation {equation:?} has {} terms for {} inputs",
            terms.len(),
            ranks.len()
        )));
    }
    // the ellipsis letters: private-use characters, never in an equation
    let ell = |n: usize| -> Vec<char> {
        (0..n)
            .map(|i| char::from_u32(0xE000 + i as u32).expect("private-use character"))
            .collect()
    };
    // how many axes each term's ellipsis stands for
    let mut spans = Vec::new();
    for (t, &rank) in terms.iter().zip(ranks) {
        let letters: Vec<char> = t.replace("...", "").chars().collect();
        if letters.iter().any(|c| !c.is_ascii_alphabetic()) {
            return Err(b.err(format!("equation {equation:?}: term {t:?} is not letters")));
        }
        let span = if t.contains("...") {
            rank.checked_sub(letters.len())
        } else {
            (letters.len() == rank).then_some(0)
        };
        spans.push(span.ok_or_else(|| {
            b.err(format!(
                "equation {equation:?}: term {t:?} does not fit an input of rank {rank}"
            ))
        })?);
    }
    let widest = spans.iter().copied().max().unwrap_or(0);
    let all_ell = ell(widest);
    let with_ellipsis = |t: &str, span: usize| -> Vec<char> {
        match t.split_once("...") {
            // aligned from the right, as numpy broadcasts
            Some((before, after)) => before
                .chars()
                .chain(all_ell[widest - span..].iter().copied())
                .chain(after.chars())
                .collect(),
            None => t.chars().collect(),
        }
    };
    let fixed: Vec<Vec<char>> = terms
        .iter()
        .zip(&spans)
        .map(|(t, &span)| with_ellipsis(t, span))
        .collect();
    let output: Vec<char> = match rhs {
        Some(r) => {
            let letters: String = r.replace("...", "");
            if letters.chars().any(|c| !c.is_ascii_alphabetic()) {
                return Err(b.err(format!(
                    "equation {equation:?}: output {r:?} is not letters"
                )));
            }
            with_ellipsis(&r, widest)
        }
        None => {
            // numpy's implicit output: the ellipsis, then the letters used once, sorted
            let mut once: Vec<char> = fixed
                .iter()
                .flatten()
                .copied()
                .filter(|c| c.is_ascii_alphabetic())
                .collect();
            once.sort_unstable();
            let counts = |c: char| once.iter().filter(|&&x| x == c).count();
            let mut single: Vec<char> = once.iter().copied().filter(|&c| counts(c) == 1).collect();
            single.dedup();
            all_ell.iter().copied().chain(single).collect()
        }
    };
    Ok((fixed, output))
}

/// `Einsum` of one or two operands without repeated letters in a term (no diagonals): each
/// operand first sums the letters only it has and the output lacks (ReduceSum); the two are
/// then laid out as `[batch, free, contracted]` and `[batch, contracted, free]` (Transpose,
/// Reshape) and multiplied (MatMul of two computed operands, Gemm by a constant, or the grouped
/// 1x1 Conv of a constant by a computed one), and the product is laid out as the output says.
/// Constant operands are rearranged at compile time. Shared letters must have equal sizes (a
/// size-1 broadcast is refused).
pub fn einsum(b: &mut Builder<'_>) -> Result<Ref> {
    let equation = b.string("equation", "")?;
    let n = b.n_inputs();
    if !(1..=2).contains(&n) {
        return Err(b.unsupported(format!("{n} operands (one or two are supported)")));
    }
    let mut ops = Vec::new();
    for i in 0..n {
        ops.push(match b.constant(i) {
            Some(c) => Operand::Const(c.tensor.clone()),
            None => Operand::Dyn(b.float_input(i)?),
        });
    }
    let ranks: Vec<usize> = ops.iter().map(|o| o.shape(b).len()).collect();
    let (terms, output) = einsum_terms(b, &equation, &ranks)?;
    let mut size = std::collections::HashMap::new();
    for (t, o) in terms.iter().zip(&ops) {
        let shape = o.shape(b);
        for (k, (&c, &d)) in t.iter().zip(&shape).enumerate() {
            if t[..k].contains(&c) {
                return Err(b.unsupported(format!(
                    "equation {equation:?}: a letter repeated in one term (a diagonal)"
                )));
            }
            if let Some(prev) = size.insert(c, d) {
                if prev != d {
                    return Err(b.unsupported(format!(
                        "equation {equation:?}: a letter of sizes {prev} and {d} (broadcasting is not supported)"
                    )));
                }
            }
        }
    }
    for (k, c) in output.iter().enumerate() {
        if output[..k].contains(c) || !size.contains_key(c) {
            return Err(b.err(format!("equation {equation:?}: bad output letter {c:?}")));
        }
    }
    let dims = |letters: &[char]| -> Vec<usize> { letters.iter().map(|c| size[c]).collect() };
    let position = |term: &[char], c: char| term.iter().position(|&x| x == c).expect("in term");
    // sum the letters only one operand has and the output lacks
    let mut reduced = Vec::new();
    for (i, (t, o)) in terms.iter().zip(ops).enumerate() {
        let others: Vec<char> = terms
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .flat_map(|(_, t)| t.iter().copied())
            .collect();
        let gone: Vec<usize> = (0..t.len())
            .filter(|&k| !output.contains(&t[k]) && !others.contains(&t[k]))
            .collect();
        let kept: Vec<char> = (0..t.len())
            .filter(|k| !gone.contains(k))
            .map(|k| t[k])
            .collect();
        reduced.push((kept, o.reduce(b, &format!("sum{i}"), gone)));
    }
    let (letters, product) = if reduced.len() == 1 {
        reduced.pop().expect("one operand")
    } else {
        let (tb, ob) = reduced.pop().expect("two operands");
        let (ta, oa) = reduced.pop().expect("two operands");
        let batch: Vec<char> = ta
            .iter()
            .copied()
            .filter(|c| tb.contains(c) && output.contains(c))
            .collect();
        let contracted: Vec<char> = ta
            .iter()
            .copied()
            .filter(|c| tb.contains(c) && !output.contains(c))
            .collect();
        let free_a: Vec<char> = ta.iter().copied().filter(|c| !tb.contains(c)).collect();
        let free_b: Vec<char> = tb.iter().copied().filter(|c| !ta.contains(c)).collect();
        let (g, m, k, nn) = (
            dims(&batch).iter().product::<usize>(),
            dims(&free_a).iter().product::<usize>(),
            dims(&contracted).iter().product::<usize>(),
            dims(&free_b).iter().product::<usize>(),
        );
        let order = |t: &[char], first: &[char], second: &[char], third: &[char]| -> Vec<usize> {
            first
                .iter()
                .chain(second)
                .chain(third)
                .map(|&c| position(t, c))
                .collect()
        };
        let a = oa
            .permute(b, "a_layout", order(&ta, &batch, &free_a, &contracted))
            .reshape(b, "a_rows", vec![g, m, k]);
        let bb = ob
            .permute(b, "b_layout", order(&tb, &batch, &contracted, &free_b))
            .reshape(b, "b_cols", vec![g, k, nn]);
        let prod = batched_product(b, a, bb, [g, m, k, nn])?;
        let letters: Vec<char> = batch
            .iter()
            .chain(&free_a)
            .chain(&free_b)
            .copied()
            .collect();
        let shaped = Operand::Dyn(prod).reshape(b, "product_axes", dims(&letters));
        (letters, shaped)
    };
    let perm: Vec<usize> = output.iter().map(|&c| position(&letters, c)).collect();
    let out = product.permute(b, "einsum", perm);
    // the node's output must be a value of its own
    let out = match out {
        Operand::Dyn(Ref::In(_)) | Operand::Const(_) => {
            let shape = out.shape(b);
            let r = out.into_ref();
            b.push(
                "einsum",
                Op::Reshape {
                    shape: shape.clone(),
                },
                vec![r],
                shape,
                DType::Float,
            )
        }
        other => other.into_ref(),
    };
    Ok(out)
}

/// The batched product `[g, m, k] · [g, k, n]` of two operands, either of them constant (not
/// both): a Gemm when the right one is a constant of one batch, the grouped 1x1 Conv of
/// [`constant_times`] when one side is constant, else `MatMul`. Parts named `product*`.
fn batched_product(
    b: &mut Builder<'_>,
    a: Operand,
    bb: Operand,
    [g, m, k, nn]: [usize; 4],
) -> Result<Ref> {
    Ok(match (a, bb) {
        (Operand::Dyn(x), Operand::Const(w)) if g == 1 => b.push(
            "product",
            Op::Gemm {
                weight: Tensor::new(vec![k, nn], w.data),
                bias: vec![0.0; nn],
            },
            vec![x],
            vec![1, m, nn],
            DType::Float,
        ),
        (Operand::Dyn(x), Operand::Const(w)) => {
            // (A·W)ᵀ = Wᵀ·Aᵀ: the constant on the left
            let xt = Operand::Dyn(x)
                .permute(b, "a_transposed", vec![0, 2, 1])
                .into_ref();
            let wt = w.transpose(&[0, 2, 1]);
            let p = constant_times(b, "product_", &wt, xt)?;
            Operand::Dyn(p)
                .permute(b, "product", vec![0, 2, 1])
                .into_ref()
        }
        (Operand::Const(w), Operand::Dyn(x)) => constant_times(b, "product_", &w, x)?,
        (x, y) => b.push(
            "product",
            Op::MatMul,
            vec![x.into_ref(), y.into_ref()],
            vec![g, m, nn],
            DType::Float,
        ),
    })
}

/// Whether a Gemm is one the operator itself does not take: transA, a computed B, or a C that
/// is computed or is not one bias per column (`[m, 1]`, `[m, n]`).
pub fn gemm_needs_lowering(b: &Builder<'_>) -> Result<bool> {
    let trans_b = b.int("transB", 0)? != 0;
    if b.int("transA", 0)? != 0 || b.constant(1).is_none() {
        return Ok(true);
    }
    if !b.has(2) {
        return Ok(false);
    }
    let n = b.shape(&Ref::In(1)).get(usize::from(!trans_b)).copied();
    Ok(match b.constant(2) {
        None => true,
        Some(c) => {
            let t = &c.tensor;
            !(t.len() == 1 || (Some(t.len()) == n && t.shape.last() == n.as_ref()))
        }
    })
}

/// `Gemm` in the forms the operator itself does not take (it needs a computed `A` without
/// `transA` and a constant `B`): `transA`, a computed `B`, a constant `A` (hummingbird's GEMM
/// trees compute `W · xᵀ`). `Y = alpha · op(A) · op(B) + beta · C`: the product as Einsum's
/// (a Gemm, a grouped 1x1 Conv for a constant left side, or MatMul), alpha folded into a
/// constant operand (else an affine map), then `+ beta · C` by a broadcast Add.
pub fn gemm(b: &mut Builder<'_>) -> Result<Ref> {
    let (alpha, beta) = (b.float("alpha", 1.0)?, b.float("beta", 1.0)?);
    let mut sides = Vec::new();
    for (i, trans) in [(0, b.int("transA", 0)? != 0), (1, b.int("transB", 0)? != 0)] {
        let o = match b.constant(i) {
            Some(c) => Operand::Const(c.tensor.clone()),
            None => Operand::Dyn(b.float_input(i)?),
        };
        if o.shape(b).len() != 2 {
            return Err(b.err(format!("input #{i} must have rank 2, not {:?}", o.shape(b))));
        }
        let o = if trans {
            o.permute(b, &format!("transposed{i}"), vec![1, 0])
        } else {
            o
        };
        sides.push(o);
    }
    let (mut y, mut x) = (
        sides.pop().expect("two sides"),
        sides.pop().expect("two sides"),
    );
    let (xs, ys) = (x.shape(b), y.shape(b));
    let (m, k, n) = (xs[0], xs[1], ys[1]);
    if ys[0] != k {
        return Err(b.err(format!("op(A) {xs:?} does not match op(B) {ys:?}")));
    }
    let mut scaled = alpha == 1.0;
    for side in [&mut x, &mut y] {
        if let (false, Operand::Const(t)) = (scaled, &*side) {
            *side = Operand::Const(t.map(|v| v * alpha));
            scaled = true;
        }
    }
    let x = x.reshape(b, "a_rows", vec![1, m, k]);
    let y = y.reshape(b, "b_cols", vec![1, k, n]);
    let p = batched_product(b, x, y, [1, m, k, n])?;
    let mut out = Operand::Dyn(p)
        .reshape(b, "product_rows", vec![m, n])
        .into_ref();
    if !scaled {
        out = b.affine("scaled", &out, alpha, 0.0)?;
    }
    if b.has(2) {
        // C broadcasts to [m, n] one way only (ONNX's unidirectional broadcasting)
        let cs = b.shape(&b.input(2)?);
        let fits = cs.len() <= 2
            && cs
                .iter()
                .rev()
                .zip([n, m])
                .all(|(&d, want)| d == 1 || d == want);
        if !fits {
            return Err(b.err(format!(
                "C of shape {cs:?} does not broadcast to [{m}, {n}]"
            )));
        }
    }
    if b.has(2) && beta != 0.0 {
        let c = match b.constant(2) {
            Some(c) => Ref::Const(Const {
                dtype: DType::Float,
                tensor: c.tensor.map(|v| v * beta),
            }),
            None => {
                let c = b.float_input(2)?;
                b.affine("bias_scaled", &c, beta, 0.0)?
            }
        };
        out = b.binary("gemm", BinaryKind::Add, &out, &c)?;
    }
    Ok(out)
}

/// `CumSum(x, axis)` (`axis` a constant; `exclusive`, `reverse`): the axis moved last
/// (Transpose), a Gemm by the constant 0/1 matrix `T[k, j] = [k <= j]` (`[k < j]` exclusive,
/// `>` for reverse), and moved back. Exact but for the Gemm's one rounding: 1 and 0 are exact.
pub fn cum_sum(b: &mut Builder<'_>) -> Result<Ref> {
    let x = b.float_input(0)?;
    let xs = b.shape(&x);
    let rank = xs.len();
    let a = b
        .constant(1)
        .ok_or_else(|| b.unsupported("axis (input #1) must be a constant"))?
        .tensor
        .data
        .first()
        .copied()
        .ok_or_else(|| b.err("axis (input #1) is empty"))?;
    let axis = crate::tensor::norm_axis(a as i64, rank)
        .ok_or_else(|| b.err(format!("axis {a} out of range for rank {rank}")))?;
    let (exclusive, reverse) = (b.int("exclusive", 0)? != 0, b.int("reverse", 0)? != 0);
    let n = xs[axis];
    let mut t = vec![0.0; n * n];
    for k in 0..n {
        for j in 0..n {
            let takes = match (reverse, exclusive) {
                (false, false) => k <= j,
                (false, true) => k < j,
                (true, false) => k >= j,
                (true, true) => k > j,
            };
            t[k * n + j] = if takes { 1.0 } else { 0.0 };
        }
    }
    let mut perm: Vec<usize> = (0..rank).filter(|&d| d != axis).collect();
    perm.push(axis);
    let mut inverse = vec![0; rank];
    for (i, &p) in perm.iter().enumerate() {
        inverse[p] = i;
    }
    let last = Operand::Dyn(x).permute(b, "axis_last", perm);
    let shape = last.shape(b);
    let sums = gemm_rows(b, "sums", last.into_ref(), Tensor::new(vec![n, n], t))?;
    debug_assert_eq!(b.shape(&sums), shape);
    Ok(Operand::Dyn(sums).permute(b, "cumsum", inverse).into_ref())
}

/// `x · W` over the last axis of `x` by the constant `W` `[k, n]`, as a Gemm of the rows
/// `[rows, k]`: a rank-4 tensor is chunked by pixels (NHWC), not by rows of its last axis, so
/// the Gemm circuit, which reads whole rows, must see it as rank 2 (Reshapes on both sides).
fn gemm_rows(b: &mut Builder<'_>, part: &str, x: Ref, w: Tensor<f64>) -> Result<Ref> {
    let xs = b.shape(&x);
    let (k, n) = (w.shape[0], w.shape[1]);
    if xs.last() != Some(&k) {
        return Err(b.err(format!("shapes {xs:?} x {:?} do not match", w.shape)));
    }
    let mut out = xs.clone();
    *out.last_mut().expect("checked") = n;
    let gemm = |b: &mut Builder<'_>, x: Ref, shape: Vec<usize>| {
        b.push(
            part,
            Op::Gemm {
                weight: w.clone(),
                bias: vec![0.0; n],
            },
            vec![x],
            shape,
            DType::Float,
        )
    };
    if xs.len() != 4 {
        return Ok(gemm(b, x, out));
    }
    let rows = xs[..3].iter().product::<usize>();
    let flat = Operand::Dyn(x)
        .reshape(b, &format!("{part}_rows"), vec![rows, k])
        .into_ref();
    let y = gemm(b, flat, vec![rows, n]);
    Ok(Operand::Dyn(y)
        .reshape(b, &format!("{part}_shape"), out)
        .into_ref())
}

/// `MatMul(X, W)` of a computed rank-4 `X` by a constant `W` `[k, n]`: [`gemm_rows`].
pub fn mat_mul_rank4_by_constant(b: &mut Builder<'_>) -> Result<Ref> {
    let x = b.float_input(0)?;
    let w = b
        .constant(1)
        .ok_or_else(|| b.err("input #1 is not a constant"))?
        .tensor
        .clone();
    gemm_rows(b, "matmul", x, w)
}

/// `Div(a, b)` of integer tensors, truncating toward zero as ONNX defines it, exactly:
/// `q = floor(|a| / |b|)` is the rounding integer division ([`Op::IntDiv`], half up) of
/// `|a| − floor(|b|/2)` by `|b|` (for any `B >= 1`, `floor((A − ⌊B/2⌋)/B + 1/2) = floor(A/B)`:
/// no doubling, so every `|a| < 2^31` fits), then `q` takes the sign of `a·b`:
/// `Where(Not(Equal([a < 0], [b < 0])), −q, q)`. A constant divisor's `|b|`, `⌊|b|/2⌋` and sign
/// are constants (a constant 0 is refused at compile time); a computed one's `⌊|b|/2⌋` is
/// `IntDiv(|b| − 1, 2)`, and a computed 0 is refused at run time by the IntDiv.
pub fn integer_div(b: &mut Builder<'_>) -> Result<Ref> {
    let (x, d) = (b.input(0)?, b.input(1)?);
    let shape = broadcast_shape(&b.shape(&x), &b.shape(&d))
        .ok_or_else(|| b.err("the operands' shapes do not broadcast"))?;
    let zero = int_const(Tensor::scalar(0.0));
    let int_div = |b: &mut Builder<'_>, part: &str, n: &Ref, d: &Ref| -> Result<Ref> {
        let shape = broadcast_shape(&b.shape(n), &b.shape(d))
            .ok_or_else(|| b.err("the operands' shapes do not broadcast"))?;
        Ok(b.push(
            part,
            Op::IntDiv,
            vec![n.clone(), d.clone()],
            shape,
            DType::Int,
        ))
    };
    let (abs_d, half_d, d_negative) = match b.constant(1).cloned() {
        Some(c) => {
            if c.tensor.data.contains(&0.0) {
                return Err(b.err("integer division by a constant zero"));
            }
            let abs = c.tensor.map(|v| v.abs());
            (
                int_const(abs.clone()),
                int_const(abs.map(|v| (v / 2.0).floor())),
                int_const(c.tensor.map(|&v| (v < 0.0) as u8 as f64)),
            )
        }
        None => {
            let abs = b.unary("divisor_abs", Op::Unary(UnaryKind::Abs), &d);
            let one = int_const(Tensor::scalar(1.0));
            let less = b.binary("divisor_less_one", BinaryKind::Sub, &abs, &one)?;
            let half = int_div(b, "divisor_half", &less, &int_const(Tensor::scalar(2.0)))?;
            let negative = b.compare("divisor_negative", CompareKind::Less, &d, &zero)?;
            (abs, half, negative)
        }
    };
    let abs_x = b.unary("abs", Op::Unary(UnaryKind::Abs), &x);
    let numerator = b.binary("numerator", BinaryKind::Sub, &abs_x, &half_d)?;
    let q = int_div(b, "floor", &numerator, &abs_d)?;
    let x_negative = b.compare("negative", CompareKind::Less, &x, &zero)?;
    let same = b.compare("same_sign", CompareKind::Equal, &x_negative, &d_negative)?;
    let flip = b.unary("flip", Op::Not, &same);
    let neg = b.unary("neg", Op::Unary(UnaryKind::Neg), &q);
    Ok(b.push("where", Op::Where, vec![flip, neg, q], shape, DType::Int))
}

/// How many square roots [`log`] takes before its polynomial: `x^(1/64)` of any `x` in
/// `[8.6e-14, 1.8e19]` lies in `[0.625, 2]`.
pub const LOG_ROOT_DEPTH: u32 = 6;

/// `Log(x) = 64 · ln(x^(1/64))`: `Relu(x)` (ONNX's NaN for `x < 0` and −inf at 0 become the
/// value at the domain's low end), six Sqrts (exact integer square roots, each at its
/// calibrated scale), then the piecewise cubic of `64·ln y` on `y ∈ [0.625, 2]`
/// ([`SmoothFn::LnOfRoot`]), so `x` is clamped to `[0.625^64 ≈ 8.6e-14, 2^64]`. The roots
/// bring ln's unbounded range to a bounded domain without a table of octaves; their rounding
/// is relative (`δy/y` becomes `64·δy/y` in ln x, about 1e-5 at the usual scales).
pub fn log(b: &mut Builder<'_>) -> Result<Ref> {
    let x = b.float_input(0)?;
    log_of(b, "", &x)
}

/// [`log`] of `x`, its parts named after `prefix`.
fn log_of(b: &mut Builder<'_>, prefix: &str, x: &Ref) -> Result<Ref> {
    let mut y = b.relu(&format!("{prefix}clamp"), x);
    for k in 1..=LOG_ROOT_DEPTH {
        y = b.unary(&format!("{prefix}root{k}"), Op::Unary(UnaryKind::Sqrt), &y);
    }
    Ok(b.smooth(
        &format!("{prefix}ln"),
        crate::ops::SmoothFn::LnOfRoot {
            depth: LOG_ROOT_DEPTH,
        },
        &y,
    ))
}

/// `x` with the sign of `of`: `Where(of < 0, −x, x)` (`x >= 0`).
fn signed_like(b: &mut Builder<'_>, x: &Ref, of: &Ref) -> Result<Ref> {
    let negative = b.compare("negative", CompareKind::Less, of, &scalar(0.0))?;
    let minus = b.unary("minus", Op::Unary(UnaryKind::Neg), x);
    let shape = b.shape(of);
    Ok(b.push(
        "signed",
        Op::Where,
        vec![negative, minus, x.clone()],
        shape,
        DType::Float,
    ))
}

/// `x` reduced to `r = x − 2π·n` in `[−π, π]`, `n = Floor(x/2π + 1/2)` (an Affine, the exact
/// Floor, a Mul by 2π and a Sub: `r`'s error is `n` times 2π's quantisation, about 4e-6 a
/// period).
fn reduce_turns(b: &mut Builder<'_>, x: &Ref) -> Result<Ref> {
    use std::f64::consts::TAU;
    let turns = b.affine("turns", x, 1.0 / TAU, 0.5)?;
    let n = floor_of(b, "turns_", &turns)?;
    let whole = b.binary("whole_turns", BinaryKind::Mul, &n, &scalar(TAU))?;
    b.binary("reduced", BinaryKind::Sub, x, &whole)
}

/// The trigonometric functions, each a range reduction and a cubic on a bounded domain:
/// - `Sin`, `Cos`: [`reduce_turns`] then the cubic of sin or cos on `[−π, π]`;
/// - `Tan = Sin / Cos` of the reduced argument (a Div: `cos = 0` exactly is refused at run
///   time, as the quotient has no value);
/// - `Asin(x) = sign(x) · (π/2 − 2·asin(sqrt((1 − c)/2)))`, `c = Clip(|x|, 0, 1)` (outside
///   [−1, 1], where ONNX gives NaN, the value at ±1); `Acos(x) = π/2 − Asin(x)`;
/// - `Atan(x) = sign(x) · (atan(min(|x|, 1)) + π/4 − atan(1/max(|x|, 1)))` (a Max, a
///   Reciprocal and two cubics on `[0, 1]`).
pub fn trig(b: &mut Builder<'_>) -> Result<Ref> {
    use crate::ops::SmoothFn;
    let x = b.float_input(0)?;
    let op = b.node.op_type.clone();
    match op.as_str() {
        "Sin" | "Cos" => {
            let r = reduce_turns(b, &x)?;
            Ok(b.smooth("curve", SmoothFn::SinCos { cos: op == "Cos" }, &r))
        }
        "Tan" => {
            let r = reduce_turns(b, &x)?;
            let sin = b.smooth("sin", SmoothFn::SinCos { cos: false }, &r);
            let cos = b.smooth("cos", SmoothFn::SinCos { cos: true }, &r);
            b.binary("tan", BinaryKind::Div, &sin, &cos)
        }
        "Asin" | "Acos" => {
            let a = b.unary("abs", Op::Unary(UnaryKind::Abs), &x);
            let clip = Op::Clip {
                min: Some(0.0),
                max: Some(1.0),
            };
            let c = b.unary("clip", clip, &a);
            let half = b.affine("half_gap", &c, -0.5, 0.5)?;
            let s = b.unary("half_angle", Op::Unary(UnaryKind::Sqrt), &half);
            let magnitude = b.smooth("asin", SmoothFn::AsinHalfAngle, &s);
            let asin = signed_like(b, &magnitude, &x)?;
            if op == "Asin" {
                Ok(asin)
            } else {
                b.affine("acos", &asin, -1.0, std::f64::consts::FRAC_PI_2)
            }
        }
        "Atan" => {
            let a = b.unary("abs", Op::Unary(UnaryKind::Abs), &x);
            let at_least_one = b.binary("at_least_one", BinaryKind::Max, &a, &scalar(1.0))?;
            let inverse = b.unary("inverse", Op::Unary(UnaryKind::Reciprocal), &at_least_one);
            let near = b.smooth("atan_near", SmoothFn::AtanUnit { complement: false }, &a);
            let far = b.smooth(
                "atan_far",
                SmoothFn::AtanUnit { complement: true },
                &inverse,
            );
            let magnitude = b.binary("atan", BinaryKind::Add, &near, &far)?;
            signed_like(b, &magnitude, &x)
        }
        other => Err(b.unsupported(format!("{other} is not a trigonometric function"))),
    }
}
