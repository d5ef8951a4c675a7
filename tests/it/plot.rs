//! Pictures through the binary: `slope plot`, and `slope min` with
//! `--plot`, `--plot-convergence` and `--compare`. The files are read back:
//! SVG parsed as XML, PNG decoded and its pixels inspected.

use std::path::PathBuf;

use serde_json::Value;

use crate::run::{ok, run};
use crate::table::Table;

/// A fresh directory for one test's pictures.
fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("slope-plot-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn path_str(p: &std::path::Path) -> &str {
    p.to_str().unwrap()
}

struct Png {
    width: usize,
    height: usize,
    rgb: Vec<u8>,
}

impl Png {
    fn read(path: &std::path::Path) -> Png {
        let decoder =
            png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
        let mut reader = decoder.read_info().expect("a valid PNG");
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).expect("a valid PNG frame");
        assert_eq!(info.color_type, png::ColorType::Rgb);
        buf.truncate(info.buffer_size());
        Png {
            width: info.width as usize,
            height: info.height as usize,
            rgb: buf,
        }
    }

    fn at(&self, x: usize, y: usize) -> (u8, u8, u8) {
        let i = 3 * (y * self.width + x);
        (self.rgb[i], self.rgb[i + 1], self.rgb[i + 2])
    }

    fn brightness(&self, x: usize, y: usize) -> u32 {
        let (r, g, b) = self.at(x, y);
        r as u32 + g as u32 + b as u32
    }

    /// Whether a pixel is coloured (viridis or a path), not grey or white.
    fn coloured(&self, x: usize, y: usize) -> bool {
        let (r, g, b) = self.at(x, y);
        let (r, g, b) = (r as i32, g as i32, b as i32);
        (r - g).abs() + (g - b).abs() + (r - b).abs() > 60
    }

    /// The coloured span of row `y` (left of the colour bar) and of column
    /// `x`: the contour map's extent.
    fn map_extent(&self) -> (usize, usize, usize, usize) {
        let y = self.height / 2;
        let row: Vec<usize> = (0..self.width - 130)
            .filter(|&x| self.coloured(x, y))
            .collect();
        let (x0, x1) = (row[0], *row.last().unwrap());
        let x = (x0 + x1) / 2;
        let col: Vec<usize> = (0..self.height).filter(|&y| self.coloured(x, y)).collect();
        (x0, x1, col[0], *col.last().unwrap())
    }
}

fn svg(path: &std::path::Path) -> String {
    std::fs::read_to_string(path).expect("the SVG was written")
}

/// Checks that `text` is an SVG document of the given size and returns the
/// (tag, attributes) of every element.
fn svg_elements(text: &str, width: u32, height: u32) -> Vec<(String, Vec<(String, String)>)> {
    let doc = roxmltree::Document::parse(text).expect("the SVG parses as XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    assert_eq!(root.attribute("width"), Some(width.to_string().as_str()));
    assert_eq!(root.attribute("height"), Some(height.to_string().as_str()));
    root.descendants()
        .filter(|n| n.is_element())
        .map(|n| {
            let attrs = n
                .attributes()
                .map(|a| (a.name().to_string(), a.value().to_string()))
                .collect();
            (n.tag_name().name().to_string(), attrs)
        })
        .collect()
}

fn attr<'a>(attrs: &'a [(String, String)], name: &str) -> &'a str {
    attrs
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or("")
}

fn number(attrs: &[(String, String)], name: &str) -> f64 {
    attr(attrs, name).parse().unwrap()
}

/// The points of a polyline.
fn points(attrs: &[(String, String)]) -> Vec<(f64, f64)> {
    attr(attrs, "points")
        .split_whitespace()
        .map(|p| {
            let (x, y) = p.split_once(',').unwrap();
            (x.parse().unwrap(), y.parse().unwrap())
        })
        .collect()
}

fn texts(text: &str) -> Vec<String> {
    let doc = roxmltree::Document::parse(text).unwrap();
    doc.descendants()
        .filter(|n| n.has_tag_name("text"))
        .map(|n| n.text().unwrap_or("").trim().to_string())
        .collect()
}

/// Every text with its position: (text, x, y).
fn placed_texts(text: &str) -> Vec<(String, f64, f64)> {
    let doc = roxmltree::Document::parse(text).unwrap();
    doc.descendants()
        .filter(|n| n.has_tag_name("text"))
        .map(|n| {
            let at = |a: &str| {
                n.attribute(a)
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(f64::NAN)
            };
            (n.text().unwrap_or("").trim().to_string(), at("x"), at("y"))
        })
        .collect()
}

type Element = (String, Vec<(String, String)>);

/// The plot frame: the largest unfilled black rectangle, as (x, y, w, h).
fn frame_of(elements: &[Element]) -> (f64, f64, f64, f64) {
    let frame = elements
        .iter()
        .filter(|(tag, a)| {
            tag == "rect" && attr(a, "fill") == "none" && attr(a, "stroke") == "#000000"
        })
        .max_by(|a, b| number(&a.1, "width").total_cmp(&number(&b.1, "width")))
        .expect("a frame");
    (
        number(&frame.1, "x"),
        number(&frame.1, "y"),
        number(&frame.1, "width"),
        number(&frame.1, "height"),
    )
}

