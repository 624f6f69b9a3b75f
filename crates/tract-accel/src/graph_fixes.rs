//! Rewrites of the tract graph that replace its slow paths in tract 0.23 by this crate's own
//! operators. [`optimize_with`] applies those a [`Rewrites`] selects, each at the stage it needs
//! (the functions below say which).

use std::collections::BTreeMap;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::change_axes::AxisOp;
use tract_onnx::tract_core::ops::cnn::{Conv, KernelFormat, MaxPool, PaddingSpec};
use tract_onnx::tract_core::ops::element_wise::ElementWiseOp;
use tract_onnx::tract_core::ops::nn::{DataFormat, Silu, Softmax};

use crate::conv_tiles::PackedWeights;
use crate::depthwise::DepthwiseConv;
use crate::error::AccelError;
use crate::max_pool::SameMaxPool;
use crate::pointwise::PointwiseConv;
use crate::space_to_depth::SpaceToDepth;
use crate::spatial_conv::SpatialConv;
use std::sync::Arc;
use tract_onnx::tract_core::ops::array::TypedConcat;
use tract_onnx::tract_core::ops::downsample::Downsample;

/// How many nodes each rewrite replaced.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Report {
    /// 9×9 / 13×13 max pools turned into chains of 5×5 ones.
    pub cascaded_pools: usize,
    /// Dense convolutions now run by this crate (1×1 at stride 1, or k×k at stride 1 or 2).
    pub dense: usize,
    /// Depthwise convolutions now run by this crate.
    pub depthwise: usize,
    /// "Same" max pools now run by this crate.
    pub max_pools: usize,
    /// Focus slicings (concatenated stride-2 slices) now run as one space-to-depth op.
    pub space_to_depth: usize,
    /// SiLUs folded into the convolution before them.
    pub silus: usize,
    /// Softmaxes moved to the last axis.
    pub softmaxes: usize,
}

impl Report {
    /// Total number of rewrites applied.
    pub fn total(&self) -> usize {
        self.cascaded_pools
            + self.dense
            + self.depthwise
            + self.max_pools
            + self.space_to_depth
            + self.silus
            + self.softmaxes
    }
}

/// Which rewrites [`optimize_with`] applies (all of them in [`Rewrites::ALL`], which
/// [`optimize`] uses). For tools that compare them one by one; the fields match [`Report`]'s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rewrites {
    /// Turn 9×9 / 13×13 stride-1 "same" max pools into chains of 5×5 ones (tract's `MaxPool`).
    pub cascaded_pools: bool,
    /// Run dense convolutions as this crate's ops (tract's `Conv` → matrix product or
    /// `DirectSpatialConv`); only where the CPU has AVX-512F or AVX2 + FMA.
    pub dense: bool,
    /// Run depthwise convolutions as this crate's op (tract's `DepthWiseConv`).
    pub depthwise: bool,
    /// Run stride-1 "same" max pools as this crate's separable op (tract's `MaxPool`).
    pub max_pools: bool,
    /// Run YOLOX's Focus slicing as one space-to-depth op (tract's `Downsample`s + concat).
    pub space_to_depth: bool,
    /// Fold each SiLU into the convolution before it (tract's element-wise `Silu`); only where
    /// the CPU has AVX-512F or AVX2 + FMA.
    pub silus: bool,
    /// Move single-axis softmaxes to the last axis (tract's slow per-lane path otherwise).
    pub softmaxes: bool,
}

impl Rewrites {
    /// Every rewrite.
    pub const ALL: Rewrites = Rewrites {
        cascaded_pools: true,
        dense: true,
        depthwise: true,
        max_pools: true,
        space_to_depth: true,
        silus: true,
        softmaxes: true,
    };
    /// No rewrite: [`optimize_with`] then only declutters and optimises with tract.
    pub const NONE: Rewrites = Rewrites {
        cascaded_pools: false,
        dense: false,
        depthwise: false,
        max_pools: false,
        space_to_depth: false,
        silus: false,
        softmaxes: false,
    };
}

