//! Lines over an x axis, with optional error bands.

use super::{DrawResult, FONT, font, short_number};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

/// A point of a line: (x, y, optional 95 % CI (low, high)).
pub type LinePoint = (f64, f64, Option<(f64, f64)>);

/// One line of a [`Lines`] chart.
#[derive(Clone, Debug, PartialEq)]
pub struct Line {
    /// Legend name.
    pub name: String,
    /// Colour.
    pub colour: RGBColor,
    /// Drawn thicker (the oracle, the truth).
    pub bold: bool,
    /// (x, y, optional 95 % CI band).
    pub points: Vec<LinePoint>,
}

/// Lines over a numeric x with optional CI bands and marked points
/// (sweeps, response curves with operating points, profit over periods).
#[derive(Clone, Debug, PartialEq)]
pub struct Lines {
    /// Chart title.
    pub title: String,
    /// X axis description.
    pub x_desc: String,
    /// Y axis description.
    pub y_desc: String,
    /// The lines.
    pub lines: Vec<Line>,
    /// Marked points: (x, y, colour, label).
    pub marks: Vec<(f64, f64, RGBColor, String)>,
    /// Draw CI bands (off when they would hide the lines).
    pub bands: bool,
    /// Number of x tick labels (0: plotters' choice).
    pub x_labels: usize,
}

impl super::Chart for Lines {
    fn size(&self) -> (u32, u32) {
        (900, 560)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let all = self
            .lines
            .iter()
            .flat_map(|l| l.points.iter())
            .flat_map(|(x, y, ci)| {
                let (a, b) = ci.filter(|_| self.bands).unwrap_or((*y, *y));
                [(*x, *y), (*x, a), (*x, b)]
            })
            .chain(self.marks.iter().map(|m| (m.0, m.1)))
            .filter(|(x, y)| x.is_finite() && y.is_finite());
        let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
        for (x, y) in all {
            x0 = x0.min(x);
            x1 = x1.max(x);
            y0 = y0.min(y);
            y1 = y1.max(y);
        }
        if x0 > x1 {
            (x0, x1, y0, y1) = (0.0, 1.0, 0.0, 1.0);
        }
        if x1 - x0 < 1e-12 {
            (x0, x1) = (x0 - 0.5, x1 + 0.5);
        }
        let pad = ((y1 - y0) * 0.08).max(1e-9 + y1.abs() * 0.05);
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, (FONT, 18))
            .margin(14)
            .x_label_area_size(44)
            .y_label_area_size(70)
            .build_cartesian_2d(x0..x1, (y0 - pad)..(y1 + pad))?;
        chart
            .configure_mesh()
            .light_line_style(WHITE)
            .x_labels(if self.x_labels == 0 {
                10
            } else {
                self.x_labels
            })
            .x_desc(&self.x_desc)
            .y_desc(&self.y_desc)
            .x_label_formatter(&|x| short_number(*x))
            .y_label_formatter(&|y| short_number(*y))
            .label_style((FONT, 13))
            .axis_desc_style((FONT, 14))
            .draw()?;
        for l in &self.lines {
            let band: Vec<(f64, f64, f64)> = l
                .points
                .iter()
                .filter_map(|(x, _, ci)| ci.map(|(a, b)| (*x, a, b)))
                .filter(|(_, a, b)| a.is_finite() && b.is_finite())
                .collect();
            if self.bands && band.len() >= 2 {
                let mut poly: Vec<(f64, f64)> = band.iter().map(|(x, a, _)| (*x, *a)).collect();
                poly.extend(band.iter().rev().map(|(x, _, b)| (*x, *b)));
                chart.draw_series(std::iter::once(Polygon::new(
                    poly,
                    l.colour.mix(0.18).filled(),
                )))?;
            }
        }
        for l in &self.lines {
            let c = l.colour;
            let width = if l.bold { 4 } else { 2 };
            let pts: Vec<(f64, f64)> = l
                .points
                .iter()
                .map(|(x, y, _)| (*x, *y))
                .filter(|(x, y)| x.is_finite() && y.is_finite())
                .collect();
            chart
                .draw_series(LineSeries::new(pts.clone(), c.stroke_width(width)))?
                .label(l.name.clone())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(width))
                });
            chart.draw_series(pts.into_iter().map(move |p| Circle::new(p, 3, c.filled())))?;
        }
        for (x, y, c, label) in &self.marks {
            chart.draw_series(std::iter::once(Circle::new((*x, *y), 7, c.stroke_width(3))))?;
            if !label.is_empty() {
                chart.draw_series(std::iter::once(Text::new(
                    label.clone(),
                    (*x, *y),
                    font(12, HPos::Left, VPos::Bottom),
                )))?;
            }
        }
        if !self.lines.is_empty() {
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperLeft)
                .border_style(BLACK.mix(0.4))
                .background_style(WHITE.mix(0.9))
                .label_font((FONT, 13))
                .draw()?;
        }
        Ok(())
    }
}
