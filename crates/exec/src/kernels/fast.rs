//! The f64 convolution kernels (see the parent module for why they are exact).
//!
//! The rescale is done in f64 too: the accumulator starts at `bias + 2^(shift-1)`, so
//! `shift_round(acc, shift) = floor(acc · 2^-shift)`, exact while `|acc| < 2^53`. The kernels
//! only report *whether* some output left the i32 range; the caller then reruns the i64 path,
//! which finds the first such value in output order.

use super::{tasks_for, ConvShape, PreparedConv, MIN_TASK_MACS};
use crate::par::{self, SyncPtr};

/// Instruction set of the f64 kernels, picked at run time. The integers do not depend on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isa {
    Portable,
    /// AVX2 and FMA
    Avx2,
    /// AVX-512 F and VL (and FMA)
    Avx512,
}

impl Isa {
    pub fn detect() -> Isa {
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("avx512f")
                && std::is_x86_feature_detected!("avx512vl")
                && std::is_x86_feature_detected!("fma")
            {
                return Isa::Avx512;
            }
            if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                return Isa::Avx2;
            }
        }
        Isa::Portable
    }

    /// Every instruction set this CPU runs (for tests).
    pub fn available() -> Vec<Isa> {
        match Isa::detect() {
            Isa::Avx512 => vec![Isa::Portable, Isa::Avx2, Isa::Avx512],
            Isa::Avx2 => vec![Isa::Portable, Isa::Avx2],
            Isa::Portable => vec![Isa::Portable],
        }
    }

    /// Output channels (rows) and pixels (columns) of the matrix-product micro-kernel:
    /// 12 × 16 is 24 AVX-512 accumulators, 6 × 8 is 12 AVX2 ones; either covers the FMA
    /// latency on two pipes.
    pub(super) fn mr(self) -> usize {
        match self {
            Isa::Avx512 => 12,
            _ => 6,
        }
    }
    pub(super) fn nr(self) -> usize {
        match self {
            Isa::Avx512 => 16,
            _ => 8,
        }
    }
}

/// `shift_round(acc, shift) = floor((acc + half) · mul)`.
#[derive(Clone, Copy, Debug)]
pub(super) struct Rescale {
    pub half: i64,
    pub mul: f64,
}

impl Rescale {
    /// None for shifts the f64 rescale does not cover (the compiler never makes them).
    pub fn new(shift: i32) -> Option<Rescale> {
        match shift {
            1..=52 => Some(Rescale {
                half: 1 << (shift - 1),
                mul: 2f64.powi(-shift),
            }),
            -31..=0 => Some(Rescale {
                half: 0,
                mul: 2f64.powi(-shift),
            }),
            _ => None,
        }
    }
}

const I32_LO: f64 = -2147483648.0;
const I32_END: f64 = 2147483648.0;

/// Scalar rescale of an accumulator that includes `half`; `None` if out of the i32 range.
#[inline(always)]
fn finish_f64(a: f64, mul: f64, relu: bool) -> Option<i32> {
    let t = a * mul;
    if !(I32_LO..I32_END).contains(&t) {
        return None;
    }
    let y = t.floor() as i32;
    Some(if relu { y.max(0) } else { y })
}

/// Bytes of packed input that one block of the matrix product keeps in L2.
const L2_BLOCK_BYTES: usize = 192 * 1024;

/// General convolution as a matrix product per (batch, group): `W_g [mg × K] · col [K × HW]`
/// with `K = cg·kh·kw`; `col` (im2col, or the input itself for 1x1) is packed in panels of
/// `nr` pixels, `W_g` in panels of `mr` output channels. Writes all of `out`; returns whether
/// every output is in range and `max|x|` over the inputs used (the caller checks the bound
/// afterwards, so the input is read once).
///
/// Work items are (block of pixel panels) × (range of weight panels): each packs its block
/// into a buffer of its thread and runs its weight panels over it while it is in L2. When the
/// packed input outweighs the weights, items take blocks of pixels and every weight panel;
/// otherwise they split the weight panels, and a small input (14x14 and below) is one block.
/// Input channel planes lie `x_plane` values apart: `h·w`, or more for a 1x1 convolution of
/// a band of rows read in place.
pub(super) fn gemm_conv(
    x: &[i32],
    s: &ConvShape,
    prep: &PreparedConv,
    bias: &[i64],
    rs: Rescale,
    relu: bool,
    x_plane: usize,
    res: Option<&Residual<'_>>,
    out: &mut [std::mem::MaybeUninit<i32>],
) -> (bool, u32) {
    let hw = s.oh * s.ow;
    assert_eq!(out.len(), s.batch * s.m * hw);
    // SAFETY: `out` holds every output plane, `hw` apart, and is borrowed for the call
    unsafe {
        gemm_conv_into(
            x,
            s,
            prep,
            bias,
            rs,
            relu,
            x_plane,
            res,
            SyncPtr(out.as_mut_ptr() as *mut i32),
            hw,
        )
    }
}

