//! The corpus and the model that come with the build, for tools that train or evaluate
//! without files of their own (`cloop classifier train` starts from the corpus and compares
//! with the shipped model when there is no current model file yet).

/// The labelled corpus, `crates/domain/data/classifier/corpus.csv`.
pub const CORPUS: &str = include_str!("../../data/classifier/corpus.csv");

/// The model trained on the corpus's train split, `crates/domain/data/classifier/model.bin`.
pub const MODEL: &[u8] = include_bytes!("../../data/classifier/model.bin");
