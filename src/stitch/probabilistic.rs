//! `probabilistic`: Fellegi–Sunter record linkage of cookies, on top of the
//! deterministic links (emails typed, newsletter tokens) — what cross-device
//! vendors call a probabilistic graph.
//!
//! **Records** are cookies, each summarised by its user-agent family, its first
//! and last visit, the hashed IPs it was seen on and the campaigns it arrived by.
//!
//! **Blocking** (sorted neighbourhood): the cookies seen on one hashed IP, in
//! order of first visit; each is compared with the next [`NEIGHBOURS`] of them.
//! Candidate pairs are therefore at most `NEIGHBOURS` per (cookie, IP): linear
//! in the log. A pair found on several IPs is compared once, on its least
//! crowded IP. IPs with more than [`JUNK_IP_COOKIES`] cookies (carrier NAT,
//! relays) are blocklisted: pairs there are strangers, and letting them in
//! drowns the matches (EM then calls the crowd pairs M).
//!
//! **Comparison vector** γ, one discrete level per field:
//! - `ip`: how crowded the shared IP is — cookies on it ≤ 12 (a household),
//!   ≤ 60, more (a large office);
//! - `ua`: same user-agent family or not;
//! - `gap`: from the earlier cookie's last visit to the later cookie's first:
//!   overlapping, < 1 day, < 7 days, more (a deleted cookie is
//!   replaced on the same browser at the next visit: same UA, short gap);
//! - `campaign`: the two cookies arrived by a common campaign or not.
//!
//! **Model.** Given match status (M: same person, U: not) the fields are
//! independent: P(γ|M) = Π m_k(γ_k), P(γ|U) = Π u_k(γ_k); a share p of the
//! candidate pairs are matches. m, u and p are estimated by EM on the
//! candidate pairs themselves — unsupervised, as record-linkage tools do,
//! since the log carries no labels — run on the counts of the 48 distinct
//! patterns (so EM costs nothing per pair). The class whose `ua` agreement is
//! likelier is called M. A pair's match weight is
//! w(γ) = Σ_k log2(m_k(γ_k) / u_k(γ_k)); pairs with w ≥ `threshold` are linked
//! and union–find closes the links transitively. Raising the threshold only
//! removes links, so the partitions of a threshold sweep are nested.
//!
//! Must never: name the world, the observation layer or the truth ledger.

use super::{Identities, IntMap, Nodes, Stitcher, UnionFind, cookie_nodes, crm_nodes};
use crate::log::{EventLog, email_token};
use crate::strategy::{
    Needs, ParamDescriptor, ParamValue, SpecError, Strategy, StrategyDescriptor, spec_err,
};
use rayon::slice::ParallelSliceMut;
use serde::{Deserialize, Serialize};

/// Cookies compared with each cookie on one IP (sorted-neighbourhood window).
pub const NEIGHBOURS: usize = 8;

/// An IP seen with more cookies than this is a carrier NAT or relay address
/// shared by strangers: not a blocking key (a junk-identifier blocklist).
pub const JUNK_IP_COOKIES: usize = 150;

/// Levels of each comparison field: ip, ua, gap, campaign.
const LEVELS: [usize; 4] = [3, 2, 4, 2];
const N_PATTERNS: usize = 3 * 2 * 4 * 2;
const DAY_MS: i64 = 86_400_000;

/// Fellegi–Sunter cookie linkage over the deterministic links.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default = "crate::strategy::default")]
pub struct Probabilistic {
    /// Least match weight (log2 likelihood ratio) at which two cookies link.
    pub threshold: f64,
}

impl Strategy for Probabilistic {
    const DESCRIPTOR: StrategyDescriptor = StrategyDescriptor {
        kind: "probabilistic",
        summary: "Fellegi-Sunter linkage of cookies on shared IP, browser, time gap and campaign (m/u by EM), over the deterministic links (CLI probabilistic:THRESHOLD)",
        params: &[ParamDescriptor {
            name: "threshold",
            help: "least match weight, log2 likelihood ratio, at which two cookies link",
            default: ParamValue::Number(Self::DEFAULT.threshold),
        }],
        needs: Needs::NOTHING,
    };
    const DEFAULT: Self = Probabilistic { threshold: 2.0 };

