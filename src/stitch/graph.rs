//! `graph`: union–find over every identifier the log holds — cookies, emails
//! as typed and normalised, newsletter tokens, site accounts (logins), CRM
//! records — with guards
//! against over-merging:
//! - a blocklist of junk identifiers (empty, `test@…`, `none`, `noreply@…`, …)
//!   that never link anything;
//! - caps: a link is refused when the person it would make holds more than
//!   `max_emails` distinct normalised emails or `max_cookies` cookies (0 = no
//!   cap); links are tried in time order, so the earliest evidence wins. A
//!   newsletter token seen before its address was typed counts as an email;
//! - a link TTL: a cookie's visits join its person only within `ttl_days` of
//!   an identification on that cookie; visits outside stay anonymous.

use super::normalized::normalize_email;
use super::{Identities, IntMap, Stitcher, UnionFind, crm_nodes_with, days_to_ms, identifications};
use crate::log::{EventLog, email_token};
use crate::strategy::{
    Needs, ParamDescriptor, ParamValue, SpecError, Strategy, StrategyDescriptor, spec_err,
};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Capped identity graph.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default = "crate::strategy::default")]
pub struct Graph {
    /// Most distinct normalised emails in one person (0 = no cap).
    pub max_emails: u32,
    /// Most cookies in one person (0 = no cap).
    pub max_cookies: u32,
    /// A cookie's visits join only within this many days of an identification.
    pub ttl_days: f64,
}

/// Identifiers that must never link two records.
pub fn is_junk_email(email: &str) -> bool {
    let e = email.trim().to_ascii_lowercase();
    let local = e.split('@').next().unwrap_or("");
    e.is_empty()
        || !e.contains('@')
        || [
            "none", "null", "n/a", "na", "test", "noreply", "no-reply", "unknown", "x",
        ]
        .contains(&local)
        || e.starts_with("test@")
}

struct Capped {
    uf: UnionFind,
    emails: Vec<u32>,
    cookies: Vec<u32>,
    max_emails: u32,
    max_cookies: u32,
}

impl Capped {
    fn node(&mut self, emails: u32, cookies: u32) -> u32 {
        self.emails.push(emails);
        self.cookies.push(cookies);
        self.uf.push()
    }

    /// Merge unless the result would break a cap; returns whether merged.
    fn link(&mut self, a: u32, b: u32) -> bool {
        let (ra, rb) = (self.uf.find(a), self.uf.find(b));
        if ra == rb {
            return true;
        }
        let e = self.emails[ra as usize] + self.emails[rb as usize];
        let c = self.cookies[ra as usize] + self.cookies[rb as usize];
        if (self.max_emails > 0 && e > self.max_emails)
            || (self.max_cookies > 0 && c > self.max_cookies)
        {
            return false;
        }
        self.uf.union(ra, rb);
        let r = self.uf.find(ra) as usize;
        self.emails[r] = e;
        self.cookies[r] = c;
        true
    }
}

impl Strategy for Graph {
    const DESCRIPTOR: StrategyDescriptor = StrategyDescriptor {
        kind: "graph",
        summary: "union-find over cookies, emails, tokens and CRM records, with caps, a junk blocklist and a link TTL (CLI graph:EMAILS:COOKIES:TTL_DAYS)",
        params: &[
            ParamDescriptor {
                name: "max_emails",
                help: "most distinct emails in one person (0 = no cap)",
                default: ParamValue::Count(Self::DEFAULT.max_emails),
            },
            ParamDescriptor {
                name: "max_cookies",
                help: "most cookies in one person (0 = no cap)",
                default: ParamValue::Count(Self::DEFAULT.max_cookies),
            },
            ParamDescriptor {
                name: "ttl_days",
                help: "a cookie's visits join only within this many days of an identification",
                default: ParamValue::Number(Self::DEFAULT.ttl_days),
            },
        ],
        needs: Needs::NOTHING,
    };
    const DEFAULT: Self = Graph {
        max_emails: 3,
        max_cookies: 20,
        ttl_days: 365.0,
    };

    fn from_cli(given: &str, parts: &[&str]) -> Result<Self, SpecError> {
        let num = |i: usize, default: f64| -> Result<f64, SpecError> {
            match parts.get(i) {
                None => Ok(default),
                Some(p) => p
                    .parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite() && *v >= 0.0)
                    .ok_or_else(|| {
                        spec_err(given, "graph:EMAILS:COOKIES:TTL_DAYS takes numbers >= 0")
                    }),
            }
        };
        if parts.len() > 4 {
            return Err(spec_err(
                given,
                "graph takes at most three parameters, graph:EMAILS:COOKIES:TTL_DAYS",
            ));
        }
        let d = Self::DEFAULT;
        Ok(Graph {
            max_emails: num(1, d.max_emails as f64)? as u32,
            max_cookies: num(2, d.max_cookies as f64)? as u32,
            ttl_days: num(3, d.ttl_days)?,
        })
    }

    /// `graph` at the defaults, `graph_{emails}_{cookies}_{ttl}` otherwise.
    fn id(&self) -> String {
        if *self == Self::DEFAULT {
            "graph".into()
        } else {
            format!(
                "graph_{}_{}_{}",
                self.max_emails, self.max_cookies, self.ttl_days
            )
        }
    }
}

