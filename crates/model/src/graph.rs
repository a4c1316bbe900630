//! From a raw ONNX graph to the linear program zkopml executes: constants folded (including
//! shape-only subgraphs), BatchNormalization folded into the preceding Conv, dead nodes removed,
//! and the remaining operators in one fixed topological order, op 1..n, where op i writes slot i
//! and may read any earlier slot (slot 0 is the model input).

use std::collections::{HashMap, HashSet};
use std::path::Path;

use crate::error::{ModelError, Result};
use crate::fold;
use crate::lower;
use crate::onnx::{Const, DType, RawInput, RawModel, RawNode};
use crate::ops::{self, BinaryKind, InputInfo, Op};
use crate::program::InputPart;
use crate::tensor::Tensor;

#[derive(Clone, Debug, PartialEq)]
pub enum Operand {
    Slot(usize),
    Const(Const),
}

#[derive(Clone, Debug)]
pub struct Node {
    pub name: String,
    /// The ONNX operator(s) this node stands for, e.g. "Conv" or "Conv+BatchNormalization".
    pub onnx_op: String,
    pub op: Op,
    pub inputs: Vec<Operand>,
    pub shape: Vec<usize>,
    pub dtype: DType,
}

impl Node {
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }
    /// Multiply-accumulates of one execution (0 for ops without products).
    pub fn macs(&self) -> usize {
        match &self.op {
            Op::Conv { weight, .. } => self.numel() * weight.shape[1..].iter().product::<usize>(),
            Op::Gemm { weight, .. } => self.numel() * weight.shape[0],
            _ => 0,
        }
    }
    pub fn slots(&self) -> impl Iterator<Item = usize> + '_ {
        self.inputs.iter().filter_map(|o| match o {
            Operand::Slot(s) => Some(*s),
            _ => None,
        })
    }
}

/// One graph input of a model with several: slot 0 holds every input flattened, one after the
/// other in the ONNX order, and a Slice (then a Reshape when the input is not rank 1) at the
/// start of the program extracts this one. `slot` is that Slice's slot (None when no output
/// depends on the input).
#[derive(Clone, Debug, PartialEq)]
pub struct GraphInput {
    pub part: InputPart,
    pub slot: Option<usize>,
}

#[derive(Clone, Debug)]
pub struct Graph {
    pub opset: i64,
    pub input_name: String,
    /// Slot 0's shape: the input's, or `[total]` when the model has several inputs.
    pub input_shape: Vec<usize>,
    pub input_dtype: DType,
    /// The graph inputs when there are several (empty for one: slot 0 is the input itself).
    pub inputs: Vec<GraphInput>,
    /// `nodes[i - 1]` is op i and writes slot i.
    pub nodes: Vec<Node>,
    /// Slots of the graph outputs, in the ONNX order; the last op is always one of them and
    /// its tensor is the result a submitter posts.
    pub outputs: Vec<usize>,
    /// ONNX ops of the original graph, for the report: (op_type, count).
    pub onnx_op_counts: Vec<(String, usize)>,
}

impl Graph {
    pub fn from_path(path: &Path) -> Result<Graph> {
        Graph::from_raw(&RawModel::from_path(path)?)
    }

    pub fn n_ops(&self) -> usize {
        self.nodes.len()
    }

    /// Shape of a slot (0 = input, i = output of op i).
    pub fn slot_shape(&self, slot: usize) -> &[usize] {
        if slot == 0 {
            &self.input_shape
        } else {
            &self.nodes[slot - 1].shape
        }
    }

    pub fn slot_dtype(&self, slot: usize) -> DType {
        if slot == 0 {
            self.input_dtype
        } else {
            self.nodes[slot - 1].dtype
        }
    }

    pub fn output_shape(&self) -> &[usize] {
        self.slot_shape(self.n_ops())
    }

    pub fn parameter_count(&self) -> usize {
        self.nodes
            .iter()
            .map(|n| {
                let own = match &n.op {
                    Op::Conv { weight, bias, .. } | Op::Gemm { weight, bias } => {
                        weight.len() + bias.len()
                    }
                    Op::Affine { mul, add } => mul.len() + add.len(),
                    _ => 0,
                };
                own + n
                    .inputs
                    .iter()
                    .map(|o| {
                        if let Operand::Const(c) = o {
                            c.tensor.len()
                        } else {
                            0
                        }
                    })
                    .sum::<usize>()
            })
            .sum()
    }

