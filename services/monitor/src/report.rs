//! An endpoint's drift and performance report as one self-contained HTML page (inline CSS and
//! SVG, a few lines of script for tooltips; nothing fetched): each feature's reference and
//! current distribution in the latest window of each model version, the drift scores over time,
//! the live metrics over time, and the loop's decisions on a timeline.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use cairn_api::{LivePerformance, LoopEvent, MonitorWindow};
use cairn_domain::Timestamp;

use cairn_db::Database;

use crate::error::MonitorError;
use crate::loops::Loops;
use crate::reference::ModelReference;
use crate::store;
use crate::window::Open;

/// What the page shows.
pub struct Inputs {
    pub endpoint: String,
    /// Judged windows, newest first.
    pub windows: Vec<MonitorWindow>,
    /// The latest judged window's counts per model version, with the version's reference.
    pub latest: Vec<(Open, Option<ModelReference>)>,
    /// Windows with labels, newest first.
    pub performance: Vec<LivePerformance>,
    pub decisions: Vec<LoopEvent>,
}

const COLORS: [&str; 8] =
    ["#2563eb", "#ea580c", "#16a34a", "#9333ea", "#dc2626", "#0891b2", "#ca8a04", "#db2777"];

fn esc(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn number(value: f64) -> String {
    if value.abs() >= 1000.0 { format!("{value:.0}") } else { format!("{value:.4}") }
}

/// The report of `endpoint` as it stands (404 before its first logged prediction).
pub async fn of(db: &Database, loops: &Loops, endpoint: &str) -> Result<String, MonitorError> {
    let windows = store::windows(db, endpoint.to_owned(), 200).await?;
    let mut latest = Vec::new();
    for open in store::latest_counts(db, endpoint.to_owned()).await? {
        let reference = store::reference(db, open.key.model.clone(), open.key.version).await?;
        latest.push((open, reference));
    }
    let (performance, _) = crate::feedback::summary(db, endpoint.to_owned(), 200).await?;
    let decisions = match loops.history(endpoint, 500).await {
        Ok(events) => events,
        Err(MonitorError::NotFound(_)) => Vec::new(),
        Err(error) => return Err(error),
    };
    if windows.is_empty() && store::open_windows(db).await?.iter().all(|open| open.key.endpoint != endpoint) {
        return Err(MonitorError::NotFound(format!(
            "no prediction of endpoint `{endpoint}` has been logged"
        )));
    }
    Ok(render(&Inputs { endpoint: endpoint.to_owned(), windows, latest, performance, decisions }))
}

pub fn render(inputs: &Inputs) -> String {
    let mut html = String::with_capacity(64 * 1024);
    let endpoint = esc(&inputs.endpoint);
    let _ = write!(
        html,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>Cairn monitor — {endpoint}</title><style>{STYLE}</style></head><body>\
         <header><h1>Endpoint <code>{endpoint}</code></h1><p>Report generated {} from {} judged windows, \
         {} with live labels, {} loop decisions.</p></header>",
        Timestamp::now(),
        inputs.windows.len(),
        inputs.performance.len(),
        inputs.decisions.len()
    );
    summary(&mut html, &inputs.windows);
    distributions(&mut html, &inputs.latest, &inputs.windows);
    drift_over_time(&mut html, &inputs.windows);
    performance(&mut html, &inputs.performance);
    decisions(&mut html, &inputs.decisions);
    html.push_str("<div id=\"tip\" hidden></div><script>");
    html.push_str(SCRIPT);
    html.push_str("</script></body></html>\n");
    html
}

fn summary(html: &mut String, windows: &[MonitorWindow]) {
    html.push_str("<section id=\"summary\"><h2>Latest windows</h2>");
    if windows.is_empty() {
        html.push_str("<p class=\"empty\">No window has been judged yet.</p></section>");
        return;
    }
    html.push_str(
        "<table><thead><tr><th>window</th><th>ended</th><th>predictions</th><th>reference</th>\
         <th>drifted features</th><th>share</th><th>verdict</th></tr></thead><tbody>",
    );
    for window in windows.iter().take(10) {
        let _ = write!(
            html,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{} of {}</td><td>{:.2}</td><td class=\"{}\">{}</td></tr>",
            esc(&window.id),
            window.ended_at,
            window.predictions,
            esc(window.reference.as_deref().unwrap_or("—")),
            window.drifted_features,
            window.features.len(),
            window.share,
            if window.dataset_drift { "drift" } else { "ok" },
            if window.dataset_drift { "DRIFT" } else { "no drift" }
        );
    }
    html.push_str("</tbody></table></section>");
}

fn distributions(html: &mut String, latest: &[(Open, Option<ModelReference>)], windows: &[MonitorWindow]) {
    html.push_str("<section id=\"distributions\"><h2>Reference and current distribution per feature</h2>");
    let mut drawn = 0;
    for (open, reference) in latest {
        let Some(reference) = reference else { continue };
        let key = &open.key;
        let judged = windows.iter().find(|window| {
            window.model == key.model && window.version == key.version && window.number == open.number
        });
        let _ = write!(
            html,
            "<h3><code>{}@{}</code> window {} against {}</h3><div class=\"grid\">",
            esc(&key.model),
            key.version,
            open.number,
            esc(reference.dataset.as_deref().unwrap_or("no reference"))
        );
        let features = reference.features.iter().zip(&open.features).map(|(feature, window)| {
            let verdict = judged.and_then(|judged| judged.features.iter().find(|f| f.column == feature.name));
            (feature.name.as_str(), feature.reference.as_ref(), window.as_ref(), verdict)
        });
        let prediction = (
            "prediction",
            reference.prediction.as_ref(),
            open.prediction.as_ref(),
            judged.and_then(|judged| judged.prediction.as_ref()),
        );
        for (name, built, window, verdict) in features.chain(std::iter::once(prediction)) {
            let (Some(built), Some(window)) = (built, window) else { continue };
            let Ok(bins) = built.labelled_bins(window) else { continue };
            let caption = verdict.map_or_else(String::new, |verdict| {
                format!(
                    " — {} {} (threshold {}) <span class=\"{}\">{}</span>",
                    esc(&verdict.method),
                    number(verdict.value),
                    number(verdict.threshold),
                    if verdict.drifted { "drift" } else { "ok" },
                    if verdict.drifted { "drifted" } else { "stable" }
                )
            });
            let _ = write!(
                html,
                "<figure class=\"chart distribution\" data-feature=\"{}\"><figcaption><b>{}</b>{caption}</figcaption>",
                esc(name),
                esc(name)
            );
            bars(html, &bins);
            html.push_str("</figure>");
            drawn += 1;
        }
        html.push_str("</div>");
    }
    if drawn == 0 {
        html.push_str("<p class=\"empty\">No judged window with a reference yet.</p>");
    }
    html.push_str(
        "<p class=\"legend\"><span style=\"color:#2563eb\">■</span> reference (training data) \
         <span style=\"color:#ea580c\">■</span> current window</p></section>",
    );
}

/// Grouped bars: each bin's share of the reference and of the window.
fn bars(html: &mut String, bins: &[(String, u64, u64)]) {
    let (width, height, bottom) = (460.0, 180.0, 150.0);
    let reference: u64 = bins.iter().map(|bin| bin.1).sum();
    let current: u64 = bins.iter().map(|bin| bin.2).sum();
    let share = |count: u64, total: u64| if total == 0 { 0.0 } else { count as f64 / total as f64 };
    let top = bins
        .iter()
        .map(|bin| share(bin.1, reference).max(share(bin.2, current)))
        .fold(0.0_f64, f64::max)
        .max(1e-9);
    let band = (width - 20.0) / bins.len().max(1) as f64;
    let _ = write!(html, "<svg viewBox=\"0 0 {width} {height}\" role=\"img\">");
    let _ = write!(
        html,
        "<line x1=\"10\" y1=\"{bottom}\" x2=\"{}\" y2=\"{bottom}\" class=\"axis\"/>",
        width - 10.0
    );
    for (i, (label, r, c)) in bins.iter().enumerate() {
        let x = 10.0 + i as f64 * band;
        for (j, (count, total, color)) in
            [(*r, reference, COLORS[0]), (*c, current, COLORS[1])].into_iter().enumerate()
        {
            let value = share(count, total);
            let h = value / top * (bottom - 10.0);
            let _ = write!(
                html,
                "<rect x=\"{:.2}\" y=\"{:.2}\" width=\"{:.2}\" height=\"{:.2}\" fill=\"{color}\" data-tip=\"{} — {}: {:.1} % ({count})\"/>",
                x + band * (0.1 + 0.4 * j as f64),
                bottom - h,
                band * 0.4,
                h,
                esc(label),
                if j == 0 { "reference" } else { "current" },
                value * 100.0
            );
        }
        if bins.len() <= 12 || i % (bins.len() / 8).max(1) == 0 {
            let _ = write!(
                html,
                "<text x=\"{:.2}\" y=\"{}\" class=\"tick\">{}</text>",
                x + band / 2.0,
                bottom + 14.0,
                esc(label.split(" – ").next().unwrap_or(label))
            );
        }
    }
    html.push_str("</svg>");
}

/// Lines over windows: `series` maps a name to its (x, y, tip) points, x in [0, 1].
fn lines(
    html: &mut String,
    class: &str,
    series: &BTreeMap<String, Vec<(f64, f64, String)>>,
    reference: Option<(f64, &str)>,
) {
    let (width, height, bottom) = (920.0, 240.0, 210.0);
    let values = series.values().flatten().map(|point| point.1).chain(reference.map(|r| r.0));
    let (low, high) =
        values.fold((f64::INFINITY, f64::NEG_INFINITY), |(low, high), v| (low.min(v), high.max(v)));
    let (low, high) =
        if low.is_finite() { (low.min(0.0), if high > low { high } else { low + 1.0 }) } else { (0.0, 1.0) };
    let y = |value: f64| bottom - (value - low) / (high - low) * (bottom - 20.0);
    let x = |at: f64| 50.0 + at * (width - 70.0);
    let _ = write!(html, "<svg class=\"chart {class}\" viewBox=\"0 0 {width} {height}\" role=\"img\">");
    let _ = write!(
        html,
        "<line x1=\"50\" y1=\"{bottom}\" x2=\"{}\" y2=\"{bottom}\" class=\"axis\"/>",
        width - 20.0
    );
    let _ = write!(html, "<text x=\"46\" y=\"{:.1}\" class=\"ytick\">{}</text>", y(high) + 4.0, number(high));
    let _ = write!(html, "<text x=\"46\" y=\"{:.1}\" class=\"ytick\">{}</text>", y(low) + 4.0, number(low));
    if let Some((value, label)) = reference {
        let _ = write!(
            html,
            "<line x1=\"50\" y1=\"{0:.2}\" x2=\"{1}\" y2=\"{0:.2}\" class=\"threshold\"/><text x=\"{2}\" y=\"{3:.2}\" class=\"tick\">{4}</text>",
            y(value),
            width - 20.0,
            width - 180.0,
            y(value) - 4.0,
            esc(label)
        );
    }
    for (i, (name, points)) in series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let path: Vec<String> =
            points.iter().map(|(at, value, _)| format!("{:.2},{:.2}", x(*at), y(*value))).collect();
        let _ = write!(
            html,
            "<polyline points=\"{}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"2\"/>",
            path.join(" ")
        );
        for (at, value, tip) in points {
            let _ = write!(
                html,
                "<circle cx=\"{:.2}\" cy=\"{:.2}\" r=\"4\" fill=\"{color}\" data-tip=\"{}: {}\"/>",
                x(*at),
                y(*value),
                esc(name),
                esc(tip)
            );
        }
    }
    html.push_str("</svg><p class=\"legend\">");
    for (i, name) in series.keys().enumerate() {
        let _ = write!(html, "<span style=\"color:{}\">■</span> {} ", COLORS[i % COLORS.len()], esc(name));
    }
    html.push_str("</p>");
}

