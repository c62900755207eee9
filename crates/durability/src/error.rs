//! The durability crate's one error type.

/// What can go wrong when building or simulating a durability model.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A [`DurabilityModel`](crate::DurabilityModel) or simulation asked
    /// for with impossible parameters.
    #[error("invalid durability model: {reason}")]
    InvalidModel {
        /// What is wrong with it.
        reason: String,
    },
    /// The erasure layer refused the layout or failed in the simulation
    /// (an impossible `k + m`, a placement the labels cannot satisfy).
    #[error(transparent)]
    Erasure(#[from] cairn_erasure::Error),
}

/// The durability crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
