//! Precision against recall, one point per stitcher.

use super::{DrawResult, FONT, font, series_colour};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

/// Precision vs recall of every stitcher, with F1 iso-lines.
#[derive(Clone, Debug, PartialEq)]
pub struct PrecisionRecall {
    /// Chart title.
    pub title: String,
    /// (stitcher, precision, recall).
    pub points: Vec<(String, f64, f64)>,
}

impl super::Chart for PrecisionRecall {
    fn size(&self) -> (u32, u32) {
        (760, 620)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, (FONT, 18))
            .margin(14)
            .x_label_area_size(44)
            .y_label_area_size(56)
            .build_cartesian_2d(0.0..1.02f64, 0.0..1.02f64)?;
        chart
            .configure_mesh()
            .light_line_style(WHITE)
            .x_desc("recall (pairs of visits of one person put together)")
            .y_desc("precision (pairs put together that are one person)")
            .label_style((FONT, 13))
            .axis_desc_style((FONT, 14))
            .draw()?;
        for f in [0.2, 0.4, 0.6, 0.8, 0.9] {
            let pts: Vec<(f64, f64)> = (0..=200)
                .map(|k| f / 2.0 + (1.0 - f / 2.0) * k as f64 / 200.0)
                .map(|r| (r, f * r / (2.0 * r - f)))
                .filter(|(_, p)| *p <= 1.02)
                .collect();
            chart.draw_series(LineSeries::new(pts, BLACK.mix(0.25)))?;
            chart.draw_series(std::iter::once(Text::new(
                format!("F1 {f}"),
                (1.0, f / (2.0 - f)),
                font(11, HPos::Right, VPos::Bottom).color(&BLACK.mix(0.6)),
            )))?;
        }
        for (i, (name, p, r)) in self.points.iter().enumerate() {
            let c = if name == "oracle" {
                BLACK
            } else {
                series_colour(i)
            };
            // Markers differ by shape too, since stitchers often overlap.
            let size = 9 - (i % 3) as i32 * 2;
            chart
                .draw_series(std::iter::once(Circle::new(
                    (*r, *p),
                    size,
                    c.stroke_width(3),
                )))?
                .label(format!("{name}: P {p:.2}, R {r:.2}"))
                .legend(move |(x, y)| Circle::new((x + 6, y), 5, c.stroke_width(3)));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerLeft)
            .border_style(BLACK.mix(0.4))
            .background_style(WHITE.mix(0.9))
            .label_font((FONT, 13))
            .draw()?;
        Ok(())
    }
}
