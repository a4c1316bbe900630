//! Exact integer convolution and Gemm kernels for the executor.
//!
//! Every result is the exact integer `bias + Σ w·x` followed by `shift_round` and the 32-bit
//! range check, so it is bit-identical to the straightforward i64 loops. Two paths compute it:
//! - **f64**: when a bound checked on each call, `max|x| · max_oc Σ|w_oc| + max|bias| < 2^53`,
//!   guarantees that every product and every partial sum (in any order) is an integer below
//!   2^53 in magnitude, f64 arithmetic is exact; the accumulators are converted back to i64.
//!   This path packs the operands for a blocked matrix product (im2col for general
//!   convolutions, the input itself for 1x1), with an AVX2/FMA micro-kernel when the CPU has
//!   them (checked at run time; FMA or not, exact arithmetic gives the same integers), and a
//!   direct loop for depthwise convolutions;
//! - **i64**: otherwise, the reference loops with i64 accumulators.
//!
//! Work is split across rayon's threads in tasks of at least [`MIN_TASK_MACS`]
//! multiply-accumulates, so small layers run on the calling thread.

use rayon::prelude::*;

use zkopml_model::fixed::shift_round;

/// Multiply-accumulates below which a kernel does not split its work across threads.
pub const MIN_TASK_MACS: usize = 1 << 17;

/// Exactness bound of the f64 path.
const F64_EXACT: u128 = 1u128 << 53;

/// Geometry of a 2-D convolution over an NCHW input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvShape {
    pub batch: usize,
    /// input channels, height, width
    pub c: usize,
    pub h: usize,
    pub w: usize,
    /// output channels, kernel height and width (weights are `[m, c / groups, kh, kw]`)
    pub m: usize,
    pub kh: usize,
    pub kw: usize,
    pub groups: usize,
    /// output height and width
    pub oh: usize,
    pub ow: usize,
    pub strides: [usize; 2],
    pub dilations: [usize; 2],
    /// top and left padding (bottom and right padding only show in `oh`, `ow`)
    pub pads: [usize; 2],
}

impl ConvShape {
    fn cg(&self) -> usize {
        self.c / self.groups
    }
    fn mg(&self) -> usize {
        self.m / self.groups
    }
    fn k(&self) -> usize {
        self.cg() * self.kh * self.kw
    }
    fn macs(&self) -> usize {
        self.batch * self.m * self.oh * self.ow * self.k()
    }
}

/// `shift_round` and the 32-bit range check; `Err` carries the first value out of range.
#[inline(always)]
fn finish(acc: i64, shift: i32) -> Result<i32, i64> {
    let y = shift_round(acc, shift);
    i32::try_from(y).map_err(|_| y)
}

fn tasks_for(macs: usize, units: usize) -> usize {
    let threads = rayon::current_num_threads().max(1);
    (macs / MIN_TASK_MACS).clamp(1, 4 * threads).min(units.max(1))
}

/// The first error of a sequence of per-task results, in task order.
fn first_err(results: Vec<Result<(), i64>>) -> Result<(), i64> {
    results.into_iter().collect()
}

// ---------------------------------------------------------------------------------------------
// Convolution

/// `y[b, oc, oy, ox] = shift_round(bias[oc] + Σ w[oc, ic, ky, kx] · x[b, g·cg + ic, iy, ix], shift)`
/// with `iy = oy·s0 + ky·d0 - pad_top`, `ix = ox·s1 + kx·d1 - pad_left` (outside the image: 0),
/// as i32; `Err(v)`: `v` is the first result (in output order) outside the i32 range.
pub fn conv(x: &[i32], s: &ConvShape, w: &[i64], bias: &[i64], shift: i32) -> Result<Vec<i32>, i64> {
    conv_prepared(x, s, w, bias, shift, &PreparedConv::new(s, w, bias))
}

/// A convolution's weights made ready for the f64 path once, for every run of a program:
/// the weight factor of the exactness bound and the weights as f64 (packed in panels of
/// [`MR`] output channels for the matrix product).
#[derive(Clone, Debug)]
pub struct PreparedConv {
    /// `max_oc Σ|w[oc]|` and `max|bias|`
    wsum_max: u128,
    bias_max: u128,
    /// depthwise: the weights as f64; otherwise, per group, `ceil(mg / MR)` panels `[k × MR]`
    weights: Vec<f64>,
}

