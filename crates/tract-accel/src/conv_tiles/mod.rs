//! The multiply-add core shared by [`PointwiseConv`](crate::pointwise::PointwiseConv) and
//! [`SpatialConv`](crate::spatial_conv::SpatialConv): weights packed once in blocks of
//! [`ROWS`] output channels, and a row job that computes, for every output channel `o` and
//! every point `j` of a run,
//!
//! ```text
//! out[o·out_stride + dst_start + j] = act(bias[o] + Σ_t w[o][t] · src[offsets[t] + src_start + j])
//! ```
//!
//! where each tap `t` reads a contiguous run of the source (an input plane for a 1×1
//! convolution; a shifted row of a padded plane for a k×k one). The run is walked in tiles of
//! output channels × points held in registers (8 × 48 with AVX-512F, 4 × 16 with AVX2 and FMA,
//! chosen at run time; see [`simd`]), the bias and SiLU applied before the tile is stored.

/// Output channels per register tile (and per block of packed weights).
pub(crate) const ROWS: usize = 8;

/// Lower clamp of tract-linalg's f32 sigmoid fit, also the floor of SiLU's factor.
const SILU_LOW: f32 = -14.5;

/// Weights as `[out_channels / ROWS (rounded up)][taps][ROWS]` (zero-padded) and a bias per
/// output channel (zero-padded to whole blocks).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PackedWeights {
    pub(crate) taps: usize,
    pub(crate) out_channels: usize,
    packed: Vec<f32>,
    bias: Vec<f32>,
}

impl PackedWeights {
    /// Packs `weights` (`out_channels` rows of `taps` values) and `bias` (`out_channels`
    /// values, one for all, or none).
    pub(crate) fn new(
        out_channels: usize,
        taps: usize,
        weights: &[f32],
        bias: &[f32],
    ) -> Option<Self> {
        if weights.len() != taps * out_channels
            || !(bias.is_empty() || bias.len() == 1 || bias.len() == out_channels)
            || taps == 0
            || out_channels == 0
        {
            return None;
        }
        let blocks = out_channels.div_ceil(ROWS);
        let mut packed = vec![0f32; blocks * taps * ROWS];
        for (o, row) in weights.chunks_exact(taps).enumerate() {
            let (block, lane) = (o / ROWS, o % ROWS);
            for (t, &w) in row.iter().enumerate() {
                packed[(block * taps + t) * ROWS + lane] = w;
            }
        }
        let bias = (0..blocks * ROWS)
            .map(|o| match bias.len() {
                0 => 0.0,
                1 => bias[0],
                _ => bias.get(o).copied().unwrap_or(0.0),
            })
            .collect();
        Some(PackedWeights {
            taps,
            out_channels,
            packed,
            bias,
        })
    }

    fn weight(&self, o: usize, t: usize) -> f32 {
        self.packed[((o / ROWS) * self.taps + t) * ROWS + o % ROWS]
    }
}

/// The vector instructions the tiles use on this CPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Simd {
    /// AVX-512F: tiles of 8 channels × 48 points.
    Avx512,
    /// AVX2 and FMA: tiles of 4 channels × 16 points.
    Avx2,
    /// Neither: plain Rust, far slower than tract (the rewrites stay off).
    None,
}

/// What this CPU has, as tract-linalg sees it: `TRACT_CPU_ISA=-avx512f` (tract-linalg's knob
/// for editing the detected features) takes AVX-512 away from both, so that the AVX2 paths can
/// be compared on an AVX-512 machine.
pub(crate) fn simd() -> Simd {
    static SIMD: std::sync::OnceLock<Simd> = std::sync::OnceLock::new();
    *SIMD.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            let removed = |feature: &str| {
                std::env::var("TRACT_CPU_ISA").is_ok_and(|isa| {
                    isa.split(',')
                        .any(|edit| edit.trim() == format!("-{feature}"))
                })
            };
            let has = |feature: &str| match feature {
                "avx512f" => std::arch::is_x86_feature_detected!("avx512f"),
                "avx2" => std::arch::is_x86_feature_detected!("avx2"),
                _ => std::arch::is_x86_feature_detected!("fma"),
            } && !removed(feature);
            if has("avx512f") {
                return Simd::Avx512;
            }
            if has("avx2") && has("fma") {
                return Simd::Avx2;
            }
        }
        Simd::None
    })
}

/// Whether this CPU has a fast path (AVX-512F, or AVX2 and FMA).
pub(crate) fn fast_path_available() -> bool {
    simd() != Simd::None
}

/// One run of `len` points for every output channel; see the module docs.
pub(crate) struct RowJob<'a> {
    pub(crate) weights: &'a PackedWeights,
    pub(crate) silu: bool,
    /// One offset into `src` per tap.
    pub(crate) offsets: &'a [usize],
    pub(crate) src_start: usize,
    pub(crate) dst_start: usize,
    /// Distance between output channels in `dst`.
    pub(crate) out_stride: usize,
    pub(crate) len: usize,
}

