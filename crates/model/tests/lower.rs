//! Lowerings (crates/model/src/lower): what each ONNX operator becomes, the refusals (an error
//! naming the node and the reason, never a panic), and the model of testdata/models/lowered
//! (Gelu then LayerNormalization) whose dispute steps crates/zk/tests/lowered_step.rs proves.
//! The numbers (fixed point against tract) are checked in crates/exec/tests/lower.rs.
//!
//! `ZKOPML_WRITE_TESTDATA=1 cargo test -p zkopml-model --test lower` rewrites
//! testdata/models/lowered; the test fails when the committed bytes are stale.

use std::path::PathBuf;

use prost::Message;
use tract_onnx::pb;
use zkopml_model::reference::TractReference;
use zkopml_model::{
    compile, default_calibration, Calibration, Graph, ModelError, Op, Operand, RawModel, Tensor,
};

fn value_info(name: &str, dims: &[i64]) -> pb::ValueInfoProto {
    use pb::tensor_shape_proto::{dimension::Value, Dimension};
    let dim = dims
        .iter()
        .map(|&d| Dimension {
            value: Some(Value::DimValue(d)),
            ..Default::default()
        })
        .collect();
    pb::ValueInfoProto {
        name: name.into(),
        r#type: Some(pb::TypeProto {
            value: Some(pb::type_proto::Value::TensorType(pb::type_proto::Tensor {
                elem_type: 1,
                shape: Some(pb::TensorShapeProto { dim }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn f32s(name: &str, dims: &[i64], v: &[f32]) -> pb::TensorProto {
    pb::TensorProto {
        name: name.into(),
        dims: dims.to_vec(),
        data_type: 1,
        float_data: v.to_vec(),
        ..Default::default()
    }
}

fn ints(name: &str, dims: &[i64], v: &[i64]) -> pb::TensorProto {
    pb::TensorProto {
        name: name.into(),
        dims: dims.to_vec(),
        data_type: 7,
        int64_data: v.to_vec(),
        ..Default::default()
    }
}

fn attr_f(name: &str, f: f32) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.into(),
        r#type: pb::attribute_proto::AttributeType::Float as i32,
        f,
        ..Default::default()
    }
}
fn attr_i(name: &str, i: i64) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.into(),
        r#type: pb::attribute_proto::AttributeType::Int as i32,
        i,
        ..Default::default()
    }
}
fn attr_s(name: &str, s: &str) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.into(),
        r#type: pb::attribute_proto::AttributeType::String as i32,
        s: s.as_bytes().to_vec(),
        ..Default::default()
    }
}

/// One input "input" of shape `dims`; nodes are `(name, op, inputs, attrs, outputs)`; the
/// graph output is the first output of the last node.
fn model(
    opset: i64,
    dims: &[i64],
    inits: Vec<pb::TensorProto>,
    nodes: Vec<(&str, &str, Vec<&str>, Vec<pb::AttributeProto>, usize)>,
) -> pb::ModelProto {
    let mut g = pb::GraphProto {
        name: "main_graph".into(),
        initializer: inits,
        ..Default::default()
    };
    g.input.push(value_info("input", dims));
    let mut last = String::new();
    for (name, op, inputs, attrs, outs) in nodes {
        let output: Vec<String> = (0..outs).map(|k| format!("{name}_output_{k}")).collect();
        last = output[0].clone();
        g.node.push(pb::NodeProto {
            name: name.into(),
            op_type: op.into(),
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output,
            attribute: attrs,
            ..Default::default()
        });
    }
    g.output.push(value_info(&last, &[]));
    pb::ModelProto {
        ir_version: 9,
        producer_name: "zkopml-tests".into(),
        opset_import: vec![pb::OperatorSetIdProto {
            domain: String::new(),
            version: opset,
        }],
        graph: Some(g),
        ..Default::default()
    }
}

fn load(proto: &pb::ModelProto) -> zkopml_model::Result<Graph> {
    Graph::from_raw(&RawModel::from_proto(proto)?)
}

/// `y = op(input, initializers...)` on a [1, 3, 4] input.
fn one(op: &str, inits: Vec<pb::TensorProto>, attrs: Vec<pb::AttributeProto>) -> pb::ModelProto {
    let mut ins = vec!["input".to_string()];
    ins.extend(inits.iter().map(|t| t.name.clone()));
    let refs: Vec<&str> = ins.iter().map(String::as_str).collect();
    model(20, &[1, 3, 4], inits, vec![("/op", op, refs, attrs, 1)])
}

