//! Horizontal bars and grouped bars.

use super::{DrawResult, FONT, font, rect, series_colour, short_number, text, title};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

/// Horizontal bars, one per row (fragmentation per stitcher).
#[derive(Clone, Debug, PartialEq)]
pub struct HBars {
    /// Chart title.
    pub title: String,
    /// What the bars measure.
    pub unit: String,
    /// (label, value).
    pub rows: Vec<(String, f64)>,
}

impl super::Chart for HBars {
    fn size(&self) -> (u32, u32) {
        (860, 80 + 28 * self.rows.len() as u32 + 30)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        title(root, &self.title)?;
        text(
            root,
            &self.unit,
            (230, 44),
            &font(13, HPos::Left, VPos::Center),
        )?;
        let max = self.rows.iter().fold(0.0f64, |m, r| m.max(r.1)).max(1e-12);
        let (x0, x1) = (230i32, 760i32);
        for (i, (label, v)) in self.rows.iter().enumerate() {
            let y = 64 + 28 * i as i32;
            text(
                root,
                label,
                (x0 - 8, y + 11),
                &font(14, HPos::Right, VPos::Center),
            )?;
            let b = x0 + ((x1 - x0) as f64 * v.max(0.0) / max) as i32;
            let c = if label == "oracle" {
                RGBColor(0x33, 0x33, 0x33)
            } else {
                series_colour(0)
            };
            rect(root, (x0, y), (b.max(x0 + 1), y + 22), c.filled())?;
            text(
                root,
                &format!("{v:.2}"),
                (b + 6, y + 11),
                &font(13, HPos::Left, VPos::Center),
            )?;
        }
        Ok(())
    }
}

/// Vertical grouped bars: categories on x, one bar per series.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupedBars {
    /// Chart title.
    pub title: String,
    /// Y axis description.
    pub y_desc: String,
    /// Categories (x).
    pub categories: Vec<String>,
    /// (series name, value per category, colour).
    pub series: Vec<(String, Vec<f64>, RGBColor)>,
}

impl super::Chart for GroupedBars {
    fn size(&self) -> (u32, u32) {
        let w = 140 + (self.categories.len() * (self.series.len() * 14 + 30)) as u32;
        let legend_h = 60 + 20 * self.series.len() as u32;
        (w.clamp(760, 1400) + 230, 520.max(legend_h))
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let (lo, hi) = self
            .series
            .iter()
            .flat_map(|s| s.1.iter())
            .fold((0.0f64, 0.0f64), |(a, b), v| (a.min(*v), b.max(*v)));
        let pad = ((hi - lo) * 0.08).max(1e-9);
        let n = self.categories.len().max(1);
        let cats = self.categories.clone();
        let (w, _) = root.dim_in_pixel();
        for (i, (name, _, colour)) in self.series.iter().enumerate() {
            let (x, y) = (w as i32 - 220, 50 + 20 * i as i32);
            rect(root, (x, y), (x + 14, y + 14), colour.filled())?;
            text(
                root,
                name,
                (x + 20, y + 7),
                &font(13, HPos::Left, VPos::Center),
            )?;
        }
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, (FONT, 18))
            .margin(14)
            .margin_right(240)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(
                0.0..n as f64,
                (lo - if lo < 0.0 { pad } else { 0.0 })..(hi + pad),
            )?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .light_line_style(WHITE)
            .x_labels(0)
            .y_label_formatter(&|y| short_number(*y))
            .y_desc(&self.y_desc)
            .label_style((FONT, 13))
            .axis_desc_style((FONT, 14))
            .draw()?;
        let bottom = chart.y_range().start;
        for (i, c) in cats.iter().enumerate() {
            let (px, py) = chart.backend_coord(&(i as f64 + 0.5, bottom));
            text(root, c, (px, py + 6), &font(13, HPos::Center, VPos::Top))?;
        }
        let k = self.series.len().max(1) as f64;
        let bw = 0.8 / k;
        for (s, (_, values, colour)) in self.series.iter().enumerate() {
            let c = *colour;
            chart.draw_series(values.iter().enumerate().map(move |(i, v)| {
                let x = i as f64 + 0.1 + bw * s as f64;
                Rectangle::new([(x, 0.0), (x + bw * 0.92, *v)], c.filled())
            }))?;
        }
        Ok(())
    }
}
