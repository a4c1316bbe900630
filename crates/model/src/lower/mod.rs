//! Lowerings: ONNX operators that compile into a short sequence of operators the engine already
//! has, each with its executor kernel and chunk circuits, so a dispute over a lowered operator
//! is proved with the circuits that exist (no new circuit, no new `QOp`).
//!
//! `graph.rs` asks [`lower`] first for every node that was not folded; an operator listed in
//! [`LOWERED_OPS`] becomes the [`LNode`]s its function here returns, which then calibrate and
//! quantise like any other op (each gets its own calibrated scale). The families follow
//! tract-onnx's layout:
//! - [`nn`]: activations, Layer-, Instance- and GroupNormalization, LogSoftmax, ConvTranspose
//!   (1-D, 2-D), LpPool, GlobalLpPool, GlobalMaxPool, the 3-D windows (Conv, MaxPool,
//!   AveragePool, GlobalAveragePool on `[N, C, D, H, W]`),
//!   and the 1-D windows (Conv, MaxPool, AveragePool, GlobalAveragePool on `[N, C, L]` as the
//!   2-D operator over a height of 1);
//! - [`math`]: Sum, Mean, Max, Min, Pow, Sign, Floor, Ceil, Round, MatMul of a constant by a
//!   computed operand, Gemm with transA or a computed B, Einsum, CumSum, Div of integers (truncating), Log, Sin, Cos, Tan,
//!   Asin, Acos, Atan;
//! - [`logic`]: And, Or, Xor, GreaterOrEqual, LessOrEqual;
//! - [`rec`]: LSTM, GRU, RNN unrolled over their sequence;
//! - [`reduce`]: ReduceL1, ReduceL2, ReduceSumSquare, ReduceLogSumExp;
//! - [`array`]: Expand, Trilu, Resize/Upsample nearest, Pad edge/reflect/wrap, DepthToSpace,
//!   SpaceToDepth, OneHot, TopK, GatherND, ScatterND, ScatterElements (and the deprecated
//!   Scatter);
//! - [`ml`] (the ai.onnx.ml domain): TreeEnsembleClassifier/Regressor,
//!   LinearClassifier/Regressor, Normalizer, Scaler, ZipMap.
//!
//! One small function per ONNX operator, named as in ONNX;
//! the fixed-point semantics of each is in docs/fixed-point.md, "Lowered operators".
//!
//! The saturating part of an activation is an [`Op::Smooth`] (a `QOp::Poly`, the generic
//! piecewise cubic of Sigmoid/Tanh/Erf/Exp) and the unbounded part uses Relu, Add, Mul... exactly.

mod array;
mod logic;
mod math;
mod ml;
mod nn;
mod rec;
mod reduce;

use crate::error::{ModelError, Result};
use crate::onnx::{Attr, Const, DType, RawNode};
use crate::ops::{BinaryKind, CompareKind, InputInfo, Op, SmoothFn};
use crate::tensor::{broadcast_shape, Tensor};

/// The ONNX operators (default domain) that [`lower`] compiles into existing operators. Max and
/// Min with exactly two inputs are the binary operators themselves and are not lowered.
pub const LOWERED_OPS: &[&str] = &[
    // nn
    "HardSigmoid",
    "HardSwish",
    "Elu",
    "Selu",
    "Celu",
    "Softplus",
    "Softsign",
    "Mish",
    "Gelu",
    "PRelu",
    "ThresholdedRelu",
    "LayerNormalization",
    "LogSoftmax",
    "ConvTranspose",
    "LpPool",
    "GlobalLpPool",
    "GlobalMaxPool",
    "InstanceNormalization",
    "GroupNormalization",
    // math
    "Sum",
    "Mean",
    "Max",
    "Min",
    "Pow",
    "Log",
    "Sin",
    "Cos",
    "Tan",
    "Asin",
    "Acos",
    "Atan",
    "Sign",
    "Floor",
    "Ceil",
    "Round",
    "MatMul",
    "Gemm",
    "Einsum",
    "CumSum",
    // logic
    "And",
    "Or",
    "Xor",
    "GreaterOrEqual",
    "LessOrEqual",
    // reduce
    "ReduceL1",
    "ReduceL2",
    "ReduceSumSquare",
    "ReduceLogSumExp",
    // rec
    "LSTM",
    "GRU",
    "RNN",
    // array
    "Expand",
    "Trilu",
    "Resize",
    "Upsample",
    "DepthToSpace",
    "SpaceToDepth",
    "OneHot",
    "TopK",
    "GatherND",
    "ScatterND",
    "ScatterElements",
    "Scatter",
];

