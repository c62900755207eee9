//! `cairn-durability`: how durable an erasure layout is, and what it costs: an annual probability of
//! losing data from the layout (`k`, `m`, each child's region and zone),
//! how often its parts fail, and how long the healing path takes to
//! rebuild what they held.
//!
//! ```
//! use std::time::Duration;
//! use cairn_durability::{markov, plan, DurabilityModel, HealTiming, Prices};
//! use cairn_erasure::Labels;
//!
//! // 4+2 over three regions, disks failing at 2% a year, a day to heal.
//! let labels = ["a", "a", "b", "b", "c", "c"].map(|r| Labels::new().region(r)).to_vec();
//! let heal = HealTiming::new(Duration::ZERO, Duration::from_secs(24 * 3600));
//! let model = DurabilityModel::new(4, 2, labels, 0.02, heal)?;
//! let p = plan(&model, &Prices::default());
//! assert_eq!(p.overhead, 1.5);
//! assert!(p.tolerance.survives_any_region());
//! assert!(markov(&model).nines > 8.0);
//! # Ok::<(), cairn_durability::Error>(())
//! ```
//!
//! # Models
//!
//! - **Markov chain** ([`markov`], [`mttdl_years`]): the number of failed
//!   children is a birth-death chain (failures at `(n-i)λ`, repairs at
//!   `iμ`, data lost at `m + 1`); its mean time to data loss (MTTDL) gives
//!   the annual probability `1 - e^(-1/MTTDL)`. This is the model Greenan,
//!   Plank & Wylie examine in "Mean time to meaningless: MTTDL, Markov
//!   models, and storage system reliability" (HotStorage 2010); their
//!   point that MTTDL alone hides how much is lost is why the plan also
//!   reports expected bytes lost.
//! - **Window models** ([`window_poisson`], [`window_binomial`]): the
//!   probability that more than `m` children fail within one heal window,
//!   raised to a year of windows. Backblaze's published durability
//!   calculation uses the Poisson form ("Backblaze Durability Calculates
//!   at 99.999999999%", 2018: 17+3, AFR 0.41%, 6.5 days to rebuild: 11
//!   nines, reproduced in the tests); Storj's whitepaper (v3, 2018, §3.4)
//!   the binomial form.
//! - **Simulation** ([`simulate`]): a seeded discrete-event Monte-Carlo
//!   run that drives the erasure layer itself (its placement, its
//!   decision what is lost and what can be rebuilt, its repair writing
//!   shards to the replaced child) through failures, heals and whole
//!   region or zone losses over simulated time. The closed forms assume
//!   independent failures; the simulation is how correlated ones are
//!   counted, and how the closed forms are checked.
//!
//! # Inputs
//!
//! A [`DurabilityModel`]: each child's annual failure rate (AFR), optional
//! region and zone AFRs, and a [`HealTiming`] — time to detect (half the
//! interval between heal runs) plus time to rebuild (a child's bytes over
//! the rebuild rate, [`HealTiming::from_heal_path`]).
//!
//! [`plan`] puts it together with [`Tolerance`] (which children, regions
//! and zones can be lost) and a [`CostEstimate`] from a [`Prices`] table:
//! what `cairn layout plan` prints.
//!
//! # What this crate owns
//!
//! Planning only: nothing here is on the data path. It sits on the floor
//! above `cairn-erasure` because the simulation drives the real
//! [`ErasureBackend`](cairn_erasure::ErasureBackend) (placement, loss and
//! repair decisions) over in-memory children; the facade re-exports it as
//! `cairn::erasure::durability`, the path it had before it moved out of
//! the erasure crate.

mod closed_form;
mod cost;
mod error;
mod model;
mod plan;
mod rng;
mod sim;
mod tolerance;

pub use closed_form::{
    annual_from_window, expected_bytes_lost, heal_window_years, markov, mttdl_years, nines,
    window_binomial, window_poisson, Estimate,
};
pub use cost::{estimate as estimate_cost, CostEstimate, Prices, TierCost, TierPrice};
pub use error::{Error, Result};
pub use model::{DurabilityModel, HealTiming};
pub use plan::{plan, LayoutPlan};
pub use sim::{simulate, RepairTimes, SimOptions, SimReport};
pub use tolerance::{Domain, DomainKind, Tolerance};
