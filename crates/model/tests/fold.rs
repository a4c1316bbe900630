//! Constant folding on graphs laid out as PyTorch's exporter (torch.onnx.export, opset 15)
//! writes them: `x.view(x.size(0), -1)`, `torch.zeros(x.shape[0], 4)`, `row.expand(n, -1)`,
//! `torch.arange(h.size(1)).float()`, a Dropout with its training_mode input and an Identity.
//! No torch on this machine: the graphs are built here with the protobuf types the crate reads,
//! node for node as the exporter emits them (its node and value names included). The folded
//! model is checked against tract's f32 run of the unfolded graph.
//!
//! `testdata/models/torch_fold/` holds the model built by [`torch_style_model`] (with its
//! input.json) for the executor's tests; `ZKOPML_WRITE_TESTDATA=1 cargo test -p zkopml-model
//! --test fold` rewrites it, and the test fails when the committed bytes are stale.

use std::path::PathBuf;

use prost::Message;
use tract_onnx::pb;
use zkopml_model::reference::TractReference;
use zkopml_model::{
    compile, default_calibration, Calibration, Graph, ModelError, RawModel, Tensor,
};

const OPSET: i64 = 15;

fn dim_value(v: i64) -> pb::tensor_shape_proto::Dimension {
    pb::tensor_shape_proto::Dimension {
        value: Some(pb::tensor_shape_proto::dimension::Value::DimValue(v)),
        ..Default::default()
    }
}
fn dim_param(p: &str) -> pb::tensor_shape_proto::Dimension {
    pb::tensor_shape_proto::Dimension {
        value: Some(pb::tensor_shape_proto::dimension::Value::DimParam(p.into())),
        ..Default::default()
    }
}
fn value_info(
    name: &str,
    elem_type: i32,
    dims: Vec<pb::tensor_shape_proto::Dimension>,
) -> pb::ValueInfoProto {
    pb::ValueInfoProto {
        name: name.into(),
        r#type: Some(pb::TypeProto {
            value: Some(pb::type_proto::Value::TensorType(pb::type_proto::Tensor {
                elem_type,
                shape: Some(pb::TensorShapeProto { dim: dims }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}
fn f32s(name: &str, dims: &[i64], v: Vec<f32>) -> pb::TensorProto {
    pb::TensorProto {
        name: name.into(),
        dims: dims.to_vec(),
        data_type: 1,
        float_data: v,
        ..Default::default()
    }
}
fn i64s(name: &str, dims: &[i64], v: Vec<i64>) -> pb::TensorProto {
    pb::TensorProto {
        name: name.into(),
        dims: dims.to_vec(),
        data_type: 7,
        int64_data: v,
        ..Default::default()
    }
}
fn bools(name: &str, dims: &[i64], v: Vec<bool>) -> pb::TensorProto {
    pb::TensorProto {
        name: name.into(),
        dims: dims.to_vec(),
        data_type: 9,
        int32_data: v.into_iter().map(i32::from).collect(),
        ..Default::default()
    }
}

enum A {
    I(i64),
    F(f32),
    Is(Vec<i64>),
    T(pb::TensorProto),
}

fn attr(name: &str, a: A) -> pb::AttributeProto {
    use pb::attribute_proto::AttributeType as T;
    let mut p = pb::AttributeProto {
        name: name.into(),
        ..Default::default()
    };
    match a {
        A::I(i) => (p.r#type, p.i) = (T::Int as i32, i),
        A::F(f) => (p.r#type, p.f) = (T::Float as i32, f),
        A::Is(v) => (p.r#type, p.ints) = (T::Ints as i32, v),
        A::T(t) => (p.r#type, p.t) = (T::Tensor as i32, Some(t)),
    }
    p
}

/// A graph under construction, in the exporter's naming: node "/Op_k", output "/Op_k_output_0".
struct G {
    g: pb::GraphProto,
}

impl G {
    fn new(input_dims: Vec<pb::tensor_shape_proto::Dimension>) -> G {
        let mut g = pb::GraphProto {
            name: "main_graph".into(),
            ..Default::default()
        };
        g.input.push(value_info("input", 1, input_dims));
        G { g }
    }
    /// Adds a node named `name` and returns its first output's name.
    fn op(
        &mut self,
        name: &str,
        op: &str,
        inputs: &[&str],
        attrs: Vec<pb::AttributeProto>,
    ) -> String {
        self.op_n(name, op, inputs, attrs, 1).remove(0)
    }
    fn op_n(
        &mut self,
        name: &str,
        op: &str,
        inputs: &[&str],
        attrs: Vec<pb::AttributeProto>,
        outputs: usize,
    ) -> Vec<String> {
        let outs: Vec<String> = (0..outputs).map(|i| format!("{name}_output_{i}")).collect();
        self.g.node.push(pb::NodeProto {
            name: name.into(),
            op_type: op.into(),
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: outs.clone(),
            attribute: attrs,
            ..Default::default()
        });
        outs
    }
    fn constant(&mut self, name: &str, t: pb::TensorProto) -> String {
        self.op(name, "Constant", &[], vec![attr("value", A::T(t))])
    }
    fn init(&mut self, t: pb::TensorProto) -> String {
        let n = t.name.clone();
        self.g.initializer.push(t);
        n
    }
    fn finish(mut self, output: &str) -> pb::ModelProto {
        let last = self.g.node.last_mut().unwrap();
        last.output[0] = output.into();
        self.g.output.push(value_info(output, 1, vec![]));
        pb::ModelProto {
            ir_version: 8,
            producer_name: "pytorch".into(),
            producer_version: "2.1.0".into(),
            opset_import: vec![pb::OperatorSetIdProto {
                domain: String::new(),
                version: OPSET,
            }],
            graph: Some(self.g),
            ..Default::default()
        }
    }
}

/// Deterministic weights in [-0.5, 0.5).
fn weights(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) - 0.5
        })
        .collect()
}

/// The `nn.Module` below, exported the way torch.onnx.export (opset 15, eval mode with
/// `training=TrainingMode.PRESERVE` for the Dropout) lays it out, batch dimension dynamic:
///
/// ```python
/// def forward(self, x):                               # x: [batch, 3, 4, 4]
///     h = self.drop(torch.relu(self.conv(x)))          # Conv, Relu, Dropout(ratio, training_mode)
///     h = torch.nn.Identity()(h) + 0.1 * torch.arange(h.size(1)).float().view(1, -1, 1, 1)
///     h = h.view(x.size(0), h.shape[1:].numel())       # Shape(end=1), Shape(start=1), ReduceProd
///     z = torch.zeros(x.shape[0], 4) + self.row.expand(x.size(0), -1)
///     tail = x.view(x.size(0), x.numel() // x.size(0))[:, -x.shape[-2:].numel():]
///     return self.fc(torch.cat([h, z, tail], 1))       # Gemm
/// ```
fn torch_style_model() -> pb::ModelProto {
    let mut g = G::new(vec![
        dim_param("batch"),
        dim_value(3),
        dim_value(4),
        dim_value(4),
    ]);
    let w = g.init(f32s("conv.weight", &[4, 3, 3, 3], weights(108, 1)));
    let b = g.init(f32s("conv.bias", &[4], weights(4, 2)));
    let row = g.init(f32s("row", &[1, 4], weights(4, 3)));
    let fw = g.init(f32s("fc.weight", &[5, 84], weights(420, 4)));
    let fb = g.init(f32s("fc.bias", &[5], weights(5, 5)));
    let conv = g.op(
        "/conv/Conv",
        "Conv",
        &["input", &w, &b],
        vec![
            attr("dilations", A::Is(vec![1, 1])),
            attr("group", A::I(1)),
            attr("kernel_shape", A::Is(vec![3, 3])),
            attr("pads", A::Is(vec![1, 1, 1, 1])),
            attr("strides", A::Is(vec![1, 1])),
        ],
    );
    let relu = g.op("/Relu", "Relu", &[&conv], vec![]);
    let ratio = g.constant("/drop/Constant", f32s("", &[], vec![0.5]));
    let training = g.constant("/drop/Constant_1", bools("", &[], vec![false]));
    let drop = g
        .op_n(
            "/drop/Dropout",
            "Dropout",
            &[&relu, &ratio, &training],
            vec![],
            2,
        )
        .remove(0);
    let id = g.op("/Identity", "Identity", &[&drop], vec![]);
    // torch.arange(h.size(1)).float().view(1, -1, 1, 1) * 0.1
    let shape = g.op("/Shape", "Shape", &[&id], vec![]);
    let one = g.constant("/Constant", i64s("", &[], vec![1]));
    let c = g.op(
        "/Gather",
        "Gather",
        &[&shape, &one],
        vec![attr("axis", A::I(0))],
    );
    let zero = g.constant("/Constant_1", i64s("", &[], vec![0]));
    let step = g.constant("/Constant_2", i64s("", &[], vec![1]));
    let range = g.op("/Range", "Range", &[&zero, &c, &step], vec![]);
    let cast = g.op("/Cast", "Cast", &[&range], vec![attr("to", A::I(1))]);
    let view = g.constant("/Constant_3", i64s("", &[4], vec![1, -1, 1, 1]));
    let pos = g.op(
        "/Reshape",
        "Reshape",
        &[&cast, &view],
        vec![attr("allowzero", A::I(0))],
    );
    let tenth = g.constant("/Constant_4", f32s("", &[], vec![0.1]));
    let scaled = g.op("/Mul", "Mul", &[&pos, &tenth], vec![]);
    let h = g.op("/Add", "Add", &[&id, &scaled], vec![]);
    // h.view(x.size(0), h.shape[1:].numel())
    let n1 = g.op("/Shape_1", "Shape", &["input"], vec![attr("end", A::I(1))]);
    let tail_dims = g.op("/Shape_2", "Shape", &[&h], vec![attr("start", A::I(1))]);
    let numel = g.op(
        "/ReduceProd",
        "ReduceProd",
        &[&tail_dims],
        vec![attr("keepdims", A::I(1))],
    );
    let target = g.op(
        "/Concat",
        "Concat",
        &[&n1, &numel],
        vec![attr("axis", A::I(0))],
    );
    let flat = g.op(
        "/Reshape_1",
        "Reshape",
        &[&h, &target],
        vec![attr("allowzero", A::I(0))],
    );
    // torch.zeros(x.shape[0], 4)
    let xs = g.op("/Shape_3", "Shape", &["input"], vec![]);
    let zero2 = g.constant("/Constant_5", i64s("", &[], vec![0]));
    let n = g.op(
        "/Gather_1",
        "Gather",
        &[&xs, &zero2],
        vec![attr("axis", A::I(0))],
    );
    let axes0 = g.constant("/Constant_6", i64s("", &[1], vec![0]));
    let n_1d = g.op("/Unsqueeze", "Unsqueeze", &[&n, &axes0], vec![]);
    let four = g.constant("/Constant_7", i64s("", &[1], vec![4]));
    let zshape = g.op(
        "/Concat_1",
        "Concat",
        &[&n_1d, &four],
        vec![attr("axis", A::I(0))],
    );
    let zeros = g.op(
        "/ConstantOfShape",
        "ConstantOfShape",
        &[&zshape],
        vec![attr("value", A::T(f32s("", &[1], vec![0.0])))],
    );
    // self.row.expand(x.size(0), -1): -1 becomes 1 through Equal/Where, as the exporter writes it
    let minus1 = g.constant("/Constant_8", i64s("", &[1], vec![-1]));
    let espec = g.op(
        "/Concat_2",
        "Concat",
        &[&n_1d, &minus1],
        vec![attr("axis", A::I(0))],
    );
    let two = g.constant("/Constant_9", i64s("", &[1], vec![2]));
    let ones = g.op(
        "/ConstantOfShape_1",
        "ConstantOfShape",
        &[&two],
        vec![attr("value", A::T(i64s("", &[1], vec![1])))],
    );
    let m1 = g.constant("/Constant_10", i64s("", &[], vec![-1]));
    let minus = g.op("/Mul_1", "Mul", &[&ones, &m1], vec![]);
    let eq = g.op("/Equal", "Equal", &[&espec, &minus], vec![]);
    let eshape = g.op("/Where", "Where", &[&eq, &ones, &espec], vec![]);
    let expanded = g.op("/Expand", "Expand", &[&row, &eshape], vec![]);
    let z = g.op("/Add_1", "Add", &[&zeros, &expanded], vec![]);
    // x.view(x.size(0), x.numel() // x.size(0))[:, -x.shape[-2:].numel():]
    let size = g.op("/Size", "Size", &["input"], vec![]);
    let per = g.op("/Div", "Div", &[&size, &n], vec![]);
    let per_1d = g.op("/Unsqueeze_1", "Unsqueeze", &[&per, &axes0], vec![]);
    let xshape = g.op(
        "/Concat_3",
        "Concat",
        &[&n_1d, &per_1d],
        vec![attr("axis", A::I(0))],
    );
    let xflat = g.op(
        "/Reshape_2",
        "Reshape",
        &["input", &xshape],
        vec![attr("allowzero", A::I(0))],
    );
    let s_start = g.constant("/Constant_11", i64s("", &[1], vec![-2]));
    let s_end = g.constant("/Constant_12", i64s("", &[1], vec![i64::MAX]));
    let hw = g.op("/Slice", "Slice", &[&xs, &s_start, &s_end, &axes0], vec![]);
    let hw_n = g.op(
        "/ReduceProd_1",
        "ReduceProd",
        &[&hw],
        vec![attr("keepdims", A::I(1))],
    );
    let start = g.op("/Neg", "Neg", &[&hw_n], vec![]);
    let axis_last = g.constant("/Constant_13", i64s("", &[1], vec![-1]));
    let tail = g.op(
        "/Slice_1",
        "Slice",
        &[&xflat, &start, &s_end, &axis_last],
        vec![],
    );
    let cat = g.op(
        "/Concat_4",
        "Concat",
        &[&flat, &z, &tail],
        vec![attr("axis", A::I(1))],
    );
    g.op(
        "/fc/Gemm",
        "Gemm",
        &[&cat, &fw, &fb],
        vec![
            attr("alpha", A::F(1.0)),
            attr("beta", A::F(1.0)),
            attr("transB", A::I(1)),
        ],
    );
    g.finish("output")
}

fn sample() -> Vec<f64> {
    weights(48, 7)
        .into_iter()
        .map(|v| (v * 4.0) as f64)
        .collect()
}

fn testdata() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/models/torch_fold")
}

fn load(proto: &pb::ModelProto) -> zkopml_model::Result<Graph> {
    Graph::from_raw(&RawModel::from_proto(proto)?)
}

/// Max abs difference between the folded graph (f64 reference semantics) and tract's f32 run.
fn float_error(proto: &pb::ModelProto, g: &Graph, x: &[f64]) -> f64 {
    let ours = g
        .run_f64(&Tensor::new(g.input_shape.clone(), x.to_vec()))
        .unwrap();
    let out = &ours[g.outputs[0]];
    let theirs = TractReference::from_proto(proto, &g.input_shape)
        .unwrap()
        .run(x)
        .unwrap();
    assert_eq!(out.len(), theirs[0].len());
    out.data
        .iter()
        .zip(&theirs[0])
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max)
}

#[test]
fn torch_style_constant_subgraphs_fold_and_agree_with_tract() {
    let proto = torch_style_model();
    let g = load(&proto).unwrap();
    assert_eq!(
        g.input_shape,
        vec![1, 3, 4, 4],
        "the symbolic batch dimension is pinned to 1"
    );
    let mut ops: Vec<&str> = g.nodes.iter().map(|n| n.onnx_op.as_str()).collect();
    ops.sort_unstable();
    assert_eq!(
        ops,
        ["Add", "Concat", "Conv", "Gemm", "Relu", "Reshape", "Reshape", "Slice"],
        "only the data path is left"
    );
    assert_eq!(g.output_shape(), [1, 5]);
    // the concatenation reads the folded zeros + expanded row as a constant [1, 4]
    let cat = g.nodes.iter().find(|n| n.onnx_op == "Concat").unwrap();
    assert!(matches!(&cat.inputs[1], zkopml_model::Operand::Const(c) if c.tensor.shape == [1, 4]));
    let x = sample();
    let err = float_error(&proto, &g, &x);
    assert!(err < 1e-5, "folded graph vs tract: {err}");
    // and it quantises
    let cal = Calibration::run(&g, &[Tensor::new(vec![1, 3, 4, 4], x.clone())]).unwrap();
    compile(&g, &cal).unwrap();
}

#[test]
fn torch_fold_testdata_is_current() {
    let bytes = torch_style_model().encode_to_vec();
    let input = serde_json::json!({ "input_data": [sample()] }).to_string();
    let dir = testdata();
    if std::env::var_os("ZKOPML_WRITE_TESTDATA").is_some() {
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("network.onnx"), &bytes).unwrap();
        std::fs::write(dir.join("input.json"), format!("{input}\n")).unwrap();
    }
    let on_disk = std::fs::read(dir.join("network.onnx"))
        .expect("testdata/models/torch_fold: run with ZKOPML_WRITE_TESTDATA=1");
    assert!(
        on_disk == bytes,
        "testdata/models/torch_fold/network.onnx is stale: rerun with ZKOPML_WRITE_TESTDATA=1"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("input.json"))
            .unwrap()
            .trim_end(),
        input
    );
    // the file itself loads and folds like the proto
    let g = Graph::from_path(&dir.join("network.onnx")).unwrap();
    assert_eq!(g.n_ops(), 8);
    compile_sample(&g);
}

fn compile_sample(g: &Graph) {
    let n: usize = g.input_shape.iter().product();
    let cal: Vec<Tensor<f64>> = default_calibration(n, Some(&sample()))
        .into_iter()
        .map(|v| Tensor::new(g.input_shape.clone(), v))
        .collect();
    compile(g, &Calibration::run(g, &cal).unwrap()).unwrap();
}

/// A small graph: input [1, 4] → `body` → output, for the error cases.
fn tiny(body: impl FnOnce(&mut G) -> String) -> pb::ModelProto {
    let mut g = G::new(vec![dim_param("N"), dim_value(4)]);
    let last = body(&mut g);
    g.op("/Relu_out", "Relu", &[&last], vec![]);
    g.finish("output")
}

fn message(proto: &pb::ModelProto) -> String {
    let e = load(proto).unwrap_err().to_string();
    eprintln!("{e}");
    e
}

#[test]
fn a_shape_computed_from_the_input_values_is_refused_naming_the_node() {
    // zeros(int(x.argmax()) + 1, 4): the shape depends on the input's values
    let m = tiny(|g| {
        let am = g.op(
            "/ArgMax",
            "ArgMax",
            &["input"],
            vec![attr("axis", A::I(1)), attr("keepdims", A::I(1))],
        );
        let four = g.constant("/Constant", i64s("", &[1, 1], vec![4]));
        let spec = g.op(
            "/Concat",
            "Concat",
            &[&am, &four],
            vec![attr("axis", A::I(1))],
        );
        let s = g.op("/Squeeze", "Squeeze", &[&spec], vec![]);
        g.op("/ConstantOfShape", "ConstantOfShape", &[&s], vec![])
    });
    let e = message(&m);
    assert!(
        e.contains("/ConstantOfShape")
            && e.contains("data-dependent shape")
            && e.contains("/Squeeze_output_0"),
        "{e}"
    );
    // the same through Reshape's shape input
    let m = tiny(|g| {
        let am = g.op(
            "/ArgMax",
            "ArgMax",
            &["input"],
            vec![attr("axis", A::I(1)), attr("keepdims", A::I(0))],
        );
        g.op("/Reshape", "Reshape", &["input", &am], vec![])
    });
    let e = message(&m);
    assert!(
        e.contains("/Reshape") && e.contains("data-dependent shape"),
        "{e}"
    );
    // NonZero of an intermediate: its size depends on the values
    let m = tiny(|g| {
        let r = g.op("/Relu", "Relu", &["input"], vec![]);
        let nz = g.op("/NonZero", "NonZero", &[&r], vec![]);
        g.op("/Cast", "Cast", &[&nz], vec![attr("to", A::I(1))])
    });
    let e = message(&m);
    assert!(
        e.contains("/NonZero") && e.contains("data-dependent shape"),
        "{e}"
    );
}

#[test]
fn symbolic_dimensions_other_than_the_batch_are_refused() {
    let mut g = G::new(vec![dim_param("batch"), dim_param("seq_len"), dim_value(4)]);
    g.op("/Relu", "Relu", &["input"], vec![]);
    let e = message(&g.finish("output"));
    assert!(
        e.contains("\"input\"")
            && e.contains("#1")
            && e.contains("seq_len")
            && e.contains("batch dimension"),
        "{e}"
    );
}

#[test]
fn dropout_mask_identity_and_training_mode() {
    // the mask output is all true at inference: Cast(mask) * x is x
    let with_mask = |training: bool| {
        tiny(|g| {
            let ratio = g.constant("/Constant", f32s("", &[], vec![0.3]));
            let t = g.constant("/Constant_1", bools("", &[], vec![training]));
            let outs = g.op_n("/Dropout", "Dropout", &["input", &ratio, &t], vec![], 2);
            let mask = g.op("/Cast", "Cast", &[&outs[1]], vec![attr("to", A::I(1))]);
            let y = g.op("/Mul", "Mul", &[&outs[0], &mask], vec![]);
            g.op("/Identity", "Identity", &[&y], vec![])
        })
    };
    let proto = with_mask(false);
    let g = load(&proto).unwrap();
    let ops: Vec<&str> = g.nodes.iter().map(|n| n.onnx_op.as_str()).collect();
    assert_eq!(ops, ["Mul", "Relu"]);
    let x = [0.5, -1.0, 2.0, -0.25];
    assert!(float_error(&proto, &g, &x) < 1e-6);
    let e = message(&with_mask(true));
    assert!(
        e.contains("/Dropout") && e.contains("training_mode is true"),
        "{e}"
    );
    // opset 10 Dropout: one input, the ratio an attribute
    let m = tiny(|g| g.op("/Dropout", "Dropout", &["input"], vec![]));
    assert_eq!(load(&m).unwrap().n_ops(), 1);
    // an Identity whose output is the graph's output and that reads the input directly: the
    // graph is one copy op, so that its result is a slot of the trace
    let mut g = G::new(vec![dim_value(1), dim_value(2)]);
    g.op("/Identity", "Identity", &["input"], vec![]);
    let graph = load(&g.finish("output")).unwrap();
    assert_eq!(graph.n_ops(), 1);
    assert!(matches!(
        graph.nodes[0].op,
        zkopml_model::Op::Reshape { .. }
    ));
}

#[test]
fn malformed_folded_nodes_are_errors_not_panics() {
    let cases: Vec<(&str, pb::ModelProto)> = vec![
        (
            "index 9 is out of range",
            tiny(|g| {
                let s = g.op("/Shape", "Shape", &["input"], vec![]);
                let nine = g.constant("/Constant", i64s("", &[], vec![9]));
                let n = g.op("/Gather", "Gather", &[&s, &nine], vec![]);
                let v = g.op("/Unsqueeze", "Unsqueeze", &[&n, &s], vec![]);
                g.op("/Reshape", "Reshape", &["input", &v], vec![])
            }),
        ),
        (
            "larger than",
            tiny(|g| {
                let big = g.constant("/Constant", i64s("", &[3], vec![1 << 21, 1 << 21, 1 << 21]));
                let z = g.op("/ConstantOfShape", "ConstantOfShape", &[&big], vec![]);
                g.op("/Add", "Add", &["input", &z], vec![])
            }),
        ),
        (
            "cannot reshape",
            tiny(|g| {
                let spec = g.constant("/Constant", i64s("", &[2], vec![3, -1]));
                g.op("/Reshape", "Reshape", &["input", &spec], vec![])
            }),
        ),
        (
            "missing input #1",
            tiny(|g| {
                let s = g.op("/Shape", "Shape", &["input"], vec![]);
                let e = g.op("/Expand", "Expand", &[&s], vec![]);
                let c = g.op("/Cast", "Cast", &[&e], vec![attr("to", A::I(1))]);
                g.op("/Add", "Add", &["input", &c], vec![])
            }),
        ),
    ];
    for (want, m) in cases {
        let e = message(&m);
        assert!(e.contains(want) && e.contains("node \"/"), "{want}: {e}");
        assert!(matches!(
            load(&m).unwrap_err(),
            ModelError::InvalidNode { .. } | ModelError::Unsupported { .. }
        ));
    }
}

/// PyTorch exports `nn.Linear` on a rank-3 input as `MatMul` then `Add(bias)`: the bias folds
/// into the Gemm when it runs along the last axis only and nothing else reads the product; a
/// bias over another axis, or a product read twice, stays an Add. Checked against tract.
#[test]
fn a_bias_add_after_a_matmul_folds_into_the_gemm() {
    let mut g = G::new(vec![dim_value(1), dim_value(3), dim_value(4)]);
    let linear = |g: &mut G, k: usize, x: &str, seed: u64| {
        let rows = if k == 1 { 4 } else { 5 };
        let w = g.init(f32s(
            &format!("w{k}"),
            &[rows, 5],
            weights(rows as usize * 5, seed),
        ));
        g.op(&format!("/MatMul_{k}"), "MatMul", &[x, &w], vec![])
    };
    let m1 = linear(&mut g, 1, "input", 1);
    let b1 = g.init(f32s("b1", &[5], weights(5, 11)));
    let a1 = g.op("/Add_1", "Add", &[&m1, &b1], vec![]);
    let m2 = linear(&mut g, 2, &a1, 2);
    let b2 = g.init(f32s("b2", &[1, 1, 5], weights(5, 12)));
    let a2 = g.op("/Add_2", "Add", &[&b2, &m2], vec![]); // bias first, rank 3
    let m3 = linear(&mut g, 3, &a2, 3);
    let b3 = g.init(f32s("b3", &[3, 1], weights(3, 13)));
    let a3 = g.op("/Add_3", "Add", &[&m3, &b3], vec![]); // along the rows: stays
    let m4 = linear(&mut g, 4, &a3, 4);
    let b4 = g.init(f32s("b4", &[5], weights(5, 14)));
    let a4 = g.op("/Add_4", "Add", &[&m4, &b4], vec![]);
    g.op("/Add_5", "Add", &[&a4, &m4], vec![]); // m4 read twice: its bias Add stays
    let proto = g.finish("output");
    let graph = load(&proto).unwrap();
    let ops: Vec<&str> = graph.nodes.iter().map(|n| n.onnx_op.as_str()).collect();
    assert_eq!(
        ops,
        [
            "MatMul+Add",
            "MatMul+Add",
            "MatMul",
            "Add",
            "MatMul",
            "Add",
            "Add"
        ]
    );
    let x: Vec<f64> = weights(12, 5).into_iter().map(f64::from).collect();
    let err = float_error(&proto, &graph, &x);
    assert!(err < 1e-5, "folded graph vs tract: {err}");
}

/// A product that another name also reads (an Identity; the same holds for an inference
/// Dropout) keeps its bias Add: folding would change what the other reader sees.
#[test]
fn a_bias_add_is_not_folded_into_a_product_read_under_another_name() {
    let mut g = G::new(vec![dim_value(1), dim_value(3), dim_value(4)]);
    let w = g.init(f32s("w", &[4, 5], weights(20, 1)));
    let m = g.op("/MatMul", "MatMul", &["input", &w], vec![]);
    let alias = g.op("/Identity", "Identity", &[&m], vec![]);
    let b = g.init(f32s("b", &[5], weights(5, 2)));
    let y = g.op("/Add", "Add", &[&alias, &b], vec![]);
    let r = g.op("/Relu", "Relu", &[&m], vec![]);
    g.op("/Add_out", "Add", &[&y, &r], vec![]);
    let proto = g.finish("output");
    let graph = load(&proto).unwrap();
    let ops: Vec<&str> = graph.nodes.iter().map(|n| n.onnx_op.as_str()).collect();
    assert_eq!(ops, ["MatMul", "Add", "Relu", "Add"]);
    let x: Vec<f64> = weights(12, 5).into_iter().map(f64::from).collect();
    let err = float_error(&proto, &graph, &x);
    assert!(err < 1e-5, "graph vs tract: {err}");
}
