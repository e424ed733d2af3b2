fn main() -> std::process::ExitCode {
    cairn_service::binary::main(cairn_domain::ServiceKind::Training, cairn_training::run)
}