/// The ai.onnx.ml operators that [`lower`] compiles into existing operators.
pub const LOWERED_ML_OPS: &[&str] = &[
    "TreeEnsembleClassifier",
    "TreeEnsembleRegressor",
    "LinearClassifier",
    "LinearRegressor",
    "Normalizer",
    "Scaler",
    "ZipMap",
];

/// An operand of a lowered node: input `i` of the ONNX node, an earlier lowered node, or a
/// constant the lowering made.
#[derive(Clone, Debug)]
pub enum Ref {
    In(usize),
    Node(usize),
    Const(Const),
}

/// One operator of a lowering. `part` names it inside the ONNX node (its name becomes
/// `"{node}/{part}"`; the node that gives the ONNX output keeps the node's own name).
#[derive(Clone, Debug)]
pub struct LNode {
    pub part: String,
    pub op: Op,
    pub inputs: Vec<Ref>,
    pub shape: Vec<usize>,
    pub dtype: DType,
}

/// A lowered ONNX node: its operators in order (each reads only earlier ones) and which values
/// are the ONNX node's outputs (`outs[0]` its first; an output beyond them is refused if read).
#[derive(Clone, Debug)]
pub struct Lowered {
    pub nodes: Vec<LNode>,
    pub outs: Vec<Ref>,
}

