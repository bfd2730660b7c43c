//! Journeys: a stitcher's clusters turned into ordered touches, with the
//! conversion (CRM lead), earliest opportunity and revenue (deals) each
//! cluster holds; or journeys from a path file's rows (no times).
//!
//! A converting journey's touches end at its lead. The touches after the
//! lead up to the earliest opportunity are kept aside, in a sparse table
//! next to the journeys ([`Journeys::post_lead_of`]): only `w_shaped` reads
//! them (the opportunity-creating touch), every other model never sees
//! them, and journeys without an opportunity cost nothing.

use crate::log::{EventLog, LabelId, SessionRule};
use crate::stitch::{Identities, IntMap};

/// One recorded touch of a journey.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Touch {
    /// ms UTC.
    pub time_ms: i64,
    /// Recorded label.
    pub label: LabelId,
}

/// One journey: a range of `Journeys::touches`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Journey {
    /// First touch index.
    pub start: u32,
    /// One past the last touch index.
    pub end: u32,
    /// Lead time (ms UTC) if the journey converts.
    pub lead_ms: Option<i64>,
    /// Creation time (ms UTC) of the cluster's earliest opportunity, if any.
    pub opp_ms: Option<i64>,
    /// Conversions credited by the journey (1 per converting cluster).
    pub conversions: f64,
    /// Non-converting journeys this entry stands for: 1 for a cluster without
    /// a lead, 0 for one with a lead; a path file's `total_null`.
    pub nulls: f64,
    /// Revenue of the cluster's deals.
    pub revenue: f64,
}

/// The touches of one converting journey after its lead, up to and
/// including its earliest opportunity's time: a range of
/// `Journeys::post_lead_touches`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct PostLead {
    /// Index of the journey in `Journeys::journeys`.
    pub journey: u32,
    /// First touch index in `Journeys::post_lead_touches`.
    pub start: u32,
    /// One past the last.
    pub end: u32,
}

/// One row of a path file: the steps' labels in order, with the conversions,
/// revenue and non-converting journeys that share the path.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PathRow {
    /// Labels in path order.
    pub steps: Vec<String>,
    /// Conversions (`total_conversions`).
    pub conversions: f64,
    /// Revenue (`total_conversion_value`).
    pub revenue: f64,
    /// Non-converting journeys (`total_null`).
    pub nulls: f64,
}

/// All journeys of one (log, partition), in a flat layout.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Journeys {
    /// Labels touches refer to (channels first, then `direct`, `unassigned`, `unknown`).
    pub labels: Vec<String>,
    /// How many labels are channels.
    pub n_channels: usize,
    /// Index of `direct`.
    pub direct: LabelId,
    /// Index of `unknown`.
    pub unknown: LabelId,
    /// Touches of every journey, journey by journey, in time order.
    pub touches: Vec<Touch>,
    /// The journeys.
    pub journeys: Vec<Journey>,
    /// Post-lead touches up to the opportunity, by journey index (ascending;
    /// only journeys that have some).
    pub post_lead: Vec<PostLead>,
    /// The touches `post_lead` ranges refer to.
    pub post_lead_touches: Vec<Touch>,
}

impl Journeys {
    /// Empty journeys over a label table (which must contain `direct` and `unknown`).
    pub fn new(labels: Vec<String>, n_channels: usize) -> Journeys {
        let find = |l: &str| {
            labels
                .iter()
                .position(|x| x == l)
                .expect("label table has direct and unknown") as LabelId
        };
        Journeys {
            direct: find("direct"),
            unknown: find("unknown"),
            labels,
            n_channels,
            ..Default::default()
        }
    }

    /// Append a journey (touches must be in time order). `nulls` is 1 when
    /// there is no lead, 0 otherwise; no opportunity.
    pub fn push(
        &mut self,
        touches: &[(i64, LabelId)],
        lead_ms: Option<i64>,
        conversions: f64,
        revenue: f64,
    ) {
        let nulls = if lead_ms.is_some() { 0.0 } else { 1.0 };
        self.push_journey(touches, lead_ms, None, conversions, nulls, revenue);
    }

