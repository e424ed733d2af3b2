//! Hyperparameter search: the parameter sets a run's trials train with, drawn from the spec's
//! search space — every combination (grid) or seeded random draws — over the trainer's fixed
//! parameters. The same spec always gives the same trials, so a run is reproducible.

use std::collections::BTreeMap;

use cairn_api::{ParamRange, SearchSpec, Strategy, TrainerSpec};
use serde_json::Value;

use crate::random::SplitMix;

/// Points a continuous range contributes to a grid.
const GRID_POINTS: usize = 5;

pub type Params = BTreeMap<String, Value>;

/// Each trial's parameters, in trial order.
pub fn trials(trainer: &TrainerSpec, search: Option<&SearchSpec>) -> Vec<Params> {
    let Some(search) = search else { return vec![trainer.params.clone()] };
    let budget = search.trials as usize;
    let draws: Vec<Params> = match search.strategy {
        Strategy::Grid => grid(&search.space, budget),
        Strategy::Random => {
            let mut random = SplitMix::new(search.seed);
            (0..budget)
                .map(|_| {
                    search
                        .space
                        .iter()
                        .map(|(name, range)| (name.clone(), draw(range, &mut random)))
                        .collect()
                })
                .collect()
        }
    };
    draws
        .into_iter()
        .map(|draw| {
            let mut params = trainer.params.clone();
            params.extend(draw);
            params
        })
        .collect()
}

fn grid(space: &BTreeMap<String, ParamRange>, budget: usize) -> Vec<Params> {
    let mut combinations = vec![Params::new()];
    for (name, range) in space {
        let values = grid_values(range);
        combinations = combinations
            .into_iter()
            .flat_map(|combination| {
                values.iter().map(move |value| {
                    let mut next = combination.clone();
                    next.insert(name.clone(), value.clone());
                    next
                })
            })
            .take(budget)
            .collect();
    }
    combinations
}

fn grid_values(range: &ParamRange) -> Vec<Value> {
    match range {
        ParamRange::Choice(values) => values.clone(),
        ParamRange::Int([low, high]) => {
            let span = u64::try_from(high - low).unwrap_or(0) + 1;
            if span as usize <= GRID_POINTS {
                (*low..=*high).map(Value::from).collect()
            } else {
                let step = (high - low) as f64 / (GRID_POINTS - 1) as f64;
                let mut values: Vec<i64> =
                    (0..GRID_POINTS).map(|i| low + (step * i as f64).round() as i64).collect();
                values.dedup();
                values.into_iter().map(Value::from).collect()
            }
        }
        ParamRange::Uniform([low, high]) => (0..GRID_POINTS)
            .map(|i| Value::from(low + (high - low) * i as f64 / (GRID_POINTS - 1) as f64))
            .collect(),
        ParamRange::LogUniform([low, high]) => (0..GRID_POINTS)
            .map(|i| {
                Value::from((low.ln() + (high.ln() - low.ln()) * i as f64 / (GRID_POINTS - 1) as f64).exp())
            })
            .collect(),
    }
}

fn draw(range: &ParamRange, random: &mut SplitMix) -> Value {
    match range {
        ParamRange::Choice(values) => values.get(random.below(values.len())).cloned().unwrap_or(Value::Null),
        ParamRange::Int([low, high]) => {
            let span = (high - low + 1) as f64;
            Value::from((low + (random.unit() * span) as i64).min(*high))
        }
        ParamRange::Uniform([low, high]) => Value::from(low + (high - low) * random.unit()),
        ParamRange::LogUniform([low, high]) => {
            Value::from((low.ln() + (high.ln() - low.ln()) * random.unit()).exp())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn search(strategy: Strategy, trials: u32) -> SearchSpec {
        SearchSpec {
            strategy,
            trials,
            parallelism: 2,
            metric: None,
            seed: 7,
            space: [
                ("num_leaves".to_owned(), ParamRange::Int([8, 64])),
                ("learning_rate".to_owned(), ParamRange::LogUniform([0.01, 0.3])),
                ("max_depth".to_owned(), ParamRange::Choice(vec![Value::from(4), Value::from(-1)])),
            ]
            .into(),
        }
    }

    fn trainer() -> TrainerSpec {
        toml::from_str(
            "task = \"binary\"\nbuiltin = \"gbdt\"\nparams = { num_iterations = 20, num_leaves = 31 }",
        )
        .unwrap()
    }

    #[test]
    fn random_draws_stay_in_their_ranges_repeat_with_the_seed_and_override_fixed_parameters() {
        let draws = trials(&trainer(), Some(&search(Strategy::Random, 50)));
        assert_eq!(draws.len(), 50);
        assert_eq!(draws, trials(&trainer(), Some(&search(Strategy::Random, 50))));
        for draw in &draws {
            assert_eq!(draw["num_iterations"], 20);
            let leaves = draw["num_leaves"].as_i64().unwrap();
            let rate = draw["learning_rate"].as_f64().unwrap();
            assert!((8..=64).contains(&leaves) && (0.01..0.3).contains(&rate), "{draw:?}");
            assert!([4, -1].contains(&draw["max_depth"].as_i64().unwrap()));
        }
        let leaves: std::collections::BTreeSet<i64> =
            draws.iter().map(|d| d["num_leaves"].as_i64().unwrap()).collect();
        assert!(leaves.len() > 20, "draws spread over the range: {leaves:?}");
    }

    #[test]
    fn a_grid_takes_every_combination_up_to_the_budget() {
        let all = trials(&trainer(), Some(&search(Strategy::Grid, 1000)));
        assert_eq!(all.len(), 5 * 5 * 2);
        let distinct: std::collections::BTreeSet<String> =
            all.iter().map(|d| serde_json::to_string(d).unwrap()).collect();
        assert_eq!(distinct.len(), all.len());
        assert_eq!(trials(&trainer(), Some(&search(Strategy::Grid, 7))).len(), 7);
        assert_eq!(trials(&trainer(), None), vec![trainer().params]);
    }
}