    fn from_cli(given: &str, parts: &[&str]) -> Result<Self, SpecError> {
        match parts.len() {
            1 => Ok(Self::DEFAULT),
            2 => match parts[1].parse::<f64>() {
                Ok(threshold) if threshold.is_finite() => Ok(Probabilistic { threshold }),
                _ => Err(spec_err(
                    given,
                    "probabilistic:THRESHOLD takes a finite number (log2 units)",
                )),
            },
            _ => Err(spec_err(
                given,
                "probabilistic takes one parameter, probabilistic:THRESHOLD",
            )),
        }
    }

    /// `probabilistic` at the default threshold, `probabilistic_t{threshold}` otherwise.
    fn id(&self) -> String {
        if self.threshold == Self::DEFAULT.threshold {
            "probabilistic".into()
        } else {
            format!("probabilistic_t{}", self.threshold)
        }
    }
}

/// The fitted model and the scored candidate pairs of one log.
#[derive(Clone, Debug)]
pub struct Linkage {
    /// Estimated share of matches among the candidate pairs.
    pub p: f64,
    /// m probabilities, per field and level.
    pub m: [Vec<f64>; 4],
    /// u probabilities, per field and level.
    pub u: [Vec<f64>; 4],
    /// Candidate pairs `(weight, cookie a, cookie b)`, cookies by dense index
    /// in order of first appearance in the visits; heaviest first.
    pub pairs: Vec<(f64, u32, u32)>,
    /// Distinct cookies.
    pub n_cookies: usize,
    /// EM iterations run.
    pub iterations: usize,
}

impl Linkage {
    /// Fit the model on a log's candidate pairs.
    pub fn fit(log: &EventLog) -> Linkage {
        let (cookies, visit_cookie) = summaries(log);
        let patterns = candidate_patterns(log, &cookies, &visit_cookie);
        let mut counts = [0.0f64; N_PATTERNS];
        for &(pat, _, _) in &patterns {
            counts[pat as usize] += 1.0;
        }
        let u_random = random_pair_u(&cookies);
        let (p, m, u, iterations) = em(&counts, &u_random);
        let weight: Vec<f64> = (0..N_PATTERNS)
            .map(|pat| {
                levels(pat)
                    .iter()
                    .enumerate()
                    .map(|(k, &l)| (m[k][l] / u[k][l]).log2())
                    .sum()
            })
            .collect();
        // Heaviest first by a counting sort over the few distinct patterns;
        // within a pattern, candidate order (by cookie pair) is kept.
        let mut rank: Vec<usize> = (0..N_PATTERNS).collect();
        rank.sort_by(|&a, &b| weight[b].total_cmp(&weight[a]).then(a.cmp(&b)));
        let mut start = [0usize; N_PATTERNS + 1];
        let mut position = [0usize; N_PATTERNS];
        for (r, &pat) in rank.iter().enumerate() {
            position[pat] = r;
        }
        for &(pat, _, _) in &patterns {
            start[position[pat as usize] + 1] += 1;
        }
        for r in 0..N_PATTERNS {
            start[r + 1] += start[r];
        }
        let mut pairs = vec![(0.0, 0u32, 0u32); patterns.len()];
        for &(pat, a, b) in &patterns {
            let slot = &mut start[position[pat as usize]];
            pairs[*slot] = (weight[pat as usize], a, b);
            *slot += 1;
        }
        Linkage {
            p,
            m,
            u,
            pairs,
            n_cookies: cookies.len(),
            iterations,
        }
    }
}

impl Probabilistic {
    /// Partitions at several thresholds from one fit (nested: a higher
    /// threshold refines a lower one). Returned in the order given.
    pub fn stitch_thresholds(log: &EventLog, thresholds: &[f64]) -> Vec<Identities> {
        let linkage = Linkage::fit(log);
        stitch_linkage(log, &linkage, thresholds)
    }
}