/// The descent paths' polylines (2 pixels wide, their halos 4) as
/// (stroke colour, points).
fn path_lines(elements: &[Element]) -> Vec<(String, Vec<(f64, f64)>)> {
    elements
        .iter()
        .filter(|(tag, a)| tag == "polyline" && ["2", "4"].contains(&attr(a, "stroke-width")))
        .map(|(_, a)| (attr(a, "stroke").to_string(), points(a)))
        .collect()
}

// ---------------------------------------------------------------- slope plot

#[test]
fn a_contour_of_a_bowl_is_darkest_at_the_centre() {
    let dir = scratch("bowl");
    let out = dir.join("bowl.png");
    let r = ok(&[
        "plot",
        "x^2 + y^2",
        "--bounds",
        "x=-2:2,y=-2:2",
        "-o",
        path_str(&out),
        "--size",
        "640x480",
    ]);
    assert_eq!(r.stdout, format!("wrote {} (640x480)\n", out.display()));
    let png = Png::read(&out);
    assert_eq!((png.width, png.height), (640, 480));
    let (x0, x1, y0, y1) = png.map_extent();
    assert!(
        x1 - x0 > 300 && y1 - y0 > 250,
        "map {x0}..{x1} x {y0}..{y1}"
    );
    let centre = png.brightness((x0 + x1) / 2, (y0 + y1) / 2);
    for (x, y) in [
        (x0 + 3, y0 + 3),
        (x1 - 3, y0 + 3),
        (x0 + 3, y1 - 3),
        (x1 - 3, y1 - 3),
    ] {
        assert!(
            centre + 200 < png.brightness(x, y),
            "centre {centre} is not darker than the corner ({x}, {y}): {}",
            png.brightness(x, y)
        );
    }
}

#[test]
fn plot_svg_is_xml_with_a_title_axes_and_a_colour_bar() {
    let dir = scratch("svg");
    let out = dir.join("f.svg");
    ok(&[
        "plot",
        "x^2 + 3*y^2",
        "--bounds",
        "x=-2:2,y=-1:1",
        "-o",
        path_str(&out),
    ]);
    let text = svg(&out);
    let elements = svg_elements(&text, 900, 700);
    let legend = |(tag, a): &&(String, Vec<(String, String)>)| {
        tag == "rect" && attr(a, "stroke") == "#787878"
    };
    assert_eq!(
        elements.iter().filter(legend).count(),
        0,
        "no legend without paths"
    );
    // The text is drawn in the font embedded in the file.
    assert!(text.contains(
        "@font-face { font-family: \"slope-sans\"; src: url(data:font/ttf;base64,AAEAAA"
    ));
    let family = elements
        .iter()
        .find(|(tag, _)| tag == "text")
        .map(|(_, a)| attr(a, "font-family"));
    assert_eq!(family, Some("slope-sans, DejaVu Sans, sans-serif"));
    let fills = elements
        .iter()
        .filter(|(tag, a)| tag == "rect" && attr(a, "fill").starts_with('#'))
        .count();
    assert!(fills > 100, "{fills} filled cells");
    let labels = texts(&text);
    assert!(
        labels.contains(&"f = x^2 + 3*y^2".to_string()),
        "{labels:?}"
    );
    assert!(labels.contains(&"x".to_string()) && labels.contains(&"y".to_string()));
    // The colour bar reaches the maximum, 7 (the axes stop at 2).
    let top = labels
        .iter()
        .filter_map(|l| l.parse::<f64>().ok())
        .fold(f64::NEG_INFINITY, f64::max);
    assert!((6.8..=7.0).contains(&top), "{labels:?}");
}

#[test]
fn plot_draws_a_line_for_one_variable_and_slices_for_more() {
    let dir = scratch("kinds");
    let line = dir.join("line.svg");
    ok(&[
        "plot",
        "sin(x)",
        "--bounds",
        "x=-3:3",
        "-o",
        path_str(&line),
    ]);
    let text = svg(&line);
    let long = svg_elements(&text, 900, 700)
        .into_iter()
        .filter(|(tag, a)| tag == "polyline" && points(a).len() > 100)
        .count();
    assert_eq!(long, 1, "one long polyline: the function");

    let slice = dir.join("slice.png");
    let r = ok(&[
        "plot",
        "(x1-1)^2 + (x2-2)^2 + x3^2",
        "--bounds",
        "x1=-3:3,x2=-3:3,x3=0:4",
        "--axes",
        "x1,x3",
        "-o",
        path_str(&slice),
    ]);
    assert!(r.stdout.starts_with("wrote "));
    assert_eq!(Png::read(&slice).width, 900);
    let svg_slice = dir.join("slice.svg");
    ok(&[
        "plot",
        "(x1-1)^2 + (x2-2)^2 + x3^2",
        "--bounds",
        "x1=-3:3,x2=-3:3,x3=0:4",
        "--axes",
        "x1,x3",
        "--at",
        "x2=2.5",
        "-o",
        path_str(&svg_slice),
    ]);
    let labels = texts(&svg(&svg_slice));
    assert!(
        labels.contains(&"slice at x2 = 2.5".to_string()),
        "{labels:?}"
    );
    assert!(labels.contains(&"x1".to_string()) && labels.contains(&"x3".to_string()));
}