fn message(proto: &pb::ModelProto) -> String {
    let e = load(proto).unwrap_err();
    assert!(
        matches!(
            e,
            ModelError::InvalidNode { .. } | ModelError::Unsupported { .. }
        ),
        "{e}"
    );
    let e = e.to_string();
    eprintln!("{e}");
    e
}

/// Each lowered operator is a chain of existing operators, named after the ONNX node (the one
/// giving its output keeps the node's name), and its f64 graph agrees with tract.
#[test]
fn lowered_operators_and_their_names() {
    let x: Vec<f64> = (0..12).map(|i| (i as f64 - 5.5) * 0.7).collect();
    let cases: Vec<(pb::ModelProto, Vec<&str>)> = vec![
        (
            one("Elu", vec![], vec![]),
            vec!["/op/relu", "/op/exp_part", "/op"],
        ),
        (
            one("HardSwish", vec![], vec![]),
            vec!["/op/hard_sigmoid_linear", "/op/hard_sigmoid_clip", "/op"],
        ),
        (
            one("PRelu", vec![f32s("s", &[3, 1], &[0.1, 0.2, 0.3])], vec![]),
            vec!["/op/relu", "/op/negative_part", "/op/scale", "/op"],
        ),
        (
            one("Pow", vec![f32s("e", &[], &[4.0])], vec![]),
            vec!["/op/pow2", "/op"],
        ),
        (
            one(
                "LayerNormalization",
                vec![f32s("w", &[4], &[1.0; 4])],
                vec![],
            ),
            vec![
                "/op/mean",
                "/op/centered",
                "/op/square",
                "/op/variance",
                "/op/variance_eps",
                "/op/std",
                "/op/std_floor",
                "/op",
            ],
        ),
    ];
    for (m, names) in cases {
        let g = load(&m).unwrap();
        let got: Vec<&str> = g.nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(got, names);
        let op = &m.graph.as_ref().unwrap().node[0].op_type;
        assert!(g.nodes.iter().all(|n| &n.onnx_op == op));
        let ours = g.run_f64(&Tensor::new(vec![1, 3, 4], x.clone())).unwrap();
        let theirs = TractReference::from_proto(&m, &g.input_shape)
            .unwrap()
            .run(&x)
            .unwrap();
        let mag = theirs[0].iter().fold(1.0f64, |m, v| m.max(v.abs()));
        let err = ours[g.outputs[0]]
            .data
            .iter()
            .zip(&theirs[0])
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max)
            / mag;
        assert!(err < 1e-6, "{op}: f64 vs tract (f32) {err} · max(1, |y|)");
    }
    // Pow(x, 1), Sum of one input and an Expand that grows nothing are the input itself
    let m = model(
        13,
        &[1, 4],
        vec![f32s("one", &[], &[1.0])],
        vec![
            ("/pow", "Pow", vec!["input", "one"], vec![], 1),
            ("/sum", "Sum", vec!["/pow_output_0"], vec![], 1),
            ("/relu", "Relu", vec!["/sum_output_0"], vec![], 1),
        ],
    );
    let g = load(&m).unwrap();
    assert_eq!(g.nodes.len(), 1);
    assert!(matches!(g.nodes[0].op, Op::Unary(_)));
}