impl Default for Rewrites {
    fn default() -> Self {
        Rewrites::ALL
    }
}

/// Applies every rewrite to a typed model with concrete input shapes, each at the stage it
/// needs, and optimises the model with tract: the result is ready for `into_runnable`.
///
/// The same as [`optimize_with`]`(model, Rewrites::ALL)`.
///
/// # Errors
/// [`AccelError`] when tract fails to declutter or optimise the graph, or to apply a rewrite's
/// patch.
pub fn optimize(model: TypedModel) -> Result<(TypedModel, Report), AccelError> {
    optimize_with(model, Rewrites::ALL)
}

/// Applies the rewrites `which` selects to a typed model with concrete input shapes, each at
/// the stage it needs, and optimises the model with tract: the result is ready for
/// `into_runnable`. See [`optimize`].
///
/// # Errors
/// As [`optimize`].
pub fn optimize_with(
    mut model: TypedModel,
    which: Rewrites,
) -> Result<(TypedModel, Report), AccelError> {
    let rewrite = |name: &'static str| move |e: TractError| AccelError::rewrite(name, e);
    let mut report = Report::default();
    if which.cascaded_pools {
        report.cascaded_pools =
            cascade_max_pools(&mut model).map_err(rewrite("cascaded max pools"))?;
    }
    if which.dense {
        report.dense =
            use_fast_dense_convolutions(&mut model).map_err(rewrite("dense convolutions"))?;
    }
    let mut model = model
        .into_decluttered()
        .map_err(|e| AccelError::tract("declutter", e))?;
    if which.depthwise {
        report.depthwise = use_fast_depthwise(&mut model).map_err(rewrite("depthwise"))?;
    }
    if which.max_pools {
        report.max_pools = use_fast_max_pools(&mut model).map_err(rewrite("max pools"))?;
    }
    if which.space_to_depth {
        report.space_to_depth =
            use_space_to_depth(&mut model).map_err(rewrite("space to depth"))?;
    }
    if which.silus {
        report.silus = fuse_silu(&mut model).map_err(rewrite("SiLU fusion"))?;
    }
    let mut model = model
        .into_optimized()
        .map_err(|e| AccelError::tract("optimise", e))?;
    if which.softmaxes {
        report.softmaxes = move_softmax_axis_last(&mut model).map_err(rewrite("softmax axis"))?;
    }
    Ok((model, report))
}

/// Makes every single-axis softmax run over the last axis.
///
/// Ultralytics heads end with the DFL softmax over axis 1 of `[1, 16, 4, N]`. tract 0.23 only
/// vectorises softmax over trailing axes; any other axis takes a per-lane ndarray path that
/// costs about 2 µs per 16-value lane (≈18 ms of a 44 ms YOLOv8n-320 run). Moving the axis
/// last, running the fast softmax, and moving it back costs two small transposes.
///
/// Returns how many softmaxes were rewritten. Call after `into_optimized` (the optimiser could
/// otherwise fold the axis moves back into the softmax).
pub(crate) fn move_softmax_axis_last(model: &mut TypedModel) -> TractResult<usize> {
    let targets: Vec<(usize, Softmax, usize, usize, OutletId, String)> = model
        .nodes()
        .iter()
        .filter_map(|node| {
            let op = node.op_as::<Softmax>()?;
            let input = *node.inputs.first()?;
            let rank = model.outlet_fact(input).ok()?.rank();
            match op.axes.as_slice() {
                [axis] if *axis + 1 < rank => {
                    Some((node.id, op.clone(), *axis, rank, input, node.name.clone()))
                }
                _ => None,
            }
        })
        .collect();
    for (id, op, axis, rank, input, name) in &targets {
        let last = rank - 1;
        let mut patch = TypedModelPatch::default();
        let tapped = patch.tap_model(model, *input)?;
        let moved = patch.wire_node(
            format!("{name}.axis_to_last"),
            AxisOp::Move(*axis, last),
            &[tapped],
        )?;
        let softmax = Softmax {
            axes: tvec![last],
            ..op.clone()
        };
        let done = patch.wire_node(format!("{name}.on_last_axis"), softmax, &moved)?;
        let back = patch.wire_node(
            format!("{name}.axis_back"),
            AxisOp::Move(last, *axis),
            &done,
        )?;
        patch.shunt_outside(model, OutletId::new(*id, 0), back[0])?;
        patch.obliterate(*id)?;
        patch.apply(model)?;
    }
    Ok(targets.len())
}

