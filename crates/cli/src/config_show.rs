use std::process::ExitCode;

use cairn_config::CairnConfig;

pub(crate) fn run(config: &CairnConfig, json: bool) -> anyhow::Result<ExitCode> {
    if json {
        println!("{}", serde_json::to_string_pretty(&config.to_redacted_json())?);
    } else {
        print!("{}", config.to_redacted_toml());
    }
    Ok(ExitCode::SUCCESS)
}
