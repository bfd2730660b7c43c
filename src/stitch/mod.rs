//! Identity stitching (step 3 of the loop): the `Stitcher` trait, its
//! registry, and the shared machinery (union–find, dense relabelling).
//!
//! A stitcher reads the whole event log and returns a cluster key for every
//! visit, form fill, CRM lead, opportunity and deal: a partition. Each
//! stitcher's struct is its spec (it implements `strategy::Strategy`: id,
//! parameters, doc line); adding a stitcher = one file here, one line in
//! the registry (`spec`) and its tests.
//! Must never: name the world, the observation layer or the truth ledger.

mod cookie_only;
mod deterministic;
mod graph;
mod last_login;
mod lookback;
mod normalized;
mod probabilistic;

pub use cookie_only::CookieOnly;
pub use deterministic::Deterministic;
pub use graph::Graph;
pub use last_login::LastLogin;
pub use lookback::{ForwardOnly, Lookback};
pub use normalized::Normalized;
pub use probabilistic::{Linkage, NEIGHBOURS, Probabilistic, stitch_linkage};

use crate::log::EventLog;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A fast hasher for integer keys (one multiply; ids here are already random
/// or dense). Not for untrusted input; iteration order never reaches output.
#[derive(Default, Clone, Copy)]
pub struct IntHasher(u64);

impl Hasher for IntHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(5) ^ b as u64).wrapping_mul(0x517c_c1b7_2722_0a95);
        }
    }
    fn write_u64(&mut self, x: u64) {
        self.0 = (self.0 ^ x)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .rotate_left(26);
    }
    fn write_u32(&mut self, x: u32) {
        self.write_u64(x as u64);
    }
    fn write_usize(&mut self, x: usize) {
        self.write_u64(x as u64);
    }
}

/// A `HashMap` keyed by integers with [`IntHasher`].
pub type IntMap<K, V> = HashMap<K, V, BuildHasherDefault<IntHasher>>;

/// A partition of the log's events: one cluster key per event, per table.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Identities {
    /// Cluster of each visit.
    pub visit: Vec<u32>,
    /// Cluster of each form fill.
    pub form_fill: Vec<u32>,
    /// Cluster of each CRM lead.
    pub crm_lead: Vec<u32>,
    /// Cluster of each opportunity.
    pub opportunity: Vec<u32>,
    /// Cluster of each deal.
    pub deal: Vec<u32>,
    /// Number of clusters (keys are `0..n_clusters`).
    pub n_clusters: u32,
}

impl Identities {
    /// Relabel raw keys densely, in order of first appearance across the tables
    /// (visits, form fills, leads, opportunities, deals): a canonical form, so
    /// two equal partitions compare equal.
    pub fn canonical(raw: [Vec<u64>; 5]) -> Identities {
        let mut map: IntMap<u64, u32> = IntMap::default();
        let mut next = 0u32;
        let tables = raw.map(|t| {
            t.into_iter()
                .map(|k| {
                    *map.entry(k).or_insert_with(|| {
                        next += 1;
                        next - 1
                    })
                })
                .collect::<Vec<u32>>()
        });
        Identities::from_tables(tables, next)
    }
}

impl Identities {
    fn from_tables(tables: [Vec<u32>; 5], n_clusters: u32) -> Identities {
        let [visit, form_fill, crm_lead, opportunity, deal] = tables;
        Identities {
            visit,
            form_fill,
            crm_lead,
            opportunity,
            deal,
            n_clusters,
        }
    }

    /// [`Identities::canonical`] for keys that are small integers (union–find
    /// roots, person indices) below `n_keys`: a dense table instead of a hash
    /// map, the same result.
    pub fn from_dense_keys(raw: [Vec<u32>; 5], n_keys: usize) -> Identities {
        const UNSEEN: u32 = u32::MAX;
        let mut map = vec![UNSEEN; n_keys];
        let mut next = 0u32;
        let tables = raw.map(|mut t| {
            for k in t.iter_mut() {
                let slot = &mut map[*k as usize];
                if *slot == UNSEEN {
                    *slot = next;
                    next += 1;
                }
                *k = *slot;
            }
            t
        });
        Identities::from_tables(tables, next)
    }
}

/// An identity-stitching strategy.
pub trait Stitcher: Send + Sync {
    /// Canonical id (as in reports).
    fn name(&self) -> String;
    /// Partition the log's events into persons as this strategy sees them.
    fn stitch(&self, log: &EventLog) -> Identities;
}

