//! Against a real anvil: deployment, the money paths, decoded reverts, the event stream.

mod common;

use std::time::Duration;

use alloy::primitives::{B256, U256};
use alloy::providers::Provider;
use common::*;
use zkopml_chain::{
    Chain, ChainError, Cursor, Deployment, Event, EventStream, Outcome, Phase, RequestRecord,
    ResultRecord, Status, StreamConfig,
};

fn names(evs: &[zkopml_chain::EventRecord]) -> Vec<&'static str> {
    evs.iter().map(|e| e.event.name()).collect()
}

fn assert_strictly_ordered(evs: &[zkopml_chain::EventRecord]) {
    for w in evs.windows(2) {
        assert!(
            (w[0].block_number, w[0].log_index) < (w[1].block_number, w[1].log_index),
            "events out of order or repeated: {:?} then {:?}",
            (w[0].block_number, w[0].log_index),
            (w[1].block_number, w[1].log_index)
        );
    }
}

fn revert_name(r: Result<impl std::fmt::Debug, ChainError>) -> String {
    match r {
        Err(e) => e
            .revert_name()
            .unwrap_or_else(|| panic!("expected a revert, got {e}"))
            .to_string(),
        Ok(v) => panic!("expected a revert, got {v:?}"),
    }
}

async fn deploy(anvil: &Anvil) -> Chain {
    Chain::builder()
        .rpc_url(anvil.url())
        .private_key(KEY0)
        .deploy()
        .await
        .expect("deploy")
}

