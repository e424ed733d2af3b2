//! What a trainer learns to predict: a number, or one of a set of classes with their original
//! labels (kept so the exported model answers with the labels the data had).

use crate::LearnError;

#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    Regression(Vec<f64>),
    /// `codes[i]` is the index into `labels` of row `i`'s class.
    Classes {
        labels: ClassLabels,
        codes: Vec<u32>,
    },
}

/// The original label values; a class's code is its index here.
#[derive(Debug, Clone, PartialEq)]
pub enum ClassLabels {
    Int64(Vec<i64>),
    Strings(Vec<String>),
}

impl ClassLabels {
    pub fn len(&self) -> usize {
        match self {
            Self::Int64(labels) => labels.len(),
            Self::Strings(labels) => labels.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The learning problem a target makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Task {
    Regression,
    Binary,
    Multiclass { classes: usize },
}

impl Task {
    /// How many scores a model keeps per row: one, except one per class for multiclass.
    pub(crate) fn outputs(self) -> usize {
        match self {
            Self::Regression | Self::Binary => 1,
            Self::Multiclass { classes } => classes,
        }
    }
}

impl Target {
    pub fn task(&self) -> Task {
        match self {
            Self::Regression(_) => Task::Regression,
            Self::Classes { labels, .. } if labels.len() == 2 => Task::Binary,
            Self::Classes { labels, .. } => Task::Multiclass { classes: labels.len() },
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Self::Regression(values) => values.len(),
            Self::Classes { codes, .. } => codes.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Checks the target against a frame of `rows` rows. Every class must have a row: a class
    /// the training data never shows has no prior and nothing to learn from.
    pub(crate) fn validate(&self, rows: usize) -> Result<(), LearnError> {
        if self.len() != rows {
            return Err(LearnError::Target(format!("{} values for {rows} rows", self.len())));
        }
        match self {
            Self::Regression(values) => {
                if let Some(row) = values.iter().position(|value| !value.is_finite()) {
                    return Err(LearnError::Target(format!("row {row} is {}", values[row])));
                }
            }
            Self::Classes { labels, codes } => {
                if labels.len() < 2 {
                    return Err(LearnError::Target(format!(
                        "{} class label(s); classification needs at least 2",
                        labels.len()
                    )));
                }
                let mut counts = vec![0usize; labels.len()];
                for (row, &code) in codes.iter().enumerate() {
                    match counts.get_mut(code as usize) {
                        Some(count) => *count += 1,
                        None => {
                            return Err(LearnError::Target(format!(
                                "row {row} has class code {code}, but there are {} labels",
                                labels.len()
                            )));
                        }
                    }
                }
                if let Some(class) = counts.iter().position(|&count| count == 0) {
                    return Err(LearnError::Target(format!(
                        "class {} has no rows in the training data",
                        label_text(labels, class)
                    )));
                }
            }
        }
        Ok(())
    }
}

fn label_text(labels: &ClassLabels, class: usize) -> String {
    match labels {
        ClassLabels::Int64(values) => values[class].to_string(),
        ClassLabels::Strings(values) => format!("`{}`", values[class]),
    }
}
