//! Strategy specifications and the registry's descriptors: which stitchers and
//! attribution models exist, their parameters and defaults, and how they are
//! named (`markov:2` on the CLI, `markov_2` in reports; DESIGN §13).
//!
//! This is a shared vocabulary: the scenario parser, `closedloop list`, and the
//! `stitch` / `attribute` registries all read it, so names cannot drift apart.
//! Must never: depend on the world, the observation layer or the truth.

use serde::{Deserialize, Serialize};

/// Default look-back window of every attribution model, in days.
pub const DEFAULT_LOOKBACK_DAYS: f64 = 90.0;

fn default_lookback() -> f64 {
    DEFAULT_LOOKBACK_DAYS
}

/// A stitching strategy with its parameters (scenario `[[stitchers]]`, CLI `--stitchers`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum StitcherSpec {
    /// A journey is the visits of the form-fill cookie.
    CookieOnly,
    /// Cookies linked through emails typed and newsletter tokens, retroactively.
    Deterministic,
    /// As deterministic, but a cookie joins its person only from its first identification on.
    ForwardOnly,
    /// As deterministic, retroactive only within a replay window before the first identification.
    Lookback {
        /// Days before a cookie's first identification whose visits still join the person.
        #[serde(default = "default_stitch_lookback")]
        days: f64,
    },
    /// Each cookie belongs to the person who last identified on it (shared devices go to one person).
    LastLogin,
    /// As deterministic, with email normalisation and edit-distance-1 deal joins.
    Normalized,
    /// Union–find over every identifier with guards against over-merging.
    Graph {
        /// Most distinct (normalised) emails in one person; 0 = no cap.
        #[serde(default = "default_max_emails")]
        max_emails: u32,
        /// Most cookies in one person; 0 = no cap.
        #[serde(default = "default_max_cookies")]
        max_cookies: u32,
        /// A cookie's visits join its person only within this many days of an identification on it.
        #[serde(default = "default_ttl_days")]
        ttl_days: f64,
    },
    /// Fellegi–Sunter cookie linkage (EM-estimated m/u) over the deterministic links.
    Probabilistic {
        /// Least match weight (log2 likelihood ratio) at which two cookies link.
        #[serde(default = "default_prob_threshold")]
        threshold: f64,
    },
}

/// Default match-weight threshold of the `probabilistic` stitcher (log2 units).
pub const DEFAULT_PROB_THRESHOLD: f64 = 2.0;

fn default_prob_threshold() -> f64 {
    DEFAULT_PROB_THRESHOLD
}

/// Default email cap of the `graph` stitcher.
pub const DEFAULT_GRAPH_MAX_EMAILS: u32 = 3;
/// Default cookie cap of the `graph` stitcher.
pub const DEFAULT_GRAPH_MAX_COOKIES: u32 = 20;
/// Default link TTL of the `graph` stitcher, in days.
pub const DEFAULT_GRAPH_TTL_DAYS: f64 = 365.0;

fn default_max_emails() -> u32 {
    DEFAULT_GRAPH_MAX_EMAILS
}
fn default_max_cookies() -> u32 {
    DEFAULT_GRAPH_MAX_COOKIES
}
fn default_ttl_days() -> f64 {
    DEFAULT_GRAPH_TTL_DAYS
}

/// Default replay window of the `lookback` stitcher, in days.
pub const DEFAULT_STITCH_LOOKBACK_DAYS: f64 = 30.0;

fn default_stitch_lookback() -> f64 {
    DEFAULT_STITCH_LOOKBACK_DAYS
}

