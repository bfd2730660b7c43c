//! Flows from true causes to recorded labels.

use super::{DrawResult, Palette, font, rect, text, title};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

/// A flow (Sankey-style) chart: from each true cause (left) to the label
/// a report recorded (right), band width ∝ leads.
#[derive(Clone, Debug, PartialEq)]
pub struct FlowChart {
    /// Chart title.
    pub title: String,
    /// Label colours.
    pub palette: Palette,
    /// Left node order (true causes).
    pub left: Vec<String>,
    /// Right node order (recorded labels).
    pub right: Vec<String>,
    /// (left, right, leads).
    pub flows: Vec<(String, String, f64)>,
}

impl super::Chart for FlowChart {
    fn size(&self) -> (u32, u32) {
        (960, 640)
    }

    /// Long: the two columns and the ribbons between them laid out in one place.
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        title(root, &self.title)?;
        text(
            root,
            "true cause",
            (200, 44),
            &font(14, HPos::Right, VPos::Center),
        )?;
        text(
            root,
            "what last touch recorded",
            (760, 44),
            &font(14, HPos::Left, VPos::Center),
        )?;
        let total: f64 = self.flows.iter().map(|f| f.2.max(0.0)).sum();
        if total <= 0.0 {
            return text(
                root,
                "no leads",
                (480, 320),
                &font(16, HPos::Center, VPos::Center),
            );
        }
        let (top, height, gap) = (64.0, 540.0, 6.0);
        let node_sizes = |nodes: &[String], side: fn(&(String, String, f64)) -> &String| {
            nodes
                .iter()
                .map(|n| {
                    self.flows
                        .iter()
                        .filter(|f| side(f) == n)
                        .map(|f| f.2.max(0.0))
                        .sum::<f64>()
                })
                .collect::<Vec<f64>>()
        };
        let lsize = node_sizes(&self.left, |f| &f.0);
        let rsize = node_sizes(&self.right, |f| &f.1);
        let scale_of = |sizes: &[f64]| {
            let n = sizes.iter().filter(|s| **s > 0.0).count().max(1) as f64;
            (height - gap * (n - 1.0)) / total
        };
        let scale = scale_of(&lsize).min(scale_of(&rsize));
        let place = |sizes: &[f64]| {
            let mut y = top;
            sizes
                .iter()
                .map(|s| {
                    let at = y;
                    if *s > 0.0 {
                        y += s * scale + gap;
                    }
                    at
                })
                .collect::<Vec<f64>>()
        };
        let (ly, ry) = (place(&lsize), place(&rsize));
        let (xl, xr) = (210.0, 750.0);
        // Bands, in left order then right order, stacked within each node.
        let mut lfill = ly.clone();
        let mut rfill = ry.clone();
        for (i, l) in self.left.iter().enumerate() {
            for (j, r) in self.right.iter().enumerate() {
                let Some(f) = self.flows.iter().find(|f| &f.0 == l && &f.1 == r) else {
                    continue;
                };
                let w = f.2.max(0.0) * scale;
                if w <= 0.0 {
                    continue;
                }
                let (a0, b0) = (lfill[i], rfill[j]);
                lfill[i] += w;
                rfill[j] += w;
                let steps = 24;
                let curve = |y0: f64, y1: f64, k: usize| {
                    let t = k as f64 / steps as f64;
                    let s = t * t * (3.0 - 2.0 * t);
                    (
                        (xl + 12.0 + (xr - xl - 24.0) * t) as i32,
                        (y0 + (y1 - y0) * s) as i32,
                    )
                };
                let mut pts: Vec<(i32, i32)> = (0..=steps).map(|k| curve(a0, b0, k)).collect();
                pts.extend((0..=steps).rev().map(|k| curve(a0 + w, b0 + w, k)));
                root.draw(&Polygon::new(
                    pts,
                    self.palette.colour(l).mix(0.55).filled(),
                ))?;
            }
        }
        for (nodes, ys, sizes, x, left) in [
            (&self.left, &ly, &lsize, xl, true),
            (&self.right, &ry, &rsize, xr, false),
        ] {
            let h = if left { HPos::Right } else { HPos::Left };
            for ((n, y), s) in nodes.iter().zip(ys).zip(sizes) {
                if *s <= 0.0 {
                    continue;
                }
                let (y0, y1) = (*y as i32, (y + s * scale) as i32);
                rect(
                    root,
                    (x as i32 - 12 * left as i32, y0),
                    (x as i32 + 12 * (!left) as i32, y1.max(y0 + 1)),
                    self.palette.colour(n).filled(),
                )?;
                let tx = if left { x as i32 - 18 } else { x as i32 + 18 };
                text(
                    root,
                    &format!("{n} ({:.0} %)", s / total * 100.0),
                    (tx, (y0 + y1.max(y0 + 1)) / 2),
                    &font(13, h, VPos::Center),
                )?;
            }
        }
        Ok(())
    }
}