    pub fn from_raw(raw: &RawModel) -> Result<Graph> {
        if raw.inputs.is_empty() {
            // valid ONNX (EZKL's `arange`), but its outputs are constants of the model file:
            // there is nothing to compute on request, so nothing to answer or dispute
            return Err(ModelError::Unsupported {
                op_type: "graph".into(),
                node: raw.outputs.join(", "),
                opset: raw.opset,
                reason: "the graph has no input: its outputs are constants, so there is no inference to request or dispute".into(),
            });
        }
        if raw.outputs.is_empty() {
            return Err(ModelError::Malformed("the graph has no output".into()));
        }
        let mut parts = Vec::with_capacity(raw.inputs.len());
        let mut offset = 0usize;
        for input in &raw.inputs {
            let shape = static_input_shape(input, raw.opset)?;
            let len: usize = shape.iter().product();
            parts.push(InputPart {
                name: input.name.clone(),
                shape,
                dtype: input.dtype,
                offset,
            });
            offset += len;
        }
        let several = parts.len() > 1;
        let (input_name, input_shape, input_dtype) = if several {
            let dtype = if parts.iter().any(|p| p.dtype == DType::Float) {
                DType::Float
            } else if parts.iter().any(|p| p.dtype == DType::Int) {
                DType::Int
            } else {
                DType::Bool
            };
            ("inputs".to_string(), vec![offset], dtype)
        } else {
            (
                parts[0].name.clone(),
                parts[0].shape.clone(),
                parts[0].dtype,
            )
        };

        #[derive(Clone)]
        enum Value {
            Const(Const),
            Slot(usize),
        }
        let mut values: HashMap<String, Value> = HashMap::new();
        for (k, v) in &raw.initializers {
            values.insert(k.clone(), Value::Const(v.clone()));
        }
        values.insert(String::new(), Value::Slot(usize::MAX)); // absent optional input marker

        let mut consumers: HashMap<&str, usize> = HashMap::new();
        for n in &raw.nodes {
            for i in &n.inputs {
                *consumers.entry(i.as_str()).or_default() += 1;
            }
        }
        for o in &raw.outputs {
            *consumers.entry(o.as_str()).or_default() += 1;
        }

        let mut counts: Vec<(String, usize)> = Vec::new();
        for n in &raw.nodes {
            match counts.iter_mut().find(|(k, _)| *k == n.op_type) {
                Some((_, c)) => *c += 1,
                None => counts.push((n.op_type.clone(), 1)),
            }
        }

        // slot 0 is the input; nodes[i-1] writes slot i (before dead-code removal)
        let mut nodes: Vec<Node> = Vec::new();
        let mut shapes: Vec<(Vec<usize>, DType)> = vec![(input_shape.clone(), input_dtype)];
        // per input: the slot of the Slice that reads it from slot 0
        let mut slice_slots: Vec<usize> = Vec::new();
        if several {
            // each input is a Slice of slot 0, then a Reshape to its own shape
            for part in &parts {
                let len: usize = part.shape.iter().product();
                shapes.push((vec![len], part.dtype));
                nodes.push(Node {
                    name: part.name.clone(),
                    onnx_op: "graph input".into(),
                    op: Op::Slice {
                        starts: vec![part.offset],
                        ends: vec![part.offset + len],
                        steps: vec![1],
                    },
                    inputs: vec![Operand::Slot(0)],
                    shape: vec![len],
                    dtype: part.dtype,
                });
                slice_slots.push(nodes.len());
                if part.shape != [len] {
                    shapes.push((part.shape.clone(), part.dtype));
                    nodes.push(Node {
                        name: format!("{}/reshape", part.name),
                        onnx_op: "graph input".into(),
                        op: Op::Reshape {
                            shape: part.shape.clone(),
                        },
                        inputs: vec![Operand::Slot(nodes.len())],
                        shape: part.shape.clone(),
                        dtype: part.dtype,
                    });
                }
                values.insert(part.name.clone(), Value::Slot(nodes.len()));
            }
        } else {
            values.insert(input_name.clone(), Value::Slot(0));
        }
        let mut pending: Vec<usize> = (0..raw.nodes.len()).collect();
        while !pending.is_empty() {
            let pos = pending
                .iter()
                .position(|&k| raw.nodes[k].inputs.iter().all(|i| values.contains_key(i)))
                .ok_or_else(|| {
                    let n = &raw.nodes[pending[0]];
                    let missing: Vec<&String> = n.inputs.iter().filter(|i| !values.contains_key(*i)).collect();
                    ModelError::Malformed(format!("node {:?} reads undefined value(s) {missing:?} (cycle or missing initializer)", n.name))
                })?;
            let k = pending.remove(pos);
            let node = &raw.nodes[k];
            let out_name = node.outputs.first().cloned().unwrap_or_default();

            // Compile-time folding (fold.rs): constants, shapes, Identity, inference Dropout,
            // and every folded operator whose inputs are all constants.
            if node.domain.is_empty() || node.domain == "ai.onnx" {
                let shape_of = |i: usize| -> Result<Vec<usize>> {
                    match node.inputs.get(i).map(|n| &values[n]) {
                        Some(Value::Const(c)) => Ok(c.tensor.shape.clone()),
                        Some(Value::Slot(s)) if *s != usize::MAX => Ok(shapes[*s].0.clone()),
                        _ => Err(ModelError::node(
                            &node.name,
                            &node.op_type,
                            format!("missing input #{i}"),
                        )),
                    }
                };
                let constant_in = |i: usize| -> Option<&Const> {
                    match node.inputs.get(i).map(|n| &values[n]) {
                        Some(Value::Const(c)) => Some(c),
                        _ => None,
                    }
                };
                let folded: Option<Vec<Value>> = match node.op_type.as_str() {
                    "Constant" => Some(vec![Value::Const(fold::constant(node)?)]),
                    "Shape" => Some(vec![Value::Const(fold::shape(node, &shape_of(0)?)?)]),
                    "Size" => Some(vec![Value::Const(fold::size(&shape_of(0)?))]),
                    "Identity" => {
                        shape_of(0)?;
                        Some(vec![values[&node.inputs[0]].clone()])
                    }
                    "Dropout" => {
                        let shape = shape_of(0)?;
                        let training = node
                            .inputs
                            .get(2)
                            .filter(|n| !n.is_empty())
                            .map(|_| constant_in(2));
                        let mask = fold::dropout_mask(node, raw.opset, training, &shape)?;
                        Some(vec![values[&node.inputs[0]].clone(), Value::Const(mask)])
                    }
                    op if fold::is_folded(op)
                        && node
                            .inputs
                            .iter()
                            .all(|n| n.is_empty() || matches!(values[n], Value::Const(_))) =>
                    {
                        let ins: Vec<Option<&Const>> =
                            (0..node.inputs.len()).map(constant_in).collect();
                        Some(
                            fold::eval(node, raw.opset, &ins)?
                                .into_iter()
                                .map(Value::Const)
                                .collect(),
                        )
                    }
                    _ => None,
                };
                if let Some(outs) = folded {
                    for (name, v) in node.outputs.iter().zip(outs) {
                        if !name.is_empty() {
                            values.insert(name.clone(), v);
                        }
                    }
                    if let Some(extra) = node
                        .outputs
                        .iter()
                        .skip(1)
                        .find(|o| !o.is_empty() && !values.contains_key(*o))
                    {
                        return Err(ModelError::node(
                            &node.name,
                            &node.op_type,
                            format!(
                                "has no output #{}: {extra:?}",
                                node.outputs.iter().position(|o| o == extra).unwrap_or(0)
                            ),
                        ));
                    }
                    continue;
                }
                let dynamic = |i: usize| {
                    node.inputs
                        .get(i)
                        .is_some_and(|n| matches!(values[n], Value::Slot(s) if s != usize::MAX))
                };
                if let Some(e) = fold::data_dependent(node, raw.opset, dynamic) {
                    return Err(e);
                }
            }
            let infos: Vec<InputInfo<'_>> = node
                .inputs
                .iter()
                .map(|i| match &values[i] {
                    Value::Const(c) => InputInfo::Const(c),
                    Value::Slot(usize::MAX) => InputInfo::Absent,
                    Value::Slot(s) => InputInfo::Dyn {
                        shape: &shapes[*s].0,
                        dtype: shapes[*s].1,
                    },
                })
                .collect();
            // Operators lowered into a sequence of existing ones (lower/): each lowered op is
            // a node of its own (calibrated and quantised as any other); one whose operands are
            // all constants is evaluated here.
            if let Some(low) = lower::lower(node, raw.opset, &infos)? {
                let mut made: Vec<Value> = Vec::with_capacity(low.nodes.len());
                let resolve = |r: &lower::Ref, made: &[Value]| -> Value {
                    match r {
                        lower::Ref::In(i) => values[&node.inputs[*i]].clone(),
                        lower::Ref::Node(j) => made[*j].clone(),
                        lower::Ref::Const(c) => Value::Const(c.clone()),
                    }
                };
                let out_node = match low.outs[0] {
                    lower::Ref::Node(j) => Some(j),
                    _ => None,
                };
                for (j, ln) in low.nodes.iter().enumerate() {
                    let ins: Vec<Value> = ln.inputs.iter().map(|r| resolve(r, &made)).collect();
                    if ins.iter().all(|v| matches!(v, Value::Const(_))) {
                        let ts: Vec<&Tensor<f64>> = ins
                            .iter()
                            .map(|v| match v {
                                Value::Const(c) => &c.tensor,
                                _ => unreachable!(),
                            })
                            .collect();
                        let t = ops::eval(&ln.op, &ts, &ln.shape);
                        made.push(Value::Const(Const {
                            dtype: ln.dtype,
                            tensor: t,
                        }));
                        continue;
                    }
                    let inputs = ins
                        .into_iter()
                        .map(|v| match v {
                            Value::Const(c) => Operand::Const(c),
                            Value::Slot(s) => Operand::Slot(s),
                        })
                        .collect();
                    let name = if out_node == Some(j) {
                        node.name.clone()
                    } else {
                        format!("{}/{}", node.name, ln.part)
                    };
                    shapes.push((ln.shape.clone(), ln.dtype));
                    nodes.push(Node {
                        name,
                        onnx_op: node.op_type.clone(),
                        op: ln.op.clone(),
                        inputs,
                        shape: ln.shape.clone(),
                        dtype: ln.dtype,
                    });
                    made.push(Value::Slot(nodes.len()));
                }
                let outs: Vec<Value> = low.outs.iter().map(|r| resolve(r, &made)).collect();
                for (name, v) in node.outputs.iter().zip(outs) {
                    if !name.is_empty() {
                        values.insert(name.clone(), v);
                    }
                }
                refuse_outputs_beyond(node, low.outs.len(), raw.opset, &consumers)?;
                continue;
            }
            let parsed = ops::parse(node, raw.opset, &infos)?;
            let operand_values: Vec<Value> = parsed
                .operands
                .iter()
                .map(|&i| values[&node.inputs[i]].clone())
                .collect();

            if operand_values.iter().all(|v| matches!(v, Value::Const(_))) {
                let ts: Vec<&Tensor<f64>> = operand_values
                    .iter()
                    .map(|v| match v {
                        Value::Const(c) => &c.tensor,
                        _ => unreachable!(),
                    })
                    .collect();
                let t = ops::eval(&parsed.op, &ts, &parsed.shape);
                values.insert(
                    out_name,
                    Value::Const(Const {
                        dtype: parsed.dtype,
                        tensor: t,
                    }),
                );
                continue;
            }
            // Whether `name` is the only way to read slot `s` and this node its one reader: no
            // other value name (an Identity, a Dropout) and no node already built (inside a
            // lowering: a classifier's label reads its scores) reads the slot. Folding into the
            // slot's producer changes what every reader sees.
            let sole_reader = |name: &str, s: usize, nodes: &[Node]| {
                s > 0
                    && s != usize::MAX
                    && consumers.get(name) == Some(&1)
                    && values
                        .values()
                        .filter(|v| matches!(v, Value::Slot(x) if *x == s))
                        .count()
                        == 1
                    && nodes[s..]
                        .iter()
                        .all(|n| !n.inputs.contains(&Operand::Slot(s)))
            };
            // BatchNormalization right after a Conv whose output nothing else reads: fold it.
            if let (Op::Affine { mul, add }, Value::Slot(s)) = (&parsed.op, &operand_values[0]) {
                if sole_reader(&node.inputs[0], *s, &nodes) {
                    if let Op::Conv { weight, bias, .. } = &mut nodes[*s - 1].op {
                        let per_oc = weight.len() / bias.len();
                        for (oc, b) in bias.iter_mut().enumerate() {
                            weight.data[oc * per_oc..(oc + 1) * per_oc]
                                .iter_mut()
                                .for_each(|w| *w *= mul[oc]);
                            *b = *b * mul[oc] + add[oc];
                        }
                        nodes[*s - 1].onnx_op = "Conv+BatchNormalization".into();
                        // its one reader is gone: the slot keeps one name
                        values.remove(&node.inputs[0]);
                        values.insert(out_name, Value::Slot(*s));
                        continue;
                    }
                }
            }
            // A bias added right after a Gemm (PyTorch exports Linear on rank 3 as MatMul, Add)
            // whose output nothing else reads: fold it into the Gemm's bias. One op and one
            // dispute step fewer per layer, and no circuit that bakes the bias per chunk.
            if let (Op::Binary(BinaryKind::Add), [a, b]) = (&parsed.op, &operand_values[..]) {
                let slot_and_bias = match (a, b) {
                    (Value::Slot(s), Value::Const(c)) => Some((0, *s, c)),
                    (Value::Const(c), Value::Slot(s)) => Some((1, *s, c)),
                    _ => None,
                };
                if let Some((k, s, c)) = slot_and_bias
                    .filter(|&(k, s, _)| sole_reader(&node.inputs[parsed.operands[k]], s, &nodes))
                {
                    let shape = nodes[s - 1].shape.clone();
                    if let Op::Gemm { bias, .. } = &mut nodes[s - 1].op {
                        let along_last = c.tensor.shape.iter().rev().skip(1).all(|&d| d == 1)
                            && c.tensor.len() == bias.len()
                            && c.tensor.shape.len() <= shape.len();
                        if along_last && parsed.shape == shape {
                            bias.iter_mut()
                                .zip(&c.tensor.data)
                                .for_each(|(b, c)| *b += c);
                            nodes[s - 1].onnx_op = format!("{}+Add", nodes[s - 1].onnx_op);
                            values.remove(&node.inputs[parsed.operands[k]]);
                            values.insert(out_name, Value::Slot(s));
                            continue;
                        }
                    }
                }
            }
            let inputs = operand_values
                .into_iter()
                .map(|v| match v {
                    Value::Const(c) => Operand::Const(c),
                    Value::Slot(s) => Operand::Slot(s),
                })
                .collect();
            let mut inputs: Vec<Operand> = inputs;
            // GlobalAveragePool over H×W becomes a ReduceSum over W (exact, same scale) and then
            // the average over H with divisor H·W: the same integers, but no single operator (so
            // no dispute step) reads more than one row of the input (docs/fixed-point.md).
            let gap_input = match (&parsed.op, infos.first()) {
                (Op::GlobalAveragePool { .. }, Some(InputInfo::Dyn { shape, dtype })) => {
                    Some((shape.to_vec(), *dtype))
                }
                _ => None,
            };
            if let Some((shape, dtype)) = gap_input {
                if shape[2] > 1 && shape[3] > 1 {
                    let rows = vec![shape[0], shape[1], shape[2], 1];
                    shapes.push((rows.clone(), dtype));
                    nodes.push(Node {
                        name: format!("{}/row_sums", node.name),
                        onnx_op: node.op_type.clone(),
                        op: Op::ReduceSum {
                            axes: vec![3],
                            keepdims: true,
                        },
                        inputs,
                        shape: rows,
                        dtype,
                    });
                    inputs = vec![Operand::Slot(nodes.len())];
                }
            }
            shapes.push((parsed.shape.clone(), parsed.dtype));
            nodes.push(Node {
                name: node.name.clone(),
                onnx_op: node.op_type.clone(),
                op: parsed.op,
                inputs,
                shape: parsed.shape,
                dtype: parsed.dtype,
            });
            values.insert(out_name, Value::Slot(nodes.len()));
            refuse_extra_outputs(node, raw.opset, &consumers)?;
        }

        let mut out_slots = Vec::new();
        for name in &raw.outputs {
            out_slots.push(match values.get(name) {
                Some(Value::Slot(s)) if *s > 0 && *s != usize::MAX => *s,
                Some(Value::Slot(0)) => {
                    // the output is the input itself (an Identity graph): one copy op, so that
                    // the result is a slot of the trace like any other
                    nodes.push(Node {
                        name: name.clone(),
                        onnx_op: "Identity".into(),
                        op: Op::Reshape {
                            shape: input_shape.clone(),
                        },
                        inputs: vec![Operand::Slot(0)],
                        shape: input_shape.clone(),
                        dtype: input_dtype,
                    });
                    nodes.len()
                }
                Some(_) => {
                    return Err(ModelError::Unsupported {
                        op_type: "graph".into(),
                        node: name.clone(),
                        opset: raw.opset,
                        reason: "the output is a constant: it does not depend on the input".into(),
                    });
                }
                None => {
                    return Err(ModelError::Malformed(format!(
                        "graph output {name:?} is never computed"
                    )))
                }
            });
        }
        let out_slot = *out_slots.iter().max().unwrap();
        // Keep only what the output depends on, renumbered in the same order.
        let mut live: HashSet<usize> = out_slots.iter().copied().collect();
        for s in (1..=out_slot).rev() {
            if live.contains(&s) {
                live.extend(nodes[s - 1].slots());
            }
        }
        let mut renum = vec![usize::MAX; nodes.len() + 1];
        renum[0] = 0;
        let mut kept = Vec::new();
        for (i, mut n) in nodes.into_iter().enumerate() {
            let s = i + 1;
            if !live.contains(&s) {
                continue;
            }
            for o in &mut n.inputs {
                if let Operand::Slot(x) = o {
                    *x = renum[*x];
                }
            }
            kept.push(n);
            renum[s] = kept.len();
        }
        debug_assert_eq!(renum[out_slot], kept.len());
        let outputs = out_slots.iter().map(|&s| renum[s]).collect();
        let inputs = if several {
            parts
                .into_iter()
                .zip(&slice_slots)
                .map(|(part, &s)| GraphInput {
                    part,
                    slot: Some(renum[s]).filter(|&x| x != usize::MAX),
                })
                .collect()
        } else {
            Vec::new()
        };
        Ok(Graph {
            opset: raw.opset,
            input_name,
            input_shape,
            input_dtype,
            inputs,
            nodes: kept,
            outputs,
            onnx_op_counts: counts,
        })
    }
}