/// An attribution model with its parameters (scenario `[[attributors]]`, CLI `--models`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum AttributorSpec {
    /// All credit to the first touch in the look-back window.
    FirstTouch {
        /// Touches older than this before the lead are ignored.
        #[serde(default = "default_lookback")]
        lookback_days: f64,
    },
    /// All credit to the last touch before the lead.
    LastTouch {
        /// Touches older than this before the lead are ignored.
        #[serde(default = "default_lookback")]
        lookback_days: f64,
    },
    /// Last touch that is not `direct` (GA-style default); `direct` only if nothing else.
    LastNonDirect {
        /// Touches older than this before the lead are ignored.
        #[serde(default = "default_lookback")]
        lookback_days: f64,
    },
    /// Equal credit to every touch.
    Linear {
        /// Touches older than this before the lead are ignored.
        #[serde(default = "default_lookback")]
        lookback_days: f64,
    },
    /// Touch weights halve every `half_life_days` before the lead.
    TimeDecay {
        /// Days for a touch's weight to halve.
        #[serde(default = "default_half_life")]
        half_life_days: f64,
        /// Touches older than this before the lead are ignored.
        #[serde(default = "default_lookback")]
        lookback_days: f64,
    },
    /// `first` to the first touch, `last` to the last, the rest split over the middle.
    PositionBased {
        /// Share of the first touch.
        #[serde(default = "default_position_share")]
        first: f64,
        /// Share of the last touch.
        #[serde(default = "default_position_share")]
        last: f64,
        /// Touches older than this before the lead are ignored.
        #[serde(default = "default_lookback")]
        lookback_days: f64,
    },
    /// 30 % each to the first touch, the lead-creating touch and the last touch
    /// before the opportunity; 10 % over the rest.
    WShaped {
        /// Touches older than this before the lead are ignored.
        #[serde(default = "default_lookback")]
        lookback_days: f64,
    },
    /// Removal effects of an order-k Markov chain over the paths, solved exactly.
    Markov {
        /// Channels of history in a state (1..=4).
        #[serde(default = "default_markov_order")]
        order: u8,
        /// Touches older than this before the lead are ignored.
        #[serde(default = "default_lookback")]
        lookback_days: f64,
        /// How revenue is split (`share` or `value`).
        #[serde(default)]
        revenue: MarkovRevenue,
    },
    /// Shapley value of "conversions whose channel set lies inside S" (= deduplicated linear).
    ShapleyCount {
        /// Touches older than this before the lead are ignored.
        #[serde(default = "default_lookback")]
        lookback_days: f64,
    },
    /// Shapley value of "conversion rate of journeys whose channel set is exactly S";
    /// negatives floored at 0 and per-set renormalisation are our choices.
    ShapleyRate {
        /// Touches older than this before the lead are ignored.
        #[serde(default = "default_lookback")]
        lookback_days: f64,
    },
    /// Bagged logistic regression on label presence (Shao & Li 2011); each
    /// converting set split by its positive mean coefficients.
    Logistic {
        /// Bags (logistic fits on resampled journeys), averaged.
        #[serde(default = "default_logistic_bags")]
        bags: u32,
        /// Share of the journeys each bag draws (binomial thinning of the weights).
        #[serde(default = "default_logistic_fraction")]
        sample_fraction: f64,
        /// Touches older than this before the lead are ignored.
        #[serde(default = "default_lookback")]
        lookback_days: f64,
    },
    /// Additive hazard with exponentially decaying touch effects (Zhang, Wei & Ren 2014).
    AdditiveHazard {
        /// Touches older than this before the lead are ignored.
        #[serde(default = "default_lookback")]
        lookback_days: f64,
    },
}

/// How `markov` splits revenue.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MarkovRevenue {
    /// By the conversion removal-effect shares: one set of shares for
    /// conversions and revenue (the default).
    #[default]
    Share,
    /// By value removal effects: the share of the expected revenue lost
    /// without a label, each conversion's value tied to the chain state it
    /// left from (ChannelAttribution's `var_value`, computed exactly).
    Value,
}

/// Default half-life of `time_decay`, in days.
pub const DEFAULT_HALF_LIFE_DAYS: f64 = 7.0;
/// Default first and last shares of `position_based`.
pub const DEFAULT_POSITION_SHARE: f64 = 0.4;
/// Default order of `markov`.
pub const DEFAULT_MARKOV_ORDER: u8 = 1;
/// Highest supported order of `markov`.
pub const MAX_MARKOV_ORDER: u8 = 4;
/// Default number of bags of `logistic`.
pub const DEFAULT_LOGISTIC_BAGS: u32 = 50;
/// Most bags of `logistic`.
pub const MAX_LOGISTIC_BAGS: u32 = 10_000;
/// Default sample fraction of `logistic` (Shao & Li 2011 and the `mta` package use 0.5).
pub const DEFAULT_LOGISTIC_FRACTION: f64 = 0.5;

fn default_half_life() -> f64 {
    DEFAULT_HALF_LIFE_DAYS
}
fn default_position_share() -> f64 {
    DEFAULT_POSITION_SHARE
}
fn default_markov_order() -> u8 {
    DEFAULT_MARKOV_ORDER
}
fn default_logistic_bags() -> u32 {
    DEFAULT_LOGISTIC_BAGS
}
fn default_logistic_fraction() -> f64 {
    DEFAULT_LOGISTIC_FRACTION
}

/// One parameter of a strategy, for `closedloop list` and docs.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct ParamDescriptor {
    /// Scenario key.
    pub name: &'static str,
    /// Unit or meaning.
    pub help: &'static str,
    /// Default, as written in a scenario.
    pub default: &'static str,
}

/// One registered strategy.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct StrategyDescriptor {
    /// The `kind` (also the CLI name before any `:` parameters).
    pub kind: &'static str,
    /// One line on what it does.
    pub summary: &'static str,
    /// Its parameters, in CLI order.
    pub params: &'static [ParamDescriptor],
}

