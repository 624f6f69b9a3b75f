//! The AVX2 + FMA tiles (8 lanes, 16 registers: 4 channels × 16 points, half a weight block at a
//! time; 4 × 24 spills registers and ran 1.6x slower, 8 × 8 and 8 × 16 were 4 % and 22 % slower
//! in `profile_ops` with `TRACT_CPU_ISA=-avx512f`). [`RowJob::run`] has checked that every tap
//! run and every output channel's run lies inside the slices; a tile covers points
//! `j..j + 8·V` of the run, of which only the first `8·(V-1) + left` are touched (the last
//! vector is masked to `left` lanes), and output channels past `out_channels` are never stored.

#![allow(unsafe_code)]

use super::{RowJob, ROWS, SILU_LOW};
use std::arch::x86_64::*;

/// Vectors of 8 points per full tile.
const VECS: usize = 2;
/// Output channels per tile: half a block of packed weights.
const HALF: usize = 4;

/// # Safety
/// The CPU must have AVX2 and FMA, and the job's runs must lie inside `src` and `dst`.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn run(job: &RowJob, src: &[f32], dst: &mut [f32]) {
    let blocks = job.weights.out_channels.div_ceil(ROWS);
    let mut j = 0;
    while j + 8 * VECS <= job.len {
        for half in 0..(ROWS / HALF) * blocks {
            // SAFETY: points j..j+16 of the run exist.
            unsafe { tile::<VECS, false>(job, src, dst, j, half, 8) };
        }
        j += 8 * VECS;
    }
    while j < job.len {
        let left = (job.len - j).min(8);
        for half in 0..(ROWS / HALF) * blocks {
            // SAFETY: points j..j+left of the run exist and only those are touched.
            unsafe { tile::<1, true>(job, src, dst, j, half, left) };
        }
        j += left;
    }
}

/// A mask selecting the first `left` (0 to 8) lanes for `maskload` / `maskstore`.
#[target_feature(enable = "avx2,fma")]
#[inline]
fn lanes(left: usize) -> __m256i {
    let index = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    _mm256_cmpgt_epi32(_mm256_set1_epi32(left as i32), index)
}

/// One tile: output channels `half·HALF..` (those that exist) × points `j..j + 8·V` of the run,
/// the last vector limited to its first `left` lanes.
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn tile<const V: usize, const MASKED: bool>(
    job: &RowJob,
    src: &[f32],
    dst: &mut [f32],
    j: usize,
    half: usize,
    left: usize,
) {
    let w = job.weights;
    let first = half * HALF;
    if first >= w.out_channels {
        return;
    }
    let taps = w.taps;
    let (block, lane) = (first / ROWS, first % ROWS);
    let weights = w.packed[block * taps * ROWS..][..taps * ROWS].as_ptr();
    let mask = lanes(left);
    let base = src.as_ptr();
    let mut acc = [[_mm256_setzero_ps(); V]; HALF];
    for (t, &offset) in job.offsets.iter().enumerate() {
        // SAFETY: tap t's run lies inside `src` and the tile inside the run.
        let run = unsafe { base.add(offset + job.src_start + j) };
        let mut x = [_mm256_setzero_ps(); V];
        for (v, x) in x.iter_mut().enumerate() {
            *x = if MASKED && v + 1 == V {
                // SAFETY: the caller guarantees the tile's points of this run are in `src`; the
                // masked load touches only the lanes that exist.
                unsafe { _mm256_maskload_ps(run.add(8 * v), mask) }
            } else {
                // SAFETY: an unmasked vector lies wholly inside the tile, whose points of this run
                // are in `src` (the caller's guarantee).
                unsafe { _mm256_loadu_ps(run.add(8 * v)) }
            };
        }
        for (r, acc) in acc.iter_mut().enumerate() {
            // SAFETY: `weights` starts this block's `taps · ROWS` packed values (sliced
            // above), `t < taps` and `lane + r < lane + HALF <= ROWS`.
            let weight = _mm256_set1_ps(unsafe { *weights.add(t * ROWS + lane + r) });
            for (a, &x) in acc.iter_mut().zip(&x) {
                *a = _mm256_fmadd_ps(weight, x, *a);
            }
        }
    }
    let out_base = dst.as_mut_ptr();
    for (r, acc) in acc.iter().enumerate() {
        let o = first + r;
        if o >= w.out_channels {
            break;
        }
        let bias = _mm256_set1_ps(w.bias[o]);
        // SAFETY: output channel o's run lies inside `dst` and the tile inside the run.
        let out = unsafe { out_base.add(o * job.out_stride + job.dst_start + j) };
        for (v, &a) in acc.iter().enumerate() {
            let mut y = _mm256_add_ps(a, bias);
            if job.silu {
                y = silu(y);
            }
            if MASKED && v + 1 == V {
                // SAFETY: the tile's points of channel o's run are in `dst` (the caller's
                // guarantee); the masked store writes only the lanes that exist.
                unsafe { _mm256_maskstore_ps(out.add(8 * v), mask, y) };
            } else {
                // SAFETY: an unmasked vector lies wholly inside the tile, whose points of channel
                // o's run are in `dst` (the caller's guarantee).
                unsafe { _mm256_storeu_ps(out.add(8 * v), y) };
            }
        }
    }
}

