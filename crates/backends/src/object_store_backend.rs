//! object_store-based backends (being written).
