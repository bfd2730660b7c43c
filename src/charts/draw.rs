//! The chart kinds: plain data in, pixels out (see [`super::Chart`]).

use super::{DrawResult, FONT, Palette, font, rect, series_colour, short_number, text};
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
        text(
            root,
            &self.title,
            (12, 12),
            &font(18, HPos::Left, VPos::Top),
        )?;
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
fn legend<DB: DrawingBackend>(
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
        text(
            root,
            &self.title,
            (12, 12),
            &font(18, HPos::Left, VPos::Top),
        )?;
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

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        text(
            root,
            &self.title,
            (12, 12),
            &font(18, HPos::Left, VPos::Top),
        )?;
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
        text(
            root,
            &self.title,
            (12, 12),
            &font(18, HPos::Left, VPos::Top),
        )?;
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

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        text(
            root,
            &self.title,
            (12, 12),
            &font(18, HPos::Left, VPos::Top),
        )?;
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
