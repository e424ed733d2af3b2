#![doc = include_str!("../README.md")]

use std::time::Duration;

use cairn_api::{
    AliasAt, AliasRequest, ApplyRequest, AuditEntry, Batch, BatchPage, Dataset, DatasetVersion, Decision,
    Definitions, Endpoint, EndpointMonitor, EndpointSpec, Entity, ErrorBody, FeatureService, FeatureView,
    Health, LoopEvent, LoopPolicy, LoopStatus, Materialization, MaterializeRequest, Model, ModelVersion,
    NewAliasRequest, NewDataset, NewImport, NewPipelineRun, OnlineRequest, OnlineResponse, Pipeline,
    PipelinePlan, PipelineRun, PipelineSpec, Plan, Readiness, Run, RunPage, ScoringJob, ScoringRequest,
    SourceDataset, TrainedModel, TrainingData, TrainingDataRequest, VersionPage,
};
use cairn_domain::{Schema, Timestamp};
use serde::Serialize;
use serde::de::DeserializeOwned;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{status}: {} ({})", .body.error.message, .body.error.code)]
    Api { status: u16, body: ErrorBody },
    #[error("unexpected {status} response: {text}")]
    Unexpected { status: u16, text: String },
    #[error("cannot reach {url}: {source}")]
    Transport { url: String, source: reqwest::Error },
}

impl ClientError {
    /// The HTTP status, when the server answered (in the platform's error shape or another,
    /// such as MLflow's).
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Api { status, .. } | ClientError::Unexpected { status, .. } => Some(*status),
            ClientError::Transport { .. } => None,
        }
    }

    /// The platform error code, when the server answered with one.
    pub fn code(&self) -> Option<&str> {
        match self {
            ClientError::Api { body, .. } => Some(&body.error.code),
            _ => None,
        }
    }
}

const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A client for one service, addressed by its base URL (`http://127.0.0.1:7410`).
#[derive(Debug, Clone)]
pub struct Client {
    base: String,
    http: reqwest::Client,
    traceparent: Option<String>,
    /// User and token, sent as HTTP basic auth (the registry with `registry.tokens`).
    credentials: Option<(String, String)>,
}

