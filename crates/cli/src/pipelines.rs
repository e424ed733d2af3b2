//! `cairn pipelines …` (specs applied from files, like `terraform plan|apply`), `cairn train`
//! (a run followed live: trials, the best score so far, the gates) and the pipeline runs of
//! `cairn runs …`.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use cairn_api::{Action, NewPipelineRun, PipelinePlan, PipelineRun, PipelineSpec, RunState};
use cairn_client::Client;
use cairn_config::CairnConfig;
use cairn_domain::ServiceKind;
use indicatif::{ProgressBar, ProgressStyle};

use crate::output::{confirm, print_json};
use crate::status::service_url;
use crate::table;

pub(crate) fn client(config: &CairnConfig) -> Client {
    Client::new(service_url(config, ServiceKind::Training))
}

/// A spec from a `.toml` or `.json` file.
fn read(path: &Path) -> anyhow::Result<PipelineSpec> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let spec = if path.extension().is_some_and(|extension| extension == "json") {
        serde_json::from_str(&text).map_err(|error| anyhow::anyhow!("{}: {error}", path.display()))?
    } else {
        toml::from_str(&text).map_err(|error| anyhow::anyhow!("{}: {error}", path.display()))?
    };
    Ok(spec)
}

fn print_plan(plan: &PipelinePlan) {
    let action = match plan.action {
        Action::Create => "create",
        Action::NewVersion => "new version",
        Action::Update => "update",
        Action::Delete => "delete",
        Action::Unchanged => "unchanged",
    };
    let versions = match plan.from_version {
        Some(from) if from != plan.to_version => format!("{from} → {}", plan.to_version),
        _ => plan.to_version.to_string(),
    };
    table::print(&[
        vec!["PIPELINE".to_owned(), "ACTION".into(), "VERSION".into(), "CHANGED".into()],
        vec![plan.name.to_string(), action.into(), versions, plan.fields.join(", ")],
    ]);
}

