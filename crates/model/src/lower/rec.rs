//! Recurrent layers (tract-onnx's `rec` family): LSTM, GRU and RNN, unrolled over their fixed
//! sequence length. The input projections of all time steps are one Gemm per gate; each step
//! adds its hidden projection (a Gemm of the previous state, skipped while the state is 0),
//! applies the gate activations (Sigmoid, Tanh) and updates the state with Mul, Add and Sub.
//! Weights, biases and peepholes must be constants; the initial states may be constants or
//! computed. The activations, `clip`, `layout` and LSTM's `input_forget` keep their defaults
//! (anything else is refused, naming the attribute). `sequence_lens` must be absent or equal the
//! sequence length for every batch entry.

use super::{Builder, Ref};
use crate::error::Result;
use crate::onnx::{Attr, Const, DType};
use crate::ops::{BinaryKind, Op, UnaryKind};
use crate::tensor::Tensor;

/// The three ONNX recurrent layers: gate count, gate order in W/R/B, default activations.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Cell {
    /// gates i, o, f, c; Sigmoid, Tanh, Tanh
    Lstm,
    /// gates z, r, h; Sigmoid, Tanh
    Gru,
    /// one gate; Tanh
    Rnn,
}

impl Cell {
    fn gates(self) -> usize {
        match self {
            Cell::Lstm => 4,
            Cell::Gru => 3,
            Cell::Rnn => 1,
        }
    }
    fn default_activations(self) -> &'static [&'static str] {
        match self {
            Cell::Lstm => &["Sigmoid", "Tanh", "Tanh"],
            Cell::Gru => &["Sigmoid", "Tanh"],
            Cell::Rnn => &["Tanh"],
        }
    }
}

pub fn lstm(b: &mut Builder<'_>) -> Result<Vec<Ref>> {
    unroll(b, Cell::Lstm)
}

pub fn gru(b: &mut Builder<'_>) -> Result<Vec<Ref>> {
    unroll(b, Cell::Gru)
}

pub fn rnn(b: &mut Builder<'_>) -> Result<Vec<Ref>> {
    unroll(b, Cell::Rnn)
}

/// What one direction of a layer reads: its weights per gate, transposed for Gemm.
struct Direction {
    /// `[input, hidden]` per gate
    w: Vec<Tensor<f64>>,
    /// `[hidden, hidden]` per gate
    r: Vec<Tensor<f64>>,
    /// Wb per gate
    wb: Vec<Vec<f64>>,
    /// Rb per gate
    rb: Vec<Vec<f64>>,
    /// LSTM peepholes i, o, f (`[hidden]` each), None when absent or 0
    p: Option<[Vec<f64>; 3]>,
}

/// Rows `[g·h, (g+1)·h)` of the `[gates·h, cols]` matrix of direction `d`, transposed.
fn gate_matrix(t: &Tensor<f64>, d: usize, g: usize, h: usize, cols: usize) -> Tensor<f64> {
    let gates_h = t.shape[1];
    let base = d * gates_h * cols + g * h * cols;
    let mut out = vec![0.0; cols * h];
    for row in 0..h {
        for col in 0..cols {
            out[col * h + row] = t.data[base + row * cols + col];
        }
    }
    Tensor::new(vec![cols, h], out)
}

