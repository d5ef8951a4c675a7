//! Pictures: the function (a line for one variable, a filled contour map
//! for two, a slice through a point for more), the descent paths over it,
//! convergence charts, fitted models (`fit.rs`) and performance profiles
//! (`profile.rs`). Rendering only: the caller writes the bytes.
//!
//! Both formats come from plotters: SVG through its SVG backend, PNG through
//! its bitmap backend into a buffer that the `png` crate encodes. Text uses a
//! subset of DejaVu Sans bundled here (`DejaVuSans-subset.ttf`, Bitstream
//! Vera licence, see `FONT-LICENSE.txt`), so every machine draws the same
//! letters without a font server.

mod colour;
mod convergence;
mod fit;
mod function;
mod paths;
mod profile;
mod stroke;

use std::fmt::Display;
use std::path::Path as FsPath;
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{FontStyle, register_font};

use crate::error::{Error, ErrorKind, Result};

pub use convergence::{ConvergencePlot, Series, render_convergence};
pub use fit::{FitPlot, render_fit};
pub use function::{Axes, FunctionPlot, render_function};
pub use paths::{Path, path_range};
pub use profile::{Profile, ProfilePlot, Solver, fraction_within, render_profile};

/// The picture formats, chosen by a file's extension.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Format {
    /// Scalable vector graphics (`.svg`).
    Svg,
    /// Portable network graphics (`.png`).
    Png,
}

/// The size and format of a picture.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Canvas {
    /// SVG or PNG.
    pub format: Format,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

/// The default size, in pixels.
pub const DEFAULT_SIZE: (u32, u32) = (900, 700);
/// Pictures smaller than this leave no room for labels; larger ones are
/// a typo (and memory).
const MIN_SIDE: u32 = 300;
const MAX_SIDE: u32 = 8000;

impl Canvas {
    /// A canvas of `format` and size `(width, height)`.
    pub fn new(format: Format, (width, height): (u32, u32)) -> Canvas {
        Canvas {
            format,
            width,
            height,
        }
    }
}

impl Format {
    /// The format named by `path`'s extension; `flag` names the option in
    /// the message.
    pub fn of_path(path: &FsPath, flag: &str) -> Result<Format> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("svg") => Ok(Format::Svg),
            Some("png") => Ok(Format::Png),
            _ => Err(Error::new(
                ErrorKind::Usage,
                format!("{flag}: '{}' is neither .svg nor .png", path.display()),
            )
            .with_hint("the extension chooses the format: write out.svg or out.png")),
        }
    }
}

/// Checks, before any work, that a picture can be written to `path`: a
/// known extension and a directory that exists. Returns the format.
pub fn check_target(path: &FsPath, flag: &str) -> Result<Format> {
    if path.is_dir() {
        return Err(Error::new(
            ErrorKind::Usage,
            format!("{flag}: '{}' is a directory", path.display()),
        )
        .with_hint("give a file name ending in .svg or .png"));
    }
    let format = Format::of_path(path, flag)?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => FsPath::new("."),
    };
    if !dir.is_dir() {
        return Err(Error::new(
            ErrorKind::Usage,
            format!("{flag}: the directory '{}' does not exist", dir.display()),
        )
        .with_hint("create it first, or write the picture somewhere else"));
    }
    Ok(format)
}

/// Parses `WIDTHxHEIGHT`, e.g. `900x700`.
pub fn parse_size(flag: &str, text: &str) -> Result<(u32, u32)> {
    let bad = || {
        Error::new(
            ErrorKind::Usage,
            format!("{flag}: '{text}' is not WIDTHxHEIGHT in pixels"),
        )
        .with_hint(format!(
            "write {flag} 900x700 (each side {MIN_SIDE} to {MAX_SIDE})"
        ))
    };
    let (w, h) = text.split_once(['x', 'X']).ok_or_else(bad)?;
    let w: u32 = w.trim().parse().map_err(|_| bad())?;
    let h: u32 = h.trim().parse().map_err(|_| bad())?;
    if !(MIN_SIDE..=MAX_SIDE).contains(&w) || !(MIN_SIDE..=MAX_SIDE).contains(&h) {
        return Err(bad());
    }
    Ok((w, h))
}

