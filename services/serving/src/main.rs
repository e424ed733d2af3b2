fn main() -> std::process::ExitCode {
    cairn_service::binary::main(cairn_domain::ServiceKind::Serving, cairn_serving::run)
}
