//! The handout as a PDF, made in-process with `krilla` (DejaVu Sans embedded as subsets, so
//! Latin, Greek and Cyrillic print everywhere). Two steps: [`layout`] wraps the text into
//! lines and pages (measured with `ttf-parser`), then [`render`] draws the pages; the footer's
//! "page n of N" needs the page count, which only the first step knows.

use super::Paper;
use super::content::Handout;
use super::qr::{Matrix, QUIET_ZONE};
use krilla::Document;
use krilla::action::{Action, LinkAction};
use krilla::annotation::{Annotation, LinkAnnotation, Target};
use krilla::color::rgb;
use krilla::geom::{PathBuilder, Point, Rect};
use krilla::metadata::Metadata;
use krilla::num::NormalizedF32;
use krilla::page::PageSettings;
use krilla::paint::Fill;
use krilla::text::{Font, TextDirection};
use std::sync::LazyLock;

static REGULAR: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
static BOLD: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-Bold.ttf");

/// The fonts' advance widths, parsed once.
struct Metrics {
    regular: ttf_parser::Face<'static>,
    bold: ttf_parser::Face<'static>,
}

static METRICS: LazyLock<Option<Metrics>> = LazyLock::new(|| {
    Some(Metrics {
        regular: ttf_parser::Face::parse(REGULAR, 0).ok()?,
        bold: ttf_parser::Face::parse(BOLD, 0).ok()?,
    })
});

/// The width of `text` set in `size` points.
fn width(text: &str, size: f32, bold: bool) -> f32 {
    let Some(m) = METRICS.as_ref() else {
        // Unreachable with the fonts we ship; an average glyph keeps the layout sane anyway.
        return text.chars().count() as f32 * size * 0.55;
    };
    let face = if bold { &m.bold } else { &m.regular };
    let units: u32 = text
        .chars()
        .map(|c| {
            let glyph = face.glyph_index(c).unwrap_or(ttf_parser::GlyphId(0));
            u32::from(face.glyph_hor_advance(glyph).unwrap_or(0))
        })
        .sum();
    units as f32 * size / f32::from(face.units_per_em())
}

/// Breaks `text` into lines no wider than `max`: at spaces, and inside a word only when the
/// word alone is wider than a line (a long URL).
pub fn wrap(text: &str, size: f32, bold: bool, max: f32) -> Vec<String> {
    let mut lines = Vec::new();
    for paragraph in text.split('\n') {
        let mut line = String::new();
        for word in paragraph.split_whitespace() {
            let candidate = if line.is_empty() {
                word.to_string()
            } else {
                format!("{line} {word}")
            };
            if width(&candidate, size, bold) <= max {
                line = candidate;
                continue;
            }
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            if width(word, size, bold) <= max {
                line = word.to_string();
                continue;
            }
            for c in word.chars() {
                line.push(c);
                if width(&line, size, bold) > max {
                    line.pop();
                    lines.push(std::mem::take(&mut line));
                    line.push(c);
                }
            }
        }
        if !line.is_empty() || lines.is_empty() {
            lines.push(line);
        }
    }
    lines
}

type Colour = (u8, u8, u8);
const INK: Colour = (17, 17, 17);
const ACCENT: Colour = (43, 108, 176);
const CAUTION: Colour = (155, 44, 44);
const GREY: Colour = (110, 110, 110);
const TINT: Colour = (235, 244, 255);

/// One thing drawn on a page; `y` grows downwards from the page's top edge.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// A line of text; `y` is its baseline.
    Text {
        x: f32,
        y: f32,
        size: f32,
        bold: bool,
        colour: Colour,
        text: String,
    },
    Rect {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
        colour: Colour,
    },
    Qr {
        x: f32,
        y: f32,
        size: f32,
        matrix: Matrix,
    },
    Link {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
        url: String,
    },
}

const MARGIN: f32 = 56.0;
const FOOTER: f32 = 36.0;
const BODY: f32 = 10.5;
const LEADING: f32 = 1.4;
const QR_SIZE: f32 = 66.0;

/// Pages of drawing operations.
pub struct Layout {
    pub pages: Vec<Vec<Op>>,
    page_w: f32,
    page_h: f32,
    y: f32,
}

