//! nn: convolutions, pools, BatchNormalization, Softmax and LeakyRelu (tract-onnx's `ops::nn`).
//! `parse` gives None for an operator of another family.

use super::*;

/// The operator of `c`'s node when it belongs to this family.
pub(super) fn parse(c: &Ctx<'_>) -> Result<Option<Parsed>> {
    let opset = c.opset;
    let node = c.node;
    let parsed = match c.node.op_type.as_str() {
        "Conv" => {
            let x = c.shape(0)?.to_vec();
            let w = c.constant(1, "the weight")?;
            if w.tensor.rank() != 4 || x.len() != 4 {
                return Err(c.unsupported(format!(
                    "only 2-D convolutions: input {x:?}, weight {:?}",
                    w.tensor.shape
                )));
            }
            let groups = c.int("group", 1)?.max(1) as usize;
            let (m, cg) = (w.tensor.shape[0], w.tensor.shape[1]);
            if x[1] != cg * groups || m % groups != 0 {
                return Err(c.err(format!(
                    "input has {} channels, weight {:?} with group {groups}",
                    x[1], w.tensor.shape
                )));
            }
            let bias = if c.has(2) {
                let b = c.constant(2, "the bias")?;
                if b.tensor.len() != m {
                    return Err(c.err("bias length differs from output channels"));
                }
                b.tensor.data.clone()
            } else {
                vec![0.0; m]
            };
            let window = c.window(&x, Some([w.tensor.shape[2], w.tensor.shape[3]]))?;
            let [oh, ow] = window
                .out_hw(x[2], x[3])
                .ok_or_else(|| c.err("kernel larger than padded input"))?;
            first_float(
                vec![x[0], m, oh, ow],
                Op::Conv {
                    weight: w.tensor.clone(),
                    bias,
                    window,
                    groups,
                },
            )
        }
        "LeakyRelu" => first_float(
            c.shape(0)?.to_vec(),
            Op::LeakyRelu {
                alpha: c.float("alpha", 0.01)?,
            },
        ),
        "Softmax" => {
            let x = c.shape(0)?;
            let legacy = opset < 13;
            let axis = c.axis(c.int("axis", if legacy { 1 } else { -1 })?, x.len())?;
            first_float(x.to_vec(), Op::Softmax { axis, legacy })
        }
        "MaxPool" => {
            if node.outputs.len() > 1 && !node.outputs[1].is_empty() {
                return Err(c.unsupported("the Indices output"));
            }
            let x = c.shape(0)?.to_vec();
            let window = c.window(&x, None)?;
            let [oh, ow] = window
                .out_hw(x[2], x[3])
                .ok_or_else(|| c.err("kernel larger than padded input"))?;
            Ok(Parsed {
                op: Op::MaxPool { window },
                operands: vec![0],
                shape: vec![x[0], x[1], oh, ow],
                dtype: c.input(0)?.dtype(),
            })
        }
        "AveragePool" => {
            let x = c.shape(0)?.to_vec();
            let window = c.window(&x, None)?;
            let [oh, ow] = window
                .out_hw(x[2], x[3])
                .ok_or_else(|| c.err("kernel larger than padded input"))?;
            let count_include_pad = c.int("count_include_pad", 0)? != 0;
            first_float(
                vec![x[0], x[1], oh, ow],
                Op::AveragePool {
                    window,
                    count_include_pad,
                },
            )
        }
        "GlobalAveragePool" => {
            let x = c.shape(0)?;
            if x.len() != 4 {
                return Err(c.unsupported("only rank-4 inputs"));
            }
            first_float(
                vec![x[0], x[1], 1, 1],
                Op::GlobalAveragePool {
                    divisor: x[2] * x[3],
                },
            )
        }
        "BatchNormalization" => {
            let x = c.shape(0)?.to_vec();
            if x.len() < 2 {
                return Err(c.err("input rank must be >= 2"));
            }
            let ch = x[1];
            let get = |i: usize, what: &str| -> Result<Vec<f64>> {
                let t = &c.constant(i, what)?.tensor;
                if t.len() != ch {
                    return Err(c.err(format!("{what} has {} values for {ch} channels", t.len())));
                }
                Ok(t.data.clone())
            };
            let (scale, b, mean, var) = (
                get(1, "scale")?,
                get(2, "B")?,
                get(3, "mean")?,
                get(4, "var")?,
            );
            let eps = c.float("epsilon", 1e-5)?;
            let mul: Vec<f64> = (0..ch).map(|i| scale[i] / (var[i] + eps).sqrt()).collect();
            let add: Vec<f64> = (0..ch).map(|i| b[i] - mean[i] * mul[i]).collect();
            first_float(x, Op::Affine { mul, add })
        }
        _ => return Ok(None),
    };
    parsed.map(Some)
}