/// [`gemm_conv`] into output planes `out_plane` apart (the rows of a band of a larger
/// output); a residual's `skip` is laid out as the output.
///
/// # Safety
/// `out` must be valid for writes of `oh·ow` values at every multiple of `out_plane` below
/// `batch·m·out_plane`, which nothing else reads or writes during the call.
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn gemm_conv_into(
    x: &[i32],
    s: &ConvShape,
    prep: &PreparedConv,
    bias: &[i64],
    rs: Rescale,
    relu: bool,
    x_plane: usize,
    res: Option<&Residual<'_>>,
    out: SyncPtr<i32>,
    out_plane: usize,
) -> (bool, u32) {
    let isa = prep.isa;
    let (mr, nr) = (isa.mr(), isa.nr());
    let (mg, cg, k) = (s.mg(), s.cg(), s.k());
    let hw = s.oh * s.ow;
    if hw == 0 || mg == 0 || s.batch == 0 {
        return (true, 0);
    }
    if k == 0 {
        // no input channels: the i64 path
        return (false, 0);
    }
    let n_panels = hw.div_ceil(nr);
    let m_panels = mg.div_ceil(mr);
    let bias_h: Vec<f64> = bias.iter().map(|&b| (b + rs.half) as f64).collect();
    let pointwise = s.is_pointwise();
    assert!(
        x_plane == s.h * s.w || (pointwise && x_plane > s.h * s.w),
        "a plane stride of its own is for 1x1 convolutions"
    );
    #[cfg(target_arch = "x86_64")]
    assert!(out_plane >= hw);
    if let Some(r) = res {
        assert!(
            r.skip.len() >= (s.batch * s.m - 1) * out_plane + hw,
            "the residual operand is laid out as the output"
        );
    }
    if pointwise
        && hw == 1
        && x_plane == 1
        && out_plane == 1
        && isa == Isa::Avx512
        && !prep.weights32.is_empty()
        && res.is_none()
    {
        // SAFETY: planes of one value, one after another (the caller's promise)
        return gemv_conv(x, s, prep, &bias_h, rs, relu, unsafe {
            std::slice::from_raw_parts_mut(out.0 as *mut std::mem::MaybeUninit<i32>, s.batch * s.m)
        });
    }
    let threads = par::threads();
    let parallel = threads > 1 && s.macs() >= 2 * MIN_TASK_MACS;
    let want = if parallel {
        (s.macs() / MIN_TASK_MACS)
            .clamp(2, 4 * threads)
            .div_ceil(threads)
            * threads
    } else {
        1
    };
    // Items split whichever is larger, so that each thread reads the smaller one whole: the
    // packed input (each item then packs its own block of pixels, of L2 size, and runs every
    // weight panel over it) or the weights (items split the weight panels; a small packed
    // input, as of 7x7 and 14x14 images, is then one block, packed once per thread).
    let input_bytes = n_panels * k * nr * 8;
    let weight_bytes = m_panels * k * mr * if prep.weights32.is_empty() { 8 } else { 4 };
    let by_pixels = input_bytes >= weight_bytes;
    let l2_panels = (L2_BLOCK_BYTES / (k * nr * 8)).max(1);
    let per_block = if !by_pixels && input_bytes <= 3 * L2_BLOCK_BYTES {
        n_panels
    } else {
        l2_panels.min(n_panels.div_ceil(want))
    };
    let nb = n_panels.div_ceil(per_block);
    let mt = if by_pixels {
        1
    } else {
        want.div_ceil(nb).min(m_panels)
    };
    let per_group = nb * mt;
    // (batch, group) pairs, each its own matrix product
    let batch_groups = s.batch * s.groups;
    let x_of = |bg: usize| {
        let (b, g) = (bg / s.groups, bg % s.groups);
        let start = (b * s.c + g * cg) * x_plane;
        &x[start..start + (cg - 1) * x_plane + s.h * s.w]
    };
    let pack = |panel: &mut [f64], x_g: &[i32], jp: usize| {
        if pointwise {
            pack_pointwise(isa, panel, x_g, x_plane, hw, jp * nr, nr)
        } else {
            pack_im2col(isa, panel, x_g, s, jp * nr, nr)
        }
    };
    // one block split by weights: each thread packs it once, into its own buffer, and runs
    // all its items over that copy (packing it in each item repeated the work `mt` times; a
    // copy packed by all threads together cost a loop of its own, and each thread then read
    // half of it from the other core's cache)
    let panel_len = k * nr;
    let call = if nb == 1 && mt > 1 {
        PACK_CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1
    } else {
        0
    };
    let o = out;
    let run = |item: usize| -> (bool, u32) {
        let (bg, rest) = (item / per_group, item % per_group);
        let g = bg % s.groups;
        let (jb, tm) = (rest / mt, rest % mt);
        let (jp0, jp1) = (jb * per_block, ((jb + 1) * per_block).min(n_panels));
        let (ip0, ip1) = (tm * m_panels / mt, (tm + 1) * m_panels / mt);
        let mut xmax = 0;
        // every packed value is written before it is read: a buffer kept from an earlier
        // item or call needs no zeroing
        let mut own = SCRATCH.take();
        if call == 0 || PACKED.get() != (call, bg) || own.len() < (jp1 - jp0) * panel_len {
            if own.len() < (jp1 - jp0) * panel_len {
                own = vec![0f64; per_block * panel_len];
            }
            for (jp, panel) in (jp0..jp1).zip(own.chunks_exact_mut(panel_len)) {
                xmax = xmax.max(pack(panel, x_of(bg), jp));
            }
            PACKED.set((call, bg));
        }
        let bp: &[f64] = &own;
        let bias_g = &bias_h[g * mg..(g + 1) * mg];
        let row0 = bg * mg;
        let mut ok = true;
        // widened weight panels: every value is written before it is read, so a buffer kept
        // from an earlier item needs no zeroing
        let mut wide = WIDE.take();
        if !prep.weights32.is_empty() && wide.len() < k * mr {
            wide = vec![0f64; k * mr];
        }
        let a_len = k * mr;
        // the weight panels as stored: f64, or f32 when exact
        let (stored, elem) = if prep.weights32.is_empty() {
            (prep.weights.as_ptr() as *const u8, 8)
        } else {
            (prep.weights32.as_ptr() as *const u8, 4)
        };
        for ip in ip0..ip1 {
            let at = (g * m_panels + ip) * a_len;
            let apanel: &[f64] = if prep.weights32.is_empty() {
                &prep.weights[at..at + a_len]
            } else {
                widen(isa, &mut wide[..a_len], &prep.weights32[at..at + a_len]);
                &wide[..a_len]
            };
            // the next weight panel is fetched while this one's tiles run (a panel comes from
            // L3 or memory: a model's weights are read once per inference); each tile
            // prefetches its share, a little on every step of its k loop
            let next = stored.wrapping_add((at + a_len) * elem);
            let next_bytes = if ip + 1 < ip1 { a_len * elem } else { 0 };
            let tiles = jp1 - jp0;
            let rows = mr.min(mg - ip * mr);
            let brow = &bias_g[ip * mr..ip * mr + rows];
            for jp in jp0..jp1 {
                let bpanel = &bp[(jp - jp0) * panel_len..(jp - jp0 + 1) * panel_len];
                let cols = nr.min(hw - jp * nr);
                let dst = o.at((row0 + ip * mr) * out_plane + jp * nr);
                let pf = if next_bytes == 0 {
                    Prefetch::NONE
                } else {
                    let (from, to) = (
                        (jp - jp0) * next_bytes / tiles,
                        (jp - jp0 + 1) * next_bytes / tiles,
                    );
                    Prefetch {
                        at: next.wrapping_add(from),
                        step: (to - from).div_ceil(k),
                        end: next.wrapping_add(to),
                    }
                };
                // SAFETY: the rows × cols outputs from (row0 + ip·mr, jp·nr) are inside `out`,
                // and this item's alone
                ok &= unsafe {
                    tile(
                        isa, k, apanel, bpanel, brow, cols, rs.mul, relu, dst, out_plane, pf,
                    )
                };
                if let Some(r) = res {
                    // the tile's outputs are still in L1: the residual Add reads them there
                    let at = (row0 + ip * mr) * out_plane + jp * nr;
                    // SAFETY: as for the tile; `skip` is laid out as the output (asserted)
                    ok &=
                        unsafe { residual_tile(isa, r, dst, &r.skip[at..], rows, cols, out_plane) };
                }
            }
        }
        SCRATCH.set(own);
        WIDE.set(wide);
        (ok, xmax)
    };
    let items = batch_groups * per_group;
    let merge = |a: (bool, u32), b: (bool, u32)| (a.0 && b.0, a.1.max(b.1));
    let (ok, xmax) = if parallel && items > 1 {
        par::map_reduce(items, || (true, 0), run, merge)
    } else {
        (0..items).map(run).fold((true, 0), merge)
    };
    (ok, xmax)
}

/// A 1x1 convolution of a 1x1 image (a classifier's matrix-vector product): the weight
/// panels are read once, straight from f32, with the vector across the panel's `mr` output
/// channels; the matrix product would compute `nr` pixels for the one there is.
#[cfg(target_arch = "x86_64")]
fn gemv_conv(
    x: &[i32],
    s: &ConvShape,
    prep: &PreparedConv,
    bias_h: &[f64],
    rs: Rescale,
    relu: bool,
    out: &mut [std::mem::MaybeUninit<i32>],
) -> (bool, u32) {
    let (mg, cg, mr) = (s.mg(), s.cg(), prep.isa.mr());
    let m_panels = mg.div_ceil(mr);
    let xmax = x.iter().map(|v| v.unsigned_abs()).max().unwrap_or(0);
    let xf: Vec<f64> = x.iter().map(|&v| v as f64).collect();
    let panels = s.batch * s.groups * m_panels;
    let tasks = tasks_for(s.macs() * 8, panels);
    let per_task = panels.div_ceil(tasks);
    let o = SyncPtr(out.as_mut_ptr() as *mut i32);
    let run = |t: usize| -> bool {
        let mut ok = true;
        for p in t * per_task..((t + 1) * per_task).min(panels) {
            let (bg, ip) = (p / m_panels, p % m_panels);
            let (b, g) = (bg / s.groups, bg % s.groups);
            let xg = &xf[b * s.c + g * cg..b * s.c + (g + 1) * cg];
            let at = (g * m_panels + ip) * cg * mr;
            let rows = mr.min(mg - ip * mr);
            let row0 = b * s.m + g * mg + ip * mr;
            // SAFETY: AVX-512 is present (Isa::detect); the panel holds cg·mr weights, `bias_h`
            // the rows from g·mg + ip·mr, and outputs row0.. row0 + rows are this task's alone
            ok &= unsafe {
                gemv_panel512(
                    cg,
                    prep.weights32[at..at + cg * mr].as_ptr(),
                    xg.as_ptr(),
                    &bias_h[g * mg + ip * mr..g * mg + ip * mr + rows],
                    rs.mul,
                    relu,
                    o.at(row0),
                )
            };
        }
        ok
    };
    let ok = if tasks > 1 {
        par::map_reduce(tasks, || true, run, |a, b| a && b)
    } else {
        run(0)
    };
    (ok, xmax)
}