/// Replaces the depthwise convolutions tract would run as its `DepthWiseConv` (NCHW or CHW `f32`,
/// one channel per group, square kernel, stride 1 or 2, no dilation) by [`DepthwiseConv`].
///
/// Same arithmetic up to rounding order. Returns how many convolutions were replaced. Call on
/// the decluttered model (where batch norms are already folded into the kernels), before
/// `into_optimized`.
pub(crate) fn use_fast_depthwise(model: &mut TypedModel) -> TractResult<usize> {
    let targets: Vec<(usize, DepthwiseConv)> = model
        .nodes()
        .iter()
        .filter_map(|node| {
            let conv = node.op_as::<Conv>()?;
            let input = model.outlet_fact(*node.inputs.first()?).ok()?;
            Some((node.id, depthwise_geometry(conv, input)?))
        })
        .collect();
    for (id, op) in &targets {
        let inputs = model.node(*id).inputs.clone();
        swap_in(model, *id, &[*id], &inputs, "fast_depthwise", op.clone())?;
    }
    Ok(targets.len())
}

/// Replaces the dense convolutions (one group; NCHW or CHW `f32`; constant weights and bias):
/// 1×1 ones at stride 1 without padding by [`PointwiseConv`], square k×k ones at stride 1 or 2
/// by [`SpatialConv`]. Only where the CPU runs their fast path
/// ([`PointwiseConv::fast_path_available`]); elsewhere tract's own is faster and nothing
/// changes.
///
/// Same arithmetic up to rounding order. Returns how many convolutions were replaced. Call on
/// the typed model before decluttering: decluttering turns 1×1 convolutions into matrix
/// products (and splits those that read a concatenation), after which they are no longer
/// recognisable. A batch norm the export left after a convolution then stays a separate
/// operator. Follow with [`fuse_silu`] on the decluttered model.
pub(crate) fn use_fast_dense_convolutions(model: &mut TypedModel) -> TractResult<usize> {
    if !PointwiseConv::fast_path_available() {
        return Ok(0);
    }
    // Weights reach the convolutions through casts until constants are propagated.
    model.prop_consts()?;
    let targets: Vec<(usize, Box<dyn TypedOp>)> = model
        .nodes()
        .iter()
        .filter_map(|node| {
            let conv = node.op_as::<Conv>()?;
            let facts: Vec<&TypedFact> = node
                .inputs
                .iter()
                .map(|i| model.outlet_fact(*i))
                .collect::<TractResult<_>>()
                .ok()?;
            Some((node.id, dense_op(conv, &facts)?))
        })
        .collect();
    for (id, op) in &targets {
        let data = model.node(*id).inputs[0];
        swap_in(model, *id, &[*id], &[data], "fast", op.clone())?;
    }
    Ok(targets.len())
}

