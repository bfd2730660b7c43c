//! The registry: every stitcher and attribution model, one line each. A
//! strategy's struct is its spec and carries its descriptor
//! (`strategy::Strategy`: id, parameters with default values, doc line,
//! needs); from these lines come the scenario's `kind`s (`[[stitchers]]`,
//! `[[attributors]]`), the CLI parser (`markov:2`, and report ids such as
//! `markov_2` read back), ids, `all`, parameter checks and `closedloop list`.
//!
//! Adding a stitcher or a model = its file in `stitch/` or `attribute/` + one
//! line below.
//! Must never: depend on the world, the observation layer or the truth.

use crate::attribute::{self, Attributor, Journeys};
use crate::base::credit::Credit;
use crate::log::EventLog;
use crate::stitch::{self, Identities, Stitcher};
use crate::strategy::{DynStrategy, ParamProblem, Strategy, spec_err};

pub use crate::attribute::{
    DEFAULT_LOOKBACK_DAYS, MAX_LOGISTIC_BAGS, MAX_MARKOV_ORDER, MarkovRevenue,
};
pub use crate::strategy::{ParamDescriptor, ParamValue, SpecError, StrategyDescriptor};

/// Declares a registry: the scenario enum (tagged by `kind`, one variant per
/// line), the list of descriptors, and the parser, ids and `all` read from
/// them. A line is `Variant(path::Struct)`, or `Variant = path::Unit` for a
/// stitcher without parameters (a unit variant: `StitcherSpec::CookieOnly`).
/// `stitchers:` makes the enum a [`Stitcher`], `models:` an [`Attributor`].
macro_rules! registry {
    (
        $role:ident:
        $(#[$meta:meta])*
        pub enum $Spec:ident, list $LIST:ident {
            $( $V:ident $(($T:ty))? $(= $U:path)? ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
        #[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
        pub enum $Spec {
            $(
                #[allow(missing_docs)]
                $V $(($T))?,
            )*
        }

        /// Every registered strategy's descriptor, in registry order.
        pub const $LIST: &[StrategyDescriptor] = &[
            $( $(<$T as Strategy>::DESCRIPTOR)? $(<$U as Strategy>::DESCRIPTOR)? ),*
        ];

        impl $Spec {
            /// Every registered strategy with its defaults (what `all` selects).
            pub fn all() -> Vec<$Spec> {
                $LIST
                    .iter()
                    .map(|d| Self::from_parts(d.kind, &[d.kind]).expect("defaults are valid"))
                    .collect()
            }

            /// Its descriptor.
            pub fn descriptor(&self) -> StrategyDescriptor {
                self.strategy().descriptor()
            }

            /// Out-of-range parameters: `(parameter, value, what is allowed)`.
            pub fn param_problems(&self) -> Vec<ParamProblem> {
                self.strategy().problems()
            }

            /// The spec of a CLI id split at `:` (`parts[0]` is the kind).
            fn from_parts(given: &str, parts: &[&str]) -> Result<$Spec, SpecError> {
                $(
                    $(
                        if parts[0] == <$T as Strategy>::DESCRIPTOR.kind {
                            return <$T as Strategy>::from_cli(given, parts).map($Spec::$V);
                        }
                    )?
                    $(
                        if parts[0] == <$U as Strategy>::DESCRIPTOR.kind {
                            return <$U as Strategy>::from_cli(given, parts).map(|_| $Spec::$V);
                        }
                    )?
                )*
                Err(spec_err(given, format!("expected one of: {}", kinds($LIST))))
            }

            /// The strategy behind the spec.
            fn strategy(&self) -> &registry!(@entry $role) {
                match self {
                    $(
                        $( $Spec::$V(s) => registry!(@upcast $role, $T, s), )?
                        $( $Spec::$V => registry!(@upcast $role, $U, &$U), )?
                    )*
                }
            }
        }

        registry!(@role $role $Spec $LIST);
    };

    (@entry stitchers) => { dyn StitcherEntry };
    (@entry models) => { dyn ModelEntry };
    (@upcast stitchers, $T:ty, $s:expr) => { stitcher_entry::<$T>($s) };
    (@upcast models, $T:ty, $s:expr) => { model_entry::<$T>($s) };

    (@role stitchers $Spec:ident $LIST:ident) => {
        impl $Spec {
            /// Parse a CLI id (`cookie_only`, `lookback:7`).
            pub fn parse(given: &str) -> Result<$Spec, SpecError> {
                let parts: Vec<&str> = given.trim().split(':').collect();
                Self::from_parts(given, &parts)
            }

            /// The canonical id used in reports.
            pub fn id(&self) -> String {
                self.strategy().strategy_id()
            }
        }

        impl Stitcher for $Spec {
            fn name(&self) -> String {
                self.id()
            }
            fn stitch(&self, log: &EventLog) -> Identities {
                self.strategy().stitch(log)
            }
        }
    };

    (@role models $Spec:ident $LIST:ident) => {
        impl $Spec {
            /// Parse a CLI id (`last_touch`, `time_decay:14`, `markov:2`). A
            /// canonical report id with parameters (`markov_2`,
            /// `position_based_0.3_0.3`) is read the same way.
            pub fn parse(given: &str) -> Result<$Spec, SpecError> {
                parse_model(given, $LIST, Self::from_parts, Self::param_problems)
            }

            /// The canonical id used in reports: kind, kind parameters, and
            /// `_lb{days}` when the look-back differs from the default.
            pub fn id(&self) -> String {
                attribute::model_id(self.strategy().strategy_id(), self.lookback_days())
            }

            /// The look-back window every model takes.
            pub fn lookback_days(&self) -> f64 {
                self.strategy().lookback_days()
            }

            /// What a model needs that a path file (ChannelAttribution's
            /// format) lacks: `Some(reason)` when it cannot run on paths
            /// without times or opportunities, `None` when it can.
            pub fn path_file_gap(&self) -> Option<&'static str> {
                self.descriptor().path_file_gap()
            }
        }

        impl Attributor for $Spec {
            fn name(&self) -> String {
                self.id()
            }
            fn lookback_days(&self) -> f64 {
                self.strategy().lookback_days()
            }
            fn attribute(&self, journeys: &Journeys) -> Credit {
                self.strategy().attribute(journeys)
            }
        }
    };
}

registry! {
    stitchers:
    /// A stitching strategy with its parameters (scenario `[[stitchers]]`, CLI `--stitchers`).
    pub enum StitcherSpec, list STITCHERS {
        CookieOnly = stitch::CookieOnly,
        Deterministic = stitch::Deterministic,
        ForwardOnly = stitch::ForwardOnly,
        Lookback(stitch::Lookback),
        LastLogin = stitch::LastLogin,
        Normalized = stitch::Normalized,
        Graph(stitch::Graph),
        Probabilistic(stitch::Probabilistic),
    }
}

registry! {
    models:
    /// An attribution model with its parameters (scenario `[[attributors]]`, CLI `--models`).
    pub enum AttributorSpec, list ATTRIBUTORS {
        FirstTouch(attribute::FirstTouch),
        LastTouch(attribute::LastTouch),
        LastNonDirect(attribute::LastNonDirect),
        Linear(attribute::Linear),
        TimeDecay(attribute::TimeDecay),
        PositionBased(attribute::PositionBased),
        WShaped(attribute::WShaped),
        Markov(attribute::Markov),
        ShapleyCount(attribute::ShapleyCount),
        ShapleyRate(attribute::ShapleyRate),
        Logistic(attribute::Logistic),
        AdditiveHazard(attribute::AdditiveHazard),
    }
}

/// A registered stitcher, as an object.
trait StitcherEntry: Stitcher + DynStrategy {}
impl<T: Stitcher + DynStrategy> StitcherEntry for T {}

fn stitcher_entry<T: StitcherEntry>(s: &T) -> &dyn StitcherEntry {
    s
}

/// A registered model, as an object.
trait ModelEntry: Attributor + DynStrategy {}
impl<T: Attributor + DynStrategy> ModelEntry for T {}

fn model_entry<T: ModelEntry>(s: &T) -> &dyn ModelEntry {
    s
}

fn kinds(list: &[StrategyDescriptor]) -> String {
    list.iter().map(|d| d.kind).collect::<Vec<_>>().join(", ")
}

/// Parse a model's CLI or report id against a registry (`from_parts` reads
/// the `:` parts), then reject out-of-range parameters.
fn parse_model<S>(
    given: &str,
    list: &[StrategyDescriptor],
    from_parts: fn(&str, &[&str]) -> Result<S, SpecError>,
    problems: fn(&S) -> Vec<ParamProblem>,
) -> Result<S, SpecError> {
    let trimmed = given.trim();
    let mut parts: Vec<&str> = trimmed.split(':').collect();
    let spec = match from_parts(given, &parts) {
        Err(e) if parts.len() == 1 => {
            // `markov_2` → `markov:2`, for kinds whose parameters are not
            // all the look-back; the longest matching kind wins.
            let Some(kind) = report_id_kind(list, trimmed) else {
                return Err(e);
            };
            parts = std::iter::once(kind)
                .chain(trimmed[kind.len() + 1..].split('_'))
                .collect();
            from_parts(given, &parts)?
        }
        other => other?,
    };
    if let Some((name, value, reason)) = problems(&spec).into_iter().next() {
        return Err(spec_err(given, format!("{name} = {value}: {reason}")));
    }
    Ok(spec)
}

/// The registered model kind a report id with parameters starts with.
fn report_id_kind(list: &[StrategyDescriptor], id: &str) -> Option<&'static str> {
    list.iter()
        .find(|d| d.params.len() > 1 && id.strip_prefix(d.kind).is_some_and(|r| r.starts_with('_')))
        .map(|d| d.kind)
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