fn unroll(b: &mut Builder<'_>, cell: Cell) -> Result<Vec<Ref>> {
    let x = b.float_input(0)?;
    let xs = b.shape(&x);
    if xs.len() != 3 {
        return Err(b.err(format!(
            "X has shape {xs:?}; expected [seq_length, batch, input]"
        )));
    }
    let (seq, batch, input) = (xs[0], xs[1], xs[2]);
    if seq == 0 || batch == 0 {
        return Err(b.err(format!("X has shape {xs:?}: an empty sequence or batch")));
    }
    if b.int("layout", 0)? != 0 {
        return Err(b.unsupported("layout = 1 (batch first); only layout 0 is supported"));
    }
    if b.node.attrs.contains_key("clip") {
        return Err(b.unsupported("clip: the cell clip is not supported"));
    }
    if cell == Cell::Lstm && b.int("input_forget", 0)? != 0 {
        return Err(b.unsupported("input_forget = 1 is not supported"));
    }
    let direction = b.string("direction", "forward")?;
    let dirs: Vec<bool> = match direction.as_str() {
        "forward" => vec![false],
        "reverse" => vec![true],
        "bidirectional" => vec![false, true],
        other => return Err(b.err(format!("direction {other:?}"))),
    };
    if let Some(a) = b.node.attrs.get("activations") {
        let Attr::Strs(names) = a else {
            return Err(b.err("attribute activations must be strings"));
        };
        let want = cell.default_activations();
        let expected: Vec<&str> = dirs.iter().flat_map(|_| want.iter().copied()).collect();
        if names
            .iter()
            .map(String::as_str)
            .ne(expected.iter().copied())
        {
            return Err(b.unsupported(format!(
                "activations {names:?}: only the defaults {want:?} are supported"
            )));
        }
    }
    // hidden_size may be omitted: R is [num_directions, gates·hidden, hidden]
    let r_hidden = b.shape(&b.input(2)?).get(2).copied().unwrap_or(0);
    let hidden = usize::try_from(b.int("hidden_size", r_hidden as i64)?)
        .ok()
        .filter(|&h| h > 0)
        .ok_or_else(|| b.err("hidden_size must be positive"))?;
    let gates = cell.gates();
    let weight = |b: &Builder<'_>, i: usize, name: &str, cols: usize| -> Result<Tensor<f64>> {
        let c = b
            .constant(i)
            .ok_or_else(|| b.unsupported(format!("{name} (input #{i}) must be a constant")))?;
        let want = [dirs.len(), gates * hidden, cols];
        if c.tensor.shape != want {
            return Err(b.err(format!(
                "{name} has shape {:?}; expected {want:?}",
                c.tensor.shape
            )));
        }
        Ok(c.tensor.clone())
    };
    let w = weight(b, 1, "W", input)?;
    let r = weight(b, 2, "R", hidden)?;
    let bias = if b.has(3) {
        let c = b
            .constant(3)
            .ok_or_else(|| b.unsupported("B (input #3) must be a constant"))?;
        let want = [dirs.len(), 2 * gates * hidden];
        if c.tensor.shape != want {
            return Err(b.err(format!(
                "B has shape {:?}; expected {want:?}",
                c.tensor.shape
            )));
        }
        c.tensor.data.clone()
    } else {
        vec![0.0; dirs.len() * 2 * gates * hidden]
    };
    if b.has(4) {
        let lens = b.constant(4).ok_or_else(|| {
            b.unsupported("sequence_lens (input #4) must be a constant equal to seq_length")
        })?;
        if lens.tensor.shape != [batch] || lens.tensor.data.iter().any(|&l| l != seq as f64) {
            return Err(b.unsupported(format!(
                "sequence_lens {:?} of shape {:?}: only [batch] sequences of the full length {seq}",
                lens.tensor.data, lens.tensor.shape
            )));
        }
    }
    let peepholes = if cell == Cell::Lstm && b.has(7) {
        let c = b
            .constant(7)
            .ok_or_else(|| b.unsupported("P (input #7) must be a constant"))?;
        let want = [dirs.len(), 3 * hidden];
        if c.tensor.shape != want {
            return Err(b.err(format!(
                "P has shape {:?}; expected {want:?}",
                c.tensor.shape
            )));
        }
        Some(c.tensor.data.clone())
    } else {
        None
    };
    let directions: Vec<Direction> = (0..dirs.len())
        .map(|d| {
            let b_of = |part: usize, g: usize| {
                let at = d * 2 * gates * hidden + part * gates * hidden + g * hidden;
                bias[at..at + hidden].to_vec()
            };
            Direction {
                w: (0..gates)
                    .map(|g| gate_matrix(&w, d, g, hidden, input))
                    .collect(),
                r: (0..gates)
                    .map(|g| gate_matrix(&r, d, g, hidden, hidden))
                    .collect(),
                wb: (0..gates).map(|g| b_of(0, g)).collect(),
                rb: (0..gates).map(|g| b_of(1, g)).collect(),
                p: peepholes.as_ref().and_then(|p| {
                    let at = d * 3 * hidden;
                    let s = |k: usize| p[at + k * hidden..at + (k + 1) * hidden].to_vec();
                    p[at..at + 3 * hidden]
                        .iter()
                        .any(|&v| v != 0.0)
                        .then(|| [s(0), s(1), s(2)])
                }),
            }
        })
        .collect();
    let linear_before_reset = cell == Cell::Gru && b.int("linear_before_reset", 0)? != 0;

    // every time step's input rows at once: [seq·batch, input]
    let rows = b.push(
        "rows",
        Op::Reshape {
            shape: vec![seq * batch, input],
        },
        vec![x],
        vec![seq * batch, input],
        DType::Float,
    );
    let mut y_per_dir: Vec<Vec<Ref>> = Vec::new();
    let mut last_h = Vec::new();
    let mut last_c = Vec::new();
    for (d, (&reverse, dw)) in dirs.iter().zip(&directions).enumerate() {
        let tag = |s: &str| {
            if dirs.len() == 2 {
                format!("{}_{s}", if reverse { "bwd" } else { "fwd" })
            } else {
                s.to_string()
            }
        };
        // the input projection of every step, per gate: [seq·batch, hidden]
        let mut proj = Vec::with_capacity(gates);
        for g in 0..gates {
            // Rb joins Wb here except in GRU's h gate with linear_before_reset (inside r ⊙ ..)
            let keep_rb_apart = linear_before_reset && g == 2;
            let bias: Vec<f64> = if keep_rb_apart {
                dw.wb[g].clone()
            } else {
                dw.wb[g].iter().zip(&dw.rb[g]).map(|(a, c)| a + c).collect()
            };
            proj.push(b.push(
                &tag(&format!("x_gate{g}")),
                Op::Gemm {
                    weight: dw.w[g].clone(),
                    bias,
                },
                vec![rows.clone()],
                vec![seq * batch, hidden],
                DType::Float,
            ));
        }
        let mut h = initial_state(b, 5, [d, dirs.len()], batch, hidden)?;
        let mut c = if cell == Cell::Lstm {
            initial_state(b, 6, [d, dirs.len()], batch, hidden)?
        } else {
            None
        };
        let mut ys = vec![None; seq];
        let order: Vec<usize> = if reverse {
            (0..seq).rev().collect()
        } else {
            (0..seq).collect()
        };
        for t in order {
            let part = |s: &str| tag(&format!("t{t}_{s}"));
            let step_x = |b: &mut Builder<'_>, g: usize| {
                if seq == 1 {
                    return proj[g].clone();
                }
                b.push(
                    &part(&format!("x{g}")),
                    Op::Slice {
                        starts: vec![t * batch, 0],
                        ends: vec![(t + 1) * batch, hidden],
                        steps: vec![1, 1],
                    },
                    vec![proj[g].clone()],
                    vec![batch, hidden],
                    DType::Float,
                )
            };
            // the hidden projection h·R_g (+ bias), None while h is 0 and there is no bias
            let hidden_proj =
                |b: &mut Builder<'_>, h: &Option<Ref>, g: usize, bias: Vec<f64>| -> Option<Ref> {
                    let h = h.as_ref()?;
                    Some(b.push(
                        &part(&format!("h{g}")),
                        Op::Gemm {
                            weight: dw.r[g].clone(),
                            bias,
                        },
                        vec![h.clone()],
                        vec![batch, hidden],
                        DType::Float,
                    ))
                };
            let zero = vec![0.0; hidden];
            let pre = |b: &mut Builder<'_>, g: usize, h: &Option<Ref>| -> Result<Ref> {
                let xg = step_x(b, g);
                match hidden_proj(b, h, g, zero.clone()) {
                    Some(hg) => b.binary(&part(&format!("pre{g}")), BinaryKind::Add, &xg, &hg),
                    None => Ok(xg),
                }
            };
            let act = |b: &mut Builder<'_>, name: &str, kind: UnaryKind, x: &Ref| {
                b.unary(&part(name), Op::Unary(kind), x)
            };
            let new_h = match cell {
                Cell::Rnn => {
                    let p = pre(b, 0, &h)?;
                    act(b, "h", UnaryKind::Tanh, &p)
                }
                Cell::Gru => {
                    let z = pre(b, 0, &h)?;
                    let z = act(b, "z", UnaryKind::Sigmoid, &z);
                    let rg = pre(b, 1, &h)?;
                    let rg = act(b, "r", UnaryKind::Sigmoid, &rg);
                    let xh = step_x(b, 2);
                    let inner = if linear_before_reset {
                        // r ⊙ (h·Rh + Rbh)
                        let lin = match hidden_proj(b, &h, 2, dw.rb[2].clone()) {
                            Some(l) => Some(l),
                            None if dw.rb[2].iter().any(|&v| v != 0.0) => {
                                Some(row_const(&dw.rb[2]))
                            }
                            None => None,
                        };
                        match lin {
                            Some(l) => Some(b.binary(&part("reset"), BinaryKind::Mul, &rg, &l)?),
                            None => None,
                        }
                    } else {
                        // (r ⊙ h)·Rh
                        match &h {
                            Some(hv) => {
                                let rh = b.binary(&part("reset"), BinaryKind::Mul, &rg, hv)?;
                                hidden_proj(b, &Some(rh), 2, zero.clone())
                            }
                            None => None,
                        }
                    };
                    let ph = match inner {
                        Some(i) => b.binary(&part("pre2"), BinaryKind::Add, &xh, &i)?,
                        None => xh,
                    };
                    let cand = act(b, "cand", UnaryKind::Tanh, &ph);
                    // (1 − z) ⊙ cand + z ⊙ h = cand + z ⊙ (h − cand)
                    let diff = match &h {
                        Some(hv) => b.binary(&part("diff"), BinaryKind::Sub, hv, &cand)?,
                        None => b.unary(&part("diff"), Op::Unary(UnaryKind::Neg), &cand),
                    };
                    let zd = b.binary(&part("zdiff"), BinaryKind::Mul, &z, &diff)?;
                    b.binary(&part("h"), BinaryKind::Add, &cand, &zd)?
                }
                Cell::Lstm => {
                    let peep = |b: &mut Builder<'_>,
                                pre: Ref,
                                k: usize,
                                state: &Option<Ref>|
                     -> Result<Ref> {
                        match (&dw.p, state) {
                            (Some(p), Some(s)) => {
                                let ps = b.binary(
                                    &part(&format!("peep{k}")),
                                    BinaryKind::Mul,
                                    s,
                                    &row_const(&p[k]),
                                )?;
                                b.binary(&part(&format!("pre{k}p")), BinaryKind::Add, &pre, &ps)
                            }
                            _ => Ok(pre),
                        }
                    };
                    let i = pre(b, 0, &h)?;
                    let i = peep(b, i, 0, &c)?;
                    let i = act(b, "i", UnaryKind::Sigmoid, &i);
                    let f = pre(b, 2, &h)?;
                    let f = peep(b, f, 2, &c)?;
                    let f = act(b, "f", UnaryKind::Sigmoid, &f);
                    let g = pre(b, 3, &h)?;
                    let g = act(b, "g", UnaryKind::Tanh, &g);
                    let ig = b.binary(&part("ig"), BinaryKind::Mul, &i, &g)?;
                    let new_c = match &c {
                        Some(cv) => {
                            let fc = b.binary(&part("fc"), BinaryKind::Mul, &f, cv)?;
                            b.binary(&part("c"), BinaryKind::Add, &fc, &ig)?
                        }
                        None => ig,
                    };
                    let o = pre(b, 1, &h)?;
                    let o = peep(b, o, 1, &Some(new_c.clone()))?;
                    let o = act(b, "o", UnaryKind::Sigmoid, &o);
                    let tc = act(b, "tanh_c", UnaryKind::Tanh, &new_c);
                    c = Some(new_c);
                    b.binary(&part("h"), BinaryKind::Mul, &o, &tc)?
                }
            };
            ys[t] = Some(new_h.clone());
            h = Some(new_h);
        }
        y_per_dir.push(ys.into_iter().map(|y| y.expect("every step ran")).collect());
        last_h.push(h.expect("seq_length >= 1"));
        last_c.extend(c);
    }
    // Y: [seq, dirs, batch, hidden]
    let dirs_n = dirs.len();
    let mut steps = Vec::with_capacity(seq);
    for t in 0..seq {
        let per_dir: Vec<Ref> = y_per_dir.iter().map(|ys| ys[t].clone()).collect();
        steps.push(stack(
            b,
            &format!("y{t}"),
            &per_dir,
            &[1, 1, batch, hidden],
            1,
        ));
    }
    let y = stack(b, "y", &steps, &[1, dirs_n, batch, hidden], 0);
    let y_h = stack(b, "y_h", &last_h, &[1, batch, hidden], 0);
    let mut outs = vec![y, y_h];
    if cell == Cell::Lstm {
        outs.push(stack(b, "y_c", &last_c, &[1, batch, hidden], 0));
    }
    Ok(outs)
}

