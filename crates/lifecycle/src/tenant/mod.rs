//! What a prune reclaims from shredded tenants, and `tenant rekey`.
//! Tenants themselves (views, keys, shredding, receipts) are
//! `cairn_cas_core::tenant`.

mod reclaim;
mod rekey;

// The tenant room below, under the name `reclaim` was written with.
use cairn_cas_core::tenant::{namespace_prefix, TENANT_SHREDS};

pub(crate) use reclaim::reclaim_shredded;
pub use reclaim::ReclaimReport;
pub use rekey::{rekey_tenant, RekeyReport};
