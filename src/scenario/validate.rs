//! Loading and the one validation pass: every problem is collected with its key
//! path (array elements addressed by their `id`, as `scenarios/reference.toml`
//! describes), its value and what was expected; unknown keys are found with
//! `serde_ignored` so they are listed together with the value errors rather
//! than stopping at the first.

use super::*;
use std::collections::BTreeSet;
use std::fmt;

/// Most channels a scenario with accounts may have (exact account games).
const MAX_ACCOUNT_CHANNELS: usize = 14;

/// One thing wrong with a scenario.
#[derive(Clone, Debug, PartialEq)]
pub struct Problem {
    /// Dotted key path, e.g. `channels.display.conversion_rate`.
    pub path: String,
    /// The offending value as written, if there is one.
    pub value: Option<String>,
    /// What was expected.
    pub expected: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.value {
            Some(v) => write!(f, "{} = {}: {}", self.path, v, self.expected),
            None => write!(f, "{}: {}", self.path, self.expected),
        }
    }
}

/// Why a scenario could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("cannot read scenario {path}: {message}")]
    Io {
        /// The path given.
        path: String,
        /// The system's reason.
        message: String,
    },
    /// Not TOML, or a value of the wrong type.
    #[error("{source_name}: {message}")]
    Syntax {
        /// File name.
        source_name: String,
        /// Parser message with line and column.
        message: String,
    },
    /// Parsed, but some values are out of range or unknown.
    #[error("{source_name}: {} problem(s):\n{}", problems.len(), problems.iter().map(|p| format!("  {p}")).collect::<Vec<_>>().join("\n"))]
    Invalid {
        /// File name.
        source_name: String,
        /// Every problem found.
        problems: Vec<Problem>,
    },
}

/// Render a serde_ignored path as a dotted scenario path, naming array elements by `id`.
fn dotted(path: &serde_ignored::Path, raw: &toml::Value) -> String {
    fn walk<'a>(
        path: &serde_ignored::Path,
        raw: &'a toml::Value,
        out: &mut Vec<String>,
    ) -> Option<&'a toml::Value> {
        use serde_ignored::Path as P;
        match path {
            P::Root => Some(raw),
            P::Seq { parent, index } => {
                let node = walk(parent, raw, out);
                let elem = node.and_then(|n| n.as_array()).and_then(|a| a.get(*index));
                let name = elem
                    .and_then(|e| e.get("id").or_else(|| e.get("kind")))
                    .and_then(|v| v.as_str())
                    .map(str::to_string)
                    .unwrap_or_else(|| index.to_string());
                out.push(name);
                elem
            }
            P::Map { parent, key } => {
                let node = walk(parent, raw, out);
                out.push(key.to_string());
                node.and_then(|n| n.get(key.as_str()))
            }
            P::Some { parent } | P::NewtypeStruct { parent } | P::NewtypeVariant { parent } => {
                walk(parent, raw, out)
            }
        }
    }
    let mut parts = Vec::new();
    walk(path, raw, &mut parts);
    parts.join(".")
}

pub(super) fn load(source: &str, text: &str) -> Result<Scenario, ScenarioError> {
    let syntax = |message: String| ScenarioError::Syntax {
        source_name: source.to_string(),
        message,
    };
    let raw: toml::Value = toml::from_str::<toml::Table>(text)
        .map(toml::Value::Table)
        .map_err(|e| syntax(e.to_string()))?;
    let mut unknown = Vec::new();
    let de = toml::de::Deserializer::parse(text).map_err(|e| syntax(e.to_string()))?;
    let scenario: Scenario =
        serde_ignored::deserialize(de, |path| unknown.push(dotted(&path, &raw)))
            .map_err(|e| syntax(e.to_string()))?;
    let mut problems: Vec<Problem> = unknown
        .into_iter()
        .map(|path| Problem {
            path,
            value: None,
            expected: "unknown key (see scenarios/reference.toml for every key)".into(),
        })
        .collect();
    problems.extend(check(&scenario));
    if problems.is_empty() {
        Ok(scenario)
    } else {
        Err(ScenarioError::Invalid {
            source_name: source.to_string(),
            problems,
        })
    }
}

