//! Tables shared by every service's database.

diesel::table! {
    processed_events (consumer, event_id) {
        consumer -> Text,
        event_id -> Text,
        processed_at -> BigInt,
    }
}

diesel::table! {
    outbox (event_id) {
        event_id -> Text,
        subject -> Text,
        event_type -> Text,
        payload -> Binary,
        traceparent -> Nullable<Text>,
        created_at -> BigInt,
    }
}
