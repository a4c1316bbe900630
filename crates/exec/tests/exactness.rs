//! Exactness of the executor's integer arithmetic (issue 19, item 9): the circuits compute
//! every rescale over the integers, so the executor must give the same value for every input
//! its types allow, or refuse. Each test compares a kernel with an i128 (or analytic)
//! reference on extreme values. Security regression tests: keep them.

use zkopml_exec::{run_op, ExecError};
use zkopml_model::{DType, QNode, QOp, QOperand, Tensor, TensorSpec};

fn node(op: QOp, inputs: Vec<QOperand>, out_shape: Vec<usize>) -> QNode {
    QNode { name: "t".into(), onnx_op: "t".into(), op, inputs, out: TensorSpec::new(out_shape, DType::Float, 0), macs: 0 }
}
fn t(shape: Vec<usize>, data: Vec<i32>) -> Tensor<i32> {
    Tensor::new(shape, data)
}
fn s(i: usize) -> QOperand {
    QOperand::Slot(i)
}

/// The attack of the finding: a dynamic MatMul whose accumulator lies just below 2^63, with a
/// shift above 32. `x + 2^(shift-1)` wrapped in i64, so the executor stored -2^30 where the
/// circuit (exact: floor((acc + 2^32) / 2^33)) proves 2^30, and an honest submitter lost.
#[test]
fn matmul_accumulator_near_2_63_rescales_exactly() {
    // acc = (-2^31)(-2^31) + (-2^31 + 1)(-2^31 + 1) = 2^63 - 2^32 + 1
    let a = t(vec![1, 2], vec![i32::MIN, i32::MIN + 1]);
    let b = t(vec![2, 1], vec![i32::MIN, i32::MIN + 1]);
    let acc: i128 = 2 * (1i128 << 62) - (1i128 << 32) + 1;
    let want = ((acc + (1i128 << 32)) >> 33) as i32; // 2^30
    assert_eq!(want, 1 << 30);
    let y = run_op(2, &node(QOp::MatMul { shift: 33 }, vec![s(0), s(1)], vec![1, 1]), &[a, b]).unwrap();
    assert_eq!(y.data, vec![want]);
}

/// An accumulator of 2^63 exactly (beyond i64): the executor refused ("accumulator exceeds 64
/// bits") a value whose rescale, 2^30, the circuit proves.
#[test]
fn matmul_accumulator_of_2_63_is_not_refused() {
    let a = t(vec![1, 2], vec![i32::MIN, i32::MIN]);
    let y = run_op(2, &node(QOp::MatMul { shift: 33 }, vec![s(0), s(1)], vec![1, 1]), &[a, t(vec![2, 1], vec![i32::MIN, i32::MIN])]);
    match y {
        Ok(y) => assert_eq!(y.data, vec![1 << 30]),
        Err(e) => panic!("refused an exact result in range: {e}"),
    }
    let _ = ExecError::Input(String::new());
}
