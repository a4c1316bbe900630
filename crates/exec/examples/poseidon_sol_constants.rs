//! Generates `contracts/src/Poseidon5Fast.sol`, the on-chain Poseidon of docs/commitments.md
//! (circomlib's Poseidon with 5 inputs: width t = 6, x^5 S-box, 8 full + 60 partial rounds),
//! from light-poseidon's circom parameters (`bn254_x5`, those of `new_circom(5)`).
//!
//! ```text
//! cargo run -p zkopml-exec --example poseidon_sol_constants > contracts/src/Poseidon5Fast.sol
//! ```
//!
//! The permutation is rewritten into an equivalent form that is cheap on the EVM; every step is
//! an identity over the field, and the program checks the rewritten form against light-poseidon
//! and against `zkopml_exec::poseidon::poseidon5` before printing anything.
//!
//! 1. Round constants of the partial rounds are moved forward as in the Poseidon paper
//!    (appendix B, and `poseidon.rs`): writing the state as `x = x̄ + κ` with `κ` the response to
//!    the constants alone, each partial round keeps one constant `γ_r` (added to the S-box input)
//!    and the rest lands in the constants of the first full round after them.
//! 2. The linear part of the partial rounds is the same every round: `x̄' = M (z e_0 + P x̄)`,
//!    `z = (x̄_0 + γ_r)^5`, `P` dropping coordinate 0. Seen from the S-box it is a linear
//!    time-invariant system of order 5 (input `z`, output the next S-box input `h`), so it is
//!    realised in direct form II: `w_r = z_r + Σ a_i w_{r-i}`, `h_{r+1} = Σ b_i w_{r-i}`
//!    (`a_i`: the characteristic polynomial of `M[1..,1..]`; `b_i`: the impulse response times
//!    it). Its state (the last five `w`) is the passive part of the state in another basis `T`,
//!    applied once before the partial rounds (merged into the last full matrix) and once after.
//!    Scaling `h` by `λ` and `w` by `k λ^5` with `λ^4 = b_0 / k` (`x^5` is homogeneous; `k` = 1,
//!    2, 5 or 10 picks the class of `b_0` modulo fourth powers: 5 for circomlib's matrix) leaves
//!    both sums a unit coefficient on `Z = x^4 (k x)`. A partial round costs the S-box plus 10
//!    multiplications (the sparse matrices of the paper cost 11), and its 10 coefficients are
//!    the same in every round, so the rounds run as a loop and the code holds them once: the
//!    sparse form's 660 per-round constants would not fit the EIP-170 code size limit (24,576
//!    bytes) next to the full rounds.
//! 3. The first full round's state element 0 is the constant `c_{0,0}`: its S-box output is a
//!    constant, folded into the first matrix.
//!
//! The contract sums at most five reduced terms with `add` (5q < 2^256) and reduces with one
//! `addmod`; it writes a multiplier used more than twice as `c + k q` so that solc's constant
//! optimiser keeps every 32-byte literal a PUSH32 (see [`mm`]); `check_literals` holds the
//! output to that.

use ark_bn254::Fr;
use ark_ff::{BigInteger, Field, One, PrimeField, Zero};
use light_poseidon::{Poseidon, PoseidonHasher};

const T: usize = 6;
const FULL: usize = 8;
const PARTIAL: usize = 60;
const HALF: usize = FULL / 2;
/// Partial rounds unrolled in one pass of the loop (a multiple of the ring's 5).
const BODY: usize = 10;

type Mat = Vec<Vec<Fr>>;

fn mat_mul(a: &Mat, b: &Mat) -> Mat {
    let (n, m, k) = (a.len(), b[0].len(), b.len());
    (0..n)
        .map(|i| {
            (0..m)
                .map(|j| (0..k).map(|l| a[i][l] * b[l][j]).sum())
                .collect()
        })
        .collect()
}