    /// Append a journey with every field given (touches in time order).
    pub fn push_journey(
        &mut self,
        touches: &[(i64, LabelId)],
        lead_ms: Option<i64>,
        opp_ms: Option<i64>,
        conversions: f64,
        nulls: f64,
        revenue: f64,
    ) {
        let start = self.touches.len() as u32;
        self.touches.extend(
            touches
                .iter()
                .map(|&(time_ms, label)| Touch { time_ms, label }),
        );
        self.journeys.push(Journey {
            start,
            end: self.touches.len() as u32,
            lead_ms,
            opp_ms,
            conversions,
            nulls,
            revenue,
        });
    }

    /// Append a converting journey with the touches it had after its lead
    /// up to its opportunity (`post_lead`, in time order, after the lead;
    /// only `w_shaped` reads them).
    #[allow(clippy::too_many_arguments)]
    pub fn push_with_post_lead(
        &mut self,
        touches: &[(i64, LabelId)],
        post_lead: &[(i64, LabelId)],
        lead_ms: Option<i64>,
        opp_ms: Option<i64>,
        conversions: f64,
        nulls: f64,
        revenue: f64,
    ) {
        self.push_journey(touches, lead_ms, opp_ms, conversions, nulls, revenue);
        self.add_post_lead(
            post_lead
                .iter()
                .map(|&(time_ms, label)| Touch { time_ms, label }),
        );
    }

    /// Give the journey just pushed these post-lead touches (none: nothing).
    fn add_post_lead(&mut self, touches: impl Iterator<Item = Touch>) {
        let start = self.post_lead_touches.len() as u32;
        self.post_lead_touches.extend(touches);
        let end = self.post_lead_touches.len() as u32;
        if end > start {
            self.post_lead.push(PostLead {
                journey: self.journeys.len() as u32 - 1,
                start,
                end,
            });
        }
    }

    /// Append a copy of journey `index` of `from` (same label table), its
    /// post-lead touches included.
    pub fn push_copy(&mut self, from: &Journeys, index: usize) {
        let j = from.journeys[index];
        let start = self.touches.len() as u32;
        self.touches.extend_from_slice(from.touches_of(&j));
        self.journeys.push(Journey {
            start,
            end: self.touches.len() as u32,
            ..j
        });
        self.add_post_lead(from.post_lead_of(index).iter().copied());
    }

    /// Journeys from aggregated paths without times (ChannelAttribution's
    /// path format): one journey per row, standing for its conversions and
    /// its nulls. Channels are the labels other than `direct`, `unassigned`
    /// and `unknown`, sorted by name; those three follow. A path file has no
    /// times: the touches get synthetic times one second apart and the lead
    /// (when the row converts) comes one second after the last touch, so no
    /// look-back window of a day or more cuts a path. No opportunities.
    pub fn from_paths(rows: &[PathRow]) -> Journeys {
        const SPECIAL: [&str; 3] = ["direct", "unassigned", "unknown"];
        let distinct: std::collections::HashSet<&str> = rows
            .iter()
            .flat_map(|r| r.steps.iter().map(String::as_str))
            .collect();
        let mut channels: Vec<&str> = distinct
            .into_iter()
            .filter(|l| !SPECIAL.contains(l))
            .collect();
        channels.sort_unstable();
        let n_channels = channels.len();
        let mut labels: Vec<String> = channels.iter().map(|s| s.to_string()).collect();
        labels.extend(SPECIAL.map(String::from));
        let index: std::collections::HashMap<&str, LabelId> = labels
            .iter()
            .enumerate()
            .map(|(i, l)| (l.as_str(), i as LabelId))
            .collect();
        let mut js = Journeys::new(labels.clone(), n_channels);
        let mut touches = Vec::new();
        for r in rows {
            touches.clear();
            touches.extend(
                r.steps
                    .iter()
                    .enumerate()
                    .map(|(i, l)| (i as i64 * 1000, index[l.as_str()])),
            );
            let lead = (r.conversions > 0.0).then_some(r.steps.len() as i64 * 1000);
            js.push_journey(&touches, lead, None, r.conversions, r.nulls, r.revenue);
        }
        js
    }

