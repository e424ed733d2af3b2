//! The built-in trainers (cairn-learn) as a pipeline names them.

use std::collections::BTreeMap;

use cairn_api::BuiltinTrainer;
use cairn_learn::TrainerKind;
use serde_json::Value;

/// The built-in trainers' name and version, recorded with every model they train.
pub const VERSION: &str = concat!("cairn-learn ", env!("CARGO_PKG_VERSION"));

pub fn kind(builtin: BuiltinTrainer) -> TrainerKind {
    match builtin {
        BuiltinTrainer::Gbdt => TrainerKind::Gbdt,
        BuiltinTrainer::Linear => TrainerKind::Linear,
    }
}

/// Whether `params` are parameters the trainer takes, with values it accepts.
pub fn check(builtin: BuiltinTrainer, params: &BTreeMap<String, Value>) -> Result<(), String> {
    let checked = match builtin {
        BuiltinTrainer::Gbdt => cairn_learn::GbdtParams::from_map(params).map(drop),
        BuiltinTrainer::Linear => cairn_learn::LinearParams::from_map(params).map(drop),
    };
    checked.map_err(|error| error.to_string())
}