impl Stitcher for Graph {
    fn name(&self) -> String {
        self.id()
    }

    fn stitch(&self, log: &EventLog) -> Identities {
        let mut g = Capped {
            uf: UnionFind::new(0),
            emails: vec![],
            cookies: vec![],
            max_emails: self.max_emails,
            max_cookies: self.max_cookies,
        };
        let (visit_nodes, form_nodes) = event_nodes(log, &mut g, days_to_ms(self.ttl_days));
        link_evidence(log, &mut g, &visit_nodes, &form_nodes);
        // Deals: the CRM lead with the same email, as typed or normalised.
        let mut lead_by_norm: HashMap<String, usize> = HashMap::new();
        let mut lead_by_typed: HashMap<&str, usize> = HashMap::new();
        for (i, l) in log.crm_leads.iter().enumerate() {
            if !is_junk_email(&l.email) {
                lead_by_typed.entry(l.email.as_str()).or_insert(i);
                lead_by_norm.entry(normalize_email(&l.email)).or_insert(i);
            }
        }
        let deal_lead = |email: &str| -> Option<usize> {
            if is_junk_email(email) {
                return None;
            }
            lead_by_typed
                .get(email)
                .copied()
                .or_else(|| lead_by_norm.get(&normalize_email(email)).copied())
        };
        crm_nodes_with(log, g.uf, visit_nodes, form_nodes, deal_lead)
    }
}

/// Per cookie, one map entry: its linked node, its anonymous node (for
/// visits outside the TTL; made on first use) and its identification span.
struct Entry {
    linked: u32,
    anon: u32,
    first: i64,
    last: i64,
}

/// No anonymous node yet.
const NONE: u32 = u32::MAX;

/// Each visit's and form fill's node: its cookie's linked node, or the
/// cookie's anonymous node for a visit more than `ttl_ms` from any
/// identification on the cookie (a form fill without a cookie: its own node).
fn event_nodes(log: &EventLog, g: &mut Capped, ttl_ms: i64) -> (Vec<u32>, Vec<u32>) {
    let mut cookie_nodes: IntMap<u64, Entry> = IntMap::default();
    cookie_nodes.reserve(log.visits.len() / 2);
    let new_entry = |g: &mut Capped| Entry {
        linked: g.node(0, 1),
        anon: NONE,
        first: i64::MAX,
        last: i64::MIN,
    };
    for id in identifications(log).filter(|id| !id.email.is_some_and(is_junk_email)) {
        let e = cookie_nodes
            .entry(id.cookie)
            .or_insert_with(|| new_entry(g));
        e.first = e.first.min(id.time_ms);
        e.last = e.last.max(id.time_ms);
    }
    // A login identifies its cookie too.
    for v in log.visits.iter().filter(|v| v.user_id.is_some()) {
        let e = cookie_nodes
            .entry(v.cookie_id)
            .or_insert_with(|| new_entry(g));
        e.first = e.first.min(v.time_ms);
        e.last = e.last.max(v.time_ms);
    }
    let visit_nodes: Vec<u32> = log
        .visits
        .iter()
        .map(|v| {
            let e = cookie_nodes
                .entry(v.cookie_id)
                .or_insert_with(|| new_entry(g));
            let outside = e.first <= e.last
                && (v.time_ms < e.first.saturating_sub(ttl_ms)
                    || v.time_ms > e.last.saturating_add(ttl_ms));
            if outside {
                if e.anon == NONE {
                    e.anon = g.node(0, 0);
                }
                e.anon
            } else {
                e.linked
            }
        })
        .collect();
    let mut cookie =
        |c: u64, g: &mut Capped| cookie_nodes.entry(c).or_insert_with(|| new_entry(g)).linked;
    let form_nodes: Vec<u32> = log
        .form_fills
        .iter()
        .map(|f| match f.cookie_id {
            Some(c) => cookie(c, g),
            None => g.node(0, 0),
        })
        .collect();
    (visit_nodes, form_nodes)
}

