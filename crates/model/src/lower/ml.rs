//! ml (ai.onnx.ml), as skl2onnx writes scikit-learn models: the linear models (a Gemm, the
//! post transform, ArgMax for the label), Normalizer, Scaler (one Affine), ZipMap (the
//! probabilities tensor itself), and tree ensembles compiled into the matrix form of a forest
//! (as hummingbird's GEMM strategy): every branch condition of every tree is evaluated at once,
//! a leaf is reached exactly when all the conditions on its root path go its way, and the
//! reached leaves' weights are summed by a matrix product.
//!
//! For an input `x [N, F]`, `m` branch nodes and `l` leaves over all trees:
//! - `f = Gather(x, feature of each branch, axis 1)` `[N, m]`;
//! - `c = cond(f, thresholds)`, the branch mode's comparison (`BRANCH_LEQ`: `Not(Greater)`,
//!   `BRANCH_LT`: `Less`, `BRANCH_GTE`: `Not(Less)`, `BRANCH_GT`: `Greater`, `BRANCH_EQ`:
//!   `Equal`, `BRANCH_NEQ`: `Not(Equal)`), as 0/1;
//! - `d = Gemm(Cast(c), P, −t)` `[N, l]`, `P[i, j]` = +1 when leaf `j`'s path takes branch `i`'s
//!   true side, −1 its false side, 0 off the path, `t[j]` the true sides on the path: `d[j] = 0`
//!   exactly when leaf `j` is reached (else it is negative);
//! - `s = Gemm(Cast(Equal(d, 0)), V, base_values)`, `V[j, k]` the weight of leaf `j` for class
//!   or target `k` (divided by the number of trees for `aggregate_function = AVERAGE`);
//! - the post transform (`SOFTMAX`: Softmax, `LOGISTIC`: Sigmoid, `NONE`), and for a classifier
//!   the label `ArgMax(s)` (through `Gather(classlabels_int64s, ·)` unless the labels are
//!   `0..E`).
//!
//! Everything up to the leaf weights is exact (comparisons of the quantised input with the
//! thresholds quantised at the finer of the two scales, integer path sums); the sum of leaf
//! weights rounds as a Gemm does.

use std::collections::HashMap;

use super::{scalar, Builder, Ref};
use crate::error::Result;
use crate::onnx::{Attr, Const, DType};
use crate::ops::{CompareKind, Op, UnaryKind};
use crate::tensor::Tensor;

/// The largest dense path matrix (branches × leaves) compiled; a larger forest is refused.
pub const MAX_PATH_MATRIX: usize = 1 << 24;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Leq,
    Lt,
    Gte,
    Gt,
    Eq,
    Neq,
    Leaf,
}

impl Builder<'_> {
    fn ml_ints(&self, name: &str) -> Result<Vec<i64>> {
        match self.node.attrs.get(name) {
            None => Ok(Vec::new()),
            Some(Attr::Ints(v)) => Ok(v.clone()),
            Some(_) => Err(self.err(format!("attribute {name} must be ints"))),
        }
    }
    /// A float list, or its `{name}_as_tensor` form (ai.onnx.ml opset 3).
    fn ml_floats(&self, name: &str) -> Result<Vec<f64>> {
        match (
            self.node.attrs.get(name),
            self.node.attrs.get(&format!("{name}_as_tensor")),
        ) {
            (Some(Attr::Floats(v)), _) => Ok(v.iter().map(|&x| x as f64).collect()),
            (None, Some(Attr::Tensor(c))) => Ok(c.tensor.data.clone()),
            (None, None) => Ok(Vec::new()),
            _ => Err(self.err(format!("attribute {name} must be floats"))),
        }
    }
    fn ml_strings(&self, name: &str) -> Result<Vec<String>> {
        match self.node.attrs.get(name) {
            None => Ok(Vec::new()),
            Some(Attr::Strs(v)) => Ok(v.clone()),
            Some(_) => Err(self.err(format!("attribute {name} must be strings"))),
        }
    }
}