#[test]
fn refusals_name_the_node_and_the_reason() {
    let cases: Vec<(&str, pb::ModelProto)> = vec![
        (
            "different values",
            one("Pow", vec![f32s("e", &[4], &[2.0, 3.0, 2.0, 2.0])], vec![]),
        ),
        (
            "not positive",
            model(
                15,
                &[1, 4],
                vec![f32s("b", &[], &[-2.0])],
                vec![("/op", "Pow", vec!["b", "input"], vec![], 1)],
            ),
        ),
        (
            "both the base and the exponent",
            model(
                15,
                &[1, 4],
                vec![],
                vec![
                    ("/relu", "Relu", vec!["input"], vec![], 1),
                    ("/op", "Pow", vec!["input", "/relu_output_0"], vec![], 1),
                ],
            ),
        ),
        (
            "the slope (input #1) must be a constant",
            model(
                15,
                &[1, 4],
                vec![],
                vec![
                    ("/relu", "Relu", vec!["input"], vec![], 1),
                    ("/op", "PRelu", vec!["input", "/relu_output_0"], vec![], 1),
                ],
            ),
        ),
        (
            "does not broadcast",
            one("PRelu", vec![f32s("s", &[2], &[0.1, 0.2])], vec![]),
        ),
        (
            "approximate = \"erf\"",
            one("Gelu", vec![], vec![attr_s("approximate", "erf")]),
        ),
        ("alpha = 0", one("Celu", vec![], vec![attr_f("alpha", 0.0)])),
        (
            "at most 2^20",
            one("Elu", vec![], vec![attr_f("alpha", 1e7)]),
        ),
        (
            "epsilon = 0",
            one(
                "LayerNormalization",
                vec![f32s("w", &[4], &[1.0; 4])],
                vec![attr_f("epsilon", 0.0)],
            ),
        ),
        (
            "axis 5 out of range",
            one(
                "LayerNormalization",
                vec![f32s("w", &[4], &[1.0; 4])],
                vec![attr_i("axis", 5)],
            ),
        ),
        (
            "Scale of shape [3]",
            one(
                "LayerNormalization",
                vec![f32s("w", &[3], &[1.0; 3])],
                vec![],
            ),
        ),
        (
            "its output #1",
            model(
                17,
                &[1, 4],
                vec![f32s("w", &[4], &[1.0; 4])],
                vec![
                    ("/op", "LayerNormalization", vec!["input", "w"], vec![], 2),
                    (
                        "/add",
                        "Add",
                        vec!["/op_output_0", "/op_output_1"],
                        vec![],
                        1,
                    ),
                ],
            ),
        ),
        (
            "does not broadcast to [2, 5]",
            model(
                13,
                &[1, 4],
                vec![pb::TensorProto {
                    name: "s".into(),
                    dims: vec![2],
                    data_type: 7,
                    int64_data: vec![2, 5],
                    ..Default::default()
                }],
                vec![
                    ("/relu", "Relu", vec!["input"], vec![], 1),
                    ("/op", "Expand", vec!["/relu_output_0", "s"], vec![], 1),
                ],
            ),
        ),
        (
            "defined on float tensors",
            model(
                13,
                &[1, 4],
                vec![],
                vec![
                    ("/cast", "Cast", vec!["input"], vec![attr_i("to", 7)], 1),
                    ("/op", "Softplus", vec!["/cast_output_0"], vec![], 1),
                ],
            ),
        ),
    ];
    for (want, m) in cases {
        let e = message(&m);
        assert!(e.contains(want) && e.contains("\"/op\""), "{want}: {e}");
    }
}

/// testdata/models/lowered: `LayerNormalization(Gelu(x))` over the last axis of a [1, 2, 8]
/// input, with a scale and a bias, opset 20 (Gelu's).
fn lowered_model() -> pb::ModelProto {
    let w: Vec<f32> = (0..8).map(|i| 0.75 + 0.0625 * i as f32).collect();
    let b: Vec<f32> = (0..8).map(|i| 0.125 * i as f32 - 0.5).collect();
    model(
        20,
        &[1, 2, 8],
        vec![f32s("ln.weight", &[8], &w), f32s("ln.bias", &[8], &b)],
        vec![
            ("/act/Gelu", "Gelu", vec!["input"], vec![], 1),
            (
                "/ln/LayerNormalization",
                "LayerNormalization",
                vec!["/act/Gelu_output_0", "ln.weight", "ln.bias"],
                vec![attr_i("axis", -1), attr_f("epsilon", 1e-5)],
                1,
            ),
        ],
    )
}

fn sample() -> Vec<f64> {
    (0..16)
        .map(|i| ((i * 37 % 16) as f64 - 7.5) * 0.4)
        .collect()
}

#[test]
fn lowered_testdata_is_current() {
    let dir = testdata_is_current("lowered", &lowered_model(), &sample());
    let g = Graph::from_path(&dir.join("network.onnx")).unwrap();
    let ops: Vec<&str> = g.nodes.iter().map(|n| n.onnx_op.as_str()).collect();
    assert_eq!(
        ops,
        [&["Gelu"; 2][..], &["LayerNormalization"; 10][..]].concat()
    );
    let cal: Vec<Tensor<f64>> = default_calibration(16, Some(&sample()))
        .into_iter()
        .map(|v| Tensor::new(vec![1, 2, 8], v))
        .collect();
    let p = compile(&g, &Calibration::run(&g, &cal).unwrap()).unwrap();
    assert_eq!(p.n_ops(), 12);
}