/// Register, request, submit, finalize, withdraw; wrong bonds, a late challenge, an early
/// finalize, decoded by name; the event stream sees each event once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn money_path_finalize_and_withdraw() {
    let anvil = Anvil::start();
    let owner = deploy(&anvil).await;

    // the deployment file round-trips and a client connects to it
    let dir = std::env::temp_dir().join(format!("zkopml-chain-test-{}", anvil.port));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("deployment.json");
    owner.deployment().save(&file).unwrap();
    let d = Deployment::load(&file).unwrap();
    assert_eq!(&d, owner.deployment());
    let owner = Chain::builder()
        .rpc_url(anvil.url())
        .private_key(KEY0)
        .deployment(d)
        .connect()
        .await
        .unwrap();

    let requester = owner.with_private_key(KEY1).unwrap();
    let submitter = owner.with_private_key(&funded_key(&owner).await).unwrap();
    let challenger = owner.with_private_key(&funded_key(&owner).await).unwrap();
    let mut stream = owner.events();

    // register
    let reg = one_op_registration(7);
    let tx = owner.register(&reg).await.unwrap();
    assert_eq!(tx.value, 0);
    assert!(tx.gas_used > 100_000, "register gas {}", tx.gas_used);
    let m = owner.get_model(0).await.unwrap();
    assert_eq!(
        (m.owner, m.num_ops, m.state_depth, m.active),
        (owner.address(), 1, 1, true)
    );
    assert_eq!(
        (m.input_meta_hash, m.input_chunk_len, m.output_meta_hash),
        (
            reg.input.meta_hash(),
            reg.input.chunk_len,
            reg.output.meta_hash()
        )
    );
    assert_eq!(
        (m.input_numel, m.output_numel),
        (
            reg.input.dims.iter().product::<u32>(),
            reg.output.dims.iter().product::<u32>()
        )
    );
    assert_eq!(m.params, reg.params);
    assert_eq!(m.manifest_cid, reg.manifest_cid);
    assert!(!m.ceremony_pending);
    assert_eq!(owner.model_count().await.unwrap(), 1);
    // a broken meta path is refused by name
    let mut bad = one_op_registration(8);
    bad.output_meta_path = vec![B256::ZERO];
    assert_eq!(revert_name(owner.register(&bad).await), "BadMetaPath");
    // only the owner may deactivate
    assert_eq!(
        revert_name(requester.set_active(0, false).await),
        "NotOwner"
    );

    // request with an inline input: an input of another length is refused
    let now = owner.timestamp().await.unwrap();
    assert_eq!(
        revert_name(
            requester
                .request_inference(0, &[1, 2, 3], now + 3600, U256::from(FEE))
                .await
        ),
        "BadLength"
    );
    let input = [1, -2, 3, 400];
    let rq = requester
        .request_inference(0, &input, now + 3600, U256::from(FEE))
        .await
        .unwrap();
    assert_eq!(rq.value, 0);
    let request = owner.get_request(0).await.unwrap();
    assert_eq!(request.status, Status::Open);
    assert_eq!(
        (
            request.model_id,
            request.result_nonce,
            request.deadline,
            request.deadline_cap,
            request.challenge_deadline,
            request.active_games
        ),
        (0, 0, now + 3600, now + 3600 + WINDOW, 0, 0)
    );
    // the record, rebuilt from the event, is the one whose hash the manager stores
    let record = owner.request_record(0).await.unwrap();
    assert_eq!(
        record,
        RequestRecord {
            requester: requester.address(),
            fee: U256::from(FEE),
            input_root: boundary_root(&input_meta(), &input),
        }
    );
    // the contract's tensor root of a boundary tensor is the keccak-leaf one of zkopml-exec
    assert_eq!(
        record.input_root,
        owner.tensor_root_of(&input_meta(), &input).await.unwrap()
    );
    // the input is the calldata of the request (an account's request emits no InferenceInput)
    assert_eq!(
        owner.inline_input(0, Some(rq.hash)).await.unwrap(),
        Some(input.to_vec())
    );
    assert_eq!(owner.inline_input(0, None).await.unwrap(), None);
    assert_eq!(owner.result_hash(0).await.unwrap(), B256::ZERO);
    assert_eq!(owner.result_record(0).await.unwrap(), None);

    // the result: slot 1 of a depth-1 state tree whose slot 0 is the input
    let output = [5, -6];
    let out_root = boundary_root(&output_meta(), &output);
    assert_eq!(
        out_root,
        owner.tensor_root_of(&output_meta(), &output).await.unwrap()
    );
    let final_root = hash_pair(record.input_root, out_root);
    let path = [record.input_root];
    let ans = answer_of(final_root, out_root, &path, &output);
    // no commitment yet: a copied result is refused
    assert_eq!(
        revert_name(
            submitter
                .submit_result(0, &ans, U256::from(SUBMITTER_BOND))
                .await
        ),
        "NoCommitment"
    );
    submitter.commit_result(0, final_root).await.unwrap();
    submitter
        .commit_result(0, B256::repeat_byte(1))
        .await
        .unwrap();
    let e = submitter
        .submit_result(0, &ans, U256::from(1))
        .await
        .unwrap_err();
    let r = e.revert().expect("a revert");
    assert_eq!(r.name, "WrongBond");
    assert_eq!(r.to_string(), format!("WrongBond(1, {SUBMITTER_BOND})"));
    assert!(
        e.to_string().contains("submitResult reverted: WrongBond"),
        "{e}"
    );
    assert_eq!(
        revert_name(
            submitter
                .submit_result(
                    0,
                    &answer_of(B256::repeat_byte(1), out_root, &path, &output),
                    U256::from(SUBMITTER_BOND)
                )
                .await
        ),
        "BadOutputPath"
    );
    // an inline output must have the output root it comes with, and the output's length
    assert_eq!(
        revert_name(
            submitter
                .submit_result(
                    0,
                    &answer_of(final_root, out_root, &path, &[5, -7]),
                    U256::from(SUBMITTER_BOND)
                )
                .await
        ),
        "BadOutput"
    );
    assert_eq!(
        revert_name(
            submitter
                .submit_result(
                    0,
                    &answer_of(final_root, out_root, &path, &[5, -6, 0]),
                    U256::from(SUBMITTER_BOND)
                )
                .await
        ),
        "BadLength"
    );
    let sub = submitter
        .submit_result(0, &ans, U256::from(SUBMITTER_BOND))
        .await
        .unwrap();
    assert_eq!(sub.value, 1, "first result nonce");
    let submitted_at = owner.timestamp().await.unwrap();
    // the result's record, rebuilt from ResultSubmitted, with its nonce and transaction
    let (res, nonce, res_tx) = owner
        .result_record(0)
        .await
        .unwrap()
        .expect("a live result");
    assert_eq!(
        res,
        ResultRecord {
            submitter: submitter.address(),
            bond: U256::from(SUBMITTER_BOND),
            final_root,
            output_root: out_root,
        }
    );
    assert_eq!((nonce, res_tx), (1, Some(sub.hash)));
    assert_eq!(owner.result_hash(0).await.unwrap(), res.hash());
    assert_eq!(
        owner.inline_output(0, 1, Some(sub.hash)).await.unwrap(),
        Some(output.to_vec())
    );
    let request = owner.get_request(0).await.unwrap();
    assert_eq!(
        (
            request.status,
            request.result_nonce,
            request.challenge_deadline,
            request.active_games
        ),
        (Status::Submitted, 1, submitted_at + WINDOW, 0)
    );
    assert!(owner.is_result_live(0, 1).await.unwrap());

    // reverts decoded by name
    assert_eq!(
        revert_name(owner.finalize(0, &record, &res).await),
        "TooEarly"
    );
    assert_eq!(revert_name(owner.final_output(0).await), "NotFinal");
    assert_eq!(
        revert_name(
            challenger
                .challenge(0, &record, &res, B256::repeat_byte(9), U256::from(1))
                .await
        ),
        "WrongBond"
    );
    assert_eq!(
        revert_name(
            challenger
                .challenge(0, &record, &res, final_root, U256::from(CHALLENGER_BOND))
                .await
        ),
        "SameRoot"
    );
    // forged records: another requester's fee, another submitter, another bond or output root
    let forged_rq = [
        RequestRecord {
            fee: U256::from(2 * FEE),
            ..record.clone()
        },
        RequestRecord {
            requester: challenger.address(),
            ..record.clone()
        },
        RequestRecord {
            input_root: B256::repeat_byte(9),
            ..record.clone()
        },
    ];
    let forged_res = [
        ResultRecord {
            submitter: challenger.address(),
            ..res.clone()
        },
        ResultRecord {
            bond: U256::from(2 * SUBMITTER_BOND),
            ..res.clone()
        },
        ResultRecord {
            final_root: B256::repeat_byte(9),
            ..res.clone()
        },
        ResultRecord {
            output_root: B256::repeat_byte(9),
            ..res.clone()
        },
    ];
    for f in &forged_rq {
        assert_eq!(
            revert_name(
                challenger
                    .challenge(
                        0,
                        f,
                        &res,
                        B256::repeat_byte(9),
                        U256::from(CHALLENGER_BOND)
                    )
                    .await
            ),
            "WrongRecord",
            "{f:?}"
        );
    }
    for f in &forged_res {
        assert_eq!(
            revert_name(
                challenger
                    .challenge(
                        0,
                        &record,
                        f,
                        B256::repeat_byte(9),
                        U256::from(CHALLENGER_BOND)
                    )
                    .await
            ),
            "WrongRecord",
            "{f:?}"
        );
    }
    assert_eq!(revert_name(owner.get_request(5).await), "UnknownRequest");
    assert_eq!(revert_name(owner.get_game(0).await), "UnknownGame");

    // after the window: too late to challenge; finalize pays fee + bond
    advance(&owner, WINDOW + 1).await;
    assert_eq!(
        revert_name(
            challenger
                .challenge(
                    0,
                    &record,
                    &res,
                    B256::repeat_byte(9),
                    U256::from(CHALLENGER_BOND)
                )
                .await
        ),
        "DeadlinePassed"
    );
    for f in &forged_rq {
        assert_eq!(
            revert_name(owner.finalize(0, f, &res).await),
            "WrongRecord",
            "{f:?}"
        );
    }
    for f in &forged_res {
        assert_eq!(
            revert_name(owner.finalize(0, &record, f).await),
            "WrongRecord",
            "{f:?}"
        );
    }
    // claim is the submitter's own: another account may not claim, not even with a record
    // that names it as the submitter
    assert_eq!(
        revert_name(owner.claim(0, &record, &res).await),
        "NotSubmitter"
    );
    let mine = ResultRecord {
        submitter: owner.address(),
        ..res.clone()
    };
    assert_eq!(
        revert_name(owner.claim(0, &record, &mine).await),
        "WrongRecord"
    );
    owner.finalize(0, &record, &res).await.unwrap();
    assert_eq!(
        owner.get_request(0).await.unwrap().status,
        Status::Finalized
    );
    assert_eq!(
        revert_name(owner.finalize(0, &record, &res).await),
        "WrongStatus"
    );
    assert_eq!(
        revert_name(submitter.claim(0, &record, &res).await),
        "WrongStatus"
    );
    // the final output: the inline output of the submit, checked by finalOutput
    assert_eq!(owner.final_output(0).await.unwrap(), output.to_vec());
    assert_eq!(
        owner.result_record(0).await.unwrap(),
        Some((res.clone(), 1, Some(sub.hash))),
        "a final result keeps its record"
    );
    let owed = U256::from(FEE + SUBMITTER_BOND);
    assert_eq!(owner.credits(submitter.address()).await.unwrap(), owed);
    assert_eq!(owner.totals().await.unwrap(), (U256::ZERO, owed));

    let before = owner.balance(submitter.address()).await.unwrap();
    let w = submitter.withdraw().await.unwrap();
    assert_eq!(w.value, owed);
    let after = owner.balance(submitter.address()).await.unwrap();
    assert!(
        after > before && after - before < owed,
        "paid out minus gas"
    );
    assert_eq!(revert_name(submitter.withdraw().await), "NothingToWithdraw");
    assert_eq!(owner.totals().await.unwrap(), (U256::ZERO, U256::ZERO));
    assert_eq!(
        owner.balance(owner.deployment().manager).await.unwrap(),
        U256::ZERO
    );

    // every event once, in order
    let evs = stream.poll().await.unwrap();
    assert_eq!(
        names(&evs),
        [
            "GameSet",
            "ModelRegistered",
            "ModelGeometry",
            "ModelParams",
            "InferenceRequested",
            "ResultCommitted",
            "ResultCommitted",
            "ResultSubmitted",
            "ResultFinalized", // finalize emits ResultFinalized, then credits
            "Credited",
            "Withdrawn"
        ]
    );
    assert_strictly_ordered(&evs);
    match &evs[4].event {
        Event::InferenceRequested(e) => {
            assert_eq!(e.inputRoot, record.input_root);
            assert_eq!(e.inputCid, "");
            assert_eq!(e.fee, U256::from(FEE));
            assert_eq!(e.requester, requester.address());
            assert_eq!(e.deadline, now + 3600);
        }
        other => panic!("{other:?}"),
    }
    match &evs[7].event {
        Event::ResultSubmitted(e) => {
            assert_eq!(
                (
                    e.submitter,
                    e.resultNonce,
                    e.bond,
                    e.finalRoot,
                    e.outputRoot
                ),
                (
                    submitter.address(),
                    1,
                    U256::from(SUBMITTER_BOND),
                    final_root,
                    out_root
                )
            );
            assert_eq!(e.challengeDeadline, submitted_at + WINDOW);
        }
        other => panic!("{other:?}"),
    }
    assert!(stream.poll().await.unwrap().is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}