/// One panel of 12 output channels: `bias + Σ_t w[t][0..12] · x[t]`, rescaled into `dst`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl,fma")]
unsafe fn gemv_panel512(
    k: usize,
    w: *const f32,
    x: *const f64,
    bias: &[f64],
    mul: f64,
    relu: bool,
    dst: *mut i32,
) -> bool {
    use std::arch::x86_64::*;
    let rows = bias.len();
    let (m0, m1) = (
        ((1u32 << rows.min(8)) - 1) as u8,
        ((1u32 << rows.saturating_sub(8)) - 1) as u8,
    );
    let mut a0 = _mm512_maskz_loadu_pd(m0, bias.as_ptr());
    let mut a1 = _mm256_maskz_loadu_pd(m1, bias.as_ptr().add(8));
    // two accumulator pairs over even and odd t, so consecutive FMAs do not wait on each other
    let (mut b0, mut b1) = (_mm512_setzero_pd(), _mm256_setzero_pd());
    let mut t = 0;
    while t + 2 <= k {
        let p = w.add(t * 12);
        // the weights come from L3 or memory, read once per inference: ask for them 4 KB
        // ahead (0.33 -> 0.25 ms for MobileNetV2's classifier; 12 KB ahead did no better)
        _mm_prefetch::<_MM_HINT_T0>(p.wrapping_add(1024) as *const i8);
        let (xa, xb) = (_mm512_set1_pd(*x.add(t)), _mm512_set1_pd(*x.add(t + 1)));
        a0 = _mm512_fmadd_pd(_mm512_cvtps_pd(_mm256_loadu_ps(p)), xa, a0);
        a1 = _mm256_fmadd_pd(
            _mm256_cvtps_pd(_mm_loadu_ps(p.add(8))),
            _mm512_castpd512_pd256(xa),
            a1,
        );
        b0 = _mm512_fmadd_pd(_mm512_cvtps_pd(_mm256_loadu_ps(p.add(12))), xb, b0);
        b1 = _mm256_fmadd_pd(
            _mm256_cvtps_pd(_mm_loadu_ps(p.add(20))),
            _mm512_castpd512_pd256(xb),
            b1,
        );
        t += 2;
    }
    if t < k {
        let p = w.add(t * 12);
        let xa = _mm512_set1_pd(*x.add(t));
        a0 = _mm512_fmadd_pd(_mm512_cvtps_pd(_mm256_loadu_ps(p)), xa, a0);
        a1 = _mm256_fmadd_pd(
            _mm256_cvtps_pd(_mm_loadu_ps(p.add(8))),
            _mm512_castpd512_pd256(xa),
            a1,
        );
    }
    // every partial sum is an integer below 2^53 (the caller's bound), so the order of
    // additions does not change the result
    let (a0, a1) = (_mm512_add_pd(a0, b0), _mm256_add_pd(a1, b1));
    let y0 = _mm512_cvt_roundpd_epi32::<{ _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC }>(
        _mm512_mul_pd(a0, _mm512_set1_pd(mul)),
    );
    let y1 = _mm256_cvtpd_epi32(_mm256_floor_pd(_mm256_mul_pd(a1, _mm256_set1_pd(mul))));
    let low = _mm256_mask_min_epi32(_mm256_set1_epi32(i32::MAX), m0, y0, y0);
    let low1 = _mm_mask_min_epi32(_mm_set1_epi32(i32::MAX), m1, y1, y1);
    let (y0, y1) = if relu {
        (
            _mm256_max_epi32(y0, _mm256_setzero_si256()),
            _mm_max_epi32(y1, _mm_setzero_si128()),
        )
    } else {
        (y0, y1)
    };
    _mm256_mask_storeu_epi32(dst, m0, y0);
    _mm_mask_storeu_epi32(dst.add(8), m1, y1);
    _mm256_cmpeq_epi32_mask(low, _mm256_set1_epi32(i32::MIN)) == 0
        && _mm_cmpeq_epi32_mask(low1, _mm_set1_epi32(i32::MIN)) == 0
}

/// Addresses a micro-kernel prefetches into L2, one per step of its k loop: `at + t·step`
/// while below `end`.
#[derive(Clone, Copy)]
struct Prefetch {
    at: *const u8,
    step: usize,
    end: *const u8,
}

impl Prefetch {
    const NONE: Prefetch = Prefetch {
        at: std::ptr::null(),
        step: 0,
        end: std::ptr::null(),
    };
}

