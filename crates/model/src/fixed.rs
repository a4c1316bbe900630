//! The integer arithmetic every party (executor, circuits, this compiler) agrees on.
//! docs/fixed-point.md specifies each function; these are the reference implementations.

use serde::{Deserialize, Serialize};

/// Bounds of a stored value: `-2^31 <= v < 2^31` (docs/commitments.md).
pub const VALUE_BITS: u32 = 32;

/// `x · 2^-k` rounded half up (toward +inf) for `k > 0`; `x · 2^-k` exactly for `k <= 0`.
/// The one rounding rule of zkopml: `floor((x + 2^(k-1)) / 2^k)`.
#[inline]
pub fn shift_round(x: i64, k: i32) -> i64 {
    if k > 0 {
        (x + (1i64 << (k - 1))) >> k
    } else {
        x << (-k)
    }
}

/// `n / d` rounded half up, `floor((2n + d) / (2d))` for `d > 0`, and `div_round(-n, -d)` for
/// `d < 0`. None when `d == 0`.
#[inline]
pub fn div_round(n: i64, d: i64) -> Option<i64> {
    if d == 0 {
        return None;
    }
    let (n, d) = if d < 0 { (-(n as i128), -(d as i128)) } else { (n as i128, d as i128) };
    Some((2 * n + d).div_euclid(2 * d) as i64)
}

/// `floor(sqrt(x))` for `x >= 0`: the `y` with `y² <= x < (y+1)²`.
pub fn isqrt(x: i64) -> Option<i64> {
    if x < 0 {
        return None;
    }
    let mut y = (x as f64).sqrt() as i64;
    while y * y > x {
        y -= 1;
    }
    while (y + 1) * (y + 1) <= x {
        y += 1;
    }
    Some(y)
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
    pub fn hi(&self) -> i64 {
        self.lo + ((self.coeffs.len() as i64) << self.seg_bits) - 1
    }

    #[inline]
    pub fn eval(&self, x: i64) -> i64 {
        let xc = x.clamp(self.lo, self.hi());
        let off = xc - self.lo;
        let k = (off >> self.seg_bits) as usize;
        let z = off - ((k as i64) << self.seg_bits);
        let c = &self.coeffs[k];
        let mut acc = c[0];
        for &ci in &c[1..] {
            acc = shift_round(acc * z, self.in_scale) + ci;
        }
        shift_round(acc, self.coeff_scale - self.out_scale)
    }

    /// Fit `f` (a real function) on `[lo_real, lo_real + segments·width)` with `width = 2^seg_log2`
    /// real units, each segment by a least-squares polynomial of `degree` at Chebyshev nodes.
    pub fn fit(f: impl Fn(f64) -> f64, lo_real: f64, seg_log2: i32, segments: usize, degree: usize, in_scale: i32, out_scale: i32, guard: i32) -> Option<PiecewisePoly> {
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
            let ts: Vec<f64> = (0..m).map(|j| width * 0.5 * (1.0 - ((2 * j + 1) as f64 * std::f64::consts::PI / (2 * m) as f64).cos())).collect();
            let p = lstsq_poly(&ts, &ts.iter().map(|&t| f(a + t)).collect::<Vec<_>>(), degree)?;
            // p[d] is the coefficient of t^d; store highest degree first at coeff_scale
            coeffs.push(p.iter().rev().map(|&c| (c * 2f64.powi(coeff_scale)).round() as i64).collect());
        }
        Some(PiecewisePoly { in_scale, out_scale, coeff_scale, lo, seg_bits: seg_bits as u32, coeffs })
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
        for x in [0i64, 1, 2, 3, 4, 15, 16, 17, 1 << 40, (1 << 40) - 1, i32::MAX as i64] {
            let y = isqrt(x).unwrap();
            assert!(y * y <= x && (y + 1) * (y + 1) > x);
        }
        assert_eq!(isqrt(-1), None);
    }

    #[test]
    fn sigmoid_poly_is_accurate() {
        let p = PiecewisePoly::fit(|x| 1.0 / (1.0 + (-x).exp()), -8.0, 0, 16, 3, 10, 14, 4).unwrap();
        for i in -12000..12000 {
            let x = i as f64 / 1024.0;
            let y = p.eval(i) as f64 / 16384.0;
            let r = 1.0 / (1.0 + (-x).exp());
            assert!((y - r).abs() < 1.5e-3, "x={x} y={y} r={r}");
        }
    }
}
