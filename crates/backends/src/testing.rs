//! Conformance suite and fault injection (being written).