/// The contract's tensor root of a boundary tensor (keccak leaves over packed bytes) is the one
/// zkopml-exec computes, for several chunks, a short last chunk, a padding leaf and extreme
/// values; packed bytes of another length are refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boundary_roots_match_exec() {
    use zkopml_chain::TensorMeta;
    let anvil = Anvil::start();
    let owner = deploy(&anvil).await;
    let cases: [(TensorMeta, Vec<i32>); 4] = [
        (input_meta(), vec![1, -2, 3, 400]),
        (
            TensorMeta {
                dims: vec![10],
                scale: 8,
                chunk_len: 4,
            },
            (0..10).map(|i| i * 1_000_003 - 7).collect(),
        ),
        (
            TensorMeta {
                dims: vec![1, 3, 2, 2],
                scale: -3,
                chunk_len: 6,
            },
            vec![i32::MIN, i32::MAX, 0, -1, 1, 2, 3, 4, 5, 6, 7, 8],
        ),
        (
            TensorMeta {
                dims: vec![1],
                scale: 0,
                chunk_len: 1,
            },
            vec![-5],
        ),
    ];
    for (meta, values) in &cases {
        assert_eq!(
            owner.tensor_root_of(meta, values).await.unwrap(),
            boundary_root(meta, values),
            "{meta:?}"
        );
        assert_eq!(
            boundary_root(meta, values),
            hash_pair(meta.meta_hash(), boundary_chunks_root(meta, values))
        );
    }
    assert_eq!(
        revert_name(owner.tensor_root_of(&input_meta(), &[1, 2, 3]).await),
        "BadLength"
    );
    // the packed bytes are 4 bytes a value, int32 big-endian
    let packed = zkopml_chain::pack_values(&[1, -1, i32::MIN]);
    assert_eq!(
        packed.as_ref(),
        zkopml_exec::commit::pack_be(&[1, -1, i32::MIN]).as_slice()
    );
    assert_eq!(
        zkopml_chain::unpack_values(&packed),
        Some(vec![1, -1, i32::MIN])
    );
    assert_eq!(zkopml_chain::unpack_values(&[0, 0, 0]), None);
}