const LOOKBACK: ParamDescriptor = ParamDescriptor {
    name: "lookback_days",
    help: "days before the lead within which touches count",
    default: "90",
};

/// Every registered stitcher.
pub const STITCHERS: &[StrategyDescriptor] = &[
    StrategyDescriptor {
        kind: "cookie_only",
        summary: "a journey is the visits of the form-fill cookie (no cross-device joins)",
        params: &[],
    },
    StrategyDescriptor {
        kind: "deterministic",
        summary: "cookies joined through exact emails typed and newsletter tokens, retroactively (HubSpot-style)",
        params: &[],
    },
    StrategyDescriptor {
        kind: "forward_only",
        summary: "as deterministic, but a cookie's visits before its first identification stay anonymous",
        params: &[],
    },
    StrategyDescriptor {
        kind: "lookback",
        summary: "as deterministic, retroactive only within a replay window (CLI lookback:DAYS)",
        params: &[ParamDescriptor {
            name: "days",
            help: "days before a cookie's first identification whose visits still join the person",
            default: "30",
        }],
    },
    StrategyDescriptor {
        kind: "last_login",
        summary: "each cookie belongs to the person who last identified on it (shared devices go to one person)",
        params: &[],
    },
    StrategyDescriptor {
        kind: "normalized",
        summary: "as deterministic, with email normalisation (case, dots, plus tags) and edit-distance-1 deal joins",
        params: &[],
    },
    StrategyDescriptor {
        kind: "graph",
        summary: "union-find over cookies, emails, tokens and CRM records, with caps, a junk blocklist and a link TTL (CLI graph:EMAILS:COOKIES:TTL_DAYS)",
        params: &[
            ParamDescriptor {
                name: "max_emails",
                help: "most distinct emails in one person (0 = no cap)",
                default: "3",
            },
            ParamDescriptor {
                name: "max_cookies",
                help: "most cookies in one person (0 = no cap)",
                default: "20",
            },
            ParamDescriptor {
                name: "ttl_days",
                help: "a cookie's visits join only within this many days of an identification",
                default: "365",
            },
        ],
    },
    StrategyDescriptor {
        kind: "probabilistic",
        summary: "Fellegi-Sunter linkage of cookies on shared IP, browser, time gap and campaign (m/u by EM), over the deterministic links (CLI probabilistic:THRESHOLD)",
        params: &[ParamDescriptor {
            name: "threshold",
            help: "least match weight, log2 likelihood ratio, at which two cookies link",
            default: "2",
        }],
    },
];

/// Every registered attribution model.
pub const ATTRIBUTORS: &[StrategyDescriptor] = &[
    StrategyDescriptor {
        kind: "first_touch",
        summary: "all credit to the first touch (HubSpot's original source on deterministic stitching)",
        params: &[LOOKBACK],
    },
    StrategyDescriptor {
        kind: "last_touch",
        summary: "all credit to the last touch before the lead",
        params: &[LOOKBACK],
    },
    StrategyDescriptor {
        kind: "last_non_direct",
        summary: "last touch that is not direct (the GA-style default)",
        params: &[LOOKBACK],
    },
    StrategyDescriptor {
        kind: "linear",
        summary: "equal credit to every touch",
        params: &[LOOKBACK],
    },
    StrategyDescriptor {
        kind: "time_decay",
        summary: "touch weights halve every half-life before the lead (CLI time_decay:DAYS)",
        params: &[
            ParamDescriptor {
                name: "half_life_days",
                help: "days for a touch's weight to halve (> 0)",
                default: "7",
            },
            LOOKBACK,
        ],
    },
    StrategyDescriptor {
        kind: "position_based",
        summary: "shares to the first and last touches, the rest split over the middle (CLI position_based:FIRST:LAST)",
        params: &[
            ParamDescriptor {
                name: "first",
                help: "share of the first touch (first + last <= 1)",
                default: "0.4",
            },
            ParamDescriptor {
                name: "last",
                help: "share of the last touch (first + last <= 1)",
                default: "0.4",
            },
            LOOKBACK,
        ],
    },
    StrategyDescriptor {
        kind: "w_shaped",
        summary: "30% each to the first, lead-creating and opportunity-creating touches (the journey read up to the opportunity), 10% over the rest",
        params: &[LOOKBACK],
    },
    StrategyDescriptor {
        kind: "markov",
        summary: "removal effects of an order-k Markov chain over the paths, exact; revenue split by the conversion removal-effect shares (default) or by value removal effects as ChannelAttribution's var_value, computed exactly (CLI markov:K or markov:K:value)",
        params: &[
            ParamDescriptor {
                name: "order",
                help: "channels of history in a state (1..=4)",
                default: "1",
            },
            ParamDescriptor {
                name: "revenue",
                help: "share: revenue split as the conversions are; value: by each channel's share of the expected revenue lost without it",
                default: "share",
            },
            LOOKBACK,
        ],
    },
    StrategyDescriptor {
        kind: "shapley_count",
        summary: "Shapley value of conversions inside a channel set (= deduplicated linear)",
        params: &[LOOKBACK],
    },
    StrategyDescriptor {
        kind: "shapley_rate",
        summary: "Shapley value of the conversion rate of each exact channel set, per converting set; our choices, not the published method: negative values floored at 0, each converting set's values renormalised to its conversions",
        params: &[LOOKBACK],
    },
    StrategyDescriptor {
        kind: "logistic",
        summary: "bagged logistic regression on channel presence (Shao & Li 2011); each converting set split by positive mean coefficients, seeded (CLI logistic:BAGS:FRACTION)",
        params: &[
            ParamDescriptor {
                name: "bags",
                help: "logistic fits on resampled journeys, averaged (1..=10000)",
                default: "50",
            },
            ParamDescriptor {
                name: "sample_fraction",
                help: "share of the journeys each bag draws (0 < f <= 1)",
                default: "0.5",
            },
            LOOKBACK,
        ],
    },
    StrategyDescriptor {
        kind: "additive_hazard",
        summary: "additive hazard, touch effects beta*exp(-omega*age) plus a baseline, fit by maximum likelihood (Zhang, Wei & Ren 2014); needs touch times",
        params: &[LOOKBACK],
    },
];

