//! Times MobileNetV2's 1x1 convolution shapes through the f64 kernels (GMAC/s), on a team
//! of T threads (1 unless T says; SHAPE=i runs only the i-th shape): `cargo run --release
//! -p zkopml-exec --example gemm_shapes -- [reps]`.
use std::time::Instant;
use zkopml_exec::kernels::{conv_fused, ConvShape, PreparedConv};

fn main() {
    // (c, m, hw side)
    let shapes = [
        (960usize, 320usize, 7usize),
        (320, 1280, 7),
        (160, 960, 7),
        (960, 160, 7),
        (576, 96, 14),
        (96, 576, 14),
        (64, 384, 14),
        (384, 64, 14),
        (32, 192, 28),
        (192, 32, 28),
    ];
    let reps: usize = std::env::args()
        .nth(1)
        .and_then(|r| r.parse().ok())
        .unwrap_or(300);
    let only: Option<usize> = std::env::var("SHAPE").ok().and_then(|v| v.parse().ok());
    for (i, &(c, m, side)) in shapes.iter().enumerate() {
        if only.is_some_and(|o| o != i) {
            continue;
        }
        let s = ConvShape {
            batch: 1,
            c,
            h: side,
            w: side,
            m,
            kh: 1,
            kw: 1,
            groups: 1,
            oh: side,
            ow: side,
            strides: [1, 1],
            pads: [0, 0],
            dilations: [1, 1],
        };
        let mut seed = 12345u64;
        let mut rnd = |r: i64| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((seed >> 33) as i64 % (2 * r + 1)) - r
        };
        let x: Vec<i32> = (0..c * side * side).map(|_| rnd(1 << 19) as i32).collect();
        let w: Vec<i64> = (0..m * c).map(|_| rnd(1 << 12)).collect();
        let bias: Vec<i64> = (0..m).map(|_| rnd(1 << 20)).collect();
        let prep = PreparedConv::new(&s, &w, &bias);
        let f = || conv_fused(&x, &s, &w, &bias, 24, &prep, true).unwrap();
        let threads: usize = std::env::var("T")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1);
        let mut t: Vec<f64> = zkopml_exec::with_team(threads, || {
            f();
            (0..reps)
                .map(|_| {
                    let t0 = Instant::now();
                    std::hint::black_box(f());
                    t0.elapsed().as_secs_f64()
                })
                .collect()
        });
        t.sort_by(f64::total_cmp);
        let macs = (c * m * side * side) as f64;
        println!("c {c:>4} m {m:>4} {side:>2}x{side:<2}: median {:.3} ms {:>5.1} GMAC/s, best {:>5.1} GMAC/s", t[reps / 2] * 1e3, macs / t[reps / 2] / 1e9, macs / t[0] / 1e9);
    }
}