#[test]
fn values_outside_the_domain_are_left_blank() {
    let dir = scratch("domain");
    let out = dir.join("ln.png");
    ok(&[
        "plot",
        "ln(x) + y^2",
        "--bounds",
        "x=-1:1,y=-1:1",
        "-o",
        path_str(&out),
    ]);
    let png = Png::read(&out);
    // The right half (x > 0) is coloured, the left half (x < 0) is white.
    let y = png.height / 2;
    let row: Vec<usize> = (0..png.width - 130)
        .filter(|&x| png.coloured(x, y))
        .collect();
    let (x0, x1) = (row[0], *row.last().unwrap());
    assert!(x1 - x0 > 200);
    let blank = x0 - (x1 - x0) / 2;
    assert_eq!(png.at(blank, y), (255, 255, 255), "x < 0 is blank");
}

/// A range where f is finite nowhere would draw a blank picture: it is
/// refused (status 2, no file), with what goes wrong at its middle.
#[test]
fn a_range_where_f_is_finite_nowhere_is_refused() {
    let dir = scratch("nowhere");
    for (formula, bounds, file, samples, middle) in [
        (
            "ln(x)+ln(y)",
            "x=-2:-1,y=-2:-1",
            "map.svg",
            "44265",
            "x = -1.5, y = -1.5",
        ),
        (
            "ln(x)+ln(y)",
            "x=-2:-1,y=-2:-1",
            "map.png",
            "",
            "x = -1.5, y = -1.5",
        ),
        ("ln(x)", "x=-2:-1", "line.svg", "301", "x = -1.5"),
    ] {
        let out = dir.join(file);
        let r = run(&["plot", formula, "--bounds", bounds, "-o", path_str(&out)]);
        assert_eq!(r.status, 2, "{formula}: {}", r.stderr);
        assert!(!out.exists(), "{file} was written");
        assert!(
            r.stderr.starts_with(&format!(
                "error: f is not finite anywhere in the range drawn (at none of {samples}"
            )),
            "{}",
            r.stderr
        );
        assert!(
            r.stderr.contains(&format!(
                "hint: at the middle, {middle}: ln of a negative number (1:1); \
                 give --bounds where f is defined"
            )),
            "{}",
            r.stderr
        );
    }
}

/// The x axis's tick labels, left to right: the texts on the row of the
/// lowest number labels under the frame.
fn x_ticks(svg_text: &str) -> Vec<(String, f64)> {
    let placed = placed_texts(svg_text);
    let numeric = |t: &str| t.parse::<f64>().is_ok();
    let row = (placed.iter())
        .filter(|(t, _, _)| numeric(t))
        .map(|(_, _, y)| *y)
        .fold(f64::NEG_INFINITY, f64::max);
    let mut ticks: Vec<(String, f64)> = (placed.into_iter())
        .filter(|(t, _, y)| numeric(t) && *y == row)
        .map(|(t, x, _)| (t, x))
        .collect();
    ticks.sort_by(|a, b| a.1.total_cmp(&b.1));
    ticks
}

/// On a narrow range far from zero the ticks get the digits that tell
/// them apart (three digits made every one "1000"), and a range too
/// narrow to hold the picture's points is refused.
#[test]
fn ticks_on_a_narrow_range_read_differently() {
    let dir = scratch("narrow");
    let out = dir.join("narrow.svg");
    ok(&[
        "plot",
        "x^2",
        "--bounds",
        "x=1000.001:1000.002",
        "-o",
        path_str(&out),
    ]);
    let ticks = x_ticks(&svg(&out));
    assert!(ticks.len() >= 3, "{ticks:?}");
    for pair in ticks.windows(2) {
        let (a, b) = (&pair[0].0, &pair[1].0);
        assert!(
            a.parse::<f64>().unwrap() < b.parse::<f64>().unwrap(),
            "{ticks:?}"
        );
        assert!(a.starts_with("1000.00"), "{ticks:?}");
    }
    let r = run(&[
        "plot",
        "x^2",
        "--bounds",
        "x=1e16:1.0000000000000002e16",
        "-o",
        path_str(&out),
    ]);
    assert_eq!(r.status, 2, "{}", r.stderr);
    assert_eq!(
        r.stderr,
        "error: --bounds: x=1e16:1.0000000000000002e16 is too narrow to draw: it holds 2 \
         doubles, and a picture needs 1000 to tell its points and ticks apart\n  = hint: widen \
         it to about 2.2e3 or more\n"
    );
}

/// At a small size fewer ticks are labelled, so that the labels do not
/// run together ("-0.80.60.40.2" at 450x350); the default size keeps ten.
#[test]
fn tick_labels_do_not_run_together_at_small_sizes() {
    let dir = scratch("small");
    for (size, formula, bounds) in [
        ("450x350", "x^2", "x=-1:1"),
        ("450x350", "x^2 + y^2", "x=-1:1,y=-1:1"),
        ("400x300", "x^2", "x=-123.25:-100.5"),
    ] {
        let out = dir.join("small.svg");
        ok(&[
            "plot",
            formula,
            "--bounds",
            bounds,
            "--size",
            size,
            "-o",
            path_str(&out),
        ]);
        let ticks = x_ticks(&svg(&out));
        assert!(ticks.len() >= 2, "{ticks:?}");
        // Centred labels: neighbours are at least the sum of their half
        // widths (9 pixels a character in the 16-pixel font) apart.
        for pair in ticks.windows(2) {
            let ((a, xa), (b, xb)) = (&pair[0], &pair[1]);
            let room = 4.5 * (a.chars().count() + b.chars().count()) as f64;
            assert!(xb - xa >= room, "{size} {formula}: {ticks:?}");
        }
    }
    let out = dir.join("large.svg");
    ok(&["plot", "x^2", "--bounds", "x=-1:1", "-o", path_str(&out)]);
    assert_eq!(x_ticks(&svg(&out)).len(), 11);
}

