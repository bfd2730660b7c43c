//! `deterministic`: cookies linked through the emails typed in form fills and
//! through newsletter-click email tokens, retroactively (every visit of a
//! cookie joins the person, earlier ones included, as HubSpot does), and
//! through site logins (account ids on visits and form fills). CRM records
//! join by exact email.

use super::{Identities, Nodes, Stitcher, login_links, stitch_with};
use crate::log::{EventLog, email_token};
use crate::strategy::{Needs, Strategy, StrategyDescriptor};

/// Exact-email identity graph over cookies.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Deterministic;

impl Strategy for Deterministic {
    const DESCRIPTOR: StrategyDescriptor = StrategyDescriptor {
        kind: "deterministic",
        summary: "cookies joined through exact emails typed and newsletter tokens, retroactively (HubSpot-style)",
        params: &[],
        needs: Needs::NOTHING,
    };
    const DEFAULT: Self = Deterministic;
}

impl Stitcher for Deterministic {
    fn name(&self) -> String {
        self.id()
    }

    fn stitch(&self, log: &EventLog) -> Identities {
        stitch_with(log, |log, uf, cookies, form_nodes| {
            let mut emails: Nodes<String> = Nodes::default();
            let mut tokens: Nodes<u64> = Nodes::default();
            for (f, &node) in log.form_fills.iter().zip(form_nodes) {
                let e = emails.get_or_add(f.email.clone(), uf);
                uf.union(node, e);
                // The token a newsletter click of this address would carry.
                let t = tokens.get_or_add(email_token(&f.email).get(), uf);
                uf.union(e, t);
            }
            for v in &log.visits {
                if let (Some(tok), Some(c)) = (v.email_token, cookies.get(&v.cookie_id)) {
                    let t = tokens.get_or_add(tok.get(), uf);
                    uf.union(c, t);
                }
            }
            let cookie_of = |i: usize| {
                cookies
                    .get(&log.visits[i].cookie_id)
                    .expect("every visit's cookie has a node")
            };
            login_links(log, uf, cookie_of, form_nodes);
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stitch::tests::{two_device_log, visit};

    #[test]
    fn one_email_joins_two_devices_retroactively() {
        let ids = Deterministic.stitch(&two_device_log());
        // Both cookies, including visits before the form fills, are one person.
        assert_eq!(ids.visit[0], ids.visit[2]);
        assert_eq!(ids.visit[0], ids.visit[4]);
        assert_ne!(ids.visit[0], ids.visit[1]);
        assert_eq!(ids.crm_lead[0], ids.visit[2]);
        assert_eq!(ids.deal[0], ids.visit[2]);
        assert_ne!(ids.deal[1], ids.visit[2], "exact email only");
    }

    #[test]
    fn newsletter_tokens_join_cookies() {
        let mut log = two_device_log();
        log.visits
            .push(visit(12, 9_000, 30, 0, Some(email_token("a@x.com"))));
        let ids = Deterministic.stitch(&log);
        assert_eq!(ids.visit[5], ids.visit[0]);
    }
}
