//! Groth16 over BN254: circuit identity, setup, prove, verify, and key files.
//!
//! Every function synthesizes circuits the way `ark-groth16` does (optimization goal
//! "constraints", symbolic linear combinations inlined by `finalize`), so the matrices the
//! identity hashes are the matrices the keys are made for.

use crate::qap::CircomReduction;
use crate::{native::fr_to_be_bytes, Curve, Fr, ZkError};
use ark_ff::Zero;
use ark_groth16::r1cs_to_qap::LibsnarkReduction;
use ark_groth16::{prepare_verifying_key, Groth16, Proof, ProvingKey, VerifyingKey};
use ark_relations::gr1cs::{
    ConstraintSynthesizer, ConstraintSystem, ConstraintSystemRef, Matrix, OptimizationGoal,
    SynthesisMode, R1CS_PREDICATE_LABEL,
};
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize};
use ark_std::{rand::RngCore, UniformRand};
use rand_chacha::ChaCha20Rng;
use rand_core::{CryptoRng, SeedableRng};
use std::path::Path;
use tiny_keccak::{Hasher, Keccak};

/// Domain separator of the circuit identity hash (bump on any change of the encoding).
const CIRCUIT_ID_DOMAIN: &[u8] = b"zkopml.circuit-id.v1";
/// Magic prefix of a key file (keys in the [`QapForm::Libsnark`] form).
const KEYS_MAGIC: &[u8] = b"zkopml.groth16-keys.v1\n";
/// Magic prefix of a key file whose keys are in the [`QapForm::Circom`] form (from a
/// Powers-of-Tau ceremony).
const KEYS_MAGIC_CIRCOM: &[u8] = b"zkopml.groth16-keys.circom.v1\n";

/// How a proving key's H-query was made, which decides how the prover computes its H-term.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum QapForm {
    /// arkworks' own setup: `h_query[i] = τ^i·Z(τ)/δ` ([`LibsnarkReduction`]).
    #[default]
    Libsnark,
    /// A snarkjs/ceremony key: `H[i] = L_{2n,2i+1}(τ)/δ` ([`CircomReduction`]).
    Circom,
}

/// Keccak-256 (as the EVM computes it).
pub fn keccak256(bytes: &[u8]) -> [u8; 32] {
    let mut k = Keccak::v256();
    k.update(bytes);
    let mut out = [0u8; 32];
    k.finalize(&mut out);
    out
}

/// `0x`-prefixed lower-case hex.
pub fn to_hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(2 + 2 * bytes.len());
    s.push_str("0x");
    for b in bytes {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// What identifies a circuit: a hash of its constraint matrices and its shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CircuitInfo {
    /// `keccak` of the canonical encoding of `(A, B, C)` and the variable counts (see
    /// `docs/zk.md`, "Circuit identity").
    pub id: [u8; 32],
    /// R1CS constraints (rows of A, B, C).
    pub num_constraints: usize,
    /// Instance variables, including the constant `1` (so public inputs + 1).
    pub num_instance_variables: usize,
    /// Witness variables.
    pub num_witness_variables: usize,
}

impl CircuitInfo {
    /// Public inputs of a proof (instance variables without the constant 1).
    pub fn num_public_inputs(&self) -> usize {
        self.num_instance_variables - 1
    }

    /// The id as `0x…` hex.
    pub fn id_hex(&self) -> String {
        to_hex(&self.id)
    }

    fn from_matrices(cs: &ConstraintSystemRef<Fr>, abc: &[Matrix<Fr>]) -> Self {
        let num_instance_variables = cs.num_instance_variables();
        let num_witness_variables = cs.num_witness_variables();
        let num_constraints = cs.num_constraints();
        let mut h = Keccak::v256();
        h.update(CIRCUIT_ID_DOMAIN);
        for n in [
            num_instance_variables,
            num_witness_variables,
            num_constraints,
        ] {
            h.update(&(n as u64).to_be_bytes());
        }
        let mut row_buf: Vec<(usize, Fr)> = Vec::new();
        for matrix in abc {
            assert_eq!(matrix.len(), num_constraints, "one row per constraint");
            for row in matrix {
                // Canonical row: sorted by column, duplicates merged, zeros dropped.
                row_buf.clear();
                row_buf.extend(row.iter().map(|(c, i)| (*i, *c)));
                row_buf.sort_by_key(|(i, _)| *i);
                let mut canon: Vec<(usize, Fr)> = Vec::with_capacity(row_buf.len());
                for &(i, c) in &row_buf {
                    match canon.last_mut() {
                        Some((j, d)) if *j == i => *d += c,
                        _ => canon.push((i, c)),
                    }
                }
                canon.retain(|(_, c)| !c.is_zero());
                h.update(&(canon.len() as u64).to_be_bytes());
                for (i, c) in canon {
                    h.update(&(i as u64).to_be_bytes());
                    h.update(&fr_to_be_bytes(&c));
                }
            }
        }
        let mut id = [0u8; 32];
        h.finalize(&mut id);
        Self {
            id,
            num_constraints,
            num_instance_variables,
            num_witness_variables,
        }
    }
}

