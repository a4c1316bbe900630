//! The structure key of a chunk circuit: keccak over an injective encoding of everything its
//! synthesis reads (`docs/zk.md`, "One circuit for many chunks").
//!
//! Two (op, chunk)s share one circuit, one setup and one verifying key exactly when their keys
//! are equal, so the encoding must be injective: equal keys must mean equal synthesis inputs.
//! (Version 1 was not: Gemm and Conv wrote an output as `bias, (weight, position)*, -1` with
//! no tap count, and `-1` is also a legal weight, so planted weights could give two chunks that
//! compute different functions one key; `tests/circuit_sharing.rs`.)
//!
//! The encoding is type-directed, with no sentinel values:
//! - the domain tag [`STRUCTURE_DOMAIN`] (length-prefixed), then the circuit kind as a one-byte
//!   tag and its name (length-prefixed);
//! - integers in fixed width, big-endian: `u32`/`i32` 4 bytes, `u64`/`i64`/`usize` 8 bytes
//!   (two's complement for signed), `bool` one byte (0 or 1);
//! - every sequence as its length (`u64`) and then its elements;
//! - a struct as its fields in declaration order (each impl destructures the struct without
//!   `..`, so a new field does not compile until it is encoded);
//! - an enum as a one-byte variant tag, then that variant's fields.
//!
//! Every element's encoding is therefore prefix-free for its type, and so is their
//! concatenation: the bytes determine the value. Gemm and Conv encode the *resolved* form that
//! their synthesis consumes ([`crate::circuits::linear::Linear`]), not their whole struct
//! (which holds the operator's whole weight tensor and the chunk's absolute position).

use tiny_keccak::{Hasher, Keccak};
use zkopml_model::fixed::PiecewisePoly;

use crate::circuits::{
    elementwise::{Binary, BinaryKind, CommittedAffine, CommittedBinary, Unary, UnaryKind},
    gather::DynGather,
    lane::{LaneKind, Lanes},
    matmul::MatMul,
    movement::{Movement, Source},
    packed_gemm::CommittedGemm,
    pointwise::{Arg, Cmp, PointKind, Pointwise},
    reduce::{Reduce, ReduceKind},
    relu::Relu,
};

/// Domain tag of the structure key (version 2: injective, length-prefixed).
pub const STRUCTURE_DOMAIN: &[u8] = b"zkopml.circuit-structure.v2";

/// The version in [`STRUCTURE_DOMAIN`], recorded in `circuits.json`.
pub const STRUCTURE_VERSION: u32 = 2;

/// A streaming encoder into keccak256.
pub struct Enc {
    h: Keccak,
}

impl Enc {
    /// An encoder that starts with `domain` (length-prefixed).
    pub fn new(domain: &[u8]) -> Self {
        let mut e = Enc { h: Keccak::v256() };
        e.bytes(domain);
        e
    }

    /// A length-prefixed byte string.
    pub fn bytes(&mut self, b: &[u8]) {
        self.len(b.len());
        self.h.update(b);
    }

    /// One byte (a tag).
    pub fn tag(&mut self, t: u8) {
        self.h.update(&[t]);
    }

    /// A sequence length.
    pub fn len(&mut self, n: usize) {
        self.u64(n as u64);
    }

    /// 8 bytes, big-endian.
    pub fn u64(&mut self, v: u64) {
        self.h.update(&v.to_be_bytes());
    }

    /// 8 bytes, big-endian two's complement.
    pub fn i64(&mut self, v: i64) {
        self.h.update(&v.to_be_bytes());
    }

    /// 4 bytes, big-endian.
    pub fn u32(&mut self, v: u32) {
        self.h.update(&v.to_be_bytes());
    }

    /// 4 bytes, big-endian two's complement.
    pub fn i32(&mut self, v: i32) {
        self.h.update(&v.to_be_bytes());
    }

    /// The keccak256 of everything encoded.
    pub fn finish(self) -> [u8; 32] {
        let mut out = [0u8; 32];
        self.h.finalize(&mut out);
        out
    }
}

/// A value with an injective, type-directed encoding (see the module documentation).
pub trait Canon {
    /// Appends the encoding of `self`.
    fn canon(&self, e: &mut Enc);
}

impl Canon for u32 {
    fn canon(&self, e: &mut Enc) {
        e.u32(*self)
    }
}
impl Canon for i32 {
    fn canon(&self, e: &mut Enc) {
        e.i32(*self)
    }
}
impl Canon for u64 {
    fn canon(&self, e: &mut Enc) {
        e.u64(*self)
    }
}
impl Canon for i64 {
    fn canon(&self, e: &mut Enc) {
        e.i64(*self)
    }
}
impl Canon for usize {
    fn canon(&self, e: &mut Enc) {
        e.u64(*self as u64)
    }
}
impl Canon for bool {
    fn canon(&self, e: &mut Enc) {
        e.tag(*self as u8)
    }
}
impl<T: Canon> Canon for [T] {
    fn canon(&self, e: &mut Enc) {
        e.len(self.len());
        self.iter().for_each(|x| x.canon(e));
    }
}
impl<T: Canon> Canon for Vec<T> {
    fn canon(&self, e: &mut Enc) {
        self.as_slice().canon(e)
    }
}
impl<A: Canon, B: Canon> Canon for (A, B) {
    fn canon(&self, e: &mut Enc) {
        self.0.canon(e);
        self.1.canon(e);
    }
}

