diesel::table! {
    source_datasets (name) {
        name -> Text,
        schema_json -> Text,
        created_at -> BigInt,
        event_id -> Text,
        trace_id -> Nullable<Text>,
        schema_revision -> BigInt,
    }
}
