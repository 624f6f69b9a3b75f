//! Helpers shared by the end-to-end tests in `tests/` and the workspace examples.
