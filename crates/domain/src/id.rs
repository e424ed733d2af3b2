use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! typed_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(transparent)]
        #[schema(value_type = String, format = Uuid)]
        pub struct $name(Uuid);

        impl $name {
            /// A new id; UUIDv7, so ids sort by creation time.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl From<Uuid> for $name {
            fn from(uuid: Uuid) -> Self {
                Self(uuid)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

typed_id!(
    /// Identifies one event on the bus; it is also the JetStream `Nats-Msg-Id`.
    EventId
);
typed_id!(
    /// Identifies one ingestion batch.
    BatchId
);
typed_id!(
    /// Identifies one training run.
    RunId
);
typed_id!(
    /// Identifies one materialization of a feature view into the online store.
    MaterializationId
);
typed_id!(
    /// Identifies training data the feature store wrote for a dataset version.
    TrainingDataId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_sort_by_creation() {
        let first = EventId::new();
        let second = EventId::new();
        assert!(first < second);
        assert_eq!(first.to_string().parse::<EventId>().ok(), Some(first));
        assert!("not-a-uuid".parse::<EventId>().is_err());
    }
}