/// The lowering of `node`, or None when its operator is not one that is lowered (the caller
/// then parses it as a single operator). Errors name the node.
pub fn lower(node: &RawNode, opset: i64, inputs: &[InputInfo<'_>]) -> Result<Option<Lowered>> {
    let mut b = Builder {
        node,
        opset,
        inputs,
        nodes: Vec::new(),
    };
    let outs = if node.domain == "ai.onnx.ml" {
        match node.op_type.as_str() {
            "TreeEnsembleClassifier" | "TreeEnsembleRegressor" => ml::tree_ensemble(&mut b)?,
            "LinearClassifier" => ml::linear_classifier(&mut b)?,
            "LinearRegressor" => ml::linear_regressor(&mut b)?,
            "Normalizer" => ml::normalizer(&mut b)?,
            "Scaler" => ml::scaler(&mut b)?,
            "ZipMap" => ml::zip_map(&mut b)?,
            _ => return Ok(None),
        }
    } else if node.domain.is_empty() || node.domain == "ai.onnx" {
        match node.op_type.as_str() {
            "LSTM" => rec::lstm(&mut b)?,
            "GRU" => rec::gru(&mut b)?,
            "RNN" => rec::rnn(&mut b)?,
            "TopK" => array::top_k(&mut b)?,
            _ => match default_domain(&mut b)? {
                Some(out) => vec![out],
                None => return Ok(None),
            },
        }
    } else {
        return Ok(None);
    };
    Ok(Some(Lowered {
        nodes: b.nodes,
        outs,
    }))
}

/// The lowering of a default-domain node, or None when it is not lowered.
fn default_domain(b: &mut Builder<'_>) -> Result<Option<Ref>> {
    let one_d = nn::is_window_of_rank(b.node, b.inputs, 3);
    let three_d = nn::is_window_of_rank(b.node, b.inputs, 5);
    let out = match b.node.op_type.as_str() {
        _ if one_d => nn::one_d(b)?,
        _ if three_d => nn::three_d(b)?,
        "HardSigmoid" => nn::hard_sigmoid(b)?,
        "HardSwish" => nn::hard_swish(b)?,
        "Elu" => nn::elu(b)?,
        "Selu" => nn::selu(b)?,
        "Celu" => nn::celu(b)?,
        "Softplus" => nn::softplus(b)?,
        "Softsign" => nn::softsign(b)?,
        "Mish" => nn::mish(b)?,
        "Gelu" => nn::gelu(b)?,
        "PRelu" => nn::prelu(b)?,
        "ThresholdedRelu" => nn::thresholded_relu(b)?,
        "LayerNormalization" => nn::layer_normalization(b)?,
        "LogSoftmax" => nn::log_softmax(b)?,
        "ConvTranspose" => nn::conv_transpose(b)?,
        "LpPool" => nn::lp_pool(b)?,
        "GlobalLpPool" => nn::global_lp_pool(b)?,
        "GlobalMaxPool" => nn::global_max_pool(b)?,
        "InstanceNormalization" => nn::instance_normalization(b)?,
        "GroupNormalization" => nn::group_normalization(b)?,
        "Sum" => math::sum(b)?,
        "Mean" => math::mean(b)?,
        "Max" | "Min" if b.n_inputs() != 2 => math::max_min(b)?,
        "Pow" => math::pow(b)?,
        "Log" => math::log(b)?,
        "Sin" | "Cos" | "Tan" | "Asin" | "Acos" | "Atan" => math::trig(b)?,
        "Div" if b.is_integer(0) && b.is_integer(1) => math::integer_div(b)?,
        "Sign" => math::sign(b)?,
        "Floor" | "Ceil" => math::floor_ceil(b)?,
        "Round" => math::round(b)?,
        "Einsum" => math::einsum(b)?,
        "CumSum" => math::cum_sum(b)?,
        "Gemm" if math::gemm_needs_lowering(b)? => math::gemm(b)?,
        "MatMul" if b.constant(0).is_some() && b.constant(1).is_none() => {
            math::mat_mul_constant_lhs(b)?
        }
        "MatMul"
            if b.constant(0).is_none()
                && b.constant(1).is_some_and(|w| w.tensor.shape.len() == 2)
                && b.shape(&Ref::In(0)).len() == 4 =>
        {
            math::mat_mul_rank4_by_constant(b)?
        }
        "And" => logic::and(b)?,
        "Or" => logic::or(b)?,
        "Xor" => logic::xor(b)?,
        "GreaterOrEqual" | "LessOrEqual" => logic::or_equal(b)?,
        "ReduceL1" => reduce::reduce_l1(b)?,
        "ReduceL2" => reduce::reduce_l2(b)?,
        "ReduceSumSquare" => reduce::reduce_sum_square(b)?,
        "ReduceLogSumExp" => reduce::reduce_log_sum_exp(b)?,
        "Expand" => array::expand(b)?,
        "Trilu" => array::trilu(b)?,
        "Resize" | "Upsample" => array::resize(b)?,
        "Pad" if b.string("mode", "constant")? != "constant" => array::pad(b)?,
        "DepthToSpace" | "SpaceToDepth" => array::depth_space(b)?,
        "OneHot" => array::one_hot(b)?,
        "GatherND" => array::gather_nd(b)?,
        "ScatterND" => array::scatter_nd(b)?,
        "ScatterElements" | "Scatter" => array::scatter_elements(b)?,
        _ => return Ok(None),
    };
    Ok(Some(out))
}

/// What a lowering function works with: the node's attributes and inputs, and the operators it
/// has emitted so far.
pub(crate) struct Builder<'a> {
    node: &'a RawNode,
    opset: i64,
    inputs: &'a [InputInfo<'a>],
    nodes: Vec<LNode>,
}