/// Positions in [0, 1] of times, oldest left.
fn positions(times: &[i64]) -> impl Fn(i64) -> f64 {
    let (first, last) = (times.iter().copied().min().unwrap_or(0), times.iter().copied().max().unwrap_or(0));
    move |at| if last > first { (at - first) as f64 / (last - first) as f64 } else { 0.5 }
}

fn drift_over_time(html: &mut String, windows: &[MonitorWindow]) {
    html.push_str(
        "<section id=\"drift-over-time\"><h2>Drift scores over time</h2><p>Each feature's statistic over \
         its threshold per window (above 1 drifts; for p-values, the threshold over the p-value).</p>",
    );
    let times: Vec<i64> = windows.iter().map(|window| window.ended_at.as_micros()).collect();
    let at = positions(&times);
    let mut series: BTreeMap<String, Vec<(f64, f64, String)>> = BTreeMap::new();
    for window in windows.iter().rev() {
        for feature in &window.features {
            let p_value = matches!(feature.method.as_str(), "ks" | "chi_square" | "z");
            let ratio = if p_value {
                feature.threshold / feature.value.max(1e-12)
            } else {
                feature.value / feature.threshold.max(1e-12)
            };
            let tip = format!(
                "{} {} {} (threshold {})",
                window.id,
                feature.method,
                number(feature.value),
                number(feature.threshold)
            );
            series.entry(feature.column.clone()).or_default().push((
                at(window.ended_at.as_micros()),
                ratio.min(50.0),
                tip,
            ));
        }
    }
    if series.is_empty() {
        html.push_str("<p class=\"empty\">No judged window yet.</p>");
    } else {
        lines(html, "drift-timeline", &series, Some((1.0, "threshold")));
    }
    html.push_str("</section>");
}

