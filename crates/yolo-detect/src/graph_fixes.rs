//! Rewrites of the optimised tract graph that work around slow paths in tract 0.23.

use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::change_axes::AxisOp;
use tract_onnx::tract_core::ops::nn::Softmax;

/// Makes every single-axis softmax run over the last axis.
///
/// Ultralytics heads end with the DFL softmax over axis 1 of `[1, 16, 4, N]`. tract 0.23 only
/// vectorises softmax over trailing axes; any other axis takes a per-lane ndarray path that
/// costs about 2 µs per 16-value lane (≈18 ms of a 44 ms YOLOv8n-320 run). Moving the axis
/// last, running the fast softmax, and moving it back costs two small transposes.
///
/// Returns how many softmaxes were rewritten. Call after `into_optimized` (the optimiser could
/// otherwise fold the axis moves back into the softmax).
pub fn move_softmax_axis_last(model: &mut TypedModel) -> TractResult<usize> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dfl_softmax_of_an_ultralytics_head_is_moved_to_the_last_axis() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/testdata/models/yolov8-tiny-random-160.onnx"
        );
        let mut model = tract_onnx::onnx()
            .model_for_path(path)
            .unwrap()
            .with_input_fact(
                0,
                InferenceFact::dt_shape(f32::datum_type(), [1, 3, 160, 160]),
            )
            .unwrap()
            .into_optimized()
            .unwrap();
        assert_eq!(move_softmax_axis_last(&mut model).unwrap(), 1);
        for node in model
            .eval_order()
            .unwrap()
            .into_iter()
            .map(|id| model.node(id))
        {
            if let Some(op) = node.op_as::<Softmax>() {
                let rank = model.outlet_fact(node.inputs[0]).unwrap().rank();
                assert_eq!(op.axes.as_slice(), &[rank - 1], "{}", node.name);
            }
        }
        assert_eq!(move_softmax_axis_last(&mut model).unwrap(), 0, "idempotent");
    }
}
