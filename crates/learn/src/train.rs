//! Training from a pipeline spec: the trainer's name and its parameters as JSON.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::{Frame, GbdtParams, History, LearnError, LinearParams, Model, Target, TrainerKind};

#[derive(Debug, Clone)]
pub struct Trained {
    pub model: Model,
    pub history: History,
}

/// Checks `params` for `kind` and trains. The task (regression, binary, multiclass) follows
/// from `target`; `validation`, when given, is scored every iteration.
pub fn train(
    kind: TrainerKind,
    params: &BTreeMap<String, Value>,
    frame: &Frame,
    target: &Target,
    validation: Option<(&Frame, &Target)>,
) -> Result<Trained, LearnError> {
    let (model, history) = match kind {
        TrainerKind::Gbdt => {
            let (model, history) =
                crate::gbdt::train(&GbdtParams::from_map(params)?, frame, target, validation)?;
            (Model::Gbdt(model), history)
        }
        TrainerKind::Linear => {
            let (model, history) =
                crate::linear::train(&LinearParams::from_map(params)?, frame, target, validation)?;
            (Model::Linear(model), history)
        }
    };
    Ok(Trained { model, history })
}
