//! Steps 2-4: phase 1 import, phase 2 keys and contributions, against snarkjs.
//!
//! The circuit is relu over 9 values (926 rows: a domain of 2^10); the `.ptau` is made by
//! snarkjs in the test (power 10, cached in the target dir).

mod common;

use std::path::Path;

use common::{ptau, scratch, snarkjs, snarkjs_ok, unprepared_ptau};
use zkopml_ceremony::{
    mpc::{contribute, transcript_hash, verify},
    ptau::Ptau,
    r1cs::synthesize,
    zkey::Zkey,
    CeremonyError,
};
use zkopml_zk::{
    circuits::relu::ReluChunkCircuit,
    evm::{proof_from_words, proof_to_words, vk_abi, EvmVerifyingKey},
    groth16::{circuit_info, prove, seeded_rng, verify as verify_proof, Keys, QapForm},
};

const LEN: usize = 9;

fn input(salt: i32) -> Vec<i32> {
    (0..LEN as i32)
        .map(|k| (k - 4) * 1_000_003 + salt)
        .collect()
}

/// Writes the circuit's .r1cs into `dir` and returns its initial key (ours).
fn init(dir: &Path) -> Zkey {
    let (r1cs, _) = synthesize(ReluChunkCircuit::relu_shape(LEN), false).unwrap();
    std::fs::write(dir.join("c.r1cs"), r1cs.to_bytes()).unwrap();
    Zkey::new(&r1cs, &mut Ptau::open(&ptau(10)).unwrap()).unwrap()
}

fn keys(z: &Zkey) -> Keys {
    z.keys(circuit_info(ReluChunkCircuit::relu_shape(LEN)).unwrap())
        .unwrap()
}

fn zkey_verify_snarkjs(dir: &Path, zkey: &str) -> (bool, String) {
    let p = ptau(10);
    let out = snarkjs(
        dir,
        &["zkey", "verify", "c.r1cs", p.to_str().unwrap(), zkey],
    );
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success() && text.contains("ZKey Ok!"), text)
}

#[test]
fn native_zkey_new_is_snarkjs_zkey_new_and_its_keys_prove() {
    let dir = scratch("zkey-new");
    let ours = init(&dir);
    let p = ptau(10);
    snarkjs_ok(
        &dir,
        &["zkey", "new", "c.r1cs", p.to_str().unwrap(), "s0.zkey"],
    );
    let theirs = Zkey::read(&dir.join("s0.zkey")).unwrap();
    // Every section, the circuit hash included.
    assert_eq!(ours.mpc.cs_hash, theirs.mpc.cs_hash);
    assert_eq!(ours, theirs);
    assert_eq!(Zkey::from_bytes(&ours.to_bytes()).unwrap(), ours);
    ours.write(&dir.join("ours.zkey")).unwrap();
    let (ok, text) = zkey_verify_snarkjs(&dir, "ours.zkey");
    assert!(ok, "{text}");

    // The keys prove (natively verified, and through the EVM encodings of vk and proof).
    let k = keys(&ours);
    assert_eq!(k.qap, QapForm::Circom);
    let x = input(0);
    let proved = prove(&k, ReluChunkCircuit::relu(x.clone()), &mut seeded_rng(1)).unwrap();
    assert_eq!(
        proved.public_inputs,
        ReluChunkCircuit::relu_public_inputs(&x)
    );
    let vk = EvmVerifyingKey::from_abi(&vk_abi(k.vk()))
        .unwrap()
        .to_vk()
        .unwrap();
    let proof = proof_from_words(&proof_to_words(&proved.proof)).unwrap();
    assert!(verify_proof(&vk, &proved.public_inputs, &proof).unwrap());
    let other = ReluChunkCircuit::relu_public_inputs(&input(1));
    assert!(!verify_proof(&vk, &other, &proof).unwrap());
    // Keys survive the key file.
    assert_eq!(Keys::from_bytes(&k.to_bytes().unwrap()).unwrap(), k);
}

