fn main() -> std::process::ExitCode {
    cairn_service::binary::main(cairn_domain::ServiceKind::Ingestion, cairn_ingestion::run)
}
