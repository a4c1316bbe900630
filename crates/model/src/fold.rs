//! Compile-time constant folding: the one place where ONNX nodes are evaluated before
//! quantisation (docs/operators.md, "Constant folding").
//!
//! `graph.rs` walks the ONNX graph in topological order. A node whose every input is known at
//! compile time (an initializer, a `Constant`, or the output of an already folded node) and whose
//! operator is in [`FOLDED_OPS`] is evaluated by [`eval`] and its outputs become constants; it
//! never becomes an op of the program. `Shape` and `Size` fold on any tensor, since every tensor
//! of a compiled graph has a static shape; `Identity` and inference-time `Dropout` are dropped.
//! Integers are computed as i64 (ONNX's wrapping arithmetic, division truncating toward zero),
//! floats in f64 (the compiler's reference precision, as `ops::eval`), with `Cast` to float32
//! rounding to f32. Each operator is one small function; every malformed case (an index out of
//! range, a shape that does not fit, a division by zero, a tensor larger than
//! [`MAX_FOLDED_ELEMENTS`]) is an error naming the node, never a panic.
//!
//! Inputs that fix a shape (Reshape's shape, ConstantOfShape's, Expand's, Slice's bounds...)
//! must fold: [`data_dependent`] names the node whose shape would depend on the request's input.

use crate::error::{ModelError, Result};
use crate::onnx::{Attr, Const, DType, RawNode};
use crate::ops::concat;
use crate::tensor::{broadcast_offsets, broadcast_shape, norm_axis, strides, MultiIndex, Tensor};

/// The most elements one folded tensor may hold (a malformed shape must not exhaust memory).
pub const MAX_FOLDED_ELEMENTS: usize = 1 << 27;

/// The ONNX operators (default domain) that [`eval`] computes when all their inputs are
/// constants. `Shape` and `Size` fold whatever their input; `Identity` and `Dropout` are dropped
/// by `graph.rs` whatever their input.
pub const FOLDED_OPS: &[&str] = &[
    "Constant",
    "Shape",
    "Size",
    "ConstantOfShape",
    "Range",
    "Cast",
    "CastLike",
    "Gather",
    "Slice",
    "Concat",
    "Unsqueeze",
    "Squeeze",
    "Reshape",
    "Flatten",
    "Expand",
    "Tile",
    "NonZero",
    "Add",
    "Sub",
    "Mul",
    "Div",
    "Mod",
    "Pow",
    "Max",
    "Min",
    "Sum",
    "Mean",
    "Neg",
    "Abs",
    "Sign",
    "Floor",
    "Ceil",
    "Round",
    "Sqrt",
    "Reciprocal",
    "Exp",
    "Log",
    "Equal",
    "Less",
    "Greater",
    "LessOrEqual",
    "GreaterOrEqual",
    "Not",
    "And",
    "Or",
    "Xor",
    "Where",
    "ReduceSum",
    "ReduceProd",
    "ReduceMax",
    "ReduceMin",
];

/// Whether [`eval`] computes this operator.
pub fn is_folded(op_type: &str) -> bool {
    FOLDED_OPS.contains(&op_type)
}

/// Operators whose output shape depends on the values (not only the shape) of their data input.
const VALUE_SHAPED: &[&str] = &[
    "NonZero",
    "Unique",
    "Compress",
    "NonMaxSuppression",
    "StringSplit",
];

/// The inputs of an operator that fix the shape of its output, with what they are: where one
/// of them is computed from the model's input at run time, the output shape is data-dependent.
fn shape_inputs(op_type: &str, opset: i64) -> &'static [(usize, &'static str)] {
    match op_type {
        "Reshape" if opset >= 5 => &[(1, "the target shape")],
        "ConstantOfShape" => &[(0, "the shape")],
        "Expand" => &[(1, "the target shape")],
        "Tile" => &[(1, "the repeats")],
        "Range" => &[(0, "start"), (1, "limit"), (2, "delta")],
        "Slice" if opset >= 10 => &[(1, "starts"), (2, "ends"), (3, "axes"), (4, "steps")],
        "Unsqueeze" | "Squeeze" if opset >= 13 => &[(1, "the axes")],
        "Pad" if opset >= 11 => &[(1, "the pads"), (3, "the axes")],
        "ReduceSum" if opset >= 13 => &[(1, "the axes")],
        "ReduceMean" | "ReduceMax" | "ReduceMin" | "ReduceProd" | "ReduceL1" | "ReduceL2"
        | "ReduceLogSumExp" | "ReduceSumSquare" | "ReduceLogSum"
            if opset >= 18 =>
        {
            &[(1, "the axes")]
        }
        "Split" if opset >= 13 => &[(1, "the split sizes")],
        "TopK" if opset >= 10 => &[(1, "K")],
        "OneHot" => &[(1, "the depth")],
        "Resize" => &[(2, "the scales"), (3, "the sizes")],
        "Upsample" if opset >= 9 => &[(1, "the scales")],
        _ => &[],
    }
}

/// The refusal of a node whose output shape would depend on the request's input, or `None`.
/// `dynamic(i)` says whether input `i` is computed from the model's input (not a constant).
pub fn data_dependent(
    node: &RawNode,
    opset: i64,
    dynamic: impl Fn(usize) -> bool,
) -> Option<ModelError> {
    let refuse = |reason: String| ModelError::Unsupported {
        op_type: node.op_type.clone(),
        node: node.name.clone(),
        opset,
        reason: format!("data-dependent shape: {reason}; zkopml needs every shape at compile time"),
    };
    if VALUE_SHAPED.contains(&node.op_type.as_str()) && (0..node.inputs.len()).any(&dynamic) {
        return Some(refuse(format!(
            "its output's size depends on the values of {:?}, which are computed from the model's input",
            node.inputs[0]
        )));
    }
    shape_inputs(&node.op_type, opset)
        .iter()
        .find(|(i, _)| dynamic(*i))
        .map(|(i, what)| {
            refuse(format!(
                "{what} (input #{i}, {:?}) is computed from the model's input, not a constant",
                node.inputs[*i]
            ))
        })
}

/// The value of a `Constant` node.
pub fn constant(node: &RawNode) -> Result<Const> {
    let err = |r: &str| ModelError::node(&node.name, "Constant", r);
    let (name, attr) = match node.attrs.len() {
        1 => node.attrs.iter().next().unwrap(),
        0 => return Err(err("no value attribute")),
        _ => return Err(err("more than one value attribute")),
    };
    Ok(match (name.as_str(), attr) {
        ("value", Attr::Tensor(c)) => c.clone(),
        ("value_float", Attr::Float(f)) => float_const(vec![], vec![*f as f64]),
        ("value_floats", Attr::Floats(v)) => {
            float_const(vec![v.len()], v.iter().map(|&x| x as f64).collect())
        }
        ("value_int", Attr::Int(i)) => int_const(vec![], vec![*i]),
        ("value_ints", Attr::Ints(v)) => int_const(vec![v.len()], v.clone()),
        (other, _) => return Err(err(&format!("unsupported value attribute {other:?}"))),
    })
}

/// `Shape` (opset 15's `start`/`end` included) of a tensor of shape `shape`.
pub fn shape(node: &RawNode, shape: &[usize]) -> Result<Const> {
    let f = Folder { node };
    let r = shape.len() as i64;
    let clamp = |v: i64| (if v < 0 { v.saturating_add(r) } else { v }).clamp(0, r) as usize;
    let start = clamp(f.int("start", 0)?);
    let end = clamp(f.int("end", r)?).max(start);
    let dims: Vec<i64> = shape[start..end].iter().map(|&d| d as i64).collect();
    Ok(int_const(vec![dims.len()], dims))
}

/// `Size` of a tensor of shape `shape`.
pub fn size(shape: &[usize]) -> Const {
    int_const(vec![], vec![shape.iter().product::<usize>() as i64])
}

/// `Dropout` at inference: the identity on its data. Refused when `training_mode` (opset 12)
/// is true or not a constant. The mask output, when asked for, is all true (ONNX's inference
/// semantics): returns that mask for a tensor of shape `shape`.
pub fn dropout_mask(
    node: &RawNode,
    opset: i64,
    training_mode: Option<Option<&Const>>,
    shape: &[usize],
) -> Result<Const> {
    let f = Folder { node };
    match training_mode {
        None => {}
        Some(None) => {
            return Err(ModelError::Unsupported {
                op_type: node.op_type.clone(),
                node: node.name.clone(),
                opset,
                reason: "its training_mode input is computed from the model's input".into(),
            })
        }
        Some(Some(t)) => {
            if t.tensor.data.iter().any(|&v| v != 0.0) {
                return Err(f.err("training_mode is true: dropout at inference must be off"));
            }
        }
    }
    let n = f.numel(shape)?;
    Ok(Const {
        dtype: DType::Bool,
        tensor: Tensor::new(shape.to_vec(), vec![1.0; n]),
    })
}

