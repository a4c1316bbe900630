//! A circuit's constraint system as circom's `.r1cs` (format version 1), and an assignment as
//! a `.wtns` (version 2), so that snarkjs can set up (`zkey new`), contribute to and check
//! our circuits.
//!
//! Wire `k` of the file is variable `k` of the arkworks assignment `z = (1, instance,
//! witness)`: wire 0 is the constant 1, wires `1..=n_public` are the public inputs in the
//! order the verifier takes them (declared as circom "public inputs", with no outputs and no
//! private inputs), then the witness variables. Each row is canonical: sorted by wire,
//! duplicates merged, zero coefficients dropped.

use ark_bn254::Fr;
use ark_ff::Zero;
use ark_relations::gr1cs::{
    ConstraintSynthesizer, ConstraintSystem, OptimizationGoal, SynthesisMode, R1CS_PREDICATE_LABEL,
};
use zkopml_zk::{groth16::CircuitInfo, ZkError};

use crate::binfile::{write_bin, Cursor};
use crate::encoding::{fr_from_le, fr_to_le, r_le};
use crate::error::{format, CeremonyError};

/// One linear combination: `(wire, coefficient)`, sorted by wire.
pub type Lc = Vec<(u32, Fr)>;

/// A rank-1 constraint system with circom's wire numbering.
#[derive(Clone, Debug, PartialEq)]
pub struct R1cs {
    /// Public inputs (wires `1..=n_public`).
    pub n_public: usize,
    /// All wires, including the constant 1.
    pub n_wires: usize,
    /// The constraints `A·z * B·z = C·z`.
    pub constraints: Vec<[Lc; 3]>,
}

fn canonical(row: &[(Fr, usize)]) -> Lc {
    let mut v: Vec<(u32, Fr)> = row.iter().map(|(c, i)| (*i as u32, *c)).collect();
    v.sort_by_key(|t| t.0);
    let mut out: Lc = Vec::with_capacity(v.len());
    for (i, c) in v {
        match out.last_mut() {
            Some((j, d)) if *j == i => *d += c,
            _ => out.push((i, c)),
        }
    }
    out.retain(|(_, c)| !c.is_zero());
    out
}

/// Synthesizes `circuit` the way `zkopml_zk::groth16` does (constraints-optimized,
/// finalized) and returns its constraint system and, if it was given one, the full
/// assignment `z`.
pub fn synthesize<C: ConstraintSynthesizer<Fr>>(
    circuit: C,
    with_witness: bool,
) -> Result<(R1cs, Option<Vec<Fr>>), CeremonyError> {
    let cs = ConstraintSystem::<Fr>::new_ref();
    cs.set_optimization_goal(OptimizationGoal::Constraints);
    cs.set_mode(if with_witness {
        SynthesisMode::Prove {
            construct_matrices: true,
            generate_lc_assignments: false,
        }
    } else {
        SynthesisMode::Setup
    });
    circuit
        .generate_constraints(cs.clone())
        .map_err(ZkError::from)?;
    cs.finalize();
    let mut all = cs.to_matrices().map_err(ZkError::from)?;
    let abc = all
        .remove(R1CS_PREDICATE_LABEL)
        .ok_or_else(|| ZkError::Encoding("the circuit has no R1CS constraints".into()))?;
    if !all.values().all(|m| m.iter().all(|m| m.is_empty())) {
        return Err(
            ZkError::Encoding("the circuit uses constraints other than R1CS".into()).into(),
        );
    }
    let n_instance = cs.num_instance_variables();
    let n_wires = n_instance + cs.num_witness_variables();
    if n_wires > u32::MAX as usize || abc[0].len() > u32::MAX as usize {
        return Err(
            ZkError::Encoding("the circuit is too large for the .r1cs format".into()).into(),
        );
    }
    let constraints = (0..abc[0].len())
        .map(|k| {
            [
                canonical(&abc[0][k]),
                canonical(&abc[1][k]),
                canonical(&abc[2][k]),
            ]
        })
        .collect();
    let z = if with_witness {
        let inner = cs.borrow().expect("a constraint system");
        Some(
            inner
                .assignments
                .instance_assignment
                .iter()
                .chain(&inner.assignments.witness_assignment)
                .copied()
                .collect(),
        )
    } else {
        None
    };
    Ok((
        R1cs {
            n_public: n_instance - 1,
            n_wires,
            constraints,
        },
        z,
    ))
}

impl R1cs {
    /// Constraints.
    pub fn num_constraints(&self) -> usize {
        self.constraints.len()
    }

    /// log2 of the evaluation domain: the least `k` with `2^k >= constraints + public + 1`
    /// (one extra row per instance variable, as snarkjs and arkworks add).
    pub fn domain_power(&self) -> u32 {
        let rows = self.num_constraints() + self.n_public + 1;
        rows.next_power_of_two().trailing_zeros()
    }

    /// Whether this is the constraint system `info` identifies (same shape; the id itself is
    /// a hash of arkworks' matrices, checked by `zkopml_zk::groth16::prove`).
    pub fn matches(&self, info: &CircuitInfo) -> bool {
        info.num_constraints == self.num_constraints()
            && info.num_instance_variables == self.n_public + 1
            && info.num_instance_variables + info.num_witness_variables == self.n_wires
    }