fn mat_vec(a: &Mat, v: &[Fr]) -> Vec<Fr> {
    a.iter()
        .map(|row| row.iter().zip(v).map(|(x, y)| *x * y).sum())
        .collect()
}

fn row_mat(r: &[Fr], a: &Mat) -> Vec<Fr> {
    (0..a[0].len())
        .map(|j| r.iter().zip(a).map(|(x, row)| *x * row[j]).sum())
        .collect()
}

fn identity(n: usize) -> Mat {
    (0..n)
        .map(|i| {
            (0..n)
                .map(|j| if i == j { Fr::one() } else { Fr::zero() })
                .collect()
        })
        .collect()
}

fn mat_inv(a: &Mat) -> Mat {
    let n = a.len();
    let mut m: Mat = a
        .iter()
        .zip(identity(n))
        .map(|(r, e)| r.iter().copied().chain(e).collect())
        .collect();
    for col in 0..n {
        let piv = (col..n)
            .find(|&r| !m[r][col].is_zero())
            .expect("invertible");
        m.swap(col, piv);
        let inv = m[col][col].inverse().unwrap();
        m[col].iter_mut().for_each(|x| *x *= inv);
        let pivot = m[col].clone();
        for (r, row) in m.iter_mut().enumerate() {
            let f = row[col];
            if r != col && !f.is_zero() {
                row.iter_mut().zip(&pivot).for_each(|(x, p)| *x -= f * p);
            }
        }
    }
    m.into_iter().map(|r| r[n..].to_vec()).collect()
}

fn pow5(x: Fr) -> Fr {
    x.square().square() * x
}

/// A fourth root of `x`, if there is one.
fn fourth_root(x: Fr) -> Option<Fr> {
    let s = x.sqrt()?;
    s.sqrt().or_else(|| (-s).sqrt())
}

/// Everything the contract uses (see the module comment for the names).
struct Scheme {
    mds: Mat,
    /// Full-round constants as the contract adds them: rounds 0..4 are light-poseidon's, round 4
    /// (the first after the partial rounds) carries the constants moved out of the partial rounds.
    full_c: [[Fr; T]; FULL],
    /// The S-box output of state element 0 in round 0 (`c_{0,0}^5`).
    k0: Fr,
    /// The matrix after full round 3: `diag(λ, λ^5 T^-1) · M`; rows 1..6 give w_{-1} .. w_{-5}.
    pre: Mat,
    /// γ̂_r = λ γ_r for r = 0..60, and γ̂_60 = λ c'_{4,0} (what the loop adds after round 59).
    gamma: Vec<Fr>,
    /// The characteristic polynomial of M[1..,1..]: x^5 - Σ a_i x^{5-i}.
    a: [Fr; 5],
    /// h_{r+1} = Z_r + Σ_i ab[i-1] w_{r-i}, w_r = Z_r + Σ_i a[i-1] w_{r-i}, Z_r = x^4 (kz x).
    ab: [Fr; 5],
    /// b_0 / λ^4, a small integer (1, 2, 5 or 10).
    kz: u64,
    /// 1 / λ: the first state element after the partial rounds is h / λ.
    lambda_inv: Fr,
    /// `T / λ^5`: the passive state after the partial rounds from (w_59, .., w_55).
    post: Mat,
}

