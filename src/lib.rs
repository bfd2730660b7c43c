//! closedloop: simulate closed-loop marketing end to end and score identity
//! stitching and attribution against a ground truth only a simulation knows.
//!
//! The modules, in layers: each uses only the modules listed above it
//! (`tests/architecture.rs` reads the sources and fails on an upward arrow).
//! ```text
//! base       random streams, the credit currency, summary statistics
//! charts     plotters drawings (SVG + PNG) from plain data; knows no engine
//! log        EventLog: what a tracker and a CRM recorded, the only input a strategy sees
//! strategy   what a strategy says about itself: id, parameters with default values, doc line, needs
//! stitch     EventLog → Identities (a partition)            [sees only the log]
//! attribute  EventLog + Identities → Journeys → Credit      [sees only the log]
//! spec       the registry: every stitcher and model, one line each (`closedloop list`, ids, parser)
//! scenario   TOML → validated Scenario
//! world      Scenario → World (persons, touches, leads, deals, counterfactuals)
//! observe    World → EventLog + the event → person map
//! truth      World + map → Truth (shapley, incremental, proximate credit; true persons)
//! score      Identities/Credit vs Truth → metrics
//! io         files in and out: event-log tables, path files, external tables
//! experiment replicates × stitchers × models in parallel, sweeps, budgets,
//!            the closed loop, strategies on a user's log
//! explain    one replicate told person by person (teaching), answer key
//! report     report.json, charts, report.html, written atomically
//! ```
//! The library never prints, never parses argv and never exits the process.

pub mod attribute;
pub mod base;
pub mod charts;
pub mod experiment;
pub mod explain;
pub mod io;
pub mod log;
pub mod observe;
pub mod report;
pub mod scenario;
pub mod score;
pub mod spec;
pub mod stitch;
pub mod strategy;
pub mod truth;
pub mod world;