/// A strategy id that could not be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("unknown or malformed strategy `{given}`: {reason}")]
pub struct SpecError {
    /// What the user wrote.
    pub given: String,
    /// What was expected.
    pub reason: String,
}

fn spec_err(given: &str, reason: impl Into<String>) -> SpecError {
    SpecError {
        given: given.to_string(),
        reason: reason.into(),
    }
}

fn no_params(given: &str, parts: &[&str]) -> Result<(), SpecError> {
    if parts.len() > 1 {
        return Err(spec_err(given, "takes no `:` parameters"));
    }
    Ok(())
}

fn kinds(list: &[StrategyDescriptor]) -> String {
    list.iter().map(|d| d.kind).collect::<Vec<_>>().join(", ")
}

impl StitcherSpec {
    /// Every registered stitcher with its defaults (what `all` selects).
    pub fn all() -> Vec<StitcherSpec> {
        vec![
            StitcherSpec::CookieOnly,
            StitcherSpec::Deterministic,
            StitcherSpec::ForwardOnly,
            StitcherSpec::Lookback {
                days: DEFAULT_STITCH_LOOKBACK_DAYS,
            },
            StitcherSpec::LastLogin,
            StitcherSpec::Normalized,
            StitcherSpec::Graph {
                max_emails: DEFAULT_GRAPH_MAX_EMAILS,
                max_cookies: DEFAULT_GRAPH_MAX_COOKIES,
                ttl_days: DEFAULT_GRAPH_TTL_DAYS,
            },
            StitcherSpec::Probabilistic {
                threshold: DEFAULT_PROB_THRESHOLD,
            },
        ]
    }

    /// Parse a CLI id (`cookie_only`, `lookback:7`).
    pub fn parse(given: &str) -> Result<StitcherSpec, SpecError> {
        let parts: Vec<&str> = given.trim().split(':').collect();
        match parts[0] {
            "cookie_only" => no_params(given, &parts).map(|_| StitcherSpec::CookieOnly),
            "deterministic" => no_params(given, &parts).map(|_| StitcherSpec::Deterministic),
            "forward_only" => no_params(given, &parts).map(|_| StitcherSpec::ForwardOnly),
            "last_login" => no_params(given, &parts).map(|_| StitcherSpec::LastLogin),
            "normalized" => no_params(given, &parts).map(|_| StitcherSpec::Normalized),
            "graph" => {
                let num = |i: usize, default: f64| -> Result<f64, SpecError> {
                    match parts.get(i) {
                        None => Ok(default),
                        Some(p) => p
                            .parse::<f64>()
                            .ok()
                            .filter(|v| v.is_finite() && *v >= 0.0)
                            .ok_or_else(|| {
                                spec_err(given, "graph:EMAILS:COOKIES:TTL_DAYS takes numbers >= 0")
                            }),
                    }
                };
                if parts.len() > 4 {
                    return Err(spec_err(
                        given,
                        "graph takes at most three parameters, graph:EMAILS:COOKIES:TTL_DAYS",
                    ));
                }
                Ok(StitcherSpec::Graph {
                    max_emails: num(1, DEFAULT_GRAPH_MAX_EMAILS as f64)? as u32,
                    max_cookies: num(2, DEFAULT_GRAPH_MAX_COOKIES as f64)? as u32,
                    ttl_days: num(3, DEFAULT_GRAPH_TTL_DAYS)?,
                })
            }
            "probabilistic" => match parts.len() {
                1 => Ok(StitcherSpec::Probabilistic {
                    threshold: DEFAULT_PROB_THRESHOLD,
                }),
                2 => match parts[1].parse::<f64>() {
                    Ok(threshold) if threshold.is_finite() => {
                        Ok(StitcherSpec::Probabilistic { threshold })
                    }
                    _ => Err(spec_err(
                        given,
                        "probabilistic:THRESHOLD takes a finite number (log2 units)",
                    )),
                },
                _ => Err(spec_err(
                    given,
                    "probabilistic takes one parameter, probabilistic:THRESHOLD",
                )),
            },
            "lookback" => match parts.len() {
                1 => Ok(StitcherSpec::Lookback {
                    days: DEFAULT_STITCH_LOOKBACK_DAYS,
                }),
                2 => match parts[1].parse::<f64>() {
                    Ok(days) if days.is_finite() && days >= 0.0 => {
                        Ok(StitcherSpec::Lookback { days })
                    }
                    _ => Err(spec_err(given, "lookback:DAYS takes a number of days >= 0")),
                },
                _ => Err(spec_err(
                    given,
                    "lookback takes one parameter, lookback:DAYS",
                )),
            },
            _ => Err(spec_err(
                given,
                format!("expected one of: {}", kinds(STITCHERS)),
            )),
        }
    }