fn build() -> Scheme {
    let p = light_poseidon::parameters::bn254_x5::get_poseidon_parameters::<Fr>(T as u8)
        .expect("circom parameters for width 6");
    assert_eq!(
        (p.width, p.full_rounds, p.partial_rounds, p.alpha),
        (T, FULL, PARTIAL, 5)
    );
    let m: Mat = p.mds.clone();
    let c: Vec<Vec<Fr>> = p.ark.chunks(T).map(|r| r.to_vec()).collect();
    assert_eq!(c.len(), FULL + PARTIAL);

    // 1. constants: κ_0 = 0, κ_{r+1} = M P (κ_r + c_r); γ_r = κ_{r,0} + c_{r,0}
    let mut kappa = vec![Fr::zero(); T];
    let mut gamma_raw = Vec::with_capacity(PARTIAL);
    for cr in &c[HALF..HALF + PARTIAL] {
        let u: Vec<Fr> = kappa.iter().zip(cr).map(|(k, x)| *k + x).collect();
        gamma_raw.push(u[0]);
        let mut pu = u;
        pu[0] = Fr::zero();
        kappa = mat_vec(&m, &pu);
    }
    let mut full_c = [[Fr::zero(); T]; FULL];
    for r in 0..HALF {
        full_c[r] = c[r].clone().try_into().unwrap();
        full_c[HALF + r] = c[HALF + PARTIAL + r].clone().try_into().unwrap();
    }
    for i in 0..T {
        full_c[HALF][i] += kappa[i];
    }

    // 2. the partial rounds as a system on the passive coordinates p (1..6):
    //    h' = d z + H p, p' = F p + g z
    let f: Mat = m[1..].iter().map(|r| r[1..].to_vec()).collect();
    let g: Vec<Fr> = m[1..].iter().map(|r| r[0]).collect();
    let hrow: Vec<Fr> = m[0][1..].to_vec();
    let d = m[0][0];
    // characteristic polynomial from the Krylov basis K = [g, Fg, .., F^4 g] (invertible: the
    // system is controllable): F^5 g = Σ_i a_i F^{5-i} g
    let mut krylov = vec![g.clone()];
    for _ in 0..5 {
        let next = mat_vec(&f, krylov.last().unwrap());
        krylov.push(next);
    }
    let kmat: Mat = (0..5)
        .map(|i| (0..5).map(|j| krylov[j][i]).collect())
        .collect();
    let sol = mat_vec(&mat_inv(&kmat), &krylov[5]); // coefficients of g, Fg, .., F^4 g
    let a: Vec<Fr> = (1..=5).map(|i| sol[5 - i]).collect(); // a_i multiplies F^{5-i} g
                                                            // impulse response τ_0 = d, τ_k = H F^{k-1} g, and b = τ * (1, -a_1, .., -a_5) (degree 5)
    let tau: Vec<Fr> = std::iter::once(d)
        .chain((0..5).map(|k| hrow.iter().zip(&krylov[k]).map(|(x, y)| *x * y).sum()))
        .collect();
    let b: Vec<Fr> = (0..6)
        .map(|j| tau[j] - (1..=j).map(|i| a[i - 1] * tau[j - i]).sum::<Fr>())
        .collect();
    // direct form II as a state-space system on s = (w_{r-1}, .., w_{r-5}):
    //   s' = Fc s + e_1 z, h' = b_0 z + Hc s with Hc = b_0 a + b_{1..}
    let mut fc: Mat = vec![vec![Fr::zero(); 5]; 5];
    fc[0] = a.clone();
    for i in 1..5 {
        fc[i][i - 1] = Fr::one();
    }
    let hc: Vec<Fr> = (0..5).map(|i| b[0] * a[i] + b[i + 1]).collect();
    // the basis change p = T s: T = O^-1 Oc with the observability matrices
    let obs = |h: &Vec<Fr>, ff: &Mat| -> Mat {
        let mut rows = vec![h.clone()];
        for _ in 1..5 {
            let next = row_mat(rows.last().unwrap(), ff);
            rows.push(next);
        }
        rows
    };
    let tm = mat_mul(&mat_inv(&obs(&hrow, &f)), &obs(&hc, &fc));
    assert_eq!(mat_mul(&f, &tm), mat_mul(&tm, &fc), "F T = T Fc");
    assert_eq!(tm.iter().map(|r| r[0]).collect::<Vec<_>>(), g, "T e_1 = g");
    assert_eq!(row_mat(&hrow, &tm), hc, "H T = Hc");
    assert_eq!(b[0], d);

    // scaling: ĥ = λ h and ŵ = k λ^5 w. With ẑ = (ĥ + λγ)^5 = λ^5 z and Z = k ẑ:
    //   ŵ_r = Z + Σ a_i ŵ_{r-i},   ĥ_{r+1} = (b_0 / (k λ^4)) Z + Σ (b_0 a_i + b_i) / (k λ^4) ŵ_{r-i}
    // so λ^4 = b_0 / k gives both sums a unit coefficient on Z = x^4 (k x), k the first of
    // 1, 2, 5, 10 (one in each class modulo fourth powers) for which b_0 / k is a fourth power
    let (kz, lambda) = [1u64, 2, 5, 10]
        .iter()
        .find_map(|&k| fourth_root(b[0] * Fr::from(k).inverse().unwrap()).map(|l| (k, l)))
        .expect("every class modulo fourth powers has one of 1, 2, 5, 10");
    let k_l4 = Fr::from(kz) * lambda.pow([4u64]);
    assert_eq!(b[0], k_l4);
    let mu = Fr::from(kz) * lambda.pow([5u64]);
    let tinv = mat_inv(&tm);
    let mut pre: Mat = vec![m[0].iter().map(|x| *x * lambda).collect()];
    for row in mat_mul(&tinv, &m[1..].to_vec()) {
        pre.push(row.into_iter().map(|x| x * mu).collect());
    }
    let mut gamma: Vec<Fr> = gamma_raw.iter().map(|x| *x * lambda).collect();
    gamma.push(full_c[HALF][0] * lambda);
    let ab: [Fr; 5] = std::array::from_fn(|i| (b[0] * a[i] + b[i + 1]) * k_l4.inverse().unwrap());
    let muinv = mu.inverse().unwrap();
    let post: Mat = tm
        .iter()
        .map(|r| r.iter().map(|x| *x * muinv).collect())
        .collect();
    Scheme {
        mds: m.clone(),
        full_c,
        k0: pow5(c[0][0]),
        pre,
        gamma,
        a: a.try_into().unwrap(),
        ab,
        lambda_inv: lambda.inverse().unwrap(),
        post,
        kz,
    }
}

