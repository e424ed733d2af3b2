//! Pipelines: declarative specs, applied like feature definitions — a spec that differs from the
//! latest version becomes a new version, an equal one changes nothing — and checked first, so
//! nothing invalid is ever stored. Transport-neutral: the handlers pass a [`PipelineSpec`].

mod store;
mod validate;

use cairn_api::{Action, Pipeline, PipelinePlan, PipelineSpec};
use cairn_client::Client;
use cairn_db::{Database, DbError};

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotFound(String),
    /// A service the check needs did not answer.
    #[error("{0}")]
    Unavailable(String),
    #[error("pipeline `{0}` was applied by someone else meanwhile; plan again")]
    Conflict(String),
    #[error(transparent)]
    Database(#[from] DbError),
}

pub struct Pipelines {
    db: Database,
    ingestion: Client,
    features: Client,
}

impl Pipelines {
    pub fn new(db: Database, ingestion: Client, features: Client) -> Self {
        Self { db, ingestion, features }
    }

    /// What applying `spec` would do, after checking it.
    pub async fn plan(&self, spec: &PipelineSpec) -> Result<PipelinePlan, PipelineError> {
        validate::spec(spec)?;
        validate::sources(spec, &self.ingestion, &self.features).await?;
        let current = store::get(&self.db, spec.name.to_string(), None).await?;
        Ok(plan(spec, current.as_ref()))
    }

    /// Checks `spec` and stores it as a new version when it differs from the latest.
    pub async fn apply(&self, spec: PipelineSpec) -> Result<PipelinePlan, PipelineError> {
        let plan = self.plan(&spec).await?;
        if plan.action != Action::Unchanged && !store::insert(&self.db, &spec, plan.to_version).await? {
            return Err(PipelineError::Conflict(spec.name.to_string()));
        }
        Ok(plan)
    }

    /// Version `version` of `name`, its latest by default.
    pub async fn get(&self, name: &str, version: Option<i64>) -> Result<Pipeline, PipelineError> {
        store::get(&self.db, name.to_owned(), version).await?.ok_or_else(|| {
            PipelineError::NotFound(match version {
                Some(version) => format!("pipeline `{name}` has no version {version}"),
                None => format!("no pipeline `{name}`"),
            })
        })
    }

    pub async fn versions(&self, name: &str) -> Result<Vec<Pipeline>, PipelineError> {
        let versions = store::versions(&self.db, name.to_owned()).await?;
        if versions.is_empty() {
            return Err(PipelineError::NotFound(format!("no pipeline `{name}`")));
        }
        Ok(versions)
    }

    /// The latest version of every pipeline.
    pub async fn list(&self) -> Result<Vec<Pipeline>, PipelineError> {
        Ok(store::latest(&self.db).await?)
    }
}

fn plan(spec: &PipelineSpec, current: Option<&Pipeline>) -> PipelinePlan {
    let Some(current) = current else {
        return PipelinePlan {
            name: spec.name.clone(),
            action: Action::Create,
            from_version: None,
            to_version: 1,
            fields: Vec::new(),
        };
    };
    let fields = differing(&current.spec, spec);
    let (action, to_version) = if fields.is_empty() {
        (Action::Unchanged, current.version)
    } else {
        (Action::NewVersion, current.version + 1)
    };
    PipelinePlan { name: spec.name.clone(), action, from_version: Some(current.version), to_version, fields }
}

