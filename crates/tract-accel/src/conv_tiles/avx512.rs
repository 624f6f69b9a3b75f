//! The AVX-512 tiles (16 lanes, 32 registers: 8 channels × 48 points). [`RowJob::run`] has
//! checked that every tap run and every output channel's run lies inside the slices; a tile
//! covers points `j..j + 16·V` of the run, of which only the first `16·(V-1) + popcount(mask)`
//! are touched, and output channels past `out_channels` are never stored.

#![allow(unsafe_code)]

use super::{RowJob, ROWS, SIGMOID_P, SIGMOID_Q, SILU_LOW};
use std::arch::x86_64::*;

/// Vectors of 16 points per full tile.
const VECS: usize = 3;

/// # Safety
/// The CPU must have AVX-512F, and the job's runs must lie inside `src` and `dst`.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn run(job: &RowJob, src: &[f32], dst: &mut [f32]) {
    let blocks = job.weights.out_channels.div_ceil(ROWS);
    let mut j = 0;
    while j + 16 * VECS <= job.len {
        for block in 0..blocks {
            // SAFETY: points j..j+48 of the run exist.
            unsafe { tile::<VECS>(job, src, dst, j, block, 0xFFFF) };
        }
        j += 16 * VECS;
    }
    while j < job.len {
        let left = (job.len - j).min(16);
        let mask: __mmask16 = if left == 16 {
            0xFFFF
        } else {
            (1u16 << left) - 1
        };
        for block in 0..blocks {
            // SAFETY: points j..j+left of the run exist and the mask covers only those.
            unsafe { tile::<1>(job, src, dst, j, block, mask) };
        }
        j += left;
    }
}

/// One tile: output channels `block·ROWS..` (those that exist) × points `j..j + 16·V` of
/// the run, the last vector limited to `mask`.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn tile<const V: usize>(
    job: &RowJob,
    src: &[f32],
    dst: &mut [f32],
    j: usize,
    block: usize,
    mask: __mmask16,
) {
    let w = job.weights;
    let taps = w.taps;
    let weights = w.packed[block * taps * ROWS..][..taps * ROWS].as_ptr();
    let base = src.as_ptr();
    let mut acc = [[_mm512_setzero_ps(); V]; ROWS];
    for (t, &offset) in job.offsets.iter().enumerate() {
        // SAFETY: tap t's run lies inside `src` and the tile inside the run.
        let run = unsafe { base.add(offset + job.src_start + j) };
        let mut x = [_mm512_setzero_ps(); V];
        for (v, x) in x.iter_mut().enumerate() {
            *x = if v + 1 == V {
                // SAFETY: the caller guarantees the tile's points of this run are in `src`; the
                // masked load touches only the lanes that exist.
                unsafe { _mm512_maskz_loadu_ps(mask, run.add(16 * v)) }
            } else {
                // SAFETY: an unmasked vector lies wholly inside the tile, whose points of this run
                // are in `src` (the caller's guarantee).
                unsafe { _mm512_loadu_ps(run.add(16 * v)) }
            };
        }
        for (r, acc) in acc.iter_mut().enumerate() {
            // SAFETY: `weights` starts this block's `taps · ROWS` packed values (sliced
            // above), `t < taps` and `r < ROWS`.
            let weight = _mm512_set1_ps(unsafe { *weights.add(t * ROWS + r) });
            for (a, &x) in acc.iter_mut().zip(&x) {
                *a = _mm512_fmadd_ps(weight, x, *a);
            }
        }
    }
    let out_base = dst.as_mut_ptr();
    for (r, acc) in acc.iter().enumerate() {
        let o = block * ROWS + r;
        if o >= w.out_channels {
            break;
        }
        let bias = _mm512_set1_ps(w.bias[o]);
        // SAFETY: output channel o's run lies inside `dst` and the tile inside the run.
        let out = unsafe { out_base.add(o * job.out_stride + job.dst_start + j) };
        for (v, &a) in acc.iter().enumerate() {
            let mut y = _mm512_add_ps(a, bias);
            if job.silu {
                y = silu(y);
            }
            if v + 1 == V {
                // SAFETY: the tile's points of channel o's run are in `dst` (the caller's
                // guarantee); the masked store writes only the lanes that exist.
                unsafe { _mm512_mask_storeu_ps(out.add(16 * v), mask, y) };
            } else {
                // SAFETY: an unmasked vector lies wholly inside the tile, whose points of channel
                // o's run are in `dst` (the caller's guarantee).
                unsafe { _mm512_storeu_ps(out.add(16 * v), y) };
            }
        }
    }
}

/// [`super::silu_in_place`].
#[target_feature(enable = "avx512f")]
pub(super) fn silu_in_place(values: &mut [f32]) {
    let mut chunks = values.chunks_exact_mut(16);
    for chunk in &mut chunks {
        // SAFETY: the chunk holds 16 values.
        unsafe {
            let x = _mm512_loadu_ps(chunk.as_ptr());
            _mm512_storeu_ps(chunk.as_mut_ptr(), silu(x));
        }
    }
    let rest = chunks.into_remainder();
    let mask: __mmask16 = (1u16 << rest.len()) - 1;
    // SAFETY: the mask covers only the `rest.len() < 16` values there are.
    unsafe {
        let x = _mm512_maskz_loadu_ps(mask, rest.as_ptr());
        _mm512_mask_storeu_ps(rest.as_mut_ptr(), mask, silu(x));
    }
}

/// [`super::silu`] on 16 lanes (the same operations as tract-linalg's `avx512_silu_f32`).
#[target_feature(enable = "avx512f")]
#[inline]
fn silu(x: __m512) -> __m512 {
    let f = _mm512_max_ps(x, _mm512_set1_ps(SILU_LOW));
    let z = _mm512_min_ps(f, _mm512_set1_ps(-SILU_LOW));
    let w = _mm512_mul_ps(z, z);
    let mut p = _mm512_set1_ps(SIGMOID_P[0]);
    for &a in &SIGMOID_P[1..] {
        p = _mm512_fmadd_ps(p, w, _mm512_set1_ps(a));
    }
    let mut q = _mm512_set1_ps(SIGMOID_Q[0]);
    for &b in &SIGMOID_Q[1..] {
        q = _mm512_fmadd_ps(q, w, _mm512_set1_ps(b));
    }
    let num = _mm512_mul_ps(z, p);
    let sigmoid = _mm512_add_ps(_mm512_div_ps(num, q), _mm512_set1_ps(0.5));
    _mm512_mul_ps(sigmoid, f)
}