pub(super) struct Checker {
    problems: Vec<Problem>,
}

impl Checker {
    pub(super) fn push(
        &mut self,
        path: &str,
        value: impl fmt::Display,
        expected: impl Into<String>,
    ) {
        self.problems.push(Problem {
            path: path.to_string(),
            value: Some(value.to_string()),
            expected: expected.into(),
        });
    }
    pub(super) fn missing(&mut self, path: &str, expected: impl Into<String>) {
        self.problems.push(Problem {
            path: path.to_string(),
            value: None,
            expected: expected.into(),
        });
    }
    pub(super) fn within(&mut self, path: &str, v: f64, lo: f64, hi: f64) {
        if !(v.is_finite() && v >= lo && v <= hi) {
            self.push(path, v, format!("must be within {lo}..={hi}"));
        }
    }
    pub(super) fn positive(&mut self, path: &str, v: f64) {
        if !(v.is_finite() && v > 0.0) {
            self.push(path, v, "must be a finite number > 0");
        }
    }
    pub(super) fn non_negative(&mut self, path: &str, v: f64) {
        if !(v.is_finite() && v >= 0.0) {
            self.push(path, v, "must be a finite number >= 0");
        }
    }
    fn gamma(&mut self, path: &str, g: &GammaDays) {
        self.positive(&format!("{path}.shape"), g.shape);
        self.positive(&format!("{path}.scale_days"), g.scale_days);
    }
    fn shares(&mut self, path: &str, names: &[&str], values: &[f64]) {
        for (n, &v) in names.iter().zip(values) {
            self.non_negative(&format!("{path}.{n}"), v);
        }
        if values.iter().all(|v| v.is_finite() && *v >= 0.0) && values.iter().sum::<f64>() <= 0.0 {
            self.missing(path, "at least one share must be > 0");
        }
    }
    fn label(&mut self, path: &str, id: &str) {
        let ok = !id.is_empty()
            && id.chars().next().is_some_and(|c| c.is_ascii_lowercase())
            && id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !ok {
            self.push(
                path,
                format!("{id:?}"),
                "must be snake_case (a-z, 0-9, _; starting with a letter)",
            );
        }
    }
}

/// Check every value of a parsed scenario; returns all problems found.
pub(super) fn check(s: &Scenario) -> Vec<Problem> {
    let mut c = Checker {
        problems: Vec::new(),
    };
    check_top_level(&mut c, s);
    check_population(&mut c, s);
    check_segments(&mut c, s);
    let ids = check_channels(&mut c, s);
    check_synergy(&mut c, s, &ids);
    check_form_fill_and_sales(&mut c, s, &ids);
    super::world::check_world(&mut c, s, &ids);
    check_observe(&mut c, s);

    let mut strategy_ids = BTreeSet::new();
    for st in &s.stitchers {
        if !strategy_ids.insert(st.id()) {
            c.push(&format!("stitchers.{}", st.id()), st.id(), "listed twice");
        }
    }
    let mut model_ids = BTreeSet::new();
    for a in &s.attributors {
        c.within(
            &format!("attributors.{}.lookback_days", a.id()),
            a.lookback_days(),
            0.0,
            3650.0,
        );
        for (name, value, reason) in a.param_problems() {
            c.push(&format!("attributors.{}.{name}", a.id()), value, reason);
        }
        if !model_ids.insert(a.id()) {
            c.push(&format!("attributors.{}", a.id()), a.id(), "listed twice");
        }
    }
    c.problems
}

/// The top-level keys: name, sizes, horizon, dates, margin.
fn check_top_level(c: &mut Checker, s: &Scenario) {
    let name_ok = !s.name.is_empty()
        && s.name
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == '-')
        && !s.name.starts_with('-');
    if !name_ok {
        c.push(
            "name",
            format!("{:?}", s.name),
            "must be letters, digits, _ or - (it names the output folder)",
        );
    }
    c.within("replicates", s.replicates as f64, 1.0, 10_000.0);
    c.within("persons", s.persons as f64, 1.0, 50_000_000.0);
    c.within("horizon_days", s.horizon_days, 1.0, 3650.0);
    c.within("warmup_days", s.warmup_days, 0.0, 3650.0);
    c.within("sales_tail_days", s.sales_tail_days, 0.0, 3650.0);
    c.within("gross_margin", s.gross_margin, 0.0, 1.0);
    if parse_date(&s.start_date).is_none() {
        c.push(
            "start_date",
            format!("{:?}", s.start_date),
            "must be a date YYYY-MM-DD from 1970 on",
        );
    }
}

