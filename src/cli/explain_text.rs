//! `closedloop explain`: the sentence templates. Every value in a sentence
//! comes from the library's `Explanation` / `AnswerKey`; only the wording is
//! fixed here. Text (optionally coloured) or Markdown.

use closedloop::explain::{AnswerKey, CreditLine, Explanation, Story, StoryKind, What};
use closedloop::observe::CookieLoss;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// How to write.
#[derive(Clone, Copy)]
pub struct Style {
    /// Markdown for handouts (else plain text).
    pub markdown: bool,
    /// ANSI colour (text on a terminal only).
    pub colour: bool,
}

impl Style {
    fn paint(&self, code: &str, s: &str) -> String {
        if self.colour && !self.markdown {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
    fn bold(&self, s: &str) -> String {
        if self.markdown {
            format!("**{s}**")
        } else {
            self.paint("1", s)
        }
    }
}

/// `YYYY-MM-DD HH:MM` (UTC) of a time in ms since the epoch.
pub fn datetime(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil from days (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}",
        rem / 3600,
        (rem % 3600) / 60
    )
}

fn step_name(step: u8) -> &'static str {
    match step {
        1 => "arrive",
        2 => "browse",
        3 => "convert",
        _ => "close",
    }
}

fn step_colour(step: u8) -> &'static str {
    match step {
        1 => "36",
        2 => "34",
        3 => "33",
        _ => "32",
    }
}

/// A story's title from why the person was picked.
fn title(kind: StoryKind) -> &'static str {
    match kind {
        StoryKind::Clean => "converted cleanly",
        StoryKind::CookieLost => "lost by the tracker before the form (a cookie lost or never set)",
        StoryKind::SecondDevice => "converted across devices",
        StoryKind::NeverConverted => "visited, never converted",
        StoryKind::SalesDropped => "became a lead that sales did not close",
        StoryKind::WouldHaveBoughtAnyway => "targeted by brand search, would have come anyway",
        StoryKind::Chosen => "",
    }
}

fn loss_text(c: CookieLoss) -> &'static str {
    match c {
        CookieLoss::Deleted => "the visitor deleted their cookies since the last visit",
        CookieLoss::ItpExpired => {
            "Safari's tracking prevention (ITP) expired the script-set cookie since the last visit"
        }
        CookieLoss::PrivateWindow => "a private window: a throwaway cookie for this visit only",
        CookieLoss::ConsentDeclined => "consent was declined on the banner",
        CookieLoss::TagBlocked => "an ad blocker stopped the tracker",
    }
}

fn num(x: f64) -> String {
    if (x - x.round()).abs() < 1e-9 {
        format!("{}", x.round() as i64)
    } else {
        format!("{x:.2}")
    }
}

