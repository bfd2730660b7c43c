//! Charts: every picture of a report, drawn with plotters into SVG (for the
//! HTML report and slides) and PNG (for documents), from plain data the
//! report code extracts. The shipped DejaVu Sans is registered on first use,
//! so text renders on a machine with no system fonts.
//!
//! Colours: one colour-blind-safe colour per channel, by the channel's
//! position in the scenario (Okabe–Ito, then Paul Tol's muted set), the same
//! in every chart; greys for the non-channel labels.
//! Must never: read the clock, print, or depend on anything but its inputs
//! (same data ⇒ the same bytes).

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::sync::Once;

mod bars;
mod flow;
mod heatmap;
mod lines;
mod precision_recall;
mod share_bars;
mod timeline;

pub use bars::*;
pub use flow::*;
pub use heatmap::*;
pub use lines::*;
pub use precision_recall::*;
pub use share_bars::*;
pub use timeline::*;

/// The font family every chart uses (the shipped DejaVu Sans).
pub const FONT: &str = "sans-serif";

static FONT_BYTES: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

/// Register the shipped font with plotters (idempotent; every render calls it).
pub fn register_fonts() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The bytes are a valid TrueType font shipped in the repository.
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, FONT_BYTES);
        let _ = plotters::style::register_font(FONT, FontStyle::Bold, FONT_BYTES);
    });
}

/// Okabe–Ito (8) then Tol muted (9): colour-blind-safe, distinct.
const CHANNEL_COLOURS: [(u8, u8, u8); 17] = [
    (0xE6, 0x9F, 0x00),
    (0x56, 0xB4, 0xE9),
    (0x00, 0x9E, 0x73),
    (0xF0, 0xE4, 0x42),
    (0x00, 0x72, 0xB2),
    (0xD5, 0x5E, 0x00),
    (0xCC, 0x79, 0xA7),
    (0x33, 0x33, 0x33),
    (0x88, 0xCC, 0xEE),
    (0x44, 0xAA, 0x99),
    (0x11, 0x77, 0x33),
    (0x99, 0x99, 0x33),
    (0xDD, 0xCC, 0x77),
    (0xCC, 0x66, 0x77),
    (0x88, 0x22, 0x55),
    (0xAA, 0x44, 0x99),
    (0x33, 0x22, 0x88),
];

/// Colours of series that are not channels (models, stitchers): Tol bright,
/// then Tol muted's darker colours (a run has up to 13 models).
const SERIES_COLOURS: [(u8, u8, u8); 14] = [
    (0x44, 0x77, 0xAA),
    (0xEE, 0x66, 0x77),
    (0x22, 0x88, 0x33),
    (0xCC, 0xBB, 0x44),
    (0x66, 0xCC, 0xEE),
    (0xAA, 0x33, 0x77),
    (0xBB, 0xBB, 0xBB),
    (0x33, 0x22, 0x88),
    (0x99, 0x99, 0x33),
    (0x88, 0x22, 0x55),
    (0x44, 0xAA, 0x99),
    (0xDD, 0xCC, 0x77),
    (0x11, 0x77, 0x33),
    (0xCC, 0x66, 0x77),
];

/// The fixed colour of every label: channels by scenario position, greys for
/// `baseline`, `direct`, `unassigned`, `unknown` (and anything else).
#[derive(Clone, Debug, PartialEq)]
pub struct Palette {
    /// Scenario channel ids in order.
    pub channels: Vec<String>,
}

impl Palette {
    /// The palette of a scenario's channels.
    pub fn new(channels: &[String]) -> Palette {
        Palette {
            channels: channels.to_vec(),
        }
    }

    /// The colour of a label.
    pub fn colour(&self, label: &str) -> RGBColor {
        if let Some(i) = self.channels.iter().position(|c| c == label) {
            let (r, g, b) = CHANNEL_COLOURS[i % CHANNEL_COLOURS.len()];
            return RGBColor(r, g, b);
        }
        match label {
            "baseline" => RGBColor(0x99, 0x99, 0x99),
            "direct" => RGBColor(0xBB, 0xBB, 0xBB),
            "unassigned" => RGBColor(0xDD, 0xDD, 0xDD),
            _ => RGBColor(0x77, 0x77, 0x77),
        }
    }

    /// The colour as CSS hex (`#e69f00`), for the HTML report.
    pub fn css(&self, label: &str) -> String {
        let RGBColor(r, g, b) = self.colour(label);
        format!("#{r:02x}{g:02x}{b:02x}")
    }
}

/// The colour of the `i`-th non-channel series (models, stitchers).
pub fn series_colour(i: usize) -> RGBColor {
    let (r, g, b) = SERIES_COLOURS[i % SERIES_COLOURS.len()];
    RGBColor(r, g, b)
}

/// One chart in both formats.
#[derive(Clone, Debug, PartialEq)]
pub struct Rendered {
    /// File stem (`credit_conversions_best`): written as `charts/NAME.svg` and `.png`.
    pub name: String,
    /// A one-line title for the HTML report.
    pub title: String,
    /// The SVG document.
    pub svg: String,
    /// The PNG file.
    pub png: Vec<u8>,
}