/// Partitions of a log at each threshold, from a fitted linkage.
pub fn stitch_linkage(log: &EventLog, linkage: &Linkage, thresholds: &[f64]) -> Vec<Identities> {
    // Deterministic base: cookie nodes first (dense cookie index = node), then
    // emails and tokens.
    let mut uf = UnionFind::new(0);
    let mut cookies: Nodes<u64> = Nodes::with_capacity(linkage.n_cookies);
    // Cookie nodes are made in order of first appearance in the visits, so a
    // cookie's node is its dense index in `linkage.pairs`.
    let (visit_nodes, form_nodes) = cookie_nodes(log, &mut uf, &mut cookies);
    let mut emails: Nodes<String> = Nodes::default();
    let mut tokens: Nodes<u64> = Nodes::default();
    for (f, &node) in log.form_fills.iter().zip(&form_nodes) {
        let e = emails.get_or_add(f.email.clone(), &mut uf);
        uf.union(node, e);
        let t = tokens.get_or_add(email_token(&f.email).get(), &mut uf);
        uf.union(e, t);
    }
    for v in &log.visits {
        if let Some(tok) = v.email_token {
            let c = cookies
                .get(&v.cookie_id)
                .expect("every visit's cookie has a node");
            let t = tokens.get_or_add(tok.get(), &mut uf);
            uf.union(c, t);
        }
    }
    super::login_links(log, &mut uf, |i| visit_nodes[i], &form_nodes);
    let mut order: Vec<usize> = (0..thresholds.len()).collect();
    order.sort_by(|&a, &b| thresholds[b].total_cmp(&thresholds[a]));
    let mut out: Vec<Option<Identities>> = vec![None; thresholds.len()];
    let mut next = 0;
    for i in order {
        while next < linkage.pairs.len() && linkage.pairs[next].0 >= thresholds[i] {
            let (_, a, b) = linkage.pairs[next];
            uf.union(a, b);
            next += 1;
        }
        out[i] = Some(crm_nodes(
            log,
            uf.clone(),
            visit_nodes.clone(),
            form_nodes.clone(),
        ));
    }
    out.into_iter()
        .map(|o| o.expect("every threshold stitched"))
        .collect()
}

impl Stitcher for Probabilistic {
    fn name(&self) -> String {
        self.id()
    }

    fn stitch(&self, log: &EventLog) -> Identities {
        Probabilistic::stitch_thresholds(log, &[self.threshold])
            .pop()
            .expect("one threshold, one partition")
    }
}

/// One cookie's summary.
#[derive(Clone, Debug)]
struct Cookie {
    ua: u16,
    first_ms: i64,
    last_ms: i64,
    campaigns: u64,
}

/// Cookie summaries by dense index (order of first appearance in the
/// visits), and each visit's dense cookie index.
fn summaries(log: &EventLog) -> (Vec<Cookie>, Vec<u32>) {
    let mut index: IntMap<u64, u32> = IntMap::default();
    index.reserve(log.visits.len() / 2);
    let mut out: Vec<Cookie> = Vec::new();
    let mut visit_cookie = Vec::with_capacity(log.visits.len());
    for v in &log.visits {
        let i = *index.entry(v.cookie_id).or_insert_with(|| {
            out.push(Cookie {
                ua: v.user_agent,
                first_ms: v.time_ms,
                last_ms: v.time_ms,
                campaigns: 0,
            });
            (out.len() - 1) as u32
        });
        visit_cookie.push(i);
        let c = &mut out[i as usize];
        c.first_ms = c.first_ms.min(v.time_ms);
        c.last_ms = c.last_ms.max(v.time_ms);
        if let Some(k) = v.campaign {
            c.campaigns |= 1u64 << (k % 64);
        }
    }
    (out, visit_cookie)
}

