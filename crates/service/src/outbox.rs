use std::sync::Arc;
use std::time::Duration;

use cairn_bus::{Bus, RawEvent};
use cairn_db::outbox::{self, OutboxEvent};
use cairn_db::{AnyConnection, Database, DbError};
use cairn_domain::{EventId, Timestamp};

use cairn_events::Event;
use tokio::sync::{Mutex, Notify};
use tokio_util::sync::CancellationToken;

/// Publishes the events a service wrote into its outbox, in order, until JetStream stored them.
#[derive(Clone)]
pub struct Outbox {
    db: Database,
    bus: Bus,
    wake: Arc<Notify>,
    flushing: Arc<Mutex<()>>,
}

const BATCH: i64 = 256;
const IDLE: Duration = Duration::from_secs(1);

impl Outbox {
    pub(crate) fn new(db: Database, bus: Bus) -> Self {
        Self { db, bus, wake: Arc::new(Notify::new()), flushing: Arc::new(Mutex::new(())) }
    }

    /// Writes `event` to the outbox on `conn`; call inside the transaction of the change.
    /// The event carries the current trace context.
    pub fn stage<E: Event>(conn: &mut AnyConnection, event: &E) -> Result<EventId, DbError> {
        let raw = RawEvent::new(event);
        outbox::enqueue(
            conn,
            &OutboxEvent {
                event_id: raw.id.to_string(),
                subject: raw.subject,
                event_type: raw.event_type,
                payload: raw.payload.to_vec(),
                traceparent: raw.traceparent,
                created_at: Timestamp::now().as_micros(),
            },
        )?;
        Ok(raw.id)
    }

    /// Publishes everything pending now. Returns how many events JetStream stored.
    /// Safe to call concurrently and after a crash: a re-published event id is de-duplicated.
    pub async fn flush(&self) -> Result<usize, String> {
        let _guard = self.flushing.lock().await;
        let mut published = 0;
        loop {
            let pending =
                self.db.run(|conn| outbox::oldest(conn, BATCH)).await.map_err(|error| error.to_string())?;
            if pending.is_empty() {
                return Ok(published);
            }
            let events = pending
                .into_iter()
                .map(|row| {
                    let id =
                        row.event_id.parse().map_err(|_| format!("bad outbox event id {}", row.event_id))?;
                    Ok(RawEvent {
                        id,
                        event_type: row.event_type,
                        subject: row.subject,
                        payload: row.payload.into(),
                        traceparent: row.traceparent,
                    })
                })
                .collect::<Result<Vec<_>, String>>()?;
            self.bus.publish_many(&events).await.map_err(|error| error.to_string())?;
            let ids: Vec<String> = events.iter().map(|event| event.id.to_string()).collect();
            published += ids.len();
            self.db.run(move |conn| outbox::remove(conn, &ids)).await.map_err(|error| error.to_string())?;
        }
    }

    /// Asks the relay to flush soon (without waiting for it).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Flushes on every wake-up and at least once a second, until `shutdown`; then once more.
    pub(crate) fn spawn_relay(&self, shutdown: CancellationToken) -> tokio::task::JoinHandle<()> {
        let outbox = self.clone();
        tokio::spawn(async move {
            loop {
                if let Err(error) = outbox.flush().await {
                    tracing::warn!(%error, "outbox not published yet; will retry");
                }
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    () = outbox.wake.notified() => {}
                    () = tokio::time::sleep(IDLE) => {}
                }
            }
            if let Err(error) = outbox.flush().await {
                tracing::warn!(%error, "outbox left for the next start");
            }
        })
    }
}