impl Layout {
    fn new(paper: Paper) -> Self {
        let (page_w, page_h) = paper.points();
        Layout {
            pages: vec![Vec::new()],
            page_w,
            page_h,
            y: MARGIN,
        }
    }

    fn text_width(&self) -> f32 {
        self.page_w - 2.0 * MARGIN
    }

    fn bottom(&self) -> f32 {
        self.page_h - MARGIN - FOOTER / 2.0
    }

    fn push(&mut self, op: Op) {
        if let Some(page) = self.pages.last_mut() {
            page.push(op);
        }
    }

    /// Starts a new page unless `height` more points fit on this one.
    fn keep(&mut self, height: f32) {
        if self.y + height > self.bottom() && self.y > MARGIN {
            self.pages.push(Vec::new());
            self.y = MARGIN;
        }
    }

    fn gap(&mut self, points: f32) {
        self.y += points;
    }

    /// Wrapped text at `indent` from the margin; `lead`, when given, hangs before the first line
    /// (a step's number).
    fn paragraph(&mut self, text: &str, size: f32, bold: bool, colour: Colour, indent: f32, lead: Option<&str>) {
        let line_h = size * LEADING;
        let x = MARGIN + indent;
        for (i, line) in wrap(text, size, bold, self.text_width() - indent)
            .into_iter()
            .enumerate()
        {
            self.keep(line_h);
            let baseline = self.y + size;
            if let (0, Some(lead)) = (i, lead) {
                self.push(Op::Text {
                    x: MARGIN + indent - width(lead, size, bold) - 4.0,
                    y: baseline,
                    size,
                    bold,
                    colour,
                    text: lead.to_string(),
                });
            }
            self.push(Op::Text {
                x,
                y: baseline,
                size,
                bold,
                colour,
                text: line,
            });
            self.y += line_h;
        }
    }

    /// A label and its value on one line (the value wraps under itself).
    fn field(&mut self, label: &str, value: Option<&str>) {
        let label_w = 86.0;
        let line_h = BODY * LEADING;
        self.keep(line_h);
        self.push(Op::Text {
            x: MARGIN,
            y: self.y + BODY,
            size: BODY,
            bold: true,
            colour: INK,
            text: label.to_string(),
        });
        match value {
            Some(v) => self.paragraph(v, BODY, false, INK, label_w, None),
            None => {
                // A line to write on.
                self.push(Op::Rect {
                    x: MARGIN + label_w,
                    y: self.y + BODY + 2.0,
                    w: 200.0,
                    h: 0.6,
                    colour: GREY,
                });
                self.y += line_h;
            }
        }
    }
}

