diesel::table! {
    datasets (name) {
        name -> Text,
        schema_json -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    batches (id) {
        id -> Text,
        dataset -> Text,
        state -> Text,
        format -> Text,
        received_at -> BigInt,
        finished_at -> Nullable<BigInt>,
        version -> Nullable<BigInt>,
        report_json -> Nullable<Text>,
        error -> Nullable<Text>,
        profile_json -> Nullable<Text>,
        origin -> Nullable<Text>,
        lineage_json -> Nullable<Text>,
    }
}

diesel::table! {
    batch_files (path) {
        path -> Text,
        batch_id -> Text,
        dataset -> Text,
        area -> Text,
        state -> Text,
        version -> Nullable<BigInt>,
        rows -> BigInt,
        bytes -> BigInt,
        sha256 -> Text,
        min_event_micros -> BigInt,
        max_event_micros -> BigInt,
    }
}

diesel::table! {
    dataset_versions (dataset, version) {
        dataset -> Text,
        version -> BigInt,
        created_at -> BigInt,
        rows -> BigInt,
        batch_id -> Nullable<Text>,
        schema_json -> Text,
        profile_json -> Nullable<Text>,
        lineage_json -> Nullable<Text>,
    }
}

diesel::table! {
    stream_positions (consumer) {
        consumer -> Text,
        last_sequence -> BigInt,
    }
}

diesel::table! {
    dataset_schemas (dataset, revision) {
        dataset -> Text,
        revision -> BigInt,
        changed_at -> BigInt,
        schema_json -> Text,
        added_json -> Text,
    }
}
