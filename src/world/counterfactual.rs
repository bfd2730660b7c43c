//! The counterfactual credit of a window lead: the Shapley game over the
//! channels present before the lead (warm-up history credited to its
//! channel), the incremental credit, and an office account's revenue game.
//! Re-evaluates the person's own mechanism (clocks or funnel) with channels removed; draws nothing.

use super::clocks::*;
use super::person::*;
use super::sales::*;
use super::*;
use crate::scenario::Trigger;

/// The channels that are players of a person's game over the window touches
/// before `cutoff`: present (an active touch) and able to matter. A channel is
/// a null player (v(S ∪ {c}) = v(S) for every S, so φ = 0 and removing it
/// changes nothing) when none of its touches is armed — arming only gets
/// rarer as players leave, synergy multipliers being ≥ 1 — its visits can
/// trigger no retargeting channel that has an armed touch, and it boosts no
/// channel that has one. Warm-up touches are history, never players.
/// Returns (present mask, players, null-player mask).
pub(super) fn channel_players(
    sim: &PersonSim,
    active: &[(bool, bool)],
    cutoff: f64,
) -> (u32, Vec<u16>, u32) {
    let n_ch = sim.sc.channels.len() as u16;
    let mut present: u32 = 0;
    let mut armed: u32 = 0;
    let mut clicks: u32 = 0;
    for (c, a) in sim.cands.iter().zip(active) {
        if c.time >= cutoff {
            break;
        }
        if a.0 && c.channel != RETURN && c.time >= 0.0 {
            let bit = 1 << c.channel;
            present |= bit;
            if a.1 {
                armed |= bit;
            }
            if sim.is_click(c.channel) {
                clicks |= bit;
            }
        }
    }
    let armed_retargeting = (0..n_ch).any(|c| {
        armed & (1 << c) != 0 && sim.sc.channels[c as usize].trigger == Trigger::Retargeting
    });
    // In the funnel a touch that moved nobody here may move someone in a
    // coalition where they meet it at a lower stage: every present channel plays.
    let funnel = sim.model.funnel.is_some();
    let influential = |c: u16| {
        let bit = 1u32 << c;
        funnel
            || armed & bit != 0
            || (clicks & bit != 0 && armed_retargeting)
            || sim.model.synergy.iter().enumerate().any(|(to, froms)| {
                armed & (1 << to) != 0 && froms.iter().any(|&(from, _)| from == c)
            })
    };
    let players: Vec<u16> = (0..n_ch)
        .filter(|&c| present & (1 << c) != 0 && influential(c))
        .collect();
    let null_mask: u32 = players.iter().fold(present, |m, &c| m & !(1u32 << c));
    (present, players, null_mask)
}

/// What the account settlement keeps of one office member.
pub(super) struct Member<'a> {
    pub(super) sim: PersonSim<'a>,
    pub(super) draws: SalesDraws,
    pub(super) active: Vec<(bool, bool)>,
    pub(super) first: Firing,
    pub(super) person: u32,
    pub(super) segment: usize,
}

/// Revenue of a person in an account is the account's: zero it here.
pub(super) fn strip_revenue(c: &mut PersonCredit) {
    for list in [&mut c.incremental, &mut c.shapley] {
        list.iter_mut().for_each(|e| e.2 = 0.0);
        list.retain(|e| e.1 != 0.0);
    }
}

/// The account's opportunity given each member's firing: every member lead in
/// the window goes through its own sales draws, and the earliest opportunity
/// (ties: first member) is the account's. Returns (member, its sales outcome).
pub(super) fn account_opener(
    members: &[Member],
    firing: impl Fn(usize) -> Firing,
) -> Option<(usize, SalesOutcome)> {
    let mut best: Option<(usize, SalesOutcome)> = None;
    for (i, m) in members.iter().enumerate() {
        let f = firing(i);
        if !m.sim.in_window(f.time) {
            continue;
        }
        let s = sales(
            m.sim.sc,
            m.segment,
            &m.draws,
            f.time,
            quality_of(m.sim.sc, f.cause),
        );
        let Some(t) = s.opportunity else { continue };
        if best
            .as_ref()
            .is_none_or(|(_, b)| t < b.opportunity.unwrap_or(f64::INFINITY))
        {
            best = Some((i, s));
        }
    }
    best
}

/// An account's game: per member its present channels, null players and the
/// time its touches are cut at; the players (channels, then the baseline).
pub(super) struct AccountGame {
    pub(super) per_member: Vec<(u32, u32, f64)>,
    pub(super) players: Vec<u16>,
}