pub(super) fn conv_f64(
    x: &Tensor<f64>,
    w: &Tensor<f64>,
    bias: &[f64],
    win: &Window,
    groups: usize,
    out_shape: &[usize],
) -> Vec<f64> {
    use rayon::prelude::*;
    let (m, mg) = (w.shape[0], w.shape[0] / groups);
    // Tasks of `block` output planes of one group (4 when the group's channels allow it: each
    // input row read once feeds four accumulators). Each output still sums its bias, then the
    // terms in (input channel, kernel row, kernel column) order, as a loop per output does, so
    // the values are the same bits; the innermost loop runs along an output row (vectorised
    // when the stride is 1): a calibration run of a ResNet is tens of times faster.
    let block = if mg % 4 == 0 { 4 } else { 1 };
    let geom = ConvGeom {
        c: x.shape[1],
        h: x.shape[2],
        wd: x.shape[3],
        m,
        cg: w.shape[1],
        kh: w.shape[2],
        kw: w.shape[3],
        oh: out_shape[2],
        ow: out_shape[3],
        mg,
        sy: win.strides[0],
        sx: win.strides[1],
        dy: win.dilations[0],
        dx: win.dilations[1],
        py: win.pads[0] as isize,
        px: win.pads[1] as isize,
        block,
    };
    let plane = geom.oh * geom.ow;
    let mut y = vec![0.0; x.shape[0] * m * plane];
    y.par_chunks_mut(block * plane)
        .enumerate()
        .for_each(|(task, out)| {
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU has AVX2 (checked just above)
                unsafe { conv_task_avx2(&geom, x, w, bias, task, out) };
                return;
            }
            conv_task(&geom, x, w, bias, task, out)
        });
    y
}

/// The shape of one convolution, for [`conv_task`].
#[derive(Clone, Copy)]
struct ConvGeom {
    c: usize,
    h: usize,
    wd: usize,
    m: usize,
    cg: usize,
    kh: usize,
    kw: usize,
    oh: usize,
    ow: usize,
    mg: usize,
    sy: usize,
    sx: usize,
    dy: usize,
    dx: usize,
    py: isize,
    px: isize,
    block: usize,
}

/// [`conv_task`] compiled for AVX2: 4 f64 lanes instead of SSE2's 2. The same operations in
/// the same order (Rust never fuses a multiply and an add), so the same bits.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn conv_task_avx2(
    geom: &ConvGeom,
    x: &Tensor<f64>,
    w: &Tensor<f64>,
    bias: &[f64],
    task: usize,
    out: &mut [f64],
) {
    conv_task(geom, x, w, bias, task, out)
}

