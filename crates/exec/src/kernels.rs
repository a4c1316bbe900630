//! Exact integer convolution and Gemm kernels for the executor.
//!
//! Every result is the exact integer `bias + Σ w·x` followed by `shift_round` and the 32-bit
//! range check, so it is bit-identical to the straightforward i64 loops. Two paths compute it:
//! - **f64** ([`fast`]): when a bound checked on each call,
//!   `max|x| · max_oc Σ|w_oc| + max|bias| + 2^(shift-1) < 2^53`, guarantees that every product
//!   and every partial sum (in any order) is an integer below 2^53 in magnitude, f64
//!   arithmetic is exact, and so is the rescale `floor((acc + 2^(shift-1)) · 2^-shift)`.
//!   This path packs the operands for a blocked matrix product (im2col for general
//!   convolutions, the input itself for 1x1), and runs depthwise convolutions directly, with
//!   AVX-512 or AVX2/FMA kernels when the CPU has them (checked at run time; exact arithmetic
//!   gives the same integers on any of them). It only tells whether some output is out of
//!   range; the i64 path then finds which one comes first;
//! - **i64**: otherwise, the reference loops with i64 accumulators, when a bound checked on
//!   each call, `max|x| · max_oc Σ|w_oc| + max|bias| < 2^63`, proves that no partial sum (in
//!   any order) wraps; `shift_round` itself is exact for every i64;
//! - **i128**: otherwise (weights or biases no compiler makes), the same loops in i128, where
//!   nothing can wrap (`2^31 · 2^63` per product, fewer than 2^63 terms).
//!
//! Work is split across threads (rayon's pool, or the team of `Engine::infer`: see `par`) in
//! tasks of at least [`MIN_TASK_MACS`] multiply-accumulates, so small layers run on the
//! calling thread.

use zkopml_model::fixed::shift_round;

mod fast;
pub use fast::{Isa, Residual};

/// Multiply-accumulates below which a kernel does not split its work across threads.
pub const MIN_TASK_MACS: usize = 1 << 17;

/// Weights of a convolution above which its panels are stored as f32 (when exact).
const F32_MIN_WEIGHTS: usize = 32 * 1024;

/// Output pixels of a convolution up to which its panels are stored as f32 (when exact).
const F32_MAX_PIXELS: usize = 64;

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
    /// Input channels per group.
    pub fn cg(&self) -> usize {
        self.c / self.groups
    }
    fn mg(&self) -> usize {
        self.m / self.groups
    }
    /// A 1x1 convolution with stride 1 and no padding: each output pixel reads its own input
    /// pixel's channels.
    pub fn is_pointwise(&self) -> bool {
        self.kh == 1
            && self.kw == 1
            && self.strides == [1, 1]
            && self.pads == [0, 0]
            && self.oh == self.h
            && self.ow == self.w
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
    let threads = crate::par::threads();
    let t = (macs / MIN_TASK_MACS).clamp(1, 4 * threads);
    // a multiple of the thread count, so no thread waits for one last task
    let t = if t > 1 {
        t.div_ceil(threads) * threads
    } else {
        t
    };
    t.min(units.max(1))
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
pub fn conv(
    x: &[i32],
    s: &ConvShape,
    w: &[i64],
    bias: &[i64],
    shift: i32,
) -> Result<Vec<i32>, i64> {
    conv_prepared(x, s, w, bias, shift, &PreparedConv::new(s, w, bias))
}

/// A convolution's weights made ready for the f64 path once, for every run of a program:
/// the weight factor of the exactness bound and the weights as f64 (packed in panels of
/// the micro-kernel's rows for the matrix product).
#[derive(Clone, Debug)]
pub struct PreparedConv {
    /// `max_oc Σ|w[oc]|` and `max|bias|`
    wsum_max: u128,
    bias_max: u128,
    isa: Isa,
    /// depthwise: the weights as f64; otherwise, per group, `ceil(mg / mr)` panels `[k × mr]`
    /// (empty when `weights32` holds them)
    weights: Vec<f64>,
    /// the panels as f32 when every weight is below 2^24 (exact), which halves the bytes
    /// each run streams; a panel is widened to f64 just before use
    weights32: Vec<f32>,
}

impl PreparedConv {
    pub fn new(s: &ConvShape, w: &[i64], bias: &[i64]) -> PreparedConv {
        PreparedConv::with_isa(s, w, bias, Isa::detect())
    }

    /// For the kernels of instruction set `isa`, which this CPU must have.
    pub fn with_isa(s: &ConvShape, w: &[i64], bias: &[i64], isa: Isa) -> PreparedConv {
        assert_eq!(w.len(), s.m * s.k());
        assert_eq!(bias.len(), s.m);
        let k = s.k().max(1);
        let wsum_max = w
            .chunks(k)
            .map(|row| row.iter().map(|&v| v.unsigned_abs() as u128).sum::<u128>())
            .max()
            .unwrap_or(0);
        let bias_max = bias.iter().map(|v| v.unsigned_abs()).max().unwrap_or(0) as u128;
        let weights = if s.cg() == 1 {
            w.iter().map(|&v| v as f64).collect()
        } else {
            let (mg, k, mr) = (s.mg(), s.k(), isa.mr());
            let m_panels = mg.div_ceil(mr);
            let mut packed = vec![0f64; s.groups * m_panels * k * mr];
            for g in 0..s.groups {
                for ip in 0..m_panels {
                    let panel =
                        &mut packed[(g * m_panels + ip) * k * mr..(g * m_panels + ip + 1) * k * mr];
                    for r in 0..mr.min(mg - ip * mr) {
                        let row = &w[(g * mg + ip * mr + r) * k..(g * mg + ip * mr + r + 1) * k];
                        for (t, &v) in row.iter().enumerate() {
                            panel[t * mr + r] = v as f64;
                        }
                    }
                }
            }
            packed
        };
        // small weight sets stay f64: they are read from cache, and widening them again for
        // every block of pixels cost more than the bytes saved; so do those of images above
        // 8x8, whose weights serve enough pixels that widening costs more than streaming twice
        // the bytes (MobileNetV2's 14x14 projections: 0.33 -> 0.28 ms in an in-process A/B;
        // its 7x7 layers and classifier run faster from f32)
        let few_pixels = s.oh * s.ow <= F32_MAX_PIXELS;
        let (weights, weights32) = if s.cg() > 1
            && few_pixels
            && w.len() > F32_MIN_WEIGHTS
            && w.iter().all(|v| v.unsigned_abs() < 1 << 24)
        {
            (Vec::new(), weights.iter().map(|&v| v as f32).collect())
        } else {
            (weights, Vec::new())
        };
        PreparedConv {
            wsum_max,
            bias_max,
            isa,
            weights,
            weights32,
        }
    }

    /// Whether `max|x| · max_oc Σ|w_oc| + max|bias| + half < 2^53` (the f64 path is exact for
    /// inputs up to `xmax`, rescale included).
    fn f64_exact(&self, xmax: u32, half: i64) -> bool {
        let xmax = xmax as u128;
        xmax.saturating_mul(self.wsum_max)
            .saturating_add(self.bias_max)
            .saturating_add(half as u128)
            < F64_EXACT
    }
}

/// [`conv`] with weights prepared by [`PreparedConv::new`] from the same `s`, `w` and `bias`.
pub fn conv_prepared(
    x: &[i32],
    s: &ConvShape,
    w: &[i64],
    bias: &[i64],
    shift: i32,
    prep: &PreparedConv,
) -> Result<Vec<i32>, i64> {
    conv_fused(x, s, w, bias, shift, prep, false)
}

/// [`conv_prepared`], then Relu when `relu` (the convolution's range error, if any, first).
pub fn conv_fused(
    x: &[i32],
    s: &ConvShape,
    w: &[i64],
    bias: &[i64],
    shift: i32,
    prep: &PreparedConv,
    relu: bool,
) -> Result<Vec<i32>, i64> {
    assert_eq!(x.len(), s.batch * s.c * s.h * s.w);
    assert_eq!(w.len(), s.m * s.k());
    assert_eq!(bias.len(), s.m);
    if let Some(y) = try_f64(x, s, bias, shift, prep, relu) {
        return Ok(y);
    }
    // not exact in f64, or some output is out of range: the i64 path (which finds the first
    // out-of-range value in output order)
    let mut y = conv_i64(x, s, w, bias, shift)?;
    if relu {
        y.iter_mut().for_each(|v| *v = (*v).max(0));
    }
    Ok(y)
}

/// The f64 path: None when the bound does not hold or some output is out of range. The
/// bound is checked after the fact, on the `max|x|` the kernels found while converting their
/// input (in the rare case it fails, their results are discarded).
fn try_f64(
    x: &[i32],
    s: &ConvShape,
    bias: &[i64],
    shift: i32,
    prep: &PreparedConv,
    relu: bool,
) -> Option<Vec<i32>> {
    try_f64_then(x, s, bias, shift, prep, relu, None)
}

/// [`try_f64`], with the residual Add `res` applied to the outputs as they are written.
fn try_f64_then(
    x: &[i32],
    s: &ConvShape,
    bias: &[i64],
    shift: i32,
    prep: &PreparedConv,
    relu: bool,
    res: Option<&Residual<'_>>,
) -> Option<Vec<i32>> {
    let rs = fast::Rescale::new(shift)?;
    if res.is_some_and(|r| s.cg() == 1 || !r.supported()) {
        return None;
    }
    // a cheap early exit: even |x| = 1 would break the bound
    if !prep.f64_exact(1, rs.half) {
        return None;
    }
    let n = s.batch * s.m * s.oh * s.ow;
    let mut out: Vec<i32> = Vec::with_capacity(n);
    let (ok, xmax) = if s.cg() == 1 {
        fast::depthwise(
            x,
            s,
            prep,
            bias,
            rs,
            relu,
            &mut out.spare_capacity_mut()[..n],
        )
    } else {
        fast::gemm_conv(
            x,
            s,
            prep,
            bias,
            rs,
            relu,
            s.h * s.w,
            res,
            &mut out.spare_capacity_mut()[..n],
        )
    };
    if !ok || !prep.f64_exact(xmax, rs.half) {
        return None;
    }
    // SAFETY: the kernels write every one of the n outputs
    unsafe { out.set_len(n) };
    Some(out)
}

/// A convolution (not depthwise) and the Add reading its output, in one pass: each output
/// tile gets its residual while in cache. The results are those of the two ops in turn, bit
/// for bit. None when the f64 path declines or some value is out of range: the caller then
/// runs the ops one by one, which report the error.
pub fn conv_add(
    x: &[i32],
    s: &ConvShape,
    bias: &[i64],
    shift: i32,
    prep: &PreparedConv,
    res: &Residual<'_>,
) -> Option<Vec<i32>> {
    assert_eq!(x.len(), s.batch * s.c * s.h * s.w);
    assert_eq!(bias.len(), s.m);
    try_f64_then(x, s, bias, shift, prep, false, Some(res))
}

/// One convolution of a fused pair: its geometry, bias, rescale, prepared weights, and
/// whether a Relu follows it.
#[derive(Clone, Copy, Debug)]
pub struct ConvStep<'a> {
    pub shape: &'a ConvShape,
    pub bias: &'a [i64],
    pub shift: i32,
    pub prep: &'a PreparedConv,
    pub relu: bool,
}