/// The cheap end of the honest path, and the outputs a client can read back:
/// - request 0 (inline input) is answered by its output root only; the submitter claims and is
///   paid fee + bond at once (no credit, no withdraw); `final_output` says the output was not
///   posted, and `finalOutput` accepts the output computed elsewhere against the root;
/// - request 1 is by CID: no inline input; its inline output is the final output after a
///   finalize by a third party (credited);
/// - `honest_path_txs` names each step's transaction.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claim_pays_at_once_and_outputs_read_back() {
    use alloy::providers::Provider as _;
    use zkopml_chain::bindings::InferenceManager;
    let anvil = Anvil::start();
    let owner = deploy(&anvil).await;
    let requester = owner.with_private_key(KEY1).unwrap();
    let submitter = owner.with_private_key(&funded_key(&owner).await).unwrap();
    owner.register(&one_op_registration(1)).await.unwrap();
    let mut stream = owner.events();
    stream.poll().await.unwrap();
    let bond = U256::from(SUBMITTER_BOND);

    // request 0: inline input, answered by root only
    let now = owner.timestamp().await.unwrap();
    let input = [7, -7, 0, i32::MIN];
    let rq_tx = requester
        .request_inference(0, &input, now + 3600, U256::from(FEE))
        .await
        .unwrap();
    let rq = owner.request_record(0).await.unwrap();
    assert_eq!(rq.input_root, boundary_root(&input_meta(), &input));
    assert_eq!(
        owner.inline_input(0, Some(rq_tx.hash)).await.unwrap(),
        Some(input.to_vec())
    );
    let output = [-1, i32::MAX];
    let out_root = boundary_root(&output_meta(), &output);
    let ans = answer_of(
        hash_pair(rq.input_root, out_root),
        out_root,
        &[rq.input_root],
        &[],
    );
    let commit = submitter.commit_result(0, ans.final_root).await.unwrap();
    let sub = submitter.submit_result(0, &ans, bond).await.unwrap();
    let (res, nonce, res_tx) = owner.result_record(0).await.unwrap().unwrap();
    assert_eq!(
        (res.submitter, res.bond, res.output_root, nonce, res_tx),
        (submitter.address(), bond, out_root, 1, Some(sub.hash))
    );
    assert_eq!(
        owner.inline_output(0, 1, Some(sub.hash)).await.unwrap(),
        None
    );
    assert_eq!(owner.inline_output(0, 1, None).await.unwrap(), None);

    advance(&owner, WINDOW + 1).await;
    let before = owner.balance(submitter.address()).await.unwrap();
    let c = submitter.claim(0, &rq, &res).await.unwrap();
    let after = owner.balance(submitter.address()).await.unwrap();
    let receipt = owner
        .provider()
        .get_transaction_receipt(c.hash)
        .await
        .unwrap()
        .expect("a receipt");
    assert_eq!(receipt.gas_used, c.gas_used);
    let gas = U256::from(c.gas_used) * U256::from(receipt.effective_gas_price);
    assert_eq!(
        after + gas,
        before + U256::from(FEE + SUBMITTER_BOND),
        "paid fee + bond minus gas"
    );
    assert_eq!(
        owner.get_request(0).await.unwrap().status,
        Status::Finalized
    );
    assert_eq!(
        owner.credits(submitter.address()).await.unwrap(),
        U256::ZERO
    );
    assert_eq!(owner.totals().await.unwrap(), (U256::ZERO, U256::ZERO));
    assert_eq!(
        owner.balance(owner.deployment().manager).await.unwrap(),
        U256::ZERO
    );
    assert_eq!(
        revert_name(submitter.claim(0, &rq, &res).await),
        "WrongStatus"
    );

    // the output was not posted: final_output says so ...
    let e = owner.final_output(0).await.unwrap_err();
    assert!(
        matches!(e, ChainError::NotOnChain(_)) && e.to_string().contains("root only"),
        "{e}"
    );
    // ... and the manager checks an output computed elsewhere against the output root
    let m = InferenceManager::new(owner.deployment().manager, owner.provider().clone());
    let rec = InferenceManager::ResultRecord {
        submitter: res.submitter,
        bond: res.bond,
        finalRoot: res.final_root,
        outputRoot: res.output_root,
    };
    let got = m
        .finalOutput(U256::ZERO, rec.clone(), zkopml_chain::pack_values(&output))
        .call()
        .await
        .unwrap();
    assert_eq!(got, output.to_vec());
    let name = |r: Result<Vec<i32>, alloy::contract::Error>| {
        zkopml_chain::Revert::decode(r.unwrap_err().as_revert_data().expect("revert data")).name
    };
    assert_eq!(
        name(
            m.finalOutput(U256::ZERO, rec.clone(), zkopml_chain::pack_values(&[-1, 0]))
                .call()
                .await
        ),
        "BadOutput"
    );
    let mut forged = rec;
    forged.bond += U256::from(1);
    assert_eq!(
        name(
            m.finalOutput(U256::ZERO, forged, zkopml_chain::pack_values(&output))
                .call()
                .await
        ),
        "WrongRecord"
    );
    assert_eq!(
        owner.honest_path_txs(0).await.unwrap(),
        [
            ("requestInference", rq_tx.hash),
            ("commitResult", commit.hash),
            ("submitResult", sub.hash),
            ("claim", c.hash)
        ]
    );

    // request 1: by CID, with the inline output; finalized by anyone, credited
    let now = owner.timestamp().await.unwrap();
    let input1 = [1, 2, 3, 4];
    let rq1_tx = requester
        .request_inference_by_root(
            0,
            boundary_chunks_root(&input_meta(), &input1),
            "cid-input-1",
            now + 3600,
            U256::from(FEE),
        )
        .await
        .unwrap();
    assert_eq!(rq1_tx.value, 1);
    let rq1 = owner.request_record(1).await.unwrap();
    // the same tensor root as the inline input would have
    assert_eq!(rq1.input_root, boundary_root(&input_meta(), &input1));
    assert_eq!(
        owner.inline_input(1, Some(rq1_tx.hash)).await.unwrap(),
        None
    );
    assert_eq!(owner.inline_input(1, None).await.unwrap(), None);
    let output1 = [11, -12];
    let out1 = boundary_root(&output_meta(), &output1);
    let ans1 = answer_of(
        hash_pair(rq1.input_root, out1),
        out1,
        &[rq1.input_root],
        &output1,
    );
    let commit1 = submitter.commit_result(1, ans1.final_root).await.unwrap();
    let sub1 = submitter.submit_result(1, &ans1, bond).await.unwrap();
    assert_eq!(sub1.value, 1, "nonces count per request");
    let (res1, _, _) = owner.result_record(1).await.unwrap().unwrap();
    assert_eq!(
        owner.inline_output(1, 1, Some(sub1.hash)).await.unwrap(),
        Some(output1.to_vec())
    );
    advance(&owner, WINDOW + 1).await;
    // the records of one request do not fit another
    assert_eq!(
        revert_name(owner.finalize(1, &rq, &res1).await),
        "WrongRecord"
    );
    assert_eq!(
        revert_name(owner.finalize(1, &rq1, &res).await),
        "WrongRecord"
    );
    let fin = owner.finalize(1, &rq1, &res1).await.unwrap();
    assert_eq!(owner.final_output(1).await.unwrap(), output1.to_vec());
    assert_eq!(
        owner.credits(submitter.address()).await.unwrap(),
        U256::from(FEE + SUBMITTER_BOND)
    );
    assert_eq!(
        owner.honest_path_txs(1).await.unwrap(),
        [
            ("requestInferenceByRoot", rq1_tx.hash),
            ("commitResult", commit1.hash),
            ("submitResult", sub1.hash),
            ("finalize", fin.hash)
        ]
    );

    let evs = stream.poll().await.unwrap();
    assert_strictly_ordered(&evs);
    assert_eq!(
        names(&evs),
        [
            "InferenceRequested",
            "ResultCommitted",
            "ResultSubmitted",
            "ResultFinalized", // claim: paid at once, nothing credited
            "InferenceRequested",
            "ResultCommitted",
            "ResultSubmitted",
            "ResultFinalized",
            "Credited"
        ]
    );
}

