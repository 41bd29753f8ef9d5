//! Training: multinomial logistic regression per field by stochastic gradient descent over
//! the hashed features, deterministic for a given seed (same examples, options and build
//! give the same model file, byte for byte).
//!
//! Each epoch visits the examples in an order shuffled by a seeded xorshift generator; each
//! step moves the weights of the example's buckets against the gradient of the cross
//! entropy, scaled by a class weight (the square root of the inverse class frequency, so the
//! rare labels, urgent among them, are not drowned by the common ones) and the example's own
//! weight. The learning rate decays per epoch and an L2 shrink per epoch keeps weights small.
//! One run's answers depend on the order it met the examples in, so a model is the mean of
//! [`TrainOptions::shuffles`] runs, each over shuffles of its own seed, and of each run's
//! weights at the end of its last [`TrainOptions::averaged_epochs`] epochs (averaged
//! stochastic gradient descent, an epoch at a time).
//! Weights smaller than [`TrainOptions::prune_below`] are dropped from the file, and the rest
//! (and the biases) multiplied by [`TrainOptions::sharpen`], the calibration.

use super::features::{keywords_of, FeatureSet, Features, Featurizer};
use super::model::{FieldHeader, FieldWeights, Header, Model, TrainingInfo, MAX_BUCKET_BITS};
use super::Field;
use crate::config::DomainConfig;
use crate::types::{ContentType, Kind, Priority};
use crate::DomainError;

/// One labelled submission.
#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    pub text: String,
    pub kind: Kind,
    pub content_type: ContentType,
    pub priority: Priority,
    pub department: String,
    /// How much this example counts (1 for the corpus; corrections may count more).
    pub weight: f32,
    /// How much each field's label counts, in the order of [`Field::ALL`], on top of
    /// `weight`: 1 for the corpus, 0 for a field the example says nothing about (a ticket
    /// whose department a person corrected but whose classification nobody checked).
    pub field_weights: [f32; 4],
}

impl Example {
    /// How much the label of `field` counts: the example's weight times the field's.
    pub fn field_weight(&self, field: Field) -> f32 {
        self.weight * self.field_weights[field.index()]
    }

    /// The example's label for `field`.
    pub fn label(&self, field: Field) -> &str {
        match field {
            Field::Kind => self.kind.as_str(),
            Field::ContentType => self.content_type.as_str(),
            Field::Priority => self.priority.as_str(),
            Field::Department => &self.department,
        }
    }
}

/// The knobs of training.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainOptions {
    /// Features hash into 2^bucket_bits buckets.
    pub bucket_bits: u32,
    pub epochs: u32,
    pub seed: u64,
    pub learning_rate: f32,
    /// The share by which every weight shrinks after each epoch.
    pub l2: f32,
    /// Weights of smaller magnitude are left out of the model.
    pub prune_below: f32,
    /// How strongly rare labels are weighted up: each label's examples count
    /// `(mean label count / label count)^class_balance` (0: not at all, 1: fully balanced).
    pub class_balance: f32,
    /// A priority of urgent is given whenever its probability reaches this, even when
    /// another priority is more probable: a missed urgent case costs more than a false one.
    pub urgent_at: f32,
    /// The features the model reads.
    pub features: FeatureSet,
    /// Every trained weight and bias is multiplied by this at the end (calibration: above 1
    /// the probabilities spread further from uniform, without changing which label ranks
    /// first). Stochastic gradient descent with early stopping and L2 leaves the model
    /// modest (its 0.5–0.7 answers right about 73% of the time); this factor, chosen on a
    /// validation fifth of the train split, brings what it states nearer to how often it is
    /// right.
    pub sharpen: f32,
    /// How many training runs, each over its own shuffles (seeds derived from `seed`), are
    /// averaged into the model: one run's answers depend on the order it met the examples
    /// in; the mean of several depends much less on it.
    pub shuffles: u32,
    /// How many final epochs of each run are averaged (the weights at the end of each; all
    /// of them when there are fewer): 1 keeps the last epoch's weights alone; more is
    /// averaged stochastic gradient descent at the granularity of an epoch, which smooths
    /// the last epochs' order noise.
    pub averaged_epochs: u32,
    /// An extra factor on the class weight of urgent in the priority field, on top of the
    /// class balance: above 1 urgent examples pull harder, so fewer are missed.
    pub urgent_weight: f32,
}

