//! The integer arithmetic every party (executor, circuits, this compiler) agrees on.
//! docs/fixed-point.md specifies each function; these are the reference implementations.

use serde::{Deserialize, Serialize};

/// Bounds of a stored value: `-2^31 <= v < 2^31` (docs/commitments.md).
pub const VALUE_BITS: u32 = 32;

/// `x · 2^-k` rounded half up (toward +inf) for `k > 0`; `x · 2^-k` exactly for `k <= 0`.
/// The one rounding rule of zkopml: `floor((x + 2^(k-1)) / 2^k)`.
///
/// Exact for every `x` and every `k > 0` (the circuit computes the same integer over the
/// field): no addition that could wrap (see [`shift_round_i128`]). For `k <= 0` an exact
/// value outside i64 saturates to `i64::MIN` / `i64::MAX`, which no stored (32-bit) value
/// equals, so a caller that narrows to i32 refuses it as the circuit does; callers that need
/// the exact wide value use [`checked_shift_round`] or [`shift_round_i128`].
#[inline]
pub fn shift_round(x: i64, k: i32) -> i64 {
    if k > 0 {
        // floor(x / 2^k) + bit k-1 of x (proof at shift_round_i128); for k >= 64 both shifts
        // stop at 63: floor(x / 2^k) = x >> 63 and bit k-1 is the sign bit, sum 0 (exact,
        // as |x| < 2^63 <= 2^(k-1))
        (x >> k.min(63)) + ((x >> (k - 1).min(63)) & 1)
    } else {
        checked_shift_round(x, k).unwrap_or(if x < 0 { i64::MIN } else { i64::MAX })
    }
}

/// [`shift_round`], None when the exact value lies outside i64 (only possible for `k <= 0`).
#[inline]
pub fn checked_shift_round(x: i64, k: i32) -> Option<i64> {
    if k > 0 {
        Some(shift_round(x, k))
    } else {
        let u = k.unsigned_abs();
        if u >= 64 {
            return (x == 0).then_some(0);
        }
        let y = x << u;
        (y >> u == x).then_some(y)
    }
}

/// [`shift_round`] on i128, exact for every `x` and `k`; None only when `k <= 0` and
/// `x · 2^-k` lies outside i128.
///
/// For `k > 0`: write `x = q·2^k + r`, `0 <= r < 2^k`, so `q = x >> k` (arithmetic shift is
/// floor division). Then `floor((x + 2^(k-1)) / 2^k) = q + floor((r + 2^(k-1)) / 2^k)
/// = q + [r >= 2^(k-1)]`, and `[r >= 2^(k-1)]` is bit `k-1` of `r`, which is bit `k-1` of `x`
/// in two's complement (`x ≡ r mod 2^k`). Neither term can overflow (`|q| <= 2^126`).
#[inline]
pub fn shift_round_i128(x: i128, k: i32) -> Option<i128> {
    if k > 0 {
        Some((x >> k.min(127)) + ((x >> (k - 1).min(127)) & 1))
    } else {
        let u = k.unsigned_abs();
        if u >= 128 {
            return (x == 0).then_some(0);
        }
        let y = x << u;
        (y >> u == x).then_some(y)
    }
}

/// A shift amount computed in i64 (a difference of shifts) as the i32 that
/// [`shift_round_i128`] takes: clamping keeps its value, since every `k >= 128` rounds any
/// i128 to 0 and every `k <= -128` leaves only 0 inside i128.
#[inline]
pub fn clamp_shift(k: i64) -> i32 {
    k.clamp(i32::MIN as i64, i32::MAX as i64) as i32
}

/// `v` as an i64 when `|v| < 2^63`; None otherwise (such a value is never a stored value).
#[inline]
pub fn fit_i64(v: i128) -> Option<i64> {
    (v > i64::MIN as i128 && v <= i64::MAX as i128).then_some(v as i64)
}

