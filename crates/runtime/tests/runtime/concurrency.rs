use std::sync::Arc;

use cairn_runtime::{Model, SessionOptions};

use crate::Case;

#[test]
fn one_model_serves_many_threads_at_once() {
    fn shared_across_threads<T: Send + Sync>() {}
    shared_across_threads::<Model>();

    let case = Case::read("random_forest_multiclass_zipmap");
    let model = Arc::new(case.model(&SessionOptions { sessions: 2, ..SessionOptions::default() }));
    assert_eq!(model.sessions(), 2);
    let inputs = Arc::new(case.inputs());
    let expected = Arc::new(model.run(&inputs).unwrap());
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let (model, inputs, expected) = (model.clone(), inputs.clone(), expected.clone());
            // More threads than sessions: some runs wait for a free session.
            std::thread::spawn(move || {
                for _ in 0..25 {
                    assert_eq!(model.run(&inputs).unwrap(), *expected);
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
}
