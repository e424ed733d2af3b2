diesel::table! {
    datasets (name) {
        name -> Text,
        schema_json -> Text,
        created_at -> BigInt,
    }
}