/// `a 1, b 0.5` for the non-zero entries.
fn credit_list(m: &BTreeMap<String, f64>) -> String {
    if m.is_empty() {
        return "nothing".into();
    }
    m.iter()
        .map(|(k, v)| format!("{k} {}", num(*v)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The head sentence and details of one event.
/// Long by design: one match arm per kind of event, each a sentence to read.
fn sentences(story: &Story, what: &What) -> (String, Vec<String>) {
    let device = |d: u32| {
        story
            .devices
            .iter()
            .find(|x| x.device == d)
            .map_or(format!("device #{d}"), |x| {
                format!(
                    "{} #{d} ({}{})",
                    x.device_type,
                    x.browser,
                    if x.shared { ", shared" } else { "" }
                )
            })
    };
    match what {
        What::Visit {
            source,
            recorded_as,
            url,
            cookie,
            hubspotutk,
            new_cookie,
            device: d,
            landing_page,
            pages,
            dwell_s,
            click_id,
            armed,
            caused_lead,
            ..
        } => {
            let how = match source.as_str() {
                "return" => "came back by a bookmark or typed URL".to_string(),
                "direct" => "came directly to the site".to_string(),
                s => format!("clicked {s}"),
            };
            let mut head = format!("{how} on {}", device(*d));
            if *caused_lead {
                head.push_str(" — this click armed the conversion clock that fired first: the true cause");
            } else if *armed {
                head.push_str(" — it armed a conversion clock that fired too late");
            }
            let mut details = Vec::new();
            match (url, recorded_as, cookie) {
                (Some(url), Some(label), Some(cookie)) => {
                    details.push(format!("tracker saw {url} → recorded as {label}"));
                    if label != source && source != "return" {
                        details.push(format!(
                            "the source was {source} but the tracker recorded {label}"
                        ));
                    }
                    if let Some((k, _)) = click_id {
                        details.push(format!("the click id ({k}) is stored in the cookie"));
                    }
                    details.push(if *new_cookie {
                        format!(
                            "new cookie set: _ga={cookie} (as HubSpot's: hubspotutk={}); read {pages} page(s) of {landing_page} in {dwell_s} s",
                            hubspotutk.as_deref().unwrap_or("")
                        )
                    } else {
                        format!(
                            "same cookie _ga={cookie}; read {pages} page(s) of {landing_page} in {dwell_s} s"
                        )
                    });
                }
                _ => details.push(format!(
                    "the tracker recorded nothing of this visit ({pages} page(s) read)"
                )),
            }
            (head, details)
        }
        What::Impression {
            channel,
            device: d,
            armed,
            caused_lead,
        } => {
            let mut head = format!("saw a {channel} ad on {} (no visit, no cookie)", device(*d));
            if *caused_lead {
                head.push_str(" — its clock fired first: the true cause");
            } else if *armed {
                head.push_str(" — it armed a conversion clock");
            }
            (head, Vec::new())
        }
        What::CookieLost {
            cause,
            device: d,
            previous_cookie,
        } => {
            let mut head = format!("cookie lost on {}: {}", device(*d), loss_text(*cause));
            if let Some(c) = previous_cookie {
                let _ = write!(head, " (it held _ga={c})");
            }
            (head, Vec::new())
        }
        What::FormFill {
            email,
            cookie,
            crm_lead_id,
            duplicate_record,
            joined,
            ..
        } => {
            let head = format!(
                "filled the form as {email} {}",
                match cookie {
                    Some(c) => format!("on cookie _ga={c}"),
                    None => "on an untracked visit (no cookie: a lead with no web history)".into(),
                }
            );
            let mut details = Vec::new();
            match (crm_lead_id, duplicate_record) {
                (Some(id), false) => details.push(format!("CRM lead record #{id} created")),
                (Some(id), true) => details.push(format!(
                    "a second address: duplicate CRM record #{id}, which sales never works"
                )),
                (None, _) => details.push("the CRM already had this email: no new record".into()),
            }
            details.push(format!(
                "the tracker can join {} visit(s) on this cookie (GA-style), {} by email across cookies (HubSpot-style){}",
                joined.on_cookie,
                joined.by_email,
                if joined.of_others > 0 {
                    format!(", {} of them someone else's on a shared device", joined.of_others)
                } else {
                    String::new()
                }
            ));
            details.push(format!(
                "it cannot join {} of this person's {} recorded visit(s), and {} visit(s) were never recorded",
                joined.missed, joined.own_recorded, joined.unrecorded
            ));
            (head, details)
        }
        What::BaselineFired => (
            "became a lead on their own: the organic baseline clock fired, no marketing touch caused it".into(),
            Vec::new(),
        ),
        What::Opportunity { event_id } => (
            format!(
                "sales qualified the lead: opportunity{}",
                event_id.map_or(String::new(), |i| format!(" #{i}"))
            ),
            Vec::new(),
        ),
        What::Deal { revenue, event_id } => (
            format!(
                "deal won{}: revenue {}",
                event_id.map_or(String::new(), |i| format!(" #{i}")),
                num(*revenue)
            ),
            Vec::new(),
        ),
        What::SalesDropped { reason } => (
            match reason.as_str() {
                "not_contacted" => "sales never contacted the lead (lost in the handoff)".into(),
                "not_qualified" => "sales did not qualify the lead: no opportunity".into(),
                _ => "the opportunity was lost: no deal".into(),
            },
            Vec::new(),
        ),
    }
}

fn role_name(role: &str) -> &str {
    match role {
        "ga_style" => "GA-style",
        "hubspot_style" => "HubSpot-style",
        "best_model" => "lowest error",
        "shapley" => "truth: shapley",
        "incremental" => "truth: incremental",
        "proximate" => "truth: proximate",
        "platforms" => "ad platforms' own claims",
        other => other,
    }
}

/// The label a credit line gives most leads to (None if nothing).
fn top(line: &CreditLine) -> Option<&str> {
    line.conversions
        .iter()
        .filter(|(_, v)| **v > 1e-9)
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map(|(k, _)| k.as_str())
}

fn credit_section(out: &mut String, story: &Story, style: Style) {
    if story.credit.is_empty() {
        return;
    }
    // Each report is judged against the touch whose clock fired (the
    // proximate truth): one lead, one mechanism, for teaching.
    let truth = story.credit.iter().find(|c| c.source == "proximate");
    let cause = truth.and_then(top);
    if style.markdown {
        out.push_str("\n4 · credit for this lead\n\n| credit from | journey it saw | leads | revenue |\n|---|---|---|---|\n");
    } else {
        let _ = writeln!(out, "\n  {}", style.bold("[4 · credit ] for this lead"));
    }
    for c in &story.credit {
        let who = match (&c.model, &c.stitcher) {
            _ if c.source == "platforms" => role_name(&c.source).to_string(),
            (Some(m), Some(s)) => format!("{} ({m} on {s})", role_name(&c.source)),
            _ => role_name(&c.source).to_string(),
        };
        let journey = if c.journey.is_empty() {
            String::new()
        } else {
            c.journey.join(" > ")
        };
        let claimed: f64 = c.conversions.values().sum();
        let verdict = match (c.model.is_some(), cause) {
            _ if c.source == "platforms" => match claimed {
                x if x < 0.5 => " — no platform claims it".to_string(),
                x if x < 1.5 => " — one platform claims it".to_string(),
                x => style.paint("33", &format!(" — {x:.0} platforms claim this one lead")),
            },
            (true, Some(cause)) => {
                let total: f64 = c.conversions.values().sum();
                let share = c.conversions.get(cause).copied().unwrap_or(0.0) / total;
                if share > 0.999 {
                    style.paint("32", " — right")
                } else if share > 1e-9 {
                    style.paint(
                        "33",
                        &format!(" — partly: {cause} gets {:.0} %", share * 100.0),
                    )
                } else {
                    style.paint(
                        "31",
                        &format!(" — wrong: most to {}", top(c).unwrap_or("nothing")),
                    )
                }
            }
            _ => String::new(),
        };
        if style.markdown {
            let _ = writeln!(
                out,
                "| {who} | {journey} | {}{} | {} |",
                credit_list(&c.conversions),
                verdict,
                credit_list(&c.revenue)
            );
        } else {
            let _ = writeln!(
                out,
                "    {who:<44} {}{}{}",
                credit_list(&c.conversions),
                if c.revenue.is_empty() {
                    String::new()
                } else {
                    format!("; revenue {}", credit_list(&c.revenue))
                },
                verdict
            );
            if !journey.is_empty() {
                let _ = writeln!(out, "    {:<44} journey it saw: {journey}", "");
            }
        }
    }
}

fn story_text(out: &mut String, e: &Explanation, s: &Story, style: Style) {
    let t = title(s.kind);
    let heading = if t.is_empty() {
        format!("Person {}", s.person)
    } else {
        format!("Person {} — {t}", s.person)
    };
    let devices = s
        .devices
        .iter()
        .map(|d| {
            format!(
                "{} #{} ({}{})",
                d.device_type,
                d.device,
                d.browser,
                if d.shared { ", shared" } else { "" }
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    let facts = format!(
        "one of {} in the household; segment {}; purchase intent {:.2} (mean 1){}; devices: {devices}",
        s.group_size,
        s.segment,
        s.intent,
        if s.newsletter {
            "; newsletter subscriber"
        } else {
            ""
        }
    );
    if style.markdown {
        let _ = writeln!(out, "\n## {heading}\n\n{facts}\n");
    } else {
        let _ = writeln!(out, "\n{}\n  {facts}\n", style.bold(&heading));
    }
    if s.events.is_empty() {
        let _ = writeln!(
            out,
            "{}nothing happened to this person in the {} days",
            if style.markdown { "" } else { "  " },
            e.horizon_days
        );
    }
    // A loss that left a visit unrecorded (ad blocker, declined consent)
    // is told with that visit rather than on a line of its own.
    let unrecorded_at = |time_ms: i64, device: u32| {
        s.events.iter().any(|x| {
            x.time_ms == time_ms
                && matches!(&x.what, What::Visit { device: d, recorded_as: None, .. } if *d == device)
        })
    };
    let mut folded: Vec<CookieLoss> = Vec::new();
    for ev in &s.events {
        if let What::CookieLost { cause, device, .. } = &ev.what {
            if unrecorded_at(ev.time_ms, *device) {
                folded.push(*cause);
                continue;
            }
        }
        let (head, mut details) = sentences(s, &ev.what);
        if let What::Visit {
            recorded_as: None, ..
        } = &ev.what
        {
            if !folded.is_empty() {
                let why: Vec<&str> = folded.iter().map(|c| loss_text(*c)).collect();
                details = vec![format!(
                    "the tracker recorded nothing of this visit: {}",
                    why.join("; ")
                )];
                folded.clear();
            }
        }
        let tag = format!("{} · {}", ev.step, step_name(ev.step));
        if style.markdown {
            let _ = writeln!(out, "- **{tag}** {} — {head}", datetime(ev.time_ms));
            for d in details {
                let _ = writeln!(out, "  - {d}");
            }
        } else {
            let tag = style.paint(step_colour(ev.step), &format!("[{tag:<11}]"));
            let _ = writeln!(out, "  {tag} {}  {head}", datetime(ev.time_ms));
            for d in details {
                let _ = writeln!(out, "  {:13} {:16}  {d}", "", "");
            }
        }
    }
    let a = &s.after_lead;
    if a.touches + a.cookie_losses + a.form_fills > 0 {
        let line = format!(
            "After the lead: {} more touch(es), {} cookie loss(es), {} repeat form fill(s) — no journey holds them",
            a.touches, a.cookie_losses, a.form_fills
        );
        if style.markdown {
            let _ = writeln!(out, "\n{line}.");
        } else {
            let _ = writeln!(out, "\n  {line}.");
        }
    }
    if let Some(l) = &s.lead {
        let line = format!(
            "Lead at {}; true cause {}{}",
            datetime(l.time_ms),
            l.cause,
            l.cause_time_ms
                .map_or(String::new(), |t| format!(" (touch at {})", datetime(t)))
        );
        if style.markdown {
            let _ = writeln!(out, "\n{line}.");
        } else {
            let _ = writeln!(out, "\n  {line}.");
        }
        if let Some(sentence) = counterfactual(s, l.time_ms) {
            let _ = writeln!(out, "{}{sentence}", if style.markdown { "" } else { "  " });
        }
    }
    credit_section(out, s, style);
}

/// For each channel that touched the person before the lead: would the
/// lead be lost without it (its incremental truth for this person)?
fn counterfactual(s: &Story, lead_ms: i64) -> Option<String> {
    let incremental = s.credit.iter().find(|c| c.source == "incremental")?;
    let mut touched: Vec<&str> = Vec::new();
    for e in s.events.iter().filter(|e| e.time_ms <= lead_ms) {
        let channel = match &e.what {
            What::Visit { source, .. } if source != "return" && source != "direct" => source,
            What::Impression { channel, .. } => channel,
            _ => continue,
        };
        if !touched.contains(&channel.as_str()) {
            touched.push(channel);
        }
    }
    if touched.is_empty() {
        return None;
    }
    let (lost, kept): (Vec<&str>, Vec<&str>) = touched
        .into_iter()
        .partition(|c| incremental.conversions.get(*c).is_some_and(|v| *v > 1e-9));
    let mut parts = Vec::new();
    if !lost.is_empty() {
        parts.push(format!(
            "without {} the lead would be lost",
            lost.join(" or ")
        ));
    }
    if !kept.is_empty() {
        parts.push(format!(
            "without {} alone they would still have become a lead",
            kept.join(" or ")
        ));
    }
    let mut sentence = parts.join("; ");
    if let Some(first) = sentence.get(0..1) {
        sentence.replace_range(0..1, &first.to_uppercase());
    }
    Some(format!(
        "{sentence} (incremental truth, same random draws)."
    ))
}

/// The stories.
pub fn render(e: &Explanation, style: Style) -> String {
    let mut out = String::new();
    let intro = format!(
        "{}: {} persons, {} leads in {} days from {}; seed {}, replicate {}",
        e.scenario, e.persons, e.leads, e.horizon_days, e.start_date, e.seed, e.replicate
    );
    let reports = e
        .reports
        .iter()
        .map(|r| {
            format!(
                "{} = {} on {} journeys",
                role_name(&r.role),
                r.model,
                r.stitcher
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    let steps = "Steps: 1 arrive and get a cookie · 2 browse, tracked by the cookie · 3 convert to a lead (form) · 4 lead becomes customer, the source is credited";
    if style.markdown {
        let _ = writeln!(
            out,
            "# The loop, visitor by visitor — {intro}\n\n{steps}.\n\nReports: {reports}."
        );
    } else {
        let _ = writeln!(out, "{}\n{steps}\nReports: {reports}", style.bold(&intro));
    }
    for k in &e.missing {
        let _ = writeln!(
            out,
            "{}(nobody in this world {})",
            if style.markdown { "\n" } else { "" },
            title(*k)
        );
    }
    for s in &e.stories {
        story_text(&mut out, e, s, style);
    }
    out
}

/// Shares of leads over the given channels (as `tvd` compares them).
fn channel_shares(m: &BTreeMap<String, f64>, channels: &[String]) -> Vec<f64> {
    let v: Vec<f64> = channels
        .iter()
        .map(|c| m.get(c).copied().unwrap_or(0.0))
        .collect();
    let total: f64 = v.iter().sum();
    v.iter()
        .map(|x| if total.abs() > 1e-12 { x / total } else { 0.0 })
        .collect()
}

/// The answer key.
/// Long by design: the key's paragraphs and tables in reading order.
pub fn render_answers(a: &AnswerKey, channels: &[String], style: Style) -> String {
    let mut out = String::new();
    let head = format!(
        "Answer key — {}, seed {}, replicate {}: the numbers `closedloop run` reports for the same scenario and seed",
        a.scenario, a.seed, a.replicate
    );
    if style.markdown {
        let _ = writeln!(out, "# {head}\n");
    } else {
        let _ = writeln!(out, "{}", style.bold(&head));
    }
    let _ = writeln!(
        out,
        "{} leads, {} customers, revenue {}.",
        num(a.leads as f64),
        num(a.customers as f64),
        num(a.revenue)
    );
    let losses: Vec<String> = a
        .losses
        .iter()
        .filter(|(_, v)| **v > 0)
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    let _ = writeln!(
        out,
        "Loss events in the window: {}.",
        if losses.is_empty() {
            "none".to_string()
        } else {
            losses.join(", ")
        }
    );
    let _ = writeln!(
        out,
        "Best stitcher: {} (pairwise F1 {:.3}); lowest error on it in this one replicate: {} (one replicate has no interval: `closedloop run --replicates 8` says whether any model is significantly better).",
        a.best_stitcher.0, a.best_stitcher.1, a.best_model
    );
    // The share table: truth and the three reports.
    let mut cols: Vec<(String, &BTreeMap<String, f64>, Option<f64>)> =
        vec![("shapley truth".into(), &a.shapley, None)];
    for role in ["ga_style", "hubspot_style", "best_model"] {
        if let Some(r) = a.rows.iter().find(|r| r.roles.iter().any(|x| x == role)) {
            cols.push((
                format!("{} ({})", role_name(role), r.model),
                &r.conversions,
                Some(r.tvd),
            ));
        }
    }
    let shares: Vec<Vec<f64>> = cols.iter().map(|c| channel_shares(c.1, channels)).collect();
    let _ = writeln!(out, "\nShare of leads per channel (channels only):");
    if style.markdown {
        let _ = writeln!(
            out,
            "\n| channel | {} |\n|---|{}",
            cols.iter()
                .map(|c| c.0.as_str())
                .collect::<Vec<_>>()
                .join(" | "),
            "---|".repeat(cols.len())
        );
        for (i, ch) in channels.iter().enumerate() {
            let _ = writeln!(
                out,
                "| {ch} | {} |",
                shares
                    .iter()
                    .map(|s| format!("{:.1} %", s[i] * 100.0))
                    .collect::<Vec<_>>()
                    .join(" | ")
            );
        }
        let _ = writeln!(
            out,
            "| tvd vs shapley | {} |",
            cols.iter()
                .map(|c| c.2.map_or("-".into(), |t| format!("{t:.3}")))
                .collect::<Vec<_>>()
                .join(" | ")
        );
    } else {
        let w = 30;
        let _ = write!(out, "{:<14}", "channel");
        for c in &cols {
            let _ = write!(out, " {:>w$}", c.0);
        }
        out.push('\n');
        for (i, ch) in channels.iter().enumerate() {
            let _ = write!(out, "{ch:<14}");
            for s in &shares {
                let _ = write!(out, " {:>w$}", format!("{:.1} %", s[i] * 100.0));
            }
            out.push('\n');
        }
        let _ = write!(out, "{:<14}", "tvd vs shapley");
        for c in &cols {
            let _ = write!(
                out,
                " {:>w$}",
                c.2.map_or("-".into(), |t| format!("{t:.3}"))
            );
        }
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "\nWhere each report misses most (model share − true share):"
    );
    for role in ["ga_style", "hubspot_style", "best_model"] {
        if let Some(r) = a.rows.iter().find(|r| r.roles.iter().any(|x| x == role)) {
            if let Some(ch) = &r.max_miss_channel {
                let _ = writeln!(
                    out,
                    "{}{}: {} by {:+.1} points",
                    if style.markdown { "- " } else { "  " },
                    role_name(role),
                    ch,
                    r.max_miss_bias * 100.0
                );
            }
        }
    }
    let _ = writeln!(
        out,
        "\nEvery model on every stitcher (tvd vs shapley, lower is better; one replicate, no intervals):"
    );
    let mut rows: Vec<&closedloop::explain::AnswerRow> =
        a.rows.iter().filter(|r| r.model != "oracle").collect();
    rows.sort_by(|x, y| x.tvd.total_cmp(&y.tvd).then(x.stitcher.cmp(&y.stitcher)));
    for r in rows {
        let _ = writeln!(
            out,
            "{}{:<24} on {:<16} {:.3}",
            if style.markdown { "- " } else { "  " },
            r.model,
            r.stitcher,
            r.tvd
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_civil_utc() {
        assert_eq!(datetime(0), "1970-01-01 00:00");
        // 2026-03-02 00:00 UTC is day 20,514.
        assert_eq!(
            datetime(20_514 * 86_400_000 + 3_723_000),
            "2026-03-02 01:02"
        );
        assert_eq!(datetime(951_782_400_000), "2000-02-29 00:00");
    }
}