/// Initial state `i` (initial_h or initial_c) of direction `d` as `[batch, hidden]`: None when
/// absent or all 0 (the step then skips its terms), else a constant or a computed slice.
fn initial_state(
    b: &mut Builder<'_>,
    i: usize,
    [d, dirs]: [usize; 2],
    batch: usize,
    hidden: usize,
) -> Result<Option<Ref>> {
    if !b.has(i) {
        return Ok(None);
    }
    let shape = b.shape(&Ref::In(i));
    if shape != [dirs, batch, hidden] {
        return Err(b.err(format!(
            "initial state (input #{i}) has shape {shape:?}; expected [{dirs}, {batch}, {hidden}]"
        )));
    }
    if let Some(c) = b.constant(i) {
        let n = batch * hidden;
        let data = c.tensor.data[d * n..(d + 1) * n].to_vec();
        if data.iter().all(|&v| v == 0.0) {
            return Ok(None);
        }
        return Ok(Some(Ref::Const(Const {
            dtype: DType::Float,
            tensor: Tensor::new(vec![batch, hidden], data),
        })));
    }
    let sliced = b.push(
        &format!("init{i}_{d}"),
        Op::Slice {
            starts: vec![d, 0, 0],
            ends: vec![d + 1, batch, hidden],
            steps: vec![1, 1, 1],
        },
        vec![Ref::In(i)],
        vec![1, batch, hidden],
        DType::Float,
    );
    Ok(Some(b.push(
        &format!("init{i}_{d}_rows"),
        Op::Reshape {
            shape: vec![batch, hidden],
        },
        vec![sliced],
        vec![batch, hidden],
        DType::Float,
    )))
}

/// A `[hidden]` vector as a constant that broadcasts over `[batch, hidden]`.
fn row_const(v: &[f64]) -> Ref {
    Ref::Const(Const {
        dtype: DType::Float,
        tensor: Tensor::new(vec![v.len()], v.to_vec()),
    })
}

/// Each part reshaped to `part_shape` and concatenated along `axis` (a single part is only
/// reshaped).
fn stack(b: &mut Builder<'_>, name: &str, parts: &[Ref], part_shape: &[usize], axis: usize) -> Ref {
    let shaped: Vec<Ref> = parts
        .iter()
        .enumerate()
        .map(|(k, p)| {
            if b.shape(p) == part_shape {
                return p.clone();
            }
            b.push(
                &format!("{name}_part{k}"),
                Op::Reshape {
                    shape: part_shape.to_vec(),
                },
                vec![p.clone()],
                part_shape.to_vec(),
                DType::Float,
            )
        })
        .collect();
    if shaped.len() == 1 {
        return shaped[0].clone();
    }
    let mut shape = part_shape.to_vec();
    shape[axis] *= shaped.len();
    b.push(name, Op::Concat { axis }, shaped, shape, DType::Float)
}