impl Builder<'_> {
    fn err(&self, reason: impl Into<String>) -> ModelError {
        ModelError::node(&self.node.name, &self.node.op_type, reason)
    }
    fn unsupported(&self, reason: impl Into<String>) -> ModelError {
        ModelError::Unsupported {
            op_type: self.node.op_type.clone(),
            node: self.node.name.clone(),
            opset: self.opset,
            reason: reason.into(),
        }
    }
    fn float(&self, name: &str, default: f64) -> Result<f64> {
        let v = match self.node.attrs.get(name) {
            None => default,
            Some(Attr::Float(v)) => *v as f64,
            Some(Attr::Int(v)) => *v as f64,
            Some(_) => return Err(self.err(format!("attribute {name} must be a float"))),
        };
        if !v.is_finite() {
            return Err(self.err(format!("attribute {name} = {v} is not finite")));
        }
        Ok(v)
    }
    fn int(&self, name: &str, default: i64) -> Result<i64> {
        match self.node.attrs.get(name) {
            None => Ok(default),
            Some(Attr::Int(v)) => Ok(*v),
            Some(_) => Err(self.err(format!("attribute {name} must be an int"))),
        }
    }
    fn string(&self, name: &str, default: &str) -> Result<String> {
        match self.node.attrs.get(name) {
            None => Ok(default.to_string()),
            Some(Attr::Str(s)) => Ok(s.clone()),
            Some(_) => Err(self.err(format!("attribute {name} must be a string"))),
        }
    }
    fn n_inputs(&self) -> usize {
        self.inputs.len()
    }
    fn has(&self, i: usize) -> bool {
        !matches!(self.inputs.get(i), None | Some(InputInfo::Absent))
    }
    /// Input `i`, which must be present.
    fn input(&self, i: usize) -> Result<Ref> {
        if self.has(i) {
            Ok(Ref::In(i))
        } else {
            Err(self.err(format!("missing input #{i}")))
        }
    }
    /// Input `i`, a float tensor (the activations are defined on floats only).
    fn float_input(&self, i: usize) -> Result<Ref> {
        let r = self.input(i)?;
        match self.dtype(&r) {
            DType::Float => Ok(r),
            d => Err(self.unsupported(format!(
                "input #{i} is {d:?}; this operator is defined on float tensors"
            ))),
        }
    }
    /// Whether input `i` is present and an integer tensor.
    fn is_integer(&self, i: usize) -> bool {
        self.has(i) && self.dtype(&Ref::In(i)) == DType::Int
    }
    /// Input `i` when it is a compile-time constant.
    fn constant(&self, i: usize) -> Option<&Const> {
        match self.inputs.get(i) {
            Some(InputInfo::Const(c)) => Some(c),
            _ => None,
        }
    }
    fn shape(&self, r: &Ref) -> Vec<usize> {
        match r {
            Ref::In(i) => self
                .inputs
                .get(*i)
                .and_then(|x| x.shape())
                .map(<[usize]>::to_vec)
                .unwrap_or_default(),
            Ref::Node(j) => self.nodes[*j].shape.clone(),
            Ref::Const(c) => c.tensor.shape.clone(),
        }
    }
    fn dtype(&self, r: &Ref) -> DType {
        match r {
            Ref::In(i) => match self.inputs.get(*i) {
                Some(InputInfo::Const(c)) => c.dtype,
                Some(InputInfo::Dyn { dtype, .. }) => *dtype,
                _ => DType::Float,
            },
            Ref::Node(j) => self.nodes[*j].dtype,
            Ref::Const(c) => c.dtype,
        }
    }

    /// Appends one operator and returns its value.
    fn push(
        &mut self,
        part: &str,
        op: Op,
        inputs: Vec<Ref>,
        shape: Vec<usize>,
        dtype: DType,
    ) -> Ref {
        self.nodes.push(LNode {
            part: part.to_string(),
            op,
            inputs,
            shape,
            dtype,
        });
        Ref::Node(self.nodes.len() - 1)
    }
    /// An elementwise operator of one operand, its shape and element type kept.
    fn unary(&mut self, part: &str, op: Op, x: &Ref) -> Ref {
        let (shape, dtype) = (self.shape(x), self.dtype(x));
        self.push(part, op, vec![x.clone()], shape, dtype)
    }
    fn relu(&mut self, part: &str, x: &Ref) -> Ref {
        self.unary(part, Op::Unary(crate::ops::UnaryKind::Relu), x)
    }
    /// `f(x)` as a piecewise cubic (a float whatever `x` is).
    fn smooth(&mut self, part: &str, f: SmoothFn, x: &Ref) -> Ref {
        let shape = self.shape(x);
        self.push(part, Op::Smooth(f), vec![x.clone()], shape, DType::Float)
    }
    /// A binary operator with numpy broadcasting; a float when either operand is one.
    fn binary(&mut self, part: &str, kind: BinaryKind, a: &Ref, b: &Ref) -> Result<Ref> {
        let dtype = if self.dtype(a) == DType::Float || self.dtype(b) == DType::Float {
            DType::Float
        } else {
            DType::Int
        };
        self.binary_as(part, kind, a, b, dtype)
    }
    /// [`Self::binary`] with the result's element type given (a Bool for logic on 0/1 values).
    fn binary_as(
        &mut self,
        part: &str,
        kind: BinaryKind,
        a: &Ref,
        b: &Ref,
        dtype: DType,
    ) -> Result<Ref> {
        let (sa, sb) = (self.shape(a), self.shape(b));
        let shape = broadcast_shape(&sa, &sb)
            .ok_or_else(|| self.err(format!("shapes {sa:?} and {sb:?} do not broadcast")))?;
        Ok(self.push(
            part,
            Op::Binary(kind),
            vec![a.clone(), b.clone()],
            shape,
            dtype,
        ))
    }
    /// `Cast(x)` to `to`, its shape kept.
    fn cast(&mut self, part: &str, x: &Ref, to: DType) -> Ref {
        let shape = self.shape(x);
        self.push(part, Op::Cast { to }, vec![x.clone()], shape, to)
    }
    fn compare(&mut self, part: &str, kind: CompareKind, a: &Ref, b: &Ref) -> Result<Ref> {
        let (sa, sb) = (self.shape(a), self.shape(b));
        let shape = broadcast_shape(&sa, &sb)
            .ok_or_else(|| self.err(format!("shapes {sa:?} and {sb:?} do not broadcast")))?;
        Ok(self.push(
            part,
            Op::Compare(kind),
            vec![a.clone(), b.clone()],
            shape,
            DType::Bool,
        ))
    }
    /// `x` viewed with a new shape of the same size (its element type kept).
    fn reshape(&mut self, part: &str, x: &Ref, shape: Vec<usize>) -> Ref {
        let dtype = self.dtype(x);
        self.push(
            part,
            Op::Reshape {
                shape: shape.clone(),
            },
            vec![x.clone()],
            shape,
            dtype,
        )
    }
    /// `ReduceSum(x)` over `axes`, the reduced axes kept as 1s when `keepdims`.
    fn reduce_sum(&mut self, part: &str, x: &Ref, axes: Vec<usize>, keepdims: bool) -> Ref {
        let (shape, dtype) = (self.shape(x), self.dtype(x));
        let out = (0..shape.len())
            .filter_map(|a| match axes.contains(&a) {
                false => Some(shape[a]),
                true => keepdims.then_some(1),
            })
            .collect();
        self.push(
            part,
            Op::ReduceSum { axes, keepdims },
            vec![x.clone()],
            out,
            dtype,
        )
    }
    /// `Gather(data, indices)` along `axis` (ONNX's: a negative index counts from the end, one
    /// out of range is refused at run time).
    fn gather(&mut self, part: &str, data: &Ref, indices: &Ref, axis: usize) -> Ref {
        let (ds, is) = (self.shape(data), self.shape(indices));
        let shape = [&ds[..axis], &is[..], &ds[axis + 1..]].concat();
        let dtype = self.dtype(data);
        self.push(
            part,
            Op::Gather { axis },
            vec![data.clone(), indices.clone()],
            shape,
            dtype,
        )
    }
    /// `x · alpha + beta` in one rounding (an Affine with the same factor for every channel)
    /// when `x` has a channel axis (rank >= 2), else as Mul then Add.
    fn affine(&mut self, part: &str, x: &Ref, alpha: f64, beta: f64) -> Result<Ref> {
        let shape = self.shape(x);
        if shape.len() >= 2 && shape[1] > 0 {
            let c = shape[1];
            return Ok(self.unary(
                part,
                Op::Affine {
                    mul: vec![alpha; c],
                    add: vec![beta; c],
                },
                x,
            ));
        }
        let m = self.binary(&format!("{part}_mul"), BinaryKind::Mul, x, &scalar(alpha))?;
        self.binary(part, BinaryKind::Add, &m, &scalar(beta))
    }
}

/// An integer constant.
fn int_const(tensor: Tensor<f64>) -> Ref {
    Ref::Const(Const {
        dtype: DType::Int,
        tensor,
    })
}

/// `0, 1, ..., n − 1` as an integer constant of `shape` (whose size is `n`).
fn int_range(shape: Vec<usize>) -> Ref {
    let n: usize = shape.iter().product();
    int_const(Tensor::new(shape, (0..n).map(|v| v as f64).collect()))
}

/// A float scalar constant (broadcasts against any shape).
fn scalar(v: f64) -> Ref {
    Ref::Const(Const {
        dtype: DType::Float,
        tensor: Tensor::scalar(v),
    })
}

/// The single value of a constant whose elements are all equal (a scalar in effect).
fn uniform(c: &Const) -> Option<f64> {
    let first = *c.tensor.data.first()?;
    c.tensor.data.iter().all(|&v| v == first).then_some(first)
}
