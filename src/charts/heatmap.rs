//! A heatmap of values over two labelled axes.

use super::{DrawResult, font, rect, text, title};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

/// A heat map with the value in each cell (credit error: models × truths).
#[derive(Clone, Debug, PartialEq)]
pub struct Heatmap {
    /// Chart title.
    pub title: String,
    /// Row labels (models).
    pub rows: Vec<String>,
    /// Column labels (truths and measures).
    pub columns: Vec<String>,
    /// Values by row, then column (None: not computed).
    pub values: Vec<Vec<Option<f64>>>,
}

impl super::Chart for Heatmap {
    fn size(&self) -> (u32, u32) {
        (
            230 + 120 * self.columns.len() as u32 + 20,
            90 + 26 * self.rows.len() as u32 + 20,
        )
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        title(root, &self.title)?;
        let max = self
            .values
            .iter()
            .flatten()
            .flatten()
            .fold(0.0f64, |m, v| m.max(v.abs()))
            .max(1e-12);
        let (x0, y0) = (230i32, 80i32);
        for (j, c) in self.columns.iter().enumerate() {
            text(
                root,
                c,
                (x0 + 120 * j as i32 + 60, y0 - 6),
                &font(13, HPos::Center, VPos::Bottom),
            )?;
        }
        for (i, r) in self.rows.iter().enumerate() {
            let y = y0 + 26 * i as i32;
            text(
                root,
                r,
                (x0 - 8, y + 13),
                &font(14, HPos::Right, VPos::Center),
            )?;
            for j in 0..self.columns.len() {
                let x = x0 + 120 * j as i32;
                let v = self
                    .values
                    .get(i)
                    .and_then(|row| row.get(j))
                    .copied()
                    .flatten();
                let (fill, label) = match v {
                    Some(v) => {
                        let t = (v.abs() / max).clamp(0.0, 1.0);
                        // white → dark blue (Tol's sequential end)
                        let mix = |a: u8, b: u8| (a as f64 + (b as f64 - a as f64) * t) as u8;
                        (
                            RGBColor(mix(255, 0x08), mix(255, 0x30), mix(255, 0x6B)),
                            format!("{v:.3}"),
                        )
                    }
                    None => (RGBColor(240, 240, 240), "–".to_string()),
                };
                rect(root, (x, y), (x + 118, y + 24), fill.filled())?;
                let dark = v.is_some_and(|v| v.abs() / max > 0.55);
                let style =
                    font(13, HPos::Center, VPos::Center).color(if dark { &WHITE } else { &BLACK });
                text(root, &label, (x + 59, y + 12), &style)?;
            }
        }
        Ok(())
    }
}
