//! zkopml-model: ONNX loading, graph linearisation, calibration and fixed-point compilation.
//!
//! Data flows one way: `onnx` (protobuf → raw nodes) → `graph` (constants folded by `fold`,
//! operators lowered into existing ones by `lower`, linear, typed ops in f64) → `quant`
//! (calibrated scales) → `program` (the integer program with its hash).

pub mod error;
pub mod fixed;
pub mod fold;
pub mod graph;
pub mod input;
pub mod lower;
pub mod onnx;
pub mod ops;
pub mod program;
pub mod quant;
pub mod reference;
pub mod tensor;
pub mod weights_layout;

pub use error::{ModelError, Result};
pub use graph::{Graph, GraphInput, Node, Operand};
pub use onnx::{Const, DType, RawModel};
pub use ops::Op;
pub use program::{InputPart, Program, ProgramInput, QNode, QOp, QOperand, TensorSpec};
pub use quant::{compile, Calibration};

pub use tensor::Tensor;

/// Load an ONNX file, calibrate on `calibration` inputs and compile: the whole pipeline.
/// With several graph inputs, an integer or boolean input whose values in a calibration set are
/// not integers (a jittered copy) takes the first set's there (`input::hold_discrete_inputs`).
pub fn compile_onnx(path: &std::path::Path, calibration: &[Vec<f64>]) -> Result<(Graph, Program)> {
    let graph = Graph::from_path(path)?;
    for v in calibration {
        if v.len() != graph.input_shape.iter().product::<usize>() {
            return Err(ModelError::Input(format!(
                "a calibration input has {} values, the model expects shape {:?}",
                v.len(),
                graph.input_shape
            )));
        }
    }
    let mut sets = calibration.to_vec();
    if let Some(first) = calibration.first() {
        let parts: Vec<_> = graph.inputs.iter().map(|g| g.part.clone()).collect();
        input::hold_discrete_inputs(&mut sets, Some(first), &parts);
    }
    let inputs: Vec<Tensor<f64>> = sets
        .into_iter()
        .map(|v| Tensor::new(graph.input_shape.clone(), v))
        .collect();
    let graph = bound_mask_sentinels(graph, &inputs)?;
    let cal = Calibration::run(&graph, &inputs)?;
    let program = compile(&graph, &cal)?;
    Ok((graph, program))
}

/// Replaces attention-mask sentinels (`graph::MASK_SENTINEL`) by the power of two at or above
/// `4A + 32`, where `A` is the largest |value| a Softmax reads on the calibration inputs with
/// the masks at 0: a masked score then sits at least `2A + 32 > 16` below every unmasked one
/// while scores stay within `2A + 8` of calibration, so Softmax's exp (0 below -16) gives it
/// weight exactly 0, as the float model does, and the scores keep all but 2-3 bits of scale.
fn bound_mask_sentinels(graph: Graph, inputs: &[Tensor<f64>]) -> Result<Graph> {
    if !graph.has_mask_sentinels() {
        return Ok(graph);
    }
    let unmasked = Calibration::run(&graph.with_sentinels_at(0.0), inputs)?;
    let softmax = graph.softmax_inputs();
    let reach = if softmax.is_empty() {
        unmasked.max_abs.iter().copied().fold(0.0, f64::max)
    } else {
        softmax
            .iter()
            .map(|&s| unmasked.max_abs[s])
            .fold(0.0, f64::max)
    };
    let bound = mask_bound(reach);
    let bounded = graph.with_sentinels_at(bound);
    // The bound must not change what the model computes: on the calibration inputs the graph
    // outputs with the bound equal those with the sentinels themselves (f64 holds finfo.min;
    // an output that is not finite with the true sentinel, a fully -inf row, is not compared).
    for x in inputs.iter().take(4) {
        let (want, got) = (graph.run_f64(x)?, bounded.run_f64(x)?);
        for &o in &graph.outputs {
            let differs = want[o]
                .data
                .iter()
                .zip(&got[o].data)
                .any(|(w, g)| w.is_finite() && (w - g).abs() > 1e-6 * w.abs().max(1.0));
            if differs {
                return Err(ModelError::Calibration(format!(
                    "replacing the mask sentinels (constants of magnitude >= {:e}) by ±{bound} \
                     changes the output of slot {o}: a sentinel is used other than as an \
                     additive mask before a Softmax",
                    graph::MASK_SENTINEL
                )));
            }
        }
    }
    Ok(bounded)
}

/// The mask value for scores of magnitude up to `reach` (see `bound_mask_sentinels`).
pub fn mask_bound(reach: f64) -> f64 {
    (4.0 * reach + 32.0).log2().ceil().exp2()
}

/// The default calibration set: the sample input and 15 deterministic variations of it.
pub fn default_calibration(numel: usize, sample: Option<&[f64]>) -> Vec<Vec<f64>> {
    let mut v: Vec<Vec<f64>> = sample.map(|s| vec![s.to_vec()]).unwrap_or_default();
    v.extend(input::synthetic_inputs(numel, sample, 15, 0xCA11_B4A7));
    v
}