/// A contract as requester and submitter (a forwarder that passes its calldata and value on to
/// the manager): its inline input and output are in no calldata to the manager, so the manager
/// emits InferenceInput and ResultOutput, and `inline_input`, `inline_output` and `final_output`
/// read them from there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contract_caller_input_and_output_from_events() {
    use alloy::network::TransactionBuilder;
    use alloy::primitives::{Address, Bytes};
    use alloy::rpc::types::{TransactionReceipt, TransactionRequest};
    use alloy::sol_types::SolCall;
    use zkopml_chain::bindings::InferenceManager as M;

    let anvil = Anvil::start();
    let owner = deploy(&anvil).await;
    let sender = owner.with_private_key(&funded_key(&owner).await).unwrap();
    owner.register(&one_op_registration(1)).await.unwrap();
    let manager = owner.deployment().manager;

    // runtime: copy the calldata, CALL(gas, manager, callvalue, ...), bubble the return data or
    // the revert; the init code returns the 46-byte runtime that follows its 10 bytes
    let mut runtime = vec![0x36, 0x5f, 0x5f, 0x37, 0x5f, 0x5f, 0x36, 0x5f, 0x34, 0x73];
    runtime.extend_from_slice(manager.as_slice());
    runtime.extend_from_slice(&[
        0x5a, 0xf1, 0x3d, 0x5f, 0x5f, 0x3e, 0x60, 0x2a, 0x57, 0x3d, 0x5f, 0xfd, 0x5b, 0x3d, 0x5f,
        0xf3,
    ]);
    assert_eq!(runtime.len(), 0x2e);
    let mut code = vec![0x60, 0x2e, 0x60, 0x0a, 0x5f, 0x39, 0x60, 0x2e, 0x5f, 0xf3];
    code.extend_from_slice(&runtime);
    let deployed = sender
        .provider()
        .send_transaction(TransactionRequest::default().with_deploy_code(Bytes::from(code)))
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    let fwd: Address = deployed.contract_address.expect("a contract");
    let via = |data: Vec<u8>, value: U256| {
        let sender = sender.clone();
        async move {
            let tx = TransactionRequest::default()
                .with_to(fwd)
                .with_input(Bytes::from(data))
                .with_value(value);
            let r: TransactionReceipt = sender
                .provider()
                .send_transaction(tx)
                .await
                .unwrap()
                .get_receipt()
                .await
                .unwrap();
            assert!(r.status(), "the forwarded call succeeds");
            r
        }
    };

    // the request, by the forwarder
    let now = owner.timestamp().await.unwrap();
    let input = [3, -1, 4, -1];
    let rq_r = via(
        M::requestInferenceCall {
            modelId: U256::ZERO,
            input: zkopml_chain::pack_values(&input),
            deadline: now + 3600,
        }
        .abi_encode(),
        U256::from(FEE),
    )
    .await;
    let rq = owner.request_record(0).await.unwrap();
    assert_eq!(
        rq,
        RequestRecord {
            requester: fwd,
            fee: U256::from(FEE),
            input_root: boundary_root(&input_meta(), &input),
        }
    );
    // the transaction called the forwarder, not the manager: the input comes from the event
    assert_eq!(
        owner
            .inline_input(0, Some(rq_r.transaction_hash))
            .await
            .unwrap(),
        Some(input.to_vec())
    );
    assert_eq!(
        owner.inline_input(0, None).await.unwrap(),
        Some(input.to_vec())
    );

    // the result, by the forwarder, with the output inline
    let output = [2, -7];
    let out_root = boundary_root(&output_meta(), &output);
    let final_root = hash_pair(rq.input_root, out_root);
    let m = M::new(manager, owner.provider().clone());
    let commitment = m
        .resultCommitment(U256::ZERO, final_root, fwd)
        .call()
        .await
        .unwrap();
    let commit_r = via(M::commitResultCall { commitment }.abi_encode(), U256::ZERO).await;
    let sub_r = via(
        M::submitResultCall {
            requestId: U256::ZERO,
            finalRoot: final_root,
            outputRoot: out_root,
            outputPath: vec![rq.input_root],
            output: zkopml_chain::pack_values(&output),
        }
        .abi_encode(),
        U256::from(SUBMITTER_BOND),
    )
    .await;
    let (res, nonce, res_tx) = owner.result_record(0).await.unwrap().unwrap();
    assert_eq!(
        (res.submitter, res.output_root, nonce, res_tx),
        (fwd, out_root, 1, Some(sub_r.transaction_hash))
    );
    assert_eq!(
        owner.inline_output(0, 1, res_tx).await.unwrap(),
        Some(output.to_vec())
    );
    assert_eq!(
        owner.inline_output(0, 1, None).await.unwrap(),
        Some(output.to_vec())
    );
    assert_eq!(
        owner.inline_output(0, 2, None).await.unwrap(),
        None,
        "no such nonce"
    );

    advance(&owner, WINDOW + 1).await;
    let fin = owner.finalize(0, &rq, &res).await.unwrap();
    assert_eq!(owner.final_output(0).await.unwrap(), output.to_vec());
    assert_eq!(
        owner.credits(fwd).await.unwrap(),
        U256::from(FEE + SUBMITTER_BOND)
    );
    assert_eq!(
        owner.honest_path_txs(0).await.unwrap(),
        [
            ("requestInference", rq_r.transaction_hash),
            ("commitResult", commit_r.transaction_hash),
            ("submitResult", sub_r.transaction_hash),
            ("finalize", fin.hash)
        ]
    );
    let evs = owner.events().poll().await.unwrap();
    assert_eq!(
        names(&evs)[4..],
        [
            "InferenceRequested",
            "InferenceInput",
            "ResultCommitted",
            "ResultSubmitted",
            "ResultOutput",
            "ResultFinalized",
            "Credited"
        ]
    );
}

