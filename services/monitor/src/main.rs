fn main() -> std::process::ExitCode {
    cairn_service::binary::main(cairn_domain::ServiceKind::Monitor, cairn_monitor::run)
}
