//! Inline SVG charts for the HTML report: horizontal bars, paired bars and a pie with its
//! legend. Plain strings, no scripts, no external resources; every label is escaped.

use std::fmt::Write;

/// The colours of the charts, in the order slices and series use them.
pub(crate) const PALETTE: &[&str] = &[
    "#2f6fb3", "#e07b39", "#3a9d5d", "#c23b4e", "#8a5fb8", "#b59a2c", "#3aa6a6", "#7a7a7a",
];

/// Escapes text for use in HTML and SVG content and attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
}

/// One bar: its label, its length as a fraction of the longest possible bar (0.0 to 1.0),
/// and the text printed after it.
pub(crate) struct Bar {
    pub label: String,
    pub fraction: f64,
    pub text: String,
}

const WIDTH: f64 = 560.0;
const LABEL_WIDTH: f64 = 150.0;
const TEXT_WIDTH: f64 = 110.0;
const ROW: f64 = 26.0;

fn bar_length(fraction: f64) -> f64 {
    let usable = WIDTH - LABEL_WIDTH - TEXT_WIDTH;
    if fraction.is_finite() {
        fraction.clamp(0.0, 1.0) * usable
    } else {
        0.0
    }
}

/// A horizontal bar chart, one row per bar, in one colour.
pub(crate) fn bar_chart(title: &str, bars: &[Bar], colour: &str) -> String {
    let height = ROW * bars.len().max(1) as f64 + 8.0;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="chart" role="img" aria-label="{title}" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" xmlns="http://www.w3.org/2000/svg">"#,
        title = escape(title),
    );
    if bars.is_empty() {
        let _ = write!(svg, r#"<text x="0" y="18" class="muted">–</text>"#);
    }
    for (index, bar) in bars.iter().enumerate() {
        let y = ROW * index as f64 + 4.0;
        let length = bar_length(bar.fraction);
        let _ = write!(
            svg,
            r#"<text x="{label_x}" y="{text_y:.1}" text-anchor="end">{label}</text><rect x="{LABEL_WIDTH}" y="{y:.1}" width="{length:.1}" height="{bar_height:.1}" fill="{colour}"><title>{label}: {text}</title></rect><text x="{value_x:.1}" y="{text_y:.1}">{text}</text>"#,
            label_x = LABEL_WIDTH - 8.0,
            text_y = y + 14.0,
            bar_height = ROW - 8.0,
            label = escape(&bar.label),
            text = escape(&bar.text),
            value_x = LABEL_WIDTH + length + 6.0,
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Two bars per row (for example response and resolution on-time rates per priority), each
/// series in its own colour, with a legend above.
pub(crate) fn paired_bar_chart(
    title: &str,
    series: [&str; 2],
    rows: &[(String, Bar, Bar)],
) -> String {
    let legend = 22.0;
    let row_height = ROW * 2.0 + 6.0;
    let height = legend + row_height * rows.len().max(1) as f64;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="chart" role="img" aria-label="{title}" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" xmlns="http://www.w3.org/2000/svg">"#,
        title = escape(title),
    );
    for (index, name) in series.iter().enumerate() {
        let x = LABEL_WIDTH + 170.0 * index as f64;
        let _ = write!(
            svg,
            r#"<rect x="{x}" y="4" width="12" height="12" fill="{colour}"/><text x="{text_x}" y="15">{name}</text>"#,
            colour = PALETTE[index],
            text_x = x + 18.0,
            name = escape(name),
        );
    }
    for (index, (label, first, second)) in rows.iter().enumerate() {
        let top = legend + row_height * index as f64;
        let _ = write!(
            svg,
            r#"<text x="{label_x}" y="{label_y:.1}" text-anchor="end">{label}</text>"#,
            label_x = LABEL_WIDTH - 8.0,
            label_y = top + ROW,
            label = escape(label),
        );
        for (offset, (bar, colour)) in [(first, PALETTE[0]), (second, PALETTE[1])]
            .into_iter()
            .enumerate()
        {
            let y = top + ROW * offset as f64 + 2.0;
            let length = bar_length(bar.fraction);
            let _ = write!(
                svg,
                r#"<rect x="{LABEL_WIDTH}" y="{y:.1}" width="{length:.1}" height="{bar_height:.1}" fill="{colour}"><title>{name}: {text}</title></rect><text x="{value_x:.1}" y="{text_y:.1}">{text}</text>"#,
                bar_height = ROW - 8.0,
                name = escape(series[offset]),
                text = escape(&bar.text),
                value_x = LABEL_WIDTH + length + 6.0,
                text_y = y + 14.0,
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

/// A pie chart of counts with a legend beside it; empty slices are left out.
pub(crate) fn pie_chart(title: &str, slices: &[(String, u64)]) -> String {
    let total: u64 = slices.iter().map(|(_, count)| *count).sum();
    let legend_rows = slices.iter().filter(|(_, count)| *count > 0).count();
    let height = (ROW * legend_rows as f64 + 10.0).max(200.0);
    let (centre_x, centre_y, radius) = (100.0, 100.0, 90.0);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="chart" role="img" aria-label="{title}" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" xmlns="http://www.w3.org/2000/svg">"#,
        title = escape(title),
    );
    if total == 0 {
        let _ = write!(
            svg,
            r##"<circle cx="{centre_x}" cy="{centre_y}" r="{radius}" fill="#e5e5e5"/><text x="220" y="20" class="muted">–</text></svg>"##
        );
        return svg;
    }
    let mut angle = -std::f64::consts::FRAC_PI_2;
    let mut legend_index = 0usize;
    for (index, (label, count)) in slices.iter().enumerate() {
        if *count == 0 {
            continue;
        }
        let colour = PALETTE[index % PALETTE.len()];
        let fraction = *count as f64 / total as f64;
        let label = escape(label);
        let percent = fraction * 100.0;
        if *count == total {
            let _ = write!(
                svg,
                r#"<circle cx="{centre_x}" cy="{centre_y}" r="{radius}" fill="{colour}"><title>{label}: {count} ({percent:.1}%)</title></circle>"#
            );
        } else {
            let sweep = fraction * std::f64::consts::TAU;
            let (start_x, start_y) = (
                centre_x + radius * angle.cos(),
                centre_y + radius * angle.sin(),
            );
            let end_angle = angle + sweep;
            let (end_x, end_y) = (
                centre_x + radius * end_angle.cos(),
                centre_y + radius * end_angle.sin(),
            );
            let large = u8::from(sweep > std::f64::consts::PI);
            let _ = write!(
                svg,
                r#"<path d="M{centre_x},{centre_y} L{start_x:.2},{start_y:.2} A{radius},{radius} 0 {large} 1 {end_x:.2},{end_y:.2} Z" fill="{colour}"><title>{label}: {count} ({percent:.1}%)</title></path>"#
            );
            angle = end_angle;
        }
        let legend_y = ROW * legend_index as f64 + 10.0;
        let _ = write!(
            svg,
            r#"<rect x="220" y="{legend_y:.1}" width="12" height="12" fill="{colour}"/><text x="238" y="{text_y:.1}">{label}: {count} ({percent:.1}%)</text>"#,
            text_y = legend_y + 11.0,
        );
        legend_index += 1;
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_escaped() {
        let svg = bar_chart(
            "t<i>",
            &[Bar {
                label: "<script>".to_owned(),
                fraction: 0.5,
                text: "50% & more".to_owned(),
            }],
            PALETTE[0],
        );
        assert!(!svg.contains("<script>"));
        assert!(svg.contains("&lt;script&gt;"));
        assert!(svg.contains("50% &amp; more"));
    }

    #[test]
    fn a_single_slice_is_a_full_circle() {
        let svg = pie_chart(
            "kinds",
            &[("complaint".to_owned(), 3), ("praise".to_owned(), 0)],
        );
        assert!(svg.contains("<circle"));
        assert!(!svg.contains("<path"));
        assert!(!svg.contains("praise"));
    }

    #[test]
    fn slices_add_up_to_the_whole_turn() {
        let svg = pie_chart("kinds", &[("a".to_owned(), 1), ("b".to_owned(), 3)]);
        assert_eq!(svg.matches("<path").count(), 2);
        // The second slice covers three quarters: the large-arc flag is set.
        assert!(svg.contains(" 0 1 1 "));
    }
}