/// `[population]`.
fn check_population(c: &mut Checker, s: &Scenario) {
    let p = &s.population;
    c.within(
        "population.household_size_mean",
        p.household_size_mean,
        1.0,
        20.0,
    );
    c.within("population.office_share", p.office_share, 0.0, 1.0);
    c.within(
        "population.office_size_mean",
        p.office_size_mean,
        1.0,
        500.0,
    );
    c.within("population.frailty_shape", p.frailty_shape, 0.05, 1000.0);
    c.within(
        "population.extra_devices_mean",
        p.extra_devices_mean,
        0.0,
        10.0,
    );
    c.shares(
        "population.device_types",
        &DEVICE_TYPES,
        &p.device_types.as_array(),
    );
    for (t, mix) in
        DEVICE_TYPES
            .iter()
            .zip([&p.browsers.desktop, &p.browsers.mobile, &p.browsers.tablet])
    {
        c.shares(
            &format!("population.browsers.{t}"),
            &BROWSERS,
            &mix.as_array(),
        );
    }
    c.within(
        "population.shared_device_rate",
        p.shared_device_rate,
        0.0,
        1.0,
    );
    c.within(
        "population.office_shared_device_rate",
        p.office_shared_device_rate,
        0.0,
        1.0,
    );
    c.within("population.newsletter_rate", p.newsletter_rate, 0.0, 1.0);
    if p.offices_are_accounts && s.channels.len() > MAX_ACCOUNT_CHANNELS {
        c.push(
            "population.offices_are_accounts",
            "true",
            format!(
                "accounts need at most {MAX_ACCOUNT_CHANNELS} channels (the account's revenue game enumerates 2^(channels + 1) coalitions); this scenario has {}",
                s.channels.len()
            ),
        );
    }
    c.within("population.baseline_rate", p.baseline_rate, 0.0, 1.0);
    c.within(
        "population.baseline_quality",
        p.baseline_quality,
        0.0,
        100.0,
    );
    c.within(
        "population.return_visit_rate",
        p.return_visit_rate,
        0.0,
        10.0,
    );
    c.within("population.pages_mean", p.pages_mean, 1.0, 100.0);
    c.within(
        "population.dwell_seconds_mean",
        p.dwell_seconds_mean,
        0.0,
        3600.0,
    );
}

/// `[[segments]]`.
fn check_segments(c: &mut Checker, s: &Scenario) {
    if s.segments.is_empty() {
        c.missing("segments", "at least one [[segments]] table is needed");
    }
    let mut seen = BTreeSet::new();
    for seg in &s.segments {
        let base = format!("segments.{}", seg.id);
        c.label(&format!("{base}.id"), &seg.id);
        if !seen.insert(seg.id.clone()) {
            c.push(&format!("{base}.id"), &seg.id, "duplicate segment id");
        }
        c.non_negative(&format!("{base}.share"), seg.share);
        c.within(&format!("{base}.qualify_rate"), seg.qualify_rate, 0.0, 1.0);
        c.gamma(&format!("{base}.qualify_delay"), &seg.qualify_delay);
        c.within(&format!("{base}.close_rate"), seg.close_rate, 0.0, 1.0);
        c.gamma(&format!("{base}.sales_cycle"), &seg.sales_cycle);
        c.positive(&format!("{base}.deal_size.median"), seg.deal_size.median);
        c.within(
            &format!("{base}.deal_size.sigma"),
            seg.deal_size.sigma,
            0.0,
            5.0,
        );
    }
    if !s.segments.is_empty() && s.segments.iter().map(|g| g.share.max(0.0)).sum::<f64>() <= 0.0 {
        c.missing("segments", "at least one segment share must be > 0");
    }
}

