//! Channel shares as 100 % stacked bars, one row per truth or model, with the channel legend.

use super::{DrawResult, Palette, font, rect, text, title};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

/// Channel shares as 100 % stacked bars, one row per truth or model: the
/// segments are the channels in their fixed colours, so a row reads like the
/// truth's rows above it or it does not.
#[derive(Clone, Debug, PartialEq)]
pub struct ShareBars {
    /// Chart title.
    pub title: String,
    /// Channel colours (and the channel order).
    pub palette: Palette,
    /// (row label, share per channel in palette order; renormalised over channels).
    pub rows: Vec<(String, Vec<f64>)>,
    /// How many leading rows are truths (drawn apart from the models).
    pub truth_rows: usize,
}

impl super::Chart for ShareBars {
    fn size(&self) -> (u32, u32) {
        let legend_lines = self.palette.channels.len().div_ceil(4) as u32;
        (
            960,
            70 + 30 * self.rows.len() as u32 + 14 + 22 * legend_lines + 20,
        )
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        title(root, &self.title)?;
        let (x0, x1) = (230i32, 930i32);
        let width = (x1 - x0) as f64;
        let mut y = 50i32;
        for tick in 0..=4 {
            let x = x0 + (width * tick as f64 / 4.0) as i32;
            text(
                root,
                &format!("{} %", tick * 25),
                (x, y - 4),
                &font(12, HPos::Center, VPos::Bottom),
            )?;
        }
        for (i, (label, shares)) in self.rows.iter().enumerate() {
            if i == self.truth_rows && i > 0 {
                y += 14;
            }
            text(
                root,
                label,
                (x0 - 8, y + 12),
                &font(14, HPos::Right, VPos::Center),
            )?;
            let total: f64 = shares.iter().map(|s| s.max(0.0)).sum();
            let mut at = 0.0;
            for (c, s) in self.palette.channels.iter().zip(shares) {
                let s = if total > 0.0 { s.max(0.0) / total } else { 0.0 };
                if s <= 0.0 {
                    continue;
                }
                let a = x0 + (width * at) as i32;
                let b = x0 + (width * (at + s)) as i32;
                rect(root, (a, y), (b, y + 24), self.palette.colour(c).filled())?;
                if s >= 0.06 {
                    let RGBColor(r, g, bl) = self.palette.colour(c);
                    let luma = 0.299 * r as f64 + 0.587 * g as f64 + 0.114 * bl as f64;
                    let dark = luma < 110.0;
                    let style = font(12, HPos::Center, VPos::Center).color(if dark {
                        &WHITE
                    } else {
                        &BLACK
                    });
                    text(
                        root,
                        &format!("{:.0}", s * 100.0),
                        ((a + b) / 2, y + 12),
                        &style,
                    )?;
                }
                at += s;
            }
            if total <= 0.0 {
                text(
                    root,
                    "no channel credit",
                    (x0 + 6, y + 12),
                    &font(12, HPos::Left, VPos::Center),
                )?;
            }
            y += 30;
        }
        legend(root, &self.palette, &self.palette.channels, 12, y + 10)
    }
}

/// A legend of channel swatches, four to a line; returns nothing.
pub(super) fn legend<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    palette: &Palette,
    labels: &[String],
    x: i32,
    y: i32,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    for (i, label) in labels.iter().enumerate() {
        let (cx, cy) = (x + 235 * (i % 4) as i32, y + 22 * (i / 4) as i32);
        rect(
            root,
            (cx, cy),
            (cx + 14, cy + 14),
            palette.colour(label).filled(),
        )?;
        rect(root, (cx, cy), (cx + 14, cy + 14), BLACK.mix(0.4))?;
        text(
            root,
            label,
            (cx + 20, cy + 7),
            &font(13, HPos::Left, VPos::Center),
        )?;
    }
    Ok(())
}
