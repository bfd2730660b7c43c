//! `normalized`: as `deterministic`, but emails are compared after
//! normalisation — lower case, plus tags dropped, dots in the local part
//! removed — and a deal whose (normalised) email matches no CRM lead joins the
//! one lead within edit distance 1, if exactly one is (a rep's typo).
//! Edit-distance candidates come from a deletion-neighbourhood index, so the
//! join costs O(deals × email length), not O(deals × leads).

use super::{Identities, Nodes, Stitcher, UnionFind, cookie_nodes, crm_nodes_with};
use crate::log::{EventLog, email_token};
use crate::strategy::{Needs, Strategy, StrategyDescriptor};
use std::collections::HashMap;

/// Deterministic linking on normalised emails.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Normalized;

impl Strategy for Normalized {
    const DESCRIPTOR: StrategyDescriptor = StrategyDescriptor {
        kind: "normalized",
        summary: "as deterministic, with email normalisation (case, dots, plus tags) and edit-distance-1 deal joins",
        params: &[],
        needs: Needs::NOTHING,
    };
    const DEFAULT: Self = Normalized;
}

/// Lower case, plus tag dropped, dots removed from the local part.
pub fn normalize_email(email: &str) -> String {
    let lower = email.trim().to_ascii_lowercase();
    match lower.split_once('@') {
        Some((local, domain)) => {
            let local = local.split('+').next().unwrap_or("");
            format!("{}@{}", local.replace('.', ""), domain)
        }
        None => lower,
    }
}

/// True when `a` and `b` differ by at most one insertion, deletion or substitution.
pub fn within_one_edit(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    if long.len() - short.len() > 1 {
        return false;
    }
    let prefix = short.iter().zip(long).take_while(|(x, y)| x == y).count();
    if short.len() == long.len() {
        short[prefix..]
            .iter()
            .skip(1)
            .eq(long[prefix..].iter().skip(1))
    } else {
        short[prefix..] == long[prefix + 1..]
    }
}

/// The string and its one-character deletions.
fn deletions(s: &str) -> Vec<String> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = vec![s.to_string()];
    for i in 0..chars.len() {
        out.push(
            chars
                .iter()
                .enumerate()
                .filter(|&(j, _)| j != i)
                .map(|(_, c)| c)
                .collect(),
        );
    }
    out
}

impl Stitcher for Normalized {
    fn name(&self) -> String {
        self.id()
    }

    fn stitch(&self, log: &EventLog) -> Identities {
        let mut uf = UnionFind::new(0);
        let (visit_nodes, form_nodes) = cookie_nodes(log, &mut uf, &mut Nodes::default());
        let mut emails: Nodes<String> = Nodes::default();
        let mut tokens: Nodes<u64> = Nodes::default();
        for (f, &node) in log.form_fills.iter().zip(&form_nodes) {
            let e = emails.get_or_add(normalize_email(&f.email), &mut uf);
            uf.union(node, e);
            let t = tokens.get_or_add(email_token(&f.email).get(), &mut uf);
            uf.union(e, t);
        }
        for (v, &node) in log.visits.iter().zip(&visit_nodes) {
            if let Some(tok) = v.email_token {
                let t = tokens.get_or_add(tok.get(), &mut uf);
                uf.union(node, t);
            }
        }
        super::login_links(log, &mut uf, |i| visit_nodes[i], &form_nodes);
        // Deal joins: exact normalised email, else the unique lead one edit away.
        // Only deals without an exact match are indexed (by their one-deletion
        // neighbourhood), so the index stays as small as the rep typos.
        let leads_norm: Vec<String> = log
            .crm_leads
            .iter()
            .map(|l| normalize_email(&l.email))
            .collect();
        let mut exact: HashMap<&str, usize> = HashMap::new();
        for (i, n) in leads_norm.iter().enumerate() {
            exact.entry(n.as_str()).or_insert(i);
        }
        let deals_norm: Vec<String> = log
            .deals
            .iter()
            .map(|d| normalize_email(&d.email))
            .collect();
        let mut near: HashMap<String, Vec<usize>> = HashMap::new();
        for (k, n) in deals_norm.iter().enumerate() {
            if !exact.contains_key(n.as_str()) {
                for d in deletions(n) {
                    near.entry(d).or_default().push(k);
                }
            }
        }
        // For each unmatched deal: the lead it is one edit from, or ambiguity.
        let mut candidate: HashMap<usize, Option<usize>> = HashMap::new();
        if !near.is_empty() {
            for (i, n) in leads_norm.iter().enumerate() {
                for d in deletions(n) {
                    for &k in near.get(&d).map(Vec::as_slice).unwrap_or(&[]) {
                        if within_one_edit(&deals_norm[k], n) {
                            let e = candidate.entry(k).or_insert(Some(i));
                            if let Some(j) = *e
                                && leads_norm[j] != *n
                            {
                                *e = None; // two different addresses: ambiguous
                            }
                        }
                    }
                }
            }
        }
        let deal_by_email: HashMap<&str, usize> = log
            .deals
            .iter()
            .enumerate()
            .map(|(k, d)| (d.email.as_str(), k))
            .collect();
        let deal_lead = |email: &str| -> Option<usize> {
            let n = normalize_email(email);
            if let Some(&i) = exact.get(n.as_str()) {
                return Some(i);
            }
            deal_by_email
                .get(email)
                .and_then(|k| candidate.get(k).copied().flatten())
        };
        crm_nodes_with(log, uf, visit_nodes, form_nodes, deal_lead)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::FormFill;
    use crate::stitch::tests::two_device_log;

    #[test]
    fn normalisation_undoes_case_dots_and_plus_tags() {
        assert_eq!(
            normalize_email(" Anna.Smith+news@Gmail.com"),
            "annasmith@gmail.com"
        );
        assert_eq!(
            normalize_email("annasmith@gmail.com"),
            "annasmith@gmail.com"
        );
    }

    #[test]
    fn one_edit_by_hand() {
        assert!(within_one_edit("abc", "abc"));
        assert!(within_one_edit("abc", "abd"));
        assert!(within_one_edit("abc", "ab"));
        assert!(within_one_edit("abc", "xabc"));
        assert!(
            !within_one_edit("abc", "bac"),
            "a transposition is two edits"
        );
        assert!(!within_one_edit("abc", "a"));
    }

    #[test]
    fn variants_and_rep_typos_still_join() {
        let mut log = two_device_log();
        // The second device's form uses a variant; the deterministic stitcher would split.
        log.form_fills[1] = FormFill {
            event_id: 7,
            click_id: None,
            user_id: None,
            time_ms: 5_000,
            cookie_id: Some(11),
            email: "a+news@x.com".into(),
        };
        log.deals[1].email = "a@x.cm".into(); // rep typo, one edit away
        let ids = Normalized.stitch(&log);
        assert_eq!(ids.visit[0], ids.visit[2]);
        assert_eq!(ids.deal[0], ids.crm_lead[0]);
        assert_eq!(ids.deal[1], ids.crm_lead[0]);
        assert_ne!(ids.visit[1], ids.visit[0]);
    }
}