    /// The journeys aggregated by distinct path (touches within
    /// `lookback_days` of the lead), the inverse of [`Journeys::from_paths`]:
    /// one row per distinct label sequence with its summed conversions,
    /// revenue and non-converting journeys, plus one row with no step for
    /// the journeys with no touch in the window (when there are any). Rows
    /// are ordered by descending journeys (conversions + nulls), then by path.
    pub fn to_paths(&self, lookback_days: f64) -> Vec<PathRow> {
        let d = super::DistinctPaths::count(self, lookback_days);
        let mut rows: Vec<PathRow> = (0..d.len())
            .map(|p| PathRow {
                steps: d
                    .path(p)
                    .iter()
                    .map(|&l| self.labels[l as usize].clone())
                    .collect(),
                conversions: d.conversions[p],
                revenue: d.revenue[p],
                nulls: d.nulls[p],
            })
            .collect();
        let mut empty = PathRow::default();
        for j in &self.journeys {
            if self.in_lookback(j, lookback_days).is_empty() {
                empty.conversions += j.conversions;
                empty.revenue += j.revenue;
                empty.nulls += j.nulls;
            }
        }
        if empty.conversions + empty.nulls > 0.0 || empty.revenue != 0.0 {
            rows.push(empty);
        }
        rows.sort_by(|a, b| {
            (b.conversions + b.nulls)
                .total_cmp(&(a.conversions + a.nulls))
                .then_with(|| a.steps.cmp(&b.steps))
        });
        rows
    }

    /// Build the journeys of a partition of the log, one touch per visit.
    pub fn build(log: &EventLog, ids: &Identities) -> Journeys {
        Journeys::build_kept(log, ids, None)
    }

    /// Build the journeys of a partition of the log, one touch per session
    /// (its first visit's time and recorded source), as analytics tools do.
    pub fn build_sessions(log: &EventLog, ids: &Identities, rule: &SessionRule) -> Journeys {
        let starts = log.session_starts(rule);
        Journeys::build_kept(log, ids, Some(&starts))
    }

