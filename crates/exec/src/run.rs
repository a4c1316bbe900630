//! The deterministic fixed-point executor: integer arithmetic only, so every honest machine
//! computes the same trace bit for bit, whatever its thread count. Tensors are held in ONNX's
//! logical layout (NCHW); the commitments re-lay them canonically (NHWC) when hashing.

use zkopml_model::fixed::{
    clamp_shift, cmp_aligned, div_round_i128, fit_i64, isqrt, shift_round_aligned,
    shift_round_extreme, shift_round_i128,
};
use zkopml_model::ops::{
    argmax, concat, for_each_lane, gather_elements_map, gather_map, pad, reduce, CompareKind,
    Window,
};
use zkopml_model::tensor::{broadcast_offsets, strides, MultiIndex};
use zkopml_model::{DType, Program, QNode, QOp, QOperand, Tensor};

use crate::error::{ExecError, Result};
use crate::kernels;

/// All slots of one execution: `slots[0]` the input, `slots[i]` the output of op i.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trace {
    pub slots: Vec<Tensor<i32>>,
}

impl Trace {
    pub fn output(&self) -> &Tensor<i32> {
        self.slots.last().expect("a trace has at least its input")
    }
}

/// Quantise an input to slot 0: each graph input at its own scale (round half away from
/// zero); an integer input must hold integers and a boolean one 0 or 1, taken as they are.
pub fn quantise_input(program: &Program, values: &[f64]) -> Result<Tensor<i32>> {
    let spec = &program.input;
    let parts = program.input_parts();
    if values.len() != spec.numel() {
        let expected: Vec<String> = parts
            .iter()
            .map(|p| format!("{} {:?}", p.part.name, p.part.shape))
            .collect();
        return Err(ExecError::Input(format!(
            "the input has {} values but the model expects {} values ({})",
            values.len(),
            spec.numel(),
            expected.join(" + ")
        )));
    }
    let mut data = Vec::with_capacity(values.len());
    let several = parts.len() > 1;
    for p in &parts {
        let f = 2f64.powi(p.scale);
        let what = |i: usize| {
            if several {
                format!("value #{i} of input {}", p.part.name)
            } else {
                format!("input value #{i}")
            }
        };
        for (i, &v) in values[p.part.offset..p.part.offset + p.part.numel()]
            .iter()
            .enumerate()
        {
            if !v.is_finite() {
                return Err(ExecError::Input(format!("{} is not finite ({v})", what(i))));
            }
            match p.part.dtype {
                DType::Int if v.fract() != 0.0 => {
                    return Err(ExecError::Input(format!(
                        "{} is {v}; the input is an integer tensor",
                        what(i)
                    )))
                }
                DType::Bool if v != 0.0 && v != 1.0 => {
                    return Err(ExecError::Input(format!(
                        "{} is {v}; the input is a boolean tensor (0 or 1)",
                        what(i)
                    )))
                }
                _ => {}
            }
            let q = (v * f).round();
            if q < i32::MIN as f64 || q > i32::MAX as f64 {
                return Err(ExecError::Input(format!(
                    "{} ({v}) is too large for the input's scale 2^{}",
                    what(i),
                    p.scale
                )));
            }
            data.push(q as i32);
        }
    }
    Ok(Tensor::new(spec.shape.clone(), data))
}

/// Dequantise a slot to real values.
pub fn dequantise(t: &Tensor<i32>, scale: i32) -> Vec<f64> {
    let f = 2f64.powi(-scale);
    t.data.iter().map(|&v| v as f64 * f).collect()
}

/// Runs a whole program once (see [`Engine`] to run it many times).
pub fn run(program: &Program, input: Tensor<i32>) -> Result<Trace> {
    Engine::new(program).run(input)
}

/// A program made ready to run many times: each convolution's weights are converted and
/// packed for the fast kernels once (as an inference session does), not on every run.
pub struct Engine<'p> {
    program: &'p Program,
    /// per op: the prepared weights of a convolution
    prepared: Vec<Option<kernels::PreparedConv>>,
    /// per op: a convolution whose output only the next op, a Relu, reads; `infer` computes
    /// both in one pass (the trace keeps both slots)
    relu_next: Vec<bool>,
    /// per op: the kernel geometry of a convolution
    shapes: Vec<Option<kernels::ConvShape>>,
    /// per op: an expansion (1x1 convolution, Relu) and depthwise convolution (and its Relu),
    /// perhaps with the projection after them (and its residual Add), that `infer` computes
    /// together, band by band ([`kernels::expand_depthwise_project`]); the trace keeps every
    /// slot
    fused: Vec<Option<Chain>>,
    /// per op: a convolution (not depthwise, no Relu) read only by the next op, an Add of it
    /// and an earlier slot (a residual connection); `infer` adds as it writes the convolution's
    /// outputs (the trace keeps both slots)
    residual_next: Vec<Option<ResidualAdd>>,
}

/// Ops computed together from an expansion on: the depthwise convolution's last op (itself or
/// its Relu), the projection's op if any, and the last op of all (the projection, or its Add).
#[derive(Clone, Copy, Debug)]
struct Chain {
    dw_end: usize,
    proj: Option<usize>,
    end: usize,
}

/// The Add after a convolution: the other operand's slot, and each operand's shift.
#[derive(Clone, Copy, Debug)]
struct ResidualAdd {
    skip: usize,
    conv_up: u32,
    skip_up: u32,
    shift: i32,
}