    /// The canonical id used in reports.
    pub fn id(&self) -> String {
        match self {
            StitcherSpec::CookieOnly => "cookie_only".into(),
            StitcherSpec::Deterministic => "deterministic".into(),
            StitcherSpec::ForwardOnly => "forward_only".into(),
            StitcherSpec::Lookback { days } => format!("lookback_{days}"),
            StitcherSpec::LastLogin => "last_login".into(),
            StitcherSpec::Normalized => "normalized".into(),
            StitcherSpec::Graph {
                max_emails,
                max_cookies,
                ttl_days,
            } => {
                if *max_emails == DEFAULT_GRAPH_MAX_EMAILS
                    && *max_cookies == DEFAULT_GRAPH_MAX_COOKIES
                    && *ttl_days == DEFAULT_GRAPH_TTL_DAYS
                {
                    "graph".into()
                } else {
                    format!("graph_{max_emails}_{max_cookies}_{ttl_days}")
                }
            }
            StitcherSpec::Probabilistic { threshold } => {
                if *threshold == DEFAULT_PROB_THRESHOLD {
                    "probabilistic".into()
                } else {
                    format!("probabilistic_t{threshold}")
                }
            }
        }
    }
}

impl AttributorSpec {
    /// Every registered model with its defaults (what `all` selects).
    pub fn all() -> Vec<AttributorSpec> {
        let lookback_days = DEFAULT_LOOKBACK_DAYS;
        vec![
            AttributorSpec::FirstTouch { lookback_days },
            AttributorSpec::LastTouch { lookback_days },
            AttributorSpec::LastNonDirect { lookback_days },
            AttributorSpec::Linear { lookback_days },
            AttributorSpec::TimeDecay {
                half_life_days: DEFAULT_HALF_LIFE_DAYS,
                lookback_days,
            },
            AttributorSpec::PositionBased {
                first: DEFAULT_POSITION_SHARE,
                last: DEFAULT_POSITION_SHARE,
                lookback_days,
            },
            AttributorSpec::WShaped { lookback_days },
            AttributorSpec::Markov {
                order: DEFAULT_MARKOV_ORDER,
                lookback_days,
                revenue: MarkovRevenue::Share,
            },
            AttributorSpec::ShapleyCount { lookback_days },
            AttributorSpec::ShapleyRate { lookback_days },
            AttributorSpec::Logistic {
                bags: DEFAULT_LOGISTIC_BAGS,
                sample_fraction: DEFAULT_LOGISTIC_FRACTION,
                lookback_days,
            },
            AttributorSpec::AdditiveHazard { lookback_days },
        ]
    }

    /// Parse a CLI id (`last_touch`, `time_decay:14`, `markov:2`). A
    /// canonical report id with parameters (`markov_2`,
    /// `position_based_0.3_0.3`) is read the same way.
    pub fn parse(given: &str) -> Result<AttributorSpec, SpecError> {
        let trimmed = given.trim();
        let mut parts: Vec<&str> = trimmed.split(':').collect();
        if parts.len() == 1 && !ATTRIBUTORS.iter().any(|d| d.kind == trimmed) {
            // `markov_2` → `markov:2`, for kinds whose parameters are not all
            // the look-back.
            if let Some(d) = ATTRIBUTORS.iter().find(|d| {
                d.params.len() > 1
                    && trimmed
                        .strip_prefix(d.kind)
                        .is_some_and(|rest| rest.starts_with('_'))
            }) {
                parts = std::iter::once(d.kind)
                    .chain(trimmed[d.kind.len() + 1..].split('_'))
                    .collect();
            }
        }
        let spec = Self::parse_parts(given, &parts)?;
        if let Some((name, value, reason)) = spec.param_problems().into_iter().next() {
            return Err(spec_err(given, format!("{name} = {value}: {reason}")));
        }
        Ok(spec)
    }