/// `TreeEnsembleClassifier` (outputs: label, scores) or `TreeEnsembleRegressor` (output: Y).
pub fn tree_ensemble(b: &mut Builder<'_>) -> Result<Vec<Ref>> {
    let classifier = b.node.op_type == "TreeEnsembleClassifier";
    let x = b.input(0)?;
    let xs = b.shape(&x);
    if xs.len() != 2 {
        return Err(b.unsupported(format!("input of shape {xs:?}; [N, features] expected")));
    }
    let tree = b.ml_ints("nodes_treeids")?;
    let id = b.ml_ints("nodes_nodeids")?;
    let feature = b.ml_ints("nodes_featureids")?;
    let value = b.ml_floats("nodes_values")?;
    let yes = b.ml_ints("nodes_truenodeids")?;
    let no = b.ml_ints("nodes_falsenodeids")?;
    let modes = b
        .ml_strings("nodes_modes")?
        .iter()
        .map(|m| match m.as_str() {
            "BRANCH_LEQ" => Ok(Mode::Leq),
            "BRANCH_LT" => Ok(Mode::Lt),
            "BRANCH_GTE" => Ok(Mode::Gte),
            "BRANCH_GT" => Ok(Mode::Gt),
            "BRANCH_EQ" => Ok(Mode::Eq),
            "BRANCH_NEQ" => Ok(Mode::Neq),
            "LEAF" => Ok(Mode::Leaf),
            other => Err(b.err(format!("node mode {other:?}"))),
        })
        .collect::<Result<Vec<_>>>()?;
    let n = tree.len();
    if n == 0
        || [
            id.len(),
            feature.len(),
            value.len(),
            yes.len(),
            no.len(),
            modes.len(),
        ]
        .iter()
        .any(|&k| k != n)
    {
        return Err(b.err("the nodes_* attributes are missing or of different lengths"));
    }
    let prefix = if classifier { "class" } else { "target" };
    let w_tree = b.ml_ints(&format!("{prefix}_treeids"))?;
    let w_node = b.ml_ints(&format!("{prefix}_nodeids"))?;
    let w_out = b.ml_ints(&format!("{prefix}_ids"))?;
    let w_val = b.ml_floats(&format!("{prefix}_weights"))?;
    if [w_node.len(), w_out.len(), w_val.len()]
        .iter()
        .any(|&k| k != w_tree.len())
    {
        return Err(b.err(format!(
            "the {prefix}_* attributes are of different lengths"
        )));
    }
    let labels = b.ml_ints("classlabels_int64s")?;
    let outputs = if classifier {
        if labels.is_empty() && !b.ml_strings("classlabels_strings")?.is_empty() {
            return Err(b.unsupported(
                "string class labels (a label must be an integer tensor of the trace; train on integer labels)",
            ));
        }
        labels.len()
    } else {
        b.int("n_targets", 1)?.max(1) as usize
    };
    if outputs == 0 {
        return Err(b.err("no class labels"));
    }
    if classifier && outputs == 2 {
        // onnxruntime scores two classes by its own rules (one score column, p > 0.5, [1 − p, p])
        return Err(b.unsupported(
            "a two-class tree ensemble (onnxruntime's binary scoring rules are not compiled)",
        ));
    }
    let aggregate = b.string("aggregate_function", "SUM")?;
    if aggregate != "SUM" && aggregate != "AVERAGE" {
        return Err(b.unsupported(format!(
            "aggregate_function {aggregate} (SUM and AVERAGE only)"
        )));
    }

    // node index by (tree, id); each branch's children; each leaf's path
    let index: HashMap<(i64, i64), usize> = (0..n).map(|k| ((tree[k], id[k]), k)).collect();
    if index.len() != n {
        return Err(b.err("two nodes share a (tree, node) id"));
    }
    let mut parent: Vec<Option<(usize, bool)>> = vec![None; n];
    let branch_mode = modes.iter().copied().find(|&m| m != Mode::Leaf);
    for k in 0..n {
        if modes[k] == Mode::Leaf {
            continue;
        }
        if Some(modes[k]) != branch_mode {
            return Err(b.unsupported("branch nodes of different modes in one ensemble"));
        }
        if feature[k] < 0 || feature[k] as usize >= xs[1] {
            return Err(b.err(format!(
                "node {} reads feature {} of {}",
                id[k], feature[k], xs[1]
            )));
        }
        for (child, side) in [(yes[k], true), (no[k], false)] {
            let c = *index
                .get(&(tree[k], child))
                .ok_or_else(|| b.err(format!("tree {} has no node {child}", tree[k])))?;
            if parent[c].replace((k, side)).is_some() {
                return Err(b.err(format!("node {child} of tree {} has two parents", tree[k])));
            }
        }
    }
    // every tree has exactly one root: a node without a parent that is not its tree's root
    // would be a leaf reached whatever the input
    let mut roots: HashMap<i64, usize> = HashMap::new();
    for k in (0..n).filter(|&k| parent[k].is_none()) {
        if roots.insert(tree[k], k).is_some() {
            return Err(b.err(format!(
                "tree {} has more than one root (a node no branch leads to)",
                tree[k]
            )));
        }
    }
    let branches: Vec<usize> = (0..n).filter(|&k| modes[k] != Mode::Leaf).collect();
    let leaves: Vec<usize> = (0..n).filter(|&k| modes[k] == Mode::Leaf).collect();
    let (m, l) = (branches.len(), leaves.len());
    if m.checked_mul(l).is_none_or(|s| s > MAX_PATH_MATRIX) {
        return Err(b.unsupported(format!(
            "{m} branches x {l} leaves exceed the dense path matrix's {MAX_PATH_MATRIX} entries"
        )));
    }
    let branch_pos: HashMap<usize, usize> =
        branches.iter().enumerate().map(|(i, &k)| (k, i)).collect();
    let leaf_pos: HashMap<usize, usize> = leaves.iter().enumerate().map(|(j, &k)| (k, j)).collect();
    let mut path = vec![0.0; m * l];
    let mut true_sides = vec![0.0; l];
    for (j, &leaf) in leaves.iter().enumerate() {
        let mut at = leaf;
        let mut steps = 0;
        while let Some((p, side)) = parent[at] {
            path[branch_pos[&p] * l + j] = if side { 1.0 } else { -1.0 };
            true_sides[j] += side as u8 as f64;
            at = p;
            steps += 1;
            if steps > n {
                return Err(b.err(format!("tree {} has a cycle", tree[leaf])));
            }
        }
    }
    let trees = {
        let mut t = tree.clone();
        t.sort_unstable();
        t.dedup();
        t.len()
    };
    let per_tree = if aggregate == "AVERAGE" {
        1.0 / trees as f64
    } else {
        1.0
    };
    let mut weights = vec![0.0; l * outputs];
    for k in 0..w_tree.len() {
        let node = *index.get(&(w_tree[k], w_node[k])).ok_or_else(|| {
            b.err(format!(
                "a weight names node {} of tree {}, which does not exist",
                w_node[k], w_tree[k]
            ))
        })?;
        let j = *leaf_pos.get(&node).ok_or_else(|| {
            b.err(format!(
                "a weight names node {} of tree {}, which is not a leaf",
                w_node[k], w_tree[k]
            ))
        })?;
        let o = usize::try_from(w_out[k])
            .ok()
            .filter(|&o| o < outputs)
            .ok_or_else(|| b.err(format!("a weight names output {} of {outputs}", w_out[k])))?;
        weights[j * outputs + o] += w_val[k] * per_tree;
    }
    let mut base = b.ml_floats("base_values")?;
    if base.is_empty() {
        base = vec![0.0; outputs];
    } else if base.len() != outputs {
        return Err(b.err(format!("{} base values for {outputs} outputs", base.len())));
    }

    // the ops
    let rows = xs[0];
    let feats = b.push(
        "features",
        Op::Gather { axis: 1 },
        vec![
            x,
            Ref::Const(Const {
                dtype: DType::Int,
                tensor: Tensor::new(
                    vec![m],
                    branches.iter().map(|&k| feature[k] as f64).collect(),
                ),
            }),
        ],
        vec![rows, m],
        DType::Float,
    );
    let thresholds = Ref::Const(Const {
        dtype: DType::Float,
        tensor: Tensor::new(vec![m], branches.iter().map(|&k| value[k]).collect()),
    });
    let (kind, negate) = match branch_mode.unwrap_or(Mode::Leq) {
        Mode::Leq => (CompareKind::Greater, true),
        Mode::Lt => (CompareKind::Less, false),
        Mode::Gte => (CompareKind::Less, true),
        Mode::Gt => (CompareKind::Greater, false),
        Mode::Eq => (CompareKind::Equal, false),
        Mode::Neq | Mode::Leaf => (CompareKind::Equal, true),
    };
    let mut cond = b.compare("compare", kind, &feats, &thresholds)?;
    if negate {
        cond = b.unary("condition", Op::Not, &cond);
    }
    let cond = b.cast("condition_float", &cond, DType::Float);
    let paths = b.push(
        "paths",
        Op::Gemm {
            weight: Tensor::new(vec![m, l], path),
            bias: true_sides.iter().map(|t| -t).collect(),
        },
        vec![cond],
        vec![rows, l],
        DType::Float,
    );
    let zero = Ref::Const(Const {
        dtype: DType::Float,
        tensor: Tensor::scalar(0.0),
    });
    let reached = b.compare("reached", CompareKind::Equal, &paths, &zero)?;
    let reached = b.cast("reached_float", &reached, DType::Float);
    let mut scores = b.push(
        "leaf_sum",
        Op::Gemm {
            weight: Tensor::new(vec![l, outputs], weights),
            bias: base,
        },
        vec![reached],
        vec![rows, outputs],
        DType::Float,
    );
    let raw = scores.clone();
    scores = post_transform(b, scores, classifier)?;
    if !classifier {
        return Ok(vec![scores]);
    }
    // the label is the arg-max of the raw scores, as onnxruntime takes it (a saturating
    // Sigmoid could tie what the raw scores order)
    let label = label(b, &raw, &labels);
    Ok(vec![label, scores])
}