/// Lays the handout out on pages of `paper`.
pub fn layout(h: &Handout, paper: Paper) -> Layout {
    let mut l = Layout::new(paper);
    l.paragraph(&h.clinic, 11.0, true, ACCENT, 0.0, None);
    l.gap(2.0);
    l.paragraph(&h.title, 20.0, true, INK, 0.0, None);
    l.gap(4.0);
    l.field("Client", h.client.as_deref());
    l.field("Practitioner", h.practitioner.as_deref());
    l.field("When", h.schedule.as_deref());
    if let Some(intro) = &h.intro {
        l.gap(6.0);
        l.paragraph(intro, BODY, false, INK, 0.0, None);
    }
    l.gap(6.0);
    let rule_w = l.text_width();
    l.push(Op::Rect {
        x: MARGIN,
        y: l.y,
        w: rule_w,
        h: 1.5,
        colour: ACCENT,
    });
    l.gap(8.0);
    for (n, x) in h.exercises.iter().enumerate() {
        // A heading never ends a page: keep it with its first lines.
        l.keep(14.0 * LEADING + 3.0 * BODY * LEADING);
        l.gap(6.0);
        l.paragraph(&format!("{}. {}", n + 1, x.name), 14.0, true, INK, 0.0, None);
        if let Some(s) = &x.summary {
            l.paragraph(s, BODY, false, GREY, 0.0, None);
        }
        l.gap(2.0);
        for (i, step) in x.steps.iter().enumerate() {
            l.paragraph(step, BODY, false, INK, 18.0, Some(&format!("{}.", i + 1)));
        }
        l.gap(3.0);
        let lines = wrap(&x.dosage, BODY, true, l.text_width() - 12.0);
        let box_h = lines.len() as f32 * BODY * LEADING + 6.0;
        l.keep(box_h);
        let box_w = l.text_width();
        l.push(Op::Rect {
            x: MARGIN,
            y: l.y,
            w: box_w,
            h: box_h,
            colour: TINT,
        });
        l.gap(3.0);
        for line in lines {
            l.push(Op::Text {
                x: MARGIN + 6.0,
                y: l.y + BODY,
                size: BODY,
                bold: true,
                colour: INK,
                text: line,
            });
            l.gap(BODY * LEADING);
        }
        l.gap(5.0);
        for note in &x.notes {
            l.paragraph(&format!("Note: {note}"), BODY, false, INK, 0.0, None);
        }
        for c in &x.cautions {
            l.paragraph(&format!("Caution: {c}"), BODY, false, CAUTION, 0.0, None);
        }
        for m in &x.media {
            let Some(matrix) = Matrix::encode(&m.url) else {
                l.paragraph(&format!("{}: {}", m.label, m.url), BODY, false, INK, 0.0, None);
                continue;
            };
            l.keep(QR_SIZE + 4.0);
            l.gap(2.0);
            let top = l.y;
            l.push(Op::Qr {
                x: MARGIN,
                y: top,
                size: QR_SIZE,
                matrix,
            });
            l.push(Op::Link {
                x: MARGIN,
                y: top,
                w: QR_SIZE,
                h: QR_SIZE,
                url: m.url.clone(),
            });
            let indent = QR_SIZE + 10.0;
            l.gap(8.0);
            l.paragraph(&m.label, BODY, true, INK, indent, None);
            let url_top = l.y;
            l.paragraph(&m.url, 9.0, false, ACCENT, indent, None);
            let (w, h) = (l.text_width() - indent, l.y - url_top);
            l.push(Op::Link {
                x: MARGIN + indent,
                y: url_top,
                w,
                h,
                url: m.url.clone(),
            });
            l.y = l.y.max(top + QR_SIZE + 4.0);
        }
        l.gap(6.0);
    }
    footers(&mut l, h);
    l
}

/// "Clinic · Title" on the left and "Page n of N" on the right of every page.
fn footers(l: &mut Layout, h: &Handout) {
    let total = l.pages.len();
    let y = l.page_h - MARGIN / 2.0 - FOOTER / 4.0;
    let left = format!("{} · {}", h.clinic, h.title);
    let left = wrap(&left, 8.0, false, l.text_width() * 0.7).swap_remove(0);
    for (i, page) in l.pages.iter_mut().enumerate() {
        let right = format!("Page {} of {total}", i + 1);
        page.push(Op::Text {
            x: MARGIN,
            y,
            size: 8.0,
            bold: false,
            colour: GREY,
            text: left.clone(),
        });
        page.push(Op::Text {
            x: l.page_w - MARGIN - width(&right, 8.0, false),
            y,
            size: 8.0,
            bold: false,
            colour: GREY,
            text: right,
        });
    }
}

fn fill(c: Colour) -> Option<Fill> {
    Some(Fill {
        paint: rgb::Color::new(c.0, c.1, c.2).into(),
        opacity: NormalizedF32::ONE,
        rule: Default::default(),
    })
}