/// `[[channels]]`; returns the channel ids (for the tables that name them).
fn check_channels(c: &mut Checker, s: &Scenario) -> BTreeSet<String> {
    if s.channels.is_empty() {
        c.missing("channels", "at least one [[channels]] table is needed");
    }
    if s.channels.len() > 20 {
        c.push(
            "channels",
            s.channels.len(),
            "at most 20 channels (exact Shapley truth enumerates subsets)",
        );
    }
    let mut ids = BTreeSet::new();
    for ch in &s.channels {
        let base = format!("channels.{}", ch.id);
        c.label(&format!("{base}.id"), &ch.id);
        if RESERVED_LABELS.contains(&ch.id.as_str()) || ch.id == "cause" {
            c.push(
                &format!("{base}.id"),
                &ch.id,
                "is a reserved label (direct, unassigned, unknown, baseline, cause)",
            );
        }
        if !ids.insert(ch.id.clone()) {
            c.push(&format!("{base}.id"), &ch.id, "duplicate channel id");
        }
        check_channel_response(c, s, ch, &base);
        check_channel_observation(c, s, ch, &base);
    }
    if !s.channels.is_empty() && s.channels.iter().all(|ch| ch.kind == TouchKind::Impression) {
        c.missing(
            "channels",
            "at least one channel must be of kind \"click\" (impressions produce no visit)",
        );
    }
    ids
}

/// A channel's spend, response curve, delays and targeting.
fn check_channel_response(c: &mut Checker, s: &Scenario, ch: &Channel, base: &str) {
    match ch.spend {
        Some(spend) => {
            c.non_negative(&format!("{base}.spend"), spend);
            match ch.max_rate {
                    Some(m) => c.within(&format!("{base}.max_rate"), m, 0.0, 50.0),
                    None => c.missing(&format!("{base}.max_rate"), "a paid channel (with `spend`) needs max_rate, touches/person/day at saturation"),
                }
            match ch.half_saturation {
                    Some(k) => c.positive(&format!("{base}.half_saturation"), k),
                    None => c.missing(&format!("{base}.half_saturation"), "a paid channel (with `spend`) needs half_saturation, the spend per 1,000 persons giving half of max_rate"),
                }
            c.within(
                &format!("{base}.hill_exponent"),
                ch.hill_exponent,
                0.1,
                10.0,
            );
            if ch.rate.is_some() {
                c.push(
                    &format!("{base}.rate"),
                    ch.rate.unwrap_or(0.0),
                    "a paid channel's rate comes from spend; remove `rate` or `spend`",
                );
            }
        }
        None => {
            match ch.rate {
                    Some(r) => c.within(&format!("{base}.rate"), r, 0.0, 50.0),
                    None => c.missing(&format!("{base}.rate"), "an unpaid channel needs rate, touches/person/day (or give it spend, max_rate, half_saturation)"),
                }
            if ch.max_rate.is_some() || ch.half_saturation.is_some() {
                c.missing(
                    &format!("{base}.spend"),
                    "max_rate and half_saturation need spend",
                );
            }
        }
    }
    c.within(
        &format!("{base}.conversion_rate"),
        ch.conversion_rate,
        0.0,
        1.0,
    );
    c.gamma(&format!("{base}.delay"), &ch.delay);
    if ch.intent_exponent <= -s.population.frailty_shape {
        c.push(
            &format!("{base}.intent_exponent"),
            ch.intent_exponent,
            format!(
                "must be > -population.frailty_shape ({}), or E[z^γ] is infinite",
                s.population.frailty_shape
            ),
        );
    }
    if ch.campaigns.len() > 200 {
        c.push(
            &format!("{base}.campaigns"),
            ch.campaigns.len(),
            "at most 200 campaigns per channel",
        );
    }
    if ch.audience == Audience::Subscribers && s.population.newsletter_rate == 0.0 {
        c.push(
            &format!("{base}.audience"),
            "\"subscribers\"",
            "reaches nobody: population.newsletter_rate is 0",
        );
    }
    c.within(&format!("{base}.quality"), ch.quality, 0.0, 100.0);
    c.within(
        &format!("{base}.intent_exponent"),
        ch.intent_exponent,
        -5.0,
        10.0,
    );
    c.within(
        &format!("{base}.engagement_exponent"),
        ch.engagement_exponent,
        -5.0,
        5.0,
    );
    c.within(
        &format!("{base}.trigger_window_days"),
        ch.trigger_window_days,
        0.0,
        3650.0,
    );
    c.shares(
        &format!("{base}.device_mix"),
        &DEVICE_TYPES,
        &ch.device_mix.as_array(),
    );
}