fn performance(html: &mut String, performance: &[LivePerformance]) {
    html.push_str("<section id=\"performance\"><h2>Live metrics over time</h2>");
    if performance.is_empty() {
        html.push_str("<p class=\"empty\">No ground truth has arrived for this endpoint yet.</p></section>");
        return;
    }
    let mut ordered: Vec<&LivePerformance> = performance.iter().collect();
    ordered.sort_by_key(|window| (window.model.clone(), window.version, window.number));
    let count = ordered.len().max(2) - 1;
    let mut series: BTreeMap<String, Vec<(f64, f64, String)>> = BTreeMap::new();
    for (i, window) in ordered.iter().enumerate() {
        if let Some(live) = window.live {
            let tip = format!("{} on {} labels: {}", window.window_id, window.labelled, number(live));
            series.entry(format!("{} v{}", window.metric, window.version)).or_default().push((
                i as f64 / count as f64,
                live,
                tip,
            ));
        }
    }
    let holdout = ordered.iter().rev().find_map(|window| window.holdout);
    lines(html, "metrics-timeline", &series, holdout.map(|value| (value, "holdout (latest version)")));
    html.push_str(
        "<table><thead><tr><th>window</th><th>labelled</th><th>metric</th><th>live</th><th>holdout</th>\
         <th>KPIs</th><th>worst slice</th><th>verdict</th></tr></thead><tbody>",
    );
    for window in performance.iter().take(20) {
        let kpis: Vec<String> =
            window.kpis.iter().map(|(name, value)| format!("{} {}", esc(name), number(*value))).collect();
        let shown = |value: Option<f64>| value.map_or_else(|| "—".to_owned(), number);
        let _ = write!(
            html,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"{}\">{}</td></tr>",
            esc(&window.window_id),
            window.labelled,
            esc(&window.metric),
            shown(window.live),
            shown(window.holdout),
            kpis.join(", "),
            window.slices.first().map_or_else(String::new, |slice| format!(
                "{}={}: {} on {}",
                esc(&slice.column),
                esc(&slice.value),
                shown(slice.live),
                slice.labelled
            )),
            if window.degraded { "drift" } else { "ok" },
            if window.degraded { "DEGRADED" } else { "holds" }
        );
    }
    html.push_str("</tbody></table></section>");
}

