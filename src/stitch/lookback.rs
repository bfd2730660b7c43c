//! `lookback{days}` and `forward_only`: deterministic linking (emails typed in
//! form fills, newsletter tokens), but retroactive only within a replay window.
//! A cookie's visits earlier than `days` before its first identification stay
//! anonymous (a cluster of their own); `forward_only` is `lookback{0}` and
//! `lookback{∞}` is `deterministic`.

use super::{Identities, IntMap, Stitcher, UnionFind, crm_nodes, days_to_ms, identifications};
use crate::log::{EventLog, email_token};
use crate::strategy::{
    Needs, ParamDescriptor, ParamValue, SpecError, Strategy, StrategyDescriptor, spec_err,
};
use serde::{Deserialize, Serialize};

/// Deterministic linking with a replay window.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default = "crate::strategy::default")]
pub struct Lookback {
    /// Days before a cookie's first identification whose visits still join the person.
    pub days: f64,
}

impl Strategy for Lookback {
    const DESCRIPTOR: StrategyDescriptor = StrategyDescriptor {
        kind: "lookback",
        summary: "as deterministic, retroactive only within a replay window (CLI lookback:DAYS)",
        params: &[ParamDescriptor {
            name: "days",
            help: "days before a cookie's first identification whose visits still join the person",
            default: ParamValue::Number(Self::DEFAULT.days),
        }],
        needs: Needs::NOTHING,
    };
    const DEFAULT: Self = Lookback { days: 30.0 };

    fn from_cli(given: &str, parts: &[&str]) -> Result<Self, SpecError> {
        match parts.len() {
            1 => Ok(Self::DEFAULT),
            2 => match parts[1].parse::<f64>() {
                Ok(days) if days.is_finite() && days >= 0.0 => Ok(Lookback { days }),
                _ => Err(spec_err(given, "lookback:DAYS takes a number of days >= 0")),
            },
            _ => Err(spec_err(
                given,
                "lookback takes one parameter, lookback:DAYS",
            )),
        }
    }

    fn id(&self) -> String {
        format!("lookback_{}", self.days)
    }
}

/// Deterministic linking from each cookie's first identification on
/// (`lookback` with a window of 0 days).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ForwardOnly;

impl Strategy for ForwardOnly {
    const DESCRIPTOR: StrategyDescriptor = StrategyDescriptor {
        kind: "forward_only",
        summary: "as deterministic, but a cookie's visits before its first identification stay anonymous",
        params: &[],
        needs: Needs::NOTHING,
    };
    const DEFAULT: Self = ForwardOnly;
}

impl Stitcher for ForwardOnly {
    fn name(&self) -> String {
        self.id()
    }

    fn stitch(&self, log: &EventLog) -> Identities {
        stitch_window(log, 0.0)
    }
}

impl Stitcher for Lookback {
    fn name(&self) -> String {
        self.id()
    }

    fn stitch(&self, log: &EventLog) -> Identities {
        stitch_window(log, self.days)
    }
}

/// Deterministic linking, a cookie's visits joining its person from `days`
/// before its first identification on.
fn stitch_window(log: &EventLog, days: f64) -> Identities {
    let window_ms = days_to_ms(days);
    // First identification time of each cookie.
    let mut first_id: IntMap<u64, i64> = IntMap::default();
    for id in identifications(log) {
        let e = first_id.entry(id.cookie).or_insert(id.time_ms);
        *e = (*e).min(id.time_ms);
    }
    let mut uf = UnionFind::new(0);
    // Per cookie: (anonymous part, identified part).
    let mut nodes: IntMap<u64, (u32, u32)> = IntMap::default();
    let mut tokens: IntMap<u64, u32> = IntMap::default();
    let mut node_of = |cookie: u64, uf: &mut UnionFind| {
        *nodes
            .entry(cookie)
            .or_insert_with(|| (uf.push(), uf.push()))
    };
    let visit_nodes: Vec<u32> = log
        .visits
        .iter()
        .map(|v| {
            let (anon, known) = node_of(v.cookie_id, &mut uf);
            match first_id.get(&v.cookie_id) {
                Some(&t) if v.time_ms >= t.saturating_sub(window_ms) => known,
                _ => anon,
            }
        })
        .collect();
    let form_nodes: Vec<u32> = log
        .form_fills
        .iter()
        .map(|f| match f.cookie_id {
            Some(c) => node_of(c, &mut uf).1,
            None => uf.push(),
        })
        .collect();
    let mut token_node = |t: u64, uf: &mut UnionFind| *tokens.entry(t).or_insert_with(|| uf.push());
    for (f, &n) in log.form_fills.iter().zip(&form_nodes) {
        let t = token_node(email_token(&f.email).get(), &mut uf);
        uf.union(n, t);
    }
    for (v, &n) in log.visits.iter().zip(&visit_nodes) {
        if let Some(tok) = v.email_token {
            let t = token_node(tok.get(), &mut uf);
            uf.union(n, t);
        }
    }
    crm_nodes(log, uf, visit_nodes, form_nodes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stitch::tests::two_device_log;

    #[test]
    fn visits_before_the_window_stay_anonymous() {
        let log = two_device_log();
        // Cookie 10: visits at 1 s and 4 s, identified at 4 s; cookie 11: 3 s and 5 s, identified at 5 s.
        let fwd = ForwardOnly.stitch(&log);
        assert_ne!(
            fwd.visit[0], fwd.visit[3],
            "cookie 10's visit before identification stays apart"
        );
        assert_eq!(
            fwd.visit[3], fwd.visit[4],
            "identified parts of both cookies are one person"
        );
        assert_ne!(fwd.visit[2], fwd.visit[4]);
        let all = Lookback {
            days: f64::INFINITY,
        }
        .stitch(&log);
        assert_eq!(all, crate::stitch::Deterministic.stitch(&log));
    }
}