/// `shift_round(big·2^d + small, k)` exactly, for `|big|, |small| <= 2^63`, any `d >= 0` and
/// any `k` (the alignment sums of Add, Sub, Max and Min, whose `big·2^d` may not fit any
/// machine integer). None only when the exact value has magnitude at least 2^63.
///
/// - `k > d`: `big·2^d + small + 2^(k-1) = 2^d·(big + t + 2^(k-d-1)) + r` with
///   `t = floor(small / 2^d)`, `0 <= r < 2^d`; dividing by `2^d` then `2^(k-d)` (floors
///   compose) gives `shift_round(big + t, k - d)`.
/// - `1 <= k <= d`: `big·2^d` is a multiple of `2^k`, so the value is
///   `big·2^(d-k) + shift_round(small, k)`; when `big != 0` and `d - k >= 64` its magnitude is
///   at least `2^64 - 2^62 - 1 >= 2^63`.
/// - `k <= 0`: `(big·2^d + small)·2^-k`; when `big != 0` and `d >= 64` the magnitude is at
///   least `2^64 - 2^63 = 2^63`.
pub fn shift_round_sum(big: i128, d: u32, small: i128, k: i64) -> Option<i64> {
    debug_assert!(big.unsigned_abs() <= 1 << 63 && small.unsigned_abs() <= 1 << 63);
    let d64 = d as i64;
    if k > d64 {
        let t = big + (small >> d.min(127));
        fit_i64(shift_round_i128(t, clamp_shift(k - d64))?)
    } else if k >= 1 {
        let e = (d64 - k) as u32;
        let hi = if big == 0 {
            0
        } else if e >= 64 {
            return None;
        } else {
            big << e
        };
        fit_i64(hi + shift_round_i128(small, clamp_shift(k))?)
    } else {
        let v = if big == 0 {
            small
        } else if d >= 64 {
            return None;
        } else {
            (big << d) + small
        };
        fit_i64(shift_round_i128(v, clamp_shift(k))?)
    }
}

/// The alignment sum `a·2^ua + b·2^ub` rescaled by `shift` (Add, and Sub with `b` negated),
/// exactly: None only when the exact value has magnitude at least 2^63.
/// `shift_round(v·2^u, k) = shift_round(v, k - u)` for `u >= 0`, so the smaller alignment
/// moves into the shift and [`shift_round_sum`] does the rest.
pub fn shift_round_aligned(a: i128, ua: u32, b: i128, ub: u32, shift: i32) -> Option<i64> {
    if ua >= ub {
        shift_round_sum(a, ua - ub, b, shift as i64 - ub as i64)
    } else {
        shift_round_sum(b, ub - ua, a, shift as i64 - ua as i64)
    }
}

/// The order of `a·2^ua` and `b·2^ub`, exactly, for `|a|, |b| <= 2^63` and any shifts.
pub fn cmp_aligned(a: i128, ua: u32, b: i128, ub: u32) -> std::cmp::Ordering {
    let (big, d, small, flip) = if ua >= ub {
        (a, ua - ub, b, false)
    } else {
        (b, ub - ua, a, true)
    };
    // big·2^d against small: exact in i128 for d <= 63; beyond, |big·2^d| >= 2^64 > |small|
    // unless big = 0, so big's sign decides
    let o = if d <= 63 {
        (big << d).cmp(&small)
    } else if big != 0 {
        big.cmp(&0)
    } else {
        0.cmp(&small)
    };
    if flip {
        o.reverse()
    } else {
        o
    }
}

/// `shift_round(max or min(a·2^ua, b·2^ub), shift)` exactly (Max / Min); None only when the
/// exact value has magnitude at least 2^63.
pub fn shift_round_extreme(
    a: i128,
    ua: u32,
    b: i128,
    ub: u32,
    shift: i32,
    max: bool,
) -> Option<i64> {
    let a_wins = match cmp_aligned(a, ua, b, ub) {
        std::cmp::Ordering::Greater => max,
        std::cmp::Ordering::Less => !max,
        std::cmp::Ordering::Equal => true,
    };
    let (v, u) = if a_wins { (a, ua) } else { (b, ub) };
    shift_round_sum(v, u, 0, shift as i64)
}