/// Evaluate a node of [`FOLDED_OPS`] on constant inputs (`None` for an absent optional input):
/// one constant per output of the node.
pub fn eval(node: &RawNode, opset: i64, inputs: &[Option<&Const>]) -> Result<Vec<Const>> {
    let f = Folder { node };
    let out = f.dispatch(opset, inputs)?;
    for c in &out {
        if c.tensor.len() > MAX_FOLDED_ELEMENTS {
            return Err(f.err(format!(
                "folds to {} elements, more than {MAX_FOLDED_ELEMENTS}",
                c.tensor.len()
            )));
        }
        // ±inf is kept, as float arithmetic has it: exports compute values a later Where
        // discards (T5's log of a zero relative position) and masks of -inf; an infinity read
        // by a run-time op is a mask sentinel (graph::MASK_SENTINEL). NaN has no such use.
        if c.dtype == DType::Float && c.tensor.data.iter().any(|v| v.is_nan()) {
            return Err(f.err("folds to NaN"));
        }
    }
    Ok(out)
}

fn int_const(shape: Vec<usize>, v: Vec<i64>) -> Const {
    Const {
        dtype: DType::Int,
        tensor: Tensor::new(shape, v.into_iter().map(|x| x as f64).collect()),
    }
}

fn float_const(shape: Vec<usize>, v: Vec<f64>) -> Const {
    Const {
        dtype: DType::Float,
        tensor: Tensor::new(shape, v),
    }
}

/// An integer value of a constant (i64; saturating for floats beyond its range).
fn as_i64(v: f64) -> i64 {
    v as i64
}

struct Folder<'a> {
    node: &'a RawNode,
}