impl Default for TrainOptions {
    fn default() -> Self {
        Self {
            bucket_bits: 18,
            epochs: 12,
            seed: 20_261_207,
            learning_rate: 1.5,
            l2: 0.002,
            prune_below: 0.002,
            class_balance: 0.75,
            urgent_at: 0.18,
            features: FeatureSet {
                char_ngrams: 3,
                word_bigrams: true,
                keyword_copies: 3,
                segmented_words: false,
            },
            sharpen: 1.5,
            shuffles: 3,
            averaged_epochs: 6,
            urgent_weight: 1.0,
        }
    }
}

/// The seed of run `run` of a training of `seed`: run 0 is `seed` itself, the others are
/// spread by a multiplicative hash so that the runs of seeds N and N + 1 share no shuffle.
pub fn run_seed(seed: u64, run: u32) -> u64 {
    seed ^ u64::from(run).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

/// xorshift64*: a small, stable pseudo-random generator for the shuffles.
struct Random(u64);

impl Random {
    /// A generator whose state is `seed` mixed (the splitmix64 finaliser), so that
    /// neighbouring seeds start far apart; never the zero state xorshift cannot leave.
    fn new(seed: u64) -> Self {
        let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        Self((z ^ (z >> 31)).max(1))
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A uniform index below `bound` (bound > 0).
    fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound as u64) as usize
    }
}

/// The labels of every field: all values of the closed vocabularies and every configured
/// department, so that the model can answer only configured values.
fn labels(config: &DomainConfig) -> Vec<(Field, Vec<String>)> {
    let names = |all: Vec<&'static str>| all.into_iter().map(str::to_owned).collect();
    vec![
        (
            Field::Kind,
            names(Kind::ALL.iter().map(|v| v.as_str()).collect()),
        ),
        (
            Field::ContentType,
            names(ContentType::ALL.iter().map(|v| v.as_str()).collect()),
        ),
        (
            Field::Priority,
            names(Priority::ALL.iter().map(|v| v.as_str()).collect()),
        ),
        (
            Field::Department,
            config.departments.keys().cloned().collect(),
        ),
    ]
}

/// Dense weights of one field during training.
struct Dense {
    width: usize,
    bias: Vec<f32>,
    weights: Vec<f32>,
    class_weight: Vec<f32>,
}

impl Dense {
    fn step(&mut self, features: &Features, target: usize, rate: f32) {
        let mut scores = self.bias.clone();
        for bucket in &features.buckets {
            let row = *bucket as usize * self.width;
            for (score, weight) in scores.iter_mut().zip(&self.weights[row..row + self.width]) {
                *score += weight * features.value;
            }
        }
        let probabilities = super::model::softmax(&scores);
        let scale = rate * self.class_weight[target];
        let gradient: Vec<f32> = probabilities
            .iter()
            .enumerate()
            .map(|(label, p)| (*p as f32 - f32::from(u8::from(label == target))) * scale)
            .collect();
        for (bias, g) in self.bias.iter_mut().zip(&gradient) {
            *bias -= g;
        }
        for bucket in &features.buckets {
            let row = *bucket as usize * self.width;
            for (weight, g) in self.weights[row..row + self.width]
                .iter_mut()
                .zip(&gradient)
            {
                *weight -= g * features.value;
            }
        }
    }
}

impl Dense {
    /// The same shape and class weights, every weight and bias zero.
    fn zeroed(&self) -> Self {
        Self {
            width: self.width,
            bias: vec![0.0; self.bias.len()],
            weights: vec![0.0; self.weights.len()],
            class_weight: self.class_weight.clone(),
        }
    }

    fn reset(&mut self) {
        self.bias.iter_mut().for_each(|bias| *bias = 0.0);
        self.weights.iter_mut().for_each(|weight| *weight = 0.0);
    }

    fn add(&mut self, other: &Dense) {
        for (sum, value) in self.bias.iter_mut().zip(&other.bias) {
            *sum += value;
        }
        for (sum, value) in self.weights.iter_mut().zip(&other.weights) {
            *sum += value;
        }
    }