/// A formula's text on one line for a title: whitespace collapsed,
/// definitions joined by `; `, cut to `max` characters with an ellipsis.
pub fn short_formula(text: &str, max: usize) -> String {
    let lines: Vec<String> = text
        .lines()
        .map(|l| l.split('#').next().unwrap_or(""))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|l| !l.is_empty())
        .collect();
    let one = lines.join("; ");
    if one.chars().count() <= max {
        one
    } else {
        let cut: String = one.chars().take(max.saturating_sub(1)).collect();
        format!("{}…", cut.trim_end())
    }
}

/// The family every text is drawn in. Bitmaps use the bundled font
/// registered under this name; an SVG names it as a CSS list, so a viewer
/// uses the font embedded in the file, else DejaVu Sans, else its own.
const FONT: &str = "slope-sans, DejaVu Sans, sans-serif";
/// The family the SVG's embedded font is declared as.
const EMBEDDED_FAMILY: &str = "slope-sans";
static FONT_BYTES: &[u8] = include_bytes!("DejaVuSans-subset.ttf");

/// Registers the bundled font with plotters, once per process (also as
/// plotters' default family, for any text drawn without a style).
fn register_bundled_font() -> Result<()> {
    static ONCE: Once = Once::new();
    let mut failed = false;
    ONCE.call_once(|| {
        failed = [FONT, "sans-serif"]
            .iter()
            .any(|name| register_font(name, FontStyle::Normal, FONT_BYTES).is_err());
    });
    if failed {
        return Err(Error::new(
            ErrorKind::Internal,
            "the bundled font could not be read",
        ));
    }
    Ok(())
}

/// Draws on an SVG or a bitmap root area and encodes the result; the
/// drawing code is generic over the backend, so both formats show the same.
pub(crate) fn encode<F>(canvas: Canvas, draw: F) -> Result<Vec<u8>>
where
    F: Drawer,
{
    register_bundled_font()?;
    let size = (canvas.width, canvas.height);
    match canvas.format {
        Format::Svg => {
            let mut text = String::new();
            {
                let root = SVGBackend::with_string(&mut text, size).into_drawing_area();
                drawn(root.fill(&WHITE))?;
                draw.draw(&root, canvas)?;
                drawn(root.present())?;
            }
            Ok(embed_font(&text).into_bytes())
        }
        Format::Png => {
            let mut pixels = vec![255u8; canvas.width as usize * canvas.height as usize * 3];
            {
                let root = BitMapBackend::with_buffer(&mut pixels, size).into_drawing_area();
                drawn(root.fill(&WHITE))?;
                draw.draw(&root, canvas)?;
                drawn(root.present())?;
            }
            encode_png(&pixels, canvas.width, canvas.height)
        }
    }
}

/// Something that draws a whole picture on any backend's root area.
pub(crate) trait Drawer {
    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, plotters::coord::Shift>,
        canvas: Canvas,
    ) -> Result<()>;
}

/// The SVG with the bundled font embedded (base64, about 95 KB), so that
/// its text looks the same in every browser.
fn embed_font(svg: &str) -> String {
    let Some(open) = svg
        .find("<svg")
        .and_then(|i| svg[i..].find('>').map(|j| i + j + 1))
    else {
        return svg.to_string();
    };
    format!(
        "{}\n<defs><style>@font-face {{ font-family: \"{EMBEDDED_FAMILY}\"; src: url(data:font/ttf;base64,{}) format(\"truetype\"); }}</style></defs>{}",
        &svg[..open],
        base64(FONT_BYTES),
        &svg[open..]
    )
}

