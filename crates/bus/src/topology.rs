use async_nats::jetstream::{self, consumer, stream};
use cairn_events::topology::{CONSUMERS, ConsumerSpec, STREAMS, StreamSpec};
use futures::TryStreamExt as _;

use crate::{Bus, BusError};

impl Bus {
    /// Creates or updates every platform stream and durable consumer. Safe to run from every
    /// service at every start, concurrently.
    pub async fn ensure_topology(&self) -> Result<(), BusError> {
        for spec in STREAMS {
            self.ensure_stream(spec).await?;
        }
        for spec in CONSUMERS {
            self.ensure_consumer(spec).await?;
        }
        Ok(())
    }

    /// Names of declared streams the server does not have (for readiness).
    pub async fn missing_streams(&self) -> Result<Vec<&'static str>, BusError> {
        let names: Vec<String> = self
            .jetstream
            .stream_names()
            .try_collect()
            .await
            .map_err(|e| BusError::Stream { stream: "(list)".into(), reason: e.to_string() })?;
        Ok(STREAMS.iter().map(|spec| spec.name).filter(|name| !names.iter().any(|n| n == name)).collect())
    }

    async fn ensure_stream(&self, spec: &StreamSpec) -> Result<stream::Stream, BusError> {
        let config = stream_config(spec);
        let error = |reason: String| BusError::Stream { stream: spec.name.into(), reason };
        match self.jetstream.get_stream(spec.name).await {
            Ok(mut existing) => {
                let current = existing.info().await.map_err(|e| error(e.to_string()))?.config.clone();
                let unchanged = current.subjects == config.subjects
                    && current.max_age == config.max_age
                    && current.duplicate_window == config.duplicate_window
                    && current.description == config.description;
                if !unchanged {
                    self.jetstream.update_stream(config).await.map_err(|e| error(e.to_string()))?;
                }
                Ok(existing)
            }
            Err(_) => match self.jetstream.create_stream(config.clone()).await {
                Ok(created) => Ok(created),
                // Another service created it between our lookup and create.
                Err(_) => self.jetstream.get_stream(spec.name).await.map_err(|e| error(e.to_string())),
            },
        }
    }

    pub(crate) async fn ensure_consumer(
        &self,
        spec: &ConsumerSpec,
    ) -> Result<consumer::Consumer<consumer::pull::Config>, BusError> {
        let error = |reason: String| BusError::Consumer { consumer: spec.durable.into(), reason };
        let stream = self
            .jetstream
            .get_stream_no_info(spec.stream)
            .await
            .map_err(|e| error(format!("stream {}: {e}", spec.stream)))?;
        let config = consumer::pull::Config {
            durable_name: Some(spec.durable.to_owned()),
            filter_subject: spec.filter_subject.to_owned(),
            ack_policy: consumer::AckPolicy::Explicit,
            ack_wait: spec.ack_wait,
            max_deliver: spec.max_deliver,
            deliver_policy: consumer::DeliverPolicy::All,
            ..Default::default()
        };
        // Creating an existing durable with changed settings updates those the server allows
        // (ack wait, max deliver, ...); an unchangeable difference keeps the existing consumer.
        match stream.create_consumer(config).await {
            Ok(consumer) => Ok(consumer),
            Err(create) => stream.get_consumer(spec.durable).await.map_err(|_| error(create.to_string())).inspect(
                |_| tracing::warn!(consumer = spec.durable, error = %create, "kept the existing consumer's settings"),
            ),
        }
    }

    /// Creates a key-value bucket as a plain stream (`KV_<bucket>` on `$KV.<bucket>.>`), the
    /// layout the KV API reads. async-nats' `create_key_value` first requests account info,
    /// which fails on nats-server 2.9; reading and writing through `get_key_value` works on both.
    pub async fn create_kv_stream(
        &self,
        bucket: &str,
        history: i64,
    ) -> Result<jetstream::kv::Store, BusError> {
        let name = format!("KV_{bucket}");
        let error = |reason: String| BusError::Stream { stream: name.clone(), reason };
        let config = stream::Config {
            name: name.clone(),
            subjects: vec![format!("$KV.{bucket}.>")],
            max_messages_per_subject: history,
            discard: stream::DiscardPolicy::New,
            allow_rollup: true,
            deny_delete: true,
            allow_direct: true,
            storage: stream::StorageType::File,
            ..Default::default()
        };
        if self.jetstream.get_stream(&name).await.is_err() {
            // A concurrent creator may win; `get_key_value` below tells whether the bucket exists.
            let _ = self.jetstream.create_stream(config).await;
        }
        self.jetstream.get_key_value(bucket).await.map_err(|e| error(e.to_string()))
    }
}

fn stream_config(spec: &StreamSpec) -> stream::Config {
    stream::Config {
        name: spec.name.to_owned(),
        description: Some(spec.description.to_owned()),
        subjects: spec.subjects.iter().map(|s| (*s).to_owned()).collect(),
        max_age: spec.max_age.unwrap_or_default(),
        duplicate_window: spec.duplicate_window,
        storage: stream::StorageType::File,
        retention: if spec.work_queue {
            stream::RetentionPolicy::WorkQueue
        } else {
            stream::RetentionPolicy::Limits
        },
        ..Default::default()
    }
}
