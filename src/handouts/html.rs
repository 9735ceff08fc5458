//! The handout as one self-contained HTML page: inline CSS sized for the chosen paper, QR codes
//! as inline SVG, every text escaped. Nothing is loaded from elsewhere, so it prints offline.

use super::Paper;
use super::content::Handout;
use super::qr::Matrix;
use std::fmt::Write as _;

/// Escapes text for HTML element content and double-quoted attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "\
body{font-family:'DejaVu Sans',Verdana,sans-serif;font-size:11pt;line-height:1.4;color:#111;max-width:46em;margin:2em auto;padding:0 1em}\
header{border-bottom:2px solid #2b6cb0;margin-bottom:1em;padding-bottom:.5em}\
.clinic{color:#2b6cb0;font-weight:bold;letter-spacing:.02em}\
h1{font-size:20pt;margin:.2em 0}\
dl{display:grid;grid-template-columns:max-content 1fr;gap:.15em 1em;margin:.5em 0}\
dt{font-weight:bold}dd{margin:0}\
.blank{display:inline-block;min-width:16em;border-bottom:1px solid #555}\
section{break-inside:avoid;border-top:1px solid #ccc;padding-top:.6em;margin-top:1em}\
h2{font-size:14pt;margin:.2em 0}\
.summary{font-style:italic;margin:.2em 0}\
.dosage{font-weight:bold;background:#ebf4ff;padding:.2em .5em;border-radius:3px;display:inline-block}\
.caution{color:#9b2c2c}\
.media{display:flex;align-items:center;gap:1em;margin:.4em 0}\
.media a{word-break:break-all}\
@media print{body{margin:0;max-width:none}a{color:#111}}";

/// The handout as a page.
pub fn render(h: &Handout, paper: Paper) -> String {
    let mut o = String::new();
    let title = escape(&h.title);
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><style>@page{{size:{};margin:18mm}}{STYLE}</style></head><body>\n",
        paper.css()
    );
    let _ = write!(
        o,
        "<header><div class=\"clinic\">{}</div><h1>{title}</h1><dl>",
        escape(&h.clinic)
    );
    let field = |o: &mut String, name: &str, value: Option<&str>| {
        let value = match value {
            Some(v) => escape(v),
            None => "<span class=\"blank\">&nbsp;</span>".to_string(),
        };
        let _ = write!(o, "<dt>{name}</dt><dd>{value}</dd>");
    };
    field(&mut o, "Client", h.client.as_deref());
    field(&mut o, "Practitioner", h.practitioner.as_deref());
    field(&mut o, "When", h.schedule.as_deref());
    o.push_str("</dl>");
    if let Some(intro) = &h.intro {
        let _ = write!(o, "<p>{}</p>", escape(intro));
    }
    o.push_str("</header>\n<main>\n");
    for (n, x) in h.exercises.iter().enumerate() {
        let _ = write!(o, "<section><h2>{}. {}</h2>", n + 1, escape(&x.name));
        if let Some(s) = &x.summary {
            let _ = write!(o, "<p class=\"summary\">{}</p>", escape(s));
        }
        if !x.steps.is_empty() {
            o.push_str("<ol>");
            for step in &x.steps {
                let _ = write!(o, "<li>{}</li>", escape(step));
            }
            o.push_str("</ol>");
        }
        let _ = write!(o, "<p class=\"dosage\">{}</p>", escape(&x.dosage));
        for note in &x.notes {
            let _ = write!(o, "<p class=\"note\">Note: {}</p>", escape(note));
        }
        for c in &x.cautions {
            let _ = write!(o, "<p class=\"caution\">Caution: {}</p>", escape(c));
        }
        for m in &x.media {
            let qr = Matrix::encode(&m.url)
                .map(|q| q.svg("28mm", &format!("QR code: {}", escape(&m.label))))
                .unwrap_or_default();
            let url = escape(&m.url);
            let _ = write!(
                o,
                "<div class=\"media\">{qr}<div>{}<br><a href=\"{url}\">{url}</a></div></div>",
                escape(&m.label)
            );
        }
        o.push_str("</section>\n");
    }
    o.push_str("</main>\n</body></html>\n");
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            escape("<script>alert(\"x&y\")</script>'"),
            "&lt;script&gt;alert(&quot;x&amp;y&quot;)&lt;/script&gt;&#39;"
        );
    }
}