/// The [`PointwiseConv`] or [`SpatialConv`] equivalent to `conv` on inputs `facts` (data,
/// kernel, bias), if any.
fn dense_op(conv: &Conv, facts: &[&TypedFact]) -> Option<Box<dyn TypedOp>> {
    let spec = &conv.pool_spec;
    let input = facts.first()?;
    let shape = input.shape.as_concrete()?;
    let rank = shape.len();
    let in_channels = conv.input_channels();
    let out_channels = conv.output_channels();
    let &[kh, kw] = spec.kernel_shape.as_slice() else {
        return None;
    };
    let strides = spec.strides.clone().unwrap_or_else(|| tvec![1, 1]);
    let dilations = spec.dilations.clone().unwrap_or_else(|| tvec![1, 1]);
    let stride = strides[0];
    let plain = conv.q_params.is_none()
        && input.datum_type == f32::datum_type()
        && matches!(
            (spec.data_format, rank),
            (DataFormat::NCHW, 4) | (DataFormat::CHW, 3)
        )
        && conv.kernel_fmt == KernelFormat::OIHW
        && conv.group == 1
        && kh == kw
        && strides.iter().all(|&s| s == stride)
        && (1..=2).contains(&stride)
        && dilations.iter().all(|&d| d == 1)
        && shape[rank - 3] == in_channels
        && shape[rank - 2] > 0
        && shape[rank - 1] > 0;
    if !plain {
        return None;
    }
    let taps = in_channels * kh * kw;
    let kernel = facts.get(1)?.konst.as_ref()?;
    if kernel.datum_type() != f32::datum_type() || kernel.len() != taps * out_channels {
        return None;
    }
    let weights = kernel
        .try_as_plain_ram()
        .ok()?
        .as_slice::<f32>()
        .ok()?
        .to_vec();
    let bias: Vec<f32> = match facts.get(2) {
        None => Vec::new(),
        Some(fact) => {
            let bias = fact.konst.as_ref()?;
            if bias.datum_type() != f32::datum_type() {
                return None;
            }
            bias.try_as_plain_ram()
                .ok()?
                .as_slice::<f32>()
                .ok()?
                .to_vec()
        }
    };
    let dims = spec
        .padding
        .compute(&shape[rank - 2..], &[kh, kw], &[1, 1], &[stride, stride]);
    if dims.iter().any(|d| d.convoluted == 0) {
        return None;
    }
    let unpadded = dims
        .iter()
        .zip(&shape[rank - 2..])
        .all(|(d, &n)| d.pad_before == 0 && d.convoluted == n);
    if kh == 1 && stride == 1 && unpadded {
        let op = PointwiseConv::new(in_channels, out_channels, &weights, &bias)?;
        return Some(Box::new(op));
    }
    let op = SpatialConv {
        in_channels,
        kernel: kh,
        stride,
        pad_top: dims[0].pad_before,
        pad_left: dims[1].pad_before,
        in_hw: (shape[rank - 2], shape[rank - 1]),
        out_hw: (dims[0].convoluted, dims[1].convoluted),
        weights: Arc::new(PackedWeights::new(out_channels, taps, &weights, &bias)?),
        silu: false,
    };
    Some(Box::new(op))
}

/// Folds each SiLU that is the only reader of a [`PointwiseConv`], [`SpatialConv`] or
/// [`DepthwiseConv`] into it, where the CPU has their fast paths (as for
/// [`use_fast_dense_convolutions`]). Returns how many were folded. Call on the decluttered model
/// (where `x · sigmoid(x)` has become one `Silu`).
pub(crate) fn fuse_silu(model: &mut TypedModel) -> TractResult<usize> {
    if !PointwiseConv::fast_path_available() {
        // Without AVX2 the fused SiLU would be slower than tract's own kernel.
        return Ok(0);
    }
    let targets: Vec<(usize, usize, Box<dyn TypedOp>)> = model
        .nodes()
        .iter()
        .filter_map(|node| {
            let ew = node.op_as::<ElementWiseOp>()?;
            ew.0.downcast_ref::<Silu>()?;
            let input = *node.inputs.first()?;
            let producer = model.node(input.node);
            let single_reader = producer.outputs[0].successors.len() == 1
                && !model.output_outlets().ok()?.contains(&input);
            if !single_reader {
                return None;
            }
            let fused = fused::<PointwiseConv>(producer)
                .or_else(|| fused::<SpatialConv>(producer))
                .or_else(|| fused::<DepthwiseConv>(producer))?;
            Some((node.id, producer.id, fused))
        })
        .collect();
    for (silu, conv, fused) in targets.iter() {
        let inputs = model.node(*conv).inputs.clone();
        swap_in(
            model,
            *silu,
            &[*conv, *silu],
            &inputs,
            "silu",
            fused.clone(),
        )?;
    }
    Ok(targets.len())
}