impl AccountGame {
    /// Players over every window touch (`pre_lead` false: the removal game)
    /// or over each member's touches before their own lead (the Shapley game).
    pub(super) fn new(members: &[Member], pre_lead: bool, baseline_label: u16) -> AccountGame {
        let mut players = Vec::new();
        let per_member = members
            .iter()
            .map(|m| {
                let cutoff = if pre_lead {
                    m.first.time
                } else {
                    f64::INFINITY
                };
                let (present, p, null_mask) = channel_players(&m.sim, &m.active, cutoff);
                players.extend(p);
                (present, null_mask, cutoff)
            })
            .collect();
        players.sort_unstable();
        players.dedup();
        if members.iter().any(|m| m.sim.baseline_fire.is_some()) {
            players.push(baseline_label);
        }
        AccountGame {
            per_member,
            players,
        }
    }

    /// Each member's firing with the channels of `mask` (and the baseline).
    pub(super) fn firing(&self, members: &[Member], i: usize, mask: u32, baseline: bool) -> Firing {
        let (present, null_mask, cutoff) = self.per_member[i];
        let m = &members[i];
        m.sim.evaluate(
            Present::window(
                (mask & present) | null_mask,
                baseline && m.sim.baseline_fire.is_some(),
            )
            .before(cutoff),
            None,
        )
    }

    /// The account's revenue with the channels of `mask` (and the baseline).
    pub(super) fn revenue(&self, members: &[Member], mask: u32, baseline: bool) -> f64 {
        account_opener(members, |i| self.firing(members, i, mask, baseline))
            .and_then(|(_, s)| s.deal)
            .map_or(0.0, |d| d.1)
    }

    /// The channels among the players.
    pub(super) fn channel_mask(&self, baseline_label: u16) -> u32 {
        self.players
            .iter()
            .filter(|&&p| p != baseline_label)
            .fold(0, |m, &p| m | (1 << p))
    }
}

/// Settle an office account (docs/model.md §3.4): only the first qualified lead
/// opens an opportunity and can close a deal, whose revenue goes to that
/// lead's cause; the other members' leads get no opportunity. Revenue
/// incrementality and Shapley values are the account's game: players are
/// the members' channel players and the baseline, a coalition keeps those
/// channels (and the baseline clocks) for every member at once; the warm-up
/// history of every member is in every coalition, and the revenue it brings
/// alone goes to the channel whose warm-up touch fires for the opener.
pub(super) fn settle_account(members: &[Member], b: &mut Block) {
    let Some(first) = members.first() else { return };
    let sc = first.sim.sc;
    let baseline_label = sc.channels.len() as u16;
    let actual = account_opener(members, |i| members[i].first);
    let opener = actual.as_ref().map(|(i, _)| *i);
    for (i, m) in members.iter().enumerate() {
        if let Outcome::Lead(l) = &mut b.persons[m.person as usize].outcome {
            match (&actual, opener == Some(i)) {
                (Some((_, s)), true) => {
                    l.opportunity = s.opportunity;
                    l.deal = s.deal;
                }
                _ => {
                    l.opportunity = None;
                    l.deal = None;
                }
            }
        }
    }
    let actual_rev = actual.and_then(|(_, s)| s.deal).map_or(0.0, |d| d.1);
    let mut credit = PersonCredit {
        person: members[opener.unwrap_or(0)].person,
        ..Default::default()
    };

    // Removal: every window touch of a player.
    let removal = AccountGame::new(members, false, baseline_label);
    let all_channels = removal.channel_mask(baseline_label);
    for &p in &removal.players {
        let v = if p == baseline_label {
            removal.revenue(members, all_channels, false)
        } else {
            removal.revenue(members, all_channels & !(1 << p), true)
        };
        if actual_rev - v != 0.0 {
            credit.incremental.push((p, 0.0, actual_rev - v));
        }
    }

    // Shapley: each member's touches before their own lead.
    let game = AccountGame::new(members, true, baseline_label);
    let values = coalition_values(&game.players, baseline_label, &|mask, baseline| {
        (0.0, game.revenue(members, mask, baseline))
    });
    for (i, phi) in shapley_from_values(game.players.len(), &values)
        .into_iter()
        .enumerate()
    {
        if phi.1 != 0.0 {
            credit.shapley.push((game.players[i], 0.0, phi.1));
        }
    }
    let history = values[0].1;
    if history != 0.0
        && let Some((i, _)) = account_opener(members, |i| game.firing(members, i, 0, false))
        && let Some(c) = game.firing(members, i, 0, false).cause
    {
        credit.shapley.push((c, 0.0, history));
    }
    if !credit.incremental.is_empty() || !credit.shapley.is_empty() {
        b.credit.push(credit);
    }
}