fn r1cs_matrices(cs: &ConstraintSystemRef<Fr>) -> Result<Vec<Matrix<Fr>>, ZkError> {
    let mut all = cs.to_matrices()?;
    let abc = all.remove(R1CS_PREDICATE_LABEL).ok_or(ZkError::Synthesis(
        ark_relations::gr1cs::SynthesisError::PredicateNotFound,
    ))?;
    if !all.values().all(|m| m.iter().all(|m| m.is_empty())) {
        return Err(ZkError::Encoding(
            "the circuit uses constraints other than R1CS".into(),
        ));
    }
    Ok(abc)
}

/// The first row `k` with `(A_k·z)·(B_k·z) != C_k·z`, if any: exactly what the proof would
/// fail on (the matrices and the full assignment `z = (1, instance, witness)` are the
/// prover's inputs).
pub fn first_unsatisfied(abc: &[Matrix<Fr>], z: &[Fr]) -> Option<usize> {
    let eval = |row: &Vec<(Fr, usize)>| row.iter().map(|(c, i)| *c * z[*i]).sum::<Fr>();
    (0..abc[0].len()).find(|&k| eval(&abc[0][k]) * eval(&abc[1][k]) != eval(&abc[2][k]))
}

/// Synthesizes `circuit` without a witness, as setup does, and inlines its linear combinations.
fn synthesize_for_setup<C: ConstraintSynthesizer<Fr>>(
    circuit: C,
) -> Result<ConstraintSystemRef<Fr>, ZkError> {
    let cs = ConstraintSystem::<Fr>::new_ref();
    cs.set_optimization_goal(OptimizationGoal::Constraints);
    cs.set_mode(SynthesisMode::Setup);
    circuit.generate_constraints(cs.clone())?;
    cs.finalize();
    Ok(cs)
}

/// Synthesizes `circuit` without a witness (as setup does) and returns its identity.
pub fn circuit_info<C: ConstraintSynthesizer<Fr>>(circuit: C) -> Result<CircuitInfo, ZkError> {
    let cs = synthesize_for_setup(circuit)?;
    let abc = r1cs_matrices(&cs)?;
    Ok(CircuitInfo::from_matrices(&cs, &abc))
}

/// Keys in the form of `QAP` from one synthesis of `circuit` (identity and keys alike).
fn setup_with<QAP: ark_groth16::r1cs_to_qap::R1CSToQAP, C, R>(
    circuit: C,
    rng: &mut R,
    qap: QapForm,
) -> Result<Keys, ZkError>
where
    C: ConstraintSynthesizer<Fr>,
    R: RngCore + CryptoRng,
{
    let cs = synthesize_for_setup(circuit)?;
    let info = CircuitInfo::from_matrices(&cs, &r1cs_matrices(&cs)?);
    let pk = crate::keygen::generate::<QAP>(cs, rng)?;
    Ok(Keys { info, pk, qap })
}

/// A deterministic RNG for setups and proofs in tests and on a devnet.
pub fn seeded_rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

/// An RNG seeded from the operating system, for setups whose toxic waste nobody may know.
pub fn os_rng() -> ChaCha20Rng {
    ChaCha20Rng::from_entropy()
}

/// A circuit's proving key (which contains its verifying key) and identity.
#[derive(Clone, Debug, PartialEq)]
pub struct Keys {
    /// The circuit the keys are for.
    pub info: CircuitInfo,
    /// The proving key; `pk.vk` is the verifying key.
    pub pk: ProvingKey<Curve>,
    /// The form of `pk.h_query`.
    pub qap: QapForm,
}

impl Keys {
    /// The verifying key.
    pub fn vk(&self) -> &VerifyingKey<Curve> {
        &self.pk.vk
    }