/// The [`DepthwiseConv`] equivalent to `conv` on `input`, if it has one.
fn depthwise_geometry(conv: &Conv, input: &TypedFact) -> Option<DepthwiseConv> {
    let spec = &conv.pool_spec;
    let channels = conv.input_channels();
    let shape = input.shape.as_concrete()?;
    let rank = shape.len();
    let plain = conv.q_params.is_none()
        && input.datum_type == f32::datum_type()
        && matches!(
            (spec.data_format, rank),
            (DataFormat::NCHW, 4) | (DataFormat::CHW, 3)
        )
        && conv.kernel_fmt == KernelFormat::OIHW
        && conv.group > 1
        && conv.group == channels
        && conv.output_channels() == channels
        && shape[rank - 3] == channels;
    let &[kh, kw] = spec.kernel_shape.as_slice() else {
        return None;
    };
    let strides = spec.strides.clone().unwrap_or_else(|| tvec![1, 1]);
    let dilations = spec.dilations.clone().unwrap_or_else(|| tvec![1, 1]);
    let stride = strides[0];
    if !plain
        || kh != kw
        || strides.iter().any(|&s| s != stride)
        || !(1..=2).contains(&stride)
        || dilations.iter().any(|&d| d != 1)
    {
        return None;
    }
    let dims = spec
        .padding
        .compute(&shape[rank - 2..], &[kh, kw], &[1, 1], &[stride, stride]);
    if dims.iter().any(|d| d.convoluted == 0) || shape[rank - 2] == 0 || shape[rank - 1] == 0 {
        return None;
    }
    Some(DepthwiseConv {
        channels,
        kernel: kh,
        stride,
        pad_top: dims[0].pad_before,
        pad_left: dims[1].pad_before,
        in_hw: (shape[rank - 2], shape[rank - 1]),
        out_hw: (dims[0].convoluted, dims[1].convoluted),
        silu: false,
    })
}

/// Replaces stride-1 "same" max pools of kernel 9, 13, 17... by chains of 5×5 pools, sharing
/// the chain between pools of the same input (the SPP block of YOLOX and YOLOv5: pools 5, 9
/// and 13 become three 5×5 pools in a row, as Ultralytics' SPPF does).
///
/// Exact: a max over a 9-wide window is the max over 5-wide windows of 5-wide maxima, and
/// padded positions never win. Cuts the SPP pooling work from 25+81+169 to 3×25 window
/// reads per output. Returns how many pools were replaced. Call on the typed model before
/// `into_optimized`.
pub(crate) fn cascade_max_pools(model: &mut TypedModel) -> TractResult<usize> {
    // Rewritable pools grouped by input: (node id, number of 5x5 steps, pool op).
    let mut groups: BTreeMap<OutletId, Vec<(usize, usize, MaxPool)>> = BTreeMap::new();
    for node in model.nodes() {
        let Some(op) = node.op_as::<MaxPool>() else {
            continue;
        };
        let Some(steps) = cascade_steps(op) else {
            continue;
        };
        let Some(input) = node.inputs.first() else {
            continue;
        };
        groups
            .entry(*input)
            .or_default()
            .push((node.id, steps, op.clone()));
    }
    let mut replaced = 0;
    for (input, pools) in groups {
        let Some(longest) = pools.iter().map(|p| p.1).max() else {
            continue;
        };
        if longest < 2 {
            continue; // only 5x5 pools: nothing to gain
        }
        let mut patch = TypedModelPatch::default();
        let mut wire = patch.tap_model(model, input)?;
        let mut chain = Vec::with_capacity(longest);
        let template = &pools[0].2;
        let rank = template.pool_spec.kernel_shape.len();
        let five = MaxPool {
            pool_spec: tract_onnx::tract_core::ops::cnn::PoolSpec {
                kernel_shape: tvec![5; rank],
                padding: PaddingSpec::Explicit(tvec![2; rank], tvec![2; rank]),
                strides: None,
                dilations: None,
                ..template.pool_spec.clone()
            },
            with_index_outputs: None,
        };
        for step in 0..longest {
            wire = patch.wire_node(
                format!("maxpool5_cascade_{}_{}", input.node, step),
                five.clone(),
                &[wire],
            )?[0];
            chain.push(wire);
        }
        for (id, steps, _) in &pools {
            patch.shunt_outside(model, OutletId::new(*id, 0), chain[steps - 1])?;
            patch.obliterate(*id)?;
            replaced += 1;
        }
        patch.apply(model)?;
    }
    Ok(replaced)
}