/// Where f is not finite the line ends: the note under the title says
/// where, so that the end does not read as the range's.
#[test]
fn a_line_says_where_f_is_not_finite() {
    let dir = scratch("overflow");
    let out = dir.join("exp.svg");
    ok(&[
        "plot",
        "exp(x)",
        "--bounds",
        "x=0:1000",
        "-o",
        path_str(&out),
    ]);
    let labels = texts(&svg(&out));
    assert!(
        labels.contains(
            &"f is infinite at 88 of the 301 points from x = 710 to 1000: not drawn".to_string()
        ),
        "{labels:?}"
    );
    ok(&[
        "plot",
        "sqrt(x)",
        "--bounds",
        "x=-1:1",
        "-o",
        path_str(&out),
    ]);
    let labels = texts(&svg(&out));
    assert!(
        labels.contains(
            &"f is undefined (NaN) at 150 of the 301 points from x = -1 to -0.0067: not drawn"
                .to_string()
        ),
        "{labels:?}"
    );
    ok(&["plot", "x^2", "--bounds", "x=-1:1", "-o", path_str(&out)]);
    assert!(!svg(&out).contains("not drawn"));
}

// ---------------------------------------------------------------- min --plot

#[test]
fn the_path_starts_and_ends_at_the_right_pixels() {
    let dir = scratch("pixels");
    let out = dir.join("path.svg");
    let r = ok(&[
        "min",
        "x^2 + y^2",
        "--start",
        "x=1.5,y=-1",
        "--bounds",
        "x=-2:2,y=-2:2",
        "--method",
        "gd",
        "--lr",
        "0.1",
        "--plot",
        path_str(&out),
        "--plot-size",
        "800x600",
    ]);
    assert!(
        r.stdout
            .contains(&format!("plot        {}\n", out.display())),
        "{}",
        r.stdout
    );
    let text = svg(&out);
    let elements = svg_elements(&text, 800, 600);
    // The plot frame: the largest unfilled black rectangle.
    let frame = elements
        .iter()
        .filter(|(tag, a)| {
            tag == "rect" && attr(a, "fill") == "none" && attr(a, "stroke") == "#000000"
        })
        .max_by(|a, b| number(&a.1, "width").total_cmp(&number(&b.1, "width")))
        .expect("a frame");
    let (fx, fy, fw, fh) = (
        number(&frame.1, "x"),
        number(&frame.1, "y"),
        number(&frame.1, "width"),
        number(&frame.1, "height"),
    );
    let pixel = |x: f64, y: f64| (fx + (x + 2.0) / 4.0 * fw, fy + (2.0 - y) / 4.0 * fh);
    // The path: the red polyline with the most points.
    let path = elements
        .iter()
        .filter(|(tag, a)| tag == "polyline" && attr(a, "stroke") == "#E41A1C")
        .map(|(_, a)| points(a))
        .max_by_key(Vec::len)
        .expect("a red path");
    assert!(path.len() > 20, "{} points", path.len());
    let close = |p: (f64, f64), q: (f64, f64)| (p.0 - q.0).abs() <= 2.0 && (p.1 - q.1).abs() <= 2.0;
    let (start, end) = (path[0], *path.last().unwrap());
    assert!(
        close(start, pixel(1.5, -1.0)),
        "start at {start:?}, expected {:?}",
        pixel(1.5, -1.0)
    );
    assert!(
        close(end, pixel(0.0, 0.0)),
        "end at {end:?}, expected {:?}",
        pixel(0.0, 0.0)
    );
    // Start and end are marked, and the title names formula, method and step.
    let circles = elements.iter().filter(|(tag, _)| tag == "circle").count();
    assert!(circles >= 3);
    let labels = texts(&text);
    assert!(
        labels.contains(&"x^2 + y^2 — gd, lr 0.1".to_string()),
        "{labels:?}"
    );
    assert!(labels.contains(&"start".to_string()) && labels.contains(&"end".to_string()));
}

#[test]
fn one_variable_paths_and_png_sizes() {
    let dir = scratch("line");
    let out = dir.join("line.png");
    ok(&[
        "min",
        "3*x^2 + 2*x + 1",
        "--start",
        "x=1.5",
        "--method",
        "gd",
        "--plot",
        path_str(&out),
        "--plot-size",
        "500x400",
    ]);
    let png = Png::read(&out);
    assert_eq!((png.width, png.height), (500, 400));
    let red = (0..png.height)
        .flat_map(|y| (0..png.width).map(move |x| (x, y)))
        .filter(|&(x, y)| {
            let (r, g, b) = png.at(x, y);
            r > 180 && g < 80 && b < 80
        })
        .count();
    assert!(red > 200, "{red} red pixels: the path");
}