/// How a channel's visits are recorded: referrers, click ids, sources, landing page.
fn check_channel_observation(c: &mut Checker, s: &Scenario, ch: &Channel, base: &str) {
    if let Some(r) = ch.referrer_loss_rate {
        c.within(&format!("{base}.referrer_loss_rate"), r, 0.0, 1.0);
        if ch.recorded_as.contains_key(crate::log::DIRECT) {
            c.push(
                &format!("{base}.recorded_as.direct"),
                ch.recorded_as[crate::log::DIRECT],
                "give either referrer_loss_rate or recorded_as.direct, not both",
            );
        }
    }
    if let Some(param) = &ch.click_id {
        let ok = !param.is_empty()
            && param
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !ok {
            c.push(
                &format!("{base}.click_id"),
                format!("{param:?}"),
                "a URL parameter name of lowercase letters, digits and `_` (e.g. \"gclid\")",
            );
        }
        if ch.kind == TouchKind::Impression {
            c.push(
                &format!("{base}.click_id"),
                format!("{param:?}"),
                "only click channels carry click ids (this one has kind = \"impression\")",
            );
        }
    }
    c.within(
        &format!("{base}.claim_click_days"),
        ch.claim_click_days,
        0.0,
        400.0,
    );
    c.within(
        &format!("{base}.claim_view_days"),
        ch.claim_view_days,
        0.0,
        400.0,
    );
    c.within(
        &format!("{base}.click_window_days"),
        ch.click_window_days,
        1.0,
        3650.0,
    );
    for (label, &share) in &ch.recorded_as {
        let path = format!("{base}.recorded_as.{label}");
        let known = label == crate::log::DIRECT
            || label == crate::log::UNASSIGNED
            || (label != &ch.id && s.channel_index(label).is_some());
        if !known {
            c.push(
                &path,
                share,
                "the key must be `direct`, `unassigned` or another channel's id",
            );
        }
        c.within(&path, share, 0.0, 1.0);
    }
    let row_sum: f64 = ch
        .recorded_as_row(s.observe.referrer_loss_rate)
        .iter()
        .map(|(_, s)| s)
        .sum();
    if row_sum > 1.0 + 1e-12 {
        c.push(
            &format!("{base}.recorded_as"),
            row_sum,
            "shares recorded as other labels (direct included) must sum to <= 1",
        );
    }
    if !ch.landing_page.starts_with('/') {
        c.push(
            &format!("{base}.landing_page"),
            format!("{:?}", ch.landing_page),
            "must be a path starting with /",
        );
    }
}

/// `[[synergy]]` pairs of channel ids.
fn check_synergy(c: &mut Checker, s: &Scenario, ids: &BTreeSet<String>) {
    let mut pairs = BTreeSet::new();
    for (i, syn) in s.synergy.iter().enumerate() {
        let base = format!("synergy.{i}");
        if syn.from == syn.to {
            c.push(
                &format!("{base}.to"),
                format!("{:?}", syn.to),
                "must differ from `from`",
            );
        }
        if !pairs.insert((syn.from.clone(), syn.to.clone())) {
            c.push(
                &base,
                format!("{} → {}", syn.from, syn.to),
                "duplicate (from, to) pair",
            );
        }
        for (key, id) in [("from", &syn.from), ("to", &syn.to)] {
            if !ids.contains(id) {
                c.push(
                    &format!("{base}.{key}"),
                    format!("{id:?}"),
                    "must be a channel id",
                );
            }
        }
        c.within(&format!("{base}.multiplier"), syn.multiplier, 1.0, 100.0);
    }
}

