//! Model cards: what the registry knows about a version, as Markdown or HTML, rendered from one
//! outline so the two never disagree.

use cairn_api::ModelVersion;

enum Block {
    Heading(u8, String),
    Paragraph(String),
    /// Rows of (name, value).
    Table(Vec<(String, String)>),
}

fn outline(version: &ModelVersion) -> Vec<Block> {
    let mut blocks = vec![Block::Heading(1, format!("{} — version {}", version.name, version.version))];
    if !version.description.is_empty() {
        blocks.push(Block::Paragraph(version.description.clone()));
    }
    let aliases = if version.aliases.is_empty() { "—".to_owned() } else { version.aliases.join(", ") };
    blocks.push(Block::Table(vec![
        ("Stage".into(), version.stage.clone()),
        ("Aliases".into(), aliases),
        (
            "Registered".into(),
            format!("{} by {}", version.created_at.as_datetime().to_rfc3339(), version.created_by),
        ),
        ("Source".into(), version.source.clone()),
        ("Files".into(), version.storage_location.clone()),
    ]));
    let lineage = &version.lineage;
    blocks.push(Block::Heading(2, "Training".into()));
    match &lineage.run_id {
        Some(run_id) => {
            let mut text = format!("Run {} ({run_id})", lineage.run_name.as_deref().unwrap_or("?"));
            if let Some(experiment) = &lineage.experiment {
                text.push_str(&format!(" in experiment {experiment}"));
            }
            if let Some(commit) = &lineage.code_version {
                text.push_str(&format!(", code version {commit}"));
            }
            blocks.push(Block::Paragraph(text + "."));
        }
        None => blocks.push(Block::Paragraph("No training run is recorded for this version.".into())),
    }
    if !lineage.params.is_empty() {
        blocks.push(Block::Heading(3, "Parameters".into()));
        blocks.push(Block::Table(lineage.params.iter().map(|(k, v)| (k.clone(), v.clone())).collect()));
    }
    if !lineage.metrics.is_empty() {
        blocks.push(Block::Heading(3, "Metrics".into()));
        blocks.push(Block::Table(lineage.metrics.iter().map(|(k, v)| (k.clone(), format!("{v}"))).collect()));
    }
    blocks.push(Block::Heading(2, "Data".into()));
    let mut data: Vec<(String, String)> = lineage
        .datasets
        .iter()
        .map(|d| (format!("dataset {}", d.dataset), format!("version {}", d.version)))
        .collect();
    if let Some(service) = &lineage.feature_service {
        data.push(("feature service".into(), service.clone()));
    }
    if data.is_empty() {
        blocks.push(Block::Paragraph("No dataset versions are recorded for the training run.".into()));
    } else {
        blocks.push(Block::Table(data));
    }
    if let Some(signature) = &version.signature {
        blocks.push(Block::Heading(2, "Signature".into()));
        let mut about = vec!["ONNX model".to_owned()];
        if let Some(opset) = signature.opset {
            about.push(format!("opset {opset}"));
        }
        if let Some(producer) = &signature.producer {
            about.push(format!("written by {producer}"));
        }
        blocks.push(Block::Paragraph(about.join(", ") + "."));
        for (heading, tensors) in [("Inputs", &signature.inputs), ("Outputs", &signature.outputs)] {
            blocks.push(Block::Heading(3, heading.into()));
            blocks.push(Block::Table(
                tensors
                    .iter()
                    .map(|t| (t.name.clone(), format!("{} {}", t.r#type, t.shape_text())))
                    .collect(),
            ));
        }
    }
    if let Some(evaluation) = version.tags.get(EVALUATION).and_then(|json| serde_json::from_str(json).ok()) {
        evaluation_blocks(&evaluation, &mut blocks);
    }
    let tags: Vec<(String, String)> = version
        .tags
        .iter()
        .filter(|(key, _)| *key != EVALUATION)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if !tags.is_empty() {
        blocks.push(Block::Heading(2, "Tags".into()));
        blocks.push(Block::Table(tags));
    }
    blocks
}

/// The tag in which Cairn's training records its own measurement of the version.
const EVALUATION: &str = "cairn.evaluation";

/// The platform's evaluation: holdout metrics, confusion, calibration, permutation importance
/// and slices, as far as the tag holds them.
fn evaluation_blocks(evaluation: &serde_json::Value, blocks: &mut Vec<Block>) {
    let number =
        |value: &serde_json::Value| value.as_f64().map_or_else(|| value.to_string(), |v| format!("{v:.4}"));
    blocks.push(Block::Heading(2, "Evaluation".into()));
    blocks.push(Block::Paragraph(format!(
        "Measured by Cairn on {} rows it held out (pipeline run {}), through the runtime that serves the model.",
        evaluation["rows"],
        evaluation["run"].as_str().unwrap_or("?")
    )));
    let pairs = |value: &serde_json::Value| -> Vec<(String, String)> {
        value
            .as_object()
            .map(|map| map.iter().map(|(k, v)| (k.clone(), number(v))).collect())
            .unwrap_or_default()
    };
    let metrics = pairs(&evaluation["metrics"]);
    if !metrics.is_empty() {
        blocks.push(Block::Heading(3, "Holdout metrics".into()));
        blocks.push(Block::Table(metrics));
    }
    let confusion = &evaluation["confusion"];
    let confusion: Vec<(String, String)> = match confusion["counts"].as_array() {
        // Multiclass: a row per true class.
        Some(rows) => rows
            .iter()
            .enumerate()
            .map(|(class, counts)| (format!("true class {class}"), format!("predicted {}", counts)))
            .collect(),
        None => confusion
            .as_object()
            .map(|counts| counts.iter().map(|(k, v)| (k.replace('_', " "), v.to_string())).collect())
            .unwrap_or_default(),
    };
    if !confusion.is_empty() {
        blocks.push(Block::Heading(3, "Confusion (threshold 0.5)".into()));
        blocks.push(Block::Table(confusion));
    }
    if let Some(bins) = evaluation["calibration"].as_array().filter(|bins| !bins.is_empty()) {
        blocks.push(Block::Heading(3, "Calibration".into()));
        blocks.push(Block::Table(
            bins.iter()
                .map(|bin| {
                    (
                        format!(
                            "{:.1}–{:.1}",
                            bin["lower"].as_f64().unwrap_or(0.0),
                            bin["upper"].as_f64().unwrap_or(0.0)
                        ),
                        format!(
                            "predicted {}, observed {} ({} rows)",
                            number(&bin["mean_predicted"]),
                            number(&bin["fraction_positive"]),
                            bin["count"]
                        ),
                    )
                })
                .collect(),
        ));
    }
    if let Some(quantiles) = evaluation["residuals"].as_array().filter(|quantiles| !quantiles.is_empty()) {
        blocks.push(Block::Heading(3, "Residuals (truth − predicted), quantiles".into()));
        blocks.push(Block::Table(
            quantiles
                .iter()
                .map(|quantile| (number(&quantile["level"]), number(&quantile["value"])))
                .collect(),
        ));
    }
    if let Some(bins) = evaluation["by_prediction"].as_array().filter(|bins| !bins.is_empty()) {
        blocks.push(Block::Heading(3, "Predicted against true, by predicted value".into()));
        blocks.push(Block::Table(
            bins.iter()
                .map(|bin| {
                    (
                        format!("{}–{}", number(&bin["lower"]), number(&bin["upper"])),
                        format!(
                            "mean predicted {}, mean true {} ({} rows)",
                            number(&bin["mean_predicted"]),
                            number(&bin["mean_truth"]),
                            bin["count"]
                        ),
                    )
                })
                .collect(),
        ));
    }
    if let Some(features) = evaluation["importance"].as_array().filter(|features| !features.is_empty()) {
        blocks.push(Block::Heading(
            3,
            "Permutation importance (how much the metric worsens with the feature shuffled)".into(),
        ));
        blocks.push(Block::Table(
            features
                .iter()
                .map(|pair| (pair[0].as_str().unwrap_or("?").to_owned(), number(&pair[1])))
                .collect(),
        ));
    }
    for slice in evaluation["slices"].as_array().into_iter().flatten() {
        blocks.push(Block::Heading(
            3,
            format!(
                "{} by {} (gap {})",
                slice["metric"].as_str().unwrap_or("?"),
                slice["column"].as_str().unwrap_or("?"),
                number(&slice["gap"])
            ),
        ));
        blocks.push(Block::Table(pairs(&slice["groups"])));
    }
}

/// Markdown, with table cells escaped (`|` and line breaks).
pub fn markdown(version: &ModelVersion) -> String {
    let cell = |text: &str| text.replace('|', "\\|").replace(['\n', '\r'], " ");
    let mut out = String::new();
    for block in outline(version) {
        match block {
            Block::Heading(level, text) => out.push_str(&format!("{} {text}\n\n", "#".repeat(level.into()))),
            Block::Paragraph(text) => out.push_str(&format!("{text}\n\n")),
            Block::Table(rows) => {
                out.push_str("| | |\n|---|---|\n");
                for (name, value) in rows {
                    out.push_str(&format!("| {} | {} |\n", cell(&name), cell(&value)));
                }
                out.push('\n');
            }
        }
    }
    out
}

/// A standalone HTML page; every value is escaped.
pub fn html(version: &ModelVersion) -> String {
    let escape = |text: &str| {
        text.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
            .replace('\'', "&#39;")
    };
    let mut out = format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{}</title></head><body>\n",
        escape(&format!("{} v{}", version.name, version.version))
    );
    for block in outline(version) {
        match block {
            Block::Heading(level, text) => out.push_str(&format!("<h{level}>{}</h{level}>\n", escape(&text))),
            Block::Paragraph(text) => out.push_str(&format!("<p>{}</p>\n", escape(&text))),
            Block::Table(rows) => {
                out.push_str("<table>\n");
                for (name, value) in rows {
                    out.push_str(&format!(
                        "<tr><th>{}</th><td>{}</td></tr>\n",
                        escape(&name),
                        escape(&value)
                    ));
                }
                out.push_str("</table>\n");
            }
        }
    }
    out + "</body></html>\n"
}