    /// Build journeys from the visits `keep` marks (every visit if None).
    fn build_kept(log: &EventLog, ids: &Identities, keep: Option<&[bool]>) -> Journeys {
        let keep_visit = |i: usize| keep.is_none_or(|k| k[i]);
        let n = ids.n_clusters as usize;
        // Leads and deals are few: keep them in sparse maps, not per cluster.
        let mut lead_ms: IntMap<u32, i64> = IntMap::default();
        for (l, &c) in log.crm_leads.iter().zip(&ids.crm_lead) {
            let e = lead_ms.entry(c).or_insert(l.time_ms);
            *e = (*e).min(l.time_ms);
        }
        let mut opp_ms: IntMap<u32, i64> = IntMap::default();
        for (o, &c) in log.opportunities.iter().zip(&ids.opportunity) {
            let e = opp_ms.entry(c).or_insert(o.time_ms);
            *e = (*e).min(o.time_ms);
        }
        let mut revenue: IntMap<u32, f64> = IntMap::default();
        for (d, &c) in log.deals.iter().zip(&ids.deal) {
            *revenue.entry(c).or_insert(0.0) += d.revenue;
        }
        // Counting sort of visits by cluster (visits are already in time order).
        let mut start = vec![0u32; n + 1];
        for (i, &c) in ids.visit.iter().enumerate() {
            if keep_visit(i) {
                start[c as usize + 1] += 1;
            }
        }
        for i in 0..n {
            start[i + 1] += start[i];
        }
        let mut touches = vec![
            Touch {
                time_ms: 0,
                label: 0
            };
            start[n] as usize
        ];
        {
            let mut slot = start.clone();
            for (i, (v, &c)) in log.visits.iter().zip(&ids.visit).enumerate() {
                if !keep_visit(i) {
                    continue;
                }
                touches[slot[c as usize] as usize] = Touch {
                    time_ms: v.time_ms,
                    label: v.channel,
                };
                slot[c as usize] += 1;
            }
        }
        // Keep each converting cluster's touches up to the lead (those up to
        // its opportunity aside), compacting
        // the buffer in place (a kept range never starts after its source).
        let mut js = Journeys::new(log.labels.clone(), log.n_channels);
        let mut write = 0usize;
        for c in 0..n {
            let (from, to) = (start[c] as usize, start[c + 1] as usize);
            let lead = lead_ms.get(&(c as u32)).copied();
            let kept = match lead {
                Some(t) => touches[from..to].partition_point(|x| x.time_ms <= t),
                None => to - from,
            };
            let conversions = if lead.is_some() { 1.0 } else { 0.0 };
            let rev = revenue.get(&(c as u32)).copied().unwrap_or(0.0);
            if kept == 0 && conversions == 0.0 && rev == 0.0 {
                continue;
            }
            // Touches after the lead up to the opportunity, kept aside (the
            // range lies past what this journey's compaction overwrites).
            let post = match (lead, opp_ms.get(&(c as u32))) {
                (Some(_), Some(&opp)) => {
                    touches[from + kept..to].partition_point(|x| x.time_ms <= opp)
                }
                _ => 0,
            };
            if post > 0 {
                js.post_lead.push(PostLead {
                    journey: js.journeys.len() as u32,
                    start: js.post_lead_touches.len() as u32,
                    end: (js.post_lead_touches.len() + post) as u32,
                });
                js.post_lead_touches
                    .extend_from_slice(&touches[from + kept..from + kept + post]);
            }
            touches.copy_within(from..from + kept, write);
            js.journeys.push(Journey {
                start: write as u32,
                end: (write + kept) as u32,
                lead_ms: lead,
                opp_ms: opp_ms.get(&(c as u32)).copied(),
                conversions,
                nulls: 1.0 - conversions,
                revenue: rev,
            });
            write += kept;
        }
        touches.truncate(write);
        touches.shrink_to_fit();
        js.touches = touches;
        js
    }

    /// Journeys that credit something (a conversion or revenue).
    pub fn converting(&self) -> impl Iterator<Item = &Journey> {
        self.journeys
            .iter()
            .filter(|j| j.conversions > 0.0 || j.revenue != 0.0)
    }

    /// A journey's touches.
    pub fn touches_of(&self, j: &Journey) -> &[Touch] {
        &self.touches[j.start as usize..j.end as usize]
    }

    /// Journey `index`'s touches after its lead up to its opportunity
    /// (empty without an opportunity or such touches).
    pub fn post_lead_of(&self, index: usize) -> &[Touch] {
        match self
            .post_lead
            .binary_search_by_key(&(index as u32), |p| p.journey)
        {
            Ok(k) => {
                let p = self.post_lead[k];
                &self.post_lead_touches[p.start as usize..p.end as usize]
            }
            Err(_) => &[],
        }
    }

    /// A journey's touches no older than `lookback_days` before its lead (all
    /// touches for a non-converting journey or one with revenue but no lead).
    pub fn in_lookback(&self, j: &Journey, lookback_days: f64) -> &[Touch] {
        let all = self.touches_of(j);
        match j.lead_ms {
            Some(t) => {
                let from = t - (lookback_days * 86_400_000.0) as i64;
                &all[all.partition_point(|x| x.time_ms < from)..]
            }
            None => all,
        }
    }
}