/// `n / d` rounded half up, `floor((2n + d) / (2d))` for `d > 0`, and `div_round(-n, -d)` for
/// `d < 0`. None when `d == 0`. Exact for every input; the one result outside i64,
/// `div_round(i64::MIN, -1) = 2^63`, saturates to `i64::MAX` (no stored value either way).
#[inline]
pub fn div_round(n: i64, d: i64) -> Option<i64> {
    div_round_i128(n as i128, d as i128).map(|v| v.clamp(i64::MIN as i128, i64::MAX as i128) as i64)
}

/// [`div_round`] on i128, exact: with `n = q·d + r`, `0 <= r < d` (after making `d > 0`),
/// `floor((2n + d) / (2d)) = q + floor((2r + d) / (2d)) = q + [2r >= d]`, computed without
/// forming `2n + d`. None when `d == 0`, or when `d < 0` and `n` or `d` is `i128::MIN`.
#[inline]
pub fn div_round_i128(n: i128, d: i128) -> Option<i128> {
    if d == 0 {
        return None;
    }
    let (n, d) = if d < 0 {
        (n.checked_neg()?, d.checked_neg()?)
    } else {
        (n, d)
    };
    let (q, r) = (n.div_euclid(d), n.rem_euclid(d));
    Some(q + (r >= d - r) as i128)
}

/// `floor(sqrt(x))` for `x >= 0`: the `y` with `y² <= x < (y+1)²`. The squares are taken in
/// i128 (`(y+1)²` exceeds i64 near `i64::MAX`).
pub fn isqrt(x: i64) -> Option<i64> {
    if x < 0 {
        return None;
    }
    let x = x as i128;
    let mut y = (x as f64).sqrt() as i128;
    while y * y > x {
        y -= 1;
    }
    while (y + 1) * (y + 1) <= x {
        y += 1;
    }
    Some(y as i64)
}

/// A piecewise polynomial on a uniform grid, the form every smooth non-linearity
/// (Sigmoid, Tanh, Erf, Exp) is compiled to. Input at scale `in_scale`, output at `out_scale`.
///
/// `x` is clamped to `[lo, lo + segments·2^seg_bits - 1]`; segment `k = (x - lo) >> seg_bits`,
/// local offset `z = x - lo - k·2^seg_bits`; Horner over `coeffs[k]` (highest degree first, at
/// scale `coeff_scale`): `acc = c_0; acc = shift_round(acc·z, in_scale) + c_i`; the result is
/// `shift_round(acc, coeff_scale - out_scale)`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PiecewisePoly {
    pub in_scale: i32,
    pub out_scale: i32,
    pub coeff_scale: i32,
    pub lo: i64,
    pub seg_bits: u32,
    /// One entry per segment, each `degree + 1` coefficients, highest degree first.
    pub coeffs: Vec<Vec<i64>>,
}

impl PiecewisePoly {
    /// The last input of the domain, `lo + segments·2^seg_bits - 1` (saturated to i64: the
    /// clamp of an i64 input is then the same).
    pub fn hi(&self) -> i64 {
        match self.span() {
            Some(span) => {
                (self.lo as i128 + span - 1).clamp(i64::MIN as i128, i64::MAX as i128) as i64
            }
            None => i64::MAX,
        }
    }

    /// `segments·2^seg_bits`, None when it exceeds i128 (then above any i64 offset).
    fn span(&self) -> Option<i128> {
        if self.seg_bits >= 120 {
            return None;
        }
        (self.coeffs.len() as i128).checked_mul(1i128 << self.seg_bits)
    }

    /// The polynomial's value at `x` (docs/fixed-point.md), exact while every intermediate
    /// fits i128, which holds for every compiled program (coefficients below 2^40 or so,
    /// `z < 2^25`); a value that does not fit i64, or an intermediate beyond i128 (only a
    /// crafted program), is returned as `i64::MAX`, which no stored value equals. The executor
    /// uses [`PiecewisePoly::checked_eval`] and refuses those.
    #[inline]
    pub fn eval(&self, x: i64) -> i64 {
        self.checked_eval(x).and_then(fit_i64).unwrap_or(i64::MAX)
    }