impl ResidualAdd {
    /// The kernels' form, reading the other operand from `slots`.
    fn on<'s>(&self, slots: &'s [Tensor<i32>]) -> kernels::Residual<'s> {
        kernels::Residual {
            skip: &slots[self.skip].data,
            conv_up: self.conv_up,
            skip_up: self.skip_up,
            shift: self.shift,
        }
    }
}

impl<'p> Engine<'p> {
    pub fn new(program: &'p Program) -> Engine<'p> {
        let shapes = program
            .ops
            .iter()
            .map(|node| match (&node.op, node.inputs.first()) {
                (
                    QOp::Conv {
                        weight,
                        window,
                        groups,
                        ..
                    },
                    Some(QOperand::Slot(s)),
                ) => conv_shape(
                    &program.slot_spec(*s).shape,
                    &node.out.shape,
                    weight,
                    window,
                    *groups,
                ),
                _ => None,
            })
            .collect::<Vec<_>>();
        let prepared = program
            .ops
            .iter()
            .zip(&shapes)
            .map(|(node, shape)| match (&node.op, shape) {
                (QOp::Conv { weight, bias, .. }, Some(s)) => {
                    Some(kernels::PreparedConv::new(s, &weight.data, bias))
                }
                _ => None,
            })
            .collect::<Vec<_>>();
        let n = program.n_ops();
        let mut readers = vec![0usize; n + 1];
        for node in &program.ops {
            for s in node.input_slots() {
                readers[s] += 1;
            }
        }
        let relu_next = (1..=n)
            .map(|i| {
                prepared[i - 1].is_some()
                    && i < n
                    && readers[i] == 1
                    && matches!(program.ops[i].op, QOp::Relu)
                    && matches!(program.ops[i].inputs.as_slice(), [QOperand::Slot(s)] if *s == i)
                    && program.ops[i].out.shape == program.ops[i - 1].out.shape
            })
            .collect::<Vec<bool>>();
        let residual_next: Vec<Option<ResidualAdd>> = (1..=n)
            .map(|i| {
                let pointwise_like = shapes[i - 1].as_ref().is_some_and(|s| s.cg() > 1);
                if !pointwise_like
                    || prepared[i - 1].is_none()
                    || relu_next[i - 1]
                    || i >= n
                    || readers[i] != 1
                {
                    return None;
                }
                let QOp::Add { ua, ub, shift } = program.ops[i].op else {
                    return None;
                };
                let (skip, conv_up, skip_up) = match program.ops[i].inputs.as_slice() {
                    [QOperand::Slot(a), QOperand::Slot(b)] if *a == i && *b != i => (*b, ua, ub),
                    [QOperand::Slot(a), QOperand::Slot(b)] if *b == i && *a != i => (*a, ub, ua),
                    _ => return None,
                };
                let out = &program.ops[i].out.shape;
                (*out == program.ops[i - 1].out.shape && program.slot_spec(skip).shape == *out)
                    .then_some(ResidualAdd {
                        skip,
                        conv_up,
                        skip_up,
                        shift,
                    })
            })
            .collect();
        // op i a 1x1 convolution + Relu (op i + 1), read only by op i + 2, a depthwise one;
        // then perhaps a 1x1 projection reading only that (op q), and its residual Add
        let fused = (1..=n).map(|i| {
            if i + 2 > n || !relu_next[i - 1] || readers[i + 1] != 1 || !matches!(program.ops[i + 1].inputs.as_slice(), [QOperand::Slot(s)] if *s == i + 1) {
                return None;
            }
            let (Some(pw), Some(dw)) = (&shapes[i - 1], &shapes[i + 1]) else { return None };
            if !kernels::fusable(pw, dw) {
                return None;
            }
            let dw_end = if relu_next[i + 1] { i + 3 } else { i + 2 };
            let q = dw_end + 1;
            let proj = (q <= n
                && readers[dw_end] == 1
                && !relu_next[q - 1]
                && prepared[q - 1].is_some()
                && matches!(program.ops[q - 1].inputs.as_slice(), [QOperand::Slot(s)] if *s == dw_end)
                && shapes[q - 1].as_ref().is_some_and(|ps| kernels::projectable(dw, ps)))
            .then_some(q);
            // the Add's other operand must exist when the chain starts
            let end = match proj {
                Some(q) if residual_next[q - 1].is_some_and(|r| r.skip < i) => q + 1,
                Some(q) => q,
                None => dw_end,
            };
            Some(Chain { dw_end, proj, end })
        }).collect();
        Engine {
            program,
            prepared,
            relu_next,
            shapes,
            fused,
            residual_next,
        }
    }

    /// Runs the program on `input`, keeping every slot (the trace).
    pub fn run(&self, input: Tensor<i32>) -> Result<Trace> {
        on_worker(|| self.run_here(input))
    }

    fn run_here(&self, input: Tensor<i32>) -> Result<Trace> {
        let program = self.program;
        if input.shape != program.input.shape {
            return Err(ExecError::Input(format!(
                "input shape {:?}, the model expects {:?}",
                input.shape, program.input.shape
            )));
        }
        let mut slots = Vec::with_capacity(program.n_ops() + 1);
        slots.push(input);
        for i in 1..=program.n_ops() {
            let y = self.run_op(i, &slots)?;
            slots.push(y);
        }
        Ok(Trace { slots })
    }

    /// Runs the program on `input` and returns only its output: the honest path, which
    /// needs no trace. Each slot is freed after the last op that reads it, so later ops reuse
    /// its memory (a run that keeps every slot touches fresh pages for all of them).
    pub fn infer(&self, input: Tensor<i32>) -> Result<Tensor<i32>> {
        crate::par::with_team(rayon::current_num_threads(), || {
            self.infer_here(input, None)
        })
    }

    /// [`Engine::infer`], also returning the time each op took (a fused Relu shows as the
    /// convolution before it, its own time as zero): for profiles.
    pub fn infer_timed(
        &self,
        input: Tensor<i32>,
    ) -> Result<(Tensor<i32>, Vec<std::time::Duration>)> {
        let mut times = Vec::with_capacity(self.program.n_ops());
        let y = crate::par::with_team(rayon::current_num_threads(), || {
            self.infer_here(input, Some(&mut times))
        })?;
        Ok((y, times))
    }

    fn infer_here(
        &self,
        input: Tensor<i32>,
        mut times: Option<&mut Vec<std::time::Duration>>,
    ) -> Result<Tensor<i32>> {
        let program = self.program;
        if input.shape != program.input.shape {
            return Err(ExecError::Input(format!(
                "input shape {:?}, the model expects {:?}",
                input.shape, program.input.shape
            )));
        }
        let n = program.n_ops();
        // last_read[s]: the last op reading slot s (the output slot is kept to the end)
        let mut last_read = vec![0usize; n + 1];
        for (i, node) in program.ops.iter().enumerate() {
            for s in node.input_slots() {
                last_read[s] = last_read[s].max(i + 1);
            }
        }
        last_read[n] = n + 1;
        let mut slots = Vec::with_capacity(n + 1);
        slots.push(input);
        // the output of a later op, computed with this one (its slot and those between stay
        // empty: only the ops fused with it read them)
        let mut ahead: Option<(usize, Tensor<i32>)> = None;
        for i in 1..=n {
            let start = times.is_some().then(std::time::Instant::now);
            let y = match ahead.take() {
                Some((j, y)) if j == i => y,
                Some(later) => {
                    ahead = Some(later);
                    Tensor::new(vec![0], Vec::new())
                }
                None => match self.fused[i - 1]
                    .and_then(|c| self.expand_depthwise(i, c, &slots).map(|y| (c.end, y)))
                    .or_else(|| self.conv_add(i, &slots).map(|y| (i + 1, y)))
                {
                    Some(later) => {
                        ahead = Some(later);
                        Tensor::new(vec![0], Vec::new())
                    }
                    None if self.relu_next[i - 1] => {
                        ahead = Some((i + 1, self.ctx(i, true).output(&slots)?));
                        Tensor::new(vec![0], Vec::new())
                    }
                    None => self.run_op(i, &slots)?,
                },
            };
            slots.push(y);
            if let (Some(times), Some(start)) = (times.as_deref_mut(), start) {
                times.push(start.elapsed());
            }
            for s in program.ops[i - 1].input_slots() {
                if last_read[s] == i {
                    slots[s] = Tensor::new(vec![0], Vec::new());
                }
            }
        }
        Ok(slots.pop().expect("the output slot"))
    }

    /// Ops `i` (a 1x1 convolution) to `c.end` in one pass; None when the f64 kernels decline,
    /// and the ops then run one by one.
    fn expand_depthwise(&self, i: usize, c: Chain, slots: &[Tensor<i32>]) -> Option<Tensor<i32>> {
        let step = |op: usize, relu: bool| match (
            &self.program.ops[op - 1].op,
            &self.shapes[op - 1],
            &self.prepared[op - 1],
        ) {
            (QOp::Conv { bias, shift, .. }, Some(shape), Some(prep)) => Some(kernels::ConvStep {
                shape,
                bias,
                shift: *shift,
                prep,
                relu,
            }),
            _ => None,
        };
        let x = match self.program.ops[i - 1].inputs.first() {
            Some(QOperand::Slot(s)) => &slots[*s],
            _ => return None,
        };
        let proj = match c.proj {
            Some(q) => {
                let res = self.residual_next[q - 1]
                    .filter(|_| c.end == q + 1)
                    .map(|r| r.on(slots));
                Some(kernels::Projection {
                    step: step(q, false)?,
                    res,
                })
            }
            None => None,
        };
        let y = kernels::expand_depthwise_project(
            &x.data,
            step(i, true)?,
            step(i + 2, c.dw_end == i + 3)?,
            proj,
        )?;
        Some(Tensor::new(
            self.program.ops[c.end - 1].out.shape.clone(),
            y,
        ))
    }

    /// Op `i` (a convolution) and op `i + 1` (the residual Add reading it) in one pass; None
    /// when they are not such a pair or the f64 kernels decline (the ops then run one by one).
    fn conv_add(&self, i: usize, slots: &[Tensor<i32>]) -> Option<Tensor<i32>> {
        let r = self.residual_next[i - 1]?;
        let (QOp::Conv { bias, shift, .. }, Some(shape), Some(prep), Some(QOperand::Slot(x))) = (
            &self.program.ops[i - 1].op,
            &self.shapes[i - 1],
            &self.prepared[i - 1],
            self.program.ops[i - 1].inputs.first(),
        ) else {
            return None;
        };
        let y = kernels::conv_add(&slots[*x].data, shape, bias, *shift, prep, &r.on(slots))?;
        Some(Tensor::new(self.program.ops[i].out.shape.clone(), y))
    }

    /// Runs op `index` (1-based) on the slots before it.
    pub fn run_op(&self, index: usize, slots: &[Tensor<i32>]) -> Result<Tensor<i32>> {
        self.ctx(index, false).output(slots)
    }

    fn ctx(&self, index: usize, relu: bool) -> Ctx<'_> {
        Ctx {
            index,
            node: &self.program.ops[index - 1],
            prepared: self.prepared[index - 1].as_ref(),
            relu,
        }
    }
}