/// The top-level parts of two specs that differ.
fn differing(old: &PipelineSpec, new: &PipelineSpec) -> Vec<String> {
    let (old, new) = (serde_json::to_value(old), serde_json::to_value(new));
    let (Ok(serde_json::Value::Object(old)), Ok(serde_json::Value::Object(new))) = (old, new) else {
        return vec!["spec".into()];
    };
    let mut keys: Vec<&String> = old.keys().chain(new.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter().filter(|key| old.get(*key) != new.get(*key)).cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(text: &str) -> PipelineSpec {
        toml::from_str(text).unwrap_or_else(|error| panic!("{error}"))
    }

    const FRAUD: &str = r#"
        name = "fraud"
        [data]
        dataset = "transactions"
        label = "is_fraud"
        [trainer]
        task = "binary"
        builtin = "gbdt"
        params = { num_iterations = 50 }
        [registration]
        model = "fraud"
        alias = "challenger"
    "#;

    #[test]
    fn a_changed_spec_is_a_new_version_and_an_equal_one_changes_nothing() {
        let first = spec(FRAUD);
        assert_eq!(plan(&first, None).action, Action::Create);
        let stored = Pipeline {
            name: first.name.clone(),
            version: 1,
            spec: first.clone(),
            created_at: cairn_domain::Timestamp::now(),
        };
        assert_eq!(plan(&first, Some(&stored)).action, Action::Unchanged);
        let second = spec(&FRAUD.replace("num_iterations = 50", "num_iterations = 80"));
        let changed = plan(&second, Some(&stored));
        assert_eq!(
            (changed.action, changed.to_version, changed.fields),
            (Action::NewVersion, 2, vec!["trainer".into()])
        );
    }

    #[test]
    fn the_readme_pipeline_is_a_valid_spec() {
        let readme = include_str!("../../../README.md");
        let start =
            readme.find("cat > churn.toml <<'TOML'\n").map(|at| at + "cat > churn.toml <<'TOML'\n".len());
        let text = start.and_then(|start| readme[start..].split_once("\nTOML").map(|(text, _)| text));
        let spec = spec(text.unwrap_or_else(|| panic!("the README has no churn.toml")));
        validate::spec(&spec).unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(spec.triggers.len(), 3);
    }

    #[test]
    fn an_invalid_spec_is_refused_with_its_field_named() {
        let refused = |text: String| match validate::spec(&spec(&text)) {
            Err(PipelineError::Invalid(message)) => message,
            other => panic!("{other:?}"),
        };
        assert!(
            refused(FRAUD.replace("num_iterations = 50", "num_leaves = 1")).starts_with("trainer.params")
        );
        assert!(
            refused(FRAUD.replace("builtin = \"gbdt\"", "builtin = \"gbdt\"\ncommand = [\"x\"]"))
                .starts_with("trainer")
        );
        let search = format!(
            "{FRAUD}\n[search]\nstrategy = \"random\"\nspace = {{ learning_rate = {{ log_uniform = [0.0, 0.3] }} }}\n"
        );
        assert!(refused(search).starts_with("search.space.learning_rate"));
        let search =
            format!("{FRAUD}\n[search]\nstrategy = \"grid\"\nspace = {{ colour = {{ choice = [1, 2] }} }}\n");
        assert!(refused(search).starts_with("search.space.colour"));
        let gate = format!(
            "{FRAUD}\n[evaluation]\ngates = [{{ kind = \"threshold\", metric = \"rmse\", max = 2.0 }}]\n"
        );
        assert!(refused(gate).starts_with("evaluation.gates[0].metric"));
        assert!(refused(FRAUD.replace("label = \"is_fraud\"", "label = \"\"")).starts_with("data.label"));
        let serving = format!("{FRAUD}\n[evaluation]\ngates = [{{ kind = \"serving\" }}]\n");
        assert!(refused(serving).starts_with("evaluation.gates[0]"));
        let slice = format!(
            "{FRAUD}\n[evaluation]\ngates = [{{ kind = \"slice\", metric = \"roc_auc\", column = \"region\", max_gap = -1 }}]\n"
        );
        assert!(refused(slice).starts_with("evaluation.gates[0].max_gap"));
        assert!(
            toml::from_str::<PipelineSpec>(&FRAUD.replace("[registration]", "colour = 1\n[registration]"))
                .is_err()
        );
    }
}