/// Replaces the stride-1 "same" max pools with an odd square kernel (NCHW or CHW `f32`) by
/// [`SameMaxPool`]. Exact. Returns how many pools were replaced. Call on the decluttered
/// model, after [`cascade_max_pools`], before `into_optimized`.
pub(crate) fn use_fast_max_pools(model: &mut TypedModel) -> TractResult<usize> {
    let targets: Vec<(usize, SameMaxPool)> = model
        .nodes()
        .iter()
        .filter_map(|node| {
            let op = node.op_as::<MaxPool>()?;
            let kernel = same_kernel(op)?;
            let input = model.outlet_fact(*node.inputs.first()?).ok()?;
            let shape = input.shape.as_concrete()?;
            let rank = shape.len();
            let layout = matches!(
                (op.pool_spec.data_format, rank),
                (DataFormat::NCHW, 4) | (DataFormat::CHW, 3)
            );
            (layout && input.datum_type == f32::datum_type()).then(|| {
                let hw = (shape[rank - 2], shape[rank - 1]);
                (node.id, SameMaxPool { kernel, hw })
            })
        })
        .collect();
    for (id, op) in &targets {
        let input = model.node(*id).inputs[0];
        swap_in(model, *id, &[*id], &[input], "fast", op.clone())?;
    }
    Ok(targets.len())
}

/// Replaces each concatenation of stride-2 row-and-column slices of one NCHW or CHW `f32` image
/// (YOLOX's "Focus": `x[..., ::2, ::2]`, `x[..., 1::2, ::2]`, ... stacked as channels) by one
/// [`SpaceToDepth`]. Exact. Returns how many were replaced. Call on the decluttered model (where
/// the slices have become `Downsample`s), before `into_optimized`.
pub(crate) fn use_space_to_depth(model: &mut TypedModel) -> TractResult<usize> {
    let targets: Vec<(usize, OutletId, SpaceToDepth)> = model
        .nodes()
        .iter()
        .filter_map(|node| {
            let concat = node.op_as::<TypedConcat>()?;
            let mut source = None;
            let mut parts = Vec::with_capacity(node.inputs.len());
            for input in &node.inputs {
                let (from, row, column) = phase_slice(model, *input)?;
                if *source.get_or_insert(from) != from {
                    return None;
                }
                parts.push((row, column));
            }
            let source = source?;
            let fact = model.outlet_fact(source).ok()?;
            let shape = fact.shape.as_concrete()?;
            let rank = shape.len();
            let (h, w) = (shape[rank - 2], shape[rank - 1]);
            let fits = (3..=4).contains(&rank)
                && concat.axis == rank - 3
                && fact.datum_type == f32::datum_type()
                && h % 2 == 0
                && w % 2 == 0;
            fits.then(|| {
                let op = SpaceToDepth {
                    channels: shape[rank - 3],
                    in_hw: (h, w),
                    parts,
                };
                (node.id, source, op)
            })
        })
        .collect();
    for (id, source, op) in &targets {
        swap_in(model, *id, &[*id], &[*source], "space_to_depth", op.clone())?;
    }
    Ok(targets.len())
}