/// Link the evidence in time order: form fills (typed email, its normalised
/// form and newsletter token) and visits carrying a newsletter token or a
/// login, within the caps.
fn link_evidence(log: &EventLog, g: &mut Capped, visit_nodes: &[u32], form_nodes: &[u32]) {
    let mut typed: HashMap<&str, u32> = HashMap::new();
    let mut normal: HashMap<String, u32> = HashMap::new();
    let mut tokens: IntMap<u64, u32> = IntMap::default();
    let mut users: IntMap<u64, u32> = IntMap::default();
    // Evidence in time order: form fills, and visits carrying a
    // newsletter token or a login.
    let mut evidence: Vec<(i64, u64, usize, bool)> = log
        .form_fills
        .iter()
        .enumerate()
        .map(|(i, f)| (f.time_ms, f.event_id, i, true))
        .chain(
            log.visits
                .iter()
                .enumerate()
                .filter(|(_, v)| v.email_token.is_some() || v.user_id.is_some())
                .map(|(i, v)| (v.time_ms, v.event_id, i, false)),
        )
        .collect();
    evidence.sort_unstable();
    for (_, _, i, is_form) in evidence {
        // A site account: one identity, not an email, for the caps.
        let user_id = if is_form {
            log.form_fills[i].user_id
        } else {
            log.visits[i].user_id
        };
        if let Some(u) = user_id {
            let node = if is_form {
                form_nodes[i]
            } else {
                visit_nodes[i]
            };
            let a = *users.entry(u.get()).or_insert_with(|| g.node(0, 0));
            g.link(node, a);
        }
        if is_form {
            let f = &log.form_fills[i];
            if is_junk_email(&f.email) {
                continue;
            }
            // An address seen before only as a newsletter token already
            // counts as one email: its normalised node then counts none.
            let tok = email_token(&f.email).get();
            let seen = tokens.contains_key(&tok);
            let n = *normal
                .entry(normalize_email(&f.email))
                .or_insert_with(|| g.node(u32::from(!seen), 0));
            let t = *tokens.entry(tok).or_insert_with(|| g.node(0, 0));
            let e = *typed
                .entry(f.email.as_str())
                .or_insert_with(|| g.node(0, 0));
            g.link(e, n);
            g.link(t, n);
            g.link(form_nodes[i], n);
        } else {
            let v = &log.visits[i];
            if let Some(tok) = v.email_token {
                // A subscriber's address the log has not seen typed yet:
                // one more email for the caps.
                let t = *tokens.entry(tok.get()).or_insert_with(|| g.node(1, 0));
                g.link(visit_nodes[i], t);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::FormFill;
    use crate::stitch::tests::two_device_log;

    fn uncapped() -> Graph {
        Graph {
            max_emails: 0,
            max_cookies: 0,
            ttl_days: f64::INFINITY,
        }
    }

    #[test]
    fn junk_identifiers_never_link() {
        assert!(is_junk_email("test@example.com"));
        assert!(is_junk_email("none@x.com"));
        assert!(is_junk_email(""));
        assert!(!is_junk_email("anna.smith@x.com"));
        let mut log = two_device_log();
        // Two strangers both type a junk address: they must stay apart.
        log.form_fills.push(FormFill {
            event_id: 30,
            click_id: None,
            user_id: None,
            time_ms: 9_000,
            cookie_id: Some(20),
            email: "test@test.com".into(),
        });
        log.form_fills.push(FormFill {
            event_id: 31,
            click_id: None,
            user_id: None,
            time_ms: 9_500,
            cookie_id: Some(10),
            email: "test@test.com".into(),
        });
        let ids = uncapped().stitch(&log);
        assert_ne!(ids.visit[1], ids.visit[0]);
    }

    #[test]
    fn caps_refuse_links_that_would_overmerge() {
        let mut log = two_device_log();
        // The stranger's cookie 20 later types a's email (a shared or mistyped address).
        log.form_fills.push(FormFill {
            event_id: 30,
            click_id: None,
            user_id: None,
            time_ms: 9_000,
            cookie_id: Some(20),
            email: "a@x.com".into(),
        });
        let merged = uncapped().stitch(&log);
        assert_eq!(
            merged.visit[1], merged.visit[0],
            "without caps the stranger joins a"
        );
        let capped = Graph {
            max_emails: 0,
            max_cookies: 2,
            ttl_days: f64::INFINITY,
        }
        .stitch(&log);
        assert_ne!(
            capped.visit[1], capped.visit[0],
            "a third cookie is refused"
        );
        assert_eq!(
            capped.visit[0], capped.visit[2],
            "the first two links stand"
        );
    }

    #[test]
    fn ttl_keeps_old_visits_anonymous() {
        let log = two_device_log();
        // Identifications at 4 s and 5 s; a TTL of 2 s keeps the visit at 1 s apart.
        let ids = Graph {
            max_emails: 0,
            max_cookies: 0,
            ttl_days: 2_000.0 / 86_400_000.0,
        }
        .stitch(&log);
        assert_ne!(ids.visit[0], ids.visit[3]);
        assert_eq!(ids.visit[2], ids.visit[3]);
    }
}