impl Folder<'_> {
    fn err(&self, reason: impl Into<String>) -> ModelError {
        ModelError::node(&self.node.name, &self.node.op_type, reason)
    }
    fn int(&self, name: &str, default: i64) -> Result<i64> {
        match self.node.attrs.get(name) {
            None => Ok(default),
            Some(Attr::Int(v)) => Ok(*v),
            Some(_) => Err(self.err(format!("attribute {name} must be an int"))),
        }
    }
    fn ints_attr(&self, name: &str) -> Result<Option<Vec<i64>>> {
        match self.node.attrs.get(name) {
            None => Ok(None),
            Some(Attr::Ints(v)) => Ok(Some(v.clone())),
            Some(_) => Err(self.err(format!("attribute {name} must be a list of ints"))),
        }
    }
    fn input<'c>(&self, inputs: &[Option<&'c Const>], i: usize) -> Result<&'c Const> {
        inputs
            .get(i)
            .copied()
            .flatten()
            .ok_or_else(|| self.err(format!("missing input #{i}")))
    }
    fn opt<'c>(&self, inputs: &[Option<&'c Const>], i: usize) -> Option<&'c Const> {
        inputs.get(i).copied().flatten()
    }
    /// The values of an integer tensor (a shape, axes, indices): each must be an integer.
    fn int_values(&self, c: &Const, what: &str) -> Result<Vec<i64>> {
        if c.tensor.data.iter().any(|v| v.fract() != 0.0) {
            return Err(self.err(format!(
                "{what} must hold integers, got {:?}",
                c.tensor.data
            )));
        }
        Ok(c.tensor.data.iter().map(|&v| as_i64(v)).collect())
    }
    /// A 1-D (or scalar) list of integers from input `i`.
    fn int_list(&self, inputs: &[Option<&Const>], i: usize, what: &str) -> Result<Vec<i64>> {
        let c = self.input(inputs, i)?;
        if c.tensor.rank() > 1 {
            return Err(self.err(format!(
                "{what} must be 1-D, got shape {:?}",
                c.tensor.shape
            )));
        }
        self.int_values(c, what)
    }
    /// The one value of a scalar (or single-element) input.
    fn scalar(&self, inputs: &[Option<&Const>], i: usize, what: &str) -> Result<f64> {
        let c = self.input(inputs, i)?;
        match c.tensor.data.as_slice() {
            [v] => Ok(*v),
            _ => Err(self.err(format!(
                "{what} must be a scalar, got shape {:?}",
                c.tensor.shape
            ))),
        }
    }
    fn axis(&self, axis: i64, rank: usize) -> Result<usize> {
        norm_axis(axis, rank)
            .filter(|&a| a < rank.max(1))
            .ok_or_else(|| self.err(format!("axis {axis} is out of range for rank {rank}")))
    }
    /// Normalised, distinct axes for a tensor of rank `rank`.
    fn axes(&self, axes: &[i64], rank: usize) -> Result<Vec<usize>> {
        let mut out = Vec::with_capacity(axes.len());
        for &a in axes {
            let a = norm_axis(a, rank)
                .filter(|&x| x < rank)
                .ok_or_else(|| self.err(format!("axis {a} is out of range for rank {rank}")))?;
            if out.contains(&a) {
                return Err(self.err(format!("axis {a} is repeated in {axes:?}")));
            }
            out.push(a);
        }
        Ok(out)
    }
    /// The element count of a shape, refused beyond [`MAX_FOLDED_ELEMENTS`].
    fn numel(&self, shape: &[usize]) -> Result<usize> {
        shape
            .iter()
            .try_fold(1usize, |n, &d| n.checked_mul(d))
            .filter(|&n| n <= MAX_FOLDED_ELEMENTS)
            .ok_or_else(|| self.err(format!("a folded tensor of shape {shape:?} is larger than {MAX_FOLDED_ELEMENTS} elements")))
    }
    /// A list of non-negative dimensions.
    fn dims(&self, v: &[i64], what: &str) -> Result<Vec<usize>> {
        v.iter()
            .map(|&d| {
                usize::try_from(d)
                    .map_err(|_| self.err(format!("{what} {v:?} has a negative dimension")))
            })
            .collect()
    }

    fn dispatch(&self, opset: i64, inputs: &[Option<&Const>]) -> Result<Vec<Const>> {
        let x = || self.input(inputs, 0);
        let op = self.node.op_type.as_str();
        let one = |c: Const| Ok(vec![c]);
        match op {
            "Constant" => one(constant(self.node)?),
            "Shape" => one(shape(self.node, &x()?.tensor.shape)?),
            "Size" => one(size(&x()?.tensor.shape)),
            "ConstantOfShape" => one(self.constant_of_shape(inputs)?),
            "Range" => one(self.range(inputs)?),
            "Cast" => one(self.cast(x()?, self.cast_target()?)?),
            "CastLike" => {
                let to = match self.input(inputs, 1)?.dtype {
                    DType::Float => CastTo::Float { f32: false },
                    DType::Int => CastTo::Int {
                        bits: 64,
                        signed: true,
                    },
                    DType::Bool => CastTo::Bool,
                };
                one(self.cast(x()?, to)?)
            }
            "Gather" => one(self.gather(x()?, self.input(inputs, 1)?)?),
            "Slice" => one(self.slice(opset, inputs)?),
            "Concat" => one(self.concat(inputs)?),
            "Unsqueeze" => one(self.unsqueeze(opset, inputs)?),
            "Squeeze" => one(self.squeeze(opset, inputs)?),
            "Reshape" => one(self.reshape(opset, inputs)?),
            "Flatten" => one(self.flatten(x()?)?),
            "Expand" => one(self.expand(x()?, &self.int_list(inputs, 1, "the target shape")?)?),
            "Tile" => one(self.tile(x()?, &self.int_list(inputs, 1, "the repeats")?)?),
            "NonZero" => one(self.nonzero(x()?)),
            "Add" | "Sub" | "Mul" | "Div" | "Mod" | "Pow" => {
                one(self.arith(op, self.input(inputs, 0)?, self.input(inputs, 1)?)?)
            }
            "Max" | "Min" | "Sum" | "Mean" => one(self.variadic(op, inputs)?),
            "Equal" | "Less" | "Greater" | "LessOrEqual" | "GreaterOrEqual" | "And" | "Or"
            | "Xor" => one(self.compare(op, self.input(inputs, 0)?, self.input(inputs, 1)?)?),
            "Neg" | "Abs" | "Sign" | "Floor" | "Ceil" | "Round" | "Sqrt" | "Reciprocal" | "Exp"
            | "Log" | "Not" => one(self.unary(op, x()?)),
            "Where" => one(self.where_(
                self.input(inputs, 0)?,
                self.input(inputs, 1)?,
                self.input(inputs, 2)?,
            )?),
            "ReduceSum" | "ReduceProd" | "ReduceMax" | "ReduceMin" => {
                one(self.reduce(op, opset, inputs)?)
            }
            _ => Err(self.err("is not a folded operator")),
        }
    }

    fn constant_of_shape(&self, inputs: &[Option<&Const>]) -> Result<Const> {
        let shape = self.dims(&self.int_list(inputs, 0, "the shape")?, "the shape")?;
        let n = self.numel(&shape)?;
        let (dtype, v) = match self.node.attrs.get("value") {
            None => (DType::Float, 0.0),
            Some(Attr::Tensor(c)) if c.tensor.len() == 1 => (c.dtype, c.tensor.data[0]),
            Some(_) => return Err(self.err("attribute value must be a one-element tensor")),
        };
        Ok(Const {
            dtype,
            tensor: Tensor::new(shape, vec![v; n]),
        })
    }

    fn range(&self, inputs: &[Option<&Const>]) -> Result<Const> {
        let (start, limit, delta) = (
            self.scalar(inputs, 0, "start")?,
            self.scalar(inputs, 1, "limit")?,
            self.scalar(inputs, 2, "delta")?,
        );
        let dtype = self.input(inputs, 0)?.dtype;
        if delta == 0.0 {
            return Err(self.err("delta is 0"));
        }
        if dtype == DType::Int {
            let (s, l, d) = (
                as_i64(start) as i128,
                as_i64(limit) as i128,
                as_i64(delta) as i128,
            );
            let n = ((l - s) as f64 / d as f64).ceil().max(0.0);
            let n = self.numel(&[if n > MAX_FOLDED_ELEMENTS as f64 {
                usize::MAX
            } else {
                n as usize
            }])?;
            return Ok(int_const(
                vec![n],
                (0..n as i128).map(|i| (s + i * d) as i64).collect(),
            ));
        }
        let n = ((limit - start) / delta).ceil().max(0.0);
        let n = self.numel(&[if n > MAX_FOLDED_ELEMENTS as f64 {
            usize::MAX
        } else {
            n as usize
        }])?;
        Ok(Const {
            dtype,
            tensor: Tensor::new(vec![n], (0..n).map(|i| start + i as f64 * delta).collect()),
        })
    }

    fn cast_target(&self) -> Result<CastTo> {
        let to = self
            .node
            .attrs
            .get("to")
            .ok_or_else(|| self.err("attribute to is missing"));
        Ok(match to? {
            Attr::Int(1) => CastTo::Float { f32: true },
            Attr::Int(10 | 11 | 16) => CastTo::Float { f32: false },
            Attr::Int(9) => CastTo::Bool,
            Attr::Int(2) => CastTo::Int {
                bits: 8,
                signed: false,
            },
            Attr::Int(3) => CastTo::Int {
                bits: 8,
                signed: true,
            },
            Attr::Int(4) => CastTo::Int {
                bits: 16,
                signed: false,
            },
            Attr::Int(5) => CastTo::Int {
                bits: 16,
                signed: true,
            },
            Attr::Int(6) => CastTo::Int {
                bits: 32,
                signed: true,
            },
            Attr::Int(7) => CastTo::Int {
                bits: 64,
                signed: true,
            },
            Attr::Int(12) => CastTo::Int {
                bits: 32,
                signed: false,
            },
            Attr::Int(13) => CastTo::Int {
                bits: 64,
                signed: false,
            },
            Attr::Int(t) => return Err(self.err(format!("Cast to ONNX type {t} is not supported"))),
            _ => return Err(self.err("attribute to must be an int")),
        })
    }

    fn cast(&self, x: &Const, to: CastTo) -> Result<Const> {
        let (dtype, f): (DType, Box<dyn Fn(f64) -> f64>) = match to {
            CastTo::Float { f32: true } => (DType::Float, Box::new(|v| v as f32 as f64)),
            CastTo::Float { f32: false } => (DType::Float, Box::new(|v| v)),
            CastTo::Bool => (DType::Bool, Box::new(|v| (v != 0.0) as u8 as f64)),
            CastTo::Int {
                bits: 64,
                signed: false,
            } => (
                DType::Int,
                Box::new(|v| {
                    if v < 0.0 {
                        (as_i64(v.trunc()) as u64) as f64
                    } else {
                        v.trunc()
                    }
                }),
            ),
            CastTo::Int { bits: 64, .. } => (DType::Int, Box::new(|v| as_i64(v.trunc()) as f64)),
            CastTo::Int { bits, signed } => (
                DType::Int,
                // two's complement wrap-around to the target width
                Box::new(move |v| {
                    let m = as_i64(v.trunc()) & ((1i64 << bits) - 1);
                    (if signed && m >= 1i64 << (bits - 1) {
                        m - (1i64 << bits)
                    } else {
                        m
                    }) as f64
                }),
            ),
        };
        Ok(Const {
            dtype,
            tensor: x.tensor.map(|&v| f(v)),
        })
    }

    fn gather(&self, data: &Const, indices: &Const) -> Result<Const> {
        let ds = &data.tensor.shape;
        if ds.is_empty() {
            return Err(self.err("cannot gather from a scalar"));
        }
        let axis = self.axis(self.int("axis", 0)?, ds.len())?;
        let idx = self.int_values(indices, "the indices")?;
        let n = ds[axis] as i64;
        let out_shape = [&ds[..axis], &indices.tensor.shape[..], &ds[axis + 1..]].concat();
        self.numel(&out_shape)?;
        let outer: usize = ds[..axis].iter().product();
        let inner: usize = ds[axis + 1..].iter().product();
        let mut y = Vec::with_capacity(outer * idx.len() * inner);
        for o in 0..outer {
            for &i in &idx {
                let j = if i < 0 { i + n } else { i };
                if !(0..n).contains(&j) {
                    return Err(self.err(format!(
                        "index {i} is out of range for axis {axis} of size {n}"
                    )));
                }
                let base = (o * ds[axis] + j as usize) * inner;
                y.extend_from_slice(&data.tensor.data[base..base + inner]);
            }
        }
        Ok(Const {
            dtype: data.dtype,
            tensor: Tensor::new(out_shape, y),
        })
    }

    fn slice(&self, opset: i64, inputs: &[Option<&Const>]) -> Result<Const> {
        let x = self.input(inputs, 0)?;
        let (starts, ends, axes, steps) = if opset < 10 {
            let starts = self
                .ints_attr("starts")?
                .ok_or_else(|| self.err("attribute starts is missing"))?;
            let ends = self
                .ints_attr("ends")?
                .ok_or_else(|| self.err("attribute ends is missing"))?;
            (starts, ends, self.ints_attr("axes")?, None)
        } else {
            let list = |i: usize, what: &str| -> Result<Option<Vec<i64>>> {
                self.opt(inputs, i)
                    .map(|_| self.int_list(inputs, i, what))
                    .transpose()
            };
            (
                self.int_list(inputs, 1, "starts")?,
                self.int_list(inputs, 2, "ends")?,
                list(3, "axes")?,
                list(4, "steps")?,
            )
        };
        let rank = x.tensor.rank();
        let axes = match axes {
            Some(a) => self.axes(&a, rank)?,
            None => (0..starts.len()).collect(),
        };
        let steps = steps.unwrap_or_else(|| vec![1; starts.len()]);
        if ends.len() != starts.len() || axes.len() != starts.len() || steps.len() != starts.len() {
            return Err(self.err(format!("starts {starts:?}, ends {ends:?}, axes {axes:?} and steps {steps:?} differ in length")));
        }
        if axes.iter().any(|&a| a >= rank) {
            return Err(self.err(format!("axes {axes:?} out of range for rank {rank}")));
        }
        // per axis: first index, step and count (ONNX's clamping rules, negative steps too)
        let mut first = vec![0i64; rank];
        let mut step = vec![1i64; rank];
        let mut shape = x.tensor.shape.clone();
        for k in 0..axes.len() {
            let (a, s) = (axes[k], steps[k]);
            if s == 0 {
                return Err(self.err("a step is 0"));
            }
            let dim = x.tensor.shape[a] as i64;
            let norm = |v: i64| if v < 0 { v.saturating_add(dim) } else { v };
            let (b, e) = if s > 0 {
                (norm(starts[k]).clamp(0, dim), norm(ends[k]).clamp(0, dim))
            } else if dim == 0 {
                (0, 0)
            } else {
                (
                    norm(starts[k]).clamp(0, dim - 1),
                    norm(ends[k]).clamp(-1, dim - 1),
                )
            };
            let len = if s > 0 {
                (e - b).max(0) as u64
            } else {
                (b - e).max(0) as u64
            };
            let count = len.div_ceil(s.unsigned_abs());
            first[a] = b;
            step[a] = s;
            shape[a] = count as usize;
        }
        self.numel(&shape)?;
        let st = strides(&x.tensor.shape);
        let data = MultiIndex::new(&shape)
            .map(|idx| {
                let off: i64 = idx
                    .iter()
                    .enumerate()
                    .map(|(d, &i)| (first[d] + i as i64 * step[d]) * st[d] as i64)
                    .sum();
                x.tensor.data[off as usize]
            })
            .collect();
        Ok(Const {
            dtype: x.dtype,
            tensor: Tensor::new(shape, data),
        })
    }

    fn concat(&self, inputs: &[Option<&Const>]) -> Result<Const> {
        let ts: Vec<&Const> = inputs.iter().flatten().copied().collect();
        let first = ts.first().ok_or_else(|| self.err("no input"))?;
        let rank = first.tensor.rank();
        if rank == 0 {
            return Err(self.err("cannot concatenate scalars"));
        }
        let axis = self.axis(self.int("axis", 0)?, rank)?;
        let mut shape = first.tensor.shape.clone();
        shape[axis] = 0;
        for t in &ts {
            let s = &t.tensor.shape;
            if s.len() != rank || (0..rank).any(|d| d != axis && s[d] != shape[d]) {
                return Err(self.err(format!(
                    "input shapes {:?} and {s:?} cannot be concatenated on axis {axis}",
                    first.tensor.shape
                )));
            }
            shape[axis] += s[axis];
        }
        self.numel(&shape)?;
        let dtype = if ts.iter().any(|t| t.dtype == DType::Float) {
            DType::Float
        } else {
            first.dtype
        };
        let tensors: Vec<&Tensor<f64>> = ts.iter().map(|t| &t.tensor).collect();
        Ok(Const {
            dtype,
            tensor: Tensor::new(shape, concat(&tensors, axis)),
        })
    }

    /// Axes from the attribute (before opset 13) or input #1.
    fn axes_arg(&self, opset: i64, inputs: &[Option<&Const>]) -> Result<Option<Vec<i64>>> {
        if opset < 13 {
            self.ints_attr("axes")
        } else {
            self.opt(inputs, 1)
                .map(|_| self.int_list(inputs, 1, "the axes"))
                .transpose()
        }
    }

    fn unsqueeze(&self, opset: i64, inputs: &[Option<&Const>]) -> Result<Const> {
        let x = self.input(inputs, 0)?;
        let axes = self
            .axes_arg(opset, inputs)?
            .ok_or_else(|| self.err("the axes are missing"))?;
        let rank = x.tensor.rank() + axes.len();
        let mut axes = self.axes(&axes, rank)?;
        axes.sort_unstable();
        let mut shape = x.tensor.shape.clone();
        for a in axes {
            shape.insert(a, 1);
        }
        Ok(Const {
            dtype: x.dtype,
            tensor: Tensor::new(shape, x.tensor.data.clone()),
        })
    }

    fn squeeze(&self, opset: i64, inputs: &[Option<&Const>]) -> Result<Const> {
        let x = self.input(inputs, 0)?;
        let s = &x.tensor.shape;
        let axes = match self.axes_arg(opset, inputs)? {
            Some(a) => {
                let a = self.axes(&a, s.len())?;
                if let Some(&bad) = a.iter().find(|&&d| s[d] != 1) {
                    return Err(self.err(format!("axis {bad} of shape {s:?} is not 1")));
                }
                a
            }
            None => (0..s.len()).filter(|&d| s[d] == 1).collect(),
        };
        let shape = (0..s.len())
            .filter(|d| !axes.contains(d))
            .map(|d| s[d])
            .collect();
        Ok(Const {
            dtype: x.dtype,
            tensor: Tensor::new(shape, x.tensor.data.clone()),
        })
    }

    fn reshape(&self, opset: i64, inputs: &[Option<&Const>]) -> Result<Const> {
        let x = self.input(inputs, 0)?;
        let spec = if opset < 5 {
            self.ints_attr("shape")?
                .ok_or_else(|| self.err("attribute shape is missing"))?
        } else {
            self.int_list(inputs, 1, "the target shape")?
        };
        let allowzero = self.int("allowzero", 0)? != 0;
        let shape = reshape_target(&x.tensor.shape, &spec, allowzero)
            .ok_or_else(|| self.err(format!("cannot reshape {:?} to {spec:?}", x.tensor.shape)))?;
        Ok(Const {
            dtype: x.dtype,
            tensor: Tensor::new(shape, x.tensor.data.clone()),
        })
    }

    fn flatten(&self, x: &Const) -> Result<Const> {
        let s = &x.tensor.shape;
        let axis = flatten_axis(self.int("axis", 1)?, s.len())
            .ok_or_else(|| self.err("axis is out of range"))?;
        let shape = vec![s[..axis].iter().product(), s[axis..].iter().product()];
        Ok(Const {
            dtype: x.dtype,
            tensor: Tensor::new(shape, x.tensor.data.clone()),
        })
    }

    fn expand(&self, x: &Const, target: &[i64]) -> Result<Const> {
        let target = self.dims(target, "the target shape")?;
        let shape = broadcast_shape(&x.tensor.shape, &target).ok_or_else(|| {
            self.err(format!(
                "shape {:?} does not broadcast to {target:?}",
                x.tensor.shape
            ))
        })?;
        self.numel(&shape)?;
        Ok(Const {
            dtype: x.dtype,
            tensor: x.tensor.broadcast_to(&shape),
        })
    }

    fn tile(&self, x: &Const, repeats: &[i64]) -> Result<Const> {
        let s = &x.tensor.shape;
        if repeats.len() != s.len() {
            return Err(self.err(format!("{} repeats for rank {}", repeats.len(), s.len())));
        }
        let reps = self.dims(repeats, "the repeats")?;
        let shape: Vec<usize> = s.iter().zip(&reps).map(|(&d, &r)| d * r).collect();
        self.numel(&shape)?;
        let st = strides(s);
        let data = MultiIndex::new(&shape)
            .map(|idx| {
                x.tensor.data[idx
                    .iter()
                    .enumerate()
                    .map(|(d, &i)| (i % s[d]) * st[d])
                    .sum::<usize>()]
            })
            .collect();
        Ok(Const {
            dtype: x.dtype,
            tensor: Tensor::new(shape, data),
        })
    }

    fn nonzero(&self, x: &Const) -> Const {
        // a scalar is taken as a 1-D tensor of one element (numpy's nonzero, ONNX's reference)
        let shape = if x.tensor.rank() == 0 {
            vec![1]
        } else {
            x.tensor.shape.clone()
        };
        let hits: Vec<Vec<usize>> = MultiIndex::new(&shape)
            .zip(&x.tensor.data)
            .filter(|(_, &v)| v != 0.0)
            .map(|(i, _)| i)
            .collect();
        let rank = shape.len();
        let mut data = vec![0i64; rank * hits.len()];
        for (k, idx) in hits.iter().enumerate() {
            for d in 0..rank {
                data[d * hits.len() + k] = idx[d] as i64;
            }
        }
        int_const(vec![rank, hits.len()], data)
    }

    fn arith(&self, op: &str, a: &Const, b: &Const) -> Result<Const> {
        let int = a.dtype != DType::Float && (b.dtype != DType::Float || op == "Pow");
        let fmod = self.int("fmod", 0)? != 0;
        if op == "Mod" && !int && !fmod {
            return Err(self.err("Mod of floats needs fmod = 1"));
        }
        let err = std::cell::Cell::new(None);
        let c = broadcast2(self, a, b, |x, y| {
            if int {
                let yf = y;
                let (x, y) = (as_i64(x), as_i64(y));
                let v = match op {
                    "Add" => x.wrapping_add(y),
                    "Sub" => x.wrapping_sub(y),
                    "Mul" => x.wrapping_mul(y),
                    "Div" | "Mod" if y == 0 => {
                        err.set(Some("integer division by zero"));
                        0
                    }
                    "Div" => x.wrapping_div(y),
                    "Mod" if fmod => x.wrapping_rem(y),
                    "Mod" => {
                        let r = x.wrapping_rem(y);
                        if r != 0 && (r < 0) != (y < 0) {
                            r + y
                        } else {
                            r
                        }
                    }
                    // Pow: the base's type; an integer base with a float exponent truncates
                    _ if b.dtype == DType::Float => as_i64((x as f64).powf(yf).trunc()),
                    _ if y < 0 => {
                        err.set(Some("a negative integer exponent"));
                        0
                    }
                    _ => x.wrapping_pow(y.min(u32::MAX as i64) as u32),
                };
                v as f64
            } else {
                match op {
                    "Add" => x + y,
                    "Sub" => x - y,
                    "Mul" => x * y,
                    "Div" => x / y,
                    "Mod" => x % y,
                    _ => x.powf(y),
                }
            }
        })?;
        if let Some(e) = err.get() {
            return Err(self.err(e));
        }
        Ok(Const {
            dtype: if int { a.dtype } else { DType::Float },
            tensor: c,
        })
    }

    fn variadic(&self, op: &str, inputs: &[Option<&Const>]) -> Result<Const> {
        let ts: Vec<&Const> = inputs.iter().flatten().copied().collect();
        let mut acc = (*ts.first().ok_or_else(|| self.err("no input"))?).clone();
        for t in &ts[1..] {
            let dtype = if acc.dtype == DType::Float || t.dtype == DType::Float {
                DType::Float
            } else {
                acc.dtype
            };
            let int = dtype != DType::Float;
            let tensor = broadcast2(self, &acc, t, |x, y| match op {
                "Max" => x.max(y),
                "Min" => x.min(y),
                _ if int => as_i64(x).wrapping_add(as_i64(y)) as f64,
                _ => x + y,
            })?;
            acc = Const { dtype, tensor };
        }
        if op == "Mean" {
            let n = ts.len() as f64;
            acc.tensor = if acc.dtype == DType::Float {
                acc.tensor.map(|v| v / n)
            } else {
                acc.tensor.map(|&v| (as_i64(v) / ts.len() as i64) as f64)
            };
        }
        Ok(acc)
    }

    fn compare(&self, op: &str, a: &Const, b: &Const) -> Result<Const> {
        let t = broadcast2(self, a, b, |x, y| {
            let r = match op {
                "Equal" => x == y,
                "Less" => x < y,
                "Greater" => x > y,
                "LessOrEqual" => x <= y,
                "GreaterOrEqual" => x >= y,
                "And" => x != 0.0 && y != 0.0,
                "Or" => x != 0.0 || y != 0.0,
                _ => (x != 0.0) != (y != 0.0),
            };
            r as u8 as f64
        })?;
        Ok(Const {
            dtype: DType::Bool,
            tensor: t,
        })
    }

    fn unary(&self, op: &str, x: &Const) -> Const {
        let int = x.dtype != DType::Float;
        let f = |v: f64| -> f64 {
            match op {
                "Neg" if int => as_i64(v).wrapping_neg() as f64,
                "Abs" if int => as_i64(v).wrapping_abs() as f64,
                "Neg" => -v,
                "Abs" => v.abs(),
                "Sign" => {
                    if v > 0.0 {
                        1.0
                    } else if v < 0.0 {
                        -1.0
                    } else {
                        0.0
                    }
                }
                "Floor" => v.floor(),
                "Ceil" => v.ceil(),
                "Round" => v.round_ties_even(),
                "Sqrt" => v.sqrt(),
                "Reciprocal" => 1.0 / v,
                "Exp" => v.exp(),
                "Log" => v.ln(),
                _ => (v == 0.0) as u8 as f64, // Not
            }
        };
        let dtype = match op {
            "Not" => DType::Bool,
            "Sqrt" | "Reciprocal" | "Exp" | "Log" => DType::Float,
            _ => x.dtype,
        };
        Const {
            dtype,
            tensor: x.tensor.map(|&v| f(v)),
        }
    }

    fn where_(&self, cond: &Const, a: &Const, b: &Const) -> Result<Const> {
        let shape = broadcast_shape(&cond.tensor.shape, &a.tensor.shape)
            .and_then(|s| broadcast_shape(&s, &b.tensor.shape))
            .ok_or_else(|| {
                self.err(format!(
                    "shapes {:?}, {:?} and {:?} do not broadcast",
                    cond.tensor.shape, a.tensor.shape, b.tensor.shape
                ))
            })?;
        self.numel(&shape)?;
        let (oc, oa, ob) = (
            broadcast_offsets(&cond.tensor.shape, &shape),
            broadcast_offsets(&a.tensor.shape, &shape),
            broadcast_offsets(&b.tensor.shape, &shape),
        );
        let data = (0..oc.len())
            .map(|i| {
                if cond.tensor.data[oc[i]] != 0.0 {
                    a.tensor.data[oa[i]]
                } else {
                    b.tensor.data[ob[i]]
                }
            })
            .collect();
        let dtype = if a.dtype == DType::Float || b.dtype == DType::Float {
            DType::Float
        } else {
            a.dtype
        };
        Ok(Const {
            dtype,
            tensor: Tensor::new(shape, data),
        })
    }

    fn reduce(&self, op: &str, opset: i64, inputs: &[Option<&Const>]) -> Result<Const> {
        let x = self.input(inputs, 0)?;
        let axes_from_input = if op == "ReduceSum" {
            opset >= 13
        } else {
            opset >= 18
        };
        let axes = if axes_from_input {
            self.opt(inputs, 1)
                .map(|_| self.int_list(inputs, 1, "the axes"))
                .transpose()?
        } else {
            self.ints_attr("axes")?
        };
        let rank = x.tensor.rank();
        let axes: Vec<usize> = match axes {
            Some(a) if !a.is_empty() => self.axes(&a, rank)?,
            _ if self.int("noop_with_empty_axes", 0)? != 0 => return Ok(x.clone()),
            _ => (0..rank).collect(),
        };
        let keepdims = self.int("keepdims", 1)? != 0;
        if op != "ReduceSum" && op != "ReduceProd" && axes.iter().any(|&a| x.tensor.shape[a] == 0) {
            return Err(self.err("reducing an empty axis"));
        }
        let int = x.dtype != DType::Float;
        let (init, f): (f64, fn(f64, f64, bool) -> f64) = match op {
            "ReduceSum" => (0.0, |a, b, int| {
                if int {
                    as_i64(a).wrapping_add(as_i64(b)) as f64
                } else {
                    a + b
                }
            }),
            "ReduceProd" => (1.0, |a, b, int| {
                if int {
                    as_i64(a).wrapping_mul(as_i64(b)) as f64
                } else {
                    a * b
                }
            }),
            "ReduceMax" => (f64::NEG_INFINITY, |a, b, _| a.max(b)),
            _ => (f64::INFINITY, |a, b, _| a.min(b)),
        };
        let kept = crate::ops::reduce_shape(&x.tensor.shape, &axes, true);
        let ks = strides(&kept);
        let mut acc = vec![init; kept.iter().product()];
        for (idx, &v) in MultiIndex::new(&x.tensor.shape).zip(&x.tensor.data) {
            let o: usize = idx
                .iter()
                .enumerate()
                .map(|(d, &i)| if axes.contains(&d) { 0 } else { i * ks[d] })
                .sum();
            acc[o] = f(acc[o], v, int);
        }
        let shape = crate::ops::reduce_shape(&x.tensor.shape, &axes, keepdims);
        Ok(Const {
            dtype: x.dtype,
            tensor: Tensor::new(shape, acc),
        })
    }
}