impl Canon for BinaryKind {
    fn canon(&self, e: &mut Enc) {
        e.tag(match self {
            BinaryKind::Add => 0,
            BinaryKind::Sub => 1,
            BinaryKind::Max => 2,
            BinaryKind::Min => 3,
            BinaryKind::Mul => 4,
        })
    }
}

impl Canon for Binary {
    fn canon(&self, e: &mut Enc) {
        let Binary {
            kind,
            ua,
            ub,
            shift,
            x_lens,
            a_index,
            b_index,
        } = self;
        kind.canon(e);
        ua.canon(e);
        ub.canon(e);
        shift.canon(e);
        x_lens.canon(e);
        a_index.canon(e);
        b_index.canon(e);
    }
}

impl Canon for UnaryKind {
    fn canon(&self, e: &mut Enc) {
        match self {
            UnaryKind::ShiftRound { shift } => {
                e.tag(0);
                shift.canon(e);
            }
            UnaryKind::Neg => e.tag(1),
            UnaryKind::Abs => e.tag(2),
            UnaryKind::Clip { lo, hi } => {
                e.tag(3);
                lo.canon(e);
                hi.canon(e);
            }
            UnaryKind::LeakyRelu { alpha, alpha_shift } => {
                e.tag(4);
                alpha.canon(e);
                alpha_shift.canon(e);
            }
            UnaryKind::Affine { mul, add, shift } => {
                e.tag(5);
                mul.canon(e);
                add.canon(e);
                shift.canon(e);
            }
        }
    }
}

impl Canon for Unary {
    fn canon(&self, e: &mut Enc) {
        let Unary {
            kind,
            x_lens,
            x_index,
        } = self;
        kind.canon(e);
        x_lens.canon(e);
        x_index.canon(e);
    }
}

impl Canon for Relu {
    fn canon(&self, e: &mut Enc) {
        let Relu { len } = self;
        len.canon(e);
    }
}

impl Canon for Source {
    fn canon(&self, e: &mut Enc) {
        match self {
            Source::Input { pos, shift } => {
                e.tag(0);
                pos.canon(e);
                shift.canon(e);
            }
            Source::Const(c) => {
                e.tag(1);
                c.canon(e);
            }
        }
    }
}

impl Canon for Movement {
    fn canon(&self, e: &mut Enc) {
        let Movement { x_lens, sources } = self;
        x_lens.canon(e);
        sources.canon(e);
    }
}

impl Canon for ReduceKind {
    fn canon(&self, e: &mut Enc) {
        e.tag(match self {
            ReduceKind::Sum => 0,
            ReduceKind::Mean => 1,
            ReduceKind::Max => 2,
            ReduceKind::Min => 3,
        })
    }
}

impl Canon for Reduce {
    fn canon(&self, e: &mut Enc) {
        let Reduce {
            kind,
            x_lens,
            windows,
            divisors,
        } = self;
        kind.canon(e);
        x_lens.canon(e);
        windows.canon(e);
        divisors.canon(e);
    }
}

impl Canon for Arg {
    fn canon(&self, e: &mut Enc) {
        match self {
            Arg::Input(p) => {
                e.tag(0);
                p.canon(e);
            }
            Arg::Const(c) => {
                e.tag(1);
                c.canon(e);
            }
        }
    }
}

impl Canon for Cmp {
    fn canon(&self, e: &mut Enc) {
        e.tag(match self {
            Cmp::Less => 0,
            Cmp::Greater => 1,
            Cmp::Equal => 2,
        })
    }
}

impl Canon for PiecewisePoly {
    fn canon(&self, e: &mut Enc) {
        let PiecewisePoly {
            in_scale,
            out_scale,
            coeff_scale,
            lo,
            seg_bits,
            coeffs,
        } = self;
        in_scale.canon(e);
        out_scale.canon(e);
        coeff_scale.canon(e);
        lo.canon(e);
        seg_bits.canon(e);
        coeffs.canon(e);
    }
}

impl Canon for PointKind {
    fn canon(&self, e: &mut Enc) {
        match self {
            PointKind::Compare { cmp, ua, ub } => {
                e.tag(0);
                cmp.canon(e);
                ua.canon(e);
                ub.canon(e);
            }
            PointKind::MaxMin { max, ua, ub, shift } => {
                e.tag(1);
                max.canon(e);
                ua.canon(e);
                ub.canon(e);
                shift.canon(e);
            }
            PointKind::Div { up } => {
                e.tag(2);
                up.canon(e);
            }
            PointKind::Where { sa, sb } => {
                e.tag(3);
                sa.canon(e);
                sb.canon(e);
            }
            PointKind::CastInt { shift } => {
                e.tag(4);
                shift.canon(e);
            }
            PointKind::CastBool => e.tag(5),
            PointKind::Not => e.tag(6),
            PointKind::Reciprocal { num_bits } => {
                e.tag(7);
                num_bits.canon(e);
            }
            PointKind::Sqrt { up } => {
                e.tag(8);
                up.canon(e);
            }
            PointKind::Poly(p) => {
                e.tag(9);
                p.canon(e);
            }
        }
    }
}

