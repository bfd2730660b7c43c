//! Per-channel constants derived once from the scenario and the spends:
//! candidate rates at saturation, the keep probability of each candidate at
//! the scenario's (or a budget's) spends, path weights, the closed forms.

use super::*;
use crate::scenario::Trigger;
use statrs::function::gamma::ln_gamma;

/// Per-channel constants derived once from the scenario and the spends.
#[derive(Clone, Debug)]
pub struct ChannelModel {
    /// Rate candidates are generated at (per person per day, before targeting).
    pub candidate_rate: Vec<f64>,
    /// Probability a window candidate is kept at the current spend.
    pub keep: Vec<f64>,
    /// Probability a warm-up candidate is kept: always at the scenario's own
    /// spends, because the warm-up is history that no spend change can reach.
    pub keep_history: Vec<f64>,
    /// E[z^γ] per channel, so targeting leaves the mean rate unchanged.
    pub mean_z_gamma: Vec<f64>,
    /// Synergy multipliers: `synergy[to]` lists (from, multiplier).
    pub synergy: Vec<Vec<(u16, f64)>>,
    /// The Shapley closed form applies (family `clocks`, no synergy, no triggered channel).
    pub closed_form: bool,
    /// The `funnel` family's constants (None: family `clocks`).
    pub funnel: Option<FunnelModel>,
    /// Form-fill path weights: index 0 = direct, 1 = cause, 2.. = channel c.
    pub path_weights: Vec<f64>,
}

impl ChannelModel {
    /// Derive the constants for one set of spends.
    pub fn new(sc: &Scenario, spends: &[f64]) -> Self {
        let k = sc.population.frailty_shape;
        let candidate_rate: Vec<f64> = sc.channels.iter().map(|c| c.candidate_rate()).collect();
        let keep_at = |spends: &[f64]| -> Vec<f64> {
            sc.channels
                .iter()
                .zip(spends)
                .zip(&candidate_rate)
                .map(|((c, &s), &max)| {
                    if max > 0.0 {
                        (c.rate_at(s) / max).clamp(0.0, 1.0)
                    } else {
                        0.0
                    }
                })
                .collect()
        };
        let keep = keep_at(spends);
        let keep_history = keep_at(&scenario_spends(sc));
        let mean_z_gamma = sc
            .channels
            .iter()
            .map(|c| {
                let g = c.intent_exponent;
                (ln_gamma(k + g) - ln_gamma(k) - g * k.ln()).exp()
            })
            .collect();
        let mut synergy = vec![Vec::new(); sc.channels.len()];
        for s in &sc.synergy {
            if let (Some(f), Some(t)) = (sc.channel_index(&s.from), sc.channel_index(&s.to)) {
                synergy[t].push((f as u16, s.multiplier));
            }
        }
        let funnel = sc.world.funnel().map(|f| FunnelModel::new(sc, &f));
        let closed_form = funnel.is_none()
            && sc.synergy.is_empty()
            && sc.channels.iter().all(|c| c.trigger == Trigger::None);
        let mut path_weights = vec![0.0; 2 + sc.channels.len()];
        for (key, &w) in &sc.form_fill.path {
            match key.as_str() {
                "direct" => path_weights[0] += w,
                "cause" => path_weights[1] += w,
                id => {
                    if let Some(c) = sc.channel_index(id) {
                        path_weights[2 + c] += w;
                    }
                }
            }
        }
        ChannelModel {
            candidate_rate,
            keep,
            keep_history,
            mean_z_gamma,
            synergy,
            closed_form,
            funnel,
            path_weights,
        }
    }
}