fn decisions(html: &mut String, events: &[LoopEvent]) {
    html.push_str("<section id=\"loop\"><h2>Continuous-training decisions</h2>");
    if events.is_empty() {
        html.push_str(
            "<p class=\"empty\">The endpoint's loop has made no decision (or it has none).</p></section>",
        );
        return;
    }
    let (width, height) = (920.0, 70.0);
    let times: Vec<i64> = events.iter().map(|event| event.at.as_micros()).collect();
    let at = positions(&times);
    let _ = write!(html, "<svg class=\"chart loop-timeline\" viewBox=\"0 0 {width} {height}\" role=\"img\">");
    let _ = write!(html, "<line x1=\"20\" y1=\"35\" x2=\"{}\" y2=\"35\" class=\"axis\"/>", width - 20.0);
    for event in events {
        let color = match event.step.as_str() {
            "promoted" => "#16a34a",
            "rolled_back" | "rejected" => "#dc2626",
            "skipped" => "#9ca3af",
            "canary" | "approval" => "#ea580c",
            _ => "#2563eb",
        };
        let x = 20.0 + at(event.at.as_micros()) * (width - 40.0);
        let _ = write!(
            html,
            "<circle class=\"decision\" cx=\"{x:.2}\" cy=\"35\" r=\"7\" fill=\"{color}\" data-tip=\"{} cycle {} {}: {}\"/>",
            event.at,
            event.cycle,
            esc(&event.step),
            esc(&event.detail)
        );
    }
    html.push_str("</svg><ol class=\"decisions\">");
    for event in events {
        let _ = write!(
            html,
            "<li><time>{}</time> cycle {} <b class=\"step {}\">{}</b> {}</li>",
            event.at,
            event.cycle,
            esc(&event.step),
            esc(&event.step),
            esc(&event.detail)
        );
    }
    html.push_str("</ol></section>");
}