#[derive(Clone, Copy)]
enum CastTo {
    Float { f32: bool },
    Int { bits: u32, signed: bool },
    Bool,
}

/// `f` elementwise over two constants with ONNX (numpy) broadcasting.
fn broadcast2(
    fo: &Folder<'_>,
    a: &Const,
    b: &Const,
    f: impl Fn(f64, f64) -> f64,
) -> Result<Tensor<f64>> {
    let shape = broadcast_shape(&a.tensor.shape, &b.tensor.shape).ok_or_else(|| {
        fo.err(format!(
            "shapes {:?} and {:?} do not broadcast",
            a.tensor.shape, b.tensor.shape
        ))
    })?;
    fo.numel(&shape)?;
    let (oa, ob) = (
        broadcast_offsets(&a.tensor.shape, &shape),
        broadcast_offsets(&b.tensor.shape, &shape),
    );
    Ok(Tensor::new(
        shape,
        oa.iter()
            .zip(&ob)
            .map(|(&i, &j)| f(a.tensor.data[i], b.tensor.data[j]))
            .collect(),
    ))
}

/// Flatten's axis in `[-rank, rank]`, a negative one counting from the back.
pub fn flatten_axis(axis: i64, rank: usize) -> Option<usize> {
    let r = rank as i64;
    let a = if axis < 0 { axis + r } else { axis };
    (0..=r).contains(&a).then_some(a as usize)
}