    /// [`PiecewisePoly::eval`] in i128 with every step checked: None when an intermediate
    /// leaves i128 (or the polynomial has no segment or no coefficient).
    pub fn checked_eval(&self, x: i64) -> Option<i128> {
        let span = self.span();
        // off = clamp(x, lo, hi) - lo, in [0, span)
        let mut off = (x as i128 - self.lo as i128).max(0);
        if let Some(span) = span {
            off = off.min(span.checked_sub(1)?);
        }
        let sb = self.seg_bits;
        let (k, z) = if sb >= 127 {
            (0, off)
        } else {
            (off >> sb, off & ((1i128 << sb) - 1))
        };
        let c = self.coeffs.get(usize::try_from(k).ok()?)?;
        let (&c0, rest) = c.split_first()?;
        let mut acc = c0 as i128;
        for &ci in rest {
            acc = shift_round_i128(acc.checked_mul(z)?, self.in_scale)?.checked_add(ci as i128)?;
        }
        shift_round_i128(
            acc,
            clamp_shift(self.coeff_scale as i64 - self.out_scale as i64),
        )
    }

    /// Fit `f` (a real function) on `[lo_real, lo_real + segments·width)` with `width = 2^seg_log2`
    /// real units, each segment by a least-squares polynomial of `degree` at Chebyshev nodes.
    pub fn fit(
        f: impl Fn(f64) -> f64,
        lo_real: f64,
        seg_log2: i32,
        segments: usize,
        degree: usize,
        in_scale: i32,
        out_scale: i32,
        guard: i32,
    ) -> Option<PiecewisePoly> {
        let seg_bits = seg_log2 + in_scale;
        if seg_bits < 0 {
            return None;
        }
        let width = 2f64.powi(seg_log2);
        let coeff_scale = out_scale + guard;
        let lo = (lo_real * 2f64.powi(in_scale)).round() as i64;
        let mut coeffs = Vec::with_capacity(segments);
        for k in 0..segments {
            let a = lo_real + k as f64 * width;
            // sample points t in [0, width)
            let m = 4 * (degree + 1);
            let ts: Vec<f64> = (0..m)
                .map(|j| {
                    width
                        * 0.5
                        * (1.0 - ((2 * j + 1) as f64 * std::f64::consts::PI / (2 * m) as f64).cos())
                })
                .collect();
            let p = lstsq_poly(
                &ts,
                &ts.iter().map(|&t| f(a + t)).collect::<Vec<_>>(),
                degree,
            )?;
            // p[d] is the coefficient of t^d; store highest degree first at coeff_scale
            coeffs.push(
                p.iter()
                    .rev()
                    .map(|&c| (c * 2f64.powi(coeff_scale)).round() as i64)
                    .collect(),
            );
        }
        Some(PiecewisePoly {
            in_scale,
            out_scale,
            coeff_scale,
            lo,
            seg_bits: seg_bits as u32,
            coeffs,
        })
    }
}

