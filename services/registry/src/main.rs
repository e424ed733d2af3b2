fn main() -> std::process::ExitCode {
    cairn_service::binary::main(cairn_domain::ServiceKind::Registry, cairn_registry::run)
}