#[test]
fn more_variables_draw_a_slice_on_the_chosen_axes() {
    let dir = scratch("slice");
    let out = dir.join("slice.svg");
    ok(&[
        "min",
        "(x1-1.5)^2 + (x2-2.5)^2 + (x3-0.5)^2",
        "--start",
        "x1=0,x2=0,x3=0",
        "--method",
        "gd",
        "--plot",
        path_str(&out),
        "--plot-axes",
        "x1,x3",
    ]);
    let labels = texts(&svg(&out));
    assert!(
        labels.contains(&"slice at x2 = 2.5".to_string()),
        "{labels:?}"
    );
    assert!(labels.contains(&"x1".to_string()) && labels.contains(&"x3".to_string()));
}

#[test]
fn convergence_has_one_line_per_restart() {
    let dir = scratch("restarts");
    let out = dir.join("conv.svg");
    let r = ok(&[
        "min",
        "(x^2 + y - 11)^2 + (x + y^2 - 7)^2",
        "--bounds",
        "x=-5:5,y=-5:5",
        "--seed",
        "3",
        "--restarts",
        "4",
        "--plot-convergence",
        path_str(&out),
    ]);
    assert!(r.stdout.contains("convergence"), "{}", r.stdout);
    let text = svg(&out);
    let elements = svg_elements(&text, 900, 700);
    let mut colours: Vec<&str> = elements
        .iter()
        .filter(|(tag, a)| tag == "polyline" && points(a).len() > 3)
        .map(|(_, a)| attr(a, "stroke"))
        .collect();
    colours.sort();
    colours.dedup();
    assert!(colours.len() >= 4, "{colours:?}");
    let labels = texts(&text);
    for k in 1..=4 {
        assert!(labels.contains(&format!("run {k}")), "{labels:?}");
    }
    assert!(
        labels.iter().any(|l| l.starts_with("|f − f_best|")),
        "{labels:?}"
    );
    assert!(labels.contains(&"‖∇f‖".to_string()));
}

#[test]
fn compare_runs_every_method_from_one_start() {
    let dir = scratch("compare");
    let (map, conv) = (dir.join("map.png"), dir.join("conv.svg"));
    let r = ok(&[
        "min",
        "(1-x)^2 + 100*(y-x^2)^2",
        "--start",
        "x=-1.2,y=1",
        "--bounds",
        "x=-2:2,y=-1:3",
        "--compare",
        "gd,momentum,adam,lbfgs",
        "--lr",
        "0.001",
        "--max-iter",
        "3000",
        "--plot",
        path_str(&map),
        "--plot-convergence",
        path_str(&conv),
        "--json",
    ]);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["start"], serde_json::json!([-1.2, 1.0]));
    let runs = v["runs"].as_array().unwrap();
    let methods: Vec<&str> = runs.iter().map(|r| r["method"].as_str().unwrap()).collect();
    assert_eq!(methods, ["gd", "momentum", "adam", "lbfgs"]);
    // --lr reaches the first-order methods; lbfgs keeps its line search.
    assert_eq!(runs[0]["lr"], 0.001);
    assert_eq!(runs[3]["lr"], 1.0);
    assert_eq!(runs[3]["converged"], true);
    assert!(runs[3]["f"].as_f64().unwrap() < 1e-10);
    assert_eq!(Png::read(&map).width, 900);
    // The legend names each method with its step (see
    // compared_methods_carry_their_step_in_the_legend).
    let labels = texts(&svg(&conv));
    for m in methods {
        assert!(
            labels.iter().any(|l| l.starts_with(&format!("{m} ("))),
            "legend lacks {m}: {labels:?}"
        );
    }

    let r = ok(&[
        "min",
        "x^2 + 3*y^2",
        "--start",
        "x=1,y=1",
        "--compare",
        "gd,lbfgs",
    ]);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines[0], "start       x = 1, y = 1");
    assert!(lines[1].starts_with("method      f"), "{}", r.stdout);
    assert!(
        lines[2].starts_with("gd ") && lines[3].starts_with("lbfgs "),
        "{}",
        r.stdout
    );
    assert_eq!(lines.len(), 4);
}

#[test]
fn the_frame_holds_every_path_without_bounds() {
    let dir = scratch("frame");
    // gd and momentum diverge at lr 0.1 (to 1e169 in five steps): the frame
    // follows the paths as far as it sensibly can, cuts the rest at its
    // edge, and the map still covers it.
    let out = dir.join("frame.svg");
    let r = run(&[
        "min",
        "(1-x)^2 + 100*(y-x^2)^2",
        "--start",
        "x=-1.2,y=1",
        "--compare",
        "gd,momentum,adam,lbfgs",
        "--plot",
        path_str(&out),
    ]);
    assert_eq!(r.status, 1, "two runs diverged: {}", r.stderr);
    // x = 0 has no finite lower end: the frame comes from the path.
    let open = dir.join("open.svg");
    ok(&[
        "min",
        "x^2 + y^2",
        "--start",
        "x=1,y=3",
        "--bounds",
        "x=0:inf",
        "--method",
        "gd",
        "--plot",
        path_str(&open),
    ]);
    for file in [&out, &open] {
        let text = svg(file);
        let elements = svg_elements(&text, 900, 700);
        let (fx, fy, fw, fh) = frame_of(&elements);
        let inside = |(x, y): (f64, f64)| {
            (fx - 1.0..=fx + fw + 1.0).contains(&x) && (fy - 1.0..=fy + fh + 1.0).contains(&y)
        };
        let lines = path_lines(&elements);
        assert!(lines.len() >= 2, "{file:?}: {} path lines", lines.len());
        for (colour, line) in &lines {
            for &p in line {
                assert!(
                    inside(p),
                    "{file:?}: a {colour} path point {p:?} leaves the frame"
                );
            }
        }
        // Every marker (start rings, end discs, dots) is inside too.
        for (_, a) in elements
            .iter()
            .filter(|(tag, a)| tag == "circle" && number(a, "r") >= 4.0)
        {
            let c = (number(a, "cx"), number(a, "cy"));
            let in_legend = c.0 < fx + 0.45 * fw && c.1 < fy + 0.3 * fh;
            assert!(inside(c) || in_legend, "{file:?}: a marker at {c:?}");
        }
        // The start is marked (a white ring), and the map is drawn.
        assert!(elements.iter().any(|(tag, a)| tag == "circle"
            && number(a, "r") == 9.0
            && attr(a, "stroke") == "#FFFFFF"
            && attr(a, "fill") == "none"));
        let cells = elements
            .iter()
            .filter(|(tag, a)| {
                tag == "rect" && attr(a, "fill").starts_with('#') && attr(a, "stroke") == "none"
            })
            .count();
        assert!(cells > 100, "{file:?}: {cells} map cells");
        assert!(!texts(&text).contains(&"f not finite".to_string()));
    }
}