/// A game without proofs: turn and phase errors, a clock running out, claimTimeout; the
/// rejected result reopens the request and it is refunded; everyone withdraws.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn game_timeout_reject_refund() {
    let anvil = Anvil::start();
    let owner = deploy(&anvil).await;
    let requester = owner.with_private_key(KEY1).unwrap();
    let submitter = owner.with_private_key(&funded_key(&owner).await).unwrap();
    let challenger = owner.with_private_key(&funded_key(&owner).await).unwrap();
    let mut stream = owner.events();

    owner.register(&one_op_registration(1)).await.unwrap();
    let now = owner.timestamp().await.unwrap();
    requester
        .request_inference_by_root(
            0,
            B256::repeat_byte(0x11),
            "cid-input",
            now + 100,
            U256::from(FEE),
        )
        .await
        .unwrap();
    let rq = owner.request_record(0).await.unwrap();
    // the tensor root of a stored input: the registered geometry over the requester's chunks root
    assert_eq!(
        rq.input_root,
        hash_pair(input_meta().meta_hash(), B256::repeat_byte(0x11))
    );
    // any output with its path under a final root made for it
    let output = [0, 0];
    let out_root = boundary_root(&output_meta(), &output);
    let final_root = hash_pair(rq.input_root, out_root);
    submitter
        .answer(
            0,
            &answer_of(final_root, out_root, &[rq.input_root], &output),
            U256::from(SUBMITTER_BOND),
        )
        .await
        .unwrap();
    let (res, _, _) = owner
        .result_record(0)
        .await
        .unwrap()
        .expect("a live result");

    let g = challenger
        .challenge(
            0,
            &rq,
            &res,
            B256::repeat_byte(0xee),
            U256::from(CHALLENGER_BOND),
        )
        .await
        .unwrap();
    assert_eq!(g.value, 0);
    // a second, independent game against the same result
    let challenger2 = owner.with_private_key(&funded_key(&owner).await).unwrap();
    let g2 = challenger2
        .challenge(
            0,
            &rq,
            &res,
            B256::repeat_byte(0xdd),
            U256::from(CHALLENGER_BOND),
        )
        .await
        .unwrap();
    assert_eq!(g2.value, 1);
    assert_eq!(owner.get_request(0).await.unwrap().active_games, 2);
    assert_eq!(owner.game_count().await.unwrap(), 2);
    let game = owner.get_game(0).await.unwrap();
    assert_eq!(
        game.phase,
        Phase::DefenderReveal,
        "one op: straight to the reveal"
    );
    assert_eq!(
        (game.defender, game.challenger),
        (submitter.address(), challenger.address())
    );
    assert_eq!(
        (
            game.lo,
            game.hi,
            game.num_ops,
            game.request_id,
            game.result_nonce
        ),
        (0, 1, 1, 0, 1)
    );
    assert_eq!(game.agreed_root, state_root0(rq.input_root, 1));
    assert_eq!(game.defender_root, final_root);
    assert_eq!(game.bond, U256::from(CHALLENGER_BOND));
    assert_eq!(game.clock_budget, CLOCK);
    assert_eq!(owner.positions(0).await.unwrap(), Vec::<u32>::new());
    let c = owner.clocks(0).await.unwrap();
    assert_eq!(c.challenger_left, CLOCK);
    assert!(c.defender_left <= CLOCK);

    // turn, phase and argument checks, by name
    let meta = output_meta();
    let mp = [input_meta().meta_hash()];
    assert_eq!(
        revert_name(
            challenger
                .reveal_tensor(0, &meta, B256::ZERO, &mp, &[B256::ZERO])
                .await
        ),
        "NotYourTurn"
    );
    assert_eq!(
        revert_name(submitter.post_roots(0, &[]).await),
        "WrongPhase"
    );
    assert_eq!(
        revert_name(
            submitter
                .reveal_tensor(0, &meta, B256::ZERO, &[B256::ZERO], &[B256::ZERO])
                .await
        ),
        "BadMetaProof"
    );
    assert_eq!(
        revert_name(
            submitter
                .reveal_tensor(0, &meta, B256::ZERO, &mp, &[B256::ZERO])
                .await
        ),
        "BadUpdateProof"
    );
    assert_eq!(
        revert_name(challenger.reveal_counter_tensor(0, B256::ZERO, &[]).await),
        "WrongPhase"
    );
    assert_eq!(
        revert_name(challenger.post_counter_roots(0, &[], &[]).await),
        "WrongPhase"
    );
    assert_eq!(
        revert_name(submitter.post_nodes(0, &[]).await),
        "WrongPhase"
    );
    assert_eq!(
        revert_name(challenger.post_counter_nodes(0, &[], &[]).await),
        "WrongPhase"
    );
    assert_eq!(revert_name(owner.resolve_padding(0).await), "WrongPhase");
    assert_eq!(revert_name(owner.claim_timeout(0).await), "NotExpired");
    assert_eq!(revert_name(owner.finalize(0, &rq, &res).await), "TooEarly");

    // the defender's clock runs out
    advance(&owner, CLOCK + 1).await;
    assert_eq!(owner.clocks(0).await.unwrap().defender_left, 0);
    assert_eq!(
        revert_name(
            submitter
                .reveal_tensor(0, &meta, B256::ZERO, &mp, &[B256::ZERO])
                .await
        ),
        "ClockExpired"
    );
    let t = owner.claim_timeout(0).await.unwrap();
    assert!(t.gas_used > 0);
    let game = owner.get_game(0).await.unwrap();
    assert_eq!(
        (game.phase, game.outcome),
        (Phase::Resolved, Outcome::ChallengerWon)
    );
    assert_eq!(revert_name(owner.claim_timeout(0).await), "WrongPhase");

    // the other game goes on after the rejection: its defender is out of time too, and its
    // challenger gets its bond and its share (half the bond is burned, half split by two games)
    assert!(!owner.is_result_live(0, 1).await.unwrap());
    owner.claim_timeout(1).await.unwrap();
    assert_eq!(
        owner.get_game(1).await.unwrap().outcome,
        Outcome::ChallengerWon
    );
    let share = SUBMITTER_BOND / 4;
    assert_eq!(
        challenger2.withdraw().await.unwrap().value,
        U256::from(CHALLENGER_BOND + share)
    );

    // rejected: the request reopens until its deadline, then refunds
    let st = owner.get_request(0).await.unwrap();
    assert_eq!(st.status, Status::Open);
    assert_eq!((st.active_games, st.challenge_deadline), (0, 0));
    // the rejected result has no record any more
    assert_eq!(owner.result_hash(0).await.unwrap(), B256::ZERO);
    assert_eq!(owner.result_record(0).await.unwrap(), None);
    assert_eq!(
        revert_name(owner.finalize(0, &rq, &res).await),
        "WrongStatus"
    );
    // the requester's deadline (+100 s) and its cap (+ the window) have passed during the game:
    // the reopened request is refunded at once, to the requester of its record only
    assert_eq!(st.deadline, st.deadline_cap);
    assert!(st.deadline < owner.timestamp().await.unwrap());
    let forged = RequestRecord {
        requester: challenger.address(),
        ..rq.clone()
    };
    assert_eq!(revert_name(owner.refund(0, &forged).await), "WrongRecord");
    owner.refund(0, &rq).await.unwrap();
    assert_eq!(owner.get_request(0).await.unwrap().status, Status::Refunded);
    assert_eq!(revert_name(owner.refund(0, &rq).await), "WrongStatus");
    assert_eq!(
        challenger.withdraw().await.unwrap().value,
        U256::from(CHALLENGER_BOND + share)
    );
    assert_eq!(requester.withdraw().await.unwrap().value, U256::from(FEE));
    // what is left is the burned half of the bond
    assert_eq!(
        owner.balance(owner.deployment().manager).await.unwrap(),
        U256::from(SUBMITTER_BOND - 2 * share)
    );

    let evs = stream.poll().await.unwrap();
    assert_strictly_ordered(&evs);
    assert_eq!(
        names(&evs),
        [
            "GameSet",
            "ModelRegistered",
            "ModelGeometry",
            "ModelParams",
            "InferenceRequested",
            "ResultCommitted",
            "ResultSubmitted",
            "GameCreated",
            "ChallengeOpened",
            "GameCreated",
            "ChallengeOpened",
            // claimTimeout(0)
            "Burned",
            "ResultRejected",
            "RequestReopened",
            "Credited",
            "GameSettled",
            "GameResolved",
            // claimTimeout(1)
            "Credited",
            "GameSettled",
            "GameResolved",
            "Withdrawn",
            // refund(0)
            "Credited",
            "RequestRefunded",
            "Withdrawn",
            "Withdrawn"
        ]
    );
    let resolved: Vec<(U256, Outcome)> = evs
        .iter()
        .filter_map(|r| match &r.event {
            Event::GameResolved(e) => Some((e.gameId, Outcome::try_from(e.outcome).unwrap())),
            _ => None,
        })
        .collect();
    assert_eq!(
        resolved,
        [
            (U256::ZERO, Outcome::ChallengerWon),
            (U256::from(1), Outcome::ChallengerWon)
        ]
    );
    match &evs[4].event {
        Event::InferenceRequested(e) => assert_eq!(e.inputCid, "cid-input"),
        other => panic!("{other:?}"),
    }
}

