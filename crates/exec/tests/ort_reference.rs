//! Models with onnxruntime's outputs beside them (reference.json: 100 inputs and the outputs):
//! scikit-learn models exported by skl2onnx (testdata/models/sklearn, built by
//! scripts/models/sklearn.sh) and converted by hummingbird into tensor operations
//! (testdata/models/hummingbird, scripts/models/hummingbird.sh: GEMM, tree traversal and
//! perfect tree traversal strategies), Keras models converted by tf2onnx (testdata/models/keras,
//! scripts/models/keras.sh), and the 1-D audio CNN (testdata/models/conv1d_audio,
//! scripts/models/conv1d_audio.py), ResNet-18 and a U-Net exported by torch
//! (testdata/models/resnet18_small, unet_small, scripts/models/vision.py), the recurrent classifier (testdata/models/lstm_gru,
//! scripts/models/recurrent.py), each compiled as a user would (calibrated on the sample input
//! and its jittered copies) and run in fixed point on the 100 inputs: classifiers' labels agree
//! on at least 99 of 100 and their probabilities within 1e-2; regressors within 1e-3 of the
//! largest |y|; the CNN's logits agree on the top class for 99 of 100.

use std::path::PathBuf;

use zkopml_exec::{dequantise, quantise_input, run, Engine};
use zkopml_model::input::read_input_json;
use zkopml_model::{compile_onnx, default_calibration};

/// testdata/models/<name>; a name starting with "../../target/models/" is a full-size model
/// that `bash scripts/models/transformers.sh --full target/models` built.
fn dir(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/models")
        .join(name)
}

struct Reference {
    inputs: Vec<Vec<f64>>,
    outputs: Vec<Vec<Vec<f64>>>,
}

fn reference(name: &str) -> Reference {
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir(name).join("reference.json")).unwrap())
            .unwrap();
    let rows = |v: &serde_json::Value| -> Vec<Vec<f64>> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|r| {
                r.as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_f64().unwrap())
                    .collect()
            })
            .collect()
    };
    Reference {
        inputs: rows(&v["inputs"]),
        outputs: v["outputs"].as_array().unwrap().iter().map(rows).collect(),
    }
}

/// Runs every reference input; returns (fixed outputs per graph output, per input).
fn fixed(name: &str) -> (Reference, Vec<Vec<Vec<f64>>>, Vec<&'static str>) {
    let onnx = dir(name).join("network.onnx");
    let sample = read_input_json(&dir(name).join("input.json")).unwrap();
    let (_, p) = compile_onnx(&onnx, &default_calibration(sample.len(), Some(&sample))).unwrap();
    let kinds: Vec<&'static str> = p.ops.iter().map(|n| n.op.kind()).collect();
    let r = reference(name);
    let engine = Engine::new(&p);
    let outs = r
        .inputs
        .iter()
        .map(|x| {
            let q = quantise_input(&p, x).unwrap();
            let t = run(&p, q.clone()).unwrap();
            assert_eq!(&engine.infer(q).unwrap(), t.output(), "{name}: honest path");
            p.outputs
                .iter()
                .map(|&s| dequantise(&t.slots[s], p.slot_spec(s).scale))
                .collect()
        })
        .collect();
    (r, outs, kinds)
}

fn classifier(name: &str) {
    let (r, outs, kinds) = fixed(name);
    let mut agree = 0;
    let mut worst: f64 = 0.0;
    for (i, o) in outs.iter().enumerate() {
        agree += (o[0][0] == r.outputs[0][i][0]) as usize;
        for (a, b) in o[1].iter().zip(&r.outputs[1][i]) {
            worst = worst.max((a - b).abs());
        }
    }
    eprintln!(
        "{name}: ops {kinds:?}; labels agree {agree}/100, probabilities max error {worst:.2e}"
    );
    assert!(agree >= 99, "{name}: labels agree on {agree} of 100");
    assert!(worst <= 1e-2, "{name}: probability error {worst}");
}

fn regressor(name: &str) {
    let (r, outs, kinds) = fixed(name);
    let mag = r.outputs[0]
        .iter()
        .flatten()
        .fold(1.0f64, |m, v| m.max(v.abs()));
    let mut worst: f64 = 0.0;
    for (i, o) in outs.iter().enumerate() {
        for (a, b) in o[0].iter().zip(&r.outputs[0][i]) {
            worst = worst.max((a - b).abs());
        }
    }
    eprintln!("{name}: ops {kinds:?}; max error {worst:.2e} (max |y| {mag:.1})");
    assert!(
        worst <= 1e-3 * mag,
        "{name}: error {worst} against max |y| {mag}"
    );
}

