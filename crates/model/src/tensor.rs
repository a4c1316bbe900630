//! A minimal dense tensor: a shape and row-major data. Enough for compile-time folding,
//! the float reference executor and the fixed-point executor.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tensor<T> {
    pub shape: Vec<usize>,
    pub data: Vec<T>,
}

impl<T: Clone> Tensor<T> {
    pub fn new(shape: Vec<usize>, data: Vec<T>) -> Self {
        debug_assert_eq!(shape.iter().product::<usize>(), data.len());
        Tensor { shape, data }
    }
    pub fn filled(shape: Vec<usize>, v: T) -> Self {
        let n = shape.iter().product();
        Tensor {
            shape,
            data: vec![v; n],
        }
    }
    pub fn scalar(v: T) -> Self {
        Tensor {
            shape: vec![],
            data: vec![v],
        }
    }
    pub fn len(&self) -> usize {
        self.data.len()
    }
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
    pub fn rank(&self) -> usize {
        self.shape.len()
    }
    pub fn map<U: Clone>(&self, f: impl Fn(&T) -> U) -> Tensor<U> {
        Tensor {
            shape: self.shape.clone(),
            data: self.data.iter().map(f).collect(),
        }
    }
    /// Permute axes: output axis `i` is input axis `perm[i]`.
    pub fn transpose(&self, perm: &[usize]) -> Tensor<T> {
        let out_shape: Vec<usize> = perm.iter().map(|&p| self.shape[p]).collect();
        let in_strides = strides(&self.shape);
        let mut data = Vec::with_capacity(self.data.len());
        for idx in MultiIndex::new(&out_shape) {
            let off: usize = idx.iter().zip(perm).map(|(&i, &p)| i * in_strides[p]).sum();
            data.push(self.data[off].clone());
        }
        Tensor {
            shape: out_shape,
            data,
        }
    }
    /// Broadcast (numpy rules) to `shape`.
    pub fn broadcast_to(&self, shape: &[usize]) -> Tensor<T> {
        if self.shape == shape {
            return self.clone();
        }
        let offs = broadcast_offsets(&self.shape, shape);
        Tensor {
            shape: shape.to_vec(),
            data: offs.iter().map(|&o| self.data[o].clone()).collect(),
        }
    }
}

pub fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1];
    }
    s
}

/// Numpy broadcast of two shapes, or None if incompatible.
pub fn broadcast_shape(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let r = a.len().max(b.len());
    let mut out = vec![0; r];
    for i in 0..r {
        let da = if i + a.len() >= r {
            a[i + a.len() - r]
        } else {
            1
        };
        let db = if i + b.len() >= r {
            b[i + b.len() - r]
        } else {
            1
        };
        out[i] = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => return None,
        };
    }
    Some(out)
}

/// For each element of `to` (row-major), the offset of the element of a tensor of shape `from`
/// that broadcasts onto it.
pub fn broadcast_offsets(from: &[usize], to: &[usize]) -> Vec<usize> {
    let r = to.len();
    let fs = strides(from);
    let mut eff = vec![0usize; r];
    for i in 0..from.len() {
        let j = i + r - from.len();
        eff[j] = if from[i] == 1 { 0 } else { fs[i] };
    }
    if from == to {
        return (0..to.iter().product()).collect();
    }
    strided_offsets(to, &eff)
}

/// For each multi-index `i` of `shape` (row-major), `Σ_d i[d]·strides[d]`: walks the indices
/// like an odometer, updating the offset by one stride per step (no per-element allocation).
pub fn strided_offsets(shape: &[usize], strides: &[usize]) -> Vec<usize> {
    let n: usize = shape.iter().product();
    let mut out = Vec::with_capacity(n);
    let mut cur = vec![0usize; shape.len()];
    let mut off = 0usize;
    for _ in 0..n {
        out.push(off);
        for d in (0..shape.len()).rev() {
            cur[d] += 1;
            off += strides[d];
            if cur[d] < shape[d] {
                break;
            }
            off -= strides[d] * shape[d];
            cur[d] = 0;
        }
    }
    out
}

/// Iterates over all multi-indices of a shape in row-major order.
pub struct MultiIndex {
    shape: Vec<usize>,
    cur: Vec<usize>,
    done: bool,
}

impl MultiIndex {
    pub fn new(shape: &[usize]) -> Self {
        MultiIndex {
            shape: shape.to_vec(),
            cur: vec![0; shape.len()],
            done: shape.contains(&0),
        }
    }
}

impl Iterator for MultiIndex {
    type Item = Vec<usize>;
    fn next(&mut self) -> Option<Vec<usize>> {
        if self.done {
            return None;
        }
        let out = self.cur.clone();
        let mut i = self.shape.len();
        loop {
            if i == 0 {
                self.done = true;
                break;
            }
            i -= 1;
            self.cur[i] += 1;
            if self.cur[i] < self.shape[i] {
                break;
            }
            self.cur[i] = 0;
        }
        Some(out)
    }
}

/// Normalise a possibly negative ONNX axis.
pub fn norm_axis(axis: i64, rank: usize) -> Option<usize> {
    let r = rank as i64;
    let a = if axis < 0 { axis + r } else { axis };
    (0..r.max(1)).contains(&a).then_some(a as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The offsets by definition: every multi-index, each dimension of size 1 in `from` pinned
    /// to 0, dotted with `from`'s strides.
    fn naive_broadcast(from: &[usize], to: &[usize]) -> Vec<usize> {
        let fs = strides(from);
        let lead = to.len() - from.len();
        MultiIndex::new(to)
            .map(|idx| {
                (0..from.len())
                    .map(|i| {
                        if from[i] == 1 {
                            0
                        } else {
                            idx[lead + i] * fs[i]
                        }
                    })
                    .sum()
            })
            .collect()
    }

    #[test]
    fn broadcast_offsets_match_their_definition() {
        let cases: [(&[usize], &[usize]); 8] = [
            (&[1, 24, 56, 56], &[1, 24, 56, 56]),
            (&[24, 1, 1], &[1, 24, 5, 7]),
            (&[1], &[3, 4]),
            (&[4], &[2, 3, 4]),
            (&[2, 1, 4], &[2, 3, 4]),
            (&[], &[2, 2]),
            (&[3, 1], &[3, 0]),
            (&[1, 1, 1], &[1, 1, 1]),
        ];
        for (from, to) in cases {
            assert_eq!(
                broadcast_offsets(from, to),
                naive_broadcast(from, to),
                "{from:?} -> {to:?}"
            );
        }
    }
}
