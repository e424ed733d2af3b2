//! Output for scripts and questions for people, shared by the commands.

use std::io::{BufRead as _, Write as _};
use std::process::ExitCode;

/// Prints `value` as indented JSON (`--json`).
pub(crate) fn print_json(value: &impl serde::Serialize) -> anyhow::Result<ExitCode> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(ExitCode::SUCCESS)
}

/// Asks `question` on the terminal; true only for a yes.
pub(crate) fn confirm(question: &str) -> std::io::Result<bool> {
    print!("{question} [y/N] ");
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}
