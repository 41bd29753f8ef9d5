//! The trained model: one linear (multinomial logistic) scorer per field over the hashed
//! features, its file format, and prediction.
//!
//! The file is small and versioned: the 8 bytes `CLOOPCLS`, a format number (u32, little
//! endian), the length of a JSON header (u32) and the header (bucket bits, the keywords used
//! as features, each field's labels, how it was trained), then for each field in the header's
//! order its biases (one f32 per label), its row count (u32) and its rows: a bucket (u32)
//! and one f32 weight per label, buckets ascending. Buckets whose weights are all zero are
//! left out, so the file holds only what training touched.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::features::{FeatureSet, Features, Featurizer, KeywordFeature};
use super::Field;
use crate::DomainError;

/// The first bytes of every model file.
pub const MAGIC: &[u8; 8] = b"CLOOPCLS";
/// The newest format this build reads and writes: 2 records the [`FeatureSet`] in the
/// header. A model of the original features is still written as format 1 (the same bytes
/// as before format 2 existed), so that builds reading only format 1 keep reading it and
/// refuse, rather than misread, a model of other features.
pub const FORMAT: u32 = 2;
/// The format of models of the original features.
pub const FORMAT_ORIGINAL: u32 = 1;
/// The most buckets a model may hash into (2^MAX_BUCKET_BITS).
pub const MAX_BUCKET_BITS: u32 = 22;

/// How a model was trained, recorded in its header for whoever reads the file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingInfo {
    /// Labelled examples trained on.
    pub examples: usize,
    pub epochs: u32,
    pub seed: u64,
    pub learning_rate: f32,
    pub l2: f32,
    pub class_balance: f32,
    /// The factor every weight was multiplied by after training (absent: 1).
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub sharpen: f32,
    /// Training runs averaged into the model (absent: 1).
    #[serde(default = "one_u32", skip_serializing_if = "is_one_u32")]
    pub shuffles: u32,
    /// Final epochs of each run averaged (absent: 1, the last alone).
    #[serde(default = "one_u32", skip_serializing_if = "is_one_u32")]
    pub averaged_epochs: u32,
    /// The extra factor on urgent's class weight (absent: 1).
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub urgent_weight: f32,
}

fn one_u32() -> u32 {
    1
}

fn is_one_u32(value: &u32) -> bool {
    *value == 1
}

fn one() -> f32 {
    1.0
}

fn is_one(value: &f32) -> bool {
    *value == 1.0
}

/// The JSON header of a model file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Header {
    pub bucket_bits: u32,
    pub keywords: Vec<KeywordFeature>,
    pub fields: Vec<FieldHeader>,
    pub training: TrainingInfo,
    /// Urgent is chosen whenever its probability reaches this.
    pub urgent_at: f32,
    /// The features read (format 2; absent in format 1: the original ones).
    #[serde(default, skip_serializing_if = "FeatureSet::is_original")]
    pub features: FeatureSet,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct FieldHeader {
    pub field: Field,
    pub labels: Vec<String>,
}

/// The weights of one field: a bias per label and a row of per-label weights for each
/// bucket that has any.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FieldWeights {
    pub field: Field,
    pub labels: Vec<String>,
    pub bias: Vec<f32>,
    /// Ascending bucket indices.
    pub buckets: Vec<u32>,
    /// `buckets.len() * labels.len()` weights, row by row.
    pub weights: Vec<f32>,
}

impl FieldWeights {
    /// The probability of each label for `features` (softmax of the linear scores).
    pub fn probabilities(&self, features: &Features) -> Vec<f64> {
        let width = self.labels.len();
        let mut scores: Vec<f32> = self.bias.clone();
        for bucket in &features.buckets {
            if let Ok(row) = self.buckets.binary_search(bucket) {
                let weights = &self.weights[row * width..(row + 1) * width];
                for (score, weight) in scores.iter_mut().zip(weights) {
                    *score += weight * features.value;
                }
            }
        }
        softmax(&scores)
    }
}