impl PreparedConv {
    pub fn new(s: &ConvShape, w: &[i64], bias: &[i64]) -> PreparedConv {
        assert_eq!(w.len(), s.m * s.k());
        assert_eq!(bias.len(), s.m);
        let k = s.k().max(1);
        let wsum_max = w.chunks(k).map(|row| row.iter().map(|&v| v.unsigned_abs() as u128).sum::<u128>()).max().unwrap_or(0);
        let bias_max = bias.iter().map(|v| v.unsigned_abs()).max().unwrap_or(0) as u128;
        let weights = if s.cg() == 1 {
            w.iter().map(|&v| v as f64).collect()
        } else {
            let (mg, k) = (s.mg(), s.k());
            let m_panels = mg.div_ceil(MR);
            let mut packed = vec![0f64; s.groups * m_panels * k * MR];
            for g in 0..s.groups {
                for ip in 0..m_panels {
                    let panel = &mut packed[(g * m_panels + ip) * k * MR..(g * m_panels + ip + 1) * k * MR];
                    for r in 0..MR.min(mg - ip * MR) {
                        let row = &w[(g * mg + ip * MR + r) * k..(g * mg + ip * MR + r + 1) * k];
                        for (t, &v) in row.iter().enumerate() {
                            panel[t * MR + r] = v as f64;
                        }
                    }
                }
            }
            packed
        };
        PreparedConv { wsum_max, bias_max, weights }
    }

    /// Whether `max|x| · max_oc Σ|w_oc| + max|bias| < 2^53` (the f64 path is exact for `x`).
    fn f64_exact(&self, x: &[i32]) -> bool {
        let xmax = x.iter().map(|&v| v.unsigned_abs()).max().unwrap_or(0) as u128;
        xmax.saturating_mul(self.wsum_max).saturating_add(self.bias_max) < F64_EXACT
    }
}

/// [`conv`] with weights prepared by [`PreparedConv::new`] from the same `s`, `w` and `bias`.
pub fn conv_prepared(x: &[i32], s: &ConvShape, w: &[i64], bias: &[i64], shift: i32, prep: &PreparedConv) -> Result<Vec<i32>, i64> {
    assert_eq!(x.len(), s.batch * s.c * s.h * s.w);
    assert_eq!(w.len(), s.m * s.k());
    assert_eq!(bias.len(), s.m);
    if prep.f64_exact(x) {
        if s.cg() == 1 {
            conv_depthwise_f64(x, s, &prep.weights, bias, shift)
        } else {
            conv_gemm_f64(x, s, &prep.weights, w, bias, shift)
        }
    } else {
        conv_i64(x, s, w, bias, shift)
    }
}

/// The i64 path: accumulate whole output planes, row by row.
pub fn conv_i64(x: &[i32], s: &ConvShape, w: &[i64], bias: &[i64], shift: i32) -> Result<Vec<i32>, i64> {
    let (c, h, wd) = (s.c, s.h, s.w);
    let (m, cg, kh, kw) = (s.m, s.cg(), s.kh, s.kw);
    let (oh, ow) = (s.oh, s.ow);
    let mg = s.mg();
    let plane = oh * ow;
    let mut out = vec![0i32; s.batch * m * plane];
    if plane == 0 {
        return Ok(out);
    }
    let x64: Vec<i64> = x.iter().map(|&v| v as i64).collect();
    let per_plane = plane * s.k();
    let planes_per_task = (s.batch * m).div_ceil(tasks_for(s.macs(), s.batch * m)).max(1);
    let run_planes = |(t, chunk): (usize, &mut [i32])| -> Result<(), i64> {
        for (pi, out_plane) in chunk.chunks_mut(plane).enumerate() {
            let bo = t * planes_per_task + pi;
            let (b, oc) = (bo / m, bo % m);
            let g = oc / mg;
            let mut acc = vec![bias[oc]; plane];
            for ic in 0..cg {
                let ch = g * cg + ic;
                let xp = &x64[(b * c + ch) * h * wd..(b * c + ch + 1) * h * wd];
                for ky in 0..kh {
                    for kx in 0..kw {
                        let wv = w[((oc * cg + ic) * kh + ky) * kw + kx];
                        if wv == 0 {
                            continue;
                        }
                        let dy = (ky * s.dilations[0]) as isize - s.pads[0] as isize;
                        let dx = (kx * s.dilations[1]) as isize - s.pads[1] as isize;
                        let sx = s.strides[1] as isize;
                        let ox_lo = if dx >= 0 { 0 } else { ((-dx) + sx - 1) / sx } as usize;
                        let lim = wd as isize - 1 - dx;
                        let ox_hi = if lim < 0 { 0 } else { (lim / sx + 1).min(ow as isize) as usize };
                        if ox_lo >= ox_hi {
                            continue;
                        }
                        for oy in 0..oh {
                            let iy = (oy * s.strides[0]) as isize + dy;
                            if iy < 0 || iy >= h as isize {
                                continue;
                            }
                            let row = &xp[iy as usize * wd..(iy as usize + 1) * wd];
                            let arow = &mut acc[oy * ow..(oy + 1) * ow];
                            if sx == 1 {
                                let start = (ox_lo as isize + dx) as usize;
                                let n = ox_hi - ox_lo;
                                arow[ox_lo..ox_hi].iter_mut().zip(&row[start..start + n]).for_each(|(a, &xv)| *a = a.wrapping_add(wv.wrapping_mul(xv)));
                            } else {
                                for ox in ox_lo..ox_hi {
                                    arow[ox] = arow[ox].wrapping_add(wv.wrapping_mul(row[(ox as isize * sx + dx) as usize]));
                                }
                            }
                        }
                    }
                }
            }
            for (o, a) in out_plane.iter_mut().zip(acc) {
                *o = finish(a, shift)?;
            }
        }
        Ok(())
    };
    let chunks = out.chunks_mut(planes_per_task * plane).enumerate();
    let results: Vec<Result<(), i64>> = if per_plane * planes_per_task >= s.macs() {
        chunks.map(run_planes).collect()
    } else {
        out.par_chunks_mut(planes_per_task * plane).enumerate().map(run_planes).collect()
    };
    first_err(results)?;
    Ok(out)
}