/// Standard base64 with padding (RFC 4648).
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * k) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn encode_png(rgb: &[u8], width: u32, height: u32) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut bytes, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::High);
    let mut writer = encoder.write_header().map_err(png_error)?;
    writer.write_image_data(rgb).map_err(png_error)?;
    writer.finish().map_err(png_error)?;
    Ok(bytes)
}

fn png_error(e: png::EncodingError) -> Error {
    Error::new(ErrorKind::Internal, format!("cannot encode the PNG: {e}"))
}

/// A drawing error as a crate error (drawing into memory fails only on a
/// bug, such as a missing glyph table).
fn drawn<T, E: Display>(r: std::result::Result<T, E>) -> Result<T> {
    r.map_err(|e| Error::new(ErrorKind::Internal, format!("cannot draw the picture: {e}")))
}

/// A number for an axis or colour-bar label: about three significant digits.
pub(crate) fn label(v: f64) -> String {
    if v == 0.0 {
        return "0".to_string();
    }
    let a = v.abs();
    if !(1e-3..1e5).contains(&a) {
        let s = format!("{v:.1e}");
        return s.replace("e-0", "e-").replace(".0e", "e");
    }
    let decimals = (2 - a.log10().floor() as i32).clamp(0, 4) as usize;
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// An axis label for a tick among ticks about `step` apart: [`label`]'s
/// three digits, or as many more as it takes for neighbouring ticks to
/// read differently. On `x=1000.001:1000.002` three digits make every
/// tick "1000", and on `1e16:1.0000001e16` every tick "1e16".
pub(crate) fn tick_label(v: f64, step: f64) -> String {
    if v == 0.0 || !(step.is_finite() && step > 0.0) {
        return label(v);
    }
    let a = v.abs();
    // Decimal exponents of the value's leading digit and of the step.
    let (lead, fine) = (a.log10().floor() as i32, step.log10().floor() as i32);
    if !(1e-3..1e5).contains(&a) {
        // A double has 17 significant digits at most.
        let decimals = (lead - fine).clamp(1, 16) as usize;
        let s = format!("{v:.decimals$e}");
        let (mantissa, exponent) = s.split_once('e').unwrap_or((&s, "0"));
        let mantissa = mantissa.trim_end_matches('0').trim_end_matches('.');
        return format!("{mantissa}e{exponent}");
    }
    let decimals = (2 - lead).clamp(0, 4).max((-fine).clamp(0, 16 - lead)) as usize;
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// The title (and a smaller note under it) at the top; returns the rest.
pub(super) fn titled<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    note: &str,
) -> Result<DrawingArea<DB, Shift>> {
    let (w, _) = root.dim_in_pixel();
    let centre = TextStyle::from((FONT, 22).into_font()).pos(Pos::new(HPos::Center, VPos::Top));
    drawn(root.draw_text(title, &centre, (w as i32 / 2, 12)))?;
    let mut top = 46;
    if !note.is_empty() {
        let small = TextStyle::from((FONT, 16).into_font())
            .color(&RGBColor(80, 80, 80))
            .pos(Pos::new(HPos::Center, VPos::Top));
        drawn(root.draw_text(note, &small, (w as i32 / 2, 40)))?;
        top = 66;
    }
    Ok(root.margin(top, 0, 0, 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_come_from_the_extension() {
        assert_eq!(
            Format::of_path(FsPath::new("a.svg"), "--plot"),
            Ok(Format::Svg)
        );
        assert_eq!(
            Format::of_path(FsPath::new("d/a.PNG"), "--plot"),
            Ok(Format::Png)
        );
        let e = Format::of_path(FsPath::new("a.xyz"), "--plot").unwrap_err();
        assert_eq!(e.kind, ErrorKind::Usage);
        assert!(
            e.message.contains("'a.xyz' is neither .svg nor .png"),
            "{}",
            e.message
        );
        assert!(Format::of_path(FsPath::new("svg"), "--plot").is_err());
    }

    #[test]
    fn targets_need_an_existing_directory() {
        let e = check_target(FsPath::new("/no/such/dir/a.png"), "-o").unwrap_err();
        assert!(
            e.message.contains("'/no/such/dir' does not exist"),
            "{}",
            e.message
        );
        assert_eq!(check_target(FsPath::new("a.png"), "-o"), Ok(Format::Png));
        let dir = std::env::temp_dir().join("slope-plot-target.svg");
        std::fs::create_dir_all(&dir).unwrap();
        assert!(
            check_target(&dir, "-o")
                .unwrap_err()
                .message
                .contains("is a directory")
        );
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("--size", "640x480"), Ok((640, 480)));
        assert_eq!(parse_size("--size", " 800 X 600"), Ok((800, 600)));
        for bad in ["640", "x480", "10x10", "640x-1", "99999x600", "axb"] {
            assert!(parse_size("--size", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn formulas_are_shortened_for_titles() {
        assert_eq!(short_formula("x^2  +\n y", 40), "x^2 +; y");
        assert_eq!(
            short_formula("let r = x - 1 # shift\nr^2 + y^2", 40),
            "let r = x - 1; r^2 + y^2"
        );
        let long = short_formula(&"x + ".repeat(40), 20);
        assert_eq!(long.chars().count(), 20);
        assert!(long.ends_with('…'));
    }

    #[test]
    fn base64_pads_to_whole_quads() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"M"), "TQ==");
        assert_eq!(base64(b"Ma"), "TWE=");
        assert_eq!(base64(b"Man"), "TWFu");
        assert_eq!(base64(&[0xff, 0xfe, 0x00, 0x01]), "//4AAQ==");
    }

    #[test]
    fn svgs_carry_the_font() {
        let svg = embed_font("<svg width=\"1\">\n<rect/></svg>");
        assert!(svg.starts_with(
            "<svg width=\"1\">\n<defs><style>@font-face { font-family: \"slope-sans\""
        ));
        assert!(svg.ends_with("</style></defs>\n<rect/></svg>"));
        assert_eq!(embed_font("not svg"), "not svg");
    }

    #[test]
    fn labels_have_about_three_digits() {
        assert_eq!(label(0.0), "0");
        assert_eq!(label(1.0), "1");
        assert_eq!(label(12.345), "12.3");
        assert_eq!(label(0.5), "0.5");
        assert_eq!(label(2500.0), "2500");
        assert_eq!(label(-1.25), "-1.25");
        assert_eq!(label(1.5e-7), "1.5e-7");
        assert_eq!(label(3e6), "3e6");
    }

    #[test]
    fn tick_labels_tell_neighbouring_ticks_apart() {
        // Ordinary ranges read as label's three digits.
        assert_eq!(tick_label(-1.5, 0.08), "-1.5");
        assert_eq!(tick_label(250.0, 20.0), "250");
        assert_eq!(tick_label(2e5, 2e4), "2e5");
        assert_eq!(tick_label(1e-4, 2e-5), "1e-4");
        // Narrow ones get the digits that differ.
        assert_eq!(tick_label(1000.0012, 2e-5), "1000.0012");
        assert_eq!(tick_label(1000.0014, 2e-5), "1000.0014");
        assert_eq!(tick_label(1.00000004e16, 4e7), "1.00000004e16");
        assert_eq!(tick_label(1.00000006e16, 4e7), "1.00000006e16");
        assert_eq!(tick_label(1e16, 4e7), "1e16");
        assert_eq!(tick_label(-2.5e-7, 1e-12), "-2.5e-7");
        assert_eq!(tick_label(-2.500001e-7, 1e-13), "-2.500001e-7");
        // Past a double's digits, no more are made up.
        assert_eq!(tick_label(1e16 + 2.0, 0.01), "1.0000000000000002e16");
    }
}
