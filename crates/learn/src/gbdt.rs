//! Histogram-based gradient-boosted trees, as LightGBM grows them.

mod bins;
mod boost;
mod grow;
mod histogram;
mod model;
mod objective;
pub(crate) mod params;
mod split;
pub(crate) mod tree;

pub use model::GbdtModel;
pub(crate) use model::{first_max, softmax_rows};
pub(crate) use objective::sigmoid;
pub use params::GbdtParams;

pub(crate) use boost::check_labels;

use crate::{Frame, History, LearnError, Target};

/// Trains on `frame` and `target`, reporting the loss on `validation` per iteration when given
/// (and stopping early on it when `early_stopping_round` > 0).
pub fn train(
    params: &GbdtParams,
    frame: &Frame,
    target: &Target,
    validation: Option<(&Frame, &Target)>,
) -> Result<(GbdtModel, History), LearnError> {
    boost::boost(params, frame, target, validation)
}

#[cfg(test)]
mod tests;