/// The coefficients and intercepts of a linear model, as a Gemm: `coefficients` holds
/// `outputs` rows of `features` values.
fn linear_scores(b: &mut Builder<'_>, x: Ref, outputs: usize) -> Result<Ref> {
    let xs = b.shape(&x);
    if xs.len() != 2 {
        return Err(b.unsupported(format!("input of shape {xs:?}; [N, features] expected")));
    }
    let (rows, features) = (xs[0], xs[1]);
    let coef = b.ml_floats("coefficients")?;
    if outputs == 0 || coef.len() != outputs * features {
        return Err(b.err(format!(
            "{} coefficients for {outputs} outputs of {features} features",
            coef.len()
        )));
    }
    let mut bias = b.ml_floats("intercepts")?;
    if bias.is_empty() {
        bias = vec![0.0; outputs];
    } else if bias.len() != outputs {
        return Err(b.err(format!("{} intercepts for {outputs} outputs", bias.len())));
    }
    // weight [features, outputs]: the transpose of the coefficient rows
    let weight = Tensor::new(vec![outputs, features], coef).transpose(&[1, 0]);
    Ok(b.push(
        "scores",
        Op::Gemm { weight, bias },
        vec![x],
        vec![rows, outputs],
        DType::Float,
    ))
}

/// The label of a classifier's scores: `ArgMax`, through a `Gather` of the int64 labels unless
/// they are `0..E`.
fn label(b: &mut Builder<'_>, scores: &Ref, labels: &[i64]) -> Ref {
    let rows = b.shape(scores)[0];
    let arg = b.push(
        "argmax",
        Op::ArgMax {
            axis: 1,
            keepdims: false,
            select_last: false,
        },
        vec![scores.clone()],
        vec![rows],
        DType::Int,
    );
    if labels.iter().enumerate().all(|(i, &v)| v == i as i64) {
        return arg;
    }
    b.push(
        "label",
        Op::Gather { axis: 0 },
        vec![
            Ref::Const(Const {
                dtype: DType::Int,
                tensor: Tensor::new(
                    vec![labels.len()],
                    labels.iter().map(|&v| v as f64).collect(),
                ),
            }),
            arg,
        ],
        vec![rows],
        DType::Int,
    )
}