/// Build a stitcher from its spec: a stitcher's struct, or the registry's
/// `spec::StitcherSpec` (itself a stitcher).
pub fn build(spec: &(impl Stitcher + Clone + 'static)) -> Box<dyn Stitcher> {
    Box::new(spec.clone())
}

/// Union–find with path halving and union by size.
#[derive(Clone, Debug)]
pub struct UnionFind {
    parent: Vec<u32>,
    size: Vec<u32>,
}

impl UnionFind {
    /// `n` singletons.
    pub fn new(n: usize) -> Self {
        UnionFind {
            parent: (0..n as u32).collect(),
            size: vec![1; n],
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.parent.len()
    }

    /// Whether there are no elements.
    pub fn is_empty(&self) -> bool {
        self.parent.is_empty()
    }

    /// Add a singleton; returns its index.
    pub fn push(&mut self) -> u32 {
        self.parent.push(self.parent.len() as u32);
        self.size.push(1);
        (self.parent.len() - 1) as u32
    }

    /// Root of `x`.
    pub fn find(&mut self, mut x: u32) -> u32 {
        while self.parent[x as usize] != x {
            let p = self.parent[x as usize];
            self.parent[x as usize] = self.parent[p as usize];
            x = self.parent[x as usize];
        }
        x
    }

    /// Merge the sets of `a` and `b`.
    pub fn union(&mut self, a: u32, b: u32) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra == rb {
            return;
        }
        let (big, small) = if self.size[ra as usize] >= self.size[rb as usize] {
            (ra, rb)
        } else {
            (rb, ra)
        };
        self.parent[small as usize] = big;
        self.size[big as usize] += self.size[small as usize];
    }
}

/// Interns identifiers as union–find nodes.
#[derive(Default)]
pub(crate) struct Nodes<K: std::hash::Hash + Eq> {
    map: HashMap<K, u32, BuildHasherDefault<IntHasher>>,
}

impl<K: std::hash::Hash + Eq> Nodes<K> {
    pub(crate) fn get_or_add(&mut self, key: K, uf: &mut UnionFind) -> u32 {
        *self.map.entry(key).or_insert_with(|| uf.push())
    }
    pub(crate) fn with_capacity(n: usize) -> Self {
        Nodes {
            map: HashMap::with_capacity_and_hasher(n, Default::default()),
        }
    }
    pub(crate) fn get(&self, key: &K) -> Option<u32> {
        self.map.get(key).copied()
    }
}

/// Shared shape of the cookie-based stitchers: every cookie gets a node; the
/// caller links nodes (given the cookie nodes and each form fill's node); the
/// CRM records follow (see [`crm_nodes`]).
pub(crate) fn stitch_with(
    log: &EventLog,
    link: impl FnOnce(&EventLog, &mut UnionFind, &mut Nodes<u64>, &[u32]),
) -> Identities {
    let mut uf = UnionFind::new(0);
    let mut cookies: Nodes<u64> = Nodes::with_capacity(log.visits.len() / 2);
    let (visit_nodes, form_nodes) = cookie_nodes(log, &mut uf, &mut cookies);
    link(log, &mut uf, &mut cookies, &form_nodes);
    crm_nodes(log, uf, visit_nodes, form_nodes)
}

/// Logins: a logged-in visit's cookie and a form fill made in an account join
/// the account's node (`visit_node(i)` is visit i's node).
pub(crate) fn login_links(
    log: &EventLog,
    uf: &mut UnionFind,
    visit_node: impl Fn(usize) -> u32,
    form_nodes: &[u32],
) {
    let mut users: Nodes<u64> = Nodes::default();
    for (i, v) in log.visits.iter().enumerate() {
        if let Some(u) = v.user_id {
            let n = users.get_or_add(u.get(), uf);
            uf.union(visit_node(i), n);
        }
    }
    for (f, &node) in log.form_fills.iter().zip(form_nodes) {
        if let Some(u) = f.user_id {
            let n = users.get_or_add(u.get(), uf);
            uf.union(node, n);
        }
    }
}

/// A cookie being identified: a form fill typed on it, or a newsletter click.
pub(crate) struct Identification<'a> {
    /// The cookie identified.
    pub cookie: u64,
    /// When, ms UTC.
    pub time_ms: i64,
    /// The event that identified it (orders ties in time).
    pub event_id: u64,
    /// The email typed (form fills only).
    pub email: Option<&'a str>,
    /// The email token of the identity (lower-cased email).
    pub token: u64,
}