/// The contract's algorithm over the field, step for step.
fn permute(s: &Scheme, inputs: &[Fr; 5]) -> Fr {
    let sbox_all = |x: &mut [Fr; T]| x.iter_mut().for_each(|v| *v = pow5(*v));
    let matrix = |m: &Mat, x: &[Fr; T], k: &[Fr; T]| -> [Fr; T] {
        std::array::from_fn(|i| m[i].iter().zip(x).map(|(a, b)| *a * b).sum::<Fr>() + k[i])
    };
    // round 0: element 0 is the constant c00
    let mut x: [Fr; T] = std::array::from_fn(|i| {
        if i == 0 {
            Fr::zero()
        } else {
            inputs[i - 1] + s.full_c[0][i]
        }
    });
    sbox_all(&mut x);
    x[0] = s.k0;
    x = matrix(&s.mds, &x, &s.full_c[1]);
    for r in 1..HALF - 1 {
        sbox_all(&mut x);
        x = matrix(&s.mds, &x, &s.full_c[r + 1]);
    }
    sbox_all(&mut x);
    let mut k = [Fr::zero(); T];
    k[0] = s.gamma[0];
    x = matrix(&s.pre, &x, &k);
    x[1..].reverse(); // w_{-i} goes to x_{1 + (-i mod 5)}: w_{-1} to x5, .., w_{-5} to x1
                      // partial rounds: h = x[0], ring v_j = x[j + 1]; round r writes w_r to v_{r mod 5}
    for r in 0..PARTIAL {
        let z = pow5(x[0]) * Fr::from(s.kz);
        let w_slot = |i: usize| 1 + (r + 5 - i) % 5; // where w_{r-i} lives
        let hn = z + (1..=5).map(|i| s.ab[i - 1] * x[w_slot(i)]).sum::<Fr>() + s.gamma[r + 1];
        let wn = z + (1..=5).map(|i| s.a[i - 1] * x[w_slot(i)]).sum::<Fr>();
        x[0] = hn;
        x[1 + r % 5] = wn;
    }
    // back to the state: element 0 = h / λ, elements 1.. = (T / λ^5) (w_59, .., w_55) + c'
    let w: [Fr; 5] = std::array::from_fn(|j| x[1 + (PARTIAL + 4 - j) % 5]);
    x = std::array::from_fn(|i| match i {
        0 => x[0] * s.lambda_inv,
        _ => {
            s.post[i - 1]
                .iter()
                .zip(&w)
                .map(|(a, b)| *a * b)
                .sum::<Fr>()
                + s.full_c[HALF][i]
        }
    });
    for r in HALF..FULL - 1 {
        sbox_all(&mut x);
        x = matrix(&s.mds, &x, &s.full_c[r + 1]);
    }
    sbox_all(&mut x);
    s.mds[0].iter().zip(&x).map(|(a, b)| *a * b).sum()
}