impl Canon for Pointwise {
    fn canon(&self, e: &mut Enc) {
        let Pointwise { kind, x_lens, args } = self;
        kind.canon(e);
        x_lens.canon(e);
        args.canon(e);
    }
}

impl Canon for DynGather {
    fn canon(&self, e: &mut Enc) {
        let DynGather {
            x_lens,
            lanes,
            outputs,
        } = self;
        x_lens.canon(e);
        lanes.canon(e);
        outputs.canon(e);
    }
}

impl Canon for LaneKind {
    fn canon(&self, e: &mut Enc) {
        match self {
            LaneKind::ArgMax { select_last } => {
                e.tag(0);
                select_last.canon(e);
            }
            LaneKind::Softmax { exp, out_scale } => {
                e.tag(1);
                exp.canon(e);
                out_scale.canon(e);
            }
        }
    }
}

impl Canon for Lanes {
    fn canon(&self, e: &mut Enc) {
        let Lanes {
            kind,
            x_lens,
            lanes,
            outputs,
        } = self;
        kind.canon(e);
        x_lens.canon(e);
        lanes.canon(e);
        outputs.canon(e);
    }
}

impl Canon for MatMul {
    fn canon(&self, e: &mut Enc) {
        let MatMul {
            x_lens,
            shift,
            terms,
        } = self;
        x_lens.canon(e);
        shift.canon(e);
        terms.canon(e);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key<T: Canon + ?Sized>(v: &T) -> [u8; 32] {
        let mut e = Enc::new(b"test");
        v.canon(&mut e);
        e.finish()
    }

    #[test]
    fn sequences_are_length_prefixed() {
        // [[1, 2], [3]] vs [[1], [2, 3]]: the same flat values, other boundaries
        let a: Vec<Vec<i64>> = vec![vec![1, 2], vec![3]];
        let b: Vec<Vec<i64>> = vec![vec![1], vec![2, 3]];
        assert_ne!(key(&a), key(&b));
        // an empty list against a list of one zero, and -1 against a sentinel reading
        assert_ne!(key(&Vec::<i64>::new()), key(&vec![0i64]));
        let c: Vec<(i64, Vec<i64>)> = vec![(7, vec![-1, 3]), (0, vec![])];
        let d: Vec<(i64, Vec<i64>)> = vec![(7, vec![]), (-1, vec![3, 0])];
        assert_ne!(key(&c), key(&d));
    }

    #[test]
    fn enum_variants_are_tagged() {
        assert_ne!(key(&Arg::Input(5)), key(&Arg::Const(5)));
        assert_ne!(
            key(&Source::Input { pos: 0, shift: 0 }),
            key(&Source::Const(0))
        );
        assert_ne!(key(&PointKind::CastBool), key(&PointKind::Not),);
    }
}

/// Only the shape, and of it what the synthesis reads (positions relative to the chunk): a
/// committed Gemm's weights are a witness, so layers of the same shape share one circuit.
impl Canon for CommittedGemm {
    fn canon(&self, e: &mut Enc) {
        // the block's layout: 2 since it starts with the shift multiplier (digits of 2^80), so
        // a set made with the layout before does not match (baked keys keep their keys)
        e.tag(2);
        let s = &self.shape;
        s.x_lens.canon(e);
        s.k.canon(e);
        s.shift.canon(e);
        s.c_len.canon(e);
        let spans: Vec<((usize, usize), usize)> = s
            .relative_row_spans()
            .into_iter()
            .map(|(row, from, to)| ((row, from), to))
            .collect();
        spans.canon(e);
    }
}

/// Which constant each output reads and the shift class, not the constants: a committed
/// affine map's constants are a witness.
impl Canon for CommittedAffine {
    fn canon(&self, e: &mut Enc) {
        let CommittedAffine {
            x_lens,
            x_index,
            constant,
            mul,
            add: _,         // a witness, as many as `mul`
            layer_shift: _, // a witness too: only its class below
        } = self;
        x_lens.canon(e);
        x_index.canon(e);
        constant.canon(e);
        mul.len().canon(e);
        self.shift().canon(e);
    }
}

/// The layout, the shift class and whether it multiplies, not the layer's shifts: a committed
/// binary op's multipliers are a witness.
impl Canon for CommittedBinary {
    fn canon(&self, e: &mut Enc) {
        let Binary {
            kind: _, // only whether it multiplies (Add and Sub share the circuit)
            ua: _,   // alignment and shift are the block's multipliers
            ub: _,
            shift: _, // only its class below
            x_lens,
            a_index,
            b_index,
        } = &self.0;
        self.product().canon(e);
        x_lens.canon(e);
        a_index.canon(e);
        b_index.canon(e);
        self.shift().canon(e);
    }
}
