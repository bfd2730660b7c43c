//! `last_login`: each cookie belongs to the person who last identified on it
//! (by form fill or newsletter token; identities are email tokens, so case
//! does not matter). A shared device goes to one person; cookies never link
//! two identities, so nothing is over-merged through them.

use super::{Identities, IntMap, Stitcher, UnionFind, crm_nodes, identifications};
use crate::log::{EventLog, email_token};
use crate::strategy::{Needs, Strategy, StrategyDescriptor};

/// Cookie → its last identity.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LastLogin;

impl Strategy for LastLogin {
    const DESCRIPTOR: StrategyDescriptor = StrategyDescriptor {
        kind: "last_login",
        summary: "each cookie belongs to the person who last identified on it (shared devices go to one person)",
        params: &[],
        needs: Needs::NOTHING,
    };
    const DEFAULT: Self = LastLogin;
}

impl Stitcher for LastLogin {
    fn name(&self) -> String {
        self.id()
    }

    fn stitch(&self, log: &EventLog) -> Identities {
        // Last identification of each cookie: (time, event id) orders them.
        let mut last: IntMap<u64, ((i64, u64), u64)> = IntMap::default();
        for id in identifications(log) {
            let when = (id.time_ms, id.event_id);
            let e = last.entry(id.cookie).or_insert((when, id.token));
            if when > e.0 {
                *e = (when, id.token);
            }
        }
        let mut uf = UnionFind::new(0);
        let mut identities: IntMap<u64, u32> = IntMap::default();
        let mut cookies: IntMap<u64, u32> = IntMap::default();
        let mut cookie_node = |c: u64, uf: &mut UnionFind, identities: &mut IntMap<u64, u32>| {
            *cookies.entry(c).or_insert_with(|| match last.get(&c) {
                Some(&(_, tok)) => *identities.entry(tok).or_insert_with(|| uf.push()),
                None => uf.push(),
            })
        };
        let visit_nodes: Vec<u32> = log
            .visits
            .iter()
            .map(|v| cookie_node(v.cookie_id, &mut uf, &mut identities))
            .collect();
        // A form fill belongs to the identity it names.
        let form_nodes: Vec<u32> = log
            .form_fills
            .iter()
            .map(|f| {
                *identities
                    .entry(email_token(&f.email).get())
                    .or_insert_with(|| uf.push())
            })
            .collect();
        crm_nodes(log, uf, visit_nodes, form_nodes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::FormFill;
    use crate::stitch::tests::two_device_log;

    #[test]
    fn a_shared_cookie_goes_to_its_last_identity() {
        let mut log = two_device_log();
        // Someone else identifies on cookie 10 later.
        log.form_fills.push(FormFill {
            event_id: 20,
            click_id: None,
            user_id: None,
            time_ms: 9_000,
            cookie_id: Some(10),
            email: "b@y.com".into(),
        });
        let ids = LastLogin.stitch(&log);
        assert_eq!(ids.visit[0], ids.form_fill[2], "cookie 10 belongs to b now");
        assert_ne!(
            ids.visit[0], ids.visit[2],
            "a's other cookie is not merged with b"
        );
        assert_eq!(
            ids.form_fill[0], ids.form_fill[1],
            "a's form fills stay a's"
        );
        assert_eq!(ids.visit[2], ids.form_fill[1]);
    }
}