/// Only a node's first output becomes a value: an operator whose further outputs (MaxPool's
/// Indices, LayerNormalization's Mean and InvStdDev ...) are read is refused.
fn refuse_extra_outputs(
    node: &RawNode,
    opset: i64,
    consumers: &HashMap<&str, usize>,
) -> Result<()> {
    refuse_outputs_beyond(node, 1, opset, consumers)
}

/// Outputs `given..` of `node` have no value: an error if anything reads one.
fn refuse_outputs_beyond(
    node: &RawNode,
    given: usize,
    opset: i64,
    consumers: &HashMap<&str, usize>,
) -> Result<()> {
    for (k, extra) in node
        .outputs
        .iter()
        .enumerate()
        .skip(given)
        .filter(|(_, o)| !o.is_empty())
    {
        if consumers.contains_key(extra.as_str()) {
            return Err(ModelError::Unsupported {
                op_type: node.op_type.clone(),
                node: node.name.clone(),
                opset,
                reason: format!(
                    "its output #{k} {extra:?} is used; only the first {given} output(s) are supported"
                ),
            });
        }
    }
    Ok(())
}

/// The graph input's static shape. A symbolic first (batch) dimension is pinned to 1; any other
/// symbolic dimension is refused, naming the input and the dimension.
fn static_input_shape(input: &RawInput, opset: i64) -> Result<Vec<usize>> {
    input
        .dims
        .iter()
        .enumerate()
        .map(|(d, dim)| match dim {
            Some(v) => Ok(*v),
            None if d == 0 => Ok(1),
            None => {
                let name = input.dim_names.get(d).filter(|n| !n.is_empty()).map(|n| format!(" ({n:?})")).unwrap_or_default();
                Err(ModelError::Unsupported {
                    op_type: "graph input".into(),
                    node: input.name.clone(),
                    opset,
                    reason: format!(
                        "dimension #{d}{name} of shape {:?} is not a fixed size; only the batch dimension (#0) may be symbolic \
                         (it is pinned to 1): export the model with a fixed size for this dimension",
                        input.dims.iter().map(|d| d.map_or(-1, |v| v as i64)).collect::<Vec<_>>()
                    ),
                })
            }
        })
        .collect()
}

