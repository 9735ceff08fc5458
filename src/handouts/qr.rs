//! QR codes as a matrix of modules, drawn by each renderer itself (squares in the PDF, an
//! inline SVG path in the page): no image crate, no raster.

use qrcode::{Color, EcLevel, QrCode};

/// The light border a reader needs around a code, in modules (ISO/IEC 18004 asks for 4).
pub const QUIET_ZONE: usize = 4;

/// A code's dark modules, row by row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matrix {
    pub width: usize,
    dark: Vec<bool>,
}

impl Matrix {
    /// The code for `text`; `None` when it is too long for any QR code (media URLs are at most
    /// 2000 characters, which fit).
    pub fn encode(text: &str) -> Option<Matrix> {
        let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M).ok()?;
        let width = code.width();
        let dark = code.into_colors().into_iter().map(|c| c == Color::Dark).collect();
        Some(Matrix { width, dark })
    }

    pub fn is_dark(&self, x: usize, y: usize) -> bool {
        self.dark.get(y * self.width + x).copied().unwrap_or(false)
    }

    /// Each row's runs of dark modules as `(x, y, length)`: fewer shapes to draw than one
    /// square per module.
    pub fn runs(&self) -> Vec<(usize, usize, usize)> {
        let mut out = Vec::new();
        for y in 0..self.width {
            let mut x = 0;
            while x < self.width {
                if self.is_dark(x, y) {
                    let start = x;
                    while x < self.width && self.is_dark(x, y) {
                        x += 1;
                    }
                    out.push((start, y, x - start));
                } else {
                    x += 1;
                }
            }
        }
        out
    }

    /// The code as an SVG image (the quiet zone included), one path of unit rectangles.
    pub fn svg(&self, size_css: &str, title: &str) -> String {
        let full = self.width + 2 * QUIET_ZONE;
        let mut d = String::new();
        for (x, y, len) in self.runs() {
            d.push_str(&format!("M{} {}h{len}v1h-{len}z", x + QUIET_ZONE, y + QUIET_ZONE));
        }
        format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {full} {full}\" width=\"{size_css}\" \
             height=\"{size_css}\" shape-rendering=\"crispEdges\" role=\"img\"><title>{title}</title>\
             <rect width=\"{full}\" height=\"{full}\" fill=\"#fff\"/><path d=\"{d}\" fill=\"#000\"/></svg>"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_becomes_a_square_code_with_finder_patterns() {
        let m = Matrix::encode("https://media.example/clam.mp4").expect("code");
        assert!(m.width >= 21 && (m.width - 21).is_multiple_of(4), "width {}", m.width);
        // The top-left finder pattern: a dark 7×7 ring around a light ring around a dark 3×3.
        assert!(m.is_dark(0, 0) && m.is_dark(6, 6) && !m.is_dark(1, 1) && m.is_dark(3, 3));
        let dark: usize = m.runs().iter().map(|r| r.2).sum();
        assert!(dark > m.width * m.width / 4);
    }
}
