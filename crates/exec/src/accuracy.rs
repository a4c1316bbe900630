//! Fixed-point against float: the accuracy figures of docs/accuracy.md.

use std::path::Path;

use zkopml_model::input::{hold_discrete_inputs, synthetic_inputs};
use zkopml_model::reference::TractReference;
use zkopml_model::Program;

use crate::error::Result;
use crate::run::{dequantise, quantise_input, run};

#[derive(Clone, Debug)]
pub struct AccuracyReport {
    pub inputs: usize,
    /// max |fixed - float| over every output value of every input
    pub max_abs_error: f64,
    /// largest |float| seen, to read the error against
    pub max_abs_output: f64,
    /// inputs whose arg-max of the first output agrees
    pub top1_agree: usize,
}

/// Runs `count` inputs (near `sample`, seeded apart from the calibration set) through the
/// compiled program and through tract in f32, comparing the graph's first output.
pub fn measure(
    onnx: &Path,
    program: &Program,
    sample: Option<&[f64]>,
    count: usize,
) -> Result<AccuracyReport> {
    let parts = program.input_parts();
    let reference = TractReference::load_inputs(
        onnx,
        &parts.iter().map(|p| p.part.clone()).collect::<Vec<_>>(),
    )?;
    // compare the first real-valued output with more than one value (class scores), else the first
    let k = (0..program.outputs.len())
        .find(|&k| {
            let s = program.slot_spec(program.outputs[k]);
            s.dtype == zkopml_model::DType::Float && s.numel() > 1
        })
        .unwrap_or(0);
    let first_out = program.outputs[k];
    let spec = program.slot_spec(first_out).clone();
    let mut rep = AccuracyReport {
        inputs: count,
        max_abs_error: 0.0,
        max_abs_output: 0.0,
        top1_agree: 0,
    };
    let mut sets = synthetic_inputs(program.input.numel(), sample, count, 0xACC0_0001);
    let discrete: Vec<_> = parts.iter().map(|p| p.part.clone()).collect();
    hold_discrete_inputs(&mut sets, sample, &discrete);
    for x in sets {
        let float = reference.run(&x)?.swap_remove(k);
        let trace = run(program, quantise_input(program, &x)?)?;
        let fixed = dequantise(&trace.slots[first_out], spec.scale);
        for (a, b) in fixed.iter().zip(&float) {
            rep.max_abs_error = rep.max_abs_error.max((a - b).abs());
            rep.max_abs_output = rep.max_abs_output.max(b.abs());
        }
        if argmax(&fixed) == argmax(&float) {
            rep.top1_agree += 1;
        }
    }
    Ok(rep)
}

fn argmax(v: &[f64]) -> usize {
    v.iter()
        .enumerate()
        .fold(0, |best, (i, &x)| if x > v[best] { i } else { best })
}