fn hex(x: &Fr) -> String {
    let bytes = x.into_bigint().to_bytes_be();
    let s: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let t = s.trim_start_matches('0');
    format!("0x{}", if t.is_empty() { "0" } else { t })
}

/// Yul emitter (4 spaces an indentation level).
struct Out {
    s: String,
    ind: usize,
}

impl Out {
    fn line(&mut self, l: &str) {
        for _ in 0..self.ind {
            self.s.push_str("    ");
        }
        self.s.push_str(l);
        self.s.push('\n');
    }
    fn open(&mut self, l: &str) {
        self.line(l);
        self.ind += 1;
    }
    fn close(&mut self, l: &str) {
        self.ind -= 1;
        self.line(l);
    }
}

fn big_hex(b: &ark_ff::BigInt<4>) -> String {
    let s: String = b.to_bytes_be().iter().map(|x| format!("{x:02x}")).collect();
    let t = s.trim_start_matches('0');
    format!("0x{}", if t.is_empty() { "0" } else { t })
}

thread_local! {
    static USES: std::cell::RefCell<std::collections::HashMap<Fr, u64>> = Default::default();
}

/// `c · v mod q`. solc's constant optimiser (optimizer runs = 200) moves a 32-byte literal that
/// appears three times or more out to the data area and loads it with CODECOPY (about 20 gas more
/// a use); a multiplier is therefore written as `c + k q` (the same for `mulmod`, below 2^256
/// for k <= 4), each form at most twice.
fn mm(c: &Fr, v: &str) -> String {
    if c.is_one() {
        return v.to_string();
    }
    let k = USES.with(|u| {
        let mut u = u.borrow_mut();
        let n = u.entry(*c).or_insert(0);
        *n += 1;
        (*n - 1) / 2
    });
    assert!(k <= 4, "a multiplier used more than 10 times");
    let mut b = c.into_bigint();
    for _ in 0..k {
        assert!(!b.add_with_carry(&Fr::MODULUS), "c + k q < 2^256");
    }
    format!("mulmod({}, {v}, q)", big_hex(&b))
}

/// No 32-byte literal of the output appears more than twice (see [`mm`]).
fn check_literals(src: &str) {
    let mut count = std::collections::HashMap::<&str, usize>::new();
    for (i, _) in src.match_indices("0x") {
        let lit = &src[i..i
            + 2
            + src[i + 2..]
                .find(|ch: char| !ch.is_ascii_hexdigit())
                .unwrap_or(0)];
        if lit.len() > 2 + 8 && !src[..i].ends_with("hex\"") {
            *count.entry(lit).or_default() += 1;
        }
    }
    for (lit, n) in count {
        assert!(n <= 2, "{lit} appears {n} times");
    }
}