/// ONNX Reshape's target: 0 copies the input's dimension (unless `allowzero`), one -1 is
/// inferred. `None` when the spec does not fit the element count.
pub fn reshape_target(x: &[usize], spec: &[i64], allowzero: bool) -> Option<Vec<usize>> {
    let total: usize = x.iter().product();
    let mut out = Vec::with_capacity(spec.len());
    let mut infer = None;
    for (i, &s) in spec.iter().enumerate() {
        match s {
            0 if allowzero => out.push(0),
            0 => out.push(*x.get(i)?),
            -1 if infer.is_none() => {
                infer = Some(i);
                out.push(1)
            }
            s if s > 0 => out.push(usize::try_from(s).ok()?),
            _ => return None,
        }
    }
    let known = out.iter().try_fold(1usize, |n, &d| n.checked_mul(d))?;
    if let Some(i) = infer {
        if known == 0 || total % known != 0 {
            return None;
        }
        out[i] = total / known;
    }
    (out.iter().try_fold(1usize, |n, &d| n.checked_mul(d))? == total).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn node(op: &str, attrs: Vec<(&str, Attr)>) -> RawNode {
        RawNode {
            name: format!("/{op}"),
            op_type: op.into(),
            domain: String::new(),
            inputs: vec![],
            outputs: vec!["y".into()],
            attrs: attrs
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect::<HashMap<_, _>>(),
        }
    }
    fn ints(shape: &[usize], v: &[i64]) -> Const {
        int_const(shape.to_vec(), v.to_vec())
    }
    fn floats(shape: &[usize], v: &[f64]) -> Const {
        float_const(shape.to_vec(), v.to_vec())
    }
    fn ev(
        op: &str,
        opset: i64,
        attrs: Vec<(&str, Attr)>,
        inputs: &[Option<&Const>],
    ) -> Result<Const> {
        let mut outs = eval(&node(op, attrs), opset, inputs)?;
        assert_eq!(outs.len(), 1);
        Ok(outs.remove(0))
    }
    fn ok(op: &str, opset: i64, attrs: Vec<(&str, Attr)>, inputs: &[&Const]) -> Const {
        let ins: Vec<Option<&Const>> = inputs.iter().map(|c| Some(*c)).collect();
        ev(op, opset, attrs, &ins).unwrap_or_else(|e| panic!("{op}: {e}"))
    }
    fn fails(op: &str, opset: i64, attrs: Vec<(&str, Attr)>, inputs: &[&Const], want: &str) {
        let ins: Vec<Option<&Const>> = inputs.iter().map(|c| Some(*c)).collect();
        let e = ev(op, opset, attrs, &ins).unwrap_err().to_string();
        assert!(
            e.contains(&format!("/{op}")) && e.contains(want),
            "{op}: {e}"
        );
    }
    fn is(c: &Const, dtype: DType, shape: &[usize], v: &[f64]) {
        assert_eq!(
            (c.dtype, c.tensor.shape.as_slice(), c.tensor.data.as_slice()),
            (dtype, shape, v)
        );
    }

    #[test]
    fn constant_shape_size() {
        is(
            &constant(&node(
                "Constant",
                vec![("value_ints", Attr::Ints(vec![1, -1]))],
            ))
            .unwrap(),
            DType::Int,
            &[2],
            &[1.0, -1.0],
        );
        is(
            &constant(&node("Constant", vec![("value_float", Attr::Float(0.5))])).unwrap(),
            DType::Float,
            &[],
            &[0.5],
        );
        assert!(constant(&node(
            "Constant",
            vec![("value_string", Attr::Str("a".into()))]
        ))
        .unwrap_err()
        .to_string()
        .contains("/Constant"));
        assert!(constant(&node("Constant", vec![])).is_err());
        let s = [2, 3, 4, 5];
        is(
            &shape(&node("Shape", vec![]), &s).unwrap(),
            DType::Int,
            &[4],
            &[2.0, 3.0, 4.0, 5.0],
        );
        let se = |a: i64, b: i64| {
            shape(
                &node(
                    "Shape",
                    vec![("start", Attr::Int(a)), ("end", Attr::Int(b))],
                ),
                &s,
            )
            .unwrap()
            .tensor
            .data
        };
        assert_eq!(se(-3, -1), vec![3.0, 4.0]);
        assert_eq!(se(1, 100), vec![3.0, 4.0, 5.0]);
        assert_eq!(se(-100, 1), vec![2.0]);
        assert_eq!(se(3, 1), Vec::<f64>::new());
        is(
            &shape(&node("Shape", vec![("start", Attr::Int(2))]), &s).unwrap(),
            DType::Int,
            &[2],
            &[4.0, 5.0],
        );
        is(&size(&s), DType::Int, &[], &[120.0]);
        is(&size(&[]), DType::Int, &[], &[1.0]);
    }

    #[test]
    fn constant_of_shape_and_range() {
        is(
            &ok("ConstantOfShape", 13, vec![], &[&ints(&[2], &[2, 3])]),
            DType::Float,
            &[2, 3],
            &[0.0; 6],
        );
        let seven = Attr::Tensor(ints(&[1], &[7]));
        is(
            &ok(
                "ConstantOfShape",
                13,
                vec![("value", seven)],
                &[&ints(&[1], &[2])],
            ),
            DType::Int,
            &[2],
            &[7.0, 7.0],
        );
        is(
            &ok("ConstantOfShape", 13, vec![], &[&ints(&[0], &[])]),
            DType::Float,
            &[],
            &[0.0],
        );
        fails(
            "ConstantOfShape",
            13,
            vec![],
            &[&ints(&[2], &[2, -3])],
            "negative dimension",
        );
        fails(
            "ConstantOfShape",
            13,
            vec![],
            &[&ints(&[3], &[1 << 20, 1 << 20, 1 << 20])],
            "larger than",
        );
        let r = |a: i64, b: i64, d: i64| {
            ok(
                "Range",
                11,
                vec![],
                &[&ints(&[], &[a]), &ints(&[], &[b]), &ints(&[], &[d])],
            )
        };
        is(&r(0, 10, 3), DType::Int, &[4], &[0.0, 3.0, 6.0, 9.0]);
        is(&r(10, 0, -4), DType::Int, &[3], &[10.0, 6.0, 2.0]);
        is(&r(5, 0, 1), DType::Int, &[0], &[]);
        let f = ok(
            "Range",
            11,
            vec![],
            &[
                &floats(&[], &[0.0]),
                &floats(&[], &[1.0]),
                &floats(&[], &[0.25]),
            ],
        );
        is(&f, DType::Float, &[4], &[0.0, 0.25, 0.5, 0.75]);
        fails(
            "Range",
            11,
            vec![],
            &[&ints(&[], &[0]), &ints(&[], &[3]), &ints(&[], &[0])],
            "delta is 0",
        );
        fails(
            "Range",
            11,
            vec![],
            &[&ints(&[2], &[0, 1]), &ints(&[], &[3]), &ints(&[], &[1])],
            "scalar",
        );
        fails(
            "Range",
            11,
            vec![],
            &[&ints(&[], &[0]), &ints(&[], &[i64::MAX]), &ints(&[], &[1])],
            "larger than",
        );
    }

    #[test]
    fn cast_truncates_wraps_and_rounds() {
        let x = floats(&[4], &[-2.7, 2.7, 0.0, 300.0]);
        is(
            &ok("Cast", 13, vec![("to", Attr::Int(7))], &[&x]),
            DType::Int,
            &[4],
            &[-2.0, 2.0, 0.0, 300.0],
        );
        is(
            &ok("Cast", 13, vec![("to", Attr::Int(3))], &[&x]),
            DType::Int,
            &[4],
            &[-2.0, 2.0, 0.0, 44.0],
        );
        is(
            &ok(
                "Cast",
                13,
                vec![("to", Attr::Int(2))],
                &[&ints(&[2], &[-1, 256])],
            ),
            DType::Int,
            &[2],
            &[255.0, 0.0],
        );
        is(
            &ok("Cast", 13, vec![("to", Attr::Int(9))], &[&x]),
            DType::Bool,
            &[4],
            &[1.0, 1.0, 0.0, 1.0],
        );
        let c = ok(
            "Cast",
            13,
            vec![("to", Attr::Int(1))],
            &[&floats(&[1], &[0.1])],
        );
        assert_eq!(c.tensor.data[0], 0.1f32 as f64);
        is(
            &ok("CastLike", 15, vec![], &[&x, &ints(&[], &[0])]),
            DType::Int,
            &[4],
            &[-2.0, 2.0, 0.0, 300.0],
        );
        fails("Cast", 13, vec![("to", Attr::Int(8))], &[&x], "type 8");
        fails("Cast", 13, vec![], &[&x], "to is missing");
    }

    #[test]
    fn gather_negative_indices_and_axes() {
        let shape = ints(&[4], &[1, 3, 8, 8]);
        is(
            &ok(
                "Gather",
                13,
                vec![("axis", Attr::Int(0))],
                &[&shape, &ints(&[], &[0])],
            ),
            DType::Int,
            &[],
            &[1.0],
        );
        is(
            &ok("Gather", 13, vec![], &[&shape, &ints(&[2], &[-1, 1])]),
            DType::Int,
            &[2],
            &[8.0, 3.0],
        );
        let m = floats(&[2, 3], &[0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
        is(
            &ok(
                "Gather",
                13,
                vec![("axis", Attr::Int(-1))],
                &[&m, &ints(&[2, 1], &[2, 0])],
            ),
            DType::Float,
            &[2, 2, 1],
            &[2.0, 0.0, 5.0, 3.0],
        );
        fails(
            "Gather",
            13,
            vec![],
            &[&shape, &ints(&[], &[4])],
            "out of range",
        );
        fails(
            "Gather",
            13,
            vec![],
            &[&shape, &ints(&[], &[-5])],
            "out of range",
        );
        fails(
            "Gather",
            13,
            vec![("axis", Attr::Int(1))],
            &[&shape, &ints(&[], &[0])],
            "axis 1",
        );
        fails(
            "Gather",
            13,
            vec![],
            &[&shape, &floats(&[], &[0.5])],
            "integers",
        );
    }

    #[test]
    fn slice_inputs_and_attributes_forms() {
        let x = ints(&[6], &[0, 1, 2, 3, 4, 5]);
        let sl = |s: &[i64], e: &[i64], a: Option<&[i64]>, st: Option<&[i64]>| {
            let c = |v: &[i64]| ints(&[v.len()], v);
            let (s, e, a, st) = (c(s), c(e), a.map(c), st.map(c));
            ev(
                "Slice",
                13,
                vec![],
                &[Some(&x), Some(&s), Some(&e), a.as_ref(), st.as_ref()],
            )
            .unwrap()
            .tensor
            .data
        };
        let v = |d: &[i64]| d.iter().map(|&x| x as f64).collect::<Vec<_>>();
        assert_eq!(sl(&[1], &[i64::MAX], None, None), v(&[1, 2, 3, 4, 5]));
        assert_eq!(sl(&[-3], &[-1], Some(&[-1]), None), v(&[3, 4]));
        assert_eq!(sl(&[0], &[6], None, Some(&[2])), v(&[0, 2, 4]));
        assert_eq!(
            sl(&[-1], &[i64::MIN], None, Some(&[-1])),
            v(&[5, 4, 3, 2, 1, 0])
        );
        assert_eq!(sl(&[4], &[0], None, Some(&[-2])), v(&[4, 2]));
        assert_eq!(sl(&[10], &[20], None, None), v(&[]));
        let empty = ints(&[0], &[]);
        let neg = |v: i64| ints(&[1], &[v]);
        assert_eq!(
            ok(
                "Slice",
                13,
                vec![],
                &[&empty, &neg(-1), &neg(i64::MIN), &neg(0), &neg(-1)]
            )
            .tensor
            .shape,
            vec![0]
        );
        // 2-D, one axis, negative
        let m = floats(&[2, 3], &[0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
        let (s, e, a) = (ints(&[1], &[1]), ints(&[1], &[3]), ints(&[1], &[-1]));
        is(
            &ok("Slice", 13, vec![], &[&m, &s, &e, &a]),
            DType::Float,
            &[2, 2],
            &[1.0, 2.0, 4.0, 5.0],
        );
        // opset < 10: attributes
        let attrs = vec![
            ("starts", Attr::Ints(vec![0, 1])),
            ("ends", Attr::Ints(vec![1, 1000])),
            ("axes", Attr::Ints(vec![0, 1])),
        ];
        is(
            &ok("Slice", 9, attrs, &[&m]),
            DType::Float,
            &[1, 2],
            &[1.0, 2.0],
        );
        fails(
            "Slice",
            13,
            vec![],
            &[
                &x,
                &ints(&[1], &[0]),
                &ints(&[1], &[3]),
                &ints(&[1], &[0]),
                &ints(&[1], &[0]),
            ],
            "step is 0",
        );
        fails(
            "Slice",
            13,
            vec![],
            &[&x, &ints(&[2], &[0, 1]), &ints(&[1], &[3])],
            "differ in length",
        );
        fails(
            "Slice",
            13,
            vec![],
            &[&x, &ints(&[1], &[0]), &ints(&[1], &[3]), &ints(&[1], &[1])],
            "out of range",
        );
        fails(
            "Slice",
            9,
            vec![("ends", Attr::Ints(vec![1]))],
            &[&x],
            "starts is missing",
        );
    }

    #[test]
    fn concat_unsqueeze_squeeze_reshape() {
        let (a, b) = (ints(&[1], &[1]), ints(&[1], &[-1]));
        is(
            &ok("Concat", 13, vec![("axis", Attr::Int(0))], &[&a, &b]),
            DType::Int,
            &[2],
            &[1.0, -1.0],
        );
        let m = floats(&[2, 1], &[1.0, 2.0]);
        is(
            &ok("Concat", 13, vec![("axis", Attr::Int(-1))], &[&m, &m]),
            DType::Float,
            &[2, 2],
            &[1.0, 1.0, 2.0, 2.0],
        );
        fails(
            "Concat",
            13,
            vec![("axis", Attr::Int(0))],
            &[&m, &a],
            "cannot be concatenated",
        );
        fails("Concat", 13, vec![], &[&ints(&[], &[1])], "scalars");
        // Unsqueeze: axes as input (opset 13) and attribute (opset 11), negative
        let s = ints(&[], &[5]);
        is(
            &ok("Unsqueeze", 13, vec![], &[&s, &ints(&[1], &[0])]),
            DType::Int,
            &[1],
            &[5.0],
        );
        let v = ints(&[3], &[1, 2, 3]);
        assert_eq!(
            ok("Unsqueeze", 13, vec![], &[&v, &ints(&[2], &[-1, 0])])
                .tensor
                .shape,
            vec![1, 3, 1]
        );
        assert_eq!(
            ok("Unsqueeze", 11, vec![("axes", Attr::Ints(vec![1]))], &[&v])
                .tensor
                .shape,
            vec![3, 1]
        );
        fails(
            "Unsqueeze",
            13,
            vec![],
            &[&v, &ints(&[2], &[0, -3])],
            "repeated",
        );
        fails(
            "Unsqueeze",
            13,
            vec![],
            &[&v, &ints(&[1], &[3])],
            "out of range",
        );
        // Squeeze
        let t = floats(&[1, 3, 1], &[1.0, 2.0, 3.0]);
        assert_eq!(
            ok("Squeeze", 13, vec![], &[&t, &ints(&[1], &[-1])])
                .tensor
                .shape,
            vec![1, 3]
        );
        assert_eq!(ok("Squeeze", 13, vec![], &[&t]).tensor.shape, vec![3]);
        assert_eq!(
            ok("Squeeze", 11, vec![("axes", Attr::Ints(vec![0]))], &[&t])
                .tensor
                .shape,
            vec![3, 1]
        );
        fails("Squeeze", 13, vec![], &[&t, &ints(&[1], &[1])], "is not 1");
        // Reshape: 0 copies, -1 infers, allowzero
        let x = floats(&[2, 3, 4], &[0.0; 24]);
        assert_eq!(
            ok("Reshape", 14, vec![], &[&x, &ints(&[2], &[0, -1])])
                .tensor
                .shape,
            vec![2, 12]
        );
        assert_eq!(
            ok("Reshape", 14, vec![], &[&x, &ints(&[3], &[-1, 3, 2])])
                .tensor
                .shape,
            vec![4, 3, 2]
        );
        fails(
            "Reshape",
            14,
            vec![],
            &[&x, &ints(&[2], &[-1, -1])],
            "cannot reshape",
        );
        fails(
            "Reshape",
            14,
            vec![],
            &[&x, &ints(&[2], &[5, -1])],
            "cannot reshape",
        );
        let empty = floats(&[0, 3], &[]);
        assert_eq!(
            ok(
                "Reshape",
                14,
                vec![("allowzero", Attr::Int(1))],
                &[&empty, &ints(&[2], &[3, 0])]
            )
            .tensor
            .shape,
            vec![3, 0]
        );
        assert_eq!(
            ok("Flatten", 13, vec![("axis", Attr::Int(-1))], &[&x])
                .tensor
                .shape,
            vec![6, 4]
        );
    }

    #[test]
    fn expand_and_tile_broadcast() {
        let x = floats(&[3, 1], &[1.0, 2.0, 3.0]);
        let y = ok("Expand", 13, vec![], &[&x, &ints(&[3], &[2, 1, 2])]);
        is(
            &y,
            DType::Float,
            &[2, 3, 2],
            &[1.0, 1.0, 2.0, 2.0, 3.0, 3.0, 1.0, 1.0, 2.0, 2.0, 3.0, 3.0],
        );
        // a target dimension of 1 keeps the input's (bidirectional broadcast)
        assert_eq!(
            ok("Expand", 13, vec![], &[&x, &ints(&[2], &[1, 4])])
                .tensor
                .shape,
            vec![3, 4]
        );
        fails(
            "Expand",
            13,
            vec![],
            &[&x, &ints(&[2], &[2, 4])],
            "does not broadcast",
        );
        let t = ok(
            "Tile",
            13,
            vec![],
            &[&floats(&[2], &[1.0, 2.0]), &ints(&[1], &[3])],
        );
        is(&t, DType::Float, &[6], &[1.0, 2.0, 1.0, 2.0, 1.0, 2.0]);
        fails("Tile", 13, vec![], &[&x, &ints(&[1], &[3])], "repeats");
    }

    #[test]
    fn integer_and_float_arithmetic_with_broadcasting() {
        let a = ints(&[2, 1], &[-7, 7]);
        let b = ints(&[2], &[2, 3]);
        is(
            &ok("Div", 13, vec![], &[&a, &b]),
            DType::Int,
            &[2, 2],
            &[-3.0, -2.0, 3.0, 2.0],
        );
        is(
            &ok("Mod", 13, vec![], &[&a, &b]),
            DType::Int,
            &[2, 2],
            &[1.0, 2.0, 1.0, 1.0],
        );
        is(
            &ok("Mod", 13, vec![("fmod", Attr::Int(1))], &[&a, &b]),
            DType::Int,
            &[2, 2],
            &[-1.0, -1.0, 1.0, 1.0],
        );
        is(
            &ok("Add", 13, vec![], &[&a, &b]),
            DType::Int,
            &[2, 2],
            &[-5.0, -4.0, 9.0, 10.0],
        );
        is(
            &ok("Sub", 13, vec![], &[&b, &a]),
            DType::Int,
            &[2, 2],
            &[9.0, 10.0, -5.0, -4.0],
        );
        is(
            &ok("Mul", 13, vec![], &[&a, &ints(&[], &[-1])]),
            DType::Int,
            &[2, 1],
            &[7.0, -7.0],
        );
        is(
            &ok("Pow", 13, vec![], &[&b, &ints(&[], &[3])]),
            DType::Int,
            &[2],
            &[8.0, 27.0],
        );
        fails(
            "Div",
            13,
            vec![],
            &[&a, &ints(&[], &[0])],
            "division by zero",
        );
        fails(
            "Pow",
            13,
            vec![],
            &[&b, &ints(&[], &[-1])],
            "negative integer exponent",
        );
        fails(
            "Add",
            13,
            vec![],
            &[&b, &ints(&[3], &[1, 2, 3])],
            "do not broadcast",
        );
        let f = floats(&[2], &[1.0, 3.0]);
        is(
            &ok("Div", 13, vec![], &[&f, &floats(&[], &[2.0])]),
            DType::Float,
            &[2],
            &[0.5, 1.5],
        );
        is(
            &ok("Pow", 13, vec![], &[&f, &floats(&[], &[2.0])]),
            DType::Float,
            &[2],
            &[1.0, 9.0],
        );
        is(
            &ok("Div", 13, vec![], &[&f, &floats(&[], &[0.0])]),
            DType::Float,
            &[2],
            &[f64::INFINITY, f64::INFINITY],
        );
        fails(
            "Div",
            13,
            vec![],
            &[&floats(&[], &[0.0]), &floats(&[], &[0.0])],
            "NaN",
        );
        fails("Mod", 13, vec![], &[&f, &f], "fmod = 1");
        is(
            &ok(
                "Max",
                13,
                vec![],
                &[&b, &ints(&[], &[2]), &ints(&[2, 1], &[0, 5])],
            ),
            DType::Int,
            &[2, 2],
            &[2.0, 3.0, 5.0, 5.0],
        );
        is(
            &ok("Sum", 13, vec![], &[&b, &b, &b]),
            DType::Int,
            &[2],
            &[6.0, 9.0],
        );
        is(
            &ok("Mean", 13, vec![], &[&f, &floats(&[], &[3.0])]),
            DType::Float,
            &[2],
            &[2.0, 3.0],
        );
        // unary
        is(
            &ok("Neg", 13, vec![], &[&b]),
            DType::Int,
            &[2],
            &[-2.0, -3.0],
        );
        is(
            &ok("Abs", 13, vec![], &[&a]),
            DType::Int,
            &[2, 1],
            &[7.0, 7.0],
        );
        is(
            &ok("Sqrt", 13, vec![], &[&floats(&[], &[16.0])]),
            DType::Float,
            &[],
            &[4.0],
        );
        is(
            &ok("Reciprocal", 13, vec![], &[&floats(&[], &[4.0])]),
            DType::Float,
            &[],
            &[0.25],
        );
        is(
            &ok("Round", 13, vec![], &[&floats(&[3], &[0.5, 1.5, -2.5])]),
            DType::Float,
            &[3],
            &[0.0, 2.0, -2.0],
        );
        is(
            &ok("Sign", 13, vec![], &[&a]),
            DType::Int,
            &[2, 1],
            &[-1.0, 1.0],
        );
        fails("Sqrt", 13, vec![], &[&floats(&[], &[-1.0])], "NaN");
        is(
            &ok("Log", 13, vec![], &[&floats(&[], &[0.0])]),
            DType::Float,
            &[],
            &[f64::NEG_INFINITY],
        );
    }

    #[test]
    fn logic_compare_where_with_broadcasting() {
        // PyTorch's expand(n, -1): Where(Equal(shape, -1), ones, shape)
        let shape = ints(&[2], &[1, -1]);
        let minus = ok(
            "Mul",
            13,
            vec![],
            &[
                &ok(
                    "ConstantOfShape",
                    13,
                    vec![("value", Attr::Tensor(ints(&[1], &[1])))],
                    &[&ints(&[1], &[2])],
                ),
                &ints(&[], &[-1]),
            ],
        );
        let eq = ok("Equal", 13, vec![], &[&shape, &minus]);
        is(&eq, DType::Bool, &[2], &[0.0, 1.0]);
        let ones = ints(&[2], &[1, 1]);
        is(
            &ok("Where", 13, vec![], &[&eq, &ones, &shape]),
            DType::Int,
            &[2],
            &[1.0, 1.0],
        );
        // broadcasting three ways
        let c = ints(&[2, 1], &[1, 0]);
        is(
            &ok(
                "Where",
                13,
                vec![],
                &[&c, &floats(&[3], &[1.0, 2.0, 3.0]), &floats(&[], &[-1.0])],
            ),
            DType::Float,
            &[2, 3],
            &[1.0, 2.0, 3.0, -1.0, -1.0, -1.0],
        );
        is(
            &ok("Not", 13, vec![], &[&eq]),
            DType::Bool,
            &[2],
            &[1.0, 0.0],
        );
        is(
            &ok("And", 13, vec![], &[&eq, &ints(&[], &[1])]),
            DType::Bool,
            &[2],
            &[0.0, 1.0],
        );
        is(
            &ok("Or", 13, vec![], &[&eq, &ints(&[2], &[1, 0])]),
            DType::Bool,
            &[2],
            &[1.0, 1.0],
        );
        is(
            &ok("Xor", 13, vec![], &[&eq, &ints(&[2], &[1, 1])]),
            DType::Bool,
            &[2],
            &[1.0, 0.0],
        );
        is(
            &ok("Less", 13, vec![], &[&shape, &ints(&[], &[0])]),
            DType::Bool,
            &[2],
            &[0.0, 1.0],
        );
        is(
            &ok(
                "GreaterOrEqual",
                13,
                vec![],
                &[&shape, &ints(&[2, 1], &[1, -1])],
            ),
            DType::Bool,
            &[2, 2],
            &[1.0, 0.0, 1.0, 1.0],
        );
        fails(
            "Where",
            13,
            vec![],
            &[&ints(&[2], &[1, 0]), &ones, &ints(&[3], &[1, 2, 3])],
            "do not broadcast",
        );
    }

    #[test]
    fn reductions_and_nonzero() {
        let s = ints(&[3], &[4, 4, 4]);
        is(
            &ok("ReduceProd", 13, vec![("keepdims", Attr::Int(1))], &[&s]),
            DType::Int,
            &[1],
            &[64.0],
        );
        let m = floats(&[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        is(
            &ok(
                "ReduceSum",
                13,
                vec![("keepdims", Attr::Int(0))],
                &[&m, &ints(&[1], &[-1])],
            ),
            DType::Float,
            &[2],
            &[6.0, 15.0],
        );
        is(
            &ok("ReduceMax", 13, vec![("axes", Attr::Ints(vec![0]))], &[&m]),
            DType::Float,
            &[1, 3],
            &[4.0, 5.0, 6.0],
        );
        is(
            &ok("ReduceMin", 18, vec![], &[&m, &ints(&[1], &[1])]),
            DType::Float,
            &[2, 1],
            &[1.0, 4.0],
        );
        is(
            &ok(
                "ReduceSum",
                13,
                vec![("noop_with_empty_axes", Attr::Int(1))],
                &[&m],
            ),
            DType::Float,
            &[2, 3],
            &m.tensor.data,
        );
        let nz = ok("NonZero", 13, vec![], &[&ints(&[2, 2], &[0, 3, 5, 0])]);
        is(&nz, DType::Int, &[2, 2], &[0.0, 1.0, 1.0, 0.0]);
    }

    #[test]
    fn dropout_and_data_dependent_shapes() {
        let d = node("Dropout", vec![]);
        is(
            &dropout_mask(&d, 13, None, &[2]).unwrap(),
            DType::Bool,
            &[2],
            &[1.0, 1.0],
        );
        is(
            &dropout_mask(&d, 13, Some(Some(&ints(&[], &[0]))), &[1]).unwrap(),
            DType::Bool,
            &[1],
            &[1.0],
        );
        assert!(dropout_mask(&d, 13, Some(Some(&ints(&[], &[1]))), &[1])
            .unwrap_err()
            .to_string()
            .contains("training_mode is true"));
        assert!(dropout_mask(&d, 13, Some(None), &[1])
            .unwrap_err()
            .to_string()
            .contains("training_mode"));
        let mut r = node("Reshape", vec![]);
        r.inputs = vec!["x".into(), "s".into()];
        let e = data_dependent(&r, 13, |i| i == 1).unwrap().to_string();
        assert!(
            e.contains("/Reshape") && e.contains("data-dependent shape") && e.contains("\"s\""),
            "{e}"
        );
        assert!(data_dependent(&r, 13, |i| i == 0).is_none());
        assert!(data_dependent(&r, 4, |_| true).is_none()); // opset < 5: the shape is an attribute
        let mut nz = node("NonZero", vec![]);
        nz.inputs = vec!["x".into()];
        assert!(data_dependent(&nz, 13, |_| true)
            .unwrap()
            .to_string()
            .contains("/NonZero"));
        let mut u = node("Unsqueeze", vec![]);
        u.inputs = vec!["x".into(), "a".into()];
        assert!(data_dependent(&u, 11, |_| true).is_none());
        assert!(data_dependent(&u, 13, |_| true).is_some());
    }

    /// Random small inputs and attributes for every folded operator: an answer or an error
    /// naming the node, never a panic.
    #[test]
    fn random_inputs_never_panic() {
        let mut seed = 0x5eed_u64;
        let mut next = move |m: u64| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) % m
        };
        for round in 0..20_000 {
            let op = FOLDED_OPS[round % FOLDED_OPS.len()];
            let mut inputs = Vec::new();
            for _ in 0..next(5) {
                let rank = next(4) as usize;
                let shape: Vec<usize> = (0..rank).map(|_| next(4) as usize).collect();
                let n: usize = shape.iter().product();
                let vals: Vec<f64> = (0..n).map(|_| next(11) as f64 - 5.0).collect();
                let dtype = [DType::Int, DType::Float, DType::Bool][next(3) as usize];
                let vals = if dtype == DType::Bool {
                    vals.iter().map(|v| (*v > 0.0) as u8 as f64).collect()
                } else {
                    vals
                };
                inputs.push(if next(6) == 0 {
                    None
                } else {
                    Some(Const {
                        dtype,
                        tensor: Tensor::new(shape, vals),
                    })
                });
            }
            let mut attrs = vec![];
            for (name, small) in [
                ("axis", true),
                ("keepdims", true),
                ("to", false),
                ("start", true),
                ("end", true),
                ("fmod", true),
                ("allowzero", true),
            ] {
                if next(2) == 0 {
                    attrs.push((
                        name,
                        Attr::Int(if small {
                            next(7) as i64 - 3
                        } else {
                            next(17) as i64
                        }),
                    ));
                }
            }
            if next(2) == 0 {
                attrs.push((
                    "axes",
                    Attr::Ints((0..next(3)).map(|_| next(7) as i64 - 3).collect()),
                ));
            }
            for (name, _) in [("starts", 0), ("ends", 0)] {
                if next(2) == 0 {
                    attrs.push((
                        name,
                        Attr::Ints((0..next(3)).map(|_| next(9) as i64 - 4).collect()),
                    ));
                }
            }
            let opset = [9, 11, 13, 18][next(4) as usize];
            let refs: Vec<Option<&Const>> = inputs.iter().map(|c| c.as_ref()).collect();
            let n = node(op, attrs);
            let r = std::panic::catch_unwind(|| eval(&n, opset, &refs));
            match r {
                Ok(Ok(outs)) => assert!(
                    outs.iter()
                        .all(|c| c.tensor.shape.iter().product::<usize>() == c.tensor.len()),
                    "{op}: {outs:?}"
                ),
                Ok(Err(e)) => assert!(e.to_string().contains(&format!("/{op}")), "{op}: {e}"),
                Err(_) => panic!(
                    "{op} panicked on {inputs:?} with {:?} (opset {opset})",
                    n.attrs
                ),
            }
        }
    }

    #[test]
    fn unknown_op_and_missing_inputs_are_errors() {
        fails("Add", 13, vec![], &[&ints(&[], &[1])], "missing input #1");
        let e = ev("Relu", 13, vec![], &[Some(&ints(&[], &[1]))])
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a folded operator"), "{e}");
        assert!(reshape_target(&[2, 3], &[i64::MAX, 2], false).is_none());
    }
}
