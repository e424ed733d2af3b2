fn main() -> std::process::ExitCode {
    cairn_service::binary::main(cairn_domain::ServiceKind::FeatureStore, cairn_feature_store::run)
}
