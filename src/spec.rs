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
                /// The strategy of this kind (its struct's descriptor says what it does).
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attribute::tests::paths;
    use crate::strategy::{Needs, StrategyDescriptor};

    #[test]
    fn registry_and_parser_agree() {
        for d in STITCHERS {
            let spec = StitcherSpec::parse(d.kind).unwrap();
            let id = spec.id();
            assert!(
                id == d.kind || id.starts_with(&format!("{}_", d.kind)),
                "{id}"
            );
            assert_eq!(spec.descriptor().kind, d.kind);
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
            assert_eq!(attribute::build(&spec).name(), spec.id());
        }
        for spec in StitcherSpec::all() {
            assert_eq!(stitch::build(&spec).name(), spec.id());
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
    fn the_scenario_kind_is_the_descriptor_kind() {
        // serde names a variant by its snake-cased name; the descriptor names
        // the strategy: they must be the same word.
        for spec in StitcherSpec::all() {
            let v = serde_json::to_value(&spec).unwrap();
            assert_eq!(v["kind"], spec.descriptor().kind, "{}", spec.id());
            assert_eq!(serde_json::from_value::<StitcherSpec>(v).unwrap(), spec);
        }
        for spec in AttributorSpec::all() {
            let v = serde_json::to_value(&spec).unwrap();
            assert_eq!(v["kind"], spec.descriptor().kind, "{}", spec.id());
            assert_eq!(serde_json::from_value::<AttributorSpec>(v).unwrap(), spec);
        }
    }

    #[test]
    fn list_shows_defaults_as_written_in_a_scenario() {
        let shown = |list: &[StrategyDescriptor], kind: &str| -> Vec<String> {
            let d = list.iter().find(|d| d.kind == kind).unwrap();
            d.params
                .iter()
                .map(|p| format!("{} = {}", p.name, p.default))
                .collect()
        };
        assert_eq!(
            shown(STITCHERS, "graph"),
            ["max_emails = 3", "max_cookies = 20", "ttl_days = 365"]
        );
        assert_eq!(
            shown(ATTRIBUTORS, "markov"),
            ["order = 1", "revenue = share", "lookback_days = 90"]
        );
        assert_eq!(
            shown(ATTRIBUTORS, "position_based"),
            ["first = 0.4", "last = 0.4", "lookback_days = 90"]
        );
        let json = serde_json::to_value(ATTRIBUTORS).unwrap();
        assert_eq!(json[7]["params"][0]["default"], "1");
        assert!(json[0].get("needs").is_none(), "`list --json` is unchanged");
    }

    #[test]
    fn needs_say_which_models_a_path_file_cannot_feed() {
        let gaps: Vec<(String, &str)> = AttributorSpec::all()
            .iter()
            .filter_map(|s| s.path_file_gap().map(|g| (s.id(), g)))
            .collect();
        assert_eq!(
            gaps,
            [
                ("time_decay_7".to_string(), "needs touch times"),
                ("w_shaped".to_string(), "needs the opportunity"),
                ("additive_hazard".to_string(), "needs touch times"),
            ]
        );
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

    #[test]
    fn every_model_sums_to_the_conversions_and_revenue() {
        let js = paths(
            &["a", "b", "c"],
            &[
                ("a>direct>b", 1.0, 7.0),
                ("", 1.0, 3.0),
                ("direct", 1.0, 2.0),
                ("c>a>c", 2.0, 5.0),
                ("b", 0.0, 0.0),
            ],
        );
        let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
        for spec in AttributorSpec::all() {
            let cr = attribute::build(&spec).attribute(&js);
            assert!(close(cr.total_conversions(), 5.0), "{}", spec.id());
            assert!(close(cr.total_revenue(), 17.0), "{}", spec.id());
            assert!(
                close(cr.conversions["unknown"], 1.0),
                "{}: empty journey → unknown",
                spec.id()
            );
        }
    }

    /// A strategy added the way a new one is: its struct, its descriptor,
    /// its trait impls — and one registry line. Nothing else in the crate
    /// knows it. (The test registries use only part of what `registry!`
    /// generates, hence `dead_code`.)
    #[allow(dead_code)]
    mod toy {
        use super::*;
        use crate::attribute::{Attributor, Journeys, credit_by_rule};
        use crate::base::credit::Credit;
        use crate::strategy::{ParamDescriptor, ParamValue, SpecError, number};
        use serde::{Deserialize, Serialize};

        /// Half the credit to each of the first two touches (all of it to a
        /// lone touch); `first_share` moves the split.
        #[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields, default = "crate::strategy::default")]
        pub struct UniformFirstTwo {
            /// Share of the first touch when there are two or more.
            pub first_share: f64,
            /// Touches older than this before the lead are ignored.
            pub lookback_days: f64,
        }

        impl Strategy for UniformFirstTwo {
            const DESCRIPTOR: StrategyDescriptor = StrategyDescriptor {
                kind: "uniform_first_two",
                summary: "the first two touches share the credit",
                params: &[
                    ParamDescriptor {
                        name: "first_share",
                        help: "share of the first touch (0..=1)",
                        default: ParamValue::Number(Self::DEFAULT.first_share),
                    },
                    attribute::LOOKBACK,
                ],
                needs: Needs::NOTHING,
            };
            const DEFAULT: Self = UniformFirstTwo {
                first_share: 0.5,
                lookback_days: DEFAULT_LOOKBACK_DAYS,
            };

            fn from_cli(given: &str, parts: &[&str]) -> Result<Self, SpecError> {
                let usage = "uniform_first_two:FIRST_SHARE";
                crate::strategy::at_most(given, parts, 1, usage)?;
                Ok(UniformFirstTwo {
                    first_share: number(given, parts, 1, Self::DEFAULT.first_share, usage)?,
                    ..Self::DEFAULT
                })
            }

            fn id(&self) -> String {
                format!("uniform_first_two_{}", self.first_share)
            }

            fn param_problems(&self) -> Vec<ParamProblem> {
                let s = self.first_share;
                if (0.0..=1.0).contains(&s) {
                    Vec::new()
                } else {
                    vec![("first_share", s, "must be within 0..=1".into())]
                }
            }
        }

        impl Attributor for UniformFirstTwo {
            fn name(&self) -> String {
                attribute::model_id(self.id(), self.lookback_days)
            }
            fn lookback_days(&self) -> f64 {
                self.lookback_days
            }
            fn attribute(&self, journeys: &Journeys) -> Credit {
                credit_by_rule(journeys, self.lookback_days, |_, w| {
                    if w.len() == 1 {
                        w[0] = 1.0;
                    } else {
                        w[0] = self.first_share;
                        w[1] = 1.0 - self.first_share;
                    }
                })
            }
        }

        /// A stitcher with no parameters: every event its own person.
        #[derive(Clone, Copy, Debug, Default, PartialEq)]
        pub struct Strangers;

        impl Strategy for Strangers {
            const DESCRIPTOR: StrategyDescriptor = StrategyDescriptor {
                kind: "strangers",
                summary: "no event joins another",
                params: &[],
                needs: Needs::NOTHING,
            };
            const DEFAULT: Self = Strangers;
        }

        impl Stitcher for Strangers {
            fn name(&self) -> String {
                self.id()
            }
            fn stitch(&self, log: &EventLog) -> Identities {
                let mut next = 0u64;
                let mut keys = |n: usize| -> Vec<u64> {
                    next += n as u64;
                    (next - n as u64..next).collect()
                };
                Identities::canonical([
                    keys(log.visits.len()),
                    keys(log.form_fills.len()),
                    keys(log.crm_leads.len()),
                    keys(log.opportunities.len()),
                    keys(log.deals.len()),
                ])
            }
        }

        registry! {
            models:
            /// A test registry: `linear` and the toy.
            pub enum ToyModelSpec, list TOY_MODELS {
                Linear(attribute::Linear),
                UniformFirstTwo(UniformFirstTwo),
            }
        }

        registry! {
            stitchers:
            /// A test registry: `cookie_only` and the toy.
            pub enum ToyStitcherSpec, list TOY_STITCHERS {
                CookieOnly = stitch::CookieOnly,
                Strangers = Strangers,
            }
        }

        #[test]
        fn a_new_model_is_one_struct_and_one_registry_line() {
            // Listed, with its default as a value.
            let d = TOY_MODELS
                .iter()
                .find(|d| d.kind == "uniform_first_two")
                .unwrap();
            assert_eq!(d.summary, "the first two touches share the credit");
            assert_eq!(d.params[0].default.to_string(), "0.5");
            // Parsed from the CLI, and its report id read back.
            let spec = ToyModelSpec::parse("uniform_first_two:0.75").unwrap();
            assert_eq!(spec.id(), "uniform_first_two_0.75");
            assert_eq!(ToyModelSpec::parse(&spec.id()).unwrap(), spec);
            let e = ToyModelSpec::parse("uniform_first_two:2").unwrap_err();
            assert_eq!(
                e.to_string(),
                "unknown or malformed strategy `uniform_first_two:2`: first_share = 2: must be within 0..=1"
            );
            let e = ToyModelSpec::parse("markov").unwrap_err();
            assert!(e.reason.ends_with("linear, uniform_first_two"), "{e}");
            assert_eq!(ToyModelSpec::all().len(), 2);
            // Read from a scenario, defaults filled in.
            #[derive(Deserialize)]
            struct Scenario {
                attributors: Vec<ToyModelSpec>,
            }
            let sc: Scenario =
                toml::from_str("[[attributors]]\nkind = \"uniform_first_two\"\nlookback_days = 30")
                    .unwrap();
            assert_eq!(sc.attributors[0].id(), "uniform_first_two_0.5_lb30");
            assert!(
                toml::from_str::<Scenario>("[[attributors]]\nkind = \"uniform_first_two\"\nx = 1")
                    .is_err()
            );
            // Built and run.
            let js = paths(&["a", "b"], &[("a>b>a", 1.0, 10.0), ("b", 1.0, 4.0)]);
            let credit = attribute::build(&spec).attribute(&js);
            assert!((credit.conversions["a"] - 0.75).abs() < 1e-12);
            assert!((credit.conversions["b"] - 1.25).abs() < 1e-12);
            assert!((credit.revenue["a"] - 7.5).abs() < 1e-12);
            assert_eq!(attribute::build(&spec).name(), "uniform_first_two_0.75");
        }

        #[test]
        fn a_new_stitcher_is_one_struct_and_one_registry_line() {
            assert_eq!(
                TOY_STITCHERS.iter().map(|d| d.kind).collect::<Vec<_>>(),
                ["cookie_only", "strangers"]
            );
            let spec = ToyStitcherSpec::parse("strangers").unwrap();
            assert_eq!(spec, ToyStitcherSpec::Strangers);
            assert!(ToyStitcherSpec::parse("strangers:1").is_err());
            let log = crate::stitch::tests::two_device_log();
            let ids = stitch::build(&spec).stitch(&log);
            let events = log.visits.len()
                + log.form_fills.len()
                + log.crm_leads.len()
                + log.opportunities.len()
                + log.deals.len();
            assert_eq!(ids.n_clusters as usize, events);
            assert_eq!(stitch::build(&spec).name(), "strangers");
        }
    }
}