/// Probabilities from scores, computed stably in f64.
pub(crate) fn softmax(scores: &[f32]) -> Vec<f64> {
    let max = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exps: Vec<f64> = scores
        .iter()
        .map(|score| f64::from(score - max).exp())
        .collect();
    let sum: f64 = exps.iter().sum();
    exps.into_iter().map(|value| value / sum).collect()
}

/// A trained classification model, ready to predict. Built by
/// [`train`](super::train::train) or read with [`Model::from_bytes`].
#[derive(Debug, Clone)]
pub struct Model {
    pub(crate) header: Header,
    pub(crate) fields: Vec<FieldWeights>,
    pub(crate) featurizer: Featurizer,
    version: String,
}

impl PartialEq for Model {
    fn eq(&self, other: &Self) -> bool {
        self.header == other.header && self.fields == other.fields
    }
}

fn invalid(reason: impl Into<String>) -> DomainError {
    DomainError::invalid("classifier model", reason)
}

/// Reads little-endian values from a byte slice, naming what was cut short.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take(&mut self, count: usize, what: &str) -> Result<&[u8], DomainError> {
        let end = self
            .at
            .checked_add(count)
            .filter(|end| *end <= self.bytes.len())
            .ok_or_else(|| invalid(format!("the file ends inside {what}")))?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }

    fn u32(&mut self, what: &str) -> Result<u32, DomainError> {
        let mut buffer = [0u8; 4];
        buffer.copy_from_slice(self.take(4, what)?);
        Ok(u32::from_le_bytes(buffer))
    }

    fn f32(&mut self, what: &str) -> Result<f32, DomainError> {
        let value = f32::from_bits(self.u32(what)?);
        if value.is_finite() {
            Ok(value)
        } else {
            Err(invalid(format!("{what} is not a finite number")))
        }
    }
}

impl Model {
    pub(crate) fn from_parts(header: Header, fields: Vec<FieldWeights>) -> Self {
        let featurizer =
            Featurizer::with_set(header.bucket_bits, &header.keywords, header.features);
        let mut model = Self {
            header,
            fields,
            featurizer,
            version: String::new(),
        };
        let digest = Sha256::digest(model.to_bytes());
        model.version = format!("sha256:{}", &hex::encode(digest)[..12]);
        model
    }

    /// The model's version: `sha256:` and the first 12 hex digits of its file's SHA-256.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// How the model was trained.
    pub fn training(&self) -> &TrainingInfo {
        &self.header.training
    }

    /// The labels the model chooses among for `field`.
    pub fn labels(&self, field: Field) -> &[String] {
        self.fields
            .iter()
            .find(|weights| weights.field == field)
            .map_or(&[], |weights| weights.labels.as_slice())
    }

    /// Weighted buckets stored, over all fields.
    pub fn rows(&self) -> usize {
        self.fields.iter().map(|field| field.buckets.len()).sum()
    }