/// (pattern, a, b) for every candidate pair, a < b, each pair once.
fn candidate_patterns(
    log: &EventLog,
    cookies: &[Cookie],
    visit_cookie: &[u32],
) -> Vec<(u8, u32, u32)> {
    // (ip, cookie) incidences, by IP then first visit.
    let mut inc: Vec<(u64, i64, u32)> = log
        .visits
        .iter()
        .zip(visit_cookie)
        .map(|(v, &c)| (v.ip_hash, cookies[c as usize].first_ms, c))
        .collect();
    inc.par_sort_unstable();
    inc.dedup();
    // (a, b, crowding level) per candidate.
    let mut cand: Vec<(u32, u32, u8)> = Vec::new();
    for block in inc.chunk_by(|x, y| x.0 == y.0) {
        if block.len() > JUNK_IP_COOKIES {
            continue;
        }
        let ip_level = match block.len() {
            0..=12 => 0,
            13..=60 => 1,
            _ => 2,
        };
        for (i, &(_, _, a)) in block.iter().enumerate() {
            for &(_, _, b) in block.iter().skip(i + 1).take(NEIGHBOURS) {
                cand.push((a.min(b), a.max(b), ip_level));
            }
        }
    }
    cand.par_sort_unstable();
    cand.dedup_by_key(|x| (x.0, x.1));
    cand.into_iter()
        .map(|(a, b, ip)| {
            let [ua, gap, camp] = compare(&cookies[a as usize], &cookies[b as usize]);
            (pattern([ip as usize, ua, gap, camp]), a, b)
        })
        .collect()
}

/// Levels of the ua, gap and campaign fields for two cookies.
fn compare(ca: &Cookie, cb: &Cookie) -> [usize; 3] {
    let (early, late) = if ca.first_ms <= cb.first_ms {
        (ca, cb)
    } else {
        (cb, ca)
    };
    let gap = late.first_ms - early.last_ms;
    let gap_level = if gap < 0 {
        0
    } else if gap < DAY_MS {
        1
    } else if gap < 7 * DAY_MS {
        2
    } else {
        3
    };
    [
        usize::from(ca.ua == cb.ua),
        gap_level,
        usize::from(ca.campaigns & cb.campaigns != 0),
    ]
}

/// Random cookie pairs compared: nearly all are non-matches, so their level
/// frequencies estimate u for the ua, gap and campaign fields (the
/// random-sampling estimate record-linkage tools use). Deterministic: cookie
/// `i` is paired with a hash of `i`. The ip field has no random-pair
/// analogue (random pairs share no IP); it returns a uniform placeholder.
fn random_pair_u(cookies: &[Cookie]) -> Probs {
    const FLOOR: f64 = 1e-6;
    let mut u: Probs = LEVELS.map(|n| vec![FLOOR; n]);
    let n = cookies.len() as u64;
    if n >= 2 {
        for i in 0..n.min(1_000_000) {
            let j = crate::base::rng::mix64(i ^ 0x5eed_u64) % n;
            if j == i {
                continue;
            }
            let l = compare(&cookies[i as usize], &cookies[j as usize]);
            for (k, &lk) in l.iter().enumerate() {
                u[k + 1][lk] += 1.0;
            }
        }
    }
    u[0] = vec![1.0; LEVELS[0]];
    for f in &mut u {
        let s: f64 = f.iter().sum();
        f.iter_mut().for_each(|x| *x /= s);
    }
    u
}

fn pattern(l: [usize; 4]) -> u8 {
    (((l[0] * LEVELS[1] + l[1]) * LEVELS[2] + l[2]) * LEVELS[3] + l[3]) as u8
}

fn levels(mut pat: usize) -> [usize; 4] {
    let mut l = [0; 4];
    for k in (0..4).rev() {
        l[k] = pat % LEVELS[k];
        pat /= LEVELS[k];
    }
    l
}

type Probs = [Vec<f64>; 4];