/// Every identification in the log: form fills with a cookie, then newsletter clicks.
pub(crate) fn identifications(log: &EventLog) -> impl Iterator<Item = Identification<'_>> {
    let forms = log.form_fills.iter().filter_map(|f| {
        f.cookie_id.map(|cookie| Identification {
            cookie,
            time_ms: f.time_ms,
            event_id: f.event_id,
            email: Some(f.email.as_str()),
            token: crate::log::email_token(&f.email).get(),
        })
    });
    let clicks = log.visits.iter().filter_map(|v| {
        v.email_token.map(|t| Identification {
            cookie: v.cookie_id,
            time_ms: v.time_ms,
            event_id: v.event_id,
            email: None,
            token: t.get(),
        })
    });
    forms.chain(clicks)
}

/// A window in days as milliseconds; an infinite window is effectively unbounded.
pub(crate) fn days_to_ms(days: f64) -> i64 {
    if days.is_finite() {
        (days * 86_400_000.0).round() as i64
    } else {
        i64::MAX / 4
    }
}

/// One node per cookie: the node of every visit, and of every form fill (a
/// fresh node when the form fill has no cookie).
pub(crate) fn cookie_nodes(
    log: &EventLog,
    uf: &mut UnionFind,
    cookies: &mut Nodes<u64>,
) -> (Vec<u32>, Vec<u32>) {
    let visit_nodes = log
        .visits
        .iter()
        .map(|v| cookies.get_or_add(v.cookie_id, uf))
        .collect();
    let form_nodes = log
        .form_fills
        .iter()
        .map(|f| match f.cookie_id {
            Some(c) => cookies.get_or_add(c, uf),
            None => uf.push(),
        })
        .collect();
    (visit_nodes, form_nodes)
}

/// The CRM side of a partition, shared by the stitchers: CRM leads follow
/// the form fill that created them, opportunities their lead, and deals the
/// CRM lead with exactly the same email.
pub(crate) fn crm_nodes(
    log: &EventLog,
    uf: UnionFind,
    visit_nodes: Vec<u32>,
    form_nodes: Vec<u32>,
) -> Identities {
    let email_lead: HashMap<&str, usize> = log
        .crm_leads
        .iter()
        .enumerate()
        .map(|(i, l)| (l.email.as_str(), i))
        .collect();
    crm_nodes_with(log, uf, visit_nodes, form_nodes, |email| {
        email_lead.get(email).copied()
    })
}