impl RowJob<'_> {
    /// Runs the job.
    ///
    /// # Panics
    /// If a tap or an output channel would reach outside `src` or `dst`: callers build the
    /// offsets from the same geometry as the buffers, so this is a bug, never bad input.
    pub(crate) fn run(&self, src: &[f32], dst: &mut [f32]) {
        let w = self.weights;
        assert_eq!(self.offsets.len(), w.taps, "one offset per tap");
        let furthest = self.offsets.iter().max().copied().unwrap_or(0);
        assert!(
            furthest + self.src_start + self.len <= src.len(),
            "tap outside the source"
        );
        assert!(
            (w.out_channels - 1) * self.out_stride + self.dst_start + self.len <= dst.len(),
            "output channel outside the destination"
        );
        match simd() {
            #[cfg(target_arch = "x86_64")]
            #[allow(unsafe_code)]
            // SAFETY: the CPU has AVX-512F and every read and write stays inside `src` and `dst`
            // (asserted just above).
            Simd::Avx512 => unsafe { avx512::run(self, src, dst) },
            #[cfg(target_arch = "x86_64")]
            #[allow(unsafe_code)]
            // SAFETY: the CPU has AVX2 and FMA and every read and write stays inside `src` and
            // `dst` (asserted just above).
            Simd::Avx2 => unsafe { avx2::run(self, src, dst) },
            _ => self.run_portable(src, dst),
        }
    }

    /// The same computation in plain Rust, for CPUs without AVX2 and for tests.
    pub(crate) fn run_portable(&self, src: &[f32], dst: &mut [f32]) {
        let w = self.weights;
        for o in 0..w.out_channels {
            let out = &mut dst[o * self.out_stride + self.dst_start..][..self.len];
            out.fill(w.bias[o]);
            for (t, &offset) in self.offsets.iter().enumerate() {
                let weight = w.weight(o, t);
                let run = &src[offset + self.src_start..][..self.len];
                for (y, &x) in out.iter_mut().zip(run) {
                    *y += weight * x;
                }
            }
            if self.silu {
                out.iter_mut().for_each(|y| *y = silu(*y));
            }
        }
    }
}

/// Applies [`silu`] to every value, 16 or 8 at a time where the CPU has AVX-512F or AVX2.
pub(crate) fn silu_in_place(values: &mut [f32]) {
    match simd() {
        #[cfg(target_arch = "x86_64")]
        #[allow(unsafe_code)]
        // SAFETY: the CPU has AVX-512F.
        Simd::Avx512 => unsafe { avx512::silu_in_place(values) },
        #[cfg(target_arch = "x86_64")]
        #[allow(unsafe_code)]
        // SAFETY: the CPU has AVX2 and FMA.
        Simd::Avx2 => unsafe { avx2::silu_in_place(values) },
        _ => values.iter_mut().for_each(|y| *y = silu(*y)),
    }
}

/// SiLU as tract-linalg's x86 kernels (and onnxruntime's MLAS) compute it: `f · (0.5 + z·P(z²) /
/// Q(z²))` with `f = max(x, -14.5)`, `z = min(f, 14.5)` and the rational fit of the logistic
/// function both use, evaluated in the same order. Fusing it into a convolution then changes
/// nothing but the convolution's own rounding (an exact `exp`-based SiLU moved one output of the
/// random-weight YOLOv8 golden graph by 1.3e-4 relative).
#[inline(always)]
pub(crate) fn silu(x: f32) -> f32 {
    let f = x.max(SILU_LOW);
    let z = f.min(-SILU_LOW);
    let w = z * z;
    let mut p = SIGMOID_P[0];
    for &a in &SIGMOID_P[1..] {
        p = p.mul_add(w, a);
    }
    let mut q = SIGMOID_Q[0];
    for &b in &SIGMOID_Q[1..] {
        q = q.mul_add(w, b);
    }
    f * ((z * p) / q + 0.5)
}

/// Numerator coefficients of the logistic fit (of `z²`; the odd powers 9 down to 1 of `z`).
#[allow(clippy::excessive_precision)]
const SIGMOID_P: [f32; 5] = [
    4.370_310_125_798_01e-11,
    1.156_273_244_599_42e-07,
    6.085_748_646_001_43e-05,
    8.513_771_333_047_01e-03,
    2.482_879_470_615_29e-01,
];
/// Denominator coefficients of the logistic fit (even powers 10 down to 0).
#[allow(clippy::excessive_precision)]
const SIGMOID_Q: [f32; 6] = [
    6.102_473_897_556_81e-13,
    5.761_021_369_934_27e-09,
    6.291_067_850_170_40e-06,
    1.701_988_173_740_94e-03,
    1.168_176_569_044_53e-01,
    9.931_519_210_231_80e-01,
];

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silu_follows_the_definition_and_floors_the_far_negative_tail() {
        for x in [-14.0f32, -5.0, -1.0, -0.1, 0.0, 0.3, 1.0, 4.0, 10.0, 30.0] {
            let want = x as f64 / (1.0 + (-(x as f64)).exp());
            let got = silu(x) as f64;
            assert!(
                (got - want).abs() <= 1e-6 * want.abs().max(1.0),
                "silu({x}) = {got}, want {want}"
            );
        }
        assert!(silu(-1e6).abs() < 1e-5 && silu(-1e6) <= 0.0);
    }

    #[test]
    fn fast_and_portable_row_jobs_agree_including_silu() {
        // Three taps reading shifted runs of one source, five output channels.
        let weights: Vec<f32> = (0..15).map(|i| i as f32 / 7.0 - 1.0).collect();
        let packed = PackedWeights::new(5, 3, &weights, &[0.5]).unwrap();
        let src: Vec<f32> = (0..200)
            .map(|i| ((i * 37) % 23) as f32 / 5.0 - 2.0)
            .collect();
        for len in [1, 16, 47, 48, 49, 97] {
            for silu in [false, true] {
                let job = RowJob {
                    weights: &packed,
                    silu,
                    offsets: &[0, 1, 50],
                    src_start: 3,
                    dst_start: 2,
                    out_stride: 100,
                    len,
                };
                let mut fast = vec![0f32; 500];
                let mut portable = vec![0f32; 500];
                job.run(&src, &mut fast);
                job.run_portable(&src, &mut portable);
                for (i, (a, b)) in fast.iter().zip(&portable).enumerate() {
                    assert!(
                        (a - b).abs() <= 1e-5 * b.abs().max(1.0),
                        "len {len} at {i}: {a} vs {b}"
                    );
                }
            }
        }
    }
}