/// Value of an outcome: (lead in window?, revenue that would follow).
pub(super) fn value(sim: &PersonSim, segment: usize, draws: &SalesDraws, f: Firing) -> (f64, f64) {
    if !sim.in_window(f.time) {
        return (0.0, 0.0);
    }
    let s = sales(sim.sc, segment, draws, f.time, quality_of(sim.sc, f.cause));
    (1.0, s.deal.map_or(0.0, |d| d.1))
}

/// Incremental and Shapley credit of one window lead.
pub(super) fn counterfactual_credit(
    sim: &PersonSim,
    segment: usize,
    draws: &SalesDraws,
    active: &[(bool, bool)],
    actual: Firing,
    person: u32,
) -> PersonCredit {
    let baseline_label = sim.sc.channels.len() as u16;
    let has_baseline = sim.baseline_fire.is_some();
    let actual_v = value(sim, segment, draws, actual);
    let mut credit = PersonCredit {
        person,
        ..Default::default()
    };
    let eval = |p: Present| value(sim, segment, draws, sim.evaluate(p, None));

    // Incremental: remove one player's window touches (and what only they
    // triggered); the history and the other players stay.
    let (present, players, _) = channel_players(sim, active, f64::INFINITY);
    for &p in players
        .iter()
        .chain(has_baseline.then_some(&baseline_label))
    {
        let v = if p == baseline_label {
            eval(Present::window(present, false))
        } else {
            eval(Present::window(present & !(1 << p), has_baseline))
        };
        let d = (actual_v.0 - v.0, actual_v.1 - v.1);
        if d.0 != 0.0 || d.1 != 0.0 {
            credit.incremental.push((p, d.0, d.1));
        }
    }

    // Shapley over the touches before the lead.
    let game = shapley_game(sim, segment, draws, active, actual.time);
    // What the whole window's game would give channels that matter only
    // after the lead (credit no journey can hold), for the report.
    let post_lead: Vec<u16> = players
        .iter()
        .copied()
        .filter(|p| !game.channels.contains(p))
        .collect();
    if !post_lead.is_empty() {
        let whole = shapley_game(sim, segment, draws, active, f64::INFINITY);
        credit.post_lead_conversions = whole
            .values
            .iter()
            .filter(|v| post_lead.contains(&v.0))
            .map(|v| v.1)
            .sum();
    }
    credit.shapley = game.credit();
    credit
}

/// Shapley values of one person's game.
pub(super) struct ShapleyGame {
    /// The channel players.
    pub(super) channels: Vec<u16>,
    /// Each player's non-zero value (label, conversions, revenue).
    pub(super) values: Vec<(u16, f64, f64)>,
    /// The history's own value v(∅), with the channel whose warm-up touch fires.
    pub(super) history: Option<(u16, f64, f64)>,
}

impl ShapleyGame {
    /// The players' values, then the history's.
    pub(super) fn credit(self) -> Vec<(u16, f64, f64)> {
        let mut out = self.values;
        out.extend(self.history);
        out
    }
}