/// Runs `f` on one of rayon's worker threads, so the kernels' parallel loops split work
/// with the other workers directly; from outside the pool every loop would wake the workers
/// and put the caller to sleep, once per op.
fn on_worker<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    if rayon::current_thread_index().is_some() {
        f()
    } else {
        rayon::scope(|_| f())
    }
}

/// Runs op `index` (1-based) on the slots before it.
pub fn run_op(index: usize, node: &QNode, slots: &[Tensor<i32>]) -> Result<Tensor<i32>> {
    Ctx {
        index,
        node,
        prepared: None,
        relu: false,
    }
    .output(slots)
}

/// The kernel geometry of a Conv from its input and output shapes (None unless both are
/// rank 4, as the compiler makes them).
fn conv_shape(
    x: &[usize],
    y: &[usize],
    w: &Tensor<i64>,
    win: &Window,
    groups: usize,
) -> Option<kernels::ConvShape> {
    if x.len() != 4 || y.len() != 4 || w.shape.len() != 4 {
        return None;
    }
    Some(kernels::ConvShape {
        batch: x[0],
        c: x[1],
        h: x[2],
        w: x[3],
        m: w.shape[0],
        kh: w.shape[2],
        kw: w.shape[3],
        groups,
        oh: y[2],
        ow: y[3],
        strides: win.strides,
        dilations: win.dilations,
        pads: [win.pads[0], win.pads[1]],
    })
}

