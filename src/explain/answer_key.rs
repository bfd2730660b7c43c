//! The answer key: each person's true cause, the credit each report gave,
//! and the truth, from the replicate the stories were told from.

use super::model::*;
use super::{ga_model, hubspot_model};
use crate::attribute::{self};
use crate::experiment::{self, ORACLE};
use crate::scenario::Scenario;
use crate::spec::StitcherSpec;
use crate::truth::{INCREMENTAL, PROXIMATE, SHAPLEY};

/// The answer key from a replicate's run.
pub(super) fn answer_key(sc: &Scenario, r: &experiment::ReplicateResult) -> AnswerKey {
    let best_stitcher = r
        .stitching
        .iter()
        .filter(|(name, _)| name != ORACLE)
        .fold(None::<(String, f64)>, |best, (name, m)| {
            let f1 = m.pairwise.f1;
            match best {
                Some((_, b)) if b >= f1 => best,
                _ => Some((name.clone(), f1)),
            }
        })
        .unwrap_or_else(|| (ORACLE.to_string(), 1.0));
    let best_model = r
        .attribution
        .iter()
        .filter(|a| a.stitcher == best_stitcher.0 && a.model != ORACLE)
        .fold(None::<(&str, f64)>, |best, a| {
            let tvd = a.error[SHAPLEY].conversions.tvd;
            match best {
                Some((_, b)) if b <= tvd => best,
                _ => Some((&a.model, tvd)),
            }
        })
        .map_or_else(String::new, |(m, _)| m.to_string());
    let ga = attribute::build(&ga_model()).name();
    let hubspot = attribute::build(&hubspot_model()).name();
    let roles_of = |stitcher: &str, model: &str| -> Vec<String> {
        let mut roles = Vec::new();
        if stitcher == StitcherSpec::CookieOnly.id() && model == ga {
            roles.push("ga_style".to_string());
        }
        if stitcher == StitcherSpec::Deterministic.id() && model == hubspot {
            roles.push("hubspot_style".to_string());
        }
        if stitcher == best_stitcher.0 && model == best_model {
            roles.push("best_model".to_string());
        }
        if stitcher == ORACLE && model == ORACLE {
            roles.push("truth".to_string());
        }
        roles
    };
    AnswerKey {
        scenario: sc.name.clone(),
        seed: sc.seed,
        replicate: r.replicate,
        leads: r.world.leads,
        customers: r.world.customers,
        revenue: r.world.revenue,
        shapley: r.truth[SHAPLEY].conversions.clone(),
        incremental: r.truth[INCREMENTAL].conversions.clone(),
        proximate: r.truth[PROXIMATE].conversions.clone(),
        best_model: best_model.clone(),
        rows: r
            .attribution
            .iter()
            .map(|a| {
                let e = &a.error[SHAPLEY].conversions;
                AnswerRow {
                    roles: roles_of(&a.stitcher, &a.model),
                    stitcher: a.stitcher.clone(),
                    model: a.model.clone(),
                    conversions: a.credit.conversions.clone(),
                    tvd: e.tvd,
                    max_miss_channel: e.max_miss_channel.clone(),
                    max_miss_bias: e
                        .max_miss_channel
                        .as_ref()
                        .and_then(|c| e.bias.get(c).copied())
                        .unwrap_or(0.0),
                }
            })
            .collect(),
        best_stitcher,
        losses: r
            .world
            .loss
            .counts
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect(),
    }
}