/// testdata/models/lowered_array: the data-movement and exact lowerings in one chain on a
/// [1, 8, 2, 2] input (opset 18): DepthToSpace (blocksize 2) -> Pad reflect (1 on each side of
/// H and W) -> CumSum over W -> Einsum `bchw,bcgw->bchg` of the result with itself -> Round.
fn lowered_array_model() -> pb::ModelProto {
    model(
        18,
        &[1, 8, 2, 2],
        vec![
            ints("pads", &[8], &[0, 0, 1, 1, 0, 0, 1, 1]),
            ints("axis", &[], &[3]),
        ],
        vec![
            (
                "/d2s",
                "DepthToSpace",
                vec!["input"],
                vec![attr_i("blocksize", 2), attr_s("mode", "DCR")],
                1,
            ),
            (
                "/pad",
                "Pad",
                vec!["/d2s_output_0", "pads"],
                vec![attr_s("mode", "reflect")],
                1,
            ),
            (
                "/cumsum",
                "CumSum",
                vec!["/pad_output_0", "axis"],
                vec![],
                1,
            ),
            (
                "/einsum",
                "Einsum",
                vec!["/cumsum_output_0", "/cumsum_output_0"],
                vec![attr_s("equation", "bchw,bcgw->bchg")],
                1,
            ),
            ("/round", "Round", vec!["/einsum_output_0"], vec![], 1),
        ],
    )
}

fn array_sample() -> Vec<f64> {
    (0..32)
        .map(|i| ((i * 13 % 32) as f64 - 15.5) * 0.0625)
        .collect()
}

#[test]
fn lowered_array_testdata_is_current() {
    testdata_is_current("lowered_array", &lowered_array_model(), &array_sample());
}

/// testdata/models/lowered_index: the index lowerings chained on a [1, 6] input (opset 18):
/// `(v, i) = TopK(x, 3)`, `h = Div(i, 2)` (integers, truncating), `s = ScatterElements(x, i,
/// v + Cast(h))` on axis 1, `g = GatherND(Reshape(s, [6, 1]), Unsqueeze(i, 2))`, then
/// `Asin(Sin(Atan(Log(Abs(g)))))`: the computed indices feed a scatter and a gather.
fn lowered_index_model() -> pb::ModelProto {
    model(
        18,
        &[1, 6],
        vec![
            ints("k", &[1], &[3]),
            ints("two", &[], &[2]),
            ints("rows", &[2], &[6, 1]),
            ints("axes", &[1], &[2]),
            ints("out_shape", &[2], &[1, 3]),
        ],
        vec![
            (
                "/topk",
                "TopK",
                vec!["input", "k"],
                vec![attr_i("axis", -1)],
                2,
            ),
            ("/half", "Div", vec!["/topk_output_1", "two"], vec![], 1),
            (
                "/half_f",
                "Cast",
                vec!["/half_output_0"],
                vec![attr_i("to", 1)],
                1,
            ),
            (
                "/upd",
                "Add",
                vec!["/topk_output_0", "/half_f_output_0"],
                vec![],
                1,
            ),
            (
                "/scatter",
                "ScatterElements",
                vec!["input", "/topk_output_1", "/upd_output_0"],
                vec![attr_i("axis", 1)],
                1,
            ),
            (
                "/rows",
                "Reshape",
                vec!["/scatter_output_0", "rows"],
                vec![],
                1,
            ),
            (
                "/idx",
                "Unsqueeze",
                vec!["/topk_output_1", "axes"],
                vec![],
                1,
            ),
            (
                "/gather",
                "GatherND",
                vec!["/rows_output_0", "/idx_output_0"],
                vec![],
                1,
            ),
            (
                "/flat",
                "Reshape",
                vec!["/gather_output_0", "out_shape"],
                vec![],
                1,
            ),
            ("/abs", "Abs", vec!["/flat_output_0"], vec![], 1),
            ("/log", "Log", vec!["/abs_output_0"], vec![], 1),
            ("/atan", "Atan", vec!["/log_output_0"], vec![], 1),
            ("/sin", "Sin", vec!["/atan_output_0"], vec![], 1),
            ("/asin", "Asin", vec!["/sin_output_0"], vec![], 1),
        ],
    )
}