/// If `outlet` is a stride-2 slice of the rows of a stride-2 slice of the columns of some
/// tensor (or the other way round), that tensor and the row and column offsets.
fn phase_slice(model: &TypedModel, outlet: OutletId) -> Option<(OutletId, usize, usize)> {
    let rank = model.outlet_fact(outlet).ok()?.rank();
    let step = |outlet: OutletId| {
        let node = model.node(outlet.node);
        let op = node.op_as::<Downsample>()?;
        let input = *node.inputs.first()?;
        (op.stride == 2 && op.modulo < 2 && rank >= 2 && op.axis + 2 >= rank)
            .then_some((input, op.axis, op.modulo))
    };
    let (inner, first_axis, first) = step(outlet)?;
    let (source, second_axis, second) = step(inner)?;
    match (first_axis == rank - 1, second_axis == rank - 1) {
        (true, false) => Some((source, second, first)),
        (false, true) => Some((source, first, second)),
        _ => None,
    }
}

/// The convolution ops that can take a fused SiLU.
trait TakesSilu: TypedOp + Clone {
    fn silu_mut(&mut self) -> &mut bool;
}

impl TakesSilu for PointwiseConv {
    fn silu_mut(&mut self) -> &mut bool {
        &mut self.silu
    }
}

impl TakesSilu for SpatialConv {
    fn silu_mut(&mut self) -> &mut bool {
        &mut self.silu
    }
}

impl TakesSilu for DepthwiseConv {
    fn silu_mut(&mut self) -> &mut bool {
        &mut self.silu
    }
}

/// `node`'s op with a SiLU folded in, if it is a `T` that has none yet.
fn fused<T: TakesSilu>(node: &TypedNode) -> Option<Box<dyn TypedOp>> {
    let mut op = node.op_as::<T>()?.clone();
    if std::mem::replace(op.silu_mut(), true) {
        return None;
    }
    Some(Box::new(op))
}

/// Wires `op` on `inputs` where the rest of the graph read node `output`'s first output, and
/// removes the nodes of `replaced`. The new node is named after the first of `replaced` with
/// `suffix`.
fn swap_in(
    model: &mut TypedModel,
    output: usize,
    replaced: &[usize],
    inputs: &[OutletId],
    suffix: &str,
    op: impl Into<Box<dyn TypedOp>>,
) -> TractResult<()> {
    let name = format!("{}.{suffix}", model.node(replaced[0]).name);
    let mut patch = TypedModelPatch::default();
    let taps = patch.taps(model, inputs)?;
    let wire = patch.wire_node(name, op, &taps)?;
    patch.shunt_outside(model, OutletId::new(output, 0), wire[0])?;
    for id in replaced {
        patch.obliterate(*id)?;
    }
    patch.apply(model)
}

/// Number of chained 5×5 pools equal to `op`, if it is a stride-1 "same" max pool with a
/// square kernel of 5, 9, 13...
fn cascade_steps(op: &MaxPool) -> Option<usize> {
    let k = same_kernel(op)?;
    (k >= 5 && (k - 1) % 4 == 0).then_some((k - 1) / 4)
}

/// The kernel side of `op` if it is a stride-1 "same" max pool with an odd square kernel.
fn same_kernel(op: &MaxPool) -> Option<usize> {
    let spec = &op.pool_spec;
    if op.with_index_outputs.is_some() {
        return None;
    }
    let k = *spec.kernel_shape.first()?;
    if k % 2 == 0 || spec.kernel_shape.len() != 2 || spec.kernel_shape.iter().any(|&d| d != k) {
        return None;
    }
    let ones = |v: &Option<TVec<usize>>| v.as_ref().is_none_or(|v| v.iter().all(|&x| x == 1));
    if !ones(&spec.strides) || !ones(&spec.dilations) {
        return None;
    }
    let half = k / 2;
    let same = match &spec.padding {
        PaddingSpec::Explicit(b, a) | PaddingSpec::ExplicitOnnxPool(b, a, _) => {
            b.iter().chain(a.iter()).all(|&p| p == half)
        }
        PaddingSpec::SameUpper | PaddingSpec::SameLower => true,
        PaddingSpec::Valid => k == 1,
    };
    same.then_some(k)
}