/// `slope min` comparing four methods on Rosenbrock's function, with both
/// pictures as SVG: (map, convergence chart).
fn compared(test: &str) -> (String, String) {
    let dir = scratch(test);
    let (map, conv) = (dir.join("map.svg"), dir.join("conv.svg"));
    ok(&[
        "min",
        "(1-x)^2 + 100*(y-x^2)^2",
        "--start",
        "x=-1.2,y=1",
        "--bounds",
        "x=-2:2,y=-1:3",
        "--compare",
        "gd,momentum,adam,lbfgs",
        "--lr",
        "0.001",
        "--max-iter",
        "5000",
        "--plot",
        path_str(&map),
        "--plot-convergence",
        path_str(&conv),
    ]);
    (svg(&map), svg(&conv))
}

#[test]
fn convergence_labels_cover_every_value_drawn() {
    let (_, conv) = compared("ticks");
    let elements = svg_elements(&conv, 900, 700);
    let curves: Vec<Vec<(f64, f64)>> = elements
        .iter()
        .filter(|(tag, a)| {
            tag == "polyline" && attr(a, "stroke-width") == "2" && points(a).len() > 3
        })
        .map(|(_, a)| points(a))
        .collect();
    let ticks: Vec<(f64, f64, f64)> = placed_texts(&conv)
        .into_iter()
        .filter_map(|(t, x, y)| Some((t.parse::<f64>().ok()?, x, y)))
        .collect();
    // Each panel: the left half, and the right.
    // lbfgs ends with a gap near 1e-19 and a gradient near 1e-9.
    let panels = [
        ("|f − f_best|", (0.0, 450.0), 1e-16),
        ("‖∇f‖", (450.0, 900.0), 1e-9),
    ];
    for (panel, (x0, x1), below) in panels {
        let in_panel = |x: f64| (x0..x1).contains(&x);
        let drawn: Vec<(f64, f64)> = curves
            .iter()
            .flatten()
            .copied()
            .filter(|p| in_panel(p.0))
            .collect();
        assert!(!drawn.is_empty(), "{panel}: no curves");
        let lowest_drawn = drawn.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
        let highest_drawn = drawn.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
        // The value axis's labels: the numbers in the panel that share
        // one x, right-aligned beside the axis (the iteration labels sit
        // on one y instead).
        let in_column = |x: f64| ticks.iter().filter(|t| t.1 == x).count();
        let column = ticks
            .iter()
            .filter(|t| in_panel(t.1))
            .map(|t| t.1)
            .max_by_key(|&x| in_column(x))
            .expect("value labels");
        let axis: Vec<&(f64, f64, f64)> = ticks.iter().filter(|t| t.1 == column).collect();
        assert!(axis.len() >= 3, "{panel}: {axis:?}");
        let bottom = axis
            .iter()
            .max_by(|a, b| a.2.total_cmp(&b.2))
            .expect("value labels");
        let top = axis
            .iter()
            .min_by(|a, b| a.2.total_cmp(&b.2))
            .expect("value labels");
        assert!(
            bottom.2 >= lowest_drawn - 0.5,
            "{panel}: the lowest label {} (y {}) is above the lowest point drawn (y {lowest_drawn})",
            bottom.0,
            bottom.2
        );
        assert!(
            top.2 <= highest_drawn + 0.5,
            "{panel}: the highest label {} is below the curves",
            top.0
        );
        assert!(
            bottom.0 <= below,
            "{panel}: lbfgs goes below {below}, the axis stops at {}",
            bottom.0
        );
    }
}