/// The Shapley game of one person over the window touches before `cutoff`:
/// players are the channels that matter there and the baseline when armed;
/// the warm-up history is in every coalition. With the closed form, sort the
/// m players firing before the history by their own firing time, r_k their
/// value as the cause and r_{m+1} the history's; φ_i = Σ_{k≥i} (r_k − r_{k+1}) / k.
pub(super) fn shapley_game(
    sim: &PersonSim,
    segment: usize,
    draws: &SalesDraws,
    active: &[(bool, bool)],
    cutoff: f64,
) -> ShapleyGame {
    let baseline_label = sim.sc.channels.len() as u16;
    let (_, channels, null_mask) = channel_players(sim, active, cutoff);
    let mut players = channels.clone();
    if sim.baseline_fire.is_some() {
        players.push(baseline_label);
    }
    let run = |mask: u32, baseline: bool, history: bool| {
        let p = Present {
            mask: mask | null_mask,
            baseline,
            history,
            cutoff,
        };
        sim.evaluate(p, None)
    };
    let h = run(0, false, true);
    let h_value = value(sim, segment, draws, h);
    let mut values = Vec::new();
    if sim.model.closed_form {
        // Touches act independently: each player's own earliest firing.
        let mut fires: Vec<(f64, u16, (f64, f64))> = Vec::new();
        for &p in &players {
            let f = if p == baseline_label {
                run(0, true, false)
            } else {
                run(1 << p, false, false)
            };
            if f.time < h.time {
                fires.push((f.time, p, value(sim, segment, draws, f)));
            }
        }
        fires.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let (mut acc_c, mut acc_r) = (0.0, 0.0);
        for k in (0..fires.len()).rev() {
            let next = fires.get(k + 1).map_or(h_value, |f| f.2);
            acc_c += (fires[k].2.0 - next.0) / (k + 1) as f64;
            acc_r += (fires[k].2.1 - next.1) / (k + 1) as f64;
            if acc_c != 0.0 || acc_r != 0.0 {
                values.push((fires[k].1, acc_c, acc_r));
            }
        }
        values.reverse();
    } else {
        let coalitions = coalition_values(&players, baseline_label, &|mask, baseline| {
            value(sim, segment, draws, run(mask, baseline, true))
        });
        for (i, phi) in shapley_from_values(players.len(), &coalitions)
            .into_iter()
            .enumerate()
        {
            if phi.0 != 0.0 || phi.1 != 0.0 {
                values.push((players[i], phi.0, phi.1));
            }
        }
    }
    let history = match h.cause {
        Some(c) if h_value != (0.0, 0.0) => Some((c, h_value.0, h_value.1)),
        _ => None,
    };
    ShapleyGame {
        channels,
        values,
        history,
    }
}

/// v(S) for every coalition S (bit i = players[i]).
pub(super) fn coalition_values(
    players: &[u16],
    baseline_label: u16,
    eval: &dyn Fn(u32, bool) -> (f64, f64),
) -> Vec<(f64, f64)> {
    let m = players.len();
    (0..1u32 << m)
        .map(|s| {
            let mut mask = 0u32;
            let mut baseline = false;
            for (i, &p) in players.iter().enumerate() {
                if s & (1 << i) != 0 {
                    if p == baseline_label {
                        baseline = true;
                    } else {
                        mask |= 1 << p;
                    }
                }
            }
            eval(mask, baseline)
        })
        .collect()
}

/// Exact Shapley values from all 2^m coalition values (conversions, revenue).
pub(crate) fn shapley_from_values(m: usize, values: &[(f64, f64)]) -> Vec<(f64, f64)> {
    // weight[s] = s! (m − s − 1)! / m!
    let mut fact = vec![1.0f64; m + 1];
    for i in 1..=m {
        fact[i] = fact[i - 1] * i as f64;
    }
    let weight: Vec<f64> = (0..m)
        .map(|s| fact[s] * fact[m - s - 1] / fact[m])
        .collect();
    let mut phi = vec![(0.0, 0.0); m];
    for s in 0..values.len() as u32 {
        let size = s.count_ones() as usize;
        for (i, p) in phi.iter_mut().enumerate() {
            if s & (1 << i) == 0 {
                let w = weight[size];
                let with = values[(s | (1 << i)) as usize];
                let without = values[s as usize];
                p.0 += w * (with.0 - without.0);
                p.1 += w * (with.1 - without.1);
            }
        }
    }
    phi
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first-firing game's closed form equals 2^m enumeration (docs/model.md §3.1).
    #[test]
    fn closed_form_matches_enumeration_on_the_first_firing_game() {
        let mut s = Stream::new(5, 0, StreamKind::Experiment, 0, 0, 0);
        for _ in 0..200 {
            let m = 1 + (s.uniform() * 6.0) as usize;
            // Players sorted by firing time with values r_k (some 0: warm-up).
            let r: Vec<(f64, f64)> = (0..m)
                .map(|_| {
                    if s.uniform() < 0.2 {
                        (0.0, 0.0)
                    } else {
                        (1.0, (s.uniform() * 100.0).floor())
                    }
                })
                .collect();
            let values: Vec<(f64, f64)> = (0..1u32 << m)
                .map(|set| {
                    if set == 0 {
                        (0.0, 0.0)
                    } else {
                        r[set.trailing_zeros() as usize]
                    }
                })
                .collect();
            let brute = shapley_from_values(m, &values);
            let (mut ac, mut ar) = (0.0, 0.0);
            for k in (0..m).rev() {
                let next = if k + 1 < m { r[k + 1] } else { (0.0, 0.0) };
                ac += (r[k].0 - next.0) / (k + 1) as f64;
                ar += (r[k].1 - next.1) / (k + 1) as f64;
                assert!((brute[k].0 - ac).abs() < 1e-9 && (brute[k].1 - ar).abs() < 1e-9);
            }
        }
    }
}