/// Bytes of one band of the expanded activations (kept in the L2 cache of the thread that
/// computes them).
const BAND_BYTES: usize = 512 * 1024;

/// Bands per thread, at least, of [`expand_depthwise_project`]: small bands balance the
/// threads, and the rows two bands in a row on one thread share are copied, not recomputed
/// (4 beat 2 by 12-15% on MobileNetV2's chains; 6 did not beat 4).
const BANDS_PER_THREAD: usize = 4;

/// Whether [`expand_depthwise`] takes the pair `pw` then `dw`: a 1x1 convolution whose
/// output (`m` channels) is a depthwise convolution's input, large enough that writing it out
/// and reading it back would go through memory.
pub fn fusable(pw: &ConvShape, dw: &ConvShape) -> bool {
    pw.is_pointwise()
        && pw.cg() > 1
        && dw.cg() == 1
        && dw.batch == pw.batch
        && dw.c == pw.m
        && dw.h == pw.oh
        && dw.w == pw.ow
        && dw.oh > 0
        && dw.ow > 0
        && pw.m * pw.oh * pw.ow * 4 >= 2 * BAND_BYTES
}

/// A 1x1 convolution (`pw`) and the depthwise convolution reading its output (`dw`), each
/// with its Relu if any, computed per band of output rows: a band's expanded rows (plus the
/// rows its kernel window overlaps, recomputed by both neighbours) stay in the cache of the
/// thread that computes them, instead of going through memory between two ops. The results
/// are those of the two ops in turn, bit for bit. None when either f64 path declines (some
/// value out of range, or the exactness bound fails): the caller then runs the ops one by one,
/// which finds the error.
pub fn expand_depthwise(x: &[i32], pw: ConvStep<'_>, dw: ConvStep<'_>) -> Option<Vec<i32>> {
    expand_depthwise_project(x, pw, dw, None)
}

/// The 1x1 convolution reading [`expand_depthwise`]'s output, and the residual Add reading
/// its output, if any: computed in the same bands.
#[derive(Clone, Copy, Debug)]
pub struct Projection<'a> {
    pub step: ConvStep<'a>,
    pub res: Option<Residual<'a>>,
}

/// Whether `proj` can follow [`expand_depthwise`]'s `dw` in its bands: a 1x1 convolution of
/// the depthwise output (not itself depthwise).
pub fn projectable(dw: &ConvShape, proj: &ConvShape) -> bool {
    proj.is_pointwise()
        && proj.cg() > 1
        && proj.batch == dw.batch
        && proj.c == dw.m
        && proj.h == dw.oh
        && proj.w == dw.ow
}