    /// The first constraint `z` does not satisfy.
    pub fn first_unsatisfied(&self, z: &[Fr]) -> Option<usize> {
        let eval = |lc: &Lc| lc.iter().map(|(i, c)| *c * z[*i as usize]).sum::<Fr>();
        self.constraints
            .iter()
            .position(|[a, b, c]| eval(a) * eval(b) != eval(c))
    }

    /// The `.r1cs` file (version 1: header, constraints, wire-to-label map).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut header = Vec::with_capacity(64);
        header.extend_from_slice(&32u32.to_le_bytes());
        header.extend_from_slice(&r_le());
        header.extend_from_slice(&(self.n_wires as u32).to_le_bytes());
        header.extend_from_slice(&0u32.to_le_bytes()); // outputs
        header.extend_from_slice(&(self.n_public as u32).to_le_bytes()); // public inputs
        header.extend_from_slice(&0u32.to_le_bytes()); // private inputs
        header.extend_from_slice(&(self.n_wires as u64).to_le_bytes()); // labels
        header.extend_from_slice(&(self.constraints.len() as u32).to_le_bytes());
        let mut body = Vec::new();
        for abc in &self.constraints {
            for lc in abc {
                body.extend_from_slice(&(lc.len() as u32).to_le_bytes());
                for (i, c) in lc {
                    body.extend_from_slice(&i.to_le_bytes());
                    body.extend_from_slice(&fr_to_le(c));
                }
            }
        }
        let map: Vec<u8> = (0..self.n_wires as u64)
            .flat_map(|k| k.to_le_bytes())
            .collect();
        write_bin(b"r1cs", 1, &[(1, &header), (2, &body), (3, &map)])
    }

    /// Reads a `.r1cs` file over BN254's scalar field (circom's or ours).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CeremonyError> {
        let sections = crate::binfile::parse_all(bytes, "r1cs")?;
        let get = |id: u32| {
            sections
                .iter()
                .find(|s| s.0 == id)
                .map(|s| s.1)
                .ok_or_else(|| format("r1cs", format!("section {id} is missing")))
        };
        let mut h = Cursor::new(get(1)?, "r1cs");
        if h.u32()? != 32 || h.take(32)? != r_le() {
            return Err(format("r1cs", "not over BN254's scalar field"));
        }
        let n_wires = h.u32()? as usize;
        let outputs = h.u32()? as usize;
        let pub_inputs = h.u32()? as usize;
        let _prv_inputs = h.u32()?;
        let _labels = h.u64()?;
        let m = h.u32()? as usize;
        let mut c = Cursor::new(get(2)?, "r1cs");
        let mut constraints = Vec::with_capacity(m);
        for _ in 0..m {
            let lc = |c: &mut Cursor| -> Result<Lc, CeremonyError> {
                let n = c.u32()? as usize;
                let mut v = Vec::with_capacity(n.min(1 << 20));
                for _ in 0..n {
                    let i = c.u32()?;
                    if i as usize >= n_wires {
                        return Err(format("r1cs", format!("wire {i} of {n_wires}")));
                    }
                    v.push((i, fr_from_le(c.take(32)?, "r1cs")?));
                }
                Ok(v)
            };
            constraints.push([lc(&mut c)?, lc(&mut c)?, lc(&mut c)?]);
        }
        if c.remaining() != 0 {
            return Err(format("r1cs", "trailing bytes after the constraints"));
        }
        Ok(Self {
            n_public: outputs + pub_inputs,
            n_wires,
            constraints,
        })
    }
}

/// A `.wtns` file (version 2) holding the full assignment `z` (wire 0 = 1).
pub fn wtns_bytes(z: &[Fr]) -> Vec<u8> {
    let mut header = Vec::with_capacity(40);
    header.extend_from_slice(&32u32.to_le_bytes());
    header.extend_from_slice(&r_le());
    header.extend_from_slice(&(z.len() as u32).to_le_bytes());
    let body: Vec<u8> = z.iter().flat_map(fr_to_le).collect();
    write_bin(b"wtns", 2, &[(1, &header), (2, &body)])
}

/// Reads a `.wtns` file.
pub fn wtns_from_bytes(bytes: &[u8]) -> Result<Vec<Fr>, CeremonyError> {
    let sections = crate::binfile::parse_all(bytes, "wtns")?;
    let get = |id: u32| {
        sections
            .iter()
            .find(|s| s.0 == id)
            .map(|s| s.1)
            .ok_or_else(|| format("wtns", format!("section {id} is missing")))
    };
    let mut h = Cursor::new(get(1)?, "wtns");
    if h.u32()? != 32 || h.take(32)? != r_le() {
        return Err(format("wtns", "not over BN254's scalar field"));
    }
    let n = h.u32()? as usize;
    let body = get(2)?;
    if body.len() != 32 * n {
        return Err(format(
            "wtns",
            "the witness section does not hold the declared values",
        ));
    }
    body.chunks(32).map(|c| fr_from_le(c, "wtns")).collect()
}
