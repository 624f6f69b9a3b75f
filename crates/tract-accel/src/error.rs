//! The crate's error type.

/// A boxed source error: tract reports `anyhow` errors, which are converted into this with their
/// whole context chain.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What went wrong in [`optimize`](crate::optimize).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AccelError {
    /// A rewrite matched part of the graph but tract refused the patch that swaps it in.
    #[error("rewrite {rewrite} failed: {source}")]
    Rewrite {
        /// Which rewrite (as in [`Report`](crate::Report)'s fields, in words).
        rewrite: &'static str,
        /// tract's error chain.
        source: BoxError,
    },
    /// tract itself failed to declutter or optimise the graph between the rewrites.
    #[error("tract could not {stage} the graph: {source}")]
    Tract {
        /// `"declutter"` or `"optimise"`.
        stage: &'static str,
        /// tract's error chain.
        source: BoxError,
    },
}

/// The broad class of an [`AccelError`], stable across versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A rewrite could not be applied ([`AccelError::Rewrite`]).
    Rewrite,
    /// tract's own passes failed ([`AccelError::Tract`]); the model is likely unsupported.
    Tract,
}

impl AccelError {
    /// The kind of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            AccelError::Rewrite { .. } => ErrorKind::Rewrite,
            AccelError::Tract { .. } => ErrorKind::Tract,
        }
    }

    pub(crate) fn rewrite(rewrite: &'static str, e: tract_onnx::prelude::TractError) -> Self {
        AccelError::Rewrite {
            rewrite,
            source: format!("{e:#}").into(),
        }
    }

    pub(crate) fn tract(stage: &'static str, e: tract_onnx::prelude::TractError) -> Self {
        AccelError::Tract {
            stage,
            source: format!("{e:#}").into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_messages_keep_tract_context() {
        let e = tract_onnx::tract_core::internal::anyhow!("inner").context("outer");
        let err = AccelError::rewrite("max pools", e);
        assert_eq!(err.kind(), ErrorKind::Rewrite);
        assert_eq!(err.to_string(), "rewrite max pools failed: outer: inner");
        let err = AccelError::tract("optimise", tract_onnx::tract_core::internal::anyhow!("x"));
        assert_eq!(err.kind(), ErrorKind::Tract);
        assert_eq!(err.to_string(), "tract could not optimise the graph: x");
    }
}