    fn parse_parts(given: &str, parts: &[&str]) -> Result<AttributorSpec, SpecError> {
        let lookback_days = DEFAULT_LOOKBACK_DAYS;
        let num = |i: usize, default: f64, usage: &str| -> Result<f64, SpecError> {
            match parts.get(i) {
                None => Ok(default),
                Some(p) => p
                    .parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite())
                    .ok_or_else(|| spec_err(given, format!("{usage} takes numbers"))),
            }
        };
        let at_most = |n: usize, usage: &str| -> Result<(), SpecError> {
            if parts.len() > n + 1 {
                return Err(spec_err(
                    given,
                    format!("takes at most {n} parameter(s): {usage}"),
                ));
            }
            Ok(())
        };
        match parts[0] {
            "time_decay" => {
                let usage = "time_decay:HALF_LIFE_DAYS";
                at_most(1, usage)?;
                Ok(AttributorSpec::TimeDecay {
                    half_life_days: num(1, DEFAULT_HALF_LIFE_DAYS, usage)?,
                    lookback_days,
                })
            }
            "position_based" => {
                let usage = "position_based:FIRST:LAST";
                at_most(2, usage)?;
                if parts.len() == 2 {
                    return Err(spec_err(given, format!("give both shares: {usage}")));
                }
                Ok(AttributorSpec::PositionBased {
                    first: num(1, DEFAULT_POSITION_SHARE, usage)?,
                    last: num(2, DEFAULT_POSITION_SHARE, usage)?,
                    lookback_days,
                })
            }
            "markov" => {
                let usage = "markov:ORDER:REVENUE";
                at_most(2, usage)?;
                let order = match parts.get(1) {
                    None => DEFAULT_MARKOV_ORDER,
                    Some(p) => p.parse::<u8>().map_err(|_| {
                        spec_err(
                            given,
                            format!("{usage} takes an order 1..={MAX_MARKOV_ORDER}"),
                        )
                    })?,
                };
                let revenue = match parts.get(2).copied() {
                    None | Some("share") => MarkovRevenue::Share,
                    Some("value") => MarkovRevenue::Value,
                    Some(_) => {
                        return Err(spec_err(
                            given,
                            format!("{usage} takes a revenue split `share` or `value`"),
                        ));
                    }
                };
                Ok(AttributorSpec::Markov {
                    order,
                    lookback_days,
                    revenue,
                })
            }
            "logistic" => {
                let usage = "logistic:BAGS:FRACTION";
                at_most(2, usage)?;
                let bags = match parts.get(1) {
                    None => DEFAULT_LOGISTIC_BAGS,
                    Some(p) => p.parse::<u32>().map_err(|_| {
                        spec_err(
                            given,
                            format!("{usage} takes a whole number of bags 1..={MAX_LOGISTIC_BAGS}"),
                        )
                    })?,
                };
                Ok(AttributorSpec::Logistic {
                    bags,
                    sample_fraction: num(2, DEFAULT_LOGISTIC_FRACTION, usage)?,
                    lookback_days,
                })
            }
            "additive_hazard" => {
                no_params(given, parts).map(|_| AttributorSpec::AdditiveHazard { lookback_days })
            }
            "w_shaped" => {
                no_params(given, parts).map(|_| AttributorSpec::WShaped { lookback_days })
            }
            "shapley_count" => {
                no_params(given, parts).map(|_| AttributorSpec::ShapleyCount { lookback_days })
            }
            "shapley_rate" => {
                no_params(given, parts).map(|_| AttributorSpec::ShapleyRate { lookback_days })
            }
            "first_touch" => {
                no_params(given, parts).map(|_| AttributorSpec::FirstTouch { lookback_days })
            }
            "last_touch" => {
                no_params(given, parts).map(|_| AttributorSpec::LastTouch { lookback_days })
            }
            "last_non_direct" => {
                no_params(given, parts).map(|_| AttributorSpec::LastNonDirect { lookback_days })
            }
            "linear" => no_params(given, parts).map(|_| AttributorSpec::Linear { lookback_days }),
            _ => Err(spec_err(
                given,
                format!("expected one of: {}", kinds(ATTRIBUTORS)),
            )),
        }
    }

    /// The look-back window every model takes.
    pub fn lookback_days(&self) -> f64 {
        match *self {
            AttributorSpec::FirstTouch { lookback_days }
            | AttributorSpec::LastTouch { lookback_days }
            | AttributorSpec::LastNonDirect { lookback_days }
            | AttributorSpec::Linear { lookback_days }
            | AttributorSpec::TimeDecay { lookback_days, .. }
            | AttributorSpec::PositionBased { lookback_days, .. }
            | AttributorSpec::WShaped { lookback_days }
            | AttributorSpec::Markov { lookback_days, .. }
            | AttributorSpec::ShapleyCount { lookback_days }
            | AttributorSpec::ShapleyRate { lookback_days }
            | AttributorSpec::Logistic { lookback_days, .. }
            | AttributorSpec::AdditiveHazard { lookback_days } => lookback_days,
        }
    }

    /// What a model needs that a path file (ChannelAttribution's format)
    /// lacks: `Some(reason)` when it cannot run on paths without times or
    /// opportunities, `None` when it can.
    pub fn path_file_gap(&self) -> Option<&'static str> {
        match self {
            AttributorSpec::TimeDecay { .. } | AttributorSpec::AdditiveHazard { .. } => {
                Some("needs touch times")
            }
            AttributorSpec::WShaped { .. } => Some("needs the opportunity"),
            _ => None,
        }
    }

    /// Out-of-range model parameters (the look-back is checked by the
    /// scenario): `(parameter, value, what is allowed)`.
    pub fn param_problems(&self) -> Vec<(&'static str, f64, String)> {
        let mut out = Vec::new();
        match *self {
            AttributorSpec::TimeDecay { half_life_days, .. }
                if !(half_life_days.is_finite() && half_life_days > 0.0) =>
            {
                out.push(("half_life_days", half_life_days, "must be > 0".into()));
            }
            AttributorSpec::PositionBased { first, last, .. } => {
                for (name, v) in [("first", first), ("last", last)] {
                    if !(v.is_finite() && (0.0..=1.0).contains(&v)) {
                        out.push((name, v, "must be within 0..=1".into()));
                    }
                }
                if first + last > 1.0 + 1e-12 {
                    out.push(("last", last, "first + last must be <= 1".into()));
                }
            }
            AttributorSpec::Markov { order, .. } if !(1..=MAX_MARKOV_ORDER).contains(&order) => {
                out.push((
                    "order",
                    order as f64,
                    format!("must be within 1..={MAX_MARKOV_ORDER}"),
                ));
            }
            AttributorSpec::Logistic {
                bags,
                sample_fraction,
                ..
            } => {
                if !(1..=MAX_LOGISTIC_BAGS).contains(&bags) {
                    out.push((
                        "bags",
                        bags as f64,
                        format!("must be within 1..={MAX_LOGISTIC_BAGS}"),
                    ));
                }
                if !(sample_fraction.is_finite() && sample_fraction > 0.0 && sample_fraction <= 1.0)
                {
                    out.push((
                        "sample_fraction",
                        sample_fraction,
                        "must be within 0 < f <= 1".into(),
                    ));
                }
            }
            _ => {}
        }
        out
    }

    /// The canonical id used in reports: kind, kind parameters, and `_lb{days}`
    /// when the look-back differs from the default.
    pub fn id(&self) -> String {
        let base = match self {
            AttributorSpec::FirstTouch { .. } => "first_touch".to_string(),
            AttributorSpec::LastTouch { .. } => "last_touch".to_string(),
            AttributorSpec::LastNonDirect { .. } => "last_non_direct".to_string(),
            AttributorSpec::Linear { .. } => "linear".to_string(),
            AttributorSpec::TimeDecay { half_life_days, .. } => {
                format!("time_decay_{half_life_days}")
            }
            AttributorSpec::PositionBased { first, last, .. } => {
                format!("position_based_{first}_{last}")
            }
            AttributorSpec::WShaped { .. } => "w_shaped".to_string(),
            AttributorSpec::Markov { order, revenue, .. } => match revenue {
                MarkovRevenue::Share => format!("markov_{order}"),
                MarkovRevenue::Value => format!("markov_{order}_value"),
            },
            AttributorSpec::ShapleyCount { .. } => "shapley_count".to_string(),
            AttributorSpec::ShapleyRate { .. } => "shapley_rate".to_string(),
            AttributorSpec::Logistic {
                bags,
                sample_fraction,
                ..
            } => format!("logistic_{bags}_{sample_fraction}"),
            AttributorSpec::AdditiveHazard { .. } => "additive_hazard".to_string(),
        };
        let lb = self.lookback_days();
        if lb == DEFAULT_LOOKBACK_DAYS {
            base
        } else {
            format!("{base}_lb{lb}")
        }
    }
}

