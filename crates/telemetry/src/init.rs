use std::io::IsTerminal;
use std::sync::OnceLock;

use cairn_config::{LogFormat, TelemetryConfig};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("telemetry.log_level: {0}")]
    Filter(#[from] tracing_subscriber::filter::ParseError),
    #[error("telemetry.otlp_endpoint: cannot build the OTLP exporter: {0}")]
    Exporter(String),
}

/// Flushes exported spans when dropped; keep it alive for the life of the process.
#[derive(Clone)]
pub struct TelemetryGuard {
    provider: SdkTracerProvider,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        // Only the last clone flushes: the provider is shared.
        let _ = self.provider.force_flush();
    }
}

static INSTALLED: OnceLock<TelemetryGuard> = OnceLock::new();

/// Installs logging and tracing for this process. Idempotent: several services started in one
/// process (`cairn up`, tests) share the first installation.
pub fn init(service: &str, config: &TelemetryConfig) -> Result<TelemetryGuard, TelemetryError> {
    if let Some(guard) = INSTALLED.get() {
        return Ok(guard.clone());
    }
    let filter = EnvFilter::builder().parse(&config.log_level)?;
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());

    let mut builder = SdkTracerProvider::builder()
        .with_resource(Resource::builder().with_service_name(service.to_owned()).build());
    if !config.otlp_endpoint.is_empty() {
        builder = builder.with_batch_exporter(otlp_exporter(&config.otlp_endpoint)?);
    }
    let provider = builder.build();
    opentelemetry::global::set_tracer_provider(provider.clone());
    let otel =
        tracing_opentelemetry::layer().with_tracer(provider.tracer("cairn")).with_filter(LevelFilter::INFO);

    let json = match config.log_format {
        LogFormat::Json => true,
        LogFormat::Text => false,
        LogFormat::Auto => !std::io::stderr().is_terminal(),
    };
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let fmt = if json { fmt.json().flatten_event(true).boxed() } else { fmt.boxed() };

    // Another subscriber may already be installed (a test harness); then ours is not needed.
    let _ = tracing_subscriber::registry().with(fmt.with_filter(filter)).with(otel).try_init();
    Ok(INSTALLED.get_or_init(|| TelemetryGuard { provider }).clone())
}

fn otlp_exporter(endpoint: &str) -> Result<opentelemetry_otlp::SpanExporter, TelemetryError> {
    use opentelemetry_otlp::WithExportConfig as _;

    let endpoint = endpoint.trim_end_matches('/');
    let url =
        if endpoint.ends_with("/v1/traces") { endpoint.to_owned() } else { format!("{endpoint}/v1/traces") };
    // The blocking HTTP client must not be created on an async runtime thread.
    std::thread::spawn(move || {
        opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_endpoint(url)
            .build()
            .map_err(|error| TelemetryError::Exporter(error.to_string()))
    })
    .join()
    .map_err(|_| TelemetryError::Exporter("exporter thread panicked".into()))?
}