    fn scale(&mut self, factor: f32) {
        self.bias.iter_mut().for_each(|bias| *bias *= factor);
        self.weights.iter_mut().for_each(|weight| *weight *= factor);
    }
}

/// One run of stochastic gradient descent from the weights in `dense`, its epochs in orders
/// shuffled from `seed`. With `sum`, the weights at the end of each of the last
/// `averaged_epochs` epochs are added to it.
fn descend(
    dense: &mut [Dense],
    examples: &[Example],
    features: &[Features],
    targets: &[[usize; 4]],
    options: &TrainOptions,
    seed: u64,
    mut sum: Option<&mut Vec<Dense>>,
) {
    let mut random = Random::new(seed);
    let mut order: Vec<usize> = (0..examples.len()).collect();
    let first_averaged = options.epochs.saturating_sub(options.averaged_epochs);
    for epoch in 0..options.epochs {
        for index in (1..order.len()).rev() {
            order.swap(index, random.below(index + 1));
        }
        let rate = options.learning_rate / (1.0 + epoch as f32 * 0.5);
        for &example in &order {
            for (slot, field) in dense.iter_mut().enumerate() {
                let weight = examples[example].weight * examples[example].field_weights[slot];
                if weight > 0.0 {
                    field.step(&features[example], targets[example][slot], rate * weight);
                }
            }
        }
        let shrink = 1.0 - options.l2;
        for field in dense.iter_mut() {
            field
                .weights
                .iter_mut()
                .for_each(|weight| *weight *= shrink);
        }
        if let Some(sum) = sum.as_deref_mut() {
            if epoch >= first_averaged {
                for (total, field) in sum.iter_mut().zip(dense.iter()) {
                    total.add(field);
                }
            }
        }
    }
}

/// Each example's label index in every field; an error names an example whose label is not
/// one of the field's values.
fn targets(
    examples: &[Example],
    fields: &[(Field, Vec<String>)],
) -> Result<Vec<[usize; 4]>, DomainError> {
    let mut targets = Vec::with_capacity(examples.len());
    for (index, example) in examples.iter().enumerate() {
        let mut target = [0usize; 4];
        for (slot, (field, labels)) in target.iter_mut().zip(fields) {
            let label = example.label(*field);
            *slot = labels
                .iter()
                .position(|known| known == label)
                .ok_or_else(|| {
                    DomainError::invalid(
                        format!("example {} {field}", index + 1),
                        format!("{label:?} is not configured"),
                    )
                })?;
        }
        targets.push(target);
    }
    Ok(targets)
}

/// Refuses options out of range, naming the option.
fn check_options(options: &TrainOptions) -> Result<(), DomainError> {
    if options.bucket_bits == 0 || options.bucket_bits > MAX_BUCKET_BITS {
        return Err(DomainError::invalid(
            "bucket_bits",
            format!("must be 1..={MAX_BUCKET_BITS}"),
        ));
    }
    if !(options.urgent_at > 0.0 && options.urgent_at <= 1.0) {
        return Err(DomainError::invalid(
            "urgent_at",
            "must be above 0 and at most 1",
        ));
    }
    if options.shuffles == 0 || options.shuffles > 64 {
        return Err(DomainError::invalid("shuffles", "must be 1 to 64"));
    }
    if options.averaged_epochs == 0 {
        return Err(DomainError::invalid(
            "averaged_epochs",
            "must be at least 1",
        ));
    }
    if !(options.urgent_weight > 0.0 && options.urgent_weight <= 100.0) {
        return Err(DomainError::invalid(
            "urgent_weight",
            "must be above 0 and at most 100",
        ));
    }
    if !(options.sharpen > 0.0 && options.sharpen <= 10.0) {
        return Err(DomainError::invalid(
            "sharpen",
            "must be above 0 and at most 10",
        ));
    }
    options
        .features
        .check()
        .map_err(|reason| DomainError::invalid("features", reason))?;
    Ok(())
}