/// EM for the two-class conditional-independence model on pattern counts,
/// with u fixed: the random-pair estimate for ua, gap and campaign, and the
/// candidate pairs' own crowding frequencies for ip (random pairs share no
/// IP). EM estimates m and p. Returns (p, m, u, iterations).
fn em(counts: &[f64; N_PATTERNS], u_random: &Probs) -> (f64, Probs, Probs, usize) {
    const FLOOR: f64 = 1e-6;
    let total: f64 = counts.iter().sum();
    // Start: matches are crowd-free, same-UA and close in time; u = the data's marginals.
    let mut m: Probs = [
        vec![0.6, 0.3, 0.1],
        vec![0.2, 0.8],
        vec![0.1, 0.4, 0.3, 0.2],
        vec![0.4, 0.6],
    ];
    let mut u: Probs = LEVELS.map(|n| vec![FLOOR; n]);
    for (pat, &c) in counts.iter().enumerate() {
        for (k, &l) in levels(pat).iter().enumerate() {
            u[k][l] += c;
        }
    }
    for f in &mut u {
        let s: f64 = f.iter().sum();
        f.iter_mut().for_each(|x| *x /= s);
    }
    u[1..].clone_from_slice(&u_random[1..]);
    let mut p = 0.1;
    let mut iterations = 0;
    if total == 0.0 {
        return (p, m, u, iterations);
    }
    for it in 1..=500 {
        iterations = it;
        let mut m_acc: Probs = LEVELS.map(|n| vec![FLOOR; n]);
        let mut matched = 0.0;
        for (pat, &c) in counts.iter().enumerate() {
            if c == 0.0 {
                continue;
            }
            let l = levels(pat);
            let pm: f64 = p * (0..4).map(|k| m[k][l[k]]).product::<f64>();
            let pu: f64 = (1.0 - p) * (0..4).map(|k| u[k][l[k]]).product::<f64>();
            let g = pm / (pm + pu);
            matched += c * g;
            for k in 0..4 {
                m_acc[k][l[k]] += c * g;
            }
        }
        for f in m_acc.iter_mut() {
            let s: f64 = f.iter().sum();
            f.iter_mut().for_each(|x| *x /= s);
        }
        let new_p = (matched / total).clamp(FLOOR, 1.0 - FLOOR);
        let change = (new_p - p).abs()
            + m_acc
                .iter()
                .zip(&m)
                .flat_map(|(a, b)| a.iter().zip(b).map(|(x, y)| (x - y).abs()))
                .sum::<f64>();
        p = new_p;
        m = m_acc;

        if change < 1e-10 {
            break;
        }
    }
    (p, m, u, iterations)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stitch::tests::{two_device_log, visit};

    /// The cluster of a cookie's first visit.
    fn cluster_of_cookie(log: &EventLog, ids: &Identities, cookie: u64) -> u32 {
        let i = log
            .visits
            .iter()
            .position(|v| v.cookie_id == cookie)
            .unwrap();
        ids.visit[i]
    }

    #[test]
    fn patterns_round_trip() {
        for pat in 0..N_PATTERNS {
            assert_eq!(pattern(levels(pat)) as usize, pat);
        }
    }

    /// A household IP per person where one browser's cookie is replaced every
    /// few days (same UA, short gaps) and a phone is used alongside, next to
    /// an office IP of strangers on two UAs, overlapping in time.
    fn churn_log() -> EventLog {
        let mut log = two_device_log();
        let mut id = 100;
        let day = DAY_MS;
        for person in 0..40u64 {
            for k in 0..4i64 {
                // Person's successive cookies on their own IP, one UA.
                let cookie = 1_000 + person * 10 + k as u64;
                for r in 0..2 {
                    let mut v = visit(id, (k * 5 + r) * day + person as i64, cookie, 0, None);
                    v.ip_hash = 500 + person;
                    v.user_agent = 1;
                    log.visits.push(v);
                    id += 1;
                }
            }
            // A phone at home, used alongside.
            for r in 0..3 {
                let mut v = visit(
                    id,
                    (r * 6 + 2) * day + person as i64,
                    3_000 + person,
                    0,
                    None,
                );
                v.ip_hash = 500 + person;
                v.user_agent = 4;
                log.visits.push(v);
                id += 1;
            }
            // One cookie each in a crowded office, all active the same days.
            for r in 0..3 {
                let mut v = visit(id, r * day + person as i64, 5_000 + person, 0, None);
                v.ip_hash = 7;
                v.user_agent = 2 + (person % 2) as u16;
                log.visits.push(v);
                id += 1;
            }
        }
        log.visits.sort_by_key(|v| v.time_ms);
        log
    }

    #[test]
    fn em_learns_that_successive_same_browser_cookies_match() {
        let log = churn_log();
        let link = Linkage::fit(&log);
        assert!(link.p > 0.0 && link.p < 1.0, "p = {}", link.p);
        // Same UA and a short gap weigh for a match; overlap weighs against.
        assert!(
            link.m[2][2] > link.u[2][2],
            "gap 1-7 days: m {:?} u {:?}",
            link.m[2],
            link.u[2]
        );
        assert!(
            link.m[2][0] < link.u[2][0],
            "overlap: m {:?} u {:?}",
            link.m[2],
            link.u[2]
        );
        for w in link.pairs.windows(2) {
            assert!(w[0].0 >= w[1].0, "pairs sorted heaviest first");
        }
        // The household chains link at the default threshold; the office does not.
        let ids = Probabilistic { threshold: 0.0 }.stitch(&log);
        let cluster_of = |cookie: u64| cluster_of_cookie(&log, &ids, cookie);
        assert_eq!(cluster_of(1_000), cluster_of(1_003));
        assert_ne!(cluster_of(1_000), cluster_of(1_010));
        assert_ne!(cluster_of(5_000), cluster_of(5_001));
    }

    #[test]
    fn carrier_addresses_are_not_blocking_keys() {
        // Strangers passing through one carrier-NAT address, one visit each,
        // same UA, an hour apart: on that IP alone they look like one
        // browser's churning cookies.
        let mut log = churn_log();
        let n = 200;
        for s in 0..n {
            let mut v = visit(10_000 + s, s as i64 * 3_600_000, 8_000 + s, 0, None);
            v.ip_hash = 9;
            v.user_agent = 1;
            log.visits.push(v);
        }
        log.visits.sort_by_key(|v| v.time_ms);
        let ids = Probabilistic { threshold: 0.0 }.stitch(&log);
        let cluster_of = |cookie: u64| cluster_of_cookie(&log, &ids, cookie);
        let carrier: std::collections::BTreeSet<u32> =
            (0..n).map(|s| cluster_of(8_000 + s)).collect();
        assert_eq!(
            carrier.len() as u64,
            n,
            "strangers on a carrier IP were linked"
        );
        // ...because they are never even compared.
        let (cookies, visit_cookie) = summaries(&log);
        let is_carrier = |c: u32| {
            log.visits
                .iter()
                .zip(&visit_cookie)
                .any(|(v, &vc)| vc == c && v.ip_hash == 9)
        };
        let pairs = candidate_patterns(&log, &cookies, &visit_cookie);
        assert!(!pairs.is_empty());
        assert!(
            pairs
                .iter()
                .all(|&(_, a, b)| !is_carrier(a) && !is_carrier(b))
        );
        // The household chains still link.
        assert_eq!(cluster_of(1_000), cluster_of(1_003));
    }

    #[test]
    fn higher_thresholds_only_remove_links() {
        let log = churn_log();
        let ts = [-20.0, -2.0, 0.0, 3.0, 50.0];
        let parts = Probabilistic::stitch_thresholds(&log, &ts);
        for (lo, hi) in parts.iter().zip(parts.iter().skip(1)) {
            // Every cluster at the higher threshold lies inside one cluster at the lower.
            let mut map: IntMap<u32, u32> = IntMap::default();
            for (&h, &l) in hi.visit.iter().zip(&lo.visit) {
                assert_eq!(*map.entry(h).or_insert(l), l);
            }
            assert!(hi.n_clusters >= lo.n_clusters);
        }
        // At an unreachable threshold only the deterministic links remain.
        assert_eq!(parts[4], crate::stitch::Deterministic.stitch(&log));
    }

    #[test]
    fn empty_log_stitches_to_nothing() {
        let log = EventLog {
            labels: EventLog::labels_for(&[]),
            ..Default::default()
        };
        let ids = Probabilistic { threshold: 0.0 }.stitch(&log);
        assert_eq!(ids.n_clusters, 0);
    }
}