    /// Serializes the keys (uncompressed points).
    pub fn to_bytes(&self) -> Result<Vec<u8>, ZkError> {
        let mut out = Vec::with_capacity(self.pk.uncompressed_size() + 128);
        out.extend_from_slice(match self.qap {
            QapForm::Libsnark => KEYS_MAGIC,
            QapForm::Circom => KEYS_MAGIC_CIRCOM,
        });
        out.extend_from_slice(&self.info.id);
        for n in [
            self.info.num_constraints,
            self.info.num_instance_variables,
            self.info.num_witness_variables,
        ] {
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
        self.pk.serialize_uncompressed(&mut out)?;
        Ok(out)
    }

    /// Reads keys written by [`Keys::to_bytes`]. The verifying key's points are checked (on
    /// the curve, in the subgroup); the proving key's are not (that would take long for big
    /// keys, and [`prove`] verifies every proof it makes, so a corrupt proving key can only
    /// make `prove` fail).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ZkError> {
        let (qap, rest) = if let Some(rest) = bytes.strip_prefix(KEYS_MAGIC) {
            (QapForm::Libsnark, rest)
        } else if let Some(rest) = bytes.strip_prefix(KEYS_MAGIC_CIRCOM) {
            (QapForm::Circom, rest)
        } else {
            return Err(ZkError::Encoding("not a zkopml Groth16 key file".into()));
        };
        if rest.len() < 56 {
            return Err(ZkError::Encoding("truncated key file".into()));
        }
        let id: [u8; 32] = rest[..32].try_into().expect("32 bytes");
        let word = |k: usize| {
            u64::from_be_bytes(rest[32 + 8 * k..40 + 8 * k].try_into().expect("8 bytes")) as usize
        };
        let info = CircuitInfo {
            id,
            num_constraints: word(0),
            num_instance_variables: word(1),
            num_witness_variables: word(2),
        };
        let mut reader = &rest[56..];
        let pk = ProvingKey::<Curve>::deserialize_uncompressed_unchecked(&mut reader)?;
        if !reader.is_empty() {
            return Err(ZkError::Encoding(
                "trailing bytes after the proving key".into(),
            ));
        }
        // Check the verifying key properly.
        let mut vk_bytes = Vec::new();
        pk.vk.serialize_uncompressed(&mut vk_bytes)?;
        VerifyingKey::<Curve>::deserialize_uncompressed(&vk_bytes[..])?;
        if pk.vk.gamma_abc_g1.len() != info.num_instance_variables {
            return Err(ZkError::Encoding(
                "verifying key does not match the circuit shape".into(),
            ));
        }
        Ok(Self { info, pk, qap })
    }

    /// Writes the keys to a file (by rename: see [`write_replacing`]).
    pub fn write(&self, path: &Path) -> Result<(), ZkError> {
        write_replacing(path, &self.to_bytes()?)
    }