/// `dst = src` as f64 (a weight panel stored as f32).
fn widen(isa: Isa, dst: &mut [f64], src: &[f32]) {
    #[cfg(target_arch = "x86_64")]
    if isa == Isa::Avx512 {
        // SAFETY: AVX-512 F is present (Isa::detect)
        return unsafe { widen512(dst, src) };
    }
    let _ = isa;
    for (d, &v) in dst.iter_mut().zip(src) {
        *d = v as f64;
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn widen512(dst: &mut [f64], src: &[f32]) {
    use std::arch::x86_64::*;
    let n = dst.len().min(src.len());
    let mut i = 0;
    while i + 8 <= n {
        _mm512_storeu_pd(
            dst.as_mut_ptr().add(i),
            _mm512_cvtps_pd(_mm256_loadu_ps(src.as_ptr().add(i))),
        );
        i += 8;
    }
    for j in i..n {
        dst[j] = src[j] as f64;
    }
}

thread_local! {
    /// Packed-input buffer of the matrix product, kept between items and calls (taken while
    /// in use, so a nested call just allocates its own).
    static SCRATCH: std::cell::Cell<Vec<f64>> = const { std::cell::Cell::new(Vec::new()) };
    /// What SCRATCH holds: the whole block `(call, batch·group)` of a call split by weights
    /// alone (call 0: anything else)
    static PACKED: std::cell::Cell<(u64, usize)> = const { std::cell::Cell::new((0, 0)) };
    /// A weight panel widened from f32, kept between items and calls as SCRATCH is.
    static WIDE: std::cell::Cell<Vec<f64>> = const { std::cell::Cell::new(Vec::new()) };
}

/// Numbers the calls whose items share one packed block per thread (see [`PACKED`]).
static PACK_CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Panel of `nr` pixels starting at `p0` of a 1x1 convolution's input: `cg` rows of `hw`
/// pixels, `stride` apart. Returns `max|x|` of the values packed.
fn pack_pointwise(
    isa: Isa,
    panel: &mut [f64],
    x_g: &[i32],
    stride: usize,
    hw: usize,
    p0: usize,
    nr: usize,
) -> u32 {
    #[cfg(target_arch = "x86_64")]
    if isa == Isa::Avx512 && nr == 16 {
        assert!(
            p0 < hw
                && panel.len().is_multiple_of(16)
                && (panel.len() / 16 == 0 || (panel.len() / 16 - 1) * stride + hw <= x_g.len())
        );
        // SAFETY: AVX-512 is present (Isa::detect); rows t·stride + p0.. hold at least
        // min(16, hw - p0) values (asserted)
        return unsafe { pack_pointwise512(panel, x_g, stride, hw, p0) };
    }
    #[cfg(target_arch = "x86_64")]
    if isa != Isa::Portable {
        // SAFETY: AVX2 is present (Isa::detect)
        return unsafe { pack_pointwise_avx2(panel, x_g, stride, hw, p0, nr) };
    }
    let _ = isa;
    pack_pointwise_impl(panel, x_g, stride, hw, p0, nr)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn pack_pointwise_avx2(
    panel: &mut [f64],
    x_g: &[i32],
    stride: usize,
    hw: usize,
    p0: usize,
    nr: usize,
) -> u32 {
    pack_pointwise_impl(panel, x_g, stride, hw, p0, nr)
}

#[inline(always)]
fn pack_pointwise_impl(
    panel: &mut [f64],
    x_g: &[i32],
    stride: usize,
    hw: usize,
    p0: usize,
    nr: usize,
) -> u32 {
    let cols = nr.min(hw - p0);
    let mut m = 0u32;
    // each input channel is its own stream, more than the hardware prefetcher follows: fetch
    // the panel PACK_AHEAD panels on while this one is converted
    let ahead = p0 + PACK_AHEAD * nr;
    for (t, dst) in panel.chunks_exact_mut(nr).enumerate() {
        if ahead < hw {
            prefetch_l2(x_g[t * stride + ahead..].as_ptr());
        }
        let src = &x_g[t * stride + p0..t * stride + p0 + cols];
        for (d, &v) in dst.iter_mut().zip(src) {
            *d = v as f64;
            m = m.max(v.unsigned_abs());
        }
        dst[cols..].fill(0.0);
    }
    m
}

/// [`pack_pointwise_impl`] for 16-pixel panels: one masked load, |x| maximum and two
/// conversions per input channel (the compiler's version of the loop went through 4-wide
/// conversions and a scalar tail).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl")]
unsafe fn pack_pointwise512(
    panel: &mut [f64],
    x_g: &[i32],
    stride: usize,
    hw: usize,
    p0: usize,
) -> u32 {
    use std::arch::x86_64::*;
    let cols = 16.min(hw - p0);
    let mask: u16 = if cols == 16 {
        0xffff
    } else {
        (1u16 << cols) - 1
    };
    let ahead = p0 + PACK_AHEAD * 16;
    let mut m = _mm512_setzero_si512();
    let (src, dst) = (x_g.as_ptr(), panel.as_mut_ptr());
    for t in 0..panel.len() / 16 {
        if ahead < hw {
            prefetch_l2(src.add(t * stride + ahead));
        }
        // lanes past `cols` are neither read nor kept: they pack as zeros
        let v = _mm512_maskz_loadu_epi32(mask, src.add(t * stride + p0));
        m = _mm512_max_epu32(m, _mm512_abs_epi32(v));
        _mm512_storeu_pd(
            dst.add(t * 16),
            _mm512_cvtepi32_pd(_mm512_castsi512_si256(v)),
        );
        _mm512_storeu_pd(
            dst.add(t * 16 + 8),
            _mm512_cvtepi32_pd(_mm512_extracti64x4_epi64::<1>(v)),
        );
    }
    _mm512_reduce_max_epu32(m)
}

/// How many panels ahead the pointwise packing prefetches its input.
const PACK_AHEAD: usize = 4;

#[inline(always)]
fn prefetch_l2(p: *const i32) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch has no architectural effect (SSE is part of x86_64)
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T1 }>(p as *const i8)
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// `dst[c] = row[c·S]`; returns `max|row[c·S]|`.
#[inline(always)]
fn strided<const S: usize>(dst: &mut [f64], row: &[i32]) -> u32 {
    let mut m = 0u32;
    if dst.len() == 16 && row.len() > 15 * S {
        // a fixed length, so the compiler unrolls and vectorises the gather
        let row = &row[..15 * S + 1];
        for c in 0..16 {
            let v = row[c * S];
            dst[c] = v as f64;
            m = m.max(v.unsigned_abs());
        }
        return m;
    }
    for (c, d) in dst.iter_mut().enumerate() {
        let v = row[c * S];
        *d = v as f64;
        m = m.max(v.unsigned_abs());
    }
    m
}

fn strided_any(dst: &mut [f64], row: &[i32], sx: usize) -> u32 {
    let mut m = 0u32;
    for (d, &v) in dst.iter_mut().zip(row.iter().step_by(sx)) {
        *d = v as f64;
        m = m.max(v.unsigned_abs());
    }
    m
}

/// Panel of `nr` pixels starting at `p0` of the im2col matrix `[cg·kh·kw × oh·ow]`; returns
/// `max|x|` of the values packed.
fn pack_im2col(
    isa: Isa,
    panel: &mut [f64],
    x_g: &[i32],
    s: &ConvShape,
    p0: usize,
    nr: usize,
) -> u32 {
    #[cfg(target_arch = "x86_64")]
    if isa != Isa::Portable {
        // SAFETY: AVX2 is present (Isa::detect)
        return unsafe { pack_im2col_avx2(panel, x_g, s, p0, nr) };
    }
    let _ = isa;
    pack_im2col_impl(panel, x_g, s, p0, nr)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn pack_im2col_avx2(
    panel: &mut [f64],
    x_g: &[i32],
    s: &ConvShape,
    p0: usize,
    nr: usize,
) -> u32 {
    pack_im2col_impl(panel, x_g, s, p0, nr)
}

#[inline(always)]
fn pack_im2col_impl(panel: &mut [f64], x_g: &[i32], s: &ConvShape, p0: usize, nr: usize) -> u32 {
    let hw = s.oh * s.ow;
    let cols = nr.min(hw - p0);
    let mut iy0 = [0isize; 16];
    let mut ix0 = [0isize; 16];
    for c in 0..cols {
        let (oy, ox) = ((p0 + c) / s.ow, (p0 + c) % s.ow);
        iy0[c] = (oy * s.strides[0]) as isize - s.pads[0] as isize;
        ix0[c] = (ox * s.strides[1]) as isize - s.pads[1] as isize;
    }
    // a full panel inside one output row: each tap reads one input row at a fixed stride
    let one_row = cols == nr && (p0 % s.ow) + nr <= s.ow;
    let sx = s.strides[1];
    let (mut t, mut m) = (0, 0u32);
    for ic in 0..s.cg() {
        let xc = &x_g[ic * s.h * s.w..(ic + 1) * s.h * s.w];
        for ky in 0..s.kh {
            for kx in 0..s.kw {
                let dst = &mut panel[t * nr..(t + 1) * nr];
                t += 1;
                if one_row {
                    let iy = iy0[0] + (ky * s.dilations[0]) as isize;
                    if iy < 0 || iy >= s.h as isize {
                        dst.fill(0.0);
                        continue;
                    }
                    let a = ix0[0] + (kx * s.dilations[1]) as isize;
                    if a >= 0 && a as usize + (nr - 1) * sx < s.w {
                        let start = iy as usize * s.w + a as usize;
                        let row = &xc[start..start + (nr - 1) * sx + 1];
                        m = m.max(match sx {
                            1 => strided::<1>(dst, row),
                            2 => strided::<2>(dst, row),
                            _ => strided_any(dst, row, sx),
                        });
                        continue;
                    }
                }
                for c in 0..nr {
                    let iy = iy0[c] + (ky * s.dilations[0]) as isize;
                    let ix = ix0[c] + (kx * s.dilations[1]) as isize;
                    dst[c] = if c < cols
                        && iy >= 0
                        && ix >= 0
                        && (iy as usize) < s.h
                        && (ix as usize) < s.w
                    {
                        let v = xc[iy as usize * s.w + ix as usize];
                        m = m.max(v.unsigned_abs());
                        v as f64
                    } else {
                        0.0
                    };
                }
            }
        }
    }
    m
}

/// One tile: `rows × cols` outputs at `dst` (row stride `ldo`) of `bias + A_panel · B_panel`
/// (panels packed k-major, `mr` and `nr` wide), rescaled; false if one is out of range.
///
/// Safety: `dst` must be valid for writes of those outputs, and `isa` present on this CPU.
#[allow(clippy::too_many_arguments)]
#[inline]
unsafe fn tile(
    isa: Isa,
    k: usize,
    a: &[f64],
    b: &[f64],
    bias: &[f64],
    cols: usize,
    mul: f64,
    relu: bool,
    dst: *mut i32,
    ldo: usize,
    pf: Prefetch,
) -> bool {
    let (mr, nr) = (isa.mr(), isa.nr());
    let rows = bias.len();
    assert!(
        a.len() >= k * mr
            && b.len() >= k * nr
            && rows >= 1
            && rows <= mr
            && cols >= 1
            && cols <= nr
    );
    macro_rules! by_rows {
        ($f:ident, $w:literal, $($r:literal)*) => {
            match rows {
                $($r => $f::<$r, $w>(k, a.as_ptr(), b.as_ptr(), bias.as_ptr(), mul, relu, dst, ldo, cols, pf),)*
                _ => unreachable!(),
            }
        };
    }
    // SAFETY: the panels hold k·mr and k·nr values and `bias` `rows` (asserted); the rest is
    // the caller's promise
    #[cfg(target_arch = "x86_64")]
    {
        match isa {
            Isa::Avx512 if cols > 8 => return by_rows!(mk512, 2, 1 2 3 4 5 6 7 8 9 10 11 12),
            // a few columns (the last of a 7x7 or 14x14 image): rows in the vector lanes
            Isa::Avx512 if cols == 1 => {
                return mkcol512::<1, 4>(k, a.as_ptr(), b.as_ptr(), bias, mul, relu, dst, ldo, pf)
            }
            Isa::Avx512 if cols == 2 => {
                return mkcol512::<2, 2>(k, a.as_ptr(), b.as_ptr(), bias, mul, relu, dst, ldo, pf)
            }
            Isa::Avx512 if cols == 3 => {
                return mkcol512::<3, 1>(k, a.as_ptr(), b.as_ptr(), bias, mul, relu, dst, ldo, pf)
            }
            Isa::Avx512 if cols == 4 => {
                return mkcol512::<4, 1>(k, a.as_ptr(), b.as_ptr(), bias, mul, relu, dst, ldo, pf)
            }
            Isa::Avx512 => return by_rows!(mk512, 1, 1 2 3 4 5 6 7 8 9 10 11 12),
            Isa::Avx2 if cols > 4 => return by_rows!(mk256, 2, 1 2 3 4 5 6),
            Isa::Avx2 => return by_rows!(mk256, 1, 1 2 3 4 5 6),
            Isa::Portable => {}
        }
    }
    let _ = pf;
    tile_portable(k, a, b, bias, mr, nr, cols, mul, relu, dst, ldo)
}

#[allow(clippy::too_many_arguments)]
unsafe fn tile_portable(
    k: usize,
    a: &[f64],
    b: &[f64],
    bias: &[f64],
    mr: usize,
    nr: usize,
    cols: usize,
    mul: f64,
    relu: bool,
    dst: *mut i32,
    ldo: usize,
) -> bool {
    let mut ok = true;
    for (r, &bv) in bias.iter().enumerate() {
        let mut acc = [bv; 16];
        for t in 0..k {
            let av = a[t * mr + r];
            for (c, v) in acc[..cols].iter_mut().enumerate() {
                *v += av * b[t * nr + c];
            }
        }
        for (c, &v) in acc[..cols].iter().enumerate() {
            let y = finish_f64(v, mul, relu);
            ok &= y.is_some();
            *dst.add(r * ldo + c) = y.unwrap_or(0);
        }
    }
    ok
}

/// AVX-512 tile of `R` rows and `W` vectors of 8 pixels.
#[cfg(target_arch = "x86_64")]
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx512f,avx512vl,fma")]
unsafe fn mk512<const R: usize, const W: usize>(
    k: usize,
    a: *const f64,
    b: *const f64,
    bias: *const f64,
    mul: f64,
    relu: bool,
    dst: *mut i32,
    ldo: usize,
    cols: usize,
    pf: Prefetch,
) -> bool {
    use std::arch::x86_64::*;
    let mut c = [[_mm512_setzero_pd(); W]; R];
    for (r, cr) in c.iter_mut().enumerate() {
        let bv = _mm512_set1_pd(*bias.add(r));
        for v in cr.iter_mut() {
            *v = bv;
        }
    }
    let mut pf_at = pf.at;
    for t in 0..k {
        if pf_at < pf.end {
            _mm_prefetch::<_MM_HINT_T1>(pf_at as *const i8);
        }
        pf_at = pf_at.wrapping_add(pf.step);
        let bp = b.add(t * 16);
        let b0 = _mm512_loadu_pd(bp);
        let b1 = if W == 2 {
            _mm512_loadu_pd(bp.add(8))
        } else {
            b0
        };
        let ap = a.add(t * 12);
        // unrolled by the compiler: R and W are constants and `c` stays in registers
        for (r, cr) in c.iter_mut().enumerate() {
            let ar = _mm512_set1_pd(*ap.add(r));
            cr[0] = _mm512_fmadd_pd(ar, b0, cr[0]);
            if W == 2 {
                cr[W - 1] = _mm512_fmadd_pd(ar, b1, cr[W - 1]);
            }
        }
    }
    let m = _mm512_set1_pd(mul);
    let full = if cols >= 16 {
        0xffffu32
    } else {
        (1u32 << cols) - 1
    };
    let masks = [full as u8, (full >> 8) as u8];
    // an out-of-range value converts to i32::MIN (the "integer indefinite"): track the
    // minimum; a true i32::MIN output also trips it, and the i64 path then decides
    let mut low = _mm256_set1_epi32(i32::MAX);
    for (r, cr) in c.iter().enumerate() {
        for (w, &v) in cr.iter().enumerate() {
            let mk = masks[w];
            let y = _mm512_cvt_roundpd_epi32::<{ _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC }>(
                _mm512_mul_pd(v, m),
            );
            low = _mm256_mask_min_epi32(low, mk, low, y);
            let y = if relu {
                _mm256_max_epi32(y, _mm256_setzero_si256())
            } else {
                y
            };
            _mm256_mask_storeu_epi32(dst.add(r * ldo + w * 8), mk, y);
        }
    }
    _mm256_cmpeq_epi32_mask(low, _mm256_set1_epi32(i32::MIN)) == 0
}

/// AVX-512 tile of `C` columns (pixels) and up to 12 rows, the rows in the lanes of two
/// vectors: `2·C` FMAs per step of k where [`mk512`] spends one per row. The k loop is
/// unrolled `U` times into separate sums (enough to cover the FMA latency; the order of
/// additions does not matter, every partial sum being an exact integer in f64).
#[cfg(target_arch = "x86_64")]
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx512f,avx512vl,fma")]
unsafe fn mkcol512<const C: usize, const U: usize>(
    k: usize,
    a: *const f64,
    b: *const f64,
    bias: &[f64],
    mul: f64,
    relu: bool,
    dst: *mut i32,
    ldo: usize,
    pf: Prefetch,
) -> bool {
    use std::arch::x86_64::*;
    let rows = bias.len();
    let rmask = (1u32 << rows) - 1;
    let (m0, m1) = (rmask as u8, (rmask >> 8) as u8);
    let mut acc = [[[_mm512_setzero_pd(); 2]; C]; U];
    let (b0, b1) = (
        _mm512_maskz_loadu_pd(m0, bias.as_ptr()),
        _mm512_maskz_loadu_pd(m1, bias.as_ptr().wrapping_add(8)),
    );
    for ac in acc[0].iter_mut() {
        *ac = [b0, b1];
    }
    let mut pf_at = pf.at;
    let mut t = 0;
    while t < k {
        let steps = U.min(k - t);
        for (u, au) in acc.iter_mut().enumerate().take(steps) {
            if pf_at < pf.end {
                _mm_prefetch::<_MM_HINT_T1>(pf_at as *const i8);
            }
            pf_at = pf_at.wrapping_add(pf.step);
            // rows 0..8 and 8..12 of the weight panel's step t + u (12 values)
            let ap = a.add((t + u) * 12);
            let (a0, a1) = (_mm512_loadu_pd(ap), _mm512_maskz_loadu_pd(0x0f, ap.add(8)));
            let bp = b.add((t + u) * 16);
            for (c, ac) in au.iter_mut().enumerate() {
                let bc = _mm512_set1_pd(*bp.add(c));
                ac[0] = _mm512_fmadd_pd(a0, bc, ac[0]);
                ac[1] = _mm512_fmadd_pd(a1, bc, ac[1]);
            }
        }
        t += steps;
    }
    let m = _mm512_set1_pd(mul);
    let mut low = _mm256_set1_epi32(i32::MAX);
    let mut lanes = [0i32; 16];
    for c in 0..C {
        let (mut s0, mut s1) = (acc[0][c][0], acc[0][c][1]);
        for au in acc.iter().skip(1) {
            s0 = _mm512_add_pd(s0, au[c][0]);
            s1 = _mm512_add_pd(s1, au[c][1]);
        }
        let y0 = _mm512_cvt_roundpd_epi32::<{ _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC }>(
            _mm512_mul_pd(s0, m),
        );
        let y1 = _mm512_cvt_roundpd_epi32::<{ _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC }>(
            _mm512_mul_pd(s1, m),
        );
        low = _mm256_mask_min_epi32(low, m0, low, y0);
        low = _mm256_mask_min_epi32(low, m1, low, y1);
        let (y0, y1) = if relu {
            (
                _mm256_max_epi32(y0, _mm256_setzero_si256()),
                _mm256_max_epi32(y1, _mm256_setzero_si256()),
            )
        } else {
            (y0, y1)
        };
        _mm256_storeu_si256(lanes.as_mut_ptr() as *mut __m256i, y0);
        _mm256_storeu_si256(lanes.as_mut_ptr().add(8) as *mut __m256i, y1);
        // one output per row, a plane apart
        for (r, &y) in lanes.iter().enumerate().take(rows) {
            *dst.add(r * ldo + c) = y;
        }
    }
    _mm256_cmpeq_epi32_mask(low, _mm256_set1_epi32(i32::MIN)) == 0
}

/// AVX2 tile of `R` rows and `W` vectors of 4 pixels.
#[cfg(target_arch = "x86_64")]
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx2,fma")]
unsafe fn mk256<const R: usize, const W: usize>(
    k: usize,
    a: *const f64,
    b: *const f64,
    bias: *const f64,
    mul: f64,
    relu: bool,
    dst: *mut i32,
    ldo: usize,
    cols: usize,
    pf: Prefetch,
) -> bool {
    use std::arch::x86_64::*;
    let mut c = [[_mm256_setzero_pd(); W]; R];
    for (r, cr) in c.iter_mut().enumerate() {
        let bv = _mm256_set1_pd(*bias.add(r));
        for v in cr.iter_mut() {
            *v = bv;
        }
    }
    let mut pf_at = pf.at;
    for t in 0..k {
        if pf_at < pf.end {
            _mm_prefetch::<_MM_HINT_T1>(pf_at as *const i8);
        }
        pf_at = pf_at.wrapping_add(pf.step);
        let bp = b.add(t * 8);
        let b0 = _mm256_loadu_pd(bp);
        let b1 = if W == 2 {
            _mm256_loadu_pd(bp.add(4))
        } else {
            b0
        };
        let ap = a.add(t * 6);
        for (r, cr) in c.iter_mut().enumerate() {
            let ar = _mm256_broadcast_sd(&*ap.add(r));
            cr[0] = _mm256_fmadd_pd(ar, b0, cr[0]);
            if W == 2 {
                cr[W - 1] = _mm256_fmadd_pd(ar, b1, cr[W - 1]);
            }
        }
    }
    let m = _mm256_set1_pd(mul);
    let mut low = _mm_set1_epi32(i32::MAX);
    for (r, cr) in c.iter().enumerate() {
        for (w, &v) in cr.iter().enumerate() {
            let n = cols.saturating_sub(w * 4).min(4);
            let y = cvt4(v, m);
            low = _mm_min_epi32(
                low,
                _mm_blendv_epi8(_mm_set1_epi32(i32::MAX), y, lanes4(0xf >> (4 - n))),
            );
            store4(dst.add(r * ldo + w * 4), relu4(y, relu), n);
        }
    }
    _mm_movemask_epi8(_mm_cmpeq_epi32(low, _mm_set1_epi32(i32::MIN))) == 0
}

/// floor(v · m) as i32 lanes; out of range: i32::MIN (the "integer indefinite").
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn cvt4(
    v: std::arch::x86_64::__m256d,
    m: std::arch::x86_64::__m256d,
) -> std::arch::x86_64::__m128i {
    use std::arch::x86_64::*;
    _mm256_cvtpd_epi32(_mm256_floor_pd(_mm256_mul_pd(v, m)))
}

#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn relu4(y: std::arch::x86_64::__m128i, relu: bool) -> std::arch::x86_64::__m128i {
    use std::arch::x86_64::*;
    if relu {
        _mm_max_epi32(y, _mm_setzero_si128())
    } else {
        y
    }
}

/// All-ones in the lanes of bit mask `bits` (4 lanes).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn lanes4(bits: u8) -> std::arch::x86_64::__m128i {
    use std::arch::x86_64::*;
    let f = |i: u8| -((bits >> i) as i32 & 1);
    _mm_setr_epi32(f(0), f(1), f(2), f(3))
}

#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn store4(p: *mut i32, y: std::arch::x86_64::__m128i, n: usize) {
    use std::arch::x86_64::*;
    if n == 4 {
        _mm_storeu_si128(p as *mut __m128i, y);
    } else {
        let mut tmp = [0i32; 4];
        _mm_storeu_si128(tmp.as_mut_ptr() as *mut __m128i, y);
        std::ptr::copy_nonoverlapping(tmp.as_ptr(), p, n);
    }
}

