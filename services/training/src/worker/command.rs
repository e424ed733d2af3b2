//! An external trainer: any program, run in a directory of its own with the trial's files named
//! in its environment. It writes `model.onnx` where `CAIRN_MODEL_OUTPUT` says (and may write
//! `metrics.json`, recorded but never gated on), and may print metrics as JSON lines while it
//! trains (`{"step": 3, "loss": 0.41}`), which become the trial's metrics per iteration.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, BufReader};
use tokio::process::Command;

use super::{Failure, Files, Model};

/// How much of a failed trainer's standard error its trial's failure keeps.
const STDERR_TAIL: usize = 2000;

pub async fn train(
    program: &[String],
    files: &Files,
    dir: &Path,
    timeout: Duration,
) -> Result<Model, Failure> {
    let (executable, arguments) =
        program.split_first().ok_or_else(|| Failure::Trainer("no program".into()))?;
    let output = dir.join("model.onnx");
    let metrics = dir.join("metrics.json");
    let mut child = Command::new(executable)
        .args(arguments)
        .current_dir(dir)
        .env("CAIRN_TRAIN_DATA", &files.train)
        .env("CAIRN_VALIDATION_DATA", &files.validation)
        .env("CAIRN_PARAMS", &files.params)
        .env("CAIRN_MODEL_OUTPUT", &output)
        .env("CAIRN_METRICS_OUTPUT", &metrics)
        .env("CAIRN_LABEL", &files.label)
        .env("CAIRN_FEATURES", &files.features_json)
        .env("CAIRN_TASK", &files.task)
        .env("CAIRN_CLASSES", &files.classes_json)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|error| Failure::Trainer(format!("cannot start `{executable}`: {error}")))?;
    let (Some(stdout), Some(mut stderr)) = (child.stdout.take(), child.stderr.take()) else {
        return Err(Failure::Infrastructure("no pipes to the trainer".into()));
    };
    let history = tokio::spawn(async move {
        let mut lines = BufReader::new(stdout).lines();
        let mut history = Vec::new();
        while let Ok(Some(line)) = lines.next_line().await {
            if let Ok(serde_json::Value::Object(mut entry)) = serde_json::from_str(&line) {
                let step = history.len() as i64;
                entry.entry("step").or_insert(step.into());
                history.push(serde_json::Value::Object(entry));
            }
        }
        history
    });
    let errors = tokio::spawn(async move {
        let mut text = Vec::new();
        let _ = stderr.read_to_end(&mut text).await;
        let text = String::from_utf8_lossy(&text).into_owned();
        let start = text.len().saturating_sub(STDERR_TAIL);
        text.get(start..).map(str::to_owned).unwrap_or(text)
    });
    let status = match tokio::time::timeout(timeout, child.wait()).await {
        Ok(status) => status.map_err(|error| Failure::Infrastructure(error.to_string()))?,
        Err(_) => {
            let _ = child.kill().await;
            return Err(Failure::Trainer(format!(
                "the trainer ran past its timeout of {} s and was stopped",
                timeout.as_secs()
            )));
        }
    };
    let history = history.await.unwrap_or_default();
    let stderr = errors.await.unwrap_or_default();
    if !status.success() {
        return Err(Failure::Trainer(format!("the trainer exited with {status}: {}", stderr.trim())));
    }
    let bytes = tokio::fs::read(&output).await.map_err(|_| {
        Failure::Trainer(format!(
            "the trainer exited successfully but wrote no model.onnx ({})",
            output.display()
        ))
    })?;
    let reported = tokio::fs::read_to_string(&metrics)
        .await
        .ok()
        .filter(|text| serde_json::from_str::<serde_json::Value>(text).is_ok());
    Ok(Model {
        onnx: bytes,
        history: serde_json::Value::Array(history).to_string(),
        reported: reported.unwrap_or_default(),
    })
}