    /// Reads keys from a file.
    pub fn read(path: &Path) -> Result<Self, ZkError> {
        let bytes = std::fs::read(path).map_err(|source| ZkError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_bytes(&bytes)
    }
}

/// Circuit-specific Groth16 setup. Whoever knows the RNG's output (the seed of
/// [`seeded_rng`]) knows the toxic waste and can forge proofs for this circuit: see
/// `docs/zk.md`, "What a local setup trusts".
pub fn setup<C, R>(circuit: C, rng: &mut R) -> Result<Keys, ZkError>
where
    C: ConstraintSynthesizer<Fr> + Clone,
    R: RngCore + CryptoRng,
{
    setup_with::<LibsnarkReduction, _, _>(circuit, rng, QapForm::Libsnark)
}

/// [`setup`] with the H-query in the [`QapForm::Circom`] form (the form a Powers-of-Tau
/// ceremony produces), from a local RNG: the same trust as [`setup`]; for tests of that form.
pub fn setup_circom_form<C, R>(circuit: C, rng: &mut R) -> Result<Keys, ZkError>
where
    C: ConstraintSynthesizer<Fr> + Clone,
    R: RngCore + CryptoRng,
{
    setup_with::<CircomReduction, _, _>(circuit, rng, QapForm::Circom)
}

/// A proof and the public inputs it proves (in the circuit's input order).
#[derive(Clone, Debug, PartialEq)]
pub struct ProofWithInputs {
    /// The Groth16 proof.
    pub proof: Proof<Curve>,
    /// The public inputs, as the circuit assigned them.
    pub public_inputs: Vec<Fr>,
}

/// Synthesizes `circuit` with its witness, checks it satisfies the constraints and is the
/// circuit the keys were made for, proves, and verifies the proof before returning it.
pub fn prove<C, R>(keys: &Keys, circuit: C, rng: &mut R) -> Result<ProofWithInputs, ZkError>
where
    C: ConstraintSynthesizer<Fr>,
    R: RngCore + CryptoRng,
{
    let cs = ConstraintSystem::<Fr>::new_ref();
    cs.set_optimization_goal(OptimizationGoal::Constraints);
    cs.set_mode(SynthesisMode::Prove {
        construct_matrices: true,
        generate_lc_assignments: false,
    });
    circuit.generate_constraints(cs.clone())?;
    cs.finalize();
    let abc = r1cs_matrices(&cs)?;
    let info = CircuitInfo::from_matrices(&cs, &abc);
    if info.id != keys.info.id {
        return Err(ZkError::CircuitMismatch {
            expected: keys.info.id_hex(),
            actual: info.id_hex(),
        });
    }
    let (full_assignment, public_inputs) = {
        let inner = cs.borrow().expect("a constraint system");
        let instance = &inner.assignments.instance_assignment;
        let full: Vec<Fr> = instance
            .iter()
            .chain(&inner.assignments.witness_assignment)
            .copied()
            .collect();
        (full, instance[1..].to_vec())
    };
    if let Some(row) = first_unsatisfied(&abc, &full_assignment) {
        return Err(ZkError::Unsatisfied(format!(
            "R1CS row {row} of {}",
            info.num_constraints
        )));
    }
    let r = Fr::rand(rng);
    let s = Fr::rand(rng);
    let proof = match keys.qap {
        QapForm::Libsnark => {
            Groth16::<Curve, LibsnarkReduction>::create_proof_with_reduction_and_matrices(
                &keys.pk,
                r,
                s,
                &abc,
                info.num_instance_variables,
                info.num_constraints,
                &full_assignment,
            )?
        }
        QapForm::Circom => {
            Groth16::<Curve, CircomReduction>::create_proof_with_reduction_and_matrices(
                &keys.pk,
                r,
                s,
                &abc,
                info.num_instance_variables,
                info.num_constraints,
                &full_assignment,
            )?
        }
    };
    if !verify(keys.vk(), &public_inputs, &proof)? {
        return Err(ZkError::SelfCheckFailed);
    }
    Ok(ProofWithInputs {
        proof,
        public_inputs,
    })
}

/// Native Groth16 verification: `Ok(true)` iff the proof is valid for these public inputs.
pub fn verify(
    vk: &VerifyingKey<Curve>,
    public_inputs: &[Fr],
    proof: &Proof<Curve>,
) -> Result<bool, ZkError> {
    let expected = vk.gamma_abc_g1.len().saturating_sub(1);
    if public_inputs.len() != expected {
        return Err(ZkError::PublicInputCount {
            expected,
            got: public_inputs.len(),
        });
    }
    let pvk = prepare_verifying_key(vk);
    Ok(Groth16::<Curve>::verify_proof(&pvk, proof, public_inputs)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::circuits::relu::ReluChunkCircuit;
    use crate::evm::{proof_from_words, proof_to_words, EvmVerifyingKey};

    fn input(len: usize, salt: i32) -> Vec<i32> {
        (0..len as i32)
            .map(|k| (k - 4) * 1_000_003 + salt)
            .collect()
    }

    #[test]
    fn setup_prove_verify_and_reject() {
        let keys = setup(ReluChunkCircuit::relu_shape(9), &mut seeded_rng(1)).unwrap();
        assert_eq!(keys.info.num_public_inputs(), 2);
        let x = input(9, 0);
        let p = prove(&keys, ReluChunkCircuit::relu(x.clone()), &mut seeded_rng(2)).unwrap();
        assert_eq!(p.public_inputs, ReluChunkCircuit::relu_public_inputs(&x));
        assert!(verify(keys.vk(), &p.public_inputs, &p.proof).unwrap());

        // The same proof for other public inputs.
        let other = ReluChunkCircuit::relu_public_inputs(&input(9, 1));
        assert!(!verify(keys.vk(), &other, &p.proof).unwrap());
        let swapped = [p.public_inputs[1], p.public_inputs[0]];
        assert!(!verify(keys.vk(), &swapped, &p.proof).unwrap());
        // A valid proof of another statement, spliced.
        let q = prove(
            &keys,
            ReluChunkCircuit::relu(input(9, 1)),
            &mut seeded_rng(3),
        )
        .unwrap();
        let spliced = Proof {
            a: q.proof.a,
            ..p.proof.clone()
        };
        assert!(!verify(keys.vk(), &p.public_inputs, &spliced).unwrap());
        // Under the keys of another setup of the same circuit.
        let keys2 = setup(ReluChunkCircuit::relu_shape(9), &mut seeded_rng(4)).unwrap();
        assert_eq!(keys2.info, keys.info);
        assert!(!verify(keys2.vk(), &p.public_inputs, &p.proof).unwrap());
        assert!(matches!(
            verify(keys.vk(), &p.public_inputs[..1], &p.proof),
            Err(ZkError::PublicInputCount {
                expected: 2,
                got: 1
            })
        ));
    }

    #[test]
    fn circom_form_keys_prove_and_round_trip() {
        let keys = setup_circom_form(ReluChunkCircuit::relu_shape(9), &mut seeded_rng(5)).unwrap();
        assert_eq!(keys.qap, QapForm::Circom);
        let back = Keys::from_bytes(&keys.to_bytes().unwrap()).unwrap();
        assert_eq!(back, keys);
        let x = input(9, 3);
        let p = prove(&back, ReluChunkCircuit::relu(x.clone()), &mut seeded_rng(6)).unwrap();
        assert!(verify(keys.vk(), &p.public_inputs, &p.proof).unwrap());
        // The same keys read as the other form make proofs that do not verify.
        let wrong = Keys {
            qap: QapForm::Libsnark,
            ..keys.clone()
        };
        let r = prove(&wrong, ReluChunkCircuit::relu(x), &mut seeded_rng(6));
        assert!(matches!(r, Err(ZkError::SelfCheckFailed)), "{r:?}");
    }

    #[test]
    fn a_false_statement_cannot_be_proved() {
        let keys = setup(ReluChunkCircuit::relu_shape(9), &mut seeded_rng(1)).unwrap();
        let x = input(9, 0);
        let din = ReluChunkCircuit::relu_public_inputs(&x)[0];
        let wrong_out = crate::native::chunk_digest(&x); // identity, not relu
        let r = prove(
            &keys,
            ReluChunkCircuit::relu_with_claim(x, din, wrong_out),
            &mut seeded_rng(2),
        );
        assert!(matches!(r, Err(ZkError::Unsatisfied(_))), "{r:?}");
    }

    #[test]
    fn circuit_identity() {
        let a = circuit_info(ReluChunkCircuit::relu_shape(9)).unwrap();
        assert_eq!(a, circuit_info(ReluChunkCircuit::relu_shape(9)).unwrap());
        let b = circuit_info(ReluChunkCircuit::relu_shape(10)).unwrap();
        assert_ne!(a.id, b.id);
        assert_eq!(
            a.num_constraints,
            33 * 9 + 2 * crate::gadgets::digest::digest_constraints(9) + 2
        );
        // Keys for 9 values do not prove a chunk of 10.
        let keys = setup(ReluChunkCircuit::relu_shape(9), &mut seeded_rng(1)).unwrap();
        let r = prove(
            &keys,
            ReluChunkCircuit::relu(input(10, 0)),
            &mut seeded_rng(2),
        );
        assert!(matches!(r, Err(ZkError::CircuitMismatch { .. })), "{r:?}");
    }

    #[test]
    fn keys_and_evm_encodings_round_trip() {
        let keys = setup(ReluChunkCircuit::relu_shape(5), &mut seeded_rng(9)).unwrap();
        let bytes = keys.to_bytes().unwrap();
        let back = Keys::from_bytes(&bytes).unwrap();
        assert_eq!(back, keys);
        assert!(Keys::from_bytes(&bytes[1..]).is_err());
        assert!(Keys::from_bytes(&bytes[..bytes.len() - 1]).is_err());

        let p = prove(
            &back,
            ReluChunkCircuit::relu(input(5, 7)),
            &mut seeded_rng(10),
        )
        .unwrap();
        let vk = EvmVerifyingKey::from_abi(&crate::evm::vk_abi(keys.vk()))
            .unwrap()
            .to_vk()
            .unwrap();
        let proof = proof_from_words(&proof_to_words(&p.proof)).unwrap();
        assert!(verify(&vk, &p.public_inputs, &proof).unwrap());
    }
}

/// Writes `bytes` to `path` through a fresh temporary file beside it, synced and renamed into
/// place: never in place, because an artifact store may hold the previous file as a link
/// (`put_file`) and must keep its bytes.
pub fn write_replacing(path: &Path, bytes: &[u8]) -> Result<(), ZkError> {
    use std::io::Write;
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".tmp{}-{nanos}-{n}", std::process::id()));
    let tmp = path.with_file_name(name);
    let io = |p: &Path| {
        let p = p.display().to_string();
        move |source| ZkError::Io { path: p, source }
    };
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .and_then(|mut f| f.write_all(bytes).and_then(|()| f.sync_all()));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(io(&tmp)(e));
    }
    std::fs::rename(&tmp, path).map_err(io(path))
}
