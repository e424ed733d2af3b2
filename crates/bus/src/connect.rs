use std::time::{Duration, Instant};

use async_nats::jetstream;
use cairn_config::NatsConfig;
use cairn_domain::ServiceKind;
use cairn_telemetry::Metrics;

use crate::BusError;

/// A connection to NATS with its JetStream context, owned by one service.
#[derive(Clone)]
pub struct Bus {
    pub(crate) client: async_nats::Client,
    pub(crate) jetstream: jetstream::Context,
    pub(crate) source: ServiceKind,
    pub(crate) metrics: Metrics,
}

impl Bus {
    /// Connects, retrying with exponential backoff for up to `nats.connect_timeout_secs`.
    /// After the first connection the client reconnects by itself, forever.
    pub async fn connect(
        config: &NatsConfig,
        source: ServiceKind,
        metrics: Metrics,
    ) -> Result<Self, BusError> {
        let deadline = Instant::now() + Duration::from_secs(config.connect_timeout_secs);
        let mut backoff = Duration::from_millis(50);
        loop {
            match options(config, source).await?.connect(config.url.as_str()).await {
                Ok(client) => {
                    let jetstream = jetstream::new(client.clone());
                    return Ok(Self { client, jetstream, source, metrics });
                }
                Err(error) if Instant::now() + backoff < deadline => {
                    tracing::warn!(%error, retry_in = ?backoff, "NATS not reachable yet");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(2));
                }
                Err(error) => {
                    return Err(BusError::Connect {
                        url: cairn_config::redact_url(&config.url),
                        seconds: config.connect_timeout_secs,
                        reason: error.to_string(),
                    });
                }
            }
        }
    }

    /// Whether the client currently holds a live connection to a server.
    pub fn is_connected(&self) -> bool {
        matches!(self.client.connection_state(), async_nats::connection::State::Connected)
    }

    pub fn client(&self) -> &async_nats::Client {
        &self.client
    }

    pub fn jetstream(&self) -> &jetstream::Context {
        &self.jetstream
    }

    pub fn source(&self) -> ServiceKind {
        self.source
    }

    /// Waits until everything published so far has reached the server.
    pub async fn flush(&self) -> Result<(), BusError> {
        self.client
            .flush()
            .await
            .map_err(|error| BusError::Publish { subject: "(flush)".into(), reason: error.to_string() })
    }
}

async fn options(config: &NatsConfig, source: ServiceKind) -> Result<async_nats::ConnectOptions, BusError> {
    let mut options = async_nats::ConnectOptions::new()
        .name(format!("cairn-{source}"))
        .connection_timeout(Duration::from_secs(5))
        .max_reconnects(None)
        .event_callback(move |event| async move {
            match event {
                async_nats::Event::Disconnected => tracing::warn!(service = %source, "NATS disconnected"),
                async_nats::Event::Connected => tracing::info!(service = %source, "NATS connected"),
                other => tracing::debug!(service = %source, event = %other, "NATS event"),
            }
        });
    if let (Some(user), Some(password)) = (&config.user, config.password.expose()) {
        options = options.user_and_password(user.clone(), password.to_owned());
    }
    if let Some(token) = config.token.expose() {
        options = options.token(token.to_owned());
    }
    if let Some(path) = &config.creds_file {
        options = options
            .credentials_file(path)
            .await
            .map_err(|error| BusError::Credentials(format!("{}: {error}", path.display())))?;
    }
    // The workspace links two rustls crypto back ends (ring for NATS, aws-lc-rs for the object
    // store's S3 client), so rustls cannot pick one by itself: NATS TLS uses ring. Installing
    // fails harmlessly when a provider is already in place.
    let _ = rustls::crypto::ring::default_provider().install_default();
    if let Some(ca) = &config.tls_ca_file {
        options = options.add_root_certificates(ca.clone());
    }
    if let (Some(cert), Some(key)) = (&config.tls_cert_file, &config.tls_key_file) {
        options = options.add_client_certificate(cert.clone(), key.clone());
    }
    Ok(options.require_tls(config.require_tls))
}
