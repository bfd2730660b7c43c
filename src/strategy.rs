//! What a strategy says about itself: the [`Strategy`] trait every stitcher
//! and model struct implements, so that the struct *is* its spec. Its
//! descriptor holds the id, the parameters with their defaults as values, the
//! doc line and the inputs it needs; the registry (`spec`) lists descriptors
//! and the CLI parser, `closedloop list`, ids and docs read them.
//!
//! Must never: name a concrete strategy (the registry below `attribute`
//! does), the world, the observation layer or the truth.

use serde::Serialize;
use std::fmt;

/// A parameter's default, as a value (shown as written in a scenario).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ParamValue {
    /// A number (`90`, `0.4`).
    Number(f64),
    /// A whole number (`20`).
    Count(u32),
    /// A word (`share`).
    Word(&'static str),
}

impl fmt::Display for ParamValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamValue::Number(x) => write!(f, "{x}"),
            ParamValue::Count(n) => write!(f, "{n}"),
            ParamValue::Word(w) => f.write_str(w),
        }
    }
}

impl Serialize for ParamValue {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// One parameter of a strategy, for `closedloop list` and docs.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct ParamDescriptor {
    /// Scenario key.
    pub name: &'static str,
    /// Unit or meaning.
    pub help: &'static str,
    /// Default value.
    pub default: ParamValue,
}

/// Inputs a strategy needs beyond a journey's ordered channels (a path file,
/// ChannelAttribution's format, has neither).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Needs {
    /// Each touch's time.
    pub touch_times: bool,
    /// The opportunity's time.
    pub opportunities: bool,
}

impl Needs {
    /// Nothing beyond the ordered channels.
    pub const NOTHING: Needs = Needs {
        touch_times: false,
        opportunities: false,
    };
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
    /// What it reads beyond the ordered channels.
    #[serde(skip)]
    pub needs: Needs,
}

impl StrategyDescriptor {
    /// Why the strategy cannot run on a path file, if it cannot.
    pub fn path_file_gap(&self) -> Option<&'static str> {
        if self.needs.touch_times {
            Some("needs touch times")
        } else if self.needs.opportunities {
            Some("needs the opportunity")
        } else {
            None
        }
    }
}

/// A strategy id that could not be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("unknown or malformed strategy `{given}`: {reason}")]
pub struct SpecError {
    /// What the user wrote.
    pub given: String,
    /// What was expected.
    pub reason: String,
}

/// A [`SpecError`] for `given`.
pub fn spec_err(given: &str, reason: impl Into<String>) -> SpecError {
    SpecError {
        given: given.to_string(),
        reason: reason.into(),
    }
}

/// An out-of-range parameter: `(parameter, value, what is allowed)`.
pub type ParamProblem = (&'static str, f64, String);

/// A stitcher or model whose struct is its spec. The registry (`spec`) turns
/// a list of these into the scenario's `kind` enum, the CLI parser and
/// `closedloop list`.
pub trait Strategy: Sized {
    /// Its id, parameters with defaults, doc line and needs.
    const DESCRIPTOR: StrategyDescriptor;
    /// The strategy with every parameter at its default (what `all` selects).
    const DEFAULT: Self;

    /// Read the `:` parameters of a CLI id (`parts[0]` is the kind, `given`
    /// the whole id for error messages). By default it takes none.
    fn from_cli(given: &str, parts: &[&str]) -> Result<Self, SpecError> {
        no_params(given, parts).map(|_| Self::DEFAULT)
    }

    /// The canonical id in reports, from the parameters (a model's
    /// look-back suffix is added by the registry); by default the kind.
    fn id(&self) -> String {
        Self::DESCRIPTOR.kind.to_string()
    }

    /// Out-of-range parameters (checked by the CLI parser and the scenario).
    fn param_problems(&self) -> Vec<ParamProblem> {
        Vec::new()
    }
}

/// The default of a strategy (serde's `default` for a strategy struct, so a
/// scenario may omit any parameter).
pub fn default<T: Strategy>() -> T {
    T::DEFAULT
}

/// `Err` when a CLI id has `:` parameters.
pub fn no_params(given: &str, parts: &[&str]) -> Result<(), SpecError> {
    if parts.len() > 1 {
        return Err(spec_err(given, "takes no `:` parameters"));
    }
    Ok(())
}

/// `Err` when a CLI id has more than `n` parameters.
pub fn at_most(given: &str, parts: &[&str], n: usize, usage: &str) -> Result<(), SpecError> {
    if parts.len() > n + 1 {
        return Err(spec_err(
            given,
            format!("takes at most {n} parameter(s): {usage}"),
        ));
    }
    Ok(())
}

/// The `i`-th CLI parameter as a finite number, or `default` when absent.
pub fn number(
    given: &str,
    parts: &[&str],
    i: usize,
    default: f64,
    usage: &str,
) -> Result<f64, SpecError> {
    match parts.get(i) {
        None => Ok(default),
        Some(p) => p
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or_else(|| spec_err(given, format!("{usage} takes numbers"))),
    }
}

/// [`Strategy`] as an object, for the registry to dispatch through.
pub trait DynStrategy {
    /// [`Strategy::DESCRIPTOR`].
    fn descriptor(&self) -> StrategyDescriptor;
    /// [`Strategy::id`].
    fn strategy_id(&self) -> String;
    /// [`Strategy::param_problems`].
    fn problems(&self) -> Vec<ParamProblem>;
}

impl<T: Strategy> DynStrategy for T {
    fn descriptor(&self) -> StrategyDescriptor {
        T::DESCRIPTOR
    }
    fn strategy_id(&self) -> String {
        self.id()
    }
    fn problems(&self) -> Vec<ParamProblem> {
        self.param_problems()
    }
}
