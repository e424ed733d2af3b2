//! Hyperparameter search: the parameter sets a run's trials train with, drawn from the spec's
//! search space — every combination (grid) or seeded random draws — over the trainer's fixed
//! parameters, and successive halving's rungs: random draws on a small resource, the best
//! 1/eta promoted to eta times the resource, up to the most. The same spec always gives the same
//! trials (and the same scores the same promotions), so a run is reproducible.

use std::collections::BTreeMap;

use cairn_api::{BuiltinTrainer, Objective, ParamRange, SearchSpec, Strategy, TrainerSpec, Trial};
use serde_json::Value;

use crate::random::SplitMix;

/// Points a continuous range contributes to a grid.
const GRID_POINTS: usize = 5;

pub type Params = BTreeMap<String, Value>;

/// Successive halving's plan: the parameter it budgets and its value in each rung.
#[derive(Debug, Clone, PartialEq)]
pub struct Halving {
    pub resource: String,
    pub rungs: Vec<u64>,
    pub eta: u32,
}

/// The halving plan of a search (none for grid and random search), or why it cannot be made.
pub fn halving(trainer: &TrainerSpec, search: &SearchSpec) -> Result<Option<Halving>, String> {
    if search.strategy != Strategy::Halving {
        return Ok(None);
    }
    let resource = match (&search.resource, trainer.builtin) {
        (Some(resource), _) => resource.clone(),
        (None, Some(BuiltinTrainer::Gbdt)) => "num_iterations".to_owned(),
        (None, _) => return Err("name the parameter it budgets in `search.resource`".into()),
    };
    if search.space.contains_key(&resource) {
        return Err(format!("`{resource}` is the resource halving sets; take it out of the space"));
    }
    let eta = search.eta.unwrap_or(3);
    if eta < 2 {
        return Err(format!("eta must be at least 2, got {eta}"));
    }
    let max =
        search.max_resource.or_else(|| trainer.params.get(&resource).and_then(Value::as_u64)).unwrap_or(100);
    let min = search.min_resource.unwrap_or_else(|| (max / u64::from(eta * eta)).max(1));
    if min == 0 || min >= max {
        return Err(format!("min_resource ({min}) must be at least 1 and below max_resource ({max})"));
    }
    let mut rungs = Vec::new();
    let mut value = min;
    while value < max {
        rungs.push(value);
        value = value.saturating_mul(u64::from(eta));
    }
    rungs.push(max);
    Ok(Some(Halving { resource, rungs, eta }))
}

/// The next rung's parameters — the best 1/eta of the current rung's trials (at least one),
/// with eta times the resource — or none once the last rung is done.
pub fn promote(halving: &Halving, trials: &[Trial], objective: &Objective) -> Option<(u32, Vec<Params>)> {
    let rung = trials.iter().filter_map(|trial| trial.rung).max()?;
    let next = *halving.rungs.get(rung as usize + 1)?;
    let current: Vec<&Trial> = trials.iter().filter(|trial| trial.rung == Some(rung)).collect();
    let mut scored: Vec<(&Trial, f64)> = current
        .iter()
        .filter(|trial| trial.state == "succeeded")
        .filter_map(|trial| Some((*trial, trial.score?)))
        .collect();
    if scored.is_empty() {
        return None;
    }
    // Best first; ties in trial order, so a promotion never depends on how scores tie.
    scored.sort_by(|a, b| {
        let order = if objective.higher_is_better { b.1.total_cmp(&a.1) } else { a.1.total_cmp(&b.1) };
        order.then(a.0.number.cmp(&b.0.number))
    });
    let keep = current.len().div_ceil(halving.eta as usize).max(1).min(scored.len());
    let promoted = scored
        .into_iter()
        .take(keep)
        .map(|(trial, _)| {
            let mut params = trial.params.clone();
            params.insert(halving.resource.clone(), Value::from(next));
            params
        })
        .collect();
    Some((rung + 1, promoted))
}

/// Each trial's parameters, in trial order (for halving: its first rung's).
pub fn trials(trainer: &TrainerSpec, search: Option<&SearchSpec>) -> Vec<Params> {
    let Some(search) = search else { return vec![trainer.params.clone()] };
    let budget = search.trials as usize;
    let first_rung =
        halving(trainer, search).ok().flatten().map(|halving| (halving.resource, halving.rungs[0]));
    let draws: Vec<Params> = match search.strategy {
        Strategy::Grid => grid(&search.space, budget),
        Strategy::Random | Strategy::Halving => {
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
            if let Some((resource, value)) = &first_rung {
                params.insert(resource.clone(), Value::from(*value));
            }
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
            resource: None,
            min_resource: None,
            max_resource: None,
            eta: None,
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
    fn halving_trains_many_briefly_and_promotes_the_best_third_to_more() {
        let mut spec = search(Strategy::Halving, 9);
        spec.space.remove("max_depth");
        let plan = halving(&trainer(), &spec).unwrap().unwrap();
        assert_eq!(plan, Halving { resource: "num_iterations".into(), rungs: vec![2, 6, 18, 20], eta: 3 });
        let first = trials(&trainer(), Some(&spec));
        assert!(first.len() == 9 && first.iter().all(|params| params["num_iterations"] == 2));
        let objective = Objective { metric: "roc_auc".into(), higher_is_better: true };
        let trial = |number: u32, score: Option<f64>, rung: u32| Trial {
            number,
            params: first[(number as usize - 1) % 9].clone(),
            state: if score.is_some() { "succeeded" } else { "failed" }.into(),
            attempts: 1,
            worker: None,
            score,
            model_sha256: None,
            seconds: None,
            queued_at: None,
            finished_at: None,
            error: None,
            tracking_run_id: None,
            rung: Some(rung),
        };
        let done: Vec<Trial> =
            (1..=9).map(|n| trial(n, (n != 5).then(|| f64::from(n % 4) / 10.0), 0)).collect();
        let (rung, promoted) = promote(&plan, &done, &objective).unwrap();
        assert_eq!(rung, 1);
        assert_eq!(promoted.len(), 3, "a third of nine");
        assert_eq!(
            promoted[0]["num_leaves"], first[2]["num_leaves"],
            "trial 3 scored best (0.3), then 7 (0.3), then 2"
        );
        assert_eq!(promoted[1]["num_leaves"], first[6]["num_leaves"]);
        assert!(promoted.iter().all(|params| params["num_iterations"] == 6));
        let last: Vec<Trial> = done.into_iter().chain([trial(10, Some(0.5), 3)]).collect();
        assert_eq!(promote(&plan, &last, &objective), None, "the last rung is done");
        let mut external = trainer();
        external.builtin = None;
        external.command = vec!["train".into()];
        assert!(halving(&external, &spec).unwrap_err().contains("search.resource"));
        spec.space.insert("num_iterations".into(), ParamRange::Int([1, 5]));
        assert!(halving(&trainer(), &spec).unwrap_err().contains("out of the space"));
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