/// The stream retries while anvil is down, then catches up without duplicates or gaps; a
/// saved cursor resumes exactly after the last delivered event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_stream_survives_restart() {
    let dir = std::env::temp_dir().join(format!("zkopml-chain-restart-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let state = dir.join("anvil-state.json");
    let _ = std::fs::remove_file(&state);
    let mut anvil = Anvil::start_on(free_port(), Some(state.clone()));
    let owner = deploy(&anvil).await;
    let cfg = StreamConfig {
        max_block_range: 3, // several ranges per catch-up
        poll_interval: Duration::from_millis(50),
        initial_backoff: Duration::from_millis(50),
        max_backoff: Duration::from_millis(400),
        ..StreamConfig::default()
    };
    let mut stream = owner.events().with_config(cfg.clone());

    // phase A: delivered before the outage
    owner.register(&one_op_registration(1)).await.unwrap();
    let a = stream.poll().await.unwrap();
    assert_eq!(
        names(&a),
        ["GameSet", "ModelRegistered", "ModelGeometry", "ModelParams"]
    );
    let cursor_a = stream.cursor();
    assert_eq!(cursor_a, Cursor::at_block(stream.cursor().block));

    // phase B: emitted, not yet read, then the node goes down
    owner.register(&one_op_registration(2)).await.unwrap();
    owner.set_active(1, false).await.unwrap();
    anvil.stop();
    let dead = owner.block_number().await.unwrap_err();
    assert!(dead.is_no_rpc(), "{dead}");

    // the stream keeps trying while the node is down
    let reader = tokio::spawn(async move {
        let mut got = Vec::new();
        while got.len() < 9 {
            got.push(stream.next().await.unwrap());
        }
        (stream, got)
    });
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(!reader.is_finished());
    anvil.restart();

    // phase C: after the restart
    owner.set_active(1, true).await.unwrap();
    owner.register(&one_op_registration(3)).await.unwrap();
    owner.set_active(0, false).await.unwrap();
    let (mut stream, got) = tokio::time::timeout(Duration::from_secs(20), reader)
        .await
        .expect("the stream caught up")
        .unwrap();
    assert_eq!(
        names(&got),
        [
            "ModelRegistered",
            "ModelGeometry",
            "ModelParams",
            "ModelActiveSet",
            "ModelActiveSet",
            "ModelRegistered",
            "ModelGeometry",
            "ModelParams",
            "ModelActiveSet"
        ]
    );
    let mut all = a.clone();
    all.extend(got.iter().cloned());
    assert_strictly_ordered(&all);
    let st = stream.stats();
    assert!(st.outages >= 1 && st.retries >= 1, "{st:?}");
    assert!(stream.poll().await.unwrap().is_empty(), "nothing twice");

    // a restarted process: resume from a saved cursor (after the first event of phase B)
    let saved = dir.join("cursor.json");
    got[0].cursor_after().save(&saved).unwrap();
    let mut resumed = EventStream::new(&anvil.url(), owner.deployment())
        .unwrap()
        .with_config(cfg)
        .from_cursor(Cursor::load(&saved).unwrap());
    let rest = resumed.poll().await.unwrap();
    assert_eq!(rest, got[1..].to_vec());
    // and from phase A's cursor, exactly phase B + C
    let mut from_a = EventStream::new(&anvil.url(), owner.deployment())
        .unwrap()
        .from_cursor(cursor_a);
    assert_eq!(from_a.poll().await.unwrap(), got);
    drop(anvil);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A dead endpoint names the URL.
#[tokio::test]
async fn dead_endpoint_names_the_url() {
    let url = format!("http://127.0.0.1:{}", free_port());
    let e = Deployment::deploy(&url, KEY0).await.unwrap_err();
    assert!(e.is_no_rpc(), "{e:?}");
    assert!(
        e.to_string().starts_with(&format!("no RPC at {url}")),
        "{e}"
    );

    let d = Deployment {
        chain_id: 31337,
        deployer: Default::default(),
        start_block: 0,
        poseidon: Default::default(),
        verifier: Default::default(),
        registry: Default::default(),
        manager: Default::default(),
        game: Default::default(),
    };
    let e = Chain::builder()
        .rpc_url(&url)
        .private_key(KEY0)
        .deployment(d.clone())
        .connect()
        .await
        .unwrap_err();
    assert!(
        e.to_string().starts_with(&format!("no RPC at {url}")),
        "{e}"
    );

    let mut s = EventStream::new(&url, &d)
        .unwrap()
        .with_config(StreamConfig {
            initial_backoff: Duration::from_millis(10),
            give_up_after: Some(Duration::from_millis(100)),
            ..StreamConfig::default()
        });
    let e = s.poll().await.unwrap_err();
    assert!(
        e.to_string().starts_with(&format!("no RPC at {url}")),
        "{e}"
    );
    assert!(s.stats().retries >= 1);

    // configuration errors are not RPC errors
    let e = Chain::builder()
        .rpc_url(&url)
        .private_key("0x12")
        .deployment(d)
        .connect()
        .await
        .unwrap_err();
    assert!(matches!(e, ChainError::Config(_)), "{e}");
}

/// A transaction that passes estimation but reverts when mined (another one got there first in
/// the same block) still comes back as a decoded revert.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mined_revert_is_decoded() {
    let anvil = Anvil::start();
    let owner = deploy(&anvil).await;
    let submitter = owner.with_private_key(&funded_key(&owner).await).unwrap();
    let challenger = owner.with_private_key(&funded_key(&owner).await).unwrap();
    let other = owner.with_private_key(KEY1).unwrap();
    owner.register(&one_op_registration(1)).await.unwrap();
    let now = owner.timestamp().await.unwrap();
    owner
        .request_inference(0, &[1, 2, 3, 4], now + 100, U256::from(FEE))
        .await
        .unwrap();
    let rq = owner.request_record(0).await.unwrap();
    let out_root = boundary_root(&output_meta(), &[7, 8]);
    submitter
        .answer(
            0,
            &answer_of(
                hash_pair(rq.input_root, out_root),
                out_root,
                &[rq.input_root],
                &[7, 8],
            ),
            U256::from(SUBMITTER_BOND),
        )
        .await
        .unwrap();
    let (res, _, _) = owner.result_record(0).await.unwrap().unwrap();
    challenger
        .challenge(
            0,
            &rq,
            &res,
            B256::repeat_byte(3),
            U256::from(CHALLENGER_BOND),
        )
        .await
        .unwrap();
    advance(&owner, CLOCK + 1).await;

    // both claim the timeout in the same block: both pass estimation, the second reverts mined
    let p = owner.provider();
    let _: serde_json::Value = p
        .raw_request("evm_setAutomine".into(), (false,))
        .await
        .unwrap();
    let (c1, c2) = (challenger.clone(), other.clone());
    let t1 = tokio::spawn(async move { c1.claim_timeout(0).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let t2 = tokio::spawn(async move { c2.claim_timeout(0).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let _: serde_json::Value = p.raw_request("evm_mine".into(), ()).await.unwrap();
    let (r1, r2) = (t1.await.unwrap(), t2.await.unwrap());
    let _: serde_json::Value = p
        .raw_request("evm_setAutomine".into(), (true,))
        .await
        .unwrap();
    let ok = r1.expect("the first claim wins");
    let e = r2.expect_err("the second claim reverts");
    assert_eq!(e.revert_name(), Some("WrongPhase"), "{e}");
    assert_eq!(e.revert().unwrap().to_string(), "WrongPhase(8)"); // Phase.Resolved
    assert!(e.to_string().starts_with("claimTimeout reverted"), "{e}");
    assert_eq!(owner.block_number().await.unwrap(), ok.block_number);
    assert_eq!(
        owner.get_game(0).await.unwrap().outcome,
        Outcome::ChallengerWon
    );
}

/// Every move of the game, with data the contracts accept without proofs: a 2-op model whose
/// middle tensor has 3 chunks (so its chunk tree has a padding leaf), arity 4. The challenger
/// drives the descent onto the padding leaf, where the defender claimed a non-zero digest:
/// `resolvePadding` makes the defender lose.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_dissection_to_padding() {
    use zkopml_chain::{DisputeParams, Reason, Registration, StepProof, TensorMeta};
    let z = B256::ZERO;
    let anvil = Anvil::start();
    let owner = deploy(&anvil).await;
    let submitter = owner.with_private_key(&funded_key(&owner).await).unwrap();
    let challenger = owner.with_private_key(&funded_key(&owner).await).unwrap();
    let mut stream = owner.events();

    let metas = [
        input_meta(),
        TensorMeta {
            dims: vec![9],
            scale: 8,
            chunk_len: 4,
        },
        output_meta(),
    ];
    let mh: Vec<B256> = metas.iter().map(|m| m.meta_hash()).collect();
    let reg = Registration {
        model_hash: B256::repeat_byte(2),
        manifest_cid: "cid-two-ops".into(),
        num_ops: 2,
        circuit_root: B256::repeat_byte(0xc2),
        meta_root: hash_pair(hash_pair(mh[0], mh[1]), hash_pair(mh[2], z)),
        input: metas[0].clone(),
        output: metas[2].clone(),
        input_meta_path: vec![mh[1], hash_pair(mh[2], z)],
        output_meta_path: vec![z, hash_pair(mh[0], mh[1])],
        params: DisputeParams {
            arity: 4,
            max_group: 1,
            clock_budget: CLOCK,
            challenge_window: WINDOW,
            submitter_bond: U256::from(SUBMITTER_BOND),
            challenger_bond: U256::from(CHALLENGER_BOND),
        },
    };
    owner.register(&reg).await.unwrap();
    assert_eq!(owner.dispute_info(0).await.unwrap().1, 2, "stateDepth");
    let now = owner.timestamp().await.unwrap();
    owner
        .request_inference(0, &[1, 2, 3, 4], now + 1000, U256::from(FEE))
        .await
        .unwrap();
    let rq = owner.request_record(0).await.unwrap();
    let input_root = rq.input_root;

    // the defender's slot-1 chunk tree: 3 chunks + a non-zero "padding" leaf
    let (a, b, c, d) = (
        B256::repeat_byte(0xa),
        B256::repeat_byte(0xb),
        B256::repeat_byte(0xc),
        B256::repeat_byte(0xd),
    );
    let chunks_d = hash_pair(hash_pair(a, b), hash_pair(c, d));
    let chunks_c = hash_pair(hash_pair(a, b), hash_pair(c, z));
    let t1 = |chunks: B256| hash_pair(mh[1], chunks);
    let root1 = |chunks: B256| hash_pair(hash_pair(input_root, t1(chunks)), hash_pair(z, z));
    let output = [9, 9];
    let out_root = boundary_root(&metas[2], &output);
    let final_root = hash_pair(hash_pair(input_root, t1(chunks_d)), hash_pair(out_root, z));
    // by root only: a game needs no output values
    submitter
        .answer(
            0,
            &answer_of(
                final_root,
                out_root,
                &[z, hash_pair(input_root, t1(chunks_d))],
                &[],
            ),
            U256::from(SUBMITTER_BOND),
        )
        .await
        .unwrap();
    let (res, _, _) = owner.result_record(0).await.unwrap().unwrap();
    assert_eq!(res.output_root, out_root);
    challenger
        .challenge(
            0,
            &rq,
            &res,
            B256::repeat_byte(0xee),
            U256::from(CHALLENGER_BOND),
        )
        .await
        .unwrap();

    // level 1
    let g = owner.get_game(0).await.unwrap();
    assert_eq!(
        (g.phase, g.lo, g.hi, g.state_depth),
        (Phase::DefenderRoots, 0, 2, 2)
    );
    assert_eq!(owner.positions(0).await.unwrap(), vec![1]);
    assert_eq!(revert_name(submitter.post_roots(0, &[]).await), "BadLength");
    let (rd, rc) = (root1(chunks_d), root1(chunks_c));
    let t = submitter.post_roots(0, &[rd]).await.unwrap();
    assert!(t.gas_used > 0);
    assert_eq!(
        owner.get_game(0).await.unwrap().phase,
        Phase::ChallengerRoots
    );
    assert_eq!(
        revert_name(challenger.post_counter_roots(0, &[rc], &[rc]).await),
        "RootsMismatch"
    );
    challenger
        .post_counter_roots(0, &[rd], &[rc])
        .await
        .unwrap();
    let g = owner.get_game(0).await.unwrap();
    assert_eq!((g.phase, g.lo, g.hi), (Phase::DefenderReveal, 0, 1));
    assert_eq!(
        (g.agreed_root, g.defender_root, g.challenger_root),
        (state_root0(input_root, 2), rd, rc)
    );

    // the disputed op: both reveal slot 1
    let siblings = [input_root, hash_pair(z, z)];
    let meta_path = [mh[0], hash_pair(mh[2], z)];
    submitter
        .reveal_tensor(0, &metas[1], chunks_d, &meta_path, &siblings)
        .await
        .unwrap();
    assert_eq!(
        revert_name(
            challenger
                .reveal_counter_tensor(0, chunks_d, &siblings)
                .await
        ),
        "BadUpdateProof"
    );
    challenger
        .reveal_counter_tensor(0, chunks_c, &siblings)
        .await
        .unwrap();
    let g = owner.get_game(0).await.unwrap();
    assert_eq!(
        (g.phase, g.num_chunks, g.height, g.index),
        (Phase::DefenderNodes, 3, 2, 0)
    );
    assert_eq!(owner.chunk_step(0).await.unwrap(), 2);

    // level 2: one round of 4 nodes reaches the leaves
    assert_eq!(
        revert_name(submitter.post_nodes(0, &[a, b, c, z]).await),
        "BadNodes"
    );
    submitter.post_nodes(0, &[a, b, c, d]).await.unwrap();
    challenger
        .post_counter_nodes(0, &[a, b, c, d], &[a, b, c, z])
        .await
        .unwrap();
    let g = owner.get_game(0).await.unwrap();
    assert_eq!(
        (g.phase, g.height, g.index, g.defender_root),
        (Phase::DefenderProof, 0, 3, d)
    );

    // chunk 3 is padding: no proof; the defender's non-zero digest loses
    let junk = StepProof {
        vk: vec![0u8; 4].into(),
        input_slots: vec![],
        input_chunks: vec![],
        leaf_index: U256::ZERO,
        circuit_path: vec![],
        inputs: vec![],
        output_digest: U256::from(1),
        output_values: Default::default(),
        proof: [U256::ZERO; 8],
    };
    assert_eq!(revert_name(owner.prove_step(0, &junk).await), "IsPadding");
    owner.resolve_padding(0).await.unwrap();
    let g = owner.get_game(0).await.unwrap();
    assert_eq!(
        (g.phase, g.outcome),
        (Phase::Resolved, Outcome::ChallengerWon)
    );

    let evs = stream.poll().await.unwrap();
    assert_strictly_ordered(&evs);
    let game_events: Vec<_> = names(&evs)
        .into_iter()
        .filter(|n| {
            !matches!(
                *n,
                "GameSet"
                    | "ModelRegistered"
                    | "ModelGeometry"
                    | "ModelParams"
                    | "InferenceRequested"
                    | "ResultCommitted"
                    | "ResultSubmitted"
            )
        })
        .collect();
    assert_eq!(
        game_events,
        [
            "GameCreated",
            "ChallengeOpened",
            "RootsPosted",
            "RootsPosted",
            "SegmentNarrowed",
            "TensorRevealed",
            "TensorRevealed",
            "NodesPosted",
            "NodesPosted",
            "ChunkNarrowed",
            "Burned",
            "ResultRejected",
            "RequestReopened",
            "Credited",
            "GameSettled",
            "GameResolved"
        ]
    );
    assert!(evs
        .iter()
        .filter(|r| r.event.source() == zkopml_chain::Source::Game)
        .all(|r| r.event.game_id() == Some(U256::ZERO)));
    match &evs.last().unwrap().event {
        Event::GameResolved(e) => {
            assert_eq!(Reason::try_from(e.reason).unwrap(), Reason::PaddingLeaf);
        }
        other => panic!("{other:?}"),
    }
}