/// `NONE`, `LOGISTIC` (Sigmoid) or `SOFTMAX` (over the classes) on a score tensor.
fn post_transform(b: &mut Builder<'_>, scores: Ref, softmax_allowed: bool) -> Result<Ref> {
    let post = b.string("post_transform", "NONE")?;
    Ok(match post.as_str() {
        "NONE" => scores,
        "SOFTMAX" if softmax_allowed => b.unary(
            "softmax",
            Op::Softmax {
                axis: 1,
                legacy: false,
            },
            &scores,
        ),
        "LOGISTIC" => b.unary("logistic", Op::Unary(UnaryKind::Sigmoid), &scores),
        other => return Err(b.unsupported(format!("post_transform {other}"))),
    })
}

/// `LinearRegressor`: `Y = x · coefficientsᵀ + intercepts` (`targets` rows).
pub fn linear_regressor(b: &mut Builder<'_>) -> Result<Vec<Ref>> {
    let x = b.input(0)?;
    let targets = b.int("targets", 1)?.max(1) as usize;
    let s = linear_scores(b, x, targets)?;
    Ok(vec![post_transform(b, s, false)?])
}

/// `LinearClassifier`: scores `x · coefficientsᵀ + intercepts` (one row per class), the post
/// transform, and the label. Outputs: label, scores.
pub fn linear_classifier(b: &mut Builder<'_>) -> Result<Vec<Ref>> {
    let x = b.input(0)?;
    let labels = b.ml_ints("classlabels_ints")?;
    if labels.is_empty() {
        return Err(b.unsupported(
            "string or missing class labels (a label must be an integer tensor of the trace)",
        ));
    }
    let features = b.shape(&x).get(1).copied().unwrap_or(0);
    let rows = b.ml_floats("coefficients")?.len() / features.max(1);
    if rows != labels.len() {
        return Err(b.unsupported(format!(
            "{rows} score rows for {} classes (ONNX's binary special case); export one row per class",
            labels.len()
        )));
    }
    let raw = linear_scores(b, x, rows)?;
    let s = post_transform(b, raw.clone(), true)?;
    let l = label(b, &raw, &labels);
    Ok(vec![l, s])
}