/// Trains a model on `examples`, with the keywords of `config` as extra features and its
/// departments as the department labels. Errors name an example whose department is not
/// configured, or options out of range.
pub fn train(
    examples: &[Example],
    config: &DomainConfig,
    options: &TrainOptions,
) -> Result<Model, DomainError> {
    check_options(options)?;
    if examples.is_empty() {
        return Err(DomainError::invalid("examples", "nothing to train on"));
    }
    let fields = labels(config);
    let targets = targets(examples, &fields)?;
    let keywords = keywords_of(config);
    let featurizer = Featurizer::with_set(options.bucket_bits, &keywords, options.features);
    let features: Vec<Features> = examples
        .iter()
        .map(|example| featurizer.features(&example.text))
        .collect();
    let buckets = 1usize << options.bucket_bits;
    let mut dense: Vec<Dense> = fields
        .iter()
        .enumerate()
        .map(|(slot, (field, labels))| {
            let width = labels.len();
            let mut counts = vec![0f32; width];
            for (target, example) in targets.iter().zip(examples) {
                counts[target[slot]] += example.weight * example.field_weights[slot];
            }
            let total: f32 = counts.iter().sum();
            let present = counts.iter().filter(|count| **count > 0.0).count().max(1) as f32;
            let class_weight = counts
                .iter()
                .zip(labels)
                .map(|(count, label)| {
                    let extra = if *field == Field::Priority && label == Priority::Urgent.as_str() {
                        options.urgent_weight
                    } else {
                        1.0
                    };
                    if *count > 0.0 {
                        extra * (total / (present * count)).powf(options.class_balance)
                    } else {
                        extra
                    }
                })
                .collect();
            Dense {
                width,
                bias: vec![0.0; width],
                weights: vec![0.0; buckets * width],
                class_weight,
            }
        })
        .collect();
    let snapshots = options.shuffles * options.averaged_epochs.min(options.epochs);
    if snapshots <= 1 {
        descend(
            &mut dense,
            examples,
            &features,
            &targets,
            options,
            options.seed,
            None,
        );
    } else {
        let mut sum: Vec<Dense> = dense.iter().map(Dense::zeroed).collect();
        for run in 0..options.shuffles {
            dense.iter_mut().for_each(Dense::reset);
            let seed = run_seed(options.seed, run);
            descend(
                &mut dense,
                examples,
                &features,
                &targets,
                options,
                seed,
                Some(&mut sum),
            );
        }
        let share = 1.0 / snapshots as f32;
        for field in &mut sum {
            field.scale(share);
        }
        dense = sum;
    }
    let weights = dense
        .into_iter()
        .zip(&fields)
        .map(|(field, (name, labels))| {
            sparse(field, *name, labels, options.prune_below, options.sharpen)
        })
        .collect();
    let header = Header {
        bucket_bits: options.bucket_bits,
        keywords,
        fields: fields
            .iter()
            .map(|(field, labels)| FieldHeader {
                field: *field,
                labels: labels.clone(),
            })
            .collect(),
        training: TrainingInfo {
            examples: examples.len(),
            epochs: options.epochs,
            seed: options.seed,
            learning_rate: options.learning_rate,
            l2: options.l2,
            class_balance: options.class_balance,
            sharpen: options.sharpen,
            shuffles: options.shuffles,
            averaged_epochs: options.averaged_epochs,
            urgent_weight: options.urgent_weight,
        },
        urgent_at: options.urgent_at,
        features: options.features,
    };
    Ok(Model::from_parts(header, weights))
}

/// Keeps the rows with any weight of at least `prune_below` in magnitude, every weight and
/// bias multiplied by `sharpen`.
fn sparse(
    dense: Dense,
    field: Field,
    labels: &[String],
    prune_below: f32,
    sharpen: f32,
) -> FieldWeights {
    let width = dense.width;
    let mut buckets = Vec::new();
    let mut weights = Vec::new();
    for (bucket, row) in dense.weights.chunks_exact(width).enumerate() {
        if row.iter().any(|weight| weight.abs() >= prune_below) {
            buckets.push(bucket as u32);
            weights.extend(row.iter().map(|weight| {
                if weight.abs() >= prune_below {
                    *weight * sharpen
                } else {
                    0.0
                }
            }));
        }
    }
    FieldWeights {
        field,
        labels: labels.to_vec(),
        bias: dense.bias.iter().map(|bias| bias * sharpen).collect(),
        buckets,
        weights,
    }
}
