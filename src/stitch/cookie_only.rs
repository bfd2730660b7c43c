//! `cookie_only`: a journey is the visits of the form-fill cookie. No
//! cross-device or cross-cookie joins; CRM records follow their form fill,
//! deals their lead's exact email.

use super::{Identities, Stitcher, stitch_with};
use crate::log::EventLog;
use crate::strategy::{Needs, Strategy, StrategyDescriptor};

/// Each cookie is a person.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CookieOnly;

impl Strategy for CookieOnly {
    const DESCRIPTOR: StrategyDescriptor = StrategyDescriptor {
        kind: "cookie_only",
        summary: "a journey is the visits of the form-fill cookie (no cross-device joins)",
        params: &[],
        needs: Needs::NOTHING,
    };
    const DEFAULT: Self = CookieOnly;
}

impl Stitcher for CookieOnly {
    fn name(&self) -> String {
        self.id()
    }

    fn stitch(&self, log: &EventLog) -> Identities {
        stitch_with(log, |_, _, _, _| {})
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stitch::tests::two_device_log;

    #[test]
    fn cookies_stay_apart() {
        let ids = CookieOnly.stitch(&two_device_log());
        // Cookie 10's visits together, cookie 11 apart, stranger apart.
        assert_eq!(ids.visit[0], ids.visit[3]);
        assert_ne!(ids.visit[0], ids.visit[2]);
        assert_ne!(ids.visit[0], ids.visit[1]);
        // The lead follows its form fill (cookie 10); the exact-email deal joins it.
        assert_eq!(ids.crm_lead[0], ids.visit[0]);
        assert_eq!(ids.opportunity[0], ids.crm_lead[0]);
        assert_eq!(ids.deal[0], ids.crm_lead[0]);
        // The deal typed with a capital stays alone.
        assert_ne!(ids.deal[1], ids.crm_lead[0]);
    }
}