/// Parse a comma-separated CLI list; `all` selects every registered strategy.
pub fn parse_list<T>(
    list: &str,
    all: fn() -> Vec<T>,
    parse: fn(&str) -> Result<T, SpecError>,
) -> Result<Vec<T>, SpecError> {
    let mut out = Vec::new();
    for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        if item == "all" {
            out.extend(all());
        } else {
            out.push(parse(item)?);
        }
    }
    if out.is_empty() {
        return Err(spec_err(list, "the list is empty"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_and_parser_agree() {
        for d in STITCHERS {
            let id = StitcherSpec::parse(d.kind).unwrap().id();
            assert!(
                id == d.kind || id.starts_with(&format!("{}_", d.kind)),
                "{id}"
            );
        }
        assert_eq!(
            StitcherSpec::parse("lookback:7").unwrap().id(),
            "lookback_7"
        );
        assert!(StitcherSpec::parse("lookback:-1").is_err());
        for d in ATTRIBUTORS {
            let spec = AttributorSpec::parse(d.kind).unwrap();
            let id = spec.id();
            // Kinds with parameters beyond the look-back show them in the id.
            if d.params.len() > 1 {
                assert!(id.starts_with(&format!("{}_", d.kind)), "{id}");
            } else {
                assert_eq!(id, d.kind);
            }
            // The canonical id reads back as the same spec.
            assert_eq!(AttributorSpec::parse(&id).unwrap(), spec, "{id}");
        }
        for spec in AttributorSpec::all() {
            assert_eq!(AttributorSpec::parse(&spec.id()).unwrap(), spec);
        }
        assert_eq!(AttributorSpec::parse("markov:2").unwrap().id(), "markov_2");
        assert_eq!(AttributorSpec::parse("markov").unwrap().id(), "markov_1");
        assert_eq!(
            AttributorSpec::parse("markov:2:value").unwrap().id(),
            "markov_2_value"
        );
        assert_eq!(
            AttributorSpec::parse("markov:2:share").unwrap().id(),
            "markov_2"
        );
        assert_eq!(
            AttributorSpec::parse("markov_3_value").unwrap(),
            AttributorSpec::parse("markov:3:value").unwrap()
        );
        assert_eq!(
            AttributorSpec::parse("time_decay:14").unwrap().id(),
            "time_decay_14"
        );
        assert_eq!(
            AttributorSpec::parse("position_based:0.3:0.3")
                .unwrap()
                .id(),
            "position_based_0.3_0.3"
        );
        assert_eq!(
            AttributorSpec::parse("position_based").unwrap().id(),
            "position_based_0.4_0.4"
        );
        assert_eq!(
            AttributorSpec::parse("logistic").unwrap().id(),
            "logistic_50_0.5"
        );
        assert_eq!(
            AttributorSpec::parse("logistic:20:0.8").unwrap().id(),
            "logistic_20_0.8"
        );
        assert_eq!(
            AttributorSpec::parse("logistic_20_0.8").unwrap(),
            AttributorSpec::parse("logistic:20:0.8").unwrap()
        );
        assert_eq!(
            AttributorSpec::parse("additive_hazard").unwrap().id(),
            "additive_hazard"
        );
        assert_eq!(StitcherSpec::all().len(), STITCHERS.len());
        assert_eq!(AttributorSpec::all().len(), ATTRIBUTORS.len());
    }

    #[test]
    fn bad_ids_are_rejected_with_the_choices() {
        let e = AttributorSpec::parse("markovv").unwrap_err();
        assert!(e.to_string().contains("last_touch"));
        for bad in [
            "markov:0",
            "markov:5",
            "markov:1.5",
            "markov:2:3",
            "markov:2:values",
            "markov:2:value:1",
            "markov_2_x",
            "markov_9",
            "time_decay:0",
            "time_decay:-3",
            "time_decay:x",
            "position_based:0.7:0.7",
            "position_based:0.3",
            "position_based:-0.1:0.2",
            "w_shaped:1",
            "shapley_rate:2",
            "logistic:0",
            "logistic:1.5",
            "logistic:10:0",
            "logistic:10:1.5",
            "logistic:10:0.5:3",
            "logistic_10_x",
            "additive_hazard:3",
        ] {
            assert!(AttributorSpec::parse(bad).is_err(), "{bad}");
        }
        let e = AttributorSpec::parse("markov:7").unwrap_err();
        assert!(e.to_string().contains("1..=4"), "{e}");
        assert!(StitcherSpec::parse("cookie_only:3").is_err());
        let l = parse_list("all,last_touch", AttributorSpec::all, AttributorSpec::parse).unwrap();
        assert_eq!(l.len(), ATTRIBUTORS.len() + 1);
    }
}