/// [`expand_depthwise`], then `proj` (and its residual Add) on each band's depthwise output
/// while it is in the thread's cache: the output is the projection's (or the Add's).
pub fn expand_depthwise_project(
    x: &[i32],
    pw: ConvStep<'_>,
    dw: ConvStep<'_>,
    proj: Option<Projection<'_>>,
) -> Option<Vec<i32>> {
    let (ps, ds) = (pw.shape, dw.shape);
    assert!(fusable(ps, ds));
    assert_eq!(x.len(), ps.batch * ps.c * ps.h * ps.w);
    let (rp, rd) = (fast::Rescale::new(pw.shift)?, fast::Rescale::new(dw.shift)?);
    if !pw.prep.f64_exact(1, rp.half) || !dw.prep.f64_exact(1, rd.half) {
        return None;
    }
    let rq = match proj {
        Some(p) => {
            assert!(projectable(ds, p.step.shape));
            let rq = fast::Rescale::new(p.step.shift)?;
            if !p.step.prep.f64_exact(1, rq.half) || p.res.is_some_and(|r| !r.supported()) {
                return None;
            }
            if let Some(r) = p.res {
                assert_eq!(
                    r.skip.len(),
                    ds.batch * p.step.shape.m * ds.oh * ds.ow,
                    "the residual operand has the projection's shape"
                );
            }
            Some(rq)
        }
        None => None,
    };
    let (sy, dy, pt) = (ds.strides[0], ds.dilations[0], ds.pads[0]);
    let reach = (ds.kh - 1) * dy;
    // output rows per band: its input rows within BAND_BYTES, and at least
    // BANDS_PER_THREAD bands per thread
    let row_bytes = ps.m * ps.w * 4;
    let fit = (BAND_BYTES / row_bytes).saturating_sub(reach) / sy;
    let band = fit.clamp(
        1,
        ds.oh
            .div_ceil(BANDS_PER_THREAD * crate::par::threads())
            .max(1),
    );
    let bands = ds.oh.div_ceil(band);
    let call = CHAIN_CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
    let plane = ds.oh * ds.ow;
    let out_m = proj.map_or(ds.m, |p| p.step.shape.m);
    let n = ds.batch * out_m * plane;
    let mut out: Vec<i32> = Vec::with_capacity(n);
    let o = crate::par::SyncPtr(out.as_mut_ptr());
    let (ok, xmax_pw, xmax_dw, xmax_proj) = crate::par::map_reduce(
        ds.batch * bands,
        || (true, 0, 0, 0),
        |item| {
            let (b, bi) = (item / bands, item % bands);
            let (r0, r1) = (bi * band, ((bi + 1) * band).min(ds.oh));
            // input rows the band's windows cover (those outside the image are padding)
            let first = (r0 * sy) as isize - pt as isize;
            let end = ((r1 - 1) * sy + reach + 1) as isize - pt as isize;
            let a = first.max(0) as usize;
            let e = (end.max(0) as usize).min(ps.h).max(a);
            let rows = e - a;
            // this band's expanded rows go into the spare buffer; BAND holds the rows of this
            // thread's previous band, and those this band needs too (its previous neighbour's
            // overlap, when it was of this call and batch) are copied, not recomputed
            let prev = BAND.take();
            let mut eb = BAND_SPARE.take();
            eb.resize(ps.m * rows * ps.w, 0);
            // rows ka..ke in `prev` (planes of ke - ka rows); ca..ce of them are this band's too
            let (ka, ke) = match BAND_ROWS.get() {
                (c, kb, ka, ke) if c == call && kb == b && ka.max(a) < ke.min(e) => (ka, ke),
                _ => (a, a),
            };
            let (ca, ce) = (ka.max(a), ke.min(e));
            let w = ps.w;
            if ca < ce {
                for c in 0..ps.m {
                    let from = (c * (ke - ka) + (ca - ka)) * w;
                    eb[(c * rows + (ca - a)) * w..(c * rows + (ce - a)) * w]
                        .copy_from_slice(&prev[from..from + (ce - ca) * w]);
                }
            }
            let band_dw = ConvShape {
                batch: 1,
                h: rows,
                oh: r1 - r0,
                pads: [(a as isize - first) as usize, ds.pads[1]],
                ..*ds
            };
            // the rows above and below the kept ones (all of them when none are kept)
            let (mut ok1, mut m1) = (true, 0);
            for (from, to) in [(a, ca), (ce, e)] {
                if from < to {
                    let part = ConvShape {
                        batch: 1,
                        h: to - from,
                        oh: to - from,
                        ..*ps
                    };
                    let xp = &x[(b * ps.c * ps.h + from) * ps.w..];
                    // SAFETY: rows from - a .. to - a of each of the m planes of `rows` rows in `eb`
                    let (o, m) = unsafe {
                        fast::gemm_conv_into(
                            xp,
                            &part,
                            pw.prep,
                            pw.bias,
                            rp,
                            pw.relu,
                            ps.h * ps.w,
                            None,
                            crate::par::SyncPtr(eb.as_mut_ptr().add((from - a) * w)),
                            rows * w,
                        )
                    };
                    ok1 &= o;
                    m1 = m1.max(m);
                }
            }
            BAND_ROWS.set((call, b, a, e));
            let out_at = b * out_m * plane + r0 * ds.ow;
            let (ok2, m2, ok3, m3) = match (proj, rq) {
                (Some(p), Some(rq)) => {
                    // the band's depthwise output, planes of its rows only, into the projection
                    let band_plane = (r1 - r0) * ds.ow;
                    let mut db = DW_BAND.take();
                    db.resize(ds.m * band_plane, 0);
                    // SAFETY: `db` holds the m planes of `band_plane` values
                    let (ok2, m2) = unsafe {
                        fast::depthwise_into(
                            &eb,
                            &band_dw,
                            dw.prep,
                            dw.bias,
                            rd,
                            dw.relu,
                            crate::par::SyncPtr(db.as_mut_ptr()),
                            band_plane,
                        )
                    };
                    let band_proj = ConvShape {
                        batch: 1,
                        h: r1 - r0,
                        oh: r1 - r0,
                        ..*p.step.shape
                    };
                    let res = p.res.map(|r| Residual {
                        skip: &r.skip[out_at..],
                        ..r
                    });
                    // SAFETY: rows r0..r1 of every output plane of batch b, written by this item alone
                    let (ok3, m3) = unsafe {
                        fast::gemm_conv_into(
                            &db,
                            &band_proj,
                            p.step.prep,
                            p.step.bias,
                            rq,
                            p.step.relu,
                            band_plane,
                            res.as_ref(),
                            crate::par::SyncPtr(o.at(out_at)),
                            plane,
                        )
                    };
                    DW_BAND.set(db);
                    (ok2, m2, ok3, m3)
                }
                _ => {
                    // SAFETY: rows r0..r1 of every output plane of batch b, written by this item alone
                    let (ok2, m2) = unsafe {
                        fast::depthwise_into(
                            &eb,
                            &band_dw,
                            dw.prep,
                            dw.bias,
                            rd,
                            dw.relu,
                            crate::par::SyncPtr(o.at(out_at)),
                            plane,
                        )
                    };
                    (ok2, m2, true, 0)
                }
            };
            BAND.set(eb);
            BAND_SPARE.set(prev);
            (ok1 && ok2 && ok3, m1, m2, m3)
        },
        |p, q| (p.0 && q.0, p.1.max(q.1), p.2.max(q.2), p.3.max(q.3)),
    );
    if !ok || !pw.prep.f64_exact(xmax_pw, rp.half) || !dw.prep.f64_exact(xmax_dw, rd.half) {
        return None;
    }
    if let (Some(p), Some(rq)) = (proj, rq) {
        if !p.step.prep.f64_exact(xmax_proj, rq.half) {
            return None;
        }
    }
    // SAFETY: the bands cover every row of every output plane
    unsafe { out.set_len(n) };
    Some(out)
}

