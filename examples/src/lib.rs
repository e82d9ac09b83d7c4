//! Examples only; see `examples/`.