impl Graph {
    /// Runs the graph in f64 (the reference semantics of `ops::eval`), returning every slot.
    pub fn run_f64(&self, input: &Tensor<f64>) -> Result<Vec<Tensor<f64>>> {
        if input.shape.iter().product::<usize>() != self.input_shape.iter().product::<usize>() {
            return Err(ModelError::Input(format!(
                "input has {} values, the model expects shape {:?}",
                input.len(),
                self.input_shape
            )));
        }
        let mut slots = vec![Tensor::new(self.input_shape.clone(), input.data.clone())];
        for n in &self.nodes {
            let ins: Vec<&Tensor<f64>> = n
                .inputs
                .iter()
                .map(|o| match o {
                    Operand::Slot(s) => &slots[*s],
                    Operand::Const(c) => &c.tensor,
                })
                .collect();
            let y = ops::eval(&n.op, &ins, &n.shape);
            slots.push(y);
        }
        Ok(slots)
    }
}

/// Float constants at least this large in magnitude are *mask sentinels*: attention masks are
/// exported as `finfo(float32).min`, `-1e30`, `-inf` (or their negations), added to scores so
/// that Softmax gives those positions weight 0. No fixed-point scale holds such a value, and
/// none needs to: `Graph::with_sentinels_at` replaces each by a finite bound that saturates the
/// consuming Softmax just as well (docs/fixed-point.md, "Mask sentinels").
pub const MASK_SENTINEL: f64 = 1e30;