fn index_sample() -> Vec<f64> {
    vec![0.75, -1.5, 2.25, 0.5, -0.25, 1.25]
}

#[test]
fn lowered_index_testdata_is_current() {
    let dir = testdata_is_current("lowered_index", &lowered_index_model(), &index_sample());
    let (_, p) = compile_proto(&lowered_index_model(), &index_sample()).unwrap();
    let onnx: std::collections::BTreeSet<&str> = p.ops.iter().map(|n| n.onnx_op.as_str()).collect();
    for op in [
        "TopK",
        "Div",
        "ScatterElements",
        "GatherND",
        "Log",
        "Atan",
        "Sin",
        "Asin",
    ] {
        assert!(onnx.contains(op), "{op} lowered into the program: {onnx:?}");
    }
    assert!(dir.join("input.json").exists());
}

/// testdata/models/lowered_windows: the 3-D and pooling lowerings chained on a [1, 2, 4, 5, 5]
/// input (opset 18): Conv3d (pads, a stride on height), MaxPool3d, AveragePool3d (depth
/// padding, count_include_pad 0), a Reshape to [1, 4, 8], ConvTranspose1d (stride 2), LpPool1d
/// (p 2), GlobalLpPool (p 1) and GlobalMaxPool.
fn lowered_windows_model() -> pb::ModelProto {
    let weights = |name: &str, dims: &[i64], seed: usize| {
        let n: i64 = dims.iter().product();
        let v: Vec<f32> = (0..n as usize)
            .map(|i| ((i * 37 + seed) % 17) as f32 / 16.0 - 0.5)
            .collect();
        f32s(name, dims, &v)
    };
    let ints_attr = |name: &str, v: &[i64]| pb::AttributeProto {
        name: name.into(),
        r#type: pb::attribute_proto::AttributeType::Ints as i32,
        ints: v.to_vec(),
        ..Default::default()
    };
    model(
        18,
        &[1, 2, 4, 5, 5],
        vec![
            weights("w3", &[4, 2, 2, 3, 3], 3),
            weights("b3", &[4], 5),
            ints("flat", &[3], &[1, 4, 8]),
            weights("wt", &[4, 2, 3], 7),
        ],
        vec![
            (
                "/conv3d",
                "Conv",
                vec!["input", "w3", "b3"],
                vec![
                    ints_attr("pads", &[1, 1, 1, 0, 1, 1]),
                    ints_attr("strides", &[1, 2, 1]),
                ],
                1,
            ),
            (
                "/maxpool3d",
                "MaxPool",
                vec!["/conv3d_output_0"],
                vec![
                    ints_attr("kernel_shape", &[2, 2, 2]),
                    ints_attr("strides", &[2, 1, 2]),
                ],
                1,
            ),
            (
                "/avgpool3d",
                "AveragePool",
                vec!["/maxpool3d_output_0"],
                vec![
                    ints_attr("kernel_shape", &[2, 1, 1]),
                    ints_attr("pads", &[1, 0, 0, 0, 0, 0]),
                ],
                1,
            ),
            (
                "/flat",
                "Reshape",
                vec!["/avgpool3d_output_0", "flat"],
                vec![],
                1,
            ),
            (
                "/deconv1d",
                "ConvTranspose",
                vec!["/flat_output_0", "wt"],
                vec![ints_attr("strides", &[2])],
                1,
            ),
            (
                "/lppool1d",
                "LpPool",
                vec!["/deconv1d_output_0"],
                vec![ints_attr("kernel_shape", &[3]), ints_attr("strides", &[2])],
                1,
            ),
            (
                "/globallp",
                "GlobalLpPool",
                vec!["/lppool1d_output_0"],
                vec![attr_i("p", 1)],
                1,
            ),
            (
                "/globalmax",
                "GlobalMaxPool",
                vec!["/globallp_output_0"],
                vec![],
                1,
            ),
        ],
    )
}

fn windows_sample() -> Vec<f64> {
    (0..200)
        .map(|i| ((i * 29) % 23) as f64 / 8.0 - 1.375)
        .collect()
}

#[test]
fn lowered_windows_testdata_is_current() {
    let dir = testdata_is_current(
        "lowered_windows",
        &lowered_windows_model(),
        &windows_sample(),
    );
    let (_, p) = compile_proto(&lowered_windows_model(), &windows_sample()).unwrap();
    let onnx: std::collections::BTreeSet<&str> = p.ops.iter().map(|n| n.onnx_op.as_str()).collect();
    for op in [
        "Conv",
        "MaxPool",
        "AveragePool",
        "ConvTranspose",
        "LpPool",
        "GlobalLpPool",
        "GlobalMaxPool",
    ] {
        assert!(onnx.contains(op), "{op} lowered into the program: {onnx:?}");
    }
    assert!(dir.join("input.json").exists());
}