// ---------------------------------------------------------------------------------------------
// Residual Add

/// An Add whose other operand is a convolution's output, applied to each output tile as it is
/// written: `y = shift_round((conv << conv_up) + (skip << skip_up), shift)`, in i64, false when
/// some `y` leaves the i32 range. Only taken when [`Residual::supported`], which proves that no
/// i64 step can wrap for any 32-bit operands (so the value is the exact one).
#[derive(Clone, Copy, Debug)]
pub struct Residual<'a> {
    pub skip: &'a [i32],
    pub conv_up: u32,
    pub skip_up: u32,
    pub shift: i32,
}

impl Residual<'_> {
    /// Whether the kernels take it: the bounds of `Ctx::add_same`, under which the i64 pass
    /// is exact ([`crate::run::add_pass_is_exact`]).
    pub fn supported(&self) -> bool {
        crate::run::add_pass_is_exact(self.conv_up, self.skip_up, self.shift)
    }

    #[inline(always)]
    fn apply(&self, c: i32, k: i32) -> i64 {
        let v = ((c as i64) << self.conv_up).wrapping_add((k as i64) << self.skip_up);
        if self.shift > 0 {
            v.wrapping_add(1i64 << (self.shift - 1)) >> self.shift
        } else {
            v << -self.shift
        }
    }
}