#[test]
fn a_ptau_too_small_or_not_prepared_is_rejected() {
    // relu over 20 values: 1,292 constraints, a domain of 2^11.
    let (big, _) = synthesize(ReluChunkCircuit::relu_shape(20), false).unwrap();
    let e = Zkey::new(&big, &mut Ptau::open(&ptau(10)).unwrap()).unwrap_err();
    assert!(
        matches!(
            e,
            CeremonyError::PtauTooSmall {
                needed: 11,
                have: 10,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("too small"), "{e}");
    let (small, _) = synthesize(ReluChunkCircuit::relu_shape(LEN), false).unwrap();
    let e = Zkey::new(&small, &mut Ptau::open(&unprepared_ptau(10)).unwrap()).unwrap_err();
    assert!(matches!(e, CeremonyError::PtauNotPrepared), "{e:?}");
    // Not a ptau at all.
    let dir = scratch("not-ptau");
    std::fs::write(dir.join("x.ptau"), b"zkey\x01\x00\x00\x00\x00\x00\x00\x00").unwrap();
    let e = Ptau::open(&dir.join("x.ptau")).err().unwrap();
    assert!(
        matches!(e, CeremonyError::Format { file: "ptau", .. }),
        "{e:?}"
    );
}

#[test]
fn mixed_chain_verifies_both_ways_and_only_the_final_keys_prove() {
    let dir = scratch("mixed-chain");
    let init0 = init(&dir);
    init0.write(&dir.join("z0.zkey")).unwrap();
    // snarkjs, then us, then snarkjs.
    let out = snarkjs_ok(
        &dir,
        &[
            "zkey",
            "contribute",
            "z0.zkey",
            "z1.zkey",
            "--name=alice",
            "-e=alice's entropy",
        ],
    );
    let z1 = Zkey::read(&dir.join("z1.zkey")).unwrap();
    let (z2, bob_hash) = contribute(&z1, Some("bob"), &mut zkopml_zk::groth16::os_rng()).unwrap();
    z2.write(&dir.join("z2.zkey")).unwrap();
    snarkjs_ok(
        &dir,
        &[
            "zkey",
            "contribute",
            "z2.zkey",
            "z3.zkey",
            "--name=carol",
            "-e=carol's entropy",
        ],
    );
    let z3 = Zkey::read(&dir.join("z3.zkey")).unwrap();

    // snarkjs accepts the chain with our contribution in it, and ours alone.
    let (ok, text) = zkey_verify_snarkjs(&dir, "z3.zkey");
    assert!(ok, "{text}");
    let (ok, text) = zkey_verify_snarkjs(&dir, "z2.zkey");
    assert!(ok, "{text}");
    // We accept it, and report the contributions as snarkjs does.
    let v = verify(&init0, &z3, &mut zkopml_zk::groth16::os_rng()).unwrap();
    let names: Vec<_> = v.contributions.iter().map(|c| c.1.clone()).collect();
    assert_eq!(
        names,
        vec![
            Some("alice".into()),
            Some("bob".into()),
            Some("carol".into())
        ]
    );
    assert_eq!(v.contributions[1].0, bob_hash);
    let alice_hex: String = hex::encode(v.contributions[0].0);
    let printed: String = out.split_whitespace().collect::<String>().to_lowercase();
    assert!(
        printed.contains(&alice_hex),
        "snarkjs printed another contribution hash:\n{out}"
    );
    assert_eq!(v.transcript_hash, transcript_hash(&z3));
    assert_ne!(transcript_hash(&z2), transcript_hash(&z3));

    // The final keys prove; a proof made with keys from before the last contribution does
    // not verify under the final verifying key.
    let x = input(7);
    let final_keys = keys(&z3);
    let p3 = prove(
        &final_keys,
        ReluChunkCircuit::relu(x.clone()),
        &mut seeded_rng(3),
    )
    .unwrap();
    assert!(verify_proof(final_keys.vk(), &p3.public_inputs, &p3.proof).unwrap());
    for (name, old) in [("z2", &z2), ("z1", &z1), ("z0", &init0)] {
        let k = keys(old);
        let p = prove(&k, ReluChunkCircuit::relu(x.clone()), &mut seeded_rng(3)).unwrap();
        assert!(verify_proof(k.vk(), &p.public_inputs, &p.proof).unwrap());
        assert!(
            !verify_proof(final_keys.vk(), &p.public_inputs, &p.proof).unwrap(),
            "a proof under {name}'s keys verified under the final key"
        );
    }
}

#[test]
fn broken_transcripts_are_rejected() {
    let dir = scratch("broken");
    let z0 = init(&dir);
    let rng = &mut zkopml_zk::groth16::os_rng();
    let (z1, _) = contribute(&z0, Some("a"), rng).unwrap();
    let (z2, _) = contribute(&z1, Some("b"), rng).unwrap();
    verify(&z0, &z2, rng).unwrap();

    // A contribution that does not chain: b's contribution without a's before it.
    let mut t = z2.clone();
    t.mpc.contributions.remove(0);
    let e = verify(&z0, &t, rng).unwrap_err();
    assert!(
        matches!(e, CeremonyError::TranscriptMismatch { index: 0 }),
        "{e:?}"
    );
    // A contribution made on another chain (to a fresh key of the same circuit).
    let (other, _) = contribute(&z0, Some("c"), rng).unwrap();
    let mut t = z2.clone();
    t.mpc.contributions[1] = other.mpc.contributions[0].clone();
    let e = verify(&z0, &t, rng).unwrap_err();
    assert!(
        matches!(e, CeremonyError::TranscriptMismatch { index: 1 }),
        "{e:?}"
    );

    // A wrong proof of knowledge.
    let mut t = z2.clone();
    let c = &mut t.mpc.contributions[1];
    c.g2_spx = (c.g2_spx * ark_bn254::Fr::from(2u64)).into();
    let e = verify(&z0, &t, rng).unwrap_err();
    assert!(
        matches!(e, CeremonyError::ProofOfKnowledge { index: 1 }),
        "{e:?}"
    );
    t.write(&dir.join("bad-pok.zkey")).unwrap();
    std::fs::write(
        dir.join("c.r1cs"),
        synthesize(ReluChunkCircuit::relu_shape(LEN), false)
            .unwrap()
            .0
            .to_bytes(),
    )
    .unwrap();
    let (ok, _) = zkey_verify_snarkjs(&dir, "bad-pok.zkey");
    assert!(!ok, "snarkjs accepted a wrong proof of knowledge");

    // A delta that does not follow the contribution.
    let mut t = z2.clone();
    t.mpc.contributions[0].delta_after = (z1.delta1 * ark_bn254::Fr::from(3u64)).into();
    let e = verify(&z0, &t, rng).unwrap_err();
    assert!(matches!(e, CeremonyError::DeltaChain { index: 0 }), "{e:?}");
    let mut t = z2.clone();
    t.delta1 = z1.delta1;
    let e = verify(&z0, &t, rng).unwrap_err();
    assert!(matches!(e, CeremonyError::FinalDelta(_)), "{e:?}");
    let mut t = z2.clone();
    t.delta2 = z1.delta2;
    let e = verify(&z0, &t, rng).unwrap_err();
    assert!(matches!(e, CeremonyError::FinalDelta(_)), "{e:?}");

    // Keys not divided by the new delta (a contribution that only changed the transcript).
    let mut t = z2.clone();
    t.l = z1.l.clone();
    let e = verify(&z0, &t, rng).unwrap_err();
    assert!(matches!(e, CeremonyError::RatioMismatch("8 (L)")), "{e:?}");
    let mut t = z2.clone();
    t.h[5] = z1.h[5];
    let e = verify(&z0, &t, rng).unwrap_err();
    assert!(matches!(e, CeremonyError::RatioMismatch("9 (H)")), "{e:?}");

    // Sections a contribution must not touch.
    let mut t = z2.clone();
    t.a.swap(3, 4);
    let e = verify(&z0, &t, rng).unwrap_err();
    assert!(matches!(e, CeremonyError::SectionChanged("5 (A)")), "{e:?}");
    let mut t = z2.clone();
    t.ic[1] = t.ic[0];
    let e = verify(&z0, &t, rng).unwrap_err();
    assert!(
        matches!(e, CeremonyError::SectionChanged("3 (IC)")),
        "{e:?}"
    );

    // Another circuit's initial key.
    let (r1cs8, _) = synthesize(ReluChunkCircuit::relu_shape(8), false).unwrap();
    let init8 = Zkey::new(&r1cs8, &mut Ptau::open(&ptau(10)).unwrap()).unwrap();
    let e = verify(&init8, &z2, rng).unwrap_err();
    assert!(matches!(e, CeremonyError::CircuitMismatch(_)), "{e:?}");
    // Keys of one circuit do not become keys of another.
    let e = z2
        .keys(circuit_info(ReluChunkCircuit::relu_shape(8)).unwrap())
        .unwrap_err();
    assert!(matches!(e, CeremonyError::CircuitMismatch(_)), "{e:?}");
}