/// [`crm_nodes`] with a caller's rule for which CRM lead a deal's email names.
pub(crate) fn crm_nodes_with(
    log: &EventLog,
    mut uf: UnionFind,
    visit_nodes: Vec<u32>,
    form_nodes: Vec<u32>,
    deal_lead: impl Fn(&str) -> Option<usize>,
) -> Identities {
    let form_index: IntMap<u64, usize> = log
        .form_fills
        .iter()
        .enumerate()
        .map(|(i, f)| (f.event_id, i))
        .collect();
    let lead_nodes: Vec<u32> = log
        .crm_leads
        .iter()
        .map(|l| {
            form_index
                .get(&l.form_fill_id)
                .map(|&i| form_nodes[i])
                .unwrap_or_else(|| uf.push())
        })
        .collect();
    let lead_index: IntMap<u64, usize> = log
        .crm_leads
        .iter()
        .enumerate()
        .map(|(i, l)| (l.event_id, i))
        .collect();
    let opp_nodes: Vec<u32> = log
        .opportunities
        .iter()
        .map(|o| {
            lead_index
                .get(&o.crm_lead_id)
                .map(|&i| lead_nodes[i])
                .unwrap_or_else(|| uf.push())
        })
        .collect();
    let deal_nodes: Vec<u32> = log
        .deals
        .iter()
        .map(|d| {
            deal_lead(&d.email)
                .map(|i| lead_nodes[i])
                .unwrap_or_else(|| uf.push())
        })
        .collect();
    let n_nodes = uf.len();
    let mut root = |mut nodes: Vec<u32>| {
        for n in nodes.iter_mut() {
            *n = uf.find(*n);
        }
        nodes
    };
    Identities::from_dense_keys(
        [
            root(visit_nodes),
            root(form_nodes),
            root(lead_nodes),
            root(opp_nodes),
            root(deal_nodes),
        ],
        n_nodes,
    )
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::log::{CrmLead, Deal, FormFill, Opportunity, Visit};
    use crate::strategy::Strategy;

    pub(crate) fn visit(
        event_id: u64,
        time_ms: i64,
        cookie_id: u64,
        channel: u16,
        token: Option<std::num::NonZeroU64>,
    ) -> Visit {
        Visit {
            event_id,
            time_ms,
            cookie_id,
            channel,
            campaign: None,
            click_id: None,
            landing_page: 0,
            pages_viewed: 1,
            dwell_s: 10.0,
            ip_hash: 1,
            user_agent: 0,
            email_token: token,
            user_id: None,
        }
    }

    /// Two devices of one person (cookies 10, 11), linked by one email typed on
    /// each; a stranger on cookie 20; a deal typed with a capital letter.
    pub(crate) fn two_device_log() -> EventLog {
        let mut log = EventLog {
            labels: EventLog::labels_for(&["search".into(), "social".into()]),
            n_channels: 2,
            ..Default::default()
        };
        log.visits = vec![
            visit(1, 1_000, 10, 1, None),
            visit(2, 2_000, 20, 0, None),
            visit(3, 3_000, 11, 0, None),
            visit(4, 4_000, 10, 2, None),
            visit(5, 5_000, 11, 2, None),
        ];
        log.form_fills = vec![
            FormFill {
                event_id: 6,
                click_id: None,
                user_id: None,
                time_ms: 4_000,
                cookie_id: Some(10),
                email: "a@x.com".into(),
            },
            FormFill {
                event_id: 7,
                click_id: None,
                user_id: None,
                time_ms: 5_000,
                cookie_id: Some(11),
                email: "a@x.com".into(),
            },
        ];
        log.crm_leads = vec![CrmLead {
            event_id: 8,
            click_id: None,
            time_ms: 4_000,
            email: "a@x.com".into(),
            form_fill_id: 6,
        }];
        log.opportunities = vec![Opportunity {
            event_id: 9,
            time_ms: 6_000,
            crm_lead_id: 8,
        }];
        log.deals = vec![
            Deal {
                event_id: 10,
                time_ms: 7_000,
                revenue: 100.0,
                email: "a@x.com".into(),
            },
            Deal {
                event_id: 11,
                time_ms: 8_000,
                revenue: 50.0,
                email: "A@x.com".into(),
            },
        ];
        log
    }

    #[test]
    fn logins_join_cookies_for_the_stitchers_that_read_them() {
        // A third cookie, seen once, logged in to the account the first form
        // fill created; a fourth logged in to another account.
        let mut log = two_device_log();
        let account = std::num::NonZeroU64::new(77).unwrap();
        log.form_fills[0].user_id = Some(account);
        let mut v = visit(20, 90_000_000_000, 30, 0, None);
        v.user_id = Some(account);
        log.visits.push(v);
        let mut w = visit(21, 90_000_000_001, 40, 0, None);
        w.user_id = std::num::NonZeroU64::new(78);
        log.visits.push(w);
        let stitchers: [Box<dyn Stitcher>; 4] = [
            build(&Deterministic),
            build(&Normalized),
            build(&Graph::DEFAULT),
            build(&Probabilistic { threshold: 50.0 }),
        ];
        for s in stitchers {
            let ids = s.stitch(&log);
            assert_eq!(ids.visit[5], ids.visit[0], "{}: login joins", s.name());
            assert_eq!(ids.visit[5], ids.crm_lead[0], "{}", s.name());
            assert_ne!(ids.visit[6], ids.visit[0], "{}: another account", s.name());
        }
        // A cookie-only stitcher ignores logins.
        let ids = build(&CookieOnly).stitch(&log);
        assert_ne!(ids.visit[5], ids.visit[0]);
    }

    #[test]
    fn canonical_relabels_in_order() {
        let ids = Identities::canonical([vec![7, 7, 3], vec![3], vec![], vec![], vec![9]]);
        assert_eq!(ids.visit, vec![0, 0, 1]);
        assert_eq!(ids.form_fill, vec![1]);
        assert_eq!(ids.deal, vec![2]);
        assert_eq!(ids.n_clusters, 3);
    }

    #[test]
    fn union_find_merges_transitively() {
        let mut uf = UnionFind::new(5);
        uf.union(0, 1);
        uf.union(3, 4);
        uf.union(1, 4);
        assert_eq!(uf.find(0), uf.find(3));
        assert_ne!(uf.find(0), uf.find(2));
    }
}