/// Rows × cols outputs at `dst` (rows `ldo` apart) and the same positions of `skip`.
///
/// # Safety
/// `dst` must be valid for reads and writes of those outputs, `isa` present on this CPU.
unsafe fn residual_tile(
    isa: Isa,
    r: &Residual<'_>,
    dst: *mut i32,
    skip: &[i32],
    rows: usize,
    cols: usize,
    ldo: usize,
) -> bool {
    assert!(cols <= 16 && rows >= 1 && skip.len() >= (rows - 1) * ldo + cols);
    #[cfg(target_arch = "x86_64")]
    if isa == Isa::Avx512 {
        return residual_tile512(r, dst, skip.as_ptr(), rows, cols, ldo);
    }
    let _ = isa;
    let mut ok = true;
    for row in 0..rows {
        for c in 0..cols {
            let p = dst.add(row * ldo + c);
            let y = r.apply(*p, skip[row * ldo + c]);
            ok &= y == y as i32 as i64;
            *p = y as i32;
        }
    }
    ok
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl")]
unsafe fn residual_tile512(
    r: &Residual<'_>,
    dst: *mut i32,
    skip: *const i32,
    rows: usize,
    cols: usize,
    ldo: usize,
) -> bool {
    use std::arch::x86_64::*;
    let mask: u16 = if cols == 16 {
        0xffff
    } else {
        (1u16 << cols) - 1
    };
    let (cu, su) = (
        _mm_cvtsi32_si128(r.conv_up as i32),
        _mm_cvtsi32_si128(r.skip_up as i32),
    );
    let (down, up) = (
        _mm_cvtsi32_si128(r.shift.max(0)),
        _mm_cvtsi32_si128((-r.shift).max(0)),
    );
    let half = _mm512_set1_epi64(if r.shift > 0 {
        1i64 << (r.shift - 1)
    } else {
        0
    });
    let (lo, hi) = (
        _mm512_set1_epi64(i32::MIN as i64),
        _mm512_set1_epi64(i32::MAX as i64),
    );
    let mut bad: u8 = 0;
    for row in 0..rows {
        let (d, k) = (dst.add(row * ldo), skip.add(row * ldo));
        let (cv, kv) = (
            _mm512_maskz_loadu_epi32(mask, d),
            _mm512_maskz_loadu_epi32(mask, k),
        );
        let mut out = [_mm256_setzero_si256(); 2];
        for (h, o) in out.iter_mut().enumerate() {
            let (c8, k8) = if h == 0 {
                (_mm512_castsi512_si256(cv), _mm512_castsi512_si256(kv))
            } else {
                (
                    _mm512_extracti64x4_epi64::<1>(cv),
                    _mm512_extracti64x4_epi64::<1>(kv),
                )
            };
            let v = _mm512_add_epi64(
                _mm512_sll_epi64(_mm512_cvtepi32_epi64(c8), cu),
                _mm512_sll_epi64(_mm512_cvtepi32_epi64(k8), su),
            );
            // shift_round: (v + half) >> shift, or v << -shift (one of the two counts is 0)
            let y = _mm512_sll_epi64(_mm512_sra_epi64(_mm512_add_epi64(v, half), down), up);
            let lanes = (mask >> (8 * h)) as u8;
            bad |= _mm512_mask_cmplt_epi64_mask(lanes, y, lo)
                | _mm512_mask_cmpgt_epi64_mask(lanes, y, hi);
            *o = _mm512_cvtepi64_epi32(y);
        }
        let y = _mm512_inserti64x4::<1>(_mm512_castsi256_si512(out[0]), out[1]);
        _mm512_mask_storeu_epi32(d, mask, y);
    }
    bad == 0
}

// ---------------------------------------------------------------------------------------------
// Depthwise

/// Layout of one zero-padded input plane, split into `sy · sx` phases (row and column
/// remainders modulo the strides), each `rows × len`. Output `(oy, ox)` is position
/// `q = oy·len + ox` of a flat span, and kernel tap `t` reads `buf[taps[t] + q]`: every tap is
/// one contiguous run over all rows at once (the `len - ow` positions between rows are
/// computed and dropped).
struct DwGeom {
    rows: usize,
    len: usize,
    span: usize,
    taps: Vec<usize>,
    /// bit i of byte j: position 8j + i of the span is an output (not between rows)
    valid: Vec<u8>,
    /// what a plane's fill copies: per input row and column phase, `n` values from `src`
    /// (stepping by the column stride) to `dst` of the padded buffer
    runs: Vec<FillRun>,
    /// 3x3, strides and dilations 1: one phase, tap (ky, kx) at `ky·len + kx`
    rows3x3: bool,
}

#[derive(Clone, Copy, Debug)]
struct FillRun {
    src: usize,
    dst: usize,
    n: usize,
}

/// Spare values after the phases and after the span, so vector loops may overrun.
const DW_SLACK: usize = 64;

impl DwGeom {
    fn new(s: &ConvShape) -> DwGeom {
        let (sy, sx) = (s.strides[0], s.strides[1]);
        let (dy, dx) = (s.dilations[0], s.dilations[1]);
        let rows = s.oh + (s.kh - 1) * dy / sy;
        let len = s.ow + (s.kw - 1) * dx / sx;
        let span = (s.oh - 1) * len + s.ow;
        let mut taps = Vec::with_capacity(s.kh * s.kw);
        for ky in 0..s.kh {
            for kx in 0..s.kw {
                let phase = ((ky * dy) % sy) * sx + (kx * dx) % sx;
                taps.push(phase * rows * len + (ky * dy / sy) * len + kx * dx / sx);
            }
        }
        let mut valid = vec![0u8; (span + DW_SLACK).div_ceil(8)];
        for q in 0..span {
            if q % len < s.ow {
                valid[q / 8] |= 1 << (q % 8);
            }
        }
        // input column ix with (ix + pl) % sx == xq goes to column (ix + pl) / sx of phase
        // xq; row iy to row (iy + pt) / sy of phase (iy + pt) % sy
        let (pt, pl) = (s.pads[0], s.pads[1]);
        let mut runs = Vec::new();
        for iy in 0..s.h {
            let (yp, rr) = ((iy + pt) % sy, (iy + pt) / sy);
            if rr >= rows {
                continue;
            }
            for xq in 0..sx {
                let ix0 = (xq + sx - pl % sx) % sx;
                let c0 = (ix0 + pl) / sx;
                if ix0 >= s.w || c0 >= len {
                    continue;
                }
                let n = (s.w - ix0).div_ceil(sx).min(len - c0);
                runs.push(FillRun {
                    src: iy * s.w + ix0,
                    dst: ((yp * sx + xq) * rows + rr) * len + c0,
                    n,
                });
            }
        }
        let rows3x3 = s.kh == 3 && s.kw == 3 && s.strides == [1, 1] && s.dilations == [1, 1];
        DwGeom {
            rows,
            len,
            span,
            taps,
            valid,
            runs,
            rows3x3,
        }
    }
    fn buf_len(&self, s: &ConvShape) -> usize {
        s.strides[0] * s.strides[1] * self.rows * self.len + DW_SLACK
    }
}

/// Depthwise (one input channel per output channel), plane by plane; writes all of `out`,
/// and returns as [`gemm_conv`] does.
pub(super) fn depthwise(
    x: &[i32],
    s: &ConvShape,
    prep: &PreparedConv,
    bias: &[i64],
    rs: Rescale,
    relu: bool,
    out: &mut [std::mem::MaybeUninit<i32>],
) -> (bool, u32) {
    assert_eq!(out.len(), s.batch * s.m * s.oh * s.ow);
    // SAFETY: `out` holds every plane, `oh·ow` apart, and is borrowed for the call
    unsafe {
        depthwise_into(
            x,
            s,
            prep,
            bias,
            rs,
            relu,
            SyncPtr(out.as_mut_ptr() as *mut i32),
            s.oh * s.ow,
        )
    }
}

/// [`depthwise`] into output planes `out_plane` apart (rows of a band of a larger output).
///
/// # Safety
/// `out` must be valid for writes of `oh·ow` values at every multiple of `out_plane` below
/// `batch·m·out_plane`, which nothing else reads or writes during the call.
pub(super) unsafe fn depthwise_into(
    x: &[i32],
    s: &ConvShape,
    prep: &PreparedConv,
    bias: &[i64],
    rs: Rescale,
    relu: bool,
    out: SyncPtr<i32>,
    out_plane: usize,
) -> (bool, u32) {
    let plane = s.oh * s.ow;
    let n_planes = s.batch * s.m;
    if plane == 0 || n_planes == 0 {
        return (true, 0);
    }
    let geom = DwGeom::new(s);
    let isa = prep.isa;
    // a depthwise multiply-add costs several of the matrix product's (each input value is
    // converted once and read by only kh·kw of them), so smaller layers are split too
    let tasks = tasks_for(4 * s.macs(), n_planes);
    let per_task = n_planes.div_ceil(tasks);
    let o = out;
    let run = |t: usize| -> (bool, u32) {
        // zero once: dw_fill writes only the in-image positions, the same for every plane
        let mut buf = vec![0f64; geom.buf_len(s)];
        let mut acc = if isa == Isa::Portable {
            vec![0f64; geom.span]
        } else {
            Vec::new()
        };
        // the staging span of the flat kernels (the row-block one writes the plane directly)
        let mut tmp = if isa == Isa::Avx512 && geom.rows3x3 {
            Vec::new()
        } else {
            vec![0i32; geom.span + DW_SLACK]
        };
        let (mut ok, mut xmax) = (true, 0);
        for bo in t * per_task..((t + 1) * per_task).min(n_planes) {
            let (b, oc) = (bo / s.m, bo % s.m);
            let ch = oc / s.mg();
            let xp = &x[(b * s.c + ch) * s.h * s.w..(b * s.c + ch + 1) * s.h * s.w];
            let wk = &prep.weights[oc * s.kh * s.kw..(oc + 1) * s.kh * s.kw];
            let bv = (bias[oc] + rs.half) as f64;
            // SAFETY: plane `bo` of `out`, written by this task alone
            let dst = unsafe { std::slice::from_raw_parts_mut(o.at(bo * out_plane), plane) };
            let (o, m) = dw_plane(
                isa, &geom, s, xp, wk, bv, rs.mul, relu, &mut buf, &mut acc, &mut tmp, dst,
            );
            ok &= o;
            xmax = xmax.max(m);
        }
        (ok, xmax)
    };
    if tasks == 1 {
        run(0)
    } else {
        par::map_reduce(tasks, || (true, 0), run, |a, b| (a.0 && b.0, a.1.max(b.1)))
    }
}

#[allow(clippy::too_many_arguments)]
fn dw_plane(
    isa: Isa,
    g: &DwGeom,
    s: &ConvShape,
    xp: &[i32],
    wk: &[f64],
    bias: f64,
    mul: f64,
    relu: bool,
    buf: &mut [f64],
    acc: &mut [f64],
    tmp: &mut [i32],
    dst: &mut [i32],
) -> (bool, u32) {
    #[cfg(target_arch = "x86_64")]
    if isa != Isa::Portable {
        // SAFETY: the instruction set is present (Isa::detect); `buf` holds every phase plus
        // DW_SLACK values and `tmp` the span plus DW_SLACK, so the 32-wide loops stay inside
        unsafe {
            let xmax = if isa == Isa::Avx512 {
                dw_fill512(buf, xp, s, g)
            } else {
                dw_fill_avx2(buf, xp, s, g)
            };
            if isa == Isa::Avx512 && g.rows3x3 {
                return (
                    dw3x3_rows512(buf, g.len, s.oh, s.ow, wk, bias, mul, relu, dst),
                    xmax,
                );
            }
            let ok = if isa == Isa::Avx512 {
                dw_span512(buf, g, wk, bias, mul, relu, tmp)
            } else {
                dw_span256(buf, g, wk, bias, mul, relu, tmp)
            };
            if isa == Isa::Avx512 {
                copy_rows512(dst, tmp, s.ow, g.len);
            } else {
                for (oy, row) in dst.chunks_exact_mut(s.ow).enumerate() {
                    row.copy_from_slice(&tmp[oy * g.len..oy * g.len + s.ow]);
                }
            }
            return (ok, xmax);
        }
    }
    let _ = (isa, &tmp);
    let xmax = dw_fill(buf, xp, s, g);
    acc.fill(bias);
    for (&off, &wv) in g.taps.iter().zip(wk) {
        for (a, &v) in acc.iter_mut().zip(&buf[off..off + g.span]) {
            *a += wv * v;
        }
    }
    let mut ok = true;
    for (oy, row) in dst.chunks_exact_mut(s.ow).enumerate() {
        for (d, &a) in row.iter_mut().zip(&acc[oy * g.len..]) {
            let y = finish_f64(a, mul, relu);
            ok &= y.is_some();
            *d = y.unwrap_or(0);
        }
    }
    (ok, xmax)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn dw_fill_avx2(buf: &mut [f64], xp: &[i32], s: &ConvShape, g: &DwGeom) -> u32 {
    dw_fill(buf, xp, s, g)
}

/// The in-image part of the padded, phase-split plane; the padding is never written, so it
/// stays zero from the buffer's allocation on. Returns `max|x|` of the values written.
#[inline(always)]
fn dw_fill(buf: &mut [f64], xp: &[i32], s: &ConvShape, g: &DwGeom) -> u32 {
    let sx = s.strides[1];
    let mut m = 0u32;
    for r in &g.runs {
        for (j, d) in buf[r.dst..r.dst + r.n].iter_mut().enumerate() {
            let v = xp[r.src + j * sx];
            *d = v as f64;
            m = m.max(v.unsigned_abs());
        }
    }
    m
}

/// [`dw_fill`] with AVX-512: column strides 1 and 2 convert 16 values per step, the last
/// step of a run with masks (stride 2 picks the even lanes of 32 with one permutation).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn dw_fill512(buf: &mut [f64], xp: &[i32], s: &ConvShape, g: &DwGeom) -> u32 {
    use std::arch::x86_64::*;
    let sx = s.strides[1];
    if sx > 2 {
        return dw_fill(buf, xp, s, g);
    }
    let lanes = |n: usize| ((1u32 << n) - 1) as u16;
    let evens = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    let mut vmax = _mm512_setzero_si512();
    for r in &g.runs {
        let (src, dst) = (xp.as_ptr().add(r.src), buf.as_mut_ptr().add(r.dst));
        let mut first = 0;
        // whole steps of 16 outputs whose source values lie inside the plane: no masks
        while first < r.n / 16 && r.src + (first + 1) * 16 * sx <= xp.len() {
            let c = first;
            let v = if sx == 1 {
                _mm512_loadu_si512(src.add(16 * c) as *const _)
            } else {
                _mm512_permutex2var_epi32(
                    _mm512_loadu_si512(src.add(32 * c) as *const _),
                    evens,
                    _mm512_loadu_si512(src.add(32 * c + 16) as *const _),
                )
            };
            vmax = _mm512_max_epu32(vmax, _mm512_abs_epi32(v));
            _mm512_storeu_pd(
                dst.add(16 * c),
                _mm512_cvtepi32_pd(_mm512_castsi512_si256(v)),
            );
            _mm512_storeu_pd(
                dst.add(16 * c + 8),
                _mm512_cvtepi32_pd(_mm512_extracti64x4_epi64::<1>(v)),
            );
            first += 1;
        }
        for c in first..r.n.div_ceil(16) {
            // outputs 16c .. 16c + n of the run; masked lanes are neither read nor written
            let n = (r.n - 16 * c).min(16);
            let v = if sx == 1 {
                _mm512_maskz_loadu_epi32(lanes(n), src.add(16 * c))
            } else {
                // source values 32c .. 32c + 2n - 1 (the last one read is the last output's)
                let (p, total) = (src.add(32 * c), 2 * n - 1);
                _mm512_permutex2var_epi32(
                    _mm512_maskz_loadu_epi32(lanes(total.min(16)), p),
                    evens,
                    _mm512_maskz_loadu_epi32(lanes(total.saturating_sub(16)), p.add(16)),
                )
            };
            vmax = _mm512_max_epu32(vmax, _mm512_abs_epi32(v));
            _mm512_mask_storeu_pd(
                dst.add(16 * c),
                lanes(n.min(8)) as u8,
                _mm512_cvtepi32_pd(_mm512_castsi512_si256(v)),
            );
            _mm512_mask_storeu_pd(
                dst.add(16 * c + 8),
                lanes(n.saturating_sub(8)) as u8,
                _mm512_cvtepi32_pd(_mm512_extracti64x4_epi64::<1>(v)),
            );
        }
    }
    _mm512_reduce_max_epu32(vmax)
}

/// A 3x3 depthwise plane of strides and dilations 1, from the padded plane `buf` (rows `len`
/// apart) straight into `dst` (rows `ow` apart): blocks of up to 4 output rows by 16 (or 8)
/// columns, where each input row vector, loaded once, serves the up to three output rows
/// whose window covers it (the flat span loads it once per tap). False if an output is out
/// of range.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl,fma")]
#[allow(clippy::too_many_arguments)]
unsafe fn dw3x3_rows512(
    buf: &[f64],
    len: usize,
    oh: usize,
    ow: usize,
    wk: &[f64],
    bias: f64,
    mul: f64,
    relu: bool,
    dst: &mut [i32],
) -> bool {
    use std::arch::x86_64::*;
    debug_assert!(
        len == ow + 2 && buf.len() >= (oh + 2) * len + 16 && dst.len() >= oh * ow && wk.len() == 9
    );
    let mut wv = [_mm512_setzero_pd(); 9];
    for (v, &w) in wv.iter_mut().zip(wk) {
        *v = _mm512_set1_pd(w);
    }
    let (b, m) = (_mm512_set1_pd(bias), _mm512_set1_pd(mul));
    let mut low = _mm256_set1_epi32(i32::MAX);
    let mut r0 = 0;
    while r0 < oh {
        let rows = (oh - r0).min(4);
        let mut c0 = 0;
        while c0 < ow {
            let rem = ow - c0;
            let masks = [
                ((1u32 << rem.min(8)) - 1) as u8,
                ((1u32 << rem.saturating_sub(8).min(8)) - 1) as u8,
            ];
            let (p, d) = (
                buf.as_ptr().add(r0 * len + c0),
                dst.as_mut_ptr().add(r0 * ow + c0),
            );
            // blocks of `rows` rows (a constant per kernel) by W vectors of 8 columns
            macro_rules! block {
                ($w:literal) => {
                    match rows {
                        4 => {
                            dw3x3_block512::<4, $w>(p, len, &wv, b, m, relu, masks, d, ow, &mut low)
                        }
                        3 => {
                            dw3x3_block512::<3, $w>(p, len, &wv, b, m, relu, masks, d, ow, &mut low)
                        }
                        2 => {
                            dw3x3_block512::<2, $w>(p, len, &wv, b, m, relu, masks, d, ow, &mut low)
                        }
                        _ => {
                            dw3x3_block512::<1, $w>(p, len, &wv, b, m, relu, masks, d, ow, &mut low)
                        }
                    }
                };
            }
            if rem > 8 {
                block!(2);
                c0 += 16;
            } else {
                block!(1);
                c0 += 8;
            }
        }
        r0 += rows;
    }
    _mm256_cmpeq_epi32_mask(low, _mm256_set1_epi32(i32::MIN)) == 0
}

/// `R` output rows × `W` vectors of [`dw3x3_rows512`]: `p` is the block's first input row and
/// column in the padded plane, `d` its first output; lanes outside `masks` are not written.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl,fma")]
#[allow(clippy::too_many_arguments)]
#[inline]
unsafe fn dw3x3_block512<const R: usize, const W: usize>(
    p: *const f64,
    len: usize,
    wv: &[std::arch::x86_64::__m512d; 9],
    bias: std::arch::x86_64::__m512d,
    m: std::arch::x86_64::__m512d,
    relu: bool,
    masks: [u8; 2],
    d: *mut i32,
    ow: usize,
    low: &mut std::arch::x86_64::__m256i,
) {
    use std::arch::x86_64::*;
    let mut acc = [[bias; W]; R];
    // input row j of the block is kernel row j - r of output row r
    for j in 0..R + 2 {
        for kx in 0..3 {
            for v in 0..W {
                let x = _mm512_loadu_pd(p.add(j * len + kx + 8 * v));
                for (r, ar) in acc.iter_mut().enumerate() {
                    if j >= r && j - r < 3 {
                        ar[v] = _mm512_fmadd_pd(wv[(j - r) * 3 + kx], x, ar[v]);
                    }
                }
            }
        }
    }
    for (r, ar) in acc.iter().enumerate() {
        for (v, &a) in ar.iter().enumerate() {
            let y = _mm512_cvt_roundpd_epi32::<{ _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC }>(
                _mm512_mul_pd(a, m),
            );
            *low = _mm256_mask_min_epi32(*low, masks[v], *low, y);
            let y = if relu {
                _mm256_max_epi32(y, _mm256_setzero_si256())
            } else {
                y
            };
            _mm256_mask_storeu_epi32(d.add(r * ow + 8 * v), masks[v], y);
        }
    }
}

/// Rows `ow` wide of the span (rows `len` apart in `tmp`) into the output plane.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn copy_rows512(dst: &mut [i32], tmp: &[i32], ow: usize, len: usize) {
    use std::arch::x86_64::*;
    debug_assert!(dst.len() % ow == 0 && tmp.len() >= (dst.len() / ow - 1) * len + ow);
    let (full, tail) = (ow / 16, ((1u32 << (ow % 16)) - 1) as u16);
    for (oy, row) in dst.chunks_exact_mut(ow).enumerate() {
        let (src, d) = (tmp.as_ptr().add(oy * len), row.as_mut_ptr());
        for c in 0..full {
            _mm512_storeu_si512(
                d.add(16 * c) as *mut _,
                _mm512_loadu_si512(src.add(16 * c) as *const _),
            );
        }
        _mm512_mask_storeu_epi32(
            d.add(16 * full),
            tail,
            _mm512_maskz_loadu_epi32(tail, src.add(16 * full)),
        );
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl,fma")]
unsafe fn dw_span512(
    buf: &[f64],
    g: &DwGeom,
    wk: &[f64],
    bias: f64,
    mul: f64,
    relu: bool,
    tmp: &mut [i32],
) -> bool {
    use std::arch::x86_64::*;
    let m = _mm512_set1_pd(mul);
    let bp = buf.as_ptr();
    let mut low = _mm256_set1_epi32(i32::MAX);
    for q0 in (0..g.span).step_by(32) {
        let mut acc = [_mm512_set1_pd(bias); 4];
        for (&off, &wv) in g.taps.iter().zip(wk) {
            let w = _mm512_set1_pd(wv);
            let p = bp.add(off + q0);
            for (i, a) in acc.iter_mut().enumerate() {
                *a = _mm512_fmadd_pd(w, _mm512_loadu_pd(p.add(8 * i)), *a);
            }
        }
        for (i, &a) in acc.iter().enumerate() {
            let y = _mm512_cvt_roundpd_epi32::<{ _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC }>(
                _mm512_mul_pd(a, m),
            );
            low = _mm256_mask_min_epi32(low, g.valid[q0 / 8 + i], low, y);
            let y = if relu {
                _mm256_max_epi32(y, _mm256_setzero_si256())
            } else {
                y
            };
            _mm256_storeu_si256(tmp.as_mut_ptr().add(q0 + 8 * i) as *mut __m256i, y);
        }
    }
    _mm256_cmpeq_epi32_mask(low, _mm256_set1_epi32(i32::MIN)) == 0
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn dw_span256(
    buf: &[f64],
    g: &DwGeom,
    wk: &[f64],
    bias: f64,
    mul: f64,
    relu: bool,
    tmp: &mut [i32],
) -> bool {
    use std::arch::x86_64::*;
    let m = _mm256_set1_pd(mul);
    let bp = buf.as_ptr();
    let mut low = _mm_set1_epi32(i32::MAX);
    for q0 in (0..g.span).step_by(16) {
        let mut acc = [_mm256_set1_pd(bias); 4];
        for (&off, &wv) in g.taps.iter().zip(wk) {
            let w = _mm256_set1_pd(wv);
            let p = bp.add(off + q0);
            for (i, a) in acc.iter_mut().enumerate() {
                *a = _mm256_fmadd_pd(w, _mm256_loadu_pd(p.add(4 * i)), *a);
            }
        }
        for (i, &a) in acc.iter().enumerate() {
            let q = q0 + 4 * i;
            let y = cvt4(a, m);
            low = _mm_min_epi32(
                low,
                _mm_blendv_epi8(
                    _mm_set1_epi32(i32::MAX),
                    y,
                    lanes4((g.valid[q / 8] >> (q % 8)) & 0xf),
                ),
            );
            _mm_storeu_si128(tmp.as_mut_ptr().add(q) as *mut __m128i, relu4(y, relu));
        }
    }
    _mm_movemask_epi8(_mm_cmpeq_epi32(low, _mm_set1_epi32(i32::MIN))) == 0
}
