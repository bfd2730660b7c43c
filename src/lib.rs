//! closedloop: simulate closed-loop marketing end to end and score identity
//! stitching and attribution against a ground truth only a simulation knows.
//!
//! The pipeline, one way (each module uses only those above it):
//! ```text
//! scenario   TOML → validated Scenario
//! world      Scenario → World (persons, touches, leads, deals, counterfactuals)
//! observe    World → EventLog (what the tracker and CRM saw) + event → person map
//! truth      World + map → Truth (shapley, incremental, proximate credit; true persons)
//! stitch     EventLog → Identities (a partition)            [sees only the log]
//! attribute  EventLog + Identities → Journeys → Credit      [sees only the log]
//! score      Identities/Credit vs Truth → metrics
//! experiment replicates × stitchers × models, in parallel, deterministic
//! budget     base world vs the world re-run at new spends, vs model predictions
//! feedback   the closed loop: each period's budget follows a model's credit
//! explain    one replicate told person by person (teaching), answer key
//! report     report.json (schema 1), charts, report.html, written atomically
//! charts     plotters drawings (SVG + PNG) from plain data, shipped font
//! pathfile   path files (ChannelAttribution's format) ⇄ path rows
//! ```
//! The library never prints, never parses argv and never exits the process.

pub mod attribute;
pub mod budget;
pub mod charts;
pub mod credit;
pub mod events;
pub mod experiment;
pub mod explain;
pub mod external;
pub mod feedback;
pub mod log;
pub mod observe;
pub mod pathfile;
pub mod problems;
pub mod report;
pub mod rng;
pub mod scenario;
pub mod score;
pub mod spec;
pub mod stitch;
pub mod truth;
pub mod world;