/// [`super::silu_in_place`].
#[target_feature(enable = "avx2,fma")]
pub(super) fn silu_in_place(values: &mut [f32]) {
    let mut chunks = values.chunks_exact_mut(8);
    for chunk in &mut chunks {
        // SAFETY: the chunk holds 8 values.
        unsafe {
            let x = _mm256_loadu_ps(chunk.as_ptr());
            _mm256_storeu_ps(chunk.as_mut_ptr(), silu(x));
        }
    }
    let rest = chunks.into_remainder();
    let mask = lanes(rest.len());
    // SAFETY: the mask covers only the `rest.len() < 8` values there are.
    unsafe {
        let x = _mm256_maskload_ps(rest.as_ptr(), mask);
        _mm256_maskstore_ps(rest.as_mut_ptr(), mask, silu(x));
    }
}

/// Numerator coefficients of the logistic fit tract-linalg's `fma_silu_f32` uses (of `z²`; the
/// odd powers 13 down to 1 of `z`), not the same fit as its AVX-512 kernel's.
#[allow(clippy::excessive_precision)]
const SIGMOID_P: [f32; 7] = [
    -4.433_153_405e-18,
    1.169_974_371e-14,
    -1.875_289_645e-11,
    4.257_889_523e-8,
    0.000_048_118_175_76,
    0.008_163_842_030,
    0.249_999_997_1,
];
/// Denominator coefficients of that fit (even powers 6 down to 0).
#[allow(clippy::excessive_precision)]
const SIGMOID_Q: [f32; 4] = [3.922_935_744e-6, 0.001_524_872_358, 0.115_988_674_9, 1.0];

/// SiLU on 8 lanes with the same operations and fit as tract-linalg's `fma_silu_f32`, so that
/// fusing it changes nothing but rounding on CPUs where tract runs that kernel.
#[target_feature(enable = "avx2,fma")]
#[inline]
fn silu(x: __m256) -> __m256 {
    let f = _mm256_max_ps(x, _mm256_set1_ps(SILU_LOW));
    let z = _mm256_min_ps(f, _mm256_set1_ps(-SILU_LOW));
    let w = _mm256_mul_ps(z, z);
    let mut p = _mm256_set1_ps(SIGMOID_P[0]);
    for &a in &SIGMOID_P[1..] {
        p = _mm256_fmadd_ps(p, w, _mm256_set1_ps(a));
    }
    let mut q = _mm256_set1_ps(SIGMOID_Q[0]);
    for &b in &SIGMOID_Q[1..] {
        q = _mm256_fmadd_ps(q, w, _mm256_set1_ps(b));
    }
    let num = _mm256_mul_ps(z, p);
    let sigmoid = _mm256_add_ps(_mm256_div_ps(num, q), _mm256_set1_ps(0.5));
    _mm256_mul_ps(sigmoid, f)
}