pub(crate) async fn plan(config: &CairnConfig, file: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let plan = client(config).plan_pipeline(&read(file)?).await?;
    if json {
        return print_json(&plan);
    }
    print_plan(&plan);
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn apply(
    config: &CairnConfig,
    file: &Path,
    yes: bool,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let spec = read(file)?;
    let client = client(config);
    let plan = client.plan_pipeline(&spec).await?;
    if plan.action == Action::Unchanged {
        if json {
            return print_json(&plan);
        }
        println!("pipeline `{}` is up to date (version {})", plan.name, plan.to_version);
        return Ok(ExitCode::SUCCESS);
    }
    if !json {
        print_plan(&plan);
    }
    if !yes && !json && !confirm("Apply?")? {
        println!("nothing applied");
        return Ok(ExitCode::FAILURE);
    }
    let applied = client.apply_pipeline(&spec).await?;
    if json {
        return print_json(&applied);
    }
    println!("applied: pipeline `{}` version {}", applied.name, applied.to_version);
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn list(config: &CairnConfig, json: bool) -> anyhow::Result<ExitCode> {
    let pipelines = client(config).pipelines().await?;
    if json {
        return print_json(&pipelines);
    }
    let mut rows = vec![vec![
        "PIPELINE".to_owned(),
        "VERSION".into(),
        "TRAINER".into(),
        "MODEL".into(),
        "APPLIED".into(),
    ]];
    for pipeline in &pipelines {
        let spec = &pipeline.spec;
        rows.push(vec![
            pipeline.name.to_string(),
            pipeline.version.to_string(),
            format!("{} ({})", spec.trainer.describe(), spec.trainer.task.as_str()),
            spec.registration.model.clone(),
            pipeline.created_at.to_string(),
        ]);
    }
    table::print(&rows);
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn show(config: &CairnConfig, name: &str, json: bool) -> anyhow::Result<ExitCode> {
    let pipeline = client(config).pipeline(name).await?;
    if json {
        return print_json(&pipeline);
    }
    println!(
        "# pipeline `{}`, version {} (applied {})",
        pipeline.name, pipeline.version, pipeline.created_at
    );
    print!("{}", toml::to_string_pretty(&pipeline.spec)?);
    Ok(ExitCode::SUCCESS)
}

/// `cairn train PIPELINE`: starts a run and follows it to its end (unless `detach`).
pub(crate) async fn train(
    config: &CairnConfig,
    pipeline: &str,
    version: Option<i64>,
    detach: bool,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let client = client(config);
    let run = client.start_pipeline_run(pipeline, &NewPipelineRun { version, trigger: None }).await?;
    watch(&client, run, detach, json).await
}

/// `cairn runs reproduce RUN`: the run again on the same data, split, trials and seeds.
pub(crate) async fn reproduce(
    config: &CairnConfig,
    id: &str,
    detach: bool,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let client = client(config);
    let run = client.reproduce_pipeline_run(id).await?;
    watch(&client, run, detach, json).await
}

/// Says the run started (`detach`), or follows it to its end and sums it up.
async fn watch(client: &Client, run: PipelineRun, detach: bool, json: bool) -> anyhow::Result<ExitCode> {
    if detach {
        if json {
            return print_json(&run);
        }
        println!("started run {} of `{}` (version {})", run.id, run.pipeline, run.pipeline_version);
        return Ok(ExitCode::SUCCESS);
    }
    let run = follow(client, run, json).await?;
    if json {
        print_json(&run)?;
    } else {
        summary(&run);
    }
    Ok(if run.state == RunState::Succeeded { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// Polls the run until it ends, with a bar over its trials (none with --json).
async fn follow(client: &Client, mut run: PipelineRun, json: bool) -> anyhow::Result<PipelineRun> {
    let bar = if json { ProgressBar::hidden() } else { ProgressBar::new(0) };
    bar.set_style(
        ProgressStyle::with_template("{spinner} {prefix:>14} [{bar:30}] {pos}/{len} trials  {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    while !run.state.finished() {
        tokio::time::sleep(Duration::from_millis(300)).await;
        run = client.pipeline_run(&run.id).await?;
        let done =
            run.trials.iter().filter(|trial| trial.state == "succeeded" || trial.state == "failed").count();
        bar.set_length(run.trials.len() as u64);
        bar.set_position(done as u64);
        bar.set_prefix(run.state.as_str().replace('_', " "));
        if let Some(objective) = &run.objective {
            let scored = run.trials.iter().filter_map(|trial| Some((trial.number, trial.score?)));
            let best = scored.reduce(|best, next| if objective.better(next.1, best.1) { next } else { best });
            if let Some((number, score)) = best {
                bar.set_message(format!("best {}: {score:.4} (trial {number})", objective.metric));
            }
        }
    }
    bar.finish_and_clear();
    Ok(run)
}

fn summary(run: &PipelineRun) {
    println!(
        "run {} of `{}` (version {}): {}",
        run.id,
        run.pipeline,
        run.pipeline_version,
        run.state.as_str()
    );
    if let Some(original) = &run.reproduces {
        println!("reproduces: {original}");
    }
    if let Some(dataset) = &run.dataset {
        let rows = run.rows.map(|rows| {
            format!(" ({} train, {} validation, {} holdout)", rows.train, rows.validation, rows.holdout)
        });
        println!("data: {dataset}{}", rows.unwrap_or_default());
    }
    if !run.trials.is_empty() {
        let mut rows = vec![vec![
            "TRIAL".to_owned(),
            "STATE".into(),
            "SCORE".into(),
            "SECONDS".into(),
            "WORKER".into(),
            "PARAMS".into(),
        ]];
        for trial in &run.trials {
            let best = if run.best_trial == Some(trial.number) { " *" } else { "" };
            rows.push(vec![
                format!("{}{best}", trial.number),
                trial.state.clone(),
                trial.score.map_or_else(|| "—".into(), |score| format!("{score:.6}")),
                trial.seconds.map_or_else(|| "—".into(), |seconds| format!("{seconds:.1}")),
                trial.worker.clone().unwrap_or_else(|| "—".into()),
                serde_json::to_string(&trial.params).unwrap_or_default(),
            ]);
        }
        println!();
        table::print(&rows);
    }
    if !run.metrics.is_empty() {
        println!();
        let mut rows = vec![vec!["HOLDOUT METRIC".to_owned(), "VALUE".into()]];
        rows.extend(run.metrics.iter().map(|(name, value)| vec![name.clone(), format!("{value:.6}")]));
        table::print(&rows);
    }
    if !run.gates.is_empty() {
        println!();
        let mut rows = vec![vec!["GATE".to_owned(), "RESULT".into(), "DETAIL".into()]];
        for gate in &run.gates {
            rows.push(vec![
                format!("{} {}", gate.gate.kind(), gate.gate.metric().unwrap_or_default()),
                if gate.passed { "passed".into() } else { "FAILED".into() },
                gate.detail.clone(),
            ]);
        }
        table::print(&rows);
    }
    if let Some(model) = &run.model_version {
        println!("\nregistered {model}");
    }
    if let Some(error) = &run.error {
        println!("\nerror: {error}");
    }
}

pub(crate) async fn runs(
    config: &CairnConfig,
    pipeline: &str,
    limit: i64,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let runs = client(config).pipeline_runs(Some(pipeline), limit).await?;
    if json {
        return print_json(&runs);
    }
    let mut rows = vec![vec![
        "RUN".to_owned(),
        "VERSION".into(),
        "STATE".into(),
        "TRIGGER".into(),
        "STARTED".into(),
        "MODEL".into(),
    ]];
    for run in &runs {
        rows.push(vec![
            run.id.clone(),
            run.pipeline_version.to_string(),
            run.state.as_str().into(),
            run.trigger.clone(),
            run.created_at.to_string(),
            run.model_version.clone().unwrap_or_else(|| "—".into()),
        ]);
    }
    table::print(&rows);
    Ok(ExitCode::SUCCESS)
}

/// A pipeline run, when the training service knows `id`.
pub(crate) async fn show_run(config: &CairnConfig, id: &str, json: bool) -> anyhow::Result<Option<ExitCode>> {
    match client(config).pipeline_run(id).await {
        Ok(run) => {
            if json {
                return print_json(&run).map(Some);
            }
            summary(&run);
            Ok(Some(ExitCode::SUCCESS))
        }
        Err(error) if error.code() == Some("not_found") => Ok(None),
        Err(error) => Err(error.into()),
    }
}

pub(crate) async fn cancel(config: &CairnConfig, id: &str, json: bool) -> anyhow::Result<ExitCode> {
    let run = client(config).cancel_pipeline_run(id).await?;
    if json {
        return print_json(&run);
    }
    println!("run {id}: cancelling (it stops at its next step)");
    Ok(ExitCode::SUCCESS)
}

/// Each step of a run with its timing and what it logged.
pub(crate) async fn logs(config: &CairnConfig, id: &str, json: bool) -> anyhow::Result<ExitCode> {
    let run = client(config).pipeline_run(id).await?;
    if json {
        return print_json(&run.steps);
    }
    for step in &run.steps {
        let took = step
            .finished_at
            .map(|end| format!(" ({:.1} s)", (end.as_micros() - step.started_at.as_micros()) as f64 / 1e6))
            .unwrap_or_default();
        println!("== {} {}{took}", step.started_at, step.step.as_str());
        for line in &step.log {
            println!("   {line}");
        }
    }
    if let Some(error) = &run.error {
        println!("== {}: {error}", run.state.as_str());
    }
    Ok(ExitCode::SUCCESS)
}
