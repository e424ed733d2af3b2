//! MLflow's limits on names and values, checked before anything is written.

use super::TrackingError;

pub(crate) const MAX_KEY_LENGTH: usize = 250;
pub(crate) const MAX_PARAM_VALUE_LENGTH: usize = 6000;
pub(crate) const MAX_TAG_VALUE_LENGTH: usize = 8000;
pub(crate) const MAX_EXPERIMENT_NAME_LENGTH: usize = 500;

/// Metric, parameter and tag keys: letters, digits, `_ - . / : ` and spaces, and — since keys
/// may become file names — nothing that a path normalization would change (`..`, `./`, `//`,
/// a leading `/`).
pub(crate) fn key(kind: &str, key: &str) -> Result<(), TrackingError> {
    let invalid =
        |reason: &str| Err(TrackingError::Invalid(format!("invalid {kind} name `{key}`: {reason}")));
    if key.is_empty() {
        return invalid("it is empty");
    }
    if key.chars().count() > MAX_KEY_LENGTH {
        return invalid(&format!("longer than {MAX_KEY_LENGTH} characters"));
    }
    if let Some(c) =
        key.chars().find(|c| !(c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '/' | ':' | ' ')))
    {
        return invalid(&format!(
            "`{}` is not allowed (letters, digits, underscores, dashes, periods, colons, slashes and spaces are)",
            c.escape_default()
        ));
    }
    if key.starts_with('/')
        || key.ends_with('/')
        || key.split('/').any(|part| matches!(part, "" | "." | ".."))
    {
        return invalid("it would not stay the same as a normalized path");
    }
    Ok(())
}

pub(crate) fn value(kind: &str, key: &str, value: &str, limit: usize) -> Result<(), TrackingError> {
    let length = value.chars().count();
    if length > limit {
        return Err(TrackingError::Invalid(format!(
            "{kind} `{key}` has a value of {length} characters; at most {limit} are allowed"
        )));
    }
    Ok(())
}

pub(crate) fn experiment_name(name: &str) -> Result<(), TrackingError> {
    if name.trim().is_empty() {
        return Err(TrackingError::Invalid("an experiment needs a non-empty name".into()));
    }
    if name.chars().count() > MAX_EXPERIMENT_NAME_LENGTH {
        return Err(TrackingError::Invalid(format!(
            "experiment names are at most {MAX_EXPERIMENT_NAME_LENGTH} characters"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        for good in ["acc", "val loss", "a/b", "mlflow.runName", "m:1", "naïve-é_2"] {
            assert!(key("metric", good).is_ok(), "{good}");
        }
        for bad in
            ["", "/abs", "a/../b", "..", "a//b", "./a", "a/", "semi;colon", "new\nline", &"k".repeat(251)]
        {
            assert!(key("metric", bad).is_err(), "{bad}");
        }
    }
}