/// `Σ terms mod q` for reduced terms: two sums of at most 5 of them (5q < 2^256) with `add`,
/// joined and reduced by one `addmod`. `extra` is an already formed term (e.g. a memory load).
fn sum_mod(terms: &[String], extra: Option<String>) -> String {
    let mut all: Vec<String> = terms.to_vec();
    if let Some(e) = extra {
        all.push(e);
    }
    assert!(all.len() >= 2 && all.len() <= 10);
    // right-nested adds keep at most two partial results on the stack
    let nest = |xs: &[String]| -> String {
        let mut acc = xs.last().unwrap().clone();
        for x in xs[..xs.len() - 1].iter().rev() {
            acc = format!("add({x}, {acc})");
        }
        acc
    };
    let tail_len = (if all.len() >= 3 { 2 } else { 1 }).max(all.len().saturating_sub(5));
    let (head, tail) = all.split_at(all.len() - tail_len);
    assert!(head.len() <= 5 && tail.len() <= 5);
    format!("addmod({}, {}, q)", nest(head), nest(tail))
}

fn sbox(o: &mut Out, v: &str) {
    o.line(&format!(
        "{{ let s := mulmod({v}, {v}, q) {v} := mulmod(mulmod(s, s, q), {v}, q) }}"
    ));
}

/// x_i := Σ_j m[i][j] x_j + k_i for the rows `rows`, through fresh variables.
fn matrix(o: &mut Out, m: &Mat, k: &[Fr; T], skip0: Option<&Fr>) {
    o.open("{");
    for i in 0..T {
        let mut terms: Vec<String> = (0..T)
            .filter(|&j| !(m[i][j].is_zero() || j == 0 && skip0.is_some()))
            .map(|j| mm(&m[i][j], &format!("x{j}")))
            .collect();
        let mut konst = k[i];
        if let Some(k0) = skip0 {
            konst += m[i][0] * k0;
        }
        if !konst.is_zero() {
            terms.insert(terms.len() - 2, hex(&konst));
        }
        o.line(&format!("let n{i} := {}", sum_mod(&terms, None)));
    }
    o.line("x0 := n0 x1 := n1 x2 := n2 x3 := n3 x4 := n4 x5 := n5");
    o.close("}");
}