#[test]
fn iterations_go_on_a_log_axis_when_runs_differ_a_lot() {
    // gd's 5000 iterations beside lbfgs's 36.
    let (_, conv) = compared("logx");
    let labels = texts(&conv);
    assert!(
        labels.contains(&"iteration + 1 (log scale)".to_string()),
        "{labels:?}"
    );
    assert!(!labels.contains(&"iteration".to_string()));
    for decade in ["1", "10", "100", "1000"] {
        assert!(
            labels.contains(&decade.to_string()),
            "no tick {decade}: {labels:?}"
        );
    }
    // lbfgs (blue) spans more than a third of its panel, not a sliver.
    let blue = svg_elements(&conv, 900, 700)
        .into_iter()
        .filter(|(tag, a)| {
            tag == "polyline" && attr(a, "stroke") == "#1EA0FF" && attr(a, "stroke-width") == "2"
        })
        .map(|(_, a)| points(&a))
        .find(|p| p.len() > 3)
        .expect("lbfgs's curve");
    let width = blue.last().unwrap().0 - blue[0].0;
    assert!(width > 110.0, "lbfgs spans {width} pixels");

    // Runs of similar lengths keep a linear axis.
    let dir = scratch("linx");
    let out = dir.join("conv.svg");
    ok(&[
        "min",
        "x^2 + 3*y^2",
        "--start",
        "x=1,y=1",
        "--compare",
        "gd,momentum",
        "--plot-convergence",
        path_str(&out),
    ]);
    let labels = texts(&svg(&out));
    assert!(labels.contains(&"iteration".to_string()), "{labels:?}");
}

#[test]
fn compared_methods_carry_their_step_in_the_legend() {
    let (map, conv) = compared("legend");
    for (what, text) in [("map", &map), ("convergence", &conv)] {
        let labels = texts(text);
        for name in [
            "gd (lr 0.001)",
            "momentum (lr 0.001)",
            "adam (lr 0.001)",
            "lbfgs (line search)",
        ] {
            assert!(
                labels.contains(&name.to_string()),
                "{what}: no '{name}' in {labels:?}"
            );
        }
        let title = "(1-x)^2 + 100*(y-x^2)^2 — gd, momentum, adam, lbfgs";
        assert!(labels.contains(&title.to_string()), "{what}: {labels:?}");
    }
}

#[test]
fn every_end_is_marked_in_its_paths_colour() {
    let (map, _) = compared("ends");
    let elements = svg_elements(&map, 900, 700);
    let discs: Vec<(String, (f64, f64))> = elements
        .iter()
        .filter(|(tag, a)| tag == "circle" && number(a, "r") == 9.0 && attr(a, "stroke") == "none")
        .map(|(_, a)| {
            (
                attr(a, "fill").to_string(),
                (number(a, "cx"), number(a, "cy")),
            )
        })
        .collect();
    let mut colours: Vec<String> = Vec::new();
    for (colour, line) in path_lines(&elements) {
        if colour == "#FFFFFF" || colours.contains(&colour) {
            continue; // a halo, or a path already seen
        }
        // The path's last polyline ends at its end marker.
        let end = *path_lines(&elements)
            .iter()
            .rfind(|(c, _)| *c == colour)
            .unwrap()
            .1
            .last()
            .unwrap();
        assert!(line.len() > 1);
        assert!(
            discs.iter().any(|(fill, at)| *fill == colour
                && (at.0 - end.0).abs() <= 2.0
                && (at.1 - end.1).abs() <= 2.0),
            "no {colour} disc at the end {end:?}: {discs:?}"
        );
        colours.push(colour);
    }
    assert_eq!(colours.len(), 4, "{colours:?}");
    // The legend's glyphs end in a disc of each path's colour; no red
    // "end" stands for them all.
    let glyphs: Vec<&str> = elements
        .iter()
        .filter(|(tag, a)| tag == "circle" && number(a, "r") == 5.0)
        .map(|(_, a)| attr(a, "fill"))
        .collect();
    for colour in &colours {
        assert!(glyphs.contains(&colour.as_str()), "{colour}: {glyphs:?}");
    }
    assert!(!texts(&map).contains(&"end".to_string()));
}

/// Pixels of `png` that blend `line` into white by between 15% and 85%,
/// and those that are `line` itself.
fn blended_and_solid(png: &Png, line: (u8, u8, u8)) -> (usize, usize) {
    let (mut blended, mut solid) = (0, 0);
    for y in 0..png.height {
        for x in 0..png.width {
            let (r, g, b) = png.at(x, y);
            let alpha = (255.0 - r as f64) / (255.0 - line.0 as f64);
            let expect = |c: u8| 255.0 - alpha * (255.0 - c as f64);
            let fits = (expect(line.1) - g as f64).abs() <= 6.0
                && (expect(line.2) - b as f64).abs() <= 6.0;
            if fits && alpha > 0.95 {
                solid += 1;
            } else if fits && (0.15..0.85).contains(&alpha) {
                blended += 1;
            }
        }
    }
    (blended, solid)
}

#[test]
fn one_variable_curves_are_smooth_in_png() {
    let dir = scratch("smooth");
    let out = dir.join("x2.png");
    ok(&["plot", "x^2", "--bounds", "x=-2:2", "-o", path_str(&out)]);
    // The function's line, (31, 119, 180): an aliased line has no pixels
    // part way between it and the white behind.
    let (blended, solid) = blended_and_solid(&Png::read(&out), (31, 119, 180));
    assert!(solid > 500, "{solid} pixels of the line");
    assert!(
        blended * 3 > solid,
        "{blended} soft pixels beside {solid} solid ones"
    );
    let min = dir.join("min.png");
    ok(&[
        "min",
        "x^4 - x",
        "--start",
        "x=-1",
        "--method",
        "gd",
        "--lr",
        "0.05",
        "--plot",
        path_str(&min),
    ]);
    let (blended, solid) = blended_and_solid(&Png::read(&min), (31, 119, 180));
    assert!(
        blended * 3 > solid,
        "{blended} soft pixels beside {solid} solid ones"
    );
}

