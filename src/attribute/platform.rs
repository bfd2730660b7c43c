//! `platform_reported`: what the ad platforms claim (docs/model.md §2.7).
//! Each paid platform credits itself every conversion its pixel saw with one
//! of its clicks within its click window, or one of its views within its
//! view window, before it; and the revenue of the deals imported to it by
//! click id. Computed from the platform logs, not from journeys, so it is
//! not an [`Attributor`](super::Attributor); claims overlap, so it does not
//! conserve conversions — on purpose: the point is how much they overlap.
//! Must never: name the world, the observation layer or the truth ledger.

use crate::base::credit::Credit;
use crate::log::EventLog;
use std::collections::{BTreeSet, HashMap};

/// Canonical id of the platform-claims row in reports.
pub const PLATFORM_REPORTED: &str = "platform_reported";

const DAY_MS: f64 = 86_400_000.0;

/// One platform's claim.
#[derive(Clone, Debug, PartialEq)]
pub struct PlatformClaim {
    /// The platform's channel label.
    pub channel: String,
    /// Conversions it claims.
    pub conversions: f64,
    /// Revenue it claims (deals imported to it).
    pub revenue: f64,
}

/// Every platform's claim and how much they overlap.
#[derive(Clone, Debug, PartialEq)]
pub struct PlatformClaims {
    /// Per platform, in the log's platform order.
    pub claims: Vec<PlatformClaim>,
    /// The claims as a credit table (every label of the log present).
    pub credit: Credit,
    /// Σ claimed conversions over platforms.
    pub sum_of_claims: f64,
    /// Distinct conversions (form fills) at least one platform claims.
    pub distinct_claimed: u64,
}

/// The platforms' claims in a log.
pub fn platform_reported(log: &EventLog) -> PlatformClaims {
    let mut claimed_forms: BTreeSet<u64> = BTreeSet::new();
    let mut claims = Vec::with_capacity(log.platforms.len());
    for p in &log.platforms {
        // Touch times per user, clicks and views apart.
        let mut by_user: HashMap<u64, (Vec<i64>, Vec<i64>)> = HashMap::new();
        for t in &p.touches {
            let e = by_user.entry(t.user).or_default();
            if t.click { &mut e.0 } else { &mut e.1 }.push(t.time_ms);
        }
        let within = |times: &[i64], at: i64, days: f64| {
            times
                .iter()
                .any(|&t| t <= at && (at - t) as f64 <= days * DAY_MS)
        };
        let mut conversions = 0.0;
        for c in &p.conversions {
            let Some((clicks, views)) = by_user.get(&c.user) else {
                continue;
            };
            if within(clicks, c.time_ms, p.click_window_days)
                || within(views, c.time_ms, p.view_window_days)
            {
                conversions += 1.0;
                claimed_forms.insert(c.form_fill_id);
            }
        }
        let revenue = log
            .conversion_imports
            .iter()
            .filter(|i| i.channel == p.channel)
            .map(|i| i.revenue)
            .sum::<f64>()
            + 0.0; // an empty sum is −0.0
        claims.push(PlatformClaim {
            channel: log.labels[p.channel as usize].clone(),
            conversions,
            revenue,
        });
    }
    let mut credit = Credit::default();
    credit.ensure_labels(log.labels.iter().map(String::as_str));
    for c in &claims {
        credit.add(&c.channel, c.conversions, c.revenue);
    }
    PlatformClaims {
        sum_of_claims: claims.iter().map(|c| c.conversions).sum(),
        distinct_claimed: claimed_forms.len() as u64,
        claims,
        credit,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::{ConversionImport, PixelConversion, PlatformLog, PlatformTouch};

    const DAY: i64 = 86_400_000;

    fn platform(
        channel: u16,
        touches: &[(i64, u64, bool)],
        conv: &[(i64, u64, u64)],
    ) -> PlatformLog {
        PlatformLog {
            channel,
            click_window_days: 7.0,
            view_window_days: 1.0,
            touches: touches
                .iter()
                .map(|&(time_ms, user, click)| PlatformTouch {
                    time_ms,
                    user,
                    click,
                })
                .collect(),
            conversions: conv
                .iter()
                .map(|&(time_ms, user, form_fill_id)| PixelConversion {
                    time_ms,
                    user,
                    form_fill_id,
                })
                .collect(),
        }
    }

    #[test]
    fn claims_by_hand() {
        let mut log = EventLog {
            labels: EventLog::labels_for(&["search".into(), "social".into()]),
            n_channels: 2,
            ..Default::default()
        };
        // Conversions (form fills 100, 101, 102) at day 10.
        let at = 10 * DAY;
        log.platforms = vec![
            // search: user 1 clicked 5 days before (claimed), user 2 clicked
            // 8 days before (outside 7), user 3 clicked after (never claims).
            platform(
                0,
                &[
                    (at - 5 * DAY, 1, true),
                    (at - 8 * DAY, 2, true),
                    (at + DAY, 3, true),
                ],
                &[(at, 1, 100), (at, 2, 101), (at, 3, 102)],
            ),
            // social: user 11 viewed 12 hours before (claimed), user 12 viewed
            // 2 days before (outside the 1-day view window).
            platform(
                1,
                &[(at - DAY / 2, 11, false), (at - 2 * DAY, 12, false)],
                &[(at, 11, 100), (at, 12, 101)],
            ),
        ];
        log.conversion_imports = vec![ConversionImport {
            event_id: 1,
            time_ms: at + 30 * DAY,
            channel: 0,
            click_id: std::num::NonZeroU64::new(9).unwrap(),
            revenue: 500.0,
        }];
        let c = platform_reported(&log);
        assert_eq!(c.claims[0].conversions, 1.0);
        assert_eq!(c.claims[0].revenue, 500.0);
        assert_eq!(c.claims[1].conversions, 1.0);
        assert_eq!(c.claims[1].revenue, 0.0);
        // Both claim form fill 100: two claims, one distinct conversion.
        assert_eq!(c.sum_of_claims, 2.0);
        assert_eq!(c.distinct_claimed, 1);
        assert_eq!(c.credit.conversions["search"], 1.0);
        assert_eq!(c.credit.conversions["direct"], 0.0);
    }
}