struct Ctx<'a> {
    index: usize,
    node: &'a QNode,
    prepared: Option<&'a kernels::PreparedConv>,
    /// a Conv followed by Relu (with `prepared` only)
    relu: bool,
}

/// An operand widened to i64.
struct Val {
    shape: Vec<usize>,
    data: Vec<i64>,
}

impl Ctx<'_> {
    fn overflow(&self, value: i64) -> ExecError {
        ExecError::Overflow {
            op: self.index,
            name: self.node.name.clone(),
            kind: self.node.op.kind(),
            value,
        }
    }
    fn arith(&self, reason: impl Into<String>) -> ExecError {
        ExecError::Arithmetic {
            op: self.index,
            name: self.node.name.clone(),
            kind: self.node.op.kind(),
            reason: reason.into(),
        }
    }
    fn narrow(&self, v: i64) -> Result<i32> {
        i32::try_from(v).map_err(|_| self.overflow(v))
    }
    fn narrow_all(&self, v: impl IntoIterator<Item = i64>) -> Result<Vec<i32>> {
        v.into_iter().map(|x| self.narrow(x)).collect()
    }
    /// An exact i128 result as a stored value (the reported value saturates to 64 bits).
    fn narrow128(&self, v: i128) -> Result<i32> {
        i32::try_from(v)
            .map_err(|_| self.overflow(v.clamp(i64::MIN as i128, i64::MAX as i128) as i64))
    }
    fn slot<'s>(&self, slots: &'s [Tensor<i32>], k: usize) -> &'s Tensor<i32> {
        match &self.node.inputs[k] {
            QOperand::Slot(s) => &slots[*s],
            QOperand::Const { .. } => unreachable!(
                "the compiler makes operand {k} of {} a slot",
                self.node.op.kind()
            ),
        }
    }
    fn val(&self, slots: &[Tensor<i32>], k: usize) -> Val {
        match &self.node.inputs[k] {
            QOperand::Slot(s) => Val {
                shape: slots[*s].shape.clone(),
                data: slots[*s].data.iter().map(|&v| v as i64).collect(),
            },
            QOperand::Const { tensor, .. } => Val {
                shape: tensor.shape.clone(),
                data: tensor.data.clone(),
            },
        }
    }
    fn out_shape(&self) -> &[usize] {
        &self.node.out.shape
    }
    /// Elementwise over two broadcast operands.
    fn zip2(&self, slots: &[Tensor<i32>], f: impl Fn(i64, i64) -> Result<i64>) -> Result<Vec<i32>> {
        if let (QOperand::Slot(i), QOperand::Slot(j)) = (&self.node.inputs[0], &self.node.inputs[1])
        {
            let (a, b) = (&slots[*i], &slots[*j]);
            if a.shape == self.out_shape() && b.shape == self.out_shape() {
                let mut out = Vec::with_capacity(a.data.len());
                for (&x, &y) in a.data.iter().zip(&b.data) {
                    out.push(self.narrow(f(x as i64, y as i64)?)?);
                }
                return Ok(out);
            }
        }
        let (a, b) = (self.val(slots, 0), self.val(slots, 1));
        if a.shape == self.out_shape() && b.shape == self.out_shape() {
            return a
                .data
                .iter()
                .zip(&b.data)
                .map(|(&x, &y)| f(x, y).and_then(|v| self.narrow(v)))
                .collect();
        }
        let oa = broadcast_offsets(&a.shape, self.out_shape());
        let ob = broadcast_offsets(&b.shape, self.out_shape());
        oa.iter()
            .zip(&ob)
            .map(|(&i, &j)| f(a.data[i], b.data[j]).and_then(|v| self.narrow(v)))
            .collect()
    }

    /// Add (`sign` 1) or Sub (-1) of two slots of the output's shape, in one branch-free pass;
    /// None otherwise, or when some value is out of range (the general path then reports the
    /// first one).
    fn add_same(
        &self,
        slots: &[Tensor<i32>],
        ua: u32,
        ub: u32,
        shift: i32,
        sign: i64,
    ) -> Option<Vec<i32>> {
        let (QOperand::Slot(i), QOperand::Slot(j)) = (&self.node.inputs[0], &self.node.inputs[1])
        else {
            return None;
        };
        let (a, b) = (&slots[*i], &slots[*j]);
        if a.shape != self.out_shape()
            || b.shape != self.out_shape()
            || !add_pass_is_exact(ua, ub, shift)
        {
            return None;
        }
        fn pass(
            out: &mut [i32],
            a: &[i32],
            b: &[i32],
            ua: u32,
            ub: u32,
            sign: i64,
            g: impl Fn(i64) -> i64,
        ) -> bool {
            let mut bad = false;
            for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
                let v = g(((x as i64) << ua) + sign * ((y as i64) << ub));
                bad |= v != v as i32 as i64;
                *o = v as i32;
            }
            bad
        }
        // the branch of shift_round hoisted out of the loop
        let run = |(o, (x, y)): (&mut [i32], (&[i32], &[i32]))| {
            if shift > 0 {
                pass(o, x, y, ua, ub, sign, |v| {
                    (v + (1i64 << (shift - 1))) >> shift
                })
            } else {
                pass(o, x, y, ua, ub, sign, |v| v << -shift)
            }
        };
        const CHUNK: usize = 1 << 15;
        let mut out = vec![0i32; a.data.len()];
        let bad = if out.len() >= 2 * CHUNK {
            let (a, b) = (&a.data, &b.data);
            let n = a.len();
            crate::par::chunks_map(&mut out, CHUNK, |c, o| {
                run((
                    o,
                    (
                        &a[c * CHUNK..((c + 1) * CHUNK).min(n)],
                        &b[c * CHUNK..((c + 1) * CHUNK).min(n)],
                    ),
                ))
            })
            .contains(&true)
        } else {
            run((&mut out[..], (&a.data[..], &b.data[..])))
        };
        (!bad).then_some(out)
    }

    fn output(&self, slots: &[Tensor<i32>]) -> Result<Tensor<i32>> {
        let data = self.eval(slots)?;
        debug_assert_eq!(data.len(), self.node.out.numel());
        Ok(Tensor::new(self.node.out.shape.clone(), data))
    }

    fn eval(&self, slots: &[Tensor<i32>]) -> Result<Vec<i32>> {
        let x = || self.slot(slots, 0);
        match &self.node.op {
            QOp::Conv {
                weight,
                bias,
                window,
                groups,
                shift,
            } => self.conv(x(), weight, bias, window, *groups, *shift),
            QOp::Gemm {
                weight,
                bias,
                shift,
            } => {
                let (k, n) = (weight.shape[0], weight.shape[1]);
                kernels::gemm(&x().data, k, &weight.data, n, bias, *shift)
                    .map_err(|v| self.overflow(v))
            }
            QOp::MatMul { shift } => {
                let (a, b) = (self.val(slots, 0), self.val(slots, 1));
                let (m, k) = (a.shape[a.shape.len() - 2], a.shape[a.shape.len() - 1]);
                let n = b.shape[b.shape.len() - 1];
                let batches = a.data.len() / (m * k);
                let mut out = Vec::with_capacity(batches * m * n);
                for bt in 0..batches {
                    for i in 0..m {
                        for j in 0..n {
                            // exact: a product of two operands (i32 slots or i64 constants) is
                            // at most 2^126, and the sum is checked (slots alone: k < 2^64
                            // terms of at most 2^62 never fail it); the rescale is exact. The
                            // circuit range-checks the accumulator to [-2^63, 2^63) (zk
                            // circuits/matmul.rs), so a sum outside it is refused here too:
                            // a value the executor keeps must be one a defender can prove.
                            let acc: i128 = (0..k)
                                .try_fold(0i128, |s, t| {
                                    s.checked_add(
                                        a.data[bt * m * k + i * k + t] as i128
                                            * b.data[bt * k * n + t * n + j] as i128,
                                    )
                                })
                                .ok_or_else(|| self.arith("MatMul accumulator exceeds 128 bits"))?;
                            if i64::try_from(acc).is_err() {
                                return Err(self.arith(
                                    "MatMul accumulator exceeds 64 bits (the circuit's range)",
                                ));
                            }
                            out.push(
                                self.narrow128(
                                    shift_round_i128(acc, *shift)
                                        .ok_or_else(|| self.overflow(i64::MAX))?,
                                )?,
                            );
                        }
                    }
                }
                Ok(out)
            }
            QOp::Add { ua, ub, shift } => match self.add_same(slots, *ua, *ub, *shift, 1) {
                Some(y) => Ok(y),
                None => self.zip2(slots, |a, b| {
                    Ok(wide(shift_round_aligned(
                        a as i128, *ua, b as i128, *ub, *shift,
                    )))
                }),
            },
            QOp::Sub { ua, ub, shift } => match self.add_same(slots, *ua, *ub, *shift, -1) {
                Some(y) => Ok(y),
                None => self.zip2(slots, |a, b| {
                    Ok(wide(shift_round_aligned(
                        a as i128,
                        *ua,
                        -(b as i128),
                        *ub,
                        *shift,
                    )))
                }),
            },
            QOp::Max { ua, ub, shift } => self.zip2(slots, |a, b| {
                Ok(wide(shift_round_extreme(
                    a as i128, *ua, b as i128, *ub, *shift, true,
                )))
            }),
            QOp::Min { ua, ub, shift } => self.zip2(slots, |a, b| {
                Ok(wide(shift_round_extreme(
                    a as i128, *ua, b as i128, *ub, *shift, false,
                )))
            }),
            // |a·b| <= 2^126: exact in i128
            QOp::Mul { shift } => self.zip2(slots, |a, b| {
                Ok(wide(
                    shift_round_i128(a as i128 * b as i128, *shift).and_then(fit_i64),
                ))
            }),
            QOp::Div { up } => self.zip2(slots, |a, b| {
                if b == 0 {
                    return Err(self.arith("division by zero"));
                }
                // n = a·2^up exactly; beyond i128 (|n| >= 2^127, |b| < 2^63) the quotient
                // exceeds 2^63: no stored value
                Ok(wide(
                    shift_round_i128(a as i128, clamp_shift(-(*up as i64)))
                        .and_then(|n| div_round_i128(n, b as i128))
                        .and_then(fit_i64),
                ))
            }),
            QOp::Compare { kind, ua, ub } => self.zip2(slots, |a, b| {
                let o = cmp_aligned(a as i128, *ua, b as i128, *ub);
                Ok(match kind {
                    CompareKind::Less => o.is_lt(),
                    CompareKind::Greater => o.is_gt(),
                    CompareKind::Equal => o.is_eq(),
                } as i64)
            }),
            QOp::Relu => Ok(x().data.iter().map(|&v| v.max(0)).collect()),
            // |v·alpha| <= 2^94
            QOp::LeakyRelu { alpha, alpha_shift } => x()
                .data
                .iter()
                .map(|&v| {
                    if v >= 0 {
                        Ok(v)
                    } else {
                        self.narrow(wide(
                            shift_round_i128(v as i128 * *alpha as i128, *alpha_shift)
                                .and_then(fit_i64),
                        ))
                    }
                })
                .collect(),
            // min(max(x, lo), hi) as documented (clamp would panic on lo > hi)
            QOp::Clip { lo, hi } => {
                self.narrow_all(x().data.iter().map(|&v| (v as i64).max(*lo).min(*hi)))
            }
            QOp::Neg => self.narrow_all(x().data.iter().map(|&v| -(v as i64))),
            QOp::Abs => self.narrow_all(x().data.iter().map(|&v| (v as i64).abs())),
            QOp::Poly(p) => x()
                .data
                .iter()
                .map(|&v| {
                    p.checked_eval(v as i64)
                        .ok_or_else(|| self.arith("polynomial intermediate exceeds 128 bits"))
                        .and_then(|y| self.narrow128(y))
                })
                .collect(),
            QOp::Sqrt { up } => x()
                .data
                .iter()
                .map(|&v| {
                    // n = v·2^up exactly; n >= 2^63 (or beyond i128) has a root above 2^31
                    match shift_round_i128(v as i128, clamp_shift(-(*up as i64))) {
                        Some(n) if n < 0 => {
                            Err(self.arith(format!("square root of a negative value ({v})")))
                        }
                        None if v < 0 => {
                            Err(self.arith(format!("square root of a negative value ({v})")))
                        }
                        n => match n.and_then(fit_i64) {
                            Some(n) => self.narrow(isqrt(n).expect("n >= 0")),
                            None => Err(self.overflow(i64::MAX)),
                        },
                    }
                })
                .collect(),
            QOp::Reciprocal { num_bits } => x()
                .data
                .iter()
                .map(|&v| {
                    if v == 0 {
                        return Err(self.arith("reciprocal of zero"));
                    }
                    // 2^num_bits / v with |v| <= 2^31: num_bits >= 127 gives at least 2^95
                    let n = if *num_bits < 127 {
                        1i128 << num_bits
                    } else {
                        return Err(self.overflow(i64::MAX));
                    };
                    self.narrow128(div_round_i128(n, v as i128).expect("v != 0"))
                })
                .collect(),
            QOp::Softmax {
                axis,
                legacy,
                exp,
                out_scale,
            } => {
                // the circuit takes out_scale in 0..=62 only
                if !(0..=62).contains(out_scale) {
                    return Err(
                        self.arith(format!("softmax output scale {out_scale} outside 0..=62"))
                    );
                }
                let x = x();
                let mut y = vec![0i32; x.len()];
                let mut err = None;
                for_each_lane(&x.shape, *axis, *legacy, |idx| {
                    // exact in i128: e_k, their sum and e_k·2^out_scale (checked: only a crafted
                    // polynomial leaves i128, and that is refused)
                    let m = idx.iter().map(|&i| x.data[i]).max().unwrap_or(0) as i64;
                    let e: Option<Vec<i128>> = idx
                        .iter()
                        .map(|&i| exp.checked_eval(x.data[i] as i64 - m))
                        .collect();
                    let s = e
                        .as_ref()
                        .and_then(|e| e.iter().try_fold(0i128, |s, &v| s.checked_add(v)));
                    let (Some(e), Some(s)) = (e, s) else {
                        err = Some(self.arith("softmax intermediate exceeds 128 bits"));
                        return;
                    };
                    for (&i, &ei) in idx.iter().zip(&e) {
                        let n = ei.checked_mul(1i128 << out_scale);
                        match n.map(|n| div_round_i128(n, s).map(|v| self.narrow128(v))) {
                            Some(Some(Ok(v))) => y[i] = v,
                            Some(Some(Err(e))) => err = Some(e),
                            Some(None) => err = Some(self.arith("softmax of an all-zero lane")),
                            None => err = Some(self.arith("softmax intermediate exceeds 128 bits")),
                        }
                    }
                });
                err.map_or(Ok(y), Err)
            }
            QOp::MaxPool { window } => self.pool(x(), window, None),
            QOp::AveragePool {
                window,
                count_include_pad,
            } => self.pool(x(), window, Some(*count_include_pad)),
            QOp::GlobalAveragePool { divisor } => {
                let x = x();
                let hw = x.shape[2] * x.shape[3];
                let d = *divisor as i128;
                if d == 0 {
                    return Err(self.arith("GlobalAveragePool divisor 0"));
                }
                // sums of i32 in i128: exact for any plane
                x.data
                    .chunks(hw)
                    .map(|c| {
                        self.narrow128(
                            div_round_i128(c.iter().map(|&v| v as i128).sum(), d).expect("d > 0"),
                        )
                    })
                    .collect()
            }
            QOp::Affine { mul, add, shift } => {
                let x = x();
                let ch = x.shape[1];
                let inner: usize = x.shape[2..].iter().product();
                // |v·mul + add| <= 2^94 + 2^63: exact in i128
                x.data
                    .iter()
                    .enumerate()
                    .map(|(i, &v)| {
                        let c = (i / inner) % ch;
                        self.narrow(wide(
                            shift_round_i128(v as i128 * mul[c] as i128 + add[c] as i128, *shift)
                                .and_then(fit_i64),
                        ))
                    })
                    .collect()
            }
            QOp::Reshape => Ok(x().data.clone()),
            QOp::Transpose { perm } => Ok(x().transpose(perm).data),
            QOp::Concat { axis, shifts } => {
                let parts: Vec<Tensor<i64>> = (0..self.node.inputs.len())
                    .map(|k| {
                        let v = self.val(slots, k);
                        Tensor::new(
                            v.shape,
                            v.data
                                .iter()
                                .map(|&d| {
                                    wide(shift_round_i128(d as i128, shifts[k]).and_then(fit_i64))
                                })
                                .collect(),
                        )
                    })
                    .collect();
                let refs: Vec<&Tensor<i64>> = parts.iter().collect();
                self.narrow_all(concat(&refs, *axis))
            }
            QOp::Slice { starts, steps } => {
                let x = x();
                let st = strides(&x.shape);
                Ok(MultiIndex::new(self.out_shape())
                    .map(|idx| {
                        x.data[idx
                            .iter()
                            .enumerate()
                            .map(|(d, &i)| (starts[d] + i * steps[d]) * st[d])
                            .sum::<usize>()]
                    })
                    .collect())
            }
            QOp::Gather { axis } | QOp::GatherElements { axis } => {
                let data = self.val(slots, 0);
                let ix = self.val(slots, 1);
                let ix = Tensor::new(ix.shape, ix.data.iter().map(|&v| v as f64).collect());
                let map = if matches!(self.node.op, QOp::Gather { .. }) {
                    gather_map(&data.shape, &ix, *axis)
                } else {
                    gather_elements_map(&data.shape, &ix, *axis)
                };
                map.iter()
                    .map(|o| {
                        o.ok_or_else(|| self.arith("index out of range"))
                            .and_then(|o| self.narrow(data.data[o]))
                    })
                    .collect()
            }
            QOp::Not => Ok(x().data.iter().map(|&v| (v == 0) as i32).collect()),
            QOp::Where { sa, sb } => {
                let (c, a, b) = (self.val(slots, 0), self.val(slots, 1), self.val(slots, 2));
                let os = self.out_shape();
                let (oc, oa, ob) = (
                    broadcast_offsets(&c.shape, os),
                    broadcast_offsets(&a.shape, os),
                    broadcast_offsets(&b.shape, os),
                );
                let sr = |v: i64, k: i32| wide(shift_round_i128(v as i128, k).and_then(fit_i64));
                self.narrow_all((0..oc.len()).map(|i| {
                    if c.data[oc[i]] != 0 {
                        sr(a.data[oa[i]], *sa)
                    } else {
                        sr(b.data[ob[i]], *sb)
                    }
                }))
            }
            QOp::Cast { to, shift } => {
                let x = x();
                Ok(match to {
                    // truncation toward zero, as ONNX casts a float to an integer
                    // |v| <= 2^31: every shift above 31 truncates to 0, as 62 does
                    DType::Int => x
                        .data
                        .iter()
                        .map(|&v| {
                            if *shift > 0 {
                                ((v as i64) / (1i64 << (*shift).min(62))) as i32
                            } else {
                                v
                            }
                        })
                        .collect(),
                    DType::Bool => x.data.iter().map(|&v| (v != 0) as i32).collect(),
                    DType::Float => self.narrow_all(
                        x.data
                            .iter()
                            .map(|&v| wide(shift_round_i128(v as i128, *shift).and_then(fit_i64))),
                    )?,
                })
            }
            QOp::ReduceSum { axes }
                if matches!(self.node.inputs[0], QOperand::Slot(_))
                    && axes.as_slice() == [x().shape.len() - 1]
                    && x().shape.last() > Some(&0) =>
            {
                // over the innermost axis: sums of contiguous runs
                // a run of L <= 2^32 values of at most 2^31 sums below 2^63 in i64; longer runs
                // (never in memory today) in i128
                let x = x();
                let run = x.shape[axes[0]];
                if run <= 1 << 32 {
                    self.narrow_all(
                        x.data
                            .chunks_exact(run)
                            .map(|c| c.iter().map(|&v| v as i64).sum::<i64>()),
                    )
                } else {
                    x.data
                        .chunks_exact(run)
                        .map(|c| self.narrow128(c.iter().map(|&v| v as i128).sum::<i128>()))
                        .collect()
                }
            }
            QOp::ReduceSum { axes } | QOp::ReduceMean { axes } => {
                // sums of (at most 2^63) values in i128: exact below 2^64 terms
                let v = self.val(slots, 0);
                let t = Tensor::new(v.shape.clone(), v.data.iter().map(|&d| d as i128).collect());
                let sums = reduce(&t, axes, |a, b| a + b, 0i128);
                let count: i128 = axes.iter().map(|&a| v.shape[a] as i128).product();
                if matches!(self.node.op, QOp::ReduceMean { .. }) {
                    sums.into_iter()
                        .map(|s| {
                            self.narrow128(div_round_i128(s, count.max(1)).expect("count > 0"))
                        })
                        .collect()
                } else {
                    sums.into_iter().map(|s| self.narrow128(s)).collect()
                }
            }
            QOp::ArgMax { axis, select_last } => Ok(argmax(x(), *axis, *select_last)
                .into_iter()
                .map(|i| i as i32)
                .collect()),
            QOp::ReduceExtreme { axes, max } => Ok(if *max {
                reduce(x(), axes, i32::max, i32::MIN)
            } else {
                reduce(x(), axes, i32::min, i32::MAX)
            }),
            QOp::Pad { begins, value } => Ok(pad(x(), begins, self.out_shape(), *value as i32)),
        }
    }

    fn conv(
        &self,
        x: &Tensor<i32>,
        w: &Tensor<i64>,
        bias: &[i64],
        win: &Window,
        groups: usize,
        shift: i32,
    ) -> Result<Vec<i32>> {
        let shape = conv_shape(&x.shape, self.out_shape(), w, win, groups)
            .ok_or_else(|| self.arith("Conv input, output and weights must be rank 4"))?;
        match self.prepared {
            Some(p) => kernels::conv_fused(&x.data, &shape, &w.data, bias, shift, p, self.relu),
            None => kernels::conv(&x.data, &shape, &w.data, bias, shift),
        }
        .map_err(|v| self.overflow(v))
    }

    fn pool(&self, x: &Tensor<i32>, win: &Window, avg: Option<bool>) -> Result<Vec<i32>> {
        let (h, w) = (x.shape[2], x.shape[3]);
        let (oh, ow) = (self.out_shape()[2], self.out_shape()[3]);
        let planes = x.shape[0] * x.shape[1];
        let mut y = Vec::with_capacity(planes * oh * ow);
        for p in 0..planes {
            for oy in 0..oh {
                for ox in 0..ow {
                    // sums in i128: exact for any window
                    let (mut acc, mut cnt, mut best) = (0i128, 0i128, i64::MIN);
                    for ky in 0..win.kernel[0] {
                        for kx in 0..win.kernel[1] {
                            let iy = (oy * win.strides[0] + ky * win.dilations[0]) as isize
                                - win.pads[0] as isize;
                            let ix = (ox * win.strides[1] + kx * win.dilations[1]) as isize
                                - win.pads[1] as isize;
                            if iy < 0 || ix < 0 || iy >= h as isize || ix >= w as isize {
                                continue;
                            }
                            let v = x.data[(p * h + iy as usize) * w + ix as usize] as i64;
                            acc += v as i128;
                            cnt += 1;
                            best = best.max(v);
                        }
                    }
                    let v = match avg {
                        None => best as i128,
                        Some(true) => div_round_i128(
                            acc,
                            (win.kernel[0] as i128 * win.kernel[1] as i128).max(1),
                        )
                        .expect("count > 0"),
                        Some(false) => div_round_i128(acc, cnt.max(1)).expect("count > 0"),
                    };
                    y.push(self.narrow128(v)?);
                }
            }
        }
        Ok(y)
    }
}

/// An exact result of the wide helpers as i64: None (magnitude at least 2^63) becomes
/// `i64::MAX`, which `narrow` refuses like the value itself.
fn wide(v: Option<i64>) -> i64 {
    v.unwrap_or(i64::MAX)
}

/// Whether the i64 pass of Add / Sub (and of the kernels' residual Add) is exact for every pair
/// of 32-bit operands: with `u = max(ua, ub) <= 29`, `|a·2^ua ± b·2^ub| <= 2^(32+u) <= 2^61`;
/// adding `2^(shift-1) <= 2^61` (`shift <= 62`) stays below 2^63, and so does a left shift by
/// `-shift` when `u - shift <= 30` (`2^(32+u-shift) <= 2^62`). Otherwise the exact general path
/// runs.
pub(crate) fn add_pass_is_exact(ua: u32, ub: u32, shift: i32) -> bool {
    let u = ua.max(ub) as i64;
    u <= 29 && shift <= 62 && (shift > 0 || u - shift as i64 <= 30)
}
