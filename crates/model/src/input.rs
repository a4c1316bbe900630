//! Model inputs: EZKL's input.json (`{"input_data": [[...]]}`), a bare (nested) array, and the
//! deterministic synthetic inputs used for calibration and accuracy measurements.

use std::path::Path;

use crate::error::{ModelError, Result};
use crate::onnx::DType;
use crate::program::InputPart;

/// Reads every input of an input.json as one flat list of numbers: the inputs one after the
/// other, in the order of the model's graph inputs (slot 0 of a model with several inputs).
pub fn read_input_json(path: &Path) -> Result<Vec<f64>> {
    let text = std::fs::read_to_string(path).map_err(|source| ModelError::Io {
        path: path.display().to_string(),
        source,
    })?;
    parse_input_json(&text).map_err(|e| match e {
        ModelError::Input(m) => ModelError::Input(format!("{}: {m}", path.display())),
        other => other,
    })
}

pub fn parse_input_json(text: &str) -> Result<Vec<f64>> {
    let v: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| ModelError::Input(format!("not valid JSON: {e}")))?;
    let data = match &v {
        serde_json::Value::Object(m) => {
            let d = m
                .get("input_data")
                .ok_or_else(|| ModelError::Input("no \"input_data\" field".into()))?;
            match d {
                other => other,
            }
        }
        other => other,
    };
    let mut out = Vec::new();
    flatten(data, &mut out)?;
    if out.is_empty() {
        return Err(ModelError::Input("the input holds no values".into()));
    }
    Ok(out)
}

fn flatten(v: &serde_json::Value, out: &mut Vec<f64>) -> Result<()> {
    match v {
        serde_json::Value::Array(a) => a.iter().try_for_each(|x| flatten(x, out)),
        serde_json::Value::Number(n) => {
            out.push(
                n.as_f64()
                    .ok_or_else(|| ModelError::Input(format!("{n} is not a finite number")))?,
            );
            Ok(())
        }
        serde_json::Value::Bool(b) => {
            out.push(*b as u8 as f64);
            Ok(())
        }
        other => Err(ModelError::Input(format!(
            "expected numbers, found {other}"
        ))),
    }
}

/// Calibration and accuracy sets jitter real-valued inputs only: an integer or boolean input
/// (token ids, indices, a mask) whose values in a set are not integers (or not 0/1), as a
/// jittered copy's are, takes the values of `base` there (0 without one), since a jittered index
/// is not a nearby input but another one, or out of range. Sets given with valid values (a
/// user's calibration files) are kept as they are.
pub fn hold_discrete_inputs(sets: &mut [Vec<f64>], base: Option<&[f64]>, parts: &[InputPart]) {
    for part in parts.iter().filter(|p| p.dtype != DType::Float) {
        let range = part.offset..part.offset + part.numel();
        let valid = |v: &f64| match part.dtype {
            DType::Bool => *v == 0.0 || *v == 1.0,
            _ => v.fract() == 0.0,
        };
        let fallback: Vec<f64> = match base {
            Some(b) if b.len() >= range.end && b[range.clone()].iter().all(valid) => {
                b[range.clone()].to_vec()
            }
            _ => vec![0.0; part.numel()],
        };
        for set in sets.iter_mut().filter(|s| s.len() >= range.end) {
            if !set[range.clone()].iter().all(valid) {
                set[range.clone()].copy_from_slice(&fallback);
            }
        }
    }
}

pub fn write_input_json(values: &[f64]) -> String {
    serde_json::json!({ "input_data": [values] }).to_string()
}

/// splitmix64: a tiny, well-known deterministic generator (no dependency, same on every machine).
pub struct SplitMix(pub u64);

impl SplitMix {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform().max(1e-300), self.uniform());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

/// `count` inputs near `base`: each value moved by noise of 0.25 of the base's spread, so the
/// inputs stay in the distribution the model was made for. Without a base: standard normal.
pub fn synthetic_inputs(
    numel: usize,
    base: Option<&[f64]>,
    count: usize,
    seed: u64,
) -> Vec<Vec<f64>> {
    let mut rng = SplitMix(seed);
    let spread = base.map(|b| {
        let mean = b.iter().sum::<f64>() / b.len() as f64;
        let var = b.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / b.len() as f64;
        var.sqrt().max(1e-6)
    });
    (0..count)
        .map(|_| match base {
            Some(b) => b
                .iter()
                .map(|&x| x + 0.25 * spread.unwrap() * rng.normal())
                .collect(),
            None => (0..numel).map(|_| rng.normal()).collect(),
        })
        .collect()
}