/// Why a chart could not be drawn.
#[derive(Debug, thiserror::Error)]
#[error("chart {name}: {message}")]
pub struct ChartError {
    /// The chart.
    pub name: String,
    /// What went wrong.
    pub message: String,
}

type DrawResult = Result<(), Box<dyn std::error::Error>>;

/// A chart: its size and how to draw it on any backend.
pub trait Chart {
    /// Width and height in pixels.
    fn size(&self) -> (u32, u32);
    /// Draw on a white area of [`Chart::size`].
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static;
}

/// Draw `chart` into SVG and PNG.
pub fn render<C: Chart>(name: &str, title: &str, chart: &C) -> Result<Rendered, ChartError> {
    register_fonts();
    let fail = |e: &dyn std::fmt::Display| ChartError {
        name: name.to_string(),
        message: e.to_string(),
    };
    let (w, h) = chart.size();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| fail(&e))?;
        chart.draw(&root).map_err(|e| fail(&e))?;
        root.present().map_err(|e| fail(&e))?;
    }
    let mut rgb = vec![255u8; w as usize * h as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| fail(&e))?;
        chart.draw(&root).map_err(|e| fail(&e))?;
        root.present().map_err(|e| fail(&e))?;
    }
    let mut png = Vec::new();
    {
        use image::ImageEncoder;
        image::codecs::png::PngEncoder::new(&mut png)
            .write_image(&rgb, w, h, image::ColorType::Rgb8)
            .map_err(|e| fail(&e))?;
    }
    Ok(Rendered {
        name: name.to_string(),
        title: title.to_string(),
        svg,
        png,
    })
}

/// Text style of `size` pixels, anchored.
fn font(size: u32, h: HPos, v: VPos) -> TextStyle<'static> {
    TextStyle::from((FONT, size as f64).into_font())
        .color(&BLACK)
        .pos(Pos::new(h, v))
}

/// Text on a root area.
/// A chart's title, top left.
fn title<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, s: &str) -> DrawResult
where
    DB::ErrorType: 'static,
{
    text(root, s, (12, 12), &font(18, HPos::Left, VPos::Top))
}

fn text<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    s: &str,
    at: (i32, i32),
    style: &TextStyle<'_>,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    root.draw(&Text::new(s.to_string(), at, style.clone()))?;
    Ok(())
}

/// A filled rectangle on a root area.
fn rect<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    a: (i32, i32),
    b: (i32, i32),
    colour: impl Into<ShapeStyle>,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    root.draw(&Rectangle::new([a, b], colour.into()))?;
    Ok(())
}

/// A number in a short human form (12.3 k, 4.5 M).
pub fn short_number(x: f64) -> String {
    let a = x.abs();
    if a >= 1e6 {
        format!("{:.1} M", x / 1e6)
    } else if a >= 1e4 {
        format!("{:.0} k", x / 1e3)
    } else if a >= 1e3 {
        format!("{:.1} k", x / 1e3)
    } else if a >= 10.0 || x.fract() == 0.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_keep_their_colour_by_position_and_non_channels_are_grey() {
        let ids: Vec<String> = ["b", "a", "c"].map(String::from).to_vec();
        let p = Palette::new(&ids);
        assert_eq!(p.css("b"), "#e69f00");
        assert_eq!(p.css("a"), "#56b4e9");
        assert_eq!(p.css("c"), "#009e73");
        for label in ["baseline", "direct", "unassigned", "unknown"] {
            let RGBColor(r, g, b) = p.colour(label);
            assert!(r == g && g == b, "{label} is grey");
        }
        // Every channel colour differs from every other and from the greys.
        let all: Vec<RGBColor> = CHANNEL_COLOURS
            .iter()
            .map(|&(r, g, b)| RGBColor(r, g, b))
            .collect();
        for (i, a) in all.iter().enumerate() {
            for b in &all[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }

    #[test]
    fn short_numbers_read_like_a_person_writes_them() {
        assert_eq!(short_number(0.0), "0");
        assert_eq!(short_number(3.0), "3");
        assert_eq!(short_number(0.25), "0.25");
        assert_eq!(short_number(1_500.0), "1.5 k");
        assert_eq!(short_number(-25_000.0), "-25 k");
        assert_eq!(short_number(2_500_000.0), "2.5 M");
    }

    #[test]
    fn a_chart_renders_to_svg_and_png_with_the_shipped_font() {
        let chart = HBars {
            title: "t <&> é".into(),
            unit: "u".into(),
            rows: vec![("a".into(), 1.0), ("b".into(), 2.0)],
        };
        let r = render("x", "x", &chart).unwrap();
        assert!(r.svg.contains("t &lt;&amp;&gt; é"), "text escaped in SVG");
        assert!(r.png.starts_with(b"\x89PNG"));
        // Same data, same bytes.
        assert_eq!(render("x", "x", &chart).unwrap(), r);
    }
}