#[test]
fn gradient_boosting_classifier_agrees_with_onnxruntime() {
    classifier("sklearn/gb_classifier");
}

#[test]
fn random_forest_classifier_agrees_with_onnxruntime() {
    classifier("sklearn/rf_classifier");
}

#[test]
fn gradient_boosting_regressor_agrees_with_onnxruntime() {
    regressor("sklearn/gb_regressor");
}

#[test]
fn random_forest_regressor_agrees_with_onnxruntime() {
    regressor("sklearn/rf_regressor");
}

#[test]
fn scaled_logistic_regression_with_zipmap_agrees_with_onnxruntime() {
    classifier("sklearn/scaled_logistic");
}

#[test]
fn normalized_linear_regression_agrees_with_onnxruntime() {
    regressor("sklearn/normalized_linear");
}

/// hummingbird's three tree strategies for a gradient-boosted and a random-forest classifier:
/// plain tensor operations (Gemm with a constant A, MatMul, GatherElements, Where ...), no
/// ai.onnx.ml operator.
#[test]
fn hummingbird_tree_ensembles_agree_with_onnxruntime() {
    for model in ["gb", "rf"] {
        for strategy in ["gemm", "tree_trav", "perf_tree_trav"] {
            classifier(&format!("hummingbird/{model}_{strategy}"));
        }
    }
}

fn argmax(v: &[f64]) -> usize {
    v.iter()
        .enumerate()
        .fold(0, |best, (i, &x)| if x > v[best] { i } else { best })
}

/// A classifier's logits: the top class agrees with onnxruntime's on at least 99 of the 100
/// inputs; prints the agreement and the largest logit error.
fn logits_top1(name: &str) {
    let (r, outs, kinds) = fixed(name);
    let mut agree = 0;
    let mut worst: f64 = 0.0;
    let mut mag: f64 = 0.0;
    for (i, o) in outs.iter().enumerate() {
        agree += (argmax(&o[0]) == argmax(&r.outputs[0][i])) as usize;
        for (a, b) in o[0].iter().zip(&r.outputs[0][i]) {
            worst = worst.max((a - b).abs());
            mag = mag.max(b.abs());
        }
    }
    eprintln!("{name}: {} ops {kinds:?}; top-1 agrees {agree}/100, logits max error {worst:.2e} (max |logit| {mag:.3})", kinds.len());
    assert!(agree >= 99, "{name}: top-1 agrees on {agree} of 100");
}

#[test]
fn conv1d_audio_cnn_agrees_with_onnxruntime() {
    logits_top1("conv1d_audio");
}

/// Keras models converted by tf2onnx (testdata/models/keras, scripts/models/keras.sh): an NHWC
/// CNN (Transposes around the Convs, BatchNormalization, DepthwiseConv2D with ReLU6, swish,
/// GELU, softmax) and a Conv1D + LSTM sequence classifier; the class probabilities' top-1.
#[test]
fn keras_models_agree_with_onnxruntime() {
    logits_top1("keras/cnn");
    logits_top1("keras/sequence");
}

/// torchvision's ResNet-18 architecture at width 8 on 32x32 images, exported by
/// torch.onnx.export (scripts/models/vision.py): BatchNorms folded into the Convs, the residual
/// Adds, the strided 1x1 shortcuts, the global average pool.
#[test]
fn resnet18_small_agrees_with_onnxruntime() {
    logits_top1("resnet18_small");
}

/// A U-Net (scripts/models/vision.py) with a ConvTranspose, a bilinear Upsample (Resize linear)
/// and skip Concats: the per-pixel class (argmax over the 2 output channels) agrees with
/// onnxruntime's on at least 99% of the pixels of the 100 inputs, and the logits within 1e-2 of
/// the largest.
#[test]
fn unet_small_segmentation_agrees_with_onnxruntime() {
    let (r, outs, kinds) = fixed("unet_small");
    let (mut agree, mut pixels, mut worst, mut mag) = (0usize, 0usize, 0f64, 0f64);
    for (i, o) in outs.iter().enumerate() {
        let (got, want) = (&o[0], &r.outputs[0][i]);
        let hw = got.len() / 2;
        for p in 0..hw {
            agree += ((got[p] > got[hw + p]) == (want[p] > want[hw + p])) as usize;
            pixels += 1;
        }
        for (a, b) in got.iter().zip(want) {
            worst = worst.max((a - b).abs());
            mag = mag.max(b.abs());
        }
    }
    eprintln!("unet_small: {} ops {kinds:?}; pixel classes agree {agree}/{pixels}, logits max error {worst:.2e} (max |logit| {mag:.3})", kinds.len());
    assert!(
        agree * 100 >= pixels * 99,
        "unet_small: {agree} of {pixels} pixels agree"
    );
    assert!(
        worst <= 1e-2 * mag,
        "unet_small: logits error {worst} (max {mag})"
    );
}