/// The handout as PDF bytes.
pub fn render(h: &Handout, paper: Paper) -> Result<Vec<u8>, String> {
    let regular = Font::new(REGULAR.into(), 0).ok_or("the regular font does not load")?;
    let bold = Font::new(BOLD.into(), 0).ok_or("the bold font does not load")?;
    let l = layout(h, paper);
    let mut doc = Document::new();
    doc.set_metadata(Metadata::new().title(h.title.clone()).creator("Rehabit".to_string()));
    for ops in &l.pages {
        let settings = PageSettings::from_wh(l.page_w, l.page_h).ok_or("bad page size")?;
        let mut page = doc.start_page_with(settings);
        let mut links = Vec::new();
        let mut surface = page.surface();
        for op in ops {
            match op {
                Op::Text {
                    x,
                    y,
                    size,
                    bold: b,
                    colour,
                    text,
                } => {
                    surface.set_fill(fill(*colour));
                    let font = if *b { bold.clone() } else { regular.clone() };
                    surface.draw_text(Point::from_xy(*x, *y), font, *size, text, false, TextDirection::Auto);
                }
                Op::Rect { x, y, w, h, colour } => {
                    let mut p = PathBuilder::new();
                    if let Some(r) = Rect::from_xywh(*x, *y, *w, *h) {
                        p.push_rect(r);
                    }
                    if let Some(path) = p.finish() {
                        surface.set_fill(fill(*colour));
                        surface.draw_path(&path);
                    }
                }
                Op::Qr { x, y, size, matrix } => {
                    let module = size / (matrix.width + 2 * QUIET_ZONE) as f32;
                    let (ox, oy) = (x + module * QUIET_ZONE as f32, y + module * QUIET_ZONE as f32);
                    let mut p = PathBuilder::new();
                    for (mx, my, len) in matrix.runs() {
                        let r = Rect::from_xywh(
                            ox + mx as f32 * module,
                            oy + my as f32 * module,
                            len as f32 * module,
                            module,
                        );
                        if let Some(r) = r {
                            p.push_rect(r);
                        }
                    }
                    if let Some(path) = p.finish() {
                        surface.set_fill(fill((0, 0, 0)));
                        surface.draw_path(&path);
                    }
                }
                Op::Link { x, y, w, h, url } => {
                    if let Some(r) = Rect::from_xywh(*x, *y, *w, *h) {
                        links.push((r, url.clone()));
                    }
                }
            }
        }
        surface.finish();
        for (rect, url) in links {
            let target = Target::Action(Action::Link(LinkAction::new(url.clone())));
            page.add_annotation(Annotation::new_link(LinkAnnotation::new(rect, target), Some(url)));
        }
        page.finish();
    }
    doc.finish().map_err(|e| format!("the PDF could not be written: {e:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handouts::content::ExerciseBlock;

    fn handout(exercises: usize) -> Handout {
        Handout {
            title: "Hip mobility".into(),
            clinic: "Clinic".into(),
            client: Some("Ελένη Παπαδοπούλου".into()),
            practitioner: Some("Анна Иванова".into()),
            schedule: Some("Mon, Wed, Fri, once a day, from 3 Dec".into()),
            intro: None,
            exercises: (0..exercises)
                .map(|i| ExerciseBlock {
                    name: format!("Exercise {i}"),
                    summary: None,
                    steps: vec!["Lie on your back with your hips as close to the wall as you can. ".repeat(3); 3],
                    dosage: "Left: 1 × 60 s hold · Right: 1 × 30 s hold".into(),
                    notes: vec![],
                    cautions: vec!["Stop if it hurts.".into()],
                    media: vec![],
                })
                .collect(),
        }
    }

    #[test]
    fn lines_wrap_within_the_width() {
        let text = "Lie on your back with your hips as close to the wall as you can. ".repeat(4);
        let lines = wrap(&text, BODY, false, 300.0);
        assert!(lines.len() > 2);
        assert!(lines.iter().all(|l| width(l, BODY, false) <= 300.0));
        let url = format!("https://media.example/{}", "a".repeat(300));
        let lines = wrap(&url, 9.0, false, 200.0);
        assert!(lines.len() > 3 && lines.concat() == url);
    }

    #[test]
    fn long_handouts_break_into_pages_that_stay_inside_the_margins() {
        for paper in [Paper::A4, Paper::Letter] {
            let l = layout(&handout(12), paper);
            assert!(l.pages.len() >= 3, "{} pages", l.pages.len());
            for page in &l.pages {
                for op in page {
                    if let Op::Text { y, x, .. } = op {
                        assert!(*y <= l.page_h - MARGIN / 2.0 && *y >= MARGIN && *x >= MARGIN);
                    }
                }
            }
        }
    }

    #[test]
    fn a_pdf_comes_out() {
        let bytes = render(&handout(2), Paper::A4).expect("pdf");
        assert!(bytes.starts_with(b"%PDF-"));
    }
}