/// Least squares polynomial fit via the normal equations (small degrees only).
fn lstsq_poly(xs: &[f64], ys: &[f64], degree: usize) -> Option<Vec<f64>> {
    let n = degree + 1;
    let mut a = vec![vec![0.0; n + 1]; n];
    for (&x, &y) in xs.iter().zip(ys) {
        let pw: Vec<f64> = (0..2 * n).map(|k| x.powi(k as i32)).collect();
        for i in 0..n {
            for j in 0..n {
                a[i][j] += pw[i + j];
            }
            a[i][n] += pw[i] * y;
        }
    }
    for col in 0..n {
        let piv = (col..n).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        a.swap(col, piv);
        if a[col][col].abs() < 1e-300 {
            return None;
        }
        for r in 0..n {
            if r != col {
                let f = a[r][col] / a[col][col];
                for c in col..=n {
                    a[r][c] -= f * a[col][c];
                }
            }
        }
    }
    Some((0..n).map(|i| a[i][n] / a[i][i]).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shift_round_is_half_up() {
        assert_eq!(shift_round(5, 1), 3); // 2.5 -> 3
        assert_eq!(shift_round(-5, 1), -2); // -2.5 -> -2
        assert_eq!(shift_round(-6, 1), -3);
        assert_eq!(shift_round(7, 2), 2); // 1.75 -> 2
        assert_eq!(shift_round(3, -2), 12);
        assert_eq!(shift_round(-1, 0), -1);
    }

    #[test]
    fn div_round_is_half_up_for_both_signs() {
        assert_eq!(div_round(5, 2), Some(3));
        assert_eq!(div_round(-5, 2), Some(-2));
        assert_eq!(div_round(5, -2), Some(-2));
        assert_eq!(div_round(-5, -2), Some(3));
        assert_eq!(div_round(7, 3), Some(2));
        assert_eq!(div_round(1, 0), None);
    }

    #[test]
    fn isqrt_exact() {
        for x in [
            0i64,
            1,
            2,
            3,
            4,
            15,
            16,
            17,
            1 << 40,
            (1 << 40) - 1,
            i32::MAX as i64,
        ] {
            let y = isqrt(x).unwrap();
            assert!(y * y <= x && (y + 1) * (y + 1) > x);
        }
        assert_eq!(isqrt(-1), None);
    }

    /// Extreme and random i64 values for the property tests.
    fn extremes() -> Vec<i64> {
        let mut v = vec![
            0,
            1,
            -1,
            2,
            -2,
            i64::MIN,
            i64::MIN + 1,
            i64::MAX,
            i64::MAX - 1,
            i32::MIN as i64,
            i32::MAX as i64,
            1 << 62,
            -(1 << 62),
            i64::MAX - (1 << 32) + 2,
        ];
        let mut g = crate::input::SplitMix(19);
        for _ in 0..40 {
            let r = g.next_u64() as i64;
            v.push(r);
            v.push(r >> (g.next_u64() % 64));
        }
        v
    }

    /// The definition, over i128 (exact for |x| < 2^64, k <= 126; 0 beyond).
    fn shift_round_ref(x: i128, k: i32) -> Option<i128> {
        if k > 126 {
            Some(0)
        } else if k > 0 {
            Some((x + (1i128 << (k - 1))) >> k)
        } else if k > -64 {
            let y = x << -k;
            (y >> -k == x).then_some(y)
        } else {
            (x == 0).then_some(0)
        }
    }

    #[test]
    fn shift_round_is_exact_for_every_i64_and_shift() {
        // the finding: 2^63 - 2^32 + 1 by 2^33 wrapped to -2^30
        assert_eq!(
            shift_round((1 << 62) + ((1 << 62) - (1 << 32) + 1), 33),
            1 << 30
        );
        for x in extremes() {
            for k in (-70..=130).chain([i32::MIN, i32::MIN + 1, i32::MAX, 200, 1000]) {
                let want = shift_round_ref(x as i128, k.max(-70));
                let want = if k < -70 { (x == 0).then_some(0) } else { want };
                let got = shift_round_i128(x as i128, k);
                if let Some(w) = want.filter(|w| w.unsigned_abs() < 1 << 126) {
                    assert_eq!(got, Some(w), "i128 x={x} k={k}");
                }
                match want.and_then(|w| i64::try_from(w).ok()) {
                    Some(w) => {
                        assert_eq!(shift_round(x, k), w, "x={x} k={k}");
                        assert_eq!(checked_shift_round(x, k), Some(w), "x={x} k={k}");
                    }
                    None => {
                        assert_eq!(checked_shift_round(x, k), None, "x={x} k={k}");
                        assert!(
                            i32::try_from(shift_round(x, k)).is_err(),
                            "a saturated value is no stored value: x={x} k={k}"
                        );
                    }
                }
            }
        }
        // the extremes of i128 itself
        for x in [i128::MAX, i128::MIN, i128::MIN + 1, 1 << 126, -(1 << 126)] {
            assert_eq!(
                shift_round_i128(x, 127),
                Some(if x == i128::MAX || x == 1 << 126 {
                    1
                } else if x == -(1 << 126) {
                    0
                } else {
                    -1
                }),
                "{x}"
            );
            assert_eq!(shift_round_i128(x, 128), Some(0));
            assert_eq!(shift_round_i128(x, 1), Some((x >> 1) + (x & 1)));
            assert_eq!(shift_round_i128(x, -1), x.checked_mul(2));
        }
    }

    #[test]
    fn div_round_is_exact_for_every_i64() {
        let ds: Vec<i64> = extremes()
            .into_iter()
            .chain([3, -3, 7, 1 << 31, -(1 << 31)])
            .collect();
        for n in extremes() {
            for &d in &ds {
                let (nn, dd) = if d < 0 {
                    (-(n as i128), -(d as i128))
                } else {
                    (n as i128, d as i128)
                };
                let want = if d == 0 {
                    None
                } else {
                    Some((2 * nn + dd).div_euclid(2 * dd))
                };
                assert_eq!(div_round_i128(n as i128, d as i128), want, "n={n} d={d}");
                assert_eq!(
                    div_round(n, d),
                    want.map(|w| w.clamp(i64::MIN as i128, i64::MAX as i128) as i64),
                    "n={n} d={d}"
                );
            }
        }
        assert_eq!(div_round(i64::MIN, -1), Some(i64::MAX)); // 2^63, saturated
        assert_eq!(div_round_i128(i128::MAX, 2), Some(1 << 126));
        assert_eq!(div_round_i128(i128::MIN, 2), Some(-(1 << 126)));
        assert_eq!(div_round_i128(i128::MIN, -1), None);
    }

    #[test]
    fn isqrt_is_exact_near_i64_max() {
        for x in [
            i64::MAX,
            i64::MAX - 1,
            3037000499i64 * 3037000499,
            3037000499i64 * 3037000499 - 1,
        ] {
            let y = isqrt(x).unwrap() as i128;
            assert!(
                y * y <= x as i128 && (y + 1) * (y + 1) > x as i128,
                "x={x} y={y}"
            );
        }
        assert_eq!(isqrt(i64::MAX), Some(3037000499));
    }

    #[test]
    fn alignment_sums_are_exact() {
        // against the sum formed in i128 (alignments up to 60)
        let mut vals: Vec<i64> = extremes();
        vals.truncate(30);
        let shifts = [
            -70,
            -64,
            -40,
            -31,
            -1,
            0,
            1,
            2,
            30,
            31,
            32,
            33,
            61,
            62,
            63,
            64,
            65,
            100,
            126,
            127,
            200,
            i32::MAX,
            i32::MIN,
        ];
        for &a in &vals {
            for &b in &vals {
                for (ua, ub) in [
                    (0, 0),
                    (1, 0),
                    (0, 1),
                    (29, 0),
                    (31, 31),
                    (32, 0),
                    (0, 40),
                    (60, 3),
                    (17, 60),
                ] {
                    let (pa, pb) = ((a as i128) << ua, (b as i128) << ub);
                    for &k in &shifts {
                        let fit = |w: Option<i128>| {
                            w.and_then(|w| (w.unsigned_abs() < 1 << 63).then_some(w as i64))
                        };
                        let sum = |v: i128| {
                            fit(if k < -70 {
                                (v == 0).then_some(0)
                            } else {
                                shift_round_ref(v, k)
                            })
                        };
                        assert_eq!(
                            shift_round_aligned(a as i128, ua, b as i128, ub, k),
                            sum(pa + pb),
                            "{a}·2^{ua} + {b}·2^{ub}, {k}"
                        );
                        assert_eq!(
                            shift_round_aligned(a as i128, ua, -(b as i128), ub, k),
                            sum(pa - pb),
                            "{a}·2^{ua} - {b}·2^{ub}, {k}"
                        );
                        assert_eq!(
                            shift_round_extreme(a as i128, ua, b as i128, ub, k, true),
                            sum(pa.max(pb)),
                            "max {a} {ua} {b} {ub} {k}"
                        );
                        assert_eq!(
                            shift_round_extreme(a as i128, ua, b as i128, ub, k, false),
                            sum(pa.min(pb)),
                            "min"
                        );
                        assert_eq!(cmp_aligned(a as i128, ua, b as i128, ub), pa.cmp(&pb));
                    }
                }
            }
        }
        // alignments no machine integer holds, by hand
        assert_eq!(
            shift_round_aligned(1, 200, i64::MIN as i128, 0, 200),
            Some(1)
        );
        assert_eq!(
            shift_round_aligned(1, 200, i64::MAX as i128, 0, 200),
            Some(1)
        );
        assert_eq!(shift_round_aligned(-1, 100, 5, 0, 101), Some(0));
        assert_eq!(shift_round_aligned(-1, 100, 5, 0, 100), Some(-1));
        assert_eq!(shift_round_aligned(-1, 100, 5, 0, 99), Some(-2));
        assert_eq!(shift_round_aligned(3, 100, -7, 0, 98), Some(12)); // 3·4 + round(-7/2^98)
        assert_eq!(shift_round_aligned(3, 1000, 0, 0, 937), None); // 3·2^63
        assert_eq!(shift_round_aligned(3, 1000, 0, 0, 939), Some(3 << 61));
        assert_eq!(shift_round_aligned(3, 1000, 0, 5, 0), None);
        assert_eq!(shift_round_aligned(0, 1000, 9, 5, 0), Some(9 << 5));
        assert_eq!(shift_round_aligned(1, 64, i64::MIN as i128 + 1, 0, 0), None);
        assert_eq!(shift_round_extreme(-1, 300, 5, 0, 0, true), Some(5));
        assert_eq!(shift_round_extreme(-1, 300, 5, 0, 300, false), Some(-1));
        assert_eq!(
            cmp_aligned(1, 300, i64::MAX as i128, 0),
            std::cmp::Ordering::Greater
        );
        assert_eq!(cmp_aligned(-1, 0, 0, 300), std::cmp::Ordering::Less);
        assert_eq!(cmp_aligned(0, 0, 0, 300), std::cmp::Ordering::Equal);
    }

    #[test]
    fn poly_eval_is_the_i64_horner_on_compiled_polys_and_exact_beyond() {
        let p =
            PiecewisePoly::fit(|x| 1.0 / (1.0 + (-x).exp()), -8.0, 0, 16, 3, 10, 14, 4).unwrap();
        let old = |x: i64| {
            let xc = x.clamp(p.lo, p.hi());
            let off = xc - p.lo;
            let k = (off >> p.seg_bits) as usize;
            let z = off - ((k as i64) << p.seg_bits);
            let c = &p.coeffs[k];
            let mut acc = c[0];
            for &ci in &c[1..] {
                acc = shift_round(acc * z, p.in_scale) + ci;
            }
            shift_round(acc, p.coeff_scale - p.out_scale)
        };
        for x in extremes()
            .into_iter()
            .filter(|v| i32::try_from(*v).is_ok())
            .chain(-20000..20000)
        {
            assert_eq!(p.eval(x), old(x), "x={x}");
            assert_eq!(p.checked_eval(x), Some(old(x) as i128));
        }
        // a crafted polynomial whose Horner steps leave i64: exact in i128, or refused
        let big = PiecewisePoly {
            in_scale: 0,
            out_scale: 0,
            coeff_scale: 0,
            lo: 0,
            seg_bits: 40,
            coeffs: vec![vec![1 << 60, 0, 0]],
        };
        let z = (1i128 << 40) - 1;
        assert_eq!(big.checked_eval(i64::MAX), None); // 2^60 · z^2 ~ 2^140
        let small = PiecewisePoly {
            coeffs: vec![vec![1 << 20, 0, 0]],
            ..big.clone()
        };
        assert_eq!(small.checked_eval(i64::MAX), Some((1i128 << 20) * z * z));
        assert_eq!(
            small.eval(i64::MAX),
            i64::MAX,
            "beyond i64: no stored value"
        );
        let wide = PiecewisePoly {
            seg_bits: 200,
            ..small.clone()
        };
        assert_eq!(wide.hi(), i64::MAX);
        assert_eq!(wide.checked_eval(5), Some((1i128 << 20) * 25));
    }

    #[test]
    fn sigmoid_poly_is_accurate() {
        let p =
            PiecewisePoly::fit(|x| 1.0 / (1.0 + (-x).exp()), -8.0, 0, 16, 3, 10, 14, 4).unwrap();
        for i in -12000..12000 {
            let x = i as f64 / 1024.0;
            let y = p.eval(i) as f64 / 16384.0;
            let r = 1.0 / (1.0 + (-x).exp());
            assert!((y - r).abs() < 1.5e-3, "x={x} y={y} r={r}");
        }
    }
}