/// Numbers the calls of [`expand_depthwise_project`] (see BAND_ROWS).
static CHAIN_CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

thread_local! {
    /// A band's expanded activations, kept between bands and calls.
    static BAND: std::cell::Cell<Vec<i32>> = const { std::cell::Cell::new(Vec::new()) };
    /// The buffer the next band's expanded rows go into.
    static BAND_SPARE: std::cell::Cell<Vec<i32>> = const { std::cell::Cell::new(Vec::new()) };
    /// Which expanded rows BAND holds: (call, batch, first input row, end row).
    static BAND_ROWS: std::cell::Cell<(u64, usize, usize, usize)> = const { std::cell::Cell::new((0, 0, 0, 0)) };
    /// A band's depthwise output, when a projection reads it.
    static DW_BAND: std::cell::Cell<Vec<i32>> = const { std::cell::Cell::new(Vec::new()) };
}

/// The i64 path: accumulate whole output planes, row by row.
pub fn conv_i64(
    x: &[i32],
    s: &ConvShape,
    w: &[i64],
    bias: &[i64],
    shift: i32,
) -> Result<Vec<i32>, i64> {
    if !i64_exact(
        x,
        w.chunks(s.k().max(1))
            .map(|row| row.iter().map(|&v| v.unsigned_abs() as u128).sum::<u128>())
            .max()
            .unwrap_or(0),
        bias,
    ) {
        return conv_i128(x, s, w, bias, shift);
    }
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
    let planes_per_task = (s.batch * m)
        .div_ceil(tasks_for(s.macs(), s.batch * m))
        .max(1);
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
                        let ox_hi = if lim < 0 {
                            0
                        } else {
                            (lim / sx + 1).min(ow as isize) as usize
                        };
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
                                arow[ox_lo..ox_hi]
                                    .iter_mut()
                                    .zip(&row[start..start + n])
                                    .for_each(|(a, &xv)| *a = a.wrapping_add(wv.wrapping_mul(xv)));
                            } else {
                                for ox in ox_lo..ox_hi {
                                    arow[ox] = arow[ox].wrapping_add(
                                        wv.wrapping_mul(row[(ox as isize * sx + dx) as usize]),
                                    );
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
        crate::par::chunks_map(&mut out, planes_per_task * plane, |i, chunk| {
            run_planes((i, chunk))
        })
    };
    first_err(results)?;
    Ok(out)
}

/// Whether i64 accumulation is exact: `max|x| · wsum + max|bias| < 2^63`, with `wsum` the
/// largest `Σ|w|` of one output. Every partial sum, in any order, is then below 2^63.
fn i64_exact(x: &[i32], wsum: u128, bias: &[i64]) -> bool {
    let xmax = x.iter().map(|v| v.unsigned_abs()).max().unwrap_or(0) as u128;
    let bias_max = bias.iter().map(|v| v.unsigned_abs()).max().unwrap_or(0) as u128;
    xmax.saturating_mul(wsum).saturating_add(bias_max) < 1 << 63
}

/// `shift_round` of an exact i128 accumulator and the 32-bit range check (`Err`: the value,
/// saturated to 64 bits).
fn finish128(acc: i128, shift: i32) -> Result<i32, i64> {
    match zkopml_model::fixed::shift_round_i128(acc, shift) {
        Some(y) => i32::try_from(y).map_err(|_| y.clamp(i64::MIN as i128, i64::MAX as i128) as i64),
        None => Err(if acc < 0 { i64::MIN } else { i64::MAX }),
    }
}