fn cosine(a: &[f64], b: &[f64]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
    dot / (norm(a) * norm(b))
}

/// An embedding model (one output vector per input): cosine similarity to onnxruntime's output
/// at least `min_cosine` on every one of the 100 inputs; prints min and mean, and max error.
fn embedding(name: &str, min_cosine: f64) {
    let (r, outs, kinds) = fixed(name);
    let (mut low, mut sum, mut worst, mut mag) = (1f64, 0f64, 0f64, 0f64);
    for (i, o) in outs.iter().enumerate() {
        let c = cosine(&o[0], &r.outputs[0][i]);
        low = low.min(c);
        sum += c;
        for (a, b) in o[0].iter().zip(&r.outputs[0][i]) {
            worst = worst.max((a - b).abs());
            mag = mag.max(b.abs());
        }
    }
    eprintln!(
        "{name}: {} ops; cosine min {low:.6} mean {:.6}; max error {worst:.2e} (max |y| {mag:.3})",
        kinds.len(),
        sum / outs.len() as f64
    );
    assert!(
        low >= min_cosine,
        "{name}: cosine similarity {low} < {min_cosine}"
    );
}

/// GTE's architecture (a BERT encoder, mean-pooled; scripts/models/transformers.sh) at a tiny
/// size, exported by torch.onnx.export with token ids and an attention mask as inputs.
#[test]
fn gte_tiny_embedding_agrees_with_onnxruntime() {
    embedding("gte_tiny", 0.999);
}

/// A decoder step's logits: top-1 agreement with onnxruntime on at least 99 of 100 inputs, and
/// cosine similarity of the logits at least `min_cosine`.
fn decoder_logits(name: &str, min_cosine: f64) {
    let (r, outs, kinds) = fixed(name);
    let (mut agree, mut low, mut worst) = (0, 1f64, 0f64);
    for (i, o) in outs.iter().enumerate() {
        agree += (argmax(&o[0]) == argmax(&r.outputs[0][i])) as usize;
        low = low.min(cosine(&o[0], &r.outputs[0][i]));
        for (a, b) in o[0].iter().zip(&r.outputs[0][i]) {
            worst = worst.max((a - b).abs());
        }
    }
    eprintln!(
        "{name}: {} ops; top-1 agrees {agree}/100; cosine min {low:.6}; max error {worst:.2e}",
        kinds.len()
    );
    assert!(agree >= 99, "{name}: top-1 agrees on {agree} of 100");
    assert!(
        low >= min_cosine,
        "{name}: cosine similarity {low} < {min_cosine}"
    );
}

/// A PyTorch LSTM then bidirectional GRU sequence classifier (scripts/models/recurrent.py),
/// unrolled over its 6 steps (lower/rec.rs).
#[test]
fn lstm_gru_classifier_agrees_with_onnxruntime() {
    decoder_logits("lstm_gru", 0.999);
}

/// T5's architecture (relative position buckets, RMS norm, an encoder and one decoder step with
/// cross-attention) at a tiny size.
#[test]
fn t5_tiny_decoder_step_agrees_with_onnxruntime() {
    decoder_logits("t5_tiny", 0.999);
}

/// Whisper's architecture (log-mel input, two Conv1d + GELU, an encoder and one decoder step) at
/// a tiny size.
#[test]
fn whisper_tiny_decoder_step_agrees_with_onnxruntime() {
    decoder_logits("whisper_tiny", 0.999);
}

/// The full-size transformers (GTE-small, T5-small, Whisper-tiny with random weights), when
/// `bash scripts/models/transformers.sh --full target/models` has built them (hundreds of MB:
/// not in CI). `cargo test --release -p zkopml-exec --test ort_reference -- --ignored`.
#[test]
#[ignore]
fn full_size_transformers_agree_with_onnxruntime() {
    let built = |m: &str| {
        dir(&format!("../../target/models/{m}"))
            .join("reference.json")
            .exists()
    };
    let mut ran = 0;
    if built("gte") {
        embedding("../../target/models/gte", 0.999);
        ran += 1;
    }
    for m in ["t5", "whisper"] {
        if built(m) {
            decoder_logits(&format!("../../target/models/{m}"), 0.999);
            ran += 1;
        }
    }
    assert!(
        ran > 0,
        "no full-size model is built (scripts/models/transformers.sh --full target/models)"
    );
}
