//! Shape checks, output facts and evaluation shared by this crate's one-input operators on
//! NCHW (or CHW) `f32` tensors.

use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;

/// What an operator expects of its input planes and makes of its output: `None` leaves that
/// part of the shape free (input) or unchanged (output).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Planes {
    pub(crate) in_channels: Option<usize>,
    pub(crate) in_hw: Option<(usize, usize)>,
    pub(crate) out_channels: Option<usize>,
    pub(crate) out_hw: Option<(usize, usize)>,
}

impl Planes {
    /// Checks a concrete input shape; returns its rank.
    fn check(&self, op: &str, shape: &[usize]) -> TractResult<usize> {
        let rank = shape.len();
        ensure!(
            (3..=4).contains(&rank)
                && self.in_channels.is_none_or(|c| shape[rank - 3] == c)
                && self
                    .in_hw
                    .is_none_or(|hw| (shape[rank - 2], shape[rank - 1]) == hw),
            "{op}: input shape {shape:?} does not match {self:?}"
        );
        Ok(rank)
    }

    /// The output shape for an input of `shape` (rank 3 or 4).
    fn output<D: Clone + From<usize>>(&self, shape: &[D]) -> TVec<D> {
        let rank = shape.len();
        let mut out: TVec<D> = shape.into();
        if let Some(c) = self.out_channels {
            out[rank - 3] = c.into();
        }
        if let Some((h, w)) = self.out_hw {
            out[rank - 2] = h.into();
            out[rank - 1] = w.into();
        }
        out
    }

    /// The output fact of an operator on `input`.
    pub(crate) fn output_fact(&self, op: &str, input: &TypedFact) -> TractResult<TVec<TypedFact>> {
        let rank = input.rank();
        ensure!((3..=4).contains(&rank), "{op} on a rank {rank} input");
        let shape: TVec<TDim> = input.shape.iter().cloned().collect();
        Ok(tvec!(f32::fact(self.output(&shape))))
    }

    /// Evaluates a one-input operator: checks the input, allocates the output, and calls
    /// `run(input, output, points per input plane)`.
    pub(crate) fn eval(
        &self,
        op: &str,
        inputs: &[TValue],
        run: impl FnOnce(&[f32], &mut [f32], usize),
    ) -> TractResult<TVec<TValue>> {
        let [data] = inputs else {
            bail!("{op} takes one input");
        };
        let shape = data.shape();
        let rank = self.check(op, shape)?;
        let points = shape[rank - 2] * shape[rank - 1];
        let data = data.try_as_plain_ram()?;
        let mut output = Tensor::zero::<f32>(&self.output(shape))?;
        run(
            data.as_slice::<f32>()?,
            output.try_as_plain_ram_mut()?.as_slice_mut::<f32>()?,
            points,
        );
        Ok(tvec!(output.into_tvalue()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_the_input_and_shapes_the_output() {
        let planes = Planes {
            in_channels: Some(2),
            in_hw: Some((4, 6)),
            out_channels: Some(8),
            out_hw: Some((2, 3)),
        };
        assert_eq!(planes.check("op", &[1, 2, 4, 6]).unwrap(), 4);
        assert_eq!(planes.check("op", &[2, 4, 6]).unwrap(), 3);
        assert!(planes.check("op", &[1, 3, 4, 6]).is_err());
        assert!(planes.check("op", &[1, 2, 4, 7]).is_err());
        assert!(planes.check("op", &[4, 6]).is_err());
        assert_eq!(planes.output(&[1usize, 2, 4, 6]).as_slice(), &[1, 8, 2, 3]);
        let same = Planes::default();
        assert_eq!(same.output(&[5usize, 4, 6]).as_slice(), &[5, 4, 6]);
    }
}