/// `[form_fill]` and `[sales]`.
fn check_form_fill_and_sales(c: &mut Checker, s: &Scenario, ids: &BTreeSet<String>) {
    let mut path_total = 0.0;
    for (key, &w) in &s.form_fill.path {
        let path = format!("form_fill.path.{key}");
        c.non_negative(&path, w);
        path_total += w.max(0.0);
        let known = key == "direct" || key == "cause" || ids.contains(key);
        if !known {
            c.push(&path, w, "key must be `direct`, `cause` or a channel id");
        } else if let Some(ch) = s.channels.iter().find(|ch| &ch.id == key)
            && ch.kind == TouchKind::Impression
        {
            c.push(
                &path,
                w,
                "an impression channel produces no visit; use a click channel",
            );
        }
    }
    if path_total <= 0.0 {
        c.missing("form_fill.path", "at least one weight must be > 0");
    }
    c.within("form_fill.repeat_rate", s.form_fill.repeat_rate, 0.0, 1.0);
    c.within(
        "sales.handoff_loss_rate",
        s.sales.handoff_loss_rate,
        0.0,
        1.0,
    );
}

/// `[observe]` and `[sessions]`.
fn check_observe(c: &mut Checker, s: &Scenario) {
    let o = &s.observe;
    c.within(
        "observe.cookie_deletion_scale",
        o.cookie_deletion_scale,
        0.0,
        10.0,
    );
    c.within("observe.itp_cap_days", o.itp_cap_days, 0.0, 400.0);
    c.within(
        "observe.private_window_rate",
        o.private_window_rate,
        0.0,
        1.0,
    );
    c.within(
        "observe.consent_decline_rate",
        o.consent_decline_rate,
        0.0,
        1.0,
    );
    for (t, rate) in DEVICE_TYPES.iter().zip(o.ip_noise_rate.as_array()) {
        c.within(&format!("observe.ip_noise_rate.{t}"), rate, 0.0, 1.0);
    }
    for (t, mix) in DEVICE_TYPES.iter().zip(o.tag_block_rate.as_array()) {
        for (b, rate) in BROWSERS.iter().zip(mix.as_array()) {
            c.within(&format!("observe.tag_block_rate.{t}.{b}"), rate, 0.0, 1.0);
        }
    }
    for (t, mix) in DEVICE_TYPES.iter().zip(o.webkit_share.as_array()) {
        for (b, share) in BROWSERS.iter().zip(mix.as_array()) {
            let path = format!("observe.webkit_share.{t}.{b}");
            if *b == "safari" {
                if share != 0.0 && share != 1.0 {
                    c.push(
                        &path,
                        share,
                        "1 (Safari always runs on WebKit; or leave it out)",
                    );
                }
            } else {
                c.within(&path, share, 0.0, 1.0);
            }
        }
    }
    c.within("observe.referrer_loss_rate", o.referrer_loss_rate, 0.0, 1.0);
    c.within("observe.email_typo_rate", o.email_typo_rate, 0.0, 1.0);
    c.within("observe.login_rate", o.login_rate, 0.0, 1.0);
    if !(s.sessions.timeout_minutes.is_finite()
        && s.sessions.timeout_minutes > 0.0
        && s.sessions.timeout_minutes <= 1440.0)
    {
        c.push(
            "sessions.timeout_minutes",
            s.sessions.timeout_minutes,
            "must be > 0 and <= 1440 (a day)",
        );
    }
    c.within("observe.email_variant_rate", o.email_variant_rate, 0.0, 1.0);
    c.within("observe.second_email_rate", o.second_email_rate, 0.0, 1.0);
    c.within("observe.rep_typo_rate", o.rep_typo_rate, 0.0, 1.0);
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
name = "t"
[[channels]]
id = "display"
spend = 100
max_rate = 0.05
half_saturation = 100
conversion_rate = 0.01
"#;

    #[test]
    fn confusion_rows_name_their_problems() {
        let text = format!(
            "{MINIMAL}recorded_as = {{ display = 0.1, web = 0.2, unassigned = 0.5, direct = 0.3 }}\nreferrer_loss_rate = 0.2\n"
        );
        let err = Scenario::from_toml_str("t.toml", &text)
            .unwrap_err()
            .to_string();
        for needle in [
            "channels.display.recorded_as.display",
            "channels.display.recorded_as.web",
            "channels.display.recorded_as.direct",
            "channels.display.recorded_as = 1.1",
        ] {
            assert!(err.contains(needle), "{needle} not in: {err}");
        }
        let ok = format!("{MINIMAL}recorded_as = {{ unassigned = 0.5, direct = 0.3 }}\n");
        let sc = Scenario::from_toml_str("t.toml", &ok).unwrap();
        assert_eq!(
            sc.channels[0].recorded_as_row(0.1),
            vec![("direct", 0.3), ("unassigned", 0.5)]
        );
    }

    #[test]
    fn webkit_share_names_a_safari_that_is_not_webkit_and_a_share_out_of_range() {
        let bad =
            format!("{MINIMAL}[observe.webkit_share]\nmobile = {{ safari = 0.5, chrome = 1.2 }}\n");
        let err = Scenario::from_toml_str("t.toml", &bad)
            .unwrap_err()
            .to_string();
        for needle in [
            "observe.webkit_share.mobile.safari = 0.5",
            "Safari always runs on WebKit",
            "observe.webkit_share.mobile.chrome = 1.2",
        ] {
            assert!(err.contains(needle), "{needle} not in: {err}");
        }
        let ok = format!("{MINIMAL}[observe.webkit_share]\nmobile = {{ chrome = 0.2 }}\n");
        let sc = Scenario::from_toml_str("t.toml", &ok).unwrap();
        assert_eq!(sc.observe.webkit_share.mobile.chrome, 0.2);
        assert_eq!(
            sc.observe.webkit_share.tablet.in_app, 0.0,
            "rows not written are 0"
        );
    }

    #[test]
    fn tag_block_table_defaults_and_partial_tables() {
        let omitted = Scenario::from_toml_str("t.toml", MINIMAL).unwrap();
        assert_eq!(omitted.observe.tag_block_rate, TagBlockRates::default());
        let desktop = DEVICE_TYPES.iter().position(|t| *t == "desktop").unwrap();
        let firefox = BROWSERS.iter().position(|b| *b == "firefox").unwrap();
        assert!(omitted.observe.tag_block_rate.rate(desktop, firefox) > 0.0);
        let partial = format!("{MINIMAL}[observe.tag_block_rate]\ndesktop = {{ firefox = 0.4 }}\n");
        let sc = Scenario::from_toml_str("t.toml", &partial).unwrap();
        let r = &sc.observe.tag_block_rate;
        for (t, _) in DEVICE_TYPES.iter().enumerate() {
            for (b, _) in BROWSERS.iter().enumerate() {
                let want = if (t, b) == (desktop, firefox) {
                    0.4
                } else {
                    0.0
                };
                assert_eq!(r.rate(t, b), want, "{t} {b}");
            }
        }
    }

    #[test]
    fn minimal_scenario_loads_with_defaults() {
        let s = Scenario::from_toml_str("t.toml", MINIMAL).unwrap();
        assert_eq!(s.channels[0].rate_at(100.0), 0.025);
        assert_eq!(s.segments.len(), 1);
    }

    #[test]
    fn every_problem_is_listed_with_its_path() {
        let text = r#"
name = "t"
colour = "blue"
[[channels]]
id = "display"
spend = -5
max_rate = 0.05
half_saturation = 100
conversion_rate = 1.7
typo_key = 3
[observe]
cookie_deletion_scale = 11
"#;
        let err = Scenario::from_toml_str("t.toml", text).unwrap_err();
        let msg = err.to_string();
        for needle in [
            "colour",
            "channels.display.typo_key",
            "channels.display.spend = -5",
            "channels.display.conversion_rate = 1.7: must be within 0..=1",
            "observe.cookie_deletion_scale = 11",
        ] {
            assert!(msg.contains(needle), "missing {needle:?} in\n{msg}");
        }
    }

    #[test]
    fn syntax_errors_name_the_line() {
        let err = Scenario::from_toml_str("t.toml", "name = \n").unwrap_err();
        assert!(err.to_string().contains("t.toml"), "{err}");
        assert!(err.to_string().contains("line 1"), "{err}");
    }
}