/// The exact path of [`conv_i64`] for weights whose i64 sums could wrap: plain loops in
/// i128 (`|w·x| <= 2^94`, far fewer than 2^32 terms), outputs in order.
fn conv_i128(
    x: &[i32],
    s: &ConvShape,
    w: &[i64],
    bias: &[i64],
    shift: i32,
) -> Result<Vec<i32>, i64> {
    let (cg, mg) = (s.cg(), s.mg());
    let mut out = Vec::with_capacity(s.batch * s.m * s.oh * s.ow);
    for b in 0..s.batch {
        for oc in 0..s.m {
            let g = oc / mg.max(1);
            for oy in 0..s.oh {
                for ox in 0..s.ow {
                    let mut acc = bias[oc] as i128;
                    for ic in 0..cg {
                        for ky in 0..s.kh {
                            for kx in 0..s.kw {
                                let iy = (oy * s.strides[0] + ky * s.dilations[0]) as isize
                                    - s.pads[0] as isize;
                                let ix = (ox * s.strides[1] + kx * s.dilations[1]) as isize
                                    - s.pads[1] as isize;
                                if iy < 0 || ix < 0 || iy >= s.h as isize || ix >= s.w as isize {
                                    continue;
                                }
                                let xv = x[((b * s.c + g * cg + ic) * s.h + iy as usize) * s.w
                                    + ix as usize];
                                acc += w[((oc * cg + ic) * s.kh + ky) * s.kw + kx] as i128
                                    * xv as i128;
                            }
                        }
                    }
                    out.push(finish128(acc, shift)?);
                }
            }
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Gemm

/// `y[r, j] = shift_round(bias[j] + Σ_t x[r, t] · w[t, j], shift)` for `x [rows × k]`,
/// `w [k × n]`, as i32; `Err(v)`: `v` is the first result (row-major) outside the i32 range.
pub fn gemm(
    x: &[i32],
    k: usize,
    w: &[i64],
    n: usize,
    bias: &[i64],
    shift: i32,
) -> Result<Vec<i32>, i64> {
    assert_eq!(w.len(), k * n);
    assert_eq!(bias.len(), n);
    let rows = if k == 0 { 0 } else { x.len() / k };
    if rows == 0 || n == 0 {
        return gemm_serial(x, k, w, n, bias, shift);
    }
    // i64 accumulation is exact when max|x| · k · max|w| + max|bias| < 2^63 (a cheap bound
    // from one pass over the weights, which the W32 test needed anyway), or else when the
    // finer bound with each output's Σ|w| holds; otherwise the exact i128 loop
    let wmax = w.iter().map(|v| v.unsigned_abs()).max().unwrap_or(0);
    if !i64_exact(x, (wmax as u128).saturating_mul(k as u128), bias)
        && !i64_exact(x, gemm_wsum_max(w, n), bias)
    {
        return gemm_i128(x, k, w, n, bias, shift);
    }
    let w32 = wmax <= i32::MAX as u64;
    let macs = rows * k * n;
    let tasks = tasks_for(macs, n.div_ceil(64));
    if tasks == 1 {
        return if w32 {
            gemm_cols::<true>(x, k, w, n, bias, shift, 0, n)
        } else {
            gemm_cols::<false>(x, k, w, n, bias, shift, 0, n)
        };
    }
    // column blocks (multiples of 8), each a [rows × nb] result
    let nb = n.div_ceil(tasks).div_ceil(8) * 8;
    let blocks: Vec<Result<Vec<i32>, i64>> = crate::par::map_collect(n.div_ceil(nb), |bi| {
        let (j0, j1) = (bi * nb, ((bi + 1) * nb).min(n));
        if w32 {
            gemm_cols::<true>(x, k, w, n, bias, shift, j0, j1)
        } else {
            gemm_cols::<false>(x, k, w, n, bias, shift, j0, j1)
        }
    });
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
fn gemm_cols<const W32: bool>(
    x: &[i32],
    k: usize,
    w: &[i64],
    n: usize,
    bias: &[i64],
    shift: i32,
    j0: usize,
    j1: usize,
) -> Result<Vec<i32>, i64> {
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
                acc.iter_mut()
                    .zip(wrow)
                    .for_each(|(a, &wv)| *a = a.wrapping_add((wv as i32 as i64).wrapping_mul(xv)));
            } else {
                let xv = xv as i64;
                acc.iter_mut()
                    .zip(wrow)
                    .for_each(|(a, &wv)| *a = a.wrapping_add(xv.wrapping_mul(wv)));
            }
        }
        for &a in &acc {
            out.push(finish(a, shift)?);
        }
    }
    Ok(out)
}

/// `max_j Σ_t |w[t, j]|` of a `[k × n]` weight matrix.
fn gemm_wsum_max(w: &[i64], n: usize) -> u128 {
    let mut sums = vec![0u128; n];
    for row in w.chunks(n.max(1)) {
        sums.iter_mut()
            .zip(row)
            .for_each(|(s, &v)| *s += v.unsigned_abs() as u128);
    }
    sums.into_iter().max().unwrap_or(0)
}

/// The exact path of [`gemm`] for weights whose i64 sums could wrap (row-major order).
fn gemm_i128(
    x: &[i32],
    k: usize,
    w: &[i64],
    n: usize,
    bias: &[i64],
    shift: i32,
) -> Result<Vec<i32>, i64> {
    let rows = if k == 0 { 0 } else { x.len() / k };
    let mut out = Vec::with_capacity(rows * n);
    for r in 0..rows {
        let mut acc: Vec<i128> = bias.iter().map(|&b| b as i128).collect();
        for t in 0..k {
            let xv = x[r * k + t] as i128;
            acc.iter_mut()
                .zip(&w[t * n..(t + 1) * n])
                .for_each(|(a, &wv)| *a += xv * wv as i128);
        }
        for a in acc {
            out.push(finish128(a, shift)?);
        }
    }
    Ok(out)
}

/// The plain loop (also the source of the error value, in row-major order).
fn gemm_serial(
    x: &[i32],
    k: usize,
    w: &[i64],
    n: usize,
    bias: &[i64],
    shift: i32,
) -> Result<Vec<i32>, i64> {
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
            acc.iter_mut()
                .zip(wrow)
                .for_each(|(a, &wv)| *a = a.wrapping_add(xv.wrapping_mul(wv)));
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

    /// The reference: the exact i128 loops (themselves checked against an independent i128
    /// reference on extreme values in tests/exactness.rs).
    fn naive_conv(
        x: &[i32],
        s: &ConvShape,
        w: &[i64],
        bias: &[i64],
        shift: i32,
    ) -> Result<Vec<i32>, i64> {
        super::conv_i128(x, s, w, bias, shift)
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
            2 => (
                rng.range(2, 4) as usize,
                rng.range(1, 4) as usize,
                rng.range(1, 5) as usize,
            ),
            _ => (1, rng.range(1, 40) as usize, rng.range(1, 40) as usize),
        };
        let (kh, kw) = if kind == 3 || rng.next() % 4 == 0 {
            (1, 1)
        } else {
            (rng.pick(&[1, 2, 3, 5]), rng.pick(&[1, 3, 3]))
        };
        let strides = [rng.pick(&[1, 1, 2, 3]), rng.pick(&[1, 1, 2])];
        let dilations = if rng.next() % 5 == 0 {
            [2, rng.pick(&[1, 2])]
        } else {
            [1, 1]
        };
        let pads4 = if kind == 3 && rng.next() % 2 == 0 {
            [0; 4]
        } else {
            [
                rng.pick(&[0, 1, 2]),
                rng.pick(&[0, 1, 2]),
                rng.pick(&[0, 1]),
                rng.pick(&[0, 1, 2]),
            ]
        };
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

    #[test]
    fn depthwise_bound_sees_every_input_value() {
        // one large value where the vector fill converts it: the f64 bound must fail, and
        // the i64 path give the exact result
        for isa in Isa::available() {
            for (st, h) in [(1, 40), (2, 57)] {
                let o = (h + 2 - 3) / st + 1;
                let s = ConvShape {
                    batch: 1,
                    c: 2,
                    h,
                    w: h,
                    m: 2,
                    kh: 3,
                    kw: 3,
                    groups: 2,
                    oh: o,
                    ow: o,
                    strides: [st, st],
                    dilations: [1, 1],
                    pads: [1, 1],
                };
                let (mut x, _, bias) = random_case(&mut Rng(5), &s, 10, 1);
                let w = vec![(1i64 << 30) + 3; 18];
                x[3 * h + 6] = (1 << 23) + 1;
                let prep = PreparedConv::with_isa(&s, &w, &bias, isa);
                assert_eq!(
                    try_f64(&x, &s, &bias, 30, &prep, false),
                    None,
                    "{isa:?} stride {st}"
                );
                assert_eq!(
                    conv_fused(&x, &s, &w, &bias, 30, &prep, false),
                    naive_fused(&x, &s, &w, &bias, 30, false),
                    "{isa:?} stride {st}"
                );
            }
        }
    }

    #[test]
    fn depthwise_3x3_stride_1_every_size() {
        // the row-block kernel of these: every height and width up to 20 (full and partial
        // blocks of 4 rows and 16 or 8 columns), each padding, with and without Relu, and
        // outputs out of range where the first and last rows and columns meet
        let mut rng = Rng(0x3c3);
        for isa in Isa::available() {
            for h in 1..=20 {
                for w in 1..=20 {
                    let (pt, pl, pb, pr) = (
                        rng.range(0, 1) as usize,
                        rng.range(0, 1) as usize,
                        rng.range(0, 1) as usize,
                        rng.range(0, 1) as usize,
                    );
                    if h + pt + pb < 3 || w + pl + pr < 3 {
                        continue;
                    }
                    let (oh, ow) = (h + pt + pb - 2, w + pl + pr - 2);
                    let s = ConvShape {
                        batch: 1,
                        c: 3,
                        h,
                        w,
                        m: 3,
                        kh: 3,
                        kw: 3,
                        groups: 3,
                        oh,
                        ow,
                        strides: [1, 1],
                        dilations: [1, 1],
                        pads: [pt, pl],
                    };
                    let (mut x, wt, bias) = random_case(&mut rng, &s, 16, 15);
                    let relu = rng.next() % 2 == 0;
                    let prep = PreparedConv::with_isa(&s, &wt, &bias, isa);
                    let want = naive_fused(&x, &s, &wt, &bias, 8, relu);
                    assert_eq!(
                        try_f64(&x, &s, &bias, 8, &prep, relu).ok_or(()),
                        want.clone().map_err(|_| ()),
                        "{isa:?} {s:?}"
                    );
                    // a corner input large enough that its outputs leave the i32 range
                    let corner = rng.pick(&[0, w - 1, (h - 1) * w, h * w - 1])
                        + h * w * rng.pick(&[0, 1, 2]);
                    x[corner] = 1 << 27;
                    let want = naive_fused(&x, &s, &wt, &bias, 0, false);
                    assert_eq!(
                        try_f64(&x, &s, &bias, 0, &prep, false).is_none(),
                        want.is_err(),
                        "{isa:?} {s:?} corner {corner}"
                    );
                    assert_eq!(
                        conv_fused(&x, &s, &wt, &bias, 0, &prep, false),
                        want,
                        "{isa:?} {s:?}"
                    );
                }
            }
        }
    }

    fn random_case(
        rng: &mut Rng,
        s: &ConvShape,
        xbits: u32,
        wbits: u32,
    ) -> (Vec<i32>, Vec<i64>, Vec<i64>) {
        let xm = (1i64 << xbits) - 1;
        let wm = (1i64 << wbits) - 1;
        let x: Vec<i32> = (0..s.batch * s.c * s.h * s.w)
            .map(|_| {
                if rng.next() % 7 == 0 {
                    0
                } else {
                    rng.range(-xm, xm) as i32
                }
            })
            .collect();
        let w: Vec<i64> = (0..s.m * (s.c / s.groups) * s.kh * s.kw)
            .map(|_| {
                if rng.next() % 9 == 0 {
                    0
                } else {
                    rng.range(-wm, wm)
                }
            })
            .collect();
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
            assert_eq!(
                conv(&x, &s, &w, &bias, shift),
                want,
                "case {case}: {s:?} shift {shift}"
            );
            assert_eq!(
                conv_i64(&x, &s, &w, &bias, shift),
                want,
                "i64 path, case {case}: {s:?}"
            );
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
            assert_eq!(
                conv(&x, &s, &w, &bias, shift),
                naive_conv(&x, &s, &w, &bias, shift),
                "case {case}: {s:?}"
            );
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
            ConvShape {
                batch: 1,
                c: 32,
                h: 28,
                w: 28,
                m: 64,
                kh: 1,
                kw: 1,
                groups: 1,
                oh: 28,
                ow: 28,
                strides: [1, 1],
                dilations: [1, 1],
                pads: [0, 0],
            },
            ConvShape {
                batch: 1,
                c: 3,
                h: 56,
                w: 56,
                m: 32,
                kh: 3,
                kw: 3,
                groups: 1,
                oh: 28,
                ow: 28,
                strides: [2, 2],
                dilations: [1, 1],
                pads: [1, 1],
            },
            ConvShape {
                batch: 1,
                c: 96,
                h: 56,
                w: 56,
                m: 96,
                kh: 3,
                kw: 3,
                groups: 96,
                oh: 56,
                ow: 56,
                strides: [1, 1],
                dilations: [1, 1],
                pads: [1, 1],
            },
            ConvShape {
                batch: 2,
                c: 64,
                h: 29,
                w: 29,
                m: 64,
                kh: 3,
                kw: 3,
                groups: 64,
                oh: 15,
                ow: 15,
                strides: [2, 2],
                dilations: [1, 1],
                pads: [1, 1],
            },
            ConvShape {
                batch: 1,
                c: 160,
                h: 7,
                w: 7,
                m: 960,
                kh: 1,
                kw: 1,
                groups: 1,
                oh: 7,
                ow: 7,
                strides: [1, 1],
                dilations: [1, 1],
                pads: [0, 0],
            },
            // split by weights with several (batch, group) blocks: each thread's packed copy
            // belongs to one block
            ConvShape {
                batch: 2,
                c: 128,
                h: 14,
                w: 14,
                m: 1536,
                kh: 1,
                kw: 1,
                groups: 2,
                oh: 14,
                ow: 14,
                strides: [1, 1],
                dilations: [1, 1],
                pads: [0, 0],
            },
            // the same at 7x7, whose weight panels are stored as f32
            ConvShape {
                batch: 2,
                c: 128,
                h: 7,
                w: 7,
                m: 1536,
                kh: 1,
                kw: 1,
                groups: 2,
                oh: 7,
                ow: 7,
                strides: [1, 1],
                dilations: [1, 1],
                pads: [0, 0],
            },
        ];
        for s in shapes {
            let (x, w, bias) = random_case(&mut rng, &s, 14, 12);
            let want = naive_conv(&x, &s, &w, &bias, 12);
            assert_eq!(conv(&x, &s, &w, &bias, 12), want, "{s:?}");
            for threads in [1, 2, 3] {
                assert_eq!(
                    crate::par::with_team(threads, || conv(&x, &s, &w, &bias, 12)),
                    want,
                    "{threads} threads: {s:?}"
                );
            }
        }
    }

    fn naive_fused(
        x: &[i32],
        s: &ConvShape,
        w: &[i64],
        bias: &[i64],
        shift: i32,
        relu: bool,
    ) -> Result<Vec<i32>, i64> {
        naive_conv(x, s, w, bias, shift).map(|y| {
            if relu {
                y.into_iter().map(|v| v.max(0)).collect()
            } else {
                y
            }
        })
    }

    #[test]
    fn every_isa_matches_naive() {
        let mut rng = Rng(0xfeed_beef);
        for isa in Isa::available() {
            for case in 0..400 {
                let s = random_shape(&mut rng);
                // weights beyond 2^24 sometimes (the panels then stay f64), still exact in f64
                let (xbits, wbits) = if case % 4 == 0 { (8, 27) } else { (16, 15) };
                let (x, w, bias) = random_case(&mut rng, &s, xbits, wbits);
                let shift = rng.range(-2, 24) as i32 + if case % 4 == 0 { 12 } else { 0 };
                let relu = rng.next() % 2 == 0;
                let prep = PreparedConv::with_isa(&s, &w, &bias, isa);
                let want = naive_fused(&x, &s, &w, &bias, shift, relu);
                assert_eq!(
                    conv_fused(&x, &s, &w, &bias, shift, &prep, relu),
                    want,
                    "{isa:?} case {case}: {s:?} shift {shift} relu {relu}"
                );
                // the f64 kernels themselves (no fallback) when the result is in range
                if let Ok(y) = want {
                    assert_eq!(
                        try_f64(&x, &s, &bias, shift, &prep, relu),
                        Some(y),
                        "{isa:?} case {case}: {s:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn every_isa_reports_the_first_overflow() {
        let mut rng = Rng(17);
        for isa in Isa::available() {
            let mut seen = 0;
            for case in 0..300 {
                let s = random_shape(&mut rng);
                let (mut x, w, bias) = random_case(&mut rng, &s, 16, 15);
                // mostly in range, with a few large inputs
                let n = x.len();
                x.iter_mut().for_each(|v| *v >>= 6);
                for _ in 0..rng.range(0, 2) {
                    x[rng.range(0, n as i64 - 1) as usize] = rng.range(-(1 << 24), 1 << 24) as i32;
                }
                let shift = rng.range(0, 14) as i32;
                let relu = rng.next() % 2 == 0;
                let prep = PreparedConv::with_isa(&s, &w, &bias, isa);
                let want = naive_fused(&x, &s, &w, &bias, shift, relu);
                seen += want.is_err() as usize;
                assert_eq!(
                    conv_fused(&x, &s, &w, &bias, shift, &prep, relu),
                    want,
                    "{isa:?} case {case}: {s:?} shift {shift}"
                );
                // the f64 kernels flag exactly the out-of-range cases
                assert_eq!(
                    try_f64(&x, &s, &bias, shift, &prep, relu).is_none(),
                    want.is_err(),
                    "{isa:?} case {case}: {s:?}"
                );
            }
            assert!(seen > 20, "the test makes overflows ({seen})");
        }
    }

    #[test]
    fn expand_depthwise_is_the_two_ops_in_turn() {
        let mut rng = Rng(0x5eed);
        let pw = |batch, c, h, w, m| ConvShape {
            batch,
            c,
            h,
            w,
            m,
            kh: 1,
            kw: 1,
            groups: 1,
            oh: h,
            ow: w,
            strides: [1, 1],
            dilations: [1, 1],
            pads: [0, 0],
        };
        let dw = |p: &ConvShape, mult: usize, k: usize, st: usize, d: usize, pad: usize| {
            let o = |i: usize| (i + 2 * pad - d * (k - 1) - 1) / st + 1;
            ConvShape {
                batch: p.batch,
                c: p.m,
                h: p.h,
                w: p.w,
                m: p.m * mult,
                kh: k,
                kw: k,
                groups: p.m,
                oh: o(p.h),
                ow: o(p.w),
                strides: [st, st],
                dilations: [d, d],
                pads: [pad, pad],
            }
        };
        let cases = [
            (pw(1, 8, 64, 64, 64), 1, 3, 1, 1, 1, true),
            (pw(1, 16, 61, 70, 72), 1, 3, 2, 1, 1, true),
            (pw(2, 4, 80, 80, 48), 1, 5, 2, 1, 2, false),
            (pw(1, 12, 66, 66, 64), 1, 3, 1, 2, 2, true),
            (pw(1, 6, 64, 64, 64), 2, 3, 1, 1, 0, true),
        ];
        for isa in Isa::available() {
            for &(ps, mult, k, st, d, pad, dw_relu) in &cases {
                let ds = dw(&ps, mult, k, st, d, pad);
                assert!(fusable(&ps, &ds), "{ps:?} {ds:?}");
                let (x, w1, b1) = random_case(&mut rng, &ps, 12, 10);
                let (_, w2, b2) = random_case(&mut rng, &ds, 1, 10);
                let (p1, p2) = (
                    PreparedConv::with_isa(&ps, &w1, &b1, isa),
                    PreparedConv::with_isa(&ds, &w2, &b2, isa),
                );
                let step1 = ConvStep {
                    shape: &ps,
                    bias: &b1,
                    shift: 12,
                    prep: &p1,
                    relu: true,
                };
                let step2 = ConvStep {
                    shape: &ds,
                    bias: &b2,
                    shift: 11,
                    prep: &p2,
                    relu: dw_relu,
                };
                let e = naive_fused(&x, &ps, &w1, &b1, 12, true).unwrap();
                let want = naive_fused(&e, &ds, &w2, &b2, 11, dw_relu).unwrap();
                for threads in [1, 2, 3] {
                    let got = crate::par::with_team(threads, || expand_depthwise(&x, step1, step2));
                    assert_eq!(
                        got.as_ref(),
                        Some(&want),
                        "{isa:?} {threads} threads: {ps:?} then {ds:?}"
                    );
                }
                // then a projection, with and without a residual Add (and a projection whose
                // output is out of range: declined)
                let qs = pw(ds.batch, ds.m, ds.oh, ds.ow, 5 + (rng.next() % 20) as usize);
                assert!(projectable(&ds, &qs));
                let (_, w3, b3) = random_case(&mut rng, &qs, 1, 10);
                let p3 = PreparedConv::with_isa(&qs, &w3, &b3, isa);
                let step3 = ConvStep {
                    shape: &qs,
                    bias: &b3,
                    shift: 10,
                    prep: &p3,
                    relu: false,
                };
                let projected = naive_fused(&want, &qs, &w3, &b3, 10, false).unwrap();
                let skip: Vec<i32> = (0..projected.len())
                    .map(|_| rng.range(-(1 << 20), 1 << 20) as i32)
                    .collect();
                let res = Residual {
                    skip: &skip,
                    conv_up: 1,
                    skip_up: 0,
                    shift: 1,
                };
                let added: Vec<i32> = projected
                    .iter()
                    .zip(&skip)
                    .map(|(&c, &k)| shift_round(((c as i64) << 1) + k as i64, 1) as i32)
                    .collect();
                for threads in [1, 2, 3] {
                    let got = crate::par::with_team(threads, || {
                        expand_depthwise_project(
                            &x,
                            step1,
                            step2,
                            Some(Projection {
                                step: step3,
                                res: None,
                            }),
                        )
                    });
                    assert_eq!(
                        got.as_ref(),
                        Some(&projected),
                        "{isa:?} {threads} threads: {ps:?} then {ds:?} then {qs:?}"
                    );
                    let got = crate::par::with_team(threads, || {
                        expand_depthwise_project(
                            &x,
                            step1,
                            step2,
                            Some(Projection {
                                step: step3,
                                res: Some(res),
                            }),
                        )
                    });
                    assert_eq!(
                        got.as_ref(),
                        Some(&added),
                        "{isa:?} {threads} threads, residual: {ps:?} then {ds:?} then {qs:?}"
                    );
                }
                // a residual sum out of the i32 range: declined
                let loud = Residual {
                    conv_up: 31,
                    skip_up: 0,
                    shift: 0,
                    ..res
                };
                assert!(projected
                    .iter()
                    .any(|&c| ((c as i64) << 31) + (skip[0] as i64).abs() > i32::MAX as i64));
                assert_eq!(
                    crate::par::with_team(2, || expand_depthwise_project(
                        &x,
                        step1,
                        step2,
                        Some(Projection {
                            step: step3,
                            res: Some(loud)
                        })
                    )),
                    None,
                    "{isa:?} {qs:?}"
                );
                // an expanded value out of the i32 range: declined (the ops one by one find it)
                let mut big = x.clone();
                big[ps.h * ps.w + 5] = 1 << 30;
                let loud = ConvStep { shift: 0, ..step1 };
                assert!(naive_fused(&big, &ps, &w1, &b1, 0, true).is_err());
                assert_eq!(
                    crate::par::with_team(2, || expand_depthwise(&big, loud, step2)),
                    None,
                    "{isa:?} {ps:?}"
                );
            }
        }
    }

    #[test]
    fn conv_add_is_the_two_ops_in_turn() {
        let mut rng = Rng(0xadd);
        let mut declined = 0;
        for isa in Isa::available() {
            for case in 0..120 {
                let s = random_shape(&mut rng);
                let (x, w, bias) = random_case(&mut rng, &s, 12, 10);
                let prep = PreparedConv::with_isa(&s, &w, &bias, isa);
                let conv = naive_fused(&x, &s, &w, &bias, 9, false).unwrap();
                let skip: Vec<i32> = (0..conv.len())
                    .map(|_| rng.range(-(1 << 20), 1 << 20) as i32)
                    .collect();
                if s.cg() == 1 {
                    // one input channel per group runs the depthwise kernel, which has no
                    // residual path: declined (the ops then run one by one)
                    let res = Residual {
                        skip: &skip,
                        conv_up: 0,
                        skip_up: 0,
                        shift: 0,
                    };
                    assert_eq!(conv_add(&x, &s, &bias, 9, &prep, &res), None);
                    continue;
                }
                let (conv_up, skip_up) = (rng.range(0, 3) as u32, rng.range(0, 3) as u32);
                // rounding down (the usual case), exact, and scaling up; a large shift-up overflows
                let shift = [rng.range(1, 6) as i32, 0, -(rng.range(1, 12) as i32)][case % 3];
                let res = Residual {
                    skip: &skip,
                    conv_up,
                    skip_up,
                    shift,
                };
                let want: Result<Vec<i32>, ()> = conv
                    .iter()
                    .zip(&skip)
                    .map(|(&c, &k)| {
                        let v =
                            shift_round(((c as i64) << conv_up) + ((k as i64) << skip_up), shift);
                        i32::try_from(v).map_err(|_| ())
                    })
                    .collect();
                declined += want.is_err() as usize;
                for threads in [1, 2, 3] {
                    let got =
                        crate::par::with_team(threads, || conv_add(&x, &s, &bias, 9, &prep, &res));
                    assert_eq!(got, want.clone().ok(), "{isa:?} case {case}, {threads} threads: {s:?} up {conv_up}/{skip_up} shift {shift}");
                }
            }
        }
        assert!(
            declined > 10,
            "the test makes out-of-range sums ({declined})"
        );
    }

    #[test]
    fn every_isa_on_mobilenet_shapes() {
        let mut rng = Rng(78);
        let c = |c, h, m, k, g, st, p| {
            let o = (h + 2 * p - k) / st + 1;
            ConvShape {
                batch: 1,
                c,
                h,
                w: h,
                m,
                kh: k,
                kw: k,
                groups: g,
                oh: o,
                ow: o,
                strides: [st, st],
                dilations: [1, 1],
                pads: [p, p],
            }
        };
        let shapes = [
            c(3, 35, 32, 3, 1, 2, 1),
            c(32, 30, 32, 3, 32, 1, 1),
            c(96, 29, 96, 3, 96, 2, 1),
            c(16, 23, 96, 1, 1, 1, 0),
            c(96, 14, 24, 1, 1, 1, 0),
            c(160, 7, 960, 1, 1, 1, 0),
            c(960, 7, 7, 3, 1, 1, 1),
            c(576, 7, 576, 3, 576, 1, 1),
            c(24, 40, 24, 3, 24, 1, 1),
            c(16, 57, 16, 3, 16, 2, 1),
            c(1280, 1, 1000, 1, 1, 1, 0),
        ];
        for isa in Isa::available() {
            for s in shapes {
                let (x, w, bias) = random_case(&mut rng, &s, 14, 10);
                for relu in [false, true] {
                    let prep = PreparedConv::with_isa(&s, &w, &bias, isa);
                    let want = naive_fused(&x, &s, &w, &bias, 14, relu).unwrap();
                    assert_eq!(
                        try_f64(&x, &s, &bias, 14, &prep, relu),
                        Some(want),
                        "{isa:?} {s:?}"
                    );
                }
            }
        }
    }

    fn naive_gemm(
        x: &[i32],
        k: usize,
        w: &[i64],
        n: usize,
        bias: &[i64],
        shift: i32,
    ) -> Result<Vec<i32>, i64> {
        let rows = x.len() / k;
        let mut out = Vec::new();
        for r in 0..rows {
            for j in 0..n {
                let acc: i128 = bias[j] as i128
                    + (0..k)
                        .map(|t| x[r * k + t] as i128 * w[t * n + j] as i128)
                        .sum::<i128>();
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
                _ => (
                    rng.range(1, 5) as usize,
                    rng.range(1, 50) as usize,
                    rng.range(1, 50) as usize,
                ),
            };
            let wbits = if case % 5 == 0 { 34 } else { 15 };
            let wm = (1i64 << wbits) - 1;
            let x: Vec<i32> = (0..rows * k)
                .map(|_| {
                    if rng.next() % 5 == 0 {
                        0
                    } else {
                        rng.range(-(1 << 16), 1 << 16) as i32
                    }
                })
                .collect();
            let w: Vec<i64> = (0..k * n).map(|_| rng.range(-wm, wm)).collect();
            let bias: Vec<i64> = (0..n).map(|_| rng.range(-(1 << 30), 1 << 30)).collect();
            let shift = if case % 3 == 0 {
                rng.range(0, 4) as i32
            } else {
                rng.range(18, 60) as i32
            };
            assert_eq!(
                gemm(&x, k, &w, n, &bias, shift),
                naive_gemm(&x, k, &w, n, &bias, shift),
                "case {case}: {rows}x{k}x{n}"
            );
        }
    }

    #[test]
    fn canonical_is_the_nhwc_transpose() {
        use zkopml_model::Tensor;
        let mut rng = Rng(21);
        for shape in [
            vec![1, 3, 4, 5],
            vec![2, 1, 1, 7],
            vec![2, 6, 3, 1],
            vec![1, 16, 9, 9],
            vec![3, 5],
            vec![2, 3, 4],
            vec![0, 2, 2, 2],
        ] {
            let n: usize = shape.iter().product();
            let t = Tensor::new(shape.clone(), (0..n).map(|_| rng.next() as i32).collect());
            let want = if shape.len() == 4 {
                t.transpose(&[0, 2, 3, 1]).data
            } else {
                t.data.clone()
            };
            assert_eq!(crate::commit::canonical(&t), want, "{shape:?}");
        }
    }
}