// ---------------------------------------------------------------- bad requests

#[test]
fn bad_requests_are_refused_before_the_run() {
    let dir = scratch("bad");
    let good = dir.join("ok.svg");
    let missing = dir.join("no/such/dir/out.png");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["--plot", "out.xyz"],
            "--plot: 'out.xyz' is neither .svg nor .png",
        ),
        (
            vec!["--plot-convergence", "c.pdf"],
            "--plot-convergence: 'c.pdf' is neither .svg nor .png",
        ),
        (vec!["--plot", path_str(&missing)], "does not exist"),
        (vec!["--plot", path_str(&dir)], "is a directory"),
        (
            vec!["--plot", path_str(&good), "--plot-axes", "x,q"],
            "--plot-axes: the formula has no variable 'q'",
        ),
        (
            vec!["--plot", path_str(&good), "--plot-axes", "x,x"],
            "names one variable twice",
        ),
        (
            vec!["--plot-axes", "x,y"],
            "--plot-axes chooses the axes of --plot",
        ),
        (
            vec![
                "--plot",
                path_str(&good),
                "--plot-convergence",
                path_str(&good),
            ],
            "--plot and --plot-convergence both name",
        ),
        (
            vec!["--plot", path_str(&good), "--plot-size", "12x12"],
            "--plot-size: '12x12' is not WIDTHxHEIGHT",
        ),
    ];
    let t = Table::new();
    for (extra, message) in cases {
        t.row(format!("{extra:?}"), || {
            let mut args = vec![
                "min",
                "x^2 + y^2",
                "--start",
                "x=1,y=1",
                "--max-iter",
                "100000000",
                "--gtol",
                "0",
                "--method",
                "gd",
                "--lr",
                "1e-9",
            ];
            args.extend(extra);
            let r = run(&args);
            assert_eq!(r.status, 2, "{args:?}:\n{}", r.stderr);
            assert!(r.stderr.contains(message), "{args:?}: {}", r.stderr);
            assert_eq!(r.stdout, "", "{args:?}: nothing runs");
        });
    }
    assert!(!good.exists());
    let r = run(&["min", "x^2", "--start", "x=1", "--compare", "gd,sgd"]);
    assert_eq!(r.status, 2);
    assert!(r.stderr.contains("sgd"), "{}", r.stderr);
    let r = run(&["plot", "x^2", "--bounds", "x=-1:1", "-o", "a.jpg"]);
    assert_eq!(r.status, 2);
    assert!(
        r.stderr.contains("-o: 'a.jpg' is neither .svg nor .png"),
        "{}",
        r.stderr
    );
    let r = run(&[
        "plot",
        "x^2 + y",
        "--bounds",
        "x=-1:1",
        "-o",
        path_str(&good),
    ]);
    assert_eq!(r.status, 2);
    assert!(
        r.stderr.contains("--bounds gives no range for 'y'"),
        "{}",
        r.stderr
    );
    let r = run(&["plot", "2 + 3", "--bounds", "", "-o", path_str(&good)]);
    assert_eq!(r.status, 2);
    assert!(r.stderr.contains("nothing to draw"), "{}", r.stderr);
}

/// An indexed formula draws on two elements, and `--at` holds another:
/// the slice it names is the one drawn (its values, on the colour bar,
/// move with it).
#[test]
fn elements_of_an_array_are_axes_and_held_values() {
    let dir = scratch("elements");
    let rosen =
        "param n = 1000\nvar x[1..n]\nsum(i in 1..n-1, 100*(x[i+1] - x[i]^2)^2 + (1 - x[i])^2)";
    let labels = |at: &str| {
        let out = dir.join(format!("slice{at}.svg"));
        let at = format!("x[3]={at}");
        ok(&[
            "plot",
            rosen,
            "--set",
            "n=4",
            "--axes",
            "x[1],x[2]",
            "--bounds",
            "x=-2:2",
            "--at",
            &at,
            "-o",
            path_str(&out),
        ]);
        texts(&svg(&out))
    };
    let near = labels("0.5");
    assert!(
        near.contains(&"slice at x[3] = 0.5, x[4] = 0".to_string()),
        "{near:?}"
    );
    assert!(near.contains(&"x[1]".to_string()) && near.contains(&"x[2]".to_string()));
    let far = labels("-1.5");
    assert!(
        far.contains(&"slice at x[3] = -1.5, x[4] = 0".to_string()),
        "{far:?}"
    );
    let ticks = |l: &[String]| -> Vec<String> {
        l.iter()
            .filter(|t| !t.starts_with("slice"))
            .cloned()
            .collect()
    };
    assert_ne!(ticks(&near), ticks(&far));
}

/// The usage line after a mistake shows `--output` as the option it is
/// (it defaults to plot.svg): clap listed every flag given as required,
/// `Usage: slope plot --bounds <BOX> --output <FILE> <FORMULA>`.
#[test]
fn the_usage_line_does_not_make_output_required() {
    let r = crate::run::command("plot", &["x^2", "-o", "never.svg"]);
    assert_eq!(r.status, 2, "{}", r.stderr);
    assert!(r.stderr.contains("--bounds <BOX>"), "{}", r.stderr);
    assert!(
        r.stderr
            .contains("Usage: slope plot [OPTIONS] --bounds <BOX> [FORMULA]"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("--output <FILE>"), "{}", r.stderr);
}
