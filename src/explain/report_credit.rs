//! What one journey adds to a report: the real stitchers and models run on
//! the observed log, and each journey's marginal credit (all journeys minus
//! all but this one). Never re-implements a strategy.

use crate::attribute::{self, Journeys};
use crate::base::credit::Credit;
use crate::log::EventLog;
use crate::scenario::{JourneyUnit, Scenario};
use crate::spec::{AttributorSpec, StitcherSpec};
use crate::stitch::Identities;

/// One report's partition and journeys, and each cluster's journey index.
pub(super) struct ReportRun {
    pub(super) role: String,
    pub(super) stitcher: String,
    pub(super) model: String,
    pub(super) spec: AttributorSpec,
    pub(super) ids: Identities,
    pub(super) journeys: Journeys,
    /// Journey index per cluster (None: the cluster makes no journey).
    pub(super) journey_of: Vec<Option<u32>>,
    /// The model's credit on all journeys.
    pub(super) total: Credit,
}

impl ReportRun {
    pub(super) fn new(
        sc: &Scenario,
        log: &EventLog,
        role: &str,
        stitcher: &StitcherSpec,
        ids: Identities,
        model: &AttributorSpec,
    ) -> ReportRun {
        let (journeys, kept) = match sc.journey_unit {
            JourneyUnit::Visit => (Journeys::build(log, &ids), None),
            JourneyUnit::Session => {
                let starts = log.session_starts(&sc.sessions);
                let js = Journeys::build_sessions(log, &ids, &sc.sessions);
                (js, Some(starts))
            }
        };
        // `Journeys::build` makes a journey of every cluster with a kept
        // visit up to its lead, a lead or revenue, in cluster order.
        let n = ids.n_clusters as usize;
        let mut lead_ms: Vec<Option<i64>> = vec![None; n];
        for (l, &c) in log.crm_leads.iter().zip(&ids.crm_lead) {
            let e = &mut lead_ms[c as usize];
            *e = Some(e.map_or(l.time_ms, |t| t.min(l.time_ms)));
        }
        let mut has = vec![false; n];
        for (i, (v, &c)) in log.visits.iter().zip(&ids.visit).enumerate() {
            let kept_visit = kept.as_ref().is_none_or(|k| k[i]);
            if kept_visit && lead_ms[c as usize].is_none_or(|t| v.time_ms <= t) {
                has[c as usize] = true;
            }
        }
        for (d, &c) in log.deals.iter().zip(&ids.deal) {
            if d.revenue != 0.0 {
                has[c as usize] = true;
            }
        }
        let mut journey_of = vec![None; n];
        let mut next = 0u32;
        for c in 0..n {
            if has[c] || lead_ms[c].is_some() {
                journey_of[c] = Some(next);
                next += 1;
            }
        }
        assert_eq!(
            next as usize,
            journeys.journeys.len(),
            "journey numbering follows Journeys::build"
        );
        let m = attribute::build(model);
        let total = m.attribute(&journeys);
        ReportRun {
            role: role.to_string(),
            stitcher: stitcher.id(),
            model: m.name(),
            spec: model.clone(),
            ids,
            journeys,
            journey_of,
            total,
        }
    }

    /// The journey holding a CRM lead record, if any.
    pub(super) fn journey_of_lead(&self, crm_lead: usize) -> Option<usize> {
        self.journey_of[self.ids.crm_lead[crm_lead] as usize].map(|j| j as usize)
    }

    /// What journey `j` adds to the model's report.
    pub(super) fn credit_of(&self, j: usize) -> Credit {
        journey_credit(&self.spec, &self.journeys, j, Some(&self.total))
    }
}

/// What journey `j` adds to a model's report: credit on all journeys minus
/// credit on all but `j` (`total` = credit on all, when already computed).
pub fn journey_credit(
    model: &AttributorSpec,
    journeys: &Journeys,
    j: usize,
    total: Option<&Credit>,
) -> Credit {
    let m = attribute::build(model);
    let all = match total {
        Some(t) => t.clone(),
        None => m.attribute(journeys),
    };
    let without = m.attribute(&without_journey(journeys, j));
    let mut out = Credit::default();
    for (label, v) in &all.conversions {
        let rest = without.conversions.get(label).copied().unwrap_or(0.0);
        let rev = all.revenue.get(label).copied().unwrap_or(0.0)
            - without.revenue.get(label).copied().unwrap_or(0.0);
        out.add(label, v - rest, rev);
    }
    for (label, v) in &without.conversions {
        if !all.conversions.contains_key(label) {
            let rev = without.revenue.get(label).copied().unwrap_or(0.0);
            out.add(label, -v, -rev);
        }
    }
    out
}

/// The journeys with journey `j` left out.
pub fn without_journey(journeys: &Journeys, j: usize) -> Journeys {
    let mut out = Journeys::new(journeys.labels.clone(), journeys.n_channels);
    for i in (0..journeys.journeys.len()).filter(|&i| i != j) {
        out.push_copy(journeys, i);
    }
    out
}

/// Only journey `j`.
pub fn only_journey(journeys: &Journeys, j: usize) -> Journeys {
    let mut out = Journeys::new(journeys.labels.clone(), journeys.n_channels);
    out.push_copy(journeys, j);
    out
}