/// `Normalizer` over the features (axis 1): `L1` divides by `Σ|x|`, `L2` by `√Σx²`.
pub fn normalizer(b: &mut Builder<'_>) -> Result<Vec<Ref>> {
    let x = b.input(0)?;
    let xs = b.shape(&x);
    if xs.len() != 2 {
        return Err(b.unsupported(format!("input of shape {xs:?}; [N, features] expected")));
    }
    let norm = b.string("norm", "MAX")?;
    let sum_shape = vec![xs[0], 1];
    let reduce = |b: &mut Builder<'_>, part: &str, v: &Ref| {
        b.push(
            part,
            Op::ReduceSum {
                axes: vec![1],
                keepdims: true,
            },
            vec![v.clone()],
            sum_shape.clone(),
            DType::Float,
        )
    };
    let d = match norm.as_str() {
        "L1" => {
            let a = b.unary("abs", Op::Unary(UnaryKind::Abs), &x);
            reduce(b, "sum", &a)
        }
        "L2" => {
            let sq = b.binary("square", crate::ops::BinaryKind::Mul, &x, &x)?;
            let s = reduce(b, "sum", &sq);
            b.unary("sqrt", Op::Unary(UnaryKind::Sqrt), &s)
        }
        other => return Err(b.unsupported(format!("norm {other} (L1 and L2 only)"))),
    };
    // onnxruntime leaves a row whose norm is 0 as it is (all zeros): divide that row by 1
    let zero = b.compare("is_zero", CompareKind::Equal, &d, &scalar(0.0))?;
    let divisor = b.push(
        "divisor",
        Op::Where,
        vec![zero, scalar(1.0), d],
        sum_shape.clone(),
        DType::Float,
    );
    Ok(vec![b.binary(
        "div",
        crate::ops::BinaryKind::Div,
        &x,
        &divisor,
    )?])
}

/// `Scaler`: `y = (x − offset) · scale` per feature (axis 1), one Affine (one rounding).
pub fn scaler(b: &mut Builder<'_>) -> Result<Vec<Ref>> {
    let x = b.input(0)?;
    let xs = b.shape(&x);
    if xs.len() != 2 {
        return Err(b.unsupported(format!("input of shape {xs:?}; [N, features] expected")));
    }
    let f = xs[1];
    let widen = |v: Vec<f64>, default: f64| -> Option<Vec<f64>> {
        match v.len() {
            0 => Some(vec![default; f]),
            1 => Some(vec![v[0]; f]),
            n if n == f => Some(v),
            _ => None,
        }
    };
    let offset =
        widen(b.ml_floats("offset")?, 0.0).ok_or_else(|| b.err("offset of the wrong length"))?;
    let scale =
        widen(b.ml_floats("scale")?, 1.0).ok_or_else(|| b.err("scale of the wrong length"))?;
    let add = offset.iter().zip(&scale).map(|(o, s)| -o * s).collect();
    let shape = b.shape(&x);
    Ok(vec![b.push(
        "scale",
        Op::Affine { mul: scale, add },
        vec![x],
        shape,
        DType::Float,
    )])
}

/// `ZipMap` (a sequence of maps from label to probability): the probabilities tensor itself,
/// its columns in label order; what a caller reads is the same values.
pub fn zip_map(b: &mut Builder<'_>) -> Result<Vec<Ref>> {
    Ok(vec![b.input(0)?])
}
