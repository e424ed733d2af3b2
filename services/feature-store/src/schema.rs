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

diesel::table! {
    entities (name) {
        name -> Text,
        definition_json -> Text,
        updated_at -> BigInt,
        deleted_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    feature_views (name, version) {
        name -> Text,
        version -> BigInt,
        definition_json -> Text,
        join_keys_json -> Text,
        timestamp_field -> Text,
        created_at -> BigInt,
        deleted_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    feature_services (name, version) {
        name -> Text,
        version -> BigInt,
        projections_json -> Text,
        description -> Text,
        created_at -> BigInt,
        deleted_at -> Nullable<BigInt>,
    }
}
