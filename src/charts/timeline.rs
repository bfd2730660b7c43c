//! A few persons' journeys on a time axis.

use super::share_bars::legend;
use super::{DrawResult, Palette, font, text, title};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

/// One touch on a journey timeline.
#[derive(Clone, Debug, PartialEq)]
pub struct TimelineTouch {
    /// Days since the window opened.
    pub day: f64,
    /// The label it is coloured by: the true channel, `direct` for return
    /// and direct form-fill visits.
    pub label: String,
    /// The tracker recorded it (false: an impression, a blocked or
    /// declined device, a visit before the window).
    pub recorded: bool,
    /// A recorded visit under a cookie id this device had not shown before.
    pub new_cookie: bool,
    /// The touch whose clock fired: the true cause.
    pub is_cause: bool,
}

/// One converting person's touches, one row per device.
#[derive(Clone, Debug, PartialEq)]
pub struct TimelinePerson {
    /// Panel title.
    pub title: String,
    /// (device label, its touches in time order).
    pub rows: Vec<(String, Vec<TimelineTouch>)>,
    /// Milestones: (day, label) — form fill, opportunity, deal.
    pub marks: Vec<(f64, String)>,
}

/// Journey timelines of a few converting persons: the four steps in one picture.
#[derive(Clone, Debug, PartialEq)]
pub struct Timeline {
    /// Chart title.
    pub title: String,
    /// Label colours.
    pub palette: Palette,
    /// The persons.
    pub persons: Vec<TimelinePerson>,
}

impl Timeline {
    fn panel_height(p: &TimelinePerson) -> u32 {
        48 + 30 * p.rows.len().max(1) as u32 + 15 * p.marks.len() as u32 + 10
    }
}

impl super::Chart for Timeline {
    fn size(&self) -> (u32, u32) {
        let panels: u32 = self.persons.iter().map(Timeline::panel_height).sum();
        let legend = 22 * (self.palette.channels.len() + 1).div_ceil(4) as u32 + 60;
        (1000, 50 + panels + legend)
    }

    /// Long: the picture laid out top to bottom (panels, axis, legend) in one place.
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        title(root, &self.title)?;
        let (x0, x1) = (170i32, 970i32);
        let mut y = 46i32;
        if self.persons.is_empty() {
            text(
                root,
                "no converting person to show",
                (20, y + 10),
                &font(14, HPos::Left, VPos::Center),
            )?;
        }
        for p in &self.persons {
            let days = p
                .rows
                .iter()
                .flat_map(|r| r.1.iter().map(|t| t.day))
                .chain(p.marks.iter().map(|m| m.0));
            let (mut d0, mut d1) = (f64::MAX, f64::MIN);
            for d in days {
                d0 = d0.min(d);
                d1 = d1.max(d);
            }
            if d0 > d1 {
                (d0, d1) = (0.0, 1.0);
            }
            let span = (d1 - d0).max(1.0);
            let (d0, span) = (d0 - span * 0.03, span * 1.06);
            let xof = |d: f64| x0 + ((d - d0) / span * (x1 - x0) as f64) as i32;
            text(
                root,
                &p.title,
                (12, y + 8),
                &font(14, HPos::Left, VPos::Center),
            )?;
            let rows_top = y + 40;
            let rows_bottom = rows_top + 30 * p.rows.len() as i32;
            // Day ticks above the rows.
            let step = [1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0]
                .into_iter()
                .find(|s| span / s <= 10.0)
                .unwrap_or(200.0);
            let mut tick = (d0 / step).ceil() * step;
            while tick <= d0 + span {
                let x = xof(tick);
                text(
                    root,
                    &format!("day {:.0}", tick + 0.0),
                    (x, rows_top - 4),
                    &font(11, HPos::Center, VPos::Bottom).color(&BLACK.mix(0.6)),
                )?;
                root.draw(&PathElement::new(
                    vec![(x, rows_top - 2), (x, rows_bottom)],
                    BLACK.mix(0.08),
                ))?;
                tick += step;
            }
            for (k, (day, label)) in p.marks.iter().enumerate() {
                let x = xof(*day);
                let label_y = rows_bottom + 2 + 15 * k as i32;
                for dash in (rows_top..label_y).step_by(8) {
                    root.draw(&PathElement::new(
                        vec![(x, dash), (x, (dash + 4).min(label_y))],
                        BLACK.stroke_width(1),
                    ))?;
                }
                let (h, tx) = if x > x1 - 160 {
                    (HPos::Right, x - 4)
                } else {
                    (HPos::Left, x + 4)
                };
                text(root, label, (tx, label_y), &font(12, h, VPos::Top))?;
            }
            for (r, (device, touches)) in p.rows.iter().enumerate() {
                let cy = rows_top + 30 * r as i32 + 15;
                text(
                    root,
                    device,
                    (x0 - 10, cy),
                    &font(13, HPos::Right, VPos::Center),
                )?;
                root.draw(&PathElement::new(vec![(x0, cy), (x1, cy)], BLACK.mix(0.15)))?;
                for t in touches {
                    let x = xof(t.day);
                    let c = self.palette.colour(&t.label);
                    if t.new_cookie {
                        root.draw(&PathElement::new(
                            vec![(x - 9, cy - 13), (x - 9, cy + 13)],
                            RGBColor(0xCC, 0x33, 0x11).stroke_width(2),
                        ))?;
                    }
                    if t.is_cause {
                        root.draw(&Circle::new((x, cy), 11, BLACK.stroke_width(3)))?;
                    }
                    if t.recorded {
                        root.draw(&Circle::new((x, cy), 6, c.filled()))?;
                        root.draw(&Circle::new((x, cy), 6, BLACK.mix(0.5)))?;
                    } else {
                        root.draw(&Circle::new((x, cy), 6, c.stroke_width(2)))?;
                    }
                }
            }
            y += Timeline::panel_height(p) as i32;
        }
        // Symbol key, then the channel colours.
        let ky = y + 6;
        root.draw(&Circle::new((20, ky + 7), 6, BLACK.mix(0.6).filled()))?;
        text(
            root,
            "recorded visit",
            (32, ky + 7),
            &font(13, HPos::Left, VPos::Center),
        )?;
        root.draw(&Circle::new((180, ky + 7), 6, BLACK.stroke_width(2)))?;
        text(
            root,
            "not recorded (impression, blocked, no consent)",
            (192, ky + 7),
            &font(13, HPos::Left, VPos::Center),
        )?;
        root.draw(&PathElement::new(
            vec![(530, ky - 4), (530, ky + 18)],
            RGBColor(0xCC, 0x33, 0x11).stroke_width(2),
        ))?;
        text(
            root,
            "new cookie",
            (538, ky + 7),
            &font(13, HPos::Left, VPos::Center),
        )?;
        root.draw(&Circle::new((660, ky + 7), 9, BLACK.stroke_width(3)))?;
        text(
            root,
            "true cause",
            (676, ky + 7),
            &font(13, HPos::Left, VPos::Center),
        )?;
        let mut labels = self.palette.channels.clone();
        labels.push("direct".to_string());
        legend(root, &self.palette, &labels, 12, ky + 30)
    }
}