/// testdata/models/`name` holds `proto` and `sample` as its input.json, byte for byte (written
/// there when ZKOPML_WRITE_TESTDATA is set); returns the directory.
fn testdata_is_current(name: &str, proto: &pb::ModelProto, sample: &[f64]) -> PathBuf {
    let bytes = proto.encode_to_vec();
    let input = serde_json::json!({ "input_data": [sample] }).to_string();
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/models")
        .join(name);
    if std::env::var_os("ZKOPML_WRITE_TESTDATA").is_some() {
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("network.onnx"), &bytes).unwrap();
        std::fs::write(dir.join("input.json"), format!("{input}\n")).unwrap();
    }
    let on_disk = std::fs::read(dir.join("network.onnx"))
        .unwrap_or_else(|_| panic!("testdata/models/{name}: run with ZKOPML_WRITE_TESTDATA=1"));
    assert!(
        on_disk == bytes,
        "testdata/models/{name}/network.onnx is stale: rerun with ZKOPML_WRITE_TESTDATA=1"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("input.json"))
            .unwrap()
            .trim_end(),
        input
    );
    dir
}

fn compile_proto(
    proto: &pb::ModelProto,
    sample: &[f64],
) -> zkopml_model::Result<(Graph, zkopml_model::Program)> {
    let dir = std::env::temp_dir().join(format!("zkopml-masks-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{}.onnx", proto.graph.as_ref().unwrap().node.len()));
    std::fs::write(&path, proto.encode_to_vec()).unwrap();
    zkopml_model::compile_onnx(&path, &default_calibration(sample.len(), Some(sample)))
}

/// An additive attention mask of `finfo(float32).min` (Hugging Face's) is bounded at compile
/// time to the power of two at or above 4A + 32 (A: the largest Softmax input calibration sees),
/// which still weighs the masked positions 0; a sentinel used other than as such a mask (here
/// `Min(1000·x, finfo.max)`, which the bound would clip) is refused at compile time.
#[test]
fn mask_sentinels_are_bounded_and_refused_where_the_bound_changes_the_output() {
    let sample = [0.5, -0.3, 0.9, 0.1];
    let masked = model(
        17,
        &[1, 4],
        vec![f32s("mask", &[1, 4], &[0.0, 0.0, f32::MIN, f32::MIN])],
        vec![
            ("/add", "Add", vec!["input", "mask"], vec![], 1),
            (
                "/softmax",
                "Softmax",
                vec!["/add_output_0"],
                vec![attr_i("axis", -1)],
                1,
            ),
        ],
    );
    let (g, _) = compile_proto(&masked, &sample).unwrap();
    let Operand::Const(c) = &g.nodes[0].inputs[1] else {
        panic!("the mask is a constant operand")
    };
    let bound = -c.tensor.data[2];
    assert_eq!(bound, zkopml_model::mask_bound(1.2), "{:?}", c.tensor.data);
    assert!(bound <= 64.0);
    let y = &g
        .run_f64(&Tensor::new(vec![1, 4], sample.to_vec()))
        .unwrap()[2];
    assert!(y.data[2] < 1e-20 && y.data[3] < 1e-20 && (y.data[0] + y.data[1] - 1.0).abs() < 1e-12);

    let misused = model(
        17,
        &[1, 4],
        vec![f32s("k", &[], &[1000.0]), f32s("big", &[], &[f32::MAX])],
        vec![
            ("/scale", "Mul", vec!["input", "k"], vec![], 1),
            ("/min", "Min", vec!["/scale_output_0", "big"], vec![], 1),
            (
                "/softmax",
                "Softmax",
                vec!["input"],
                vec![attr_i("axis", -1)],
                1,
            ),
            (
                "/sum",
                "Add",
                vec!["/min_output_0", "/softmax_output_0"],
                vec![],
                1,
            ),
        ],
    );
    let e = compile_proto(&misused, &sample).unwrap_err().to_string();
    assert!(
        e.contains("mask sentinels") && e.contains("changes the output"),
        "{e}"
    );
}