fn has_avx2_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Depthwise (one input channel per output channel): per output plane, a zero-padded copy of
/// its input plane split into `stride` phases per row, so every kernel tap is a contiguous
/// multiply-add over an output row.
fn conv_depthwise_f64(x: &[i32], s: &ConvShape, wf: &[f64], bias: &[i64], shift: i32) -> Result<Vec<i32>, i64> {
    let plane = s.oh * s.ow;
    let n_planes = s.batch * s.m;
    let mut out = vec![0i32; n_planes * plane];
    if plane == 0 {
        return Ok(out);
    }
    let tasks = tasks_for(s.macs(), n_planes);
    let per_task = n_planes.div_ceil(tasks);
    let avx = has_avx2_fma();
    let run = |(t, chunk): (usize, &mut [i32])| -> Result<(), i64> {
        let mut buf = DepthwiseBuf::new(s);
        for (pi, out_plane) in chunk.chunks_mut(plane).enumerate() {
            let bo = t * per_task + pi;
            let (b, oc) = (bo / s.m, bo % s.m);
            let ch = oc / s.mg();
            let xp = &x[(b * s.c + ch) * s.h * s.w..(b * s.c + ch + 1) * s.h * s.w];
            let wk = &wf[oc * s.kh * s.kw..(oc + 1) * s.kh * s.kw];
            #[cfg(target_arch = "x86_64")]
            if avx {
                // SAFETY: the CPU has AVX2 and FMA (checked at run time)
                unsafe { depthwise_plane_avx2(&mut buf, s, xp, wk, bias[oc] as f64) };
            } else {
                depthwise_plane(&mut buf, s, xp, wk, bias[oc] as f64);
            }
            #[cfg(not(target_arch = "x86_64"))]
            {
                let _ = avx;
                depthwise_plane(&mut buf, s, xp, wk, bias[oc] as f64);
            }
            for (o, &a) in out_plane.iter_mut().zip(&buf.acc) {
                *o = finish(a as i64, shift)?;
            }
        }
        Ok(())
    };
    let results: Vec<Result<(), i64>> = if tasks == 1 {
        out.chunks_mut(per_task * plane).enumerate().map(run).collect()
    } else {
        out.par_chunks_mut(per_task * plane).enumerate().map(run).collect()
    };
    first_err(results)?;
    Ok(out)
}

struct DepthwiseBuf {
    /// padded rows, each split into `stride` phases of `len` values
    padded: Vec<f64>,
    len: usize,
    rows: usize,
    acc: Vec<f64>,
}