    /// The model file.
    pub fn to_bytes(&self) -> Vec<u8> {
        let header = serde_json::to_vec(&self.header).unwrap_or_default();
        let mut bytes = Vec::with_capacity(16 + header.len() + self.rows() * 40);
        bytes.extend_from_slice(MAGIC);
        let format = if self.header.features.is_original() {
            FORMAT_ORIGINAL
        } else {
            FORMAT
        };
        bytes.extend_from_slice(&format.to_le_bytes());
        bytes.extend_from_slice(&(header.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&header);
        for field in &self.fields {
            for bias in &field.bias {
                bytes.extend_from_slice(&bias.to_le_bytes());
            }
            bytes.extend_from_slice(&(field.buckets.len() as u32).to_le_bytes());
            let width = field.labels.len();
            for (row, bucket) in field.buckets.iter().enumerate() {
                bytes.extend_from_slice(&bucket.to_le_bytes());
                for weight in &field.weights[row * width..(row + 1) * width] {
                    bytes.extend_from_slice(&weight.to_le_bytes());
                }
            }
        }
        bytes
    }

    /// Reads a model file; the error names what is wrong with it.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DomainError> {
        let mut reader = Reader { bytes, at: 0 };
        if reader.take(8, "the magic bytes")? != MAGIC {
            return Err(invalid(
                "not a model file (it does not start with CLOOPCLS)",
            ));
        }
        let format = reader.u32("the format number")?;
        if !(FORMAT_ORIGINAL..=FORMAT).contains(&format) {
            return Err(invalid(format!(
                "format {format} is not supported (this build reads formats \
                 {FORMAT_ORIGINAL} to {FORMAT})"
            )));
        }
        let length = reader.u32("the header length")? as usize;
        let header: Header = serde_json::from_slice(reader.take(length, "the header")?)
            .map_err(|error| invalid(format!("the header is not valid: {error}")))?;
        if !(header.urgent_at > 0.0 && header.urgent_at <= 1.0) {
            return Err(invalid(format!(
                "urgent_at {} is outside (0, 1]",
                header.urgent_at
            )));
        }
        if format == FORMAT_ORIGINAL && !header.features.is_original() {
            return Err(invalid("a format 1 file cannot name its features"));
        }
        header
            .features
            .check()
            .map_err(|reason| invalid(format!("features: {reason}")))?;
        if header.bucket_bits == 0 || header.bucket_bits > MAX_BUCKET_BITS {
            return Err(invalid(format!(
                "bucket_bits {} is outside 1..={MAX_BUCKET_BITS}",
                header.bucket_bits
            )));
        }
        let mut fields = Vec::with_capacity(header.fields.len());
        for field in &header.fields {
            fields.push(read_field(&mut reader, field, header.bucket_bits)?);
        }
        if reader.at != bytes.len() {
            return Err(invalid(format!(
                "{} bytes follow the last field",
                bytes.len() - reader.at
            )));
        }
        // Predictions index fields by their place in Field::ALL.
        if fields
            .iter()
            .map(|weights| weights.field)
            .ne(Field::ALL.iter().copied())
        {
            return Err(invalid(
                "the fields must be kind, content_type, priority and department, in this order",
            ));
        }
        Ok(Self::from_parts(header, fields))
    }
}

fn read_field(
    reader: &mut Reader<'_>,
    field: &FieldHeader,
    bucket_bits: u32,
) -> Result<FieldWeights, DomainError> {
    let width = field.labels.len();
    if width < 2 {
        return Err(invalid(format!(
            "the field {} has fewer than two labels",
            field.field
        )));
    }
    field
        .field
        .check_labels(&field.labels)
        .map_err(|reason| invalid(format!("the field {}: {reason}", field.field)))?;
    let what = format!("the weights of {}", field.field);
    let bias = (0..width)
        .map(|_| reader.f32(&what))
        .collect::<Result<Vec<_>, _>>()?;
    let rows = reader.u32(&what)? as usize;
    let limit = 1usize << bucket_bits;
    if rows > limit {
        return Err(invalid(format!("{what}: {rows} rows for {limit} buckets")));
    }
    let mut buckets = Vec::with_capacity(rows);
    let mut weights = Vec::with_capacity(rows * width);
    for _ in 0..rows {
        let bucket = reader.u32(&what)?;
        if bucket as usize >= limit || buckets.last().is_some_and(|last| *last >= bucket) {
            return Err(invalid(format!(
                "{what}: bucket {bucket} is out of range or out of order"
            )));
        }
        buckets.push(bucket);
        for _ in 0..width {
            weights.push(reader.f32(&what)?);
        }
    }
    Ok(FieldWeights {
        field: field.field,
        labels: field.labels.clone(),
        bias,
        buckets,
        weights,
    })
}