impl Graph {
    fn constants_mut(&mut self) -> impl Iterator<Item = &mut Const> {
        self.nodes.iter_mut().flat_map(|n| {
            n.inputs.iter_mut().filter_map(|o| match o {
                Operand::Const(c) if c.dtype == DType::Float => Some(c),
                _ => None,
            })
        })
    }

    /// Whether some float constant is a mask sentinel.
    pub fn has_mask_sentinels(&self) -> bool {
        self.nodes.iter().any(|n| {
            n.inputs.iter().any(|o| {
                matches!(o, Operand::Const(c) if c.dtype == DType::Float
                    && c.tensor.data.iter().any(|v| v.abs() >= MASK_SENTINEL))
            })
        })
    }

    /// This graph with every mask sentinel replaced by `±bound` (its sign kept).
    pub fn with_sentinels_at(&self, bound: f64) -> Graph {
        let mut g = self.clone();
        for c in g.constants_mut() {
            for v in c.tensor.data.iter_mut() {
                if v.abs() >= MASK_SENTINEL {
                    *v = bound.copysign(*v);
                }
            }
        }
        g
    }

    /// The slots Softmax-like ops read (Softmax, LogSoftmax's exp-sum): where a mask lands.
    pub fn softmax_inputs(&self) -> Vec<usize> {
        self.nodes
            .iter()
            .filter(|n| matches!(n.op, Op::Softmax { .. }))
            .filter_map(|n| n.slots().next())
            .collect()
    }
}
