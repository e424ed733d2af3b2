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

diesel::table! {
    source_files (dataset, path) {
        dataset -> Text,
        path -> Text,
        batch_id -> Text,
        sequence -> BigInt,
        min_event_micros -> BigInt,
        max_event_micros -> BigInt,
    }
}

diesel::table! {
    online_views (view, version) {
        view -> Text,
        version -> BigInt,
        watermark_micros -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    materializations (id) {
        id -> Text,
        view -> Text,
        version -> BigInt,
        start_micros -> Nullable<BigInt>,
        end_micros -> BigInt,
        state -> Text,
        files -> BigInt,
        files_read -> BigInt,
        rows_read -> BigInt,
        entities -> BigInt,
        rows_written -> BigInt,
        error -> Nullable<Text>,
        created_at -> BigInt,
        finished_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    source_versions (dataset, version) {
        dataset -> Text,
        version -> BigInt,
        rows -> BigInt,
        created_at -> BigInt,
    }
}

diesel::table! {
    source_version_files (dataset, version, path) {
        dataset -> Text,
        version -> BigInt,
        path -> Text,
    }
}