impl Client {
    pub fn new(base: impl Into<String>) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        Self {
            base: base.into().trim_end_matches('/').to_owned(),
            http,
            traceparent: None,
            credentials: None,
        }
    }

    /// Authenticates every request as `user` with `token` (HTTP basic auth).
    pub fn with_credentials(mut self, user: impl Into<String>, token: impl Into<String>) -> Self {
        self.credentials = Some((user.into(), token.into()));
        self
    }

    /// Sends `traceparent` with every request, so the server continues that trace.
    pub fn with_traceparent(mut self, traceparent: impl Into<String>) -> Self {
        self.traceparent = Some(traceparent.into());
        self
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    pub async fn health(&self) -> Result<Health, ClientError> {
        self.get("/healthz").await
    }

    /// The readiness report; a 503 is an answer here, not an error.
    pub async fn readiness(&self) -> Result<Readiness, ClientError> {
        let response = self.send(self.http.get(self.url("/readyz"))).await?;
        if response.status().as_u16() == 503 {
            return decode(response).await;
        }
        read(response).await
    }

    pub async fn create_dataset(&self, dataset: &NewDataset) -> Result<Dataset, ClientError> {
        self.post("/v1/datasets", dataset).await
    }

    pub async fn dataset(&self, name: &str) -> Result<Dataset, ClientError> {
        self.get(&format!("/v1/datasets/{name}")).await
    }

    pub async fn datasets(&self) -> Result<Vec<Dataset>, ClientError> {
        self.get("/v1/datasets").await
    }

    /// Ingests one batch; `content_type` is `text/csv`, `application/x-ndjson` or
    /// `application/vnd.apache.parquet`. No time limit: a large upload takes as long as it takes.
    pub async fn ingest(
        &self,
        dataset: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> Result<Batch, ClientError> {
        let request = self.http.post(self.url(&format!("/v1/datasets/{dataset}/batches")));
        read(self.send_unlimited(request.header("content-type", content_type).body(body)).await?).await
    }

    /// Every batch of a dataset, oldest first, read page after page.
    pub async fn batches(&self, dataset: &str) -> Result<Vec<Batch>, ClientError> {
        every_page(|page| async move {
            let BatchPage { batches, next_page_token } = self.batches_page(dataset, &page).await?;
            Ok((batches, next_page_token))
        })
        .await
    }

    /// One page of a dataset's batches, oldest first.
    pub async fn batches_page(&self, dataset: &str, page: &PageQuery) -> Result<BatchPage, ClientError> {
        self.get(&format!("/v1/datasets/{dataset}/batches{}", page.query())).await
    }

    /// Every version of a dataset, oldest first, read page after page.
    pub async fn versions(&self, dataset: &str) -> Result<Vec<DatasetVersion>, ClientError> {
        every_page(|page| async move {
            let VersionPage { versions, next_page_token } = self.versions_page(dataset, &page).await?;
            Ok((versions, next_page_token))
        })
        .await
    }

    /// One page of a dataset's versions, oldest first.
    pub async fn versions_page(&self, dataset: &str, page: &PageQuery) -> Result<VersionPage, ClientError> {
        self.get(&format!("/v1/datasets/{dataset}/versions{}", page.query())).await
    }

    pub async fn version(&self, dataset: &str, version: i64) -> Result<DatasetVersion, ClientError> {
        self.get(&format!("/v1/datasets/{dataset}/versions/{version}")).await
    }

    /// The latest version of a dataset.
    pub async fn latest_version(&self, dataset: &str) -> Result<DatasetVersion, ClientError> {
        self.get(&format!("/v1/datasets/{dataset}/versions/latest")).await
    }

    /// The version of `dataset` that holds the rows job `id` computed (the feature store's
    /// training data, serving's scoring job), once ingestion has added them.
    pub async fn version_holding(
        &self,
        dataset: &str,
        id: &str,
    ) -> Result<Option<DatasetVersion>, ClientError> {
        let versions = self.versions(dataset).await?;
        Ok(versions
            .into_iter()
            .find(|version| version.lineage.as_ref().is_some_and(|lineage| lineage.training_data == id)))
    }

    /// The version that was the latest at `time`: the dataset as a reader saw it then.
    pub async fn version_as_of(&self, dataset: &str, time: Timestamp) -> Result<DatasetVersion, ClientError> {
        self.get(&format!("/v1/datasets/{dataset}/versions/latest?as_of={time}")).await
    }

    /// Streams records into a dataset (JetStream stores them before this answers); they become
    /// a version at the next snapshot. Returns how many were accepted.
    pub async fn publish_records(
        &self,
        dataset: &str,
        records: &[serde_json::Value],
    ) -> Result<u64, ClientError> {
        let accepted: serde_json::Value =
            self.post(&format!("/v1/datasets/{}/records", segment(dataset)), records).await?;
        Ok(accepted["accepted"].as_u64().unwrap_or(0))
    }

    /// Makes streamed records a new version; `None` when nothing arrived since the last one.
    pub async fn snapshot(&self, dataset: &str) -> Result<Option<DatasetVersion>, ClientError> {
        let request = self.http.post(self.url(&format!("/v1/datasets/{dataset}/snapshots")));
        let response = self.send(request).await?;
        if response.status().as_u16() == 204 {
            return Ok(None);
        }
        read(response).await.map(Some)
    }

    /// Ingests a batch from a URL the service reads itself (S3, HTTP(S), an allowed local path).
    pub async fn import(&self, dataset: &str, import: &NewImport) -> Result<Batch, ClientError> {
        let request = self.http.post(self.url(&format!("/v1/datasets/{dataset}/imports"))).json(import);
        read(self.send_unlimited(request).await?).await
    }

    /// Replaces a dataset's schema with one that appends nullable columns.
    pub async fn evolve_schema(&self, dataset: &str, schema: &Schema) -> Result<Dataset, ClientError> {
        let request = self.http.put(self.url(&format!("/v1/datasets/{dataset}/schema"))).json(schema);
        read(self.send(request).await?).await
    }

    pub async fn source_dataset(&self, name: &str) -> Result<SourceDataset, ClientError> {
        self.get(&format!("/v1/sources/{name}")).await
    }

    /// Registered models with their versions (registry).
    pub async fn models(&self) -> Result<Vec<Model>, ClientError> {
        self.get("/v1/models").await
    }

    pub async fn model(&self, name: &str) -> Result<Model, ClientError> {
        self.get(&format!("/v1/models/{}", segment(name))).await
    }

    /// A model version with its lineage.
    pub async fn model_version(&self, name: &str, version: i64) -> Result<ModelVersion, ClientError> {
        self.get(&format!("/v1/models/{}/versions/{version}", segment(name))).await
    }

    /// A version's model card, `markdown` or `html`.
    pub async fn model_card(&self, name: &str, version: i64, format: &str) -> Result<String, ClientError> {
        self.text(&format!("/v1/models/{}/versions/{version}/card?format={format}", segment(name))).await
    }

    /// A GET answered with text (a model card, an HTML report, Prometheus metrics).
    pub async fn text(&self, path: &str) -> Result<String, ClientError> {
        let response = self.send(self.http.get(self.url(path))).await?;
        if response.status().is_success() {
            return Ok(response.text().await.unwrap_or_default());
        }
        Err(failure(response).await)
    }

    /// The version `alias` pointed at at `at` (now when `None`), with its history.
    pub async fn alias_at(
        &self,
        name: &str,
        alias: &str,
        at: Option<Timestamp>,
    ) -> Result<AliasAt, ClientError> {
        let mut path = format!("/v1/models/{}/aliases/{}", segment(name), segment(alias));
        if let Some(at) = at {
            path.push_str(&format!("?at={}", segment(&at.to_string())));
        }
        self.get(&path).await
    }

    /// The registry's audit log, oldest first.
    pub async fn audit(
        &self,
        entity: Option<&str>,
        after: i64,
        limit: i64,
    ) -> Result<Vec<AuditEntry>, ClientError> {
        let mut path = format!("/v1/audit?after={after}&limit={limit}");
        if let Some(entity) = entity {
            path.push_str(&format!("&entity={}", segment(entity)));
        }
        self.get(&path).await
    }

    /// Runs of the experiment `experiment`, filtered and ordered with MLflow's grammar.
    pub async fn runs(&self, experiment: &str, search: &RunQuery) -> Result<RunPage, ClientError> {
        let mut path = format!("/v1/runs?experiment={}", segment(experiment));
        for (name, value) in [
            ("filter", search.filter.as_deref()),
            ("order_by", search.order_by.as_deref()),
            ("page_token", search.page_token.as_deref()),
        ] {
            if let Some(value) = value.filter(|value| !value.is_empty()) {
                path.push_str(&format!("&{name}={}", segment(value)));
            }
        }
        if let Some(max_results) = search.max_results {
            path.push_str(&format!("&max_results={max_results}"));
        }
        self.get(&path).await
    }

    /// One run with its data, code and the model versions registered from it.
    pub async fn run(&self, run_id: &str) -> Result<Run, ClientError> {
        self.get(&format!("/v1/runs/{}", segment(run_id))).await
    }

    /// What applying `definitions` to the feature store would do.
    pub async fn plan_features(&self, definitions: &Definitions) -> Result<Plan, ClientError> {
        let request = ApplyRequest { definitions: definitions.clone(), plan_digest: None };
        self.post("/v1/features/plan", &request).await
    }

    /// Applies `definitions`; with `plan_digest`, only if the plan is still that one.
    pub async fn apply_features(
        &self,
        definitions: &Definitions,
        plan_digest: Option<String>,
    ) -> Result<Plan, ClientError> {
        let request = ApplyRequest { definitions: definitions.clone(), plan_digest };
        self.post("/v1/features/apply", &request).await
    }

    pub async fn entities(&self) -> Result<Vec<Entity>, ClientError> {
        self.get("/v1/entities").await
    }

    /// The latest version of every feature view.
    pub async fn feature_views(&self) -> Result<Vec<FeatureView>, ClientError> {
        self.get("/v1/feature-views").await
    }

    pub async fn feature_view_versions(&self, name: &str) -> Result<Vec<FeatureView>, ClientError> {
        self.get(&format!("/v1/feature-views/{}/versions", segment(name))).await
    }

    /// The latest version of every feature service.
    pub async fn feature_services(&self) -> Result<Vec<FeatureService>, ClientError> {
        self.get("/v1/feature-services").await
    }

    pub async fn feature_service_versions(&self, name: &str) -> Result<Vec<FeatureService>, ClientError> {
        self.get(&format!("/v1/feature-services/{}/versions", segment(name))).await
    }

    /// Starts a materialization of feature view `name` (see [`MaterializeRequest`]).
    pub async fn materialize(
        &self,
        name: &str,
        request: &MaterializeRequest,
    ) -> Result<Materialization, ClientError> {
        self.post(&format!("/v1/feature-views/{}/materialize", segment(name)), request).await
    }

    pub async fn materialization(&self, id: &str) -> Result<Materialization, ClientError> {
        self.get(&format!("/v1/materializations/{}", segment(id))).await
    }

    /// The latest materializations of feature view `name`, newest first.
    pub async fn materializations(&self, name: &str) -> Result<Vec<Materialization>, ClientError> {
        self.get(&format!("/v1/feature-views/{}/materializations", segment(name))).await
    }

    /// Training data written as a new version of `request.dataset` (added by ingestion shortly
    /// after: the version whose lineage names the answer's id).
    pub async fn training_data(&self, request: &TrainingDataRequest) -> Result<TrainingData, ClientError> {
        self.post("/v1/training-data", request).await
    }

    /// Online features, as Feast's feature server answers `POST /get-online-features`.
    pub async fn online_features(&self, request: &OnlineRequest) -> Result<OnlineResponse, ClientError> {
        self.post("/get-online-features", request).await
    }

    /// Training data: `entities` (a Parquet file of join keys and a time column, or nothing with
    /// `entity_dataset`) with the
    /// features of `features` (`view:feature`) or `feature_service` joined as of each row's
    /// time, as Parquet bytes, and the view versions joined (`view@version`).
    pub async fn historical_features(
        &self,
        request: &HistoricalRequest,
        entities: impl Into<reqwest::Body>,
    ) -> Result<(bytes::Bytes, Vec<String>), ClientError> {
        let mut query: Vec<(&str, String)> = Vec::new();
        if !request.features.is_empty() {
            query.push(("features", request.features.join(",")));
        }
        if let Some(service) = &request.feature_service {
            query.push(("feature_service", service.clone()));
        }
        if request.full_feature_names {
            query.push(("full_feature_names", "true".into()));
        }
        if let Some(time) = &request.entity_timestamp {
            query.push(("entity_timestamp", time.clone()));
        }
        if let Some(dataset) = &request.entity_dataset {
            query.push(("entity_dataset", dataset.clone()));
        }
        if let Some(version) = request.entity_version {
            query.push(("entity_version", version.to_string()));
        }
        if let Some(start) = request.start {
            query.push(("start", start.to_string()));
        }
        if let Some(end) = request.end {
            query.push(("end", end.to_string()));
        }
        let http = self
            .http
            .post(self.url("/v1/historical-features"))
            .query(&query)
            .header("content-type", "application/vnd.apache.parquet")
            .body(entities);
        let response = self.send_unlimited(http).await?;
        if !response.status().is_success() {
            return Err(failure(response).await);
        }
        let views = response
            .headers()
            .get("cairn-feature-views")
            .and_then(|value| value.to_str().ok())
            .map(|value| value.split(',').filter(|v| !v.is_empty()).map(str::to_owned).collect())
            .unwrap_or_default();
        let url = self.base.clone();
        let body = response.bytes().await.map_err(|source| ClientError::Transport { url, source })?;
        Ok((body, views))
    }

    /// Model versions trained on a dataset version.
    pub async fn trained_on(&self, dataset: &str, version: i64) -> Result<Vec<TrainedModel>, ClientError> {
        self.get(&format!("/v1/lineage/datasets/{}/versions/{version}", segment(dataset))).await
    }

    /// Points `alias` of `model` at `version` (MLflow's `registered-models/alias`); a protected
    /// alias refuses (403), and moves by [`Client::request_alias_move`] instead.
    pub async fn set_alias(&self, model: &str, alias: &str, version: i64) -> Result<(), ClientError> {
        let body = serde_json::json!({"name": model, "alias": alias, "version": version.to_string()});
        self.post::<_, serde_json::Value>("/api/2.0/mlflow/registered-models/alias", &body).await.map(drop)
    }

    /// Protects (or with `false` unprotects) an alias: approvers only.
    pub async fn protect_alias(&self, name: &str, alias: &str, protected: bool) -> Result<(), ClientError> {
        let url = self.url(&format!("/v1/models/{}/aliases/{}/protection", segment(name), segment(alias)));
        let request = if protected { self.http.put(url) } else { self.http.delete(url) };
        let response = self.send(request).await?;
        if response.status().is_success() {
            return Ok(());
        }
        Err(failure(response).await)
    }

    /// Asks for a protected alias to move to `version`.
    pub async fn request_alias_move(
        &self,
        name: &str,
        alias: &str,
        request: &NewAliasRequest,
    ) -> Result<AliasRequest, ClientError> {
        self.post(&format!("/v1/models/{}/aliases/{}/requests", segment(name), segment(alias)), request).await
    }

    /// Requests to move protected aliases, in `state` when given.
    pub async fn approvals(&self, state: Option<&str>) -> Result<Vec<AliasRequest>, ClientError> {
        match state {
            Some(state) => self.get(&format!("/v1/approvals?state={}", segment(state))).await,
            None => self.get("/v1/approvals").await,
        }
    }

    /// Approves (`true`) or rejects a request.
    pub async fn decide(
        &self,
        id: &str,
        approve: bool,
        decision: &Decision,
    ) -> Result<AliasRequest, ClientError> {
        let verb = if approve { "approve" } else { "reject" };
        self.post(&format!("/v1/approvals/{}/{verb}", segment(id)), decision).await
    }

    /// Every endpoint of the serving service.
    pub async fn endpoints(&self) -> Result<Vec<Endpoint>, ClientError> {
        self.get("/v1/endpoints").await
    }

    pub async fn endpoint(&self, name: &str) -> Result<Endpoint, ClientError> {
        self.get(&format!("/v1/endpoints/{}", segment(name))).await
    }

    /// Creates or changes an endpoint; the answer says whether the serving replica serves it.
    pub async fn put_endpoint(&self, name: &str, spec: &EndpointSpec) -> Result<Endpoint, ClientError> {
        let url = self.url(&format!("/v1/endpoints/{}", segment(name)));
        // Loading a large model may take longer than an ordinary request.
        read(self.send_unlimited(self.http.put(url).json(spec)).await?).await
    }

    pub async fn delete_endpoint(&self, name: &str) -> Result<(), ClientError> {
        let url = self.url(&format!("/v1/endpoints/{}", segment(name)));
        let response = self.send(self.http.delete(url)).await?;
        if response.status().is_success() { Ok(()) } else { Err(failure(response).await) }
    }

    /// What the monitor sees of an endpoint's prediction log: open windows and the latest
    /// `limit` closed ones.
    pub async fn endpoint_monitor(&self, endpoint: &str, limit: i64) -> Result<EndpointMonitor, ClientError> {
        self.get(&format!("/v1/monitor/endpoints/{}?limit={limit}", segment(endpoint))).await
    }

    /// An endpoint's drift and performance report (one HTML page).
    pub async fn endpoint_report(&self, endpoint: &str) -> Result<String, ClientError> {
        self.text(&format!("/v1/monitor/endpoints/{}/report", segment(endpoint))).await
    }

    /// Sets an endpoint's continuous-training loop (the monitor).
    pub async fn put_loop(&self, endpoint: &str, policy: &LoopPolicy) -> Result<LoopStatus, ClientError> {
        let url = self.url(&format!("/v1/loops/{}", segment(endpoint)));
        read(self.send(self.http.put(url).json(policy)).await?).await
    }

    pub async fn loop_status(&self, endpoint: &str) -> Result<LoopStatus, ClientError> {
        self.get(&format!("/v1/loops/{}", segment(endpoint))).await
    }

    pub async fn loops(&self) -> Result<Vec<LoopStatus>, ClientError> {
        self.get("/v1/loops").await
    }

    pub async fn delete_loop(&self, endpoint: &str) -> Result<(), ClientError> {
        let url = self.url(&format!("/v1/loops/{}", segment(endpoint)));
        let response = self.send(self.http.delete(url)).await?;
        if response.status().is_success() { Ok(()) } else { Err(failure(response).await) }
    }

    /// A loop's decisions, oldest first (the latest `limit`).
    pub async fn loop_history(&self, endpoint: &str, limit: i64) -> Result<Vec<LoopEvent>, ClientError> {
        self.get(&format!("/v1/loops/{}/history?limit={limit}", segment(endpoint))).await
    }

    /// Starts a batch scoring job on the serving service.
    pub async fn score(&self, request: &ScoringRequest) -> Result<ScoringJob, ClientError> {
        // Loading the model version first may take longer than an ordinary request.
        read(self.send_unlimited(self.http.post(self.url("/v1/scoring-jobs")).json(request)).await?).await
    }

    pub async fn scoring_job(&self, id: &str) -> Result<ScoringJob, ClientError> {
        self.get(&format!("/v1/scoring-jobs/{}", segment(id))).await
    }

    /// What applying a pipeline spec would do (the training service).
    pub async fn plan_pipeline(&self, spec: &PipelineSpec) -> Result<PipelinePlan, ClientError> {
        self.post("/v1/pipelines/plan", spec).await
    }

    /// Applies a pipeline spec: a new version when it differs from the latest.
    pub async fn apply_pipeline(&self, spec: &PipelineSpec) -> Result<PipelinePlan, ClientError> {
        self.post("/v1/pipelines", spec).await
    }

    pub async fn pipelines(&self) -> Result<Vec<Pipeline>, ClientError> {
        self.get("/v1/pipelines").await
    }

    pub async fn pipeline(&self, name: &str) -> Result<Pipeline, ClientError> {
        self.get(&format!("/v1/pipelines/{}", segment(name))).await
    }

    /// Starts a run of a pipeline.
    pub async fn start_pipeline_run(
        &self,
        name: &str,
        request: &NewPipelineRun,
    ) -> Result<PipelineRun, ClientError> {
        self.post(&format!("/v1/pipelines/{}/runs", segment(name)), request).await
    }

    pub async fn pipeline_run(&self, id: &str) -> Result<PipelineRun, ClientError> {
        self.get(&format!("/v1/pipeline-runs/{}", segment(id))).await
    }

    /// The latest pipeline runs (of one pipeline), newest first.
    pub async fn pipeline_runs(
        &self,
        pipeline: Option<&str>,
        limit: i64,
    ) -> Result<Vec<PipelineRun>, ClientError> {
        let filter = pipeline.map(|name| format!("&pipeline={}", segment(name))).unwrap_or_default();
        self.get(&format!("/v1/pipeline-runs?limit={limit}{filter}")).await
    }

    /// Runs a pipeline run again on the same data, split, trials and seeds.
    pub async fn reproduce_pipeline_run(&self, id: &str) -> Result<PipelineRun, ClientError> {
        self.post(&format!("/v1/pipeline-runs/{}/reproduce", segment(id)), &serde_json::json!({})).await
    }

    pub async fn cancel_pipeline_run(&self, id: &str) -> Result<PipelineRun, ClientError> {
        self.post(&format!("/v1/pipeline-runs/{}/cancel", segment(id)), &serde_json::json!({})).await
    }

    /// A file of the registry's artifact store, whole (MLflow's artifact API, `path` as the
    /// store names it). The registry checks the file's hash as it sends it.
    pub async fn artifact(&self, path: &str) -> Result<bytes::Bytes, ClientError> {
        let path: Vec<String> = path.split('/').map(segment).collect();
        let url = self.url(&format!("/api/2.0/mlflow-artifacts/artifacts/{}", path.join("/")));
        let response = self.send_unlimited(self.http.get(url)).await?;
        if !response.status().is_success() {
            return Err(failure(response).await);
        }
        response.bytes().await.map_err(|source| ClientError::Transport { url: self.base.clone(), source })
    }

    /// Stores `bytes` as a file of the registry's artifact store (MLflow's artifact API).
    pub async fn upload_artifact(&self, path: &str, bytes: Vec<u8>) -> Result<(), ClientError> {
        let path: Vec<String> = path.split('/').map(segment).collect();
        let url = self.url(&format!("/api/2.0/mlflow-artifacts/artifacts/{}", path.join("/")));
        let response = self.send_unlimited(self.http.put(url).body(bytes)).await?;
        if !response.status().is_success() {
            return Err(failure(response).await);
        }
        Ok(())
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        read(self.send(self.http.get(self.url(path))).await?).await
    }

    pub async fn post<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ClientError> {
        read(self.send(self.http.post(self.url(path)).json(body)).await?).await
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends with the ordinary time limit (requests, not uploads).
    async fn send(&self, request: reqwest::RequestBuilder) -> Result<reqwest::Response, ClientError> {
        self.send_unlimited(request.timeout(REQUEST_TIMEOUT)).await
    }

    async fn send_unlimited(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, ClientError> {
        let request = match &self.traceparent {
            Some(traceparent) => request.header("traceparent", traceparent),
            None => request,
        };
        let request = match &self.credentials {
            Some((user, token)) => request.basic_auth(user, Some(token)),
            None => request,
        };
        request.send().await.map_err(|source| ClientError::Transport { url: self.base.clone(), source })
    }
}

/// What historical retrieval joins: `features` (`view:feature`) or a feature service.
#[derive(Debug, Clone, Default)]
pub struct HistoricalRequest {
    pub features: Vec<String>,
    pub feature_service: Option<String>,
    pub full_feature_names: bool,
    /// The entity rows' time column; `event_timestamp` in an uploaded file and the dataset's
    /// event time in `entity_dataset` by default.
    pub entity_timestamp: Option<String>,
    /// Entity rows from a version of this dataset (send an empty body); its latest version
    /// without `entity_version`.
    pub entity_dataset: Option<String>,
    pub entity_version: Option<i64>,
    /// Instead of entity rows: the first view's rows with event times in `[start, end)`.
    pub start: Option<Timestamp>,
    pub end: Option<Timestamp>,
}

/// What `runs` asks for besides the experiment.
#[derive(Debug, Clone, Default)]
pub struct RunQuery {
    /// MLflow's filter grammar, e.g. `metrics.auc > 0.8`.
    pub filter: Option<String>,
    /// One ordering, e.g. `metrics.auc DESC`.
    pub order_by: Option<String>,
    pub max_results: Option<i64>,
    pub page_token: Option<String>,
}

/// Which page of a list to read: at most `max_results` items (the server's default without it),
/// after the page whose `next_page_token` is `page_token` (the first page without it).
#[derive(Debug, Clone, Default)]
pub struct PageQuery {
    pub max_results: Option<i64>,
    pub page_token: Option<String>,
}

impl PageQuery {
    /// `?max_results=…&page_token=…`, or nothing.
    fn query(&self) -> String {
        let mut pairs = Vec::new();
        if let Some(max_results) = self.max_results {
            pairs.push(format!("max_results={max_results}"));
        }
        if let Some(token) = &self.page_token {
            pairs.push(format!("page_token={}", segment(token)));
        }
        if pairs.is_empty() { String::new() } else { format!("?{}", pairs.join("&")) }
    }
}

/// A path segment or query value, percent-encoded.
fn segment(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>().replace('+', "%20")
}

async fn read<T: DeserializeOwned>(response: reqwest::Response) -> Result<T, ClientError> {
    if response.status().is_success() {
        return decode(response).await;
    }
    Err(failure(response).await)
}

/// An unsuccessful response as an error: the platform's error body, or what came instead.
async fn failure(response: reqwest::Response) -> ClientError {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    match serde_json::from_str::<ErrorBody>(&text) {
        Ok(body) => ClientError::Api { status, body },
        Err(_) => ClientError::Unexpected { status, text },
    }
}

async fn decode<T: DeserializeOwned>(response: reqwest::Response) -> Result<T, ClientError> {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    serde_json::from_str(&text)
        .map_err(|error| ClientError::Unexpected { status, text: format!("{error}: {text}") })
}

/// Every item of a paged list: `fetch` reads one page (its items and the next page's token) and
/// is called again with that token until there is none.
async fn every_page<T, F, Fut>(mut fetch: F) -> Result<Vec<T>, ClientError>
where
    F: FnMut(PageQuery) -> Fut,
    Fut: std::future::Future<Output = Result<(Vec<T>, Option<String>), ClientError>>,
{
    let mut all = Vec::new();
    let mut page = PageQuery::default();
    loop {
        let (items, next_page_token) = fetch(page.clone()).await?;
        all.extend(items);
        match next_page_token {
            Some(token) => page.page_token = Some(token),
            None => return Ok(all),
        }
    }
}