const STYLE: &str = "body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:980px;color:#111}\
h1{font-size:22px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #ddd}h3{font-size:15px}\
table{border-collapse:collapse;width:100%}td,th{padding:4px 8px;border-bottom:1px solid #eee;text-align:left}\
.grid{display:grid;grid-template-columns:repeat(2,1fr);gap:12px}figure{margin:0;border:1px solid #eee;padding:8px}\
svg{width:100%;height:auto}.axis{stroke:#999}.threshold{stroke:#dc2626;stroke-dasharray:4 4}\
.tick{font-size:10px;fill:#555;text-anchor:middle}.ytick{font-size:10px;fill:#555;text-anchor:end}.drift{color:#dc2626;font-weight:600}.ok{color:#16a34a}\
.empty{color:#777}.legend{font-size:12px;color:#444}#tip{position:fixed;background:#111;color:#fff;padding:4px 8px;\
border-radius:4px;font-size:12px;pointer-events:none;max-width:420px}.step{text-transform:uppercase;font-size:11px}";

const SCRIPT: &str = "(function(){var tip=document.getElementById('tip');\
document.querySelectorAll('[data-tip]').forEach(function(el){\
el.addEventListener('mousemove',function(e){tip.hidden=false;tip.textContent=el.getAttribute('data-tip');\
tip.style.left=(e.clientX+12)+'px';tip.style.top=(e.clientY+12)+'px';});\
el.addEventListener('mouseleave',function(){tip.hidden=true;});});\
document.documentElement.setAttribute('data-charts',String(document.querySelectorAll('svg').length));})();";