fn emit(s: &Scheme) -> String {
    let mut o = Out {
        s: String::new(),
        ind: 0,
    };
    let modulus = {
        let mut b = Fr::MODULUS.to_bytes_be();
        while b.first() == Some(&0) {
            b.remove(0);
        }
        format!(
            "0x{}",
            b.iter().map(|x| format!("{x:02x}")).collect::<String>()
        )
    };
    let gamma_hex: String = s.gamma[1..]
        .iter()
        .map(|g| format!("{:0>64}", hex(g).trim_start_matches("0x")))
        .collect();
    assert_eq!(gamma_hex.len(), 64 * PARTIAL);

    o.line("// SPDX-License-Identifier: MIT");
    o.line("pragma solidity 0.8.30;");
    o.line("");
    o.line("// GENERATED by crates/exec/examples/poseidon_sol_constants.rs -- do not edit:");
    o.line("//   cargo run -p zkopml-exec --example poseidon_sol_constants > contracts/src/Poseidon5Fast.sol");
    o.line("");
    o.line("import {IPoseidon5} from \"./interfaces/IPoseidon5.sol\";");
    o.line("");
    o.line("/// @title circomlib's Poseidon with 5 inputs (t = 6, x^5 S-box, 8 full + 60 partial rounds,");
    o.line(
        "/// circomlib's constants): the `Poseidon5` of docs/commitments.md, equal to circomlibjs'",
    );
    o.line("/// generated contract (src/vendor/Poseidon5.sol, the tests' reference) for about 29k gas a");
    o.line("/// call instead of 97k.");
    o.line("/// @dev The permutation in an equivalent form (docs/commitments.md \"On-chain Poseidon\"; the");
    o.line(
        "/// generator derives it and checks it against light-poseidon before printing this file):",
    );
    o.line("/// - full rounds as they are, the round constants added inside the matrix sums;");
    o.line("/// - the partial rounds' constants moved forward (Poseidon paper, appendix B): one a round,");
    o.line("///   `gammas`, the rest in the constants of the first full round after them;");
    o.line("/// - the partial rounds' linear part, the same every round, as a recurrence of order 5 (direct");
    o.line("///   form II of the system from S-box output to next S-box input) with constant coefficients,");
    o.line("///   the S-box input in x0 and the last five `w` in x1..x5 (a ring: w_r replaces w_{r-5}):");
    o.line(&format!("///     Z = x0^4 ({} x0);  x0 = Z + Σ_i AB_i w_{{r-i}} + γ_{{r+1}};  w_r = Z + Σ_i A_i w_{{r-i}}", s.kz));
    o.line("///   entered through the matrix of full round 3 and left through a 5x5 matrix. 10 products a");
    o.line("///   round (the paper's sparse matrices take 11, and their 660 distinct constants would not fit");
    o.line("///   the 24,576-byte code limit), and one loop body serves every round.");
    o.line("/// Sums of at most five reduced terms are formed with `add` (5q < 2^256) and reduced with one");
    o.line("/// `addmod`. A multiplier used more than twice is written as c + kq (k <= 4) so that solc's");
    o.line("/// constant optimiser (runs = 200) keeps it a PUSH32 rather than a CODECOPY from the data area.");
    o.line(
        "/// Inputs are taken modulo q (the first round adds its constants with addmod), as the",
    );
    o.line("/// circomlibjs contract does: words >= q hash as their residues, nothing reverts.");
    o.open("contract Poseidon5Fast is IPoseidon5 {");
    o.open(
        "function poseidon(uint256[5] calldata inputs) external pure override returns (uint256) {",
    );
    o.line("// γ_1 .. γ_59, then λ c'_{64,0}: what x0 gets after each partial round (scaled by λ)");
    o.line(&format!("bytes memory gammas = hex\"{gamma_hex}\";"));
    o.open("assembly (\"memory-safe\") {");
    o.line(&format!("let q := {modulus}"));
    o.line(
        "// full round 0: element 0 is the constant c00, its S-box output folded into the matrix",
    );
    o.line("let x0 := 0");
    for i in 1..T {
        o.line(&format!(
            "let x{i} := addmod(calldataload(add(inputs, {})), {}, q)",
            32 * (i - 1),
            hex(&s.full_c[0][i])
        ));
    }
    for i in 1..T {
        sbox(&mut o, &format!("x{i}"));
    }
    matrix(&mut o, &s.mds, &s.full_c[1], Some(&s.k0));
    for r in 1..HALF {
        o.line(&format!("// full round {r}"));
        for i in 0..T {
            sbox(&mut o, &format!("x{i}"));
        }
        if r + 1 < HALF {
            matrix(&mut o, &s.mds, &s.full_c[r + 1], None);
        } else {
            let mut k = [Fr::zero(); T];
            k[0] = s.gamma[0];
            o.line("// into the partial rounds' form: x0 = λ h + γ_0, x5 .. x1 = w_{-1} .. w_{-5}");
            let order = [0usize, 5, 4, 3, 2, 1]; // pre row i goes to x_order[i]
            let mut m2 = vec![vec![]; T];
            let mut k2 = [Fr::zero(); T];
            for i in 0..T {
                m2[order[i]] = s.pre[i].clone();
                k2[order[i]] = k[i];
            }
            matrix(&mut o, &m2, &k2, None);
        }
    }
    o.line(&format!("// {PARTIAL} partial rounds, {BODY} a pass"));
    o.open(&format!("for {{ let g := add(gammas, 0x20) }} lt(g, add(gammas, {:#x})) {{ g := add(g, {:#x}) }} {{", 32 + 32 * PARTIAL, 32 * BODY));
    for k in 0..BODY {
        // round r ≡ k (mod 5): w_{r-i} in x_{1 + (k - i) mod 5}, w_r replaces w_{r-5}
        let slot = |i: usize| format!("x{}", 1 + (k + 5 - i) % 5);
        let load = if k == 0 {
            "mload(g)".to_string()
        } else {
            format!("mload(add(g, {:#x}))", 32 * k)
        };
        o.open("{");
        o.line("let s := mulmod(x0, x0, q)");
        if s.kz == 1 {
            o.line("let z := mulmod(mulmod(s, s, q), x0, q)");
        } else {
            o.line(&format!(
                "let z := mulmod(mulmod(s, s, q), mul(x0, {}), q)",
                s.kz
            ));
        }
        let mut th: Vec<String> = vec!["z".into()];
        th.extend((1..=5).map(|i| mm(&s.ab[i - 1], &slot(i))));
        o.line(&format!("x0 := {}", sum_mod(&th, Some(load))));
        let mut tw: Vec<String> = vec!["z".into()];
        tw.extend((1..=5).map(|i| mm(&s.a[i - 1], &slot(i))));
        o.line(&format!("{} := {}", slot(5), sum_mod(&tw, None)));
        o.close("}");
    }
    o.close("}");
    o.line("// back to the state: x0 = h / λ, x1..x5 = (T / λ^5) (w_59 .. w_55) + c'_4");
    {
        // w_{59-j} lives in x_{1 + (59 - j) mod 5} = x_{5 - j}
        let wvar = |j: usize| format!("x{}", 5 - j);
        o.open("{");
        for i in 1..T {
            let mut terms: Vec<String> = (0..5).map(|j| mm(&s.post[i - 1][j], &wvar(j))).collect();
            terms.insert(3, hex(&s.full_c[HALF][i]));
            o.line(&format!("let n{i} := {}", sum_mod(&terms, None)));
        }
        o.line(&format!("x0 := mulmod(x0, {}, q)", hex(&s.lambda_inv)));
        o.line("x1 := n1 x2 := n2 x3 := n3 x4 := n4 x5 := n5");
        o.close("}");
    }
    for r in HALF..FULL {
        o.line(&format!("// full round {}", r + PARTIAL));
        for i in 0..T {
            sbox(&mut o, &format!("x{i}"));
        }
        if r + 1 < FULL {
            matrix(&mut o, &s.mds, &s.full_c[r + 1], None);
        } else {
            let terms: Vec<String> = (0..T).map(|j| mm(&s.mds[0][j], &format!("x{j}"))).collect();
            o.line(&format!("mstore(0, {})", sum_mod(&terms, None)));
            o.line("return(0, 0x20)");
        }
    }
    o.close("}");
    o.close("}");
    o.close("}");
    o.s
}

fn main() {
    let s = build();
    // the rewritten permutation is light-poseidon's and the engine's
    let mut reference = Poseidon::<Fr>::new_circom(5).unwrap();
    let mut seed = 0x5eedu64;
    for i in 0..200 {
        let inp: [Fr; 5] = std::array::from_fn(|j| {
            if i == 0 {
                Fr::from(j as u64 + 1)
            } else {
                random_fr(&mut seed)
            }
        });
        let want = reference.hash(&inp).unwrap();
        assert_eq!(permute(&s, &inp), want, "{inp:?}");
        assert_eq!(zkopml_exec::poseidon::poseidon5(&inp), want);
    }
    let src = emit(&s);
    check_literals(&src);
    print!("{src}");
}

/// A uniform-ish field element from splitmix64 (deterministic).
fn random_fr(state: &mut u64) -> Fr {
    let mut bytes = [0u8; 32];
    for chunk in bytes.chunks_mut(8) {
        *state = state.wrapping_add(0x9e3779b97f4a7c15);
        let mut z = *state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d049bb133111eb);
        chunk.copy_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    Fr::from_le_bytes_mod_order(&bytes)
}