impl DepthwiseBuf {
    fn new(s: &ConvShape) -> DepthwiseBuf {
        let sx = s.strides[1];
        // padded extent actually read: rows up to (oh-1)·s0 + (kh-1)·d0, columns likewise
        let rows = (s.oh - 1) * s.strides[0] + (s.kh - 1) * s.dilations[0] + 1;
        let cols = (s.ow - 1) * sx + (s.kw - 1) * s.dilations[1] + 1;
        let len = cols.div_ceil(sx);
        DepthwiseBuf { padded: vec![0.0; rows * sx * len], len, rows, acc: vec![0.0; s.oh * s.ow] }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn depthwise_plane_avx2(buf: &mut DepthwiseBuf, s: &ConvShape, xp: &[i32], wk: &[f64], bias: f64) {
    depthwise_plane(buf, s, xp, wk, bias)
}

#[inline(always)]
fn depthwise_plane(buf: &mut DepthwiseBuf, s: &ConvShape, xp: &[i32], wk: &[f64], bias: f64) {
    let (sy, sx) = (s.strides[0], s.strides[1]);
    let (dy, dx) = (s.dilations[0], s.dilations[1]);
    let len = buf.len;
    // fill the padded, phase-split plane
    for r in 0..buf.rows {
        let iy = r as isize - s.pads[0] as isize;
        let dst = &mut buf.padded[r * sx * len..(r + 1) * sx * len];
        if iy < 0 || iy >= s.h as isize {
            dst.fill(0.0);
            continue;
        }
        let src = &xp[iy as usize * s.w..(iy as usize + 1) * s.w];
        for q in 0..sx {
            let seg = &mut dst[q * len..(q + 1) * len];
            for (i, d) in seg.iter_mut().enumerate() {
                let ix = (i * sx + q) as isize - s.pads[1] as isize;
                *d = if ix >= 0 && (ix as usize) < s.w { src[ix as usize] as f64 } else { 0.0 };
            }
        }
    }
    let ow = s.ow;
    for oy in 0..s.oh {
        let arow = &mut buf.acc[oy * ow..(oy + 1) * ow];
        arow.fill(bias);
        for ky in 0..s.kh {
            let r = oy * sy + ky * dy;
            for kx in 0..s.kw {
                let wv = wk[ky * s.kw + kx];
                let (q, off) = ((kx * dx) % sx, (kx * dx) / sx);
                let src = &buf.padded[(r * sx + q) * len + off..(r * sx + q) * len + off + ow];
                for (a, &v) in arow.iter_mut().zip(src) {
                    *a += wv * v;
                }
            }
        }
    }
}

/// Rows and columns of the matrix-product micro-kernel: 6 × 8 accumulators are 12 AVX2
/// registers, enough independent FMAs to cover their latency on two FMA pipes.
const MR: usize = 6;
const NR: usize = 8;

/// Bytes of packed input that one block of the matrix product keeps in L2.
const L2_BLOCK_BYTES: usize = 256 * 1024;

/// General convolution as a matrix product per (batch, group): `W_g [mg × K] · col [K × HW]`
/// with `K = cg·kh·kw`; `col` (im2col, or the input itself for 1x1) is packed in panels of
/// `NR` pixels, `W_g` in panels of `MR` output channels.
fn conv_gemm_f64(x: &[i32], s: &ConvShape, packed_w: &[f64], w: &[i64], bias: &[i64], shift: i32) -> Result<Vec<i32>, i64> {
    let (mg, cg, k) = (s.mg(), s.cg(), s.k());
    let hw = s.oh * s.ow;
    let mut out = vec![0i32; s.batch * s.m * hw];
    if hw == 0 || mg == 0 {
        return Ok(out);
    }
    let n_panels = hw.div_ceil(NR);
    let m_panels = mg.div_ceil(MR);
    // pixel panels per block: a block of packed input stays in L2 while every weight panel
    // of the task passes over it once
    let block = (L2_BLOCK_BYTES / (k * NR * 8)).max(1);
    let parallel = s.macs() >= 2 * MIN_TASK_MACS;
    let pointwise = s.kh == 1 && s.kw == 1 && s.strides == [1, 1] && s.pads == [0, 0] && s.oh == s.h && s.ow == s.w;
    let mut bp = vec![0f64; n_panels * k * NR];
    let avx = has_avx2_fma();
    for b in 0..s.batch {
        for g in 0..s.groups {
            let x_g = &x[(b * s.c + g * cg) * s.h * s.w..(b * s.c + (g + 1) * cg) * s.h * s.w];
            // pack the input panels
            let pack = |(jp, panel): (usize, &mut [f64])| {
                if pointwise {
                    pack_pointwise(panel, x_g, hw, jp * NR);
                } else {
                    pack_im2col(panel, x_g, s, jp * NR);
                }
            };
            if parallel {
                bp.par_chunks_mut(k * NR).enumerate().for_each(pack);
            } else {
                bp.chunks_mut(k * NR).enumerate().for_each(pack);
            }
            let ap = &packed_w[g * m_panels * k * MR..(g + 1) * m_panels * k * MR];
            let bias_g = &bias[g * mg..(g + 1) * mg];
            let out_g = &mut out[(b * s.m + g * mg) * hw..(b * s.m + (g + 1) * mg) * hw];
            // tasks own whole panels of MR output channels
            let tasks = if parallel { tasks_for(mg * hw * k, m_panels) } else { 1 };
            let panels_per_task = m_panels.div_ceil(tasks);
            let rows_per_task = panels_per_task * MR;
            let bp = &bp;
            let run = |(t, rows_out): (usize, &mut [i32])| -> Result<(), i64> {
                let mut tile = [[0f64; NR]; MR];
                let rows = rows_out.len() / hw;
                for j0 in (0..n_panels).step_by(block) {
                    for lp in 0..rows.div_ceil(MR) {
                        let ip = t * panels_per_task + lp;
                        let apanel = &ap[ip * k * MR..(ip + 1) * k * MR];
                        for jp in j0..(j0 + block).min(n_panels) {
                            let bpanel = &bp[jp * k * NR..(jp + 1) * k * NR];
                            let cols = NR.min(hw - jp * NR);
                            micro_kernel(avx, k, apanel, bpanel, &mut tile);
                            for (r, trow) in tile.iter().enumerate().take(rows - lp * MR) {
                                let row = lp * MR + r;
                                let bv = bias_g[t * rows_per_task + row] as f64;
                                let dst = &mut rows_out[row * hw + jp * NR..row * hw + jp * NR + cols];
                                for (o, &a) in dst.iter_mut().zip(trow) {
                                    *o = finish((a + bv) as i64, shift)?;
                                }
                            }
                        }
                    }
                }
                Ok(())
            };
            // errors: the first in output order (row-major); a task visits its outputs block
            // by block, so its first failure need not be the first in order: recheck below
            let results: Vec<Result<(), i64>> = if tasks == 1 {
                out_g.chunks_mut(rows_per_task * hw).enumerate().map(run).collect()
            } else {
                out_g.par_chunks_mut(rows_per_task * hw).enumerate().map(run).collect()
            };
            if results.iter().any(|r| r.is_err()) {
                return Err(first_conv_error(x, s, w, bias, shift));
            }
        }
    }
    Ok(out)
}

/// The first out-of-range result in output order (the fast kernel visits pixels panel by
/// panel, so its first failure need not be the first in order): recomputed by the i64 path.
#[cold]
fn first_conv_error(x: &[i32], s: &ConvShape, w: &[i64], bias: &[i64], shift: i32) -> i64 {
    conv_i64(x, s, w, bias, shift).expect_err("the fast path found a value out of range")
}

/// Panel of `NR` pixels starting at `p0` of a 1x1 convolution's input `[cg × hw]`.
#[inline]
fn pack_pointwise(panel: &mut [f64], x_g: &[i32], hw: usize, p0: usize) {
    let cols = NR.min(hw - p0);
    for (t, dst) in panel.chunks_exact_mut(NR).enumerate() {
        let src = &x_g[t * hw + p0..t * hw + p0 + cols];
        for (d, &v) in dst.iter_mut().zip(src) {
            *d = v as f64;
        }
        dst[cols..].fill(0.0);
    }
}

/// Panel of `NR` pixels starting at `p0` of the im2col matrix `[cg·kh·kw × oh·ow]`.
fn pack_im2col(panel: &mut [f64], x_g: &[i32], s: &ConvShape, p0: usize) {
    let hw = s.oh * s.ow;
    let cols = NR.min(hw - p0);
    let mut iy0 = [0isize; NR];
    let mut ix0 = [0isize; NR];
    for c in 0..cols {
        let (oy, ox) = ((p0 + c) / s.ow, (p0 + c) % s.ow);
        iy0[c] = (oy * s.strides[0]) as isize - s.pads[0] as isize;
        ix0[c] = (ox * s.strides[1]) as isize - s.pads[1] as isize;
    }
    let mut t = 0;
    for ic in 0..s.cg() {
        let xc = &x_g[ic * s.h * s.w..(ic + 1) * s.h * s.w];
        for ky in 0..s.kh {
            for kx in 0..s.kw {
                let dst = &mut panel[t * NR..(t + 1) * NR];
                for c in 0..NR {
                    let iy = iy0[c] + (ky * s.dilations[0]) as isize;
                    let ix = ix0[c] + (kx * s.dilations[1]) as isize;
                    dst[c] = if c < cols && iy >= 0 && ix >= 0 && (iy as usize) < s.h && (ix as usize) < s.w {
                        xc[iy as usize * s.w + ix as usize] as f64
                    } else {
                        0.0
                    };
                }
                t += 1;
            }
        }
    }
}

/// `tile = A_panel [MR × k] · B_panel [k × NR]` (both packed k-major).
#[inline]
fn micro_kernel(avx: bool, k: usize, a: &[f64], b: &[f64], tile: &mut [[f64; NR]; MR]) {
    assert!(a.len() >= k * MR && b.len() >= k * NR);
    #[cfg(target_arch = "x86_64")]
    if avx {
        // SAFETY: AVX2 and FMA are present (checked at run time); the slices hold k·MR and
        // k·NR values (asserted above)
        unsafe { micro_kernel_avx2(k, a.as_ptr(), b.as_ptr(), tile) };
        return;
    }
    let _ = avx;
    let mut acc = [[0f64; NR]; MR];
    for t in 0..k {
        let bv = &b[t * NR..(t + 1) * NR];
        for r in 0..MR {
            let av = a[t * MR + r];
            for c in 0..NR {
                acc[r][c] += av * bv[c];
            }
        }
    }
    *tile = acc;
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn micro_kernel_avx2(k: usize, a: *const f64, b: *const f64, tile: &mut [[f64; NR]; MR]) {
    use std::arch::x86_64::*;
    let mut c = [[_mm256_setzero_pd(); 2]; MR];
    for t in 0..k {
        let b0 = _mm256_loadu_pd(b.add(t * NR));
        let b1 = _mm256_loadu_pd(b.add(t * NR + 4));
        let ap = a.add(t * MR);
        // unrolled by the compiler: MR is a constant and `c` stays in registers
        for (r, cr) in c.iter_mut().enumerate() {
            let ar = _mm256_broadcast_sd(&*ap.add(r));
            cr[0] = _mm256_fmadd_pd(ar, b0, cr[0]);
            cr[1] = _mm256_fmadd_pd(ar, b1, cr[1]);
        }
    }
    for (row, cr) in tile.iter_mut().zip(&c) {
        _mm256_storeu_pd(row.as_mut_ptr(), cr[0]);
        _mm256_storeu_pd(row.as_mut_ptr().add(4), cr[1]);
    }
}

// ---------------------------------------------------------------------------------------------
// Gemm

/// `y[r, j] = shift_round(bias[j] + Σ_t x[r, t] · w[t, j], shift)` for `x [rows × k]`,
/// `w [k × n]`, as i32; `Err(v)`: `v` is the first result (row-major) outside the i32 range.
pub fn gemm(x: &[i32], k: usize, w: &[i64], n: usize, bias: &[i64], shift: i32) -> Result<Vec<i32>, i64> {
    assert_eq!(w.len(), k * n);
    assert_eq!(bias.len(), n);
    let rows = if k == 0 { 0 } else { x.len() / k };
    if rows == 0 || n == 0 {
        return gemm_serial(x, k, w, n, bias, shift);
    }
    let w32 = w.iter().all(|&v| v == v as i32 as i64);
    let macs = rows * k * n;
    let tasks = tasks_for(macs, n.div_ceil(64));
    if tasks == 1 {
        return if w32 { gemm_cols::<true>(x, k, w, n, bias, shift, 0, n) } else { gemm_cols::<false>(x, k, w, n, bias, shift, 0, n) };
    }
    // column blocks (multiples of 8), each a [rows × nb] result
    let nb = n.div_ceil(tasks).div_ceil(8) * 8;
    let blocks: Vec<Result<Vec<i32>, i64>> = (0..n.div_ceil(nb))
        .into_par_iter()
        .map(|bi| {
            let (j0, j1) = (bi * nb, ((bi + 1) * nb).min(n));
            if w32 { gemm_cols::<true>(x, k, w, n, bias, shift, j0, j1) } else { gemm_cols::<false>(x, k, w, n, bias, shift, j0, j1) }
        })
        .collect();
    if blocks.iter().any(|b| b.is_err()) {
        return gemm_serial(x, k, w, n, bias, shift);
    }
    let blocks: Vec<Vec<i32>> = blocks.into_iter().map(|b| b.unwrap()).collect();
    let mut out = Vec::with_capacity(rows * n);
    for r in 0..rows {
        for (bi, blk) in blocks.iter().enumerate() {
            let width = ((bi + 1) * nb).min(n) - bi * nb;
            out.extend_from_slice(&blk[r * width..(r + 1) * width]);
        }
    }
    Ok(out)
}

/// Columns `j0..j1` of every row, as `[rows × (j1 - j0)]`. With `W32` every weight fits in
/// i32, so the products are i32 × i32 (a vector multiply) with exactly the same values.
#[allow(clippy::too_many_arguments)]
fn gemm_cols<const W32: bool>(x: &[i32], k: usize, w: &[i64], n: usize, bias: &[i64], shift: i32, j0: usize, j1: usize) -> Result<Vec<i32>, i64> {
    let rows = x.len() / k;
    let width = j1 - j0;
    let mut out = Vec::with_capacity(rows * width);
    let mut acc = vec![0i64; width];
    for r in 0..rows {
        acc.copy_from_slice(&bias[j0..j1]);
        for t in 0..k {
            let xv = x[r * k + t];
            if xv == 0 {
                continue;
            }
            let wrow = &w[t * n + j0..t * n + j1];
            if W32 {
                let xv = xv as i64;
                acc.iter_mut().zip(wrow).for_each(|(a, &wv)| *a = a.wrapping_add((wv as i32 as i64).wrapping_mul(xv)));
            } else {
                let xv = xv as i64;
                acc.iter_mut().zip(wrow).for_each(|(a, &wv)| *a = a.wrapping_add(xv.wrapping_mul(wv)));
            }
        }
        for &a in &acc {
            out.push(finish(a, shift)?);
        }
    }
    Ok(out)
}

/// The plain loop (also the source of the error value, in row-major order).
fn gemm_serial(x: &[i32], k: usize, w: &[i64], n: usize, bias: &[i64], shift: i32) -> Result<Vec<i32>, i64> {
    let rows = if k == 0 { 0 } else { x.len() / k };
    let mut out = Vec::with_capacity(rows * n);
    for r in 0..rows {
        let mut acc = bias.to_vec();
        for t in 0..k {
            let xv = x[r * k + t] as i64;
            if xv == 0 {
                continue;
            }
            let wrow = &w[t * n..(t + 1) * n];
            acc.iter_mut().zip(wrow).for_each(|(a, &wv)| *a = a.wrapping_add(xv.wrapping_mul(wv)));
        }
        for a in acc {
            out.push(finish(a, shift)?);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            let mut g = zkopml_model::input::SplitMix(self.0);
            let v = g.next_u64();
            self.0 = g.0;
            v
        }
        fn range(&mut self, lo: i64, hi: i64) -> i64 {
            lo + (self.next() % (hi - lo + 1) as u64) as i64
        }
        fn pick(&mut self, v: &[usize]) -> usize {
            v[(self.next() % v.len() as u64) as usize]
        }
    }

    fn naive_conv(x: &[i32], s: &ConvShape, w: &[i64], bias: &[i64], shift: i32) -> Result<Vec<i32>, i64> {
        let (cg, mg) = (s.c / s.groups, s.m / s.groups);
        let mut out = Vec::new();
        for b in 0..s.batch {
            for oc in 0..s.m {
                let g = oc / mg;
                for oy in 0..s.oh {
                    for ox in 0..s.ow {
                        let mut acc = bias[oc] as i128;
                        for ic in 0..cg {
                            for ky in 0..s.kh {
                                for kx in 0..s.kw {
                                    let iy = (oy * s.strides[0] + ky * s.dilations[0]) as isize - s.pads[0] as isize;
                                    let ix = (ox * s.strides[1] + kx * s.dilations[1]) as isize - s.pads[1] as isize;
                                    if iy < 0 || ix < 0 || iy >= s.h as isize || ix >= s.w as isize {
                                        continue;
                                    }
                                    let xv = x[((b * s.c + g * cg + ic) * s.h + iy as usize) * s.w + ix as usize];
                                    acc += w[((oc * cg + ic) * s.kh + ky) * s.kw + kx] as i128 * xv as i128;
                                }
                            }
                        }
                        out.push(finish(acc as i64, shift)?);
                    }
                }
            }
        }
        Ok(out)
    }

    fn random_shape(rng: &mut Rng) -> ConvShape {
        let kind = rng.next() % 4;
        let (groups, cg, mg) = match kind {
            0 => (1, rng.range(1, 9) as usize, rng.range(1, 11) as usize),
            1 => {
                // depthwise, sometimes with a channel multiplier
                let c = rng.range(1, 12) as usize;
                (c, 1, rng.pick(&[1, 1, 2]))
            }
            2 => (rng.range(2, 4) as usize, rng.range(1, 4) as usize, rng.range(1, 5) as usize),
            _ => (1, rng.range(1, 40) as usize, rng.range(1, 40) as usize),
        };
        let (kh, kw) = if kind == 3 || rng.next() % 4 == 0 { (1, 1) } else { (rng.pick(&[1, 2, 3, 5]), rng.pick(&[1, 3, 3])) };
        let strides = [rng.pick(&[1, 1, 2, 3]), rng.pick(&[1, 1, 2])];
        let dilations = if rng.next() % 5 == 0 { [2, rng.pick(&[1, 2])] } else { [1, 1] };
        let pads4 = if kind == 3 && rng.next() % 2 == 0 { [0; 4] } else { [rng.pick(&[0, 1, 2]), rng.pick(&[0, 1, 2]), rng.pick(&[0, 1]), rng.pick(&[0, 1, 2])] };
        let h = rng.range(1, 20) as usize + (kh - 1) * dilations[0];
        let w = rng.range(1, 20) as usize + (kw - 1) * dilations[1];
        let oh = (h + pads4[0] + pads4[2] - ((kh - 1) * dilations[0] + 1)) / strides[0] + 1;
        let ow = (w + pads4[1] + pads4[3] - ((kw - 1) * dilations[1] + 1)) / strides[1] + 1;
        ConvShape {
            batch: rng.range(1, 2) as usize,
            c: groups * cg,
            h,
            w,
            m: groups * mg,
            kh,
            kw,
            groups,
            oh,
            ow,
            strides,
            dilations,
            pads: [pads4[0], pads4[1]],
        }
    }

    fn random_case(rng: &mut Rng, s: &ConvShape, xbits: u32, wbits: u32) -> (Vec<i32>, Vec<i64>, Vec<i64>) {
        let xm = (1i64 << xbits) - 1;
        let wm = (1i64 << wbits) - 1;
        let x: Vec<i32> = (0..s.batch * s.c * s.h * s.w).map(|_| if rng.next() % 7 == 0 { 0 } else { rng.range(-xm, xm) as i32 }).collect();
        let w: Vec<i64> = (0..s.m * (s.c / s.groups) * s.kh * s.kw).map(|_| if rng.next() % 9 == 0 { 0 } else { rng.range(-wm, wm) }).collect();
        let bias: Vec<i64> = (0..s.m).map(|_| rng.range(-(1 << 30), 1 << 30)).collect();
        (x, w, bias)
    }

    #[test]
    fn conv_matches_naive() {
        let mut rng = Rng(0x1234_5678_9abc_def1);
        for case in 0..400 {
            let s = random_shape(&mut rng);
            let (x, w, bias) = random_case(&mut rng, &s, 16, 15);
            let shift = rng.range(0, 20) as i32;
            let want = naive_conv(&x, &s, &w, &bias, shift);
            assert_eq!(conv(&x, &s, &w, &bias, shift), want, "case {case}: {s:?} shift {shift}");
            assert_eq!(conv_i64(&x, &s, &w, &bias, shift), want, "i64 path, case {case}: {s:?}");
        }
    }

    #[test]
    fn conv_large_values_take_the_i64_path() {
        let mut rng = Rng(99);
        for case in 0..60 {
            let s = random_shape(&mut rng);
            // |x| up to 2^31, |w| up to 2^22: beyond 2^53 (the f64 bound fails), within i64
            let (x, w, bias) = random_case(&mut rng, &s, 31, 22);
            let shift = rng.range(28, 40) as i32;
            assert_eq!(conv(&x, &s, &w, &bias, shift), naive_conv(&x, &s, &w, &bias, shift), "case {case}: {s:?}");
        }
    }

    #[test]
    fn conv_reports_the_first_overflow_in_order() {
        let mut rng = Rng(5);
        let mut seen = 0;
        for _ in 0..200 {
            let s = random_shape(&mut rng);
            let (x, w, bias) = random_case(&mut rng, &s, 16, 15);
            let shift = rng.range(0, 3) as i32;
            let want = naive_conv(&x, &s, &w, &bias, shift);
            seen += want.is_err() as usize;
            assert_eq!(conv(&x, &s, &w, &bias, shift), want, "{s:?}");
        }
        assert!(seen > 10, "the test makes overflows ({seen})");
    }

    #[test]
    fn conv_big_layers_in_parallel() {
        let mut rng = Rng(77);
        let shapes = [
            // 1x1 (pointwise), 3x3 stride 2 (the first MobileNet layer), depthwise stride 1 and 2
            ConvShape { batch: 1, c: 32, h: 28, w: 28, m: 64, kh: 1, kw: 1, groups: 1, oh: 28, ow: 28, strides: [1, 1], dilations: [1, 1], pads: [0, 0] },
            ConvShape { batch: 1, c: 3, h: 56, w: 56, m: 32, kh: 3, kw: 3, groups: 1, oh: 28, ow: 28, strides: [2, 2], dilations: [1, 1], pads: [1, 1] },
            ConvShape { batch: 1, c: 96, h: 56, w: 56, m: 96, kh: 3, kw: 3, groups: 96, oh: 56, ow: 56, strides: [1, 1], dilations: [1, 1], pads: [1, 1] },
            ConvShape { batch: 2, c: 64, h: 29, w: 29, m: 64, kh: 3, kw: 3, groups: 64, oh: 15, ow: 15, strides: [2, 2], dilations: [1, 1], pads: [1, 1] },
            ConvShape { batch: 1, c: 160, h: 7, w: 7, m: 960, kh: 1, kw: 1, groups: 1, oh: 7, ow: 7, strides: [1, 1], dilations: [1, 1], pads: [0, 0] },
        ];
        for s in shapes {
            let (x, w, bias) = random_case(&mut rng, &s, 14, 12);
            let want = naive_conv(&x, &s, &w, &bias, 12);
            assert_eq!(conv(&x, &s, &w, &bias, 12), want, "{s:?}");
        }
    }

    fn naive_gemm(x: &[i32], k: usize, w: &[i64], n: usize, bias: &[i64], shift: i32) -> Result<Vec<i32>, i64> {
        let rows = x.len() / k;
        let mut out = Vec::new();
        for r in 0..rows {
            for j in 0..n {
                let acc: i128 = bias[j] as i128 + (0..k).map(|t| x[r * k + t] as i128 * w[t * n + j] as i128).sum::<i128>();
                out.push(finish(acc as i64, shift)?);
            }
        }
        Ok(out)
    }

    #[test]
    fn gemm_matches_naive() {
        let mut rng = Rng(3);
        for case in 0..200 {
            let (rows, k, n) = match case % 4 {
                0 => (1, rng.range(1, 2000) as usize, rng.range(1, 1100) as usize),
                _ => (rng.range(1, 5) as usize, rng.range(1, 50) as usize, rng.range(1, 50) as usize),
            };
            let wbits = if case % 5 == 0 { 34 } else { 15 };
            let wm = (1i64 << wbits) - 1;
            let x: Vec<i32> = (0..rows * k).map(|_| if rng.next() % 5 == 0 { 0 } else { rng.range(-(1 << 16), 1 << 16) as i32 }).collect();
            let w: Vec<i64> = (0..k * n).map(|_| rng.range(-wm, wm)).collect();
            let bias: Vec<i64> = (0..n).map(|_| rng.range(-(1 << 30), 1 << 30)).collect();
            let shift = if case % 3 == 0 { rng.range(0, 4) as i32 } else { rng.range(18, 60) as i32 };
            assert_eq!(gemm(&x, k, &w, n, &bias, shift), naive_gemm(&x, k, &w, n, &bias, shift), "case {case}: {rows}x{k}x{n}");
        }
    }

    #[test]
    fn canonical_is_the_nhwc_transpose() {
        use zkopml_model::Tensor;
        let mut rng = Rng(21);
        for shape in [vec![1, 3, 4, 5], vec![2, 1, 1, 7], vec![2, 6, 3, 1], vec![1, 16, 9, 9], vec![3, 5], vec![2, 3, 4], vec![0, 2, 2, 2]] {
            let n: usize = shape.iter().product();
            let t = Tensor::new(shape.clone(), (0..n).map(|_| rng.next() as i32).collect());
            let want = if shape.len() == 4 { t.transpose(&[0, 2, 3, 1]).data } else { t.data.clone() };
            assert_eq!(crate::commit::canonical(&t), want, "{shape:?}");
        }
    }
}
