//! The ground floor: random streams, the credit currency and summary
//! statistics. Knows nothing of scenarios, worlds or strategies, and never
//! reads or writes files.

pub mod credit;
pub mod rng;
pub mod stats;
