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
    // A function finite nowhere still draws (an empty map), without failing.
    ok(&[
        "plot",
        "ln(-1 - x^2) + y",
        "--bounds",
        "x=-1:1,y=-1:1",
        "-o",
        path_str(&out),
    ]);
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
    let labels = texts(&svg(&conv));
    for m in methods {
        assert!(
            labels.contains(&m.to_string()),
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