/// Output planes `task·block ..` of [`conv_f64`] into `out`.
#[inline(always)]
fn conv_task(
    geom: &ConvGeom,
    x: &Tensor<f64>,
    w: &Tensor<f64>,
    bias: &[f64],
    task: usize,
    out: &mut [f64],
) {
    let ConvGeom {
        c,
        h,
        wd,
        m,
        cg,
        kh,
        kw,
        oh,
        ow,
        mg,
        sy,
        sx,
        dy,
        dx,
        py,
        px,
        block,
    } = *geom;
    let plane = oh * ow;
    let first_oc = (task * block) % m;
    let b = task * block / m;
    let g = first_oc / mg;
    let mut planes: Vec<&mut [f64]> = out.chunks_mut(plane).collect();
    for (j, p) in planes.iter_mut().enumerate() {
        p.fill(bias[first_oc + j]);
    }
    // the block's weights as [ic][ky][kx][j]
    let taps = cg * kh * kw;
    let mut wv = vec![0.0; taps * block];
    for j in 0..block {
        let base = (first_oc + j) * taps;
        for t in 0..taps {
            wv[t * block + j] = w.data[base + t];
        }
    }
    // output columns whose input column ox·sx + kx·dx − px lies in [0, wd), per kx
    let cols: Vec<(usize, usize, isize)> = (0..kw)
        .map(|kx| {
            let off = (kx * dx) as isize - px;
            let lo = if off >= 0 {
                0
            } else {
                ((-off) as usize).div_ceil(sx)
            };
            let hi = if (wd as isize) <= off {
                0
            } else {
                ((wd as isize - off) as usize).div_ceil(sx).min(ow)
            };
            (lo, hi.max(lo), (lo * sx) as isize + off)
        })
        .collect();
    // row by row, so that the block's output rows stay in the L1 cache
    for oy in 0..oh {
        for ic in 0..cg {
            let ch = g * cg + ic;
            let xin = &x.data[(b * c + ch) * h * wd..(b * c + ch + 1) * h * wd];
            for ky in 0..kh {
                let iy = (oy * sy + ky * dy) as isize - py;
                if iy < 0 || iy >= h as isize {
                    continue;
                }
                let row = &xin[iy as usize * wd..(iy as usize + 1) * wd];
                for (kx, &(lo, hi, start)) in cols.iter().enumerate() {
                    if lo == hi {
                        continue;
                    }
                    let t = (ic * kh + ky) * kw + kx;
                    let wt = &wv[t * block..(t + 1) * block];
                    let (a, z) = (oy * ow + lo, oy * ow + hi);
                    if sx == 1 {
                        let src = &row[start as usize..start as usize + (hi - lo)];
                        if let [p0, p1, p2, p3] = &mut planes[..] {
                            let (w0, w1, w2, w3) = (wt[0], wt[1], wt[2], wt[3]);
                            for ((((v, a0), a1), a2), a3) in src
                                .iter()
                                .zip(&mut p0[a..z])
                                .zip(&mut p1[a..z])
                                .zip(&mut p2[a..z])
                                .zip(&mut p3[a..z])
                            {
                                *a0 += v * w0;
                                *a1 += v * w1;
                                *a2 += v * w2;
                                *a3 += v * w3;
                            }
                        } else {
                            for (p, &wj) in planes.iter_mut().zip(wt) {
                                for (acc, v) in p[a..z].iter_mut().zip(src) {
                                    *acc += v * wj;
                                }
                            }
                        }
                    } else {
                        for (p, &wj) in planes.iter_mut().zip(wt) {
                            for (k, acc) in p[a..z].iter_mut().enumerate() {
                                *acc += row[start as usize + k * sx] * wj;
                            }
                        }
                    }
                }
            }
        }
    }
}

/// `avg`: None for max pooling, Some(count_include_pad) for average pooling.
pub(super) fn pool_f64(
    x: &Tensor<f64>,
    win: &Window,
    out_shape: &[usize],
    avg: Option<bool>,
) -> Vec<f64> {
    let (h, w) = (x.shape[2], x.shape[3]);
    let (oh, ow) = (out_shape[2], out_shape[3]);
    let planes = x.shape[0] * x.shape[1];
    let mut y = Vec::with_capacity(planes * oh * ow);
    for p in 0..planes {
        for oy in 0..oh {
            for ox in 0..ow {
                let (mut acc, mut cnt) = (if avg.is_some() { 0.0 } else { f64::MIN }, 0usize);
                for ky in 0..win.kernel[0] {
                    for kx in 0..win.kernel[1] {
                        let iy = (oy * win.strides[0] + ky * win.dilations[0]) as isize
                            - win.pads[0] as isize;
                        let ix = (ox * win.strides[1] + kx * win.dilations[1]) as isize
                            - win.pads[1] as isize;
                        if iy < 0 || ix < 0 || iy >= h as isize || ix >= w as isize {
                            continue;
                        }
                        let v = x.data[(p * h + iy as usize) * w + ix as usize];
                        cnt += 1;
                        acc = if avg.is_some() { acc + v } else { acc.max(v) };
                    }
                }
                y.push(match avg {
                    None => acc,
                    Some(true) => acc / (win.kernel[0] * win.kernel[1]) as f64,
                    Some(false) => acc / cnt.max(1) as f64,
                });
            }
        }
    }
    y
}
