//! Text to features: the hashed character n-grams, words and configured keywords of one
//! submission, as a sparse, L2-normalised vector of bucket indices.
//!
//! The text is normalised as the keyword rules do ([`normalise_for_matching`]: NFKC, lower
//! case, white space collapsed), and every ASCII digit becomes `0`, so that order numbers and
//! amounts count as their shape and not as their value. Then:
//! - character n-grams of 1 to 3 characters over the text padded with one space each side;
//! - words: runs of ASCII letters and digits (English and pinyin words, model names);
//! - each configured keyword found (the same matching as the rules: whole English words,
//!   Chinese anywhere), and each of its meanings ("kind:complaint", "priority:urgent",
//!   "department:logistics", ...), so a keyword the corpus never shows still counts by what
//!   the configuration says it means.
//!
//! Every feature is hashed with 64-bit FNV-1a (stable across runs, platforms and builds,
//! unlike the standard library's randomly seeded hasher), with a one-byte tag for its family,
//! into a power-of-two number of buckets. A feature counts once per text (presence, not
//! frequency) and the vector is scaled to unit length, so long and short texts weigh alike.

use std::collections::BTreeMap;

use crate::config::DomainConfig;
use crate::rules::classify::{normalise_for_matching, Term};
use crate::rules::routing::Router;
use crate::types::{ContentType, Kind};

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// 64-bit FNV-1a over `bytes`, continuing from `hash`.
pub fn fnv1a(mut hash: u64, bytes: &[u8]) -> u64 {
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(FNV_PRIME);
    }
    hash
}

/// The hash of one feature: its family tag, then its text.
pub fn feature_hash(tag: u8, text: &str) -> u64 {
    fnv1a(fnv1a(FNV_OFFSET, &[tag]), text.as_bytes())
}

const TAG_NGRAM: u8 = b'n';
const TAG_WORD: u8 = b'w';
const TAG_KEYWORD: u8 = b'k';
const TAG_MEANING: u8 = b'm';
const TAG_BIGRAM: u8 = b'b';
const TAG_SEGMENT: u8 = b's';

/// Which features a model reads, recorded in its file so that a model is always read with
/// the features it was trained on. A file without it (format 1 as first written) means
/// [`FeatureSet::ORIGINAL`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FeatureSet {
    /// Character n-grams of 1 up to this many characters.
    pub char_ngrams: u32,
    /// Pairs of neighbouring words (English and pinyin words, model names).
    pub word_bigrams: bool,
    /// How many buckets each configured keyword and meaning fills: more than one gives the
    /// configuration's words more weight than any single n-gram.
    pub keyword_copies: u32,
    /// Chinese words of two or more characters as jieba segments the text (the segmentation
    /// the term extraction uses): a word is then one feature, not only its n-grams.
    #[serde(default, skip_serializing_if = "is_false")]
    pub segmented_words: bool,
}

fn is_false(value: &bool) -> bool {
    !*value
}

impl FeatureSet {
    /// The features of the first models: character 1–3-grams, words, keywords once.
    pub const ORIGINAL: FeatureSet = FeatureSet {
        char_ngrams: 3,
        word_bigrams: false,
        keyword_copies: 1,
        segmented_words: false,
    };

    /// Whether this is [`FeatureSet::ORIGINAL`] (then the file does not mention it).
    pub fn is_original(&self) -> bool {
        *self == Self::ORIGINAL
    }

    /// Refuses a set this build cannot compute.
    pub fn check(&self) -> Result<(), String> {
        if !(1..=5).contains(&self.char_ngrams) {
            return Err(format!("char_ngrams {} is not 1 to 5", self.char_ngrams));
        }
        if !(1..=8).contains(&self.keyword_copies) {
            return Err(format!(
                "keyword_copies {} is not 1 to 8",
                self.keyword_copies
            ));
        }
        Ok(())
    }
}

impl Default for FeatureSet {
    fn default() -> Self {
        Self::ORIGINAL
    }
}

/// One configured keyword and what the configuration says it means.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct KeywordFeature {
    /// The keyword as configured (a trailing `*` allows any word ending).
    pub keyword: String,
    /// Its meanings, e.g. `kind:complaint`, `content_type:service`, `priority:urgent`,
    /// `department:logistics`, `product`.
    pub meanings: Vec<String>,
}

/// Every keyword of the classification and routing tables of `config`, each with all its
/// meanings, in a stable order (sorted by keyword).
pub fn keywords_of(config: &DomainConfig) -> Vec<KeywordFeature> {
    let classification = &config.classification;
    let mut meanings: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut add = |keyword: &str, meaning: String| {
        let entry = meanings.entry(keyword.trim().to_owned()).or_default();
        if !entry.contains(&meaning) {
            entry.push(meaning);
        }
    };
    for keyword in &classification.products {
        add(keyword, "product".to_owned());
    }
    for kind in Kind::ALL {
        for keyword in classification.kinds.of(*kind) {
            add(keyword, format!("kind:{kind}"));
        }
    }
    for content_type in ContentType::ALL {
        for keyword in classification.content_types.of(*content_type) {
            add(keyword, format!("content_type:{content_type}"));
        }
    }
    for keyword in &classification.priorities.urgent {
        add(keyword, "priority:urgent".to_owned());
    }
    for keyword in &classification.priorities.high {
        add(keyword, "priority:high".to_owned());
    }
    for keyword in &classification.global_keywords {
        add(keyword, "global".to_owned());
    }
    for keyword in &classification.complex_keywords {
        add(keyword, "complex".to_owned());
    }
    for (department, keyword) in Router::keywords(&config.routing) {
        add(&keyword, format!("department:{department}"));
    }
    meanings
        .into_iter()
        .filter(|(keyword, _)| !keyword.is_empty())
        .map(|(keyword, meanings)| KeywordFeature { keyword, meanings })
        .collect()
}

/// Turns text into features; built once per model.
#[derive(Debug, Clone)]
pub struct Featurizer {
    mask: u64,
    set: FeatureSet,
    terms: Vec<(Term, Vec<u64>)>,
}

/// The sparse features of one text: distinct bucket indices, ascending, and the value every
/// one of them has (one over the square root of their number: unit length).
#[derive(Debug, Clone, PartialEq)]
pub struct Features {
    pub buckets: Vec<u32>,
    pub value: f32,
}

impl Featurizer {
    /// A featurizer of the original features hashing into `2^bucket_bits` buckets, with
    /// `keywords` as extra features.
    pub fn new(bucket_bits: u32, keywords: &[KeywordFeature]) -> Self {
        Self::with_set(bucket_bits, keywords, FeatureSet::ORIGINAL)
    }

    /// A featurizer of the features `set` names.
    pub fn with_set(bucket_bits: u32, keywords: &[KeywordFeature], set: FeatureSet) -> Self {
        let terms = keywords
            .iter()
            .filter_map(|keyword| {
                let term = Term::new(&keyword.keyword)?;
                let mut texts = vec![(TAG_KEYWORD, keyword.keyword.as_str())];
                texts.extend(
                    keyword
                        .meanings
                        .iter()
                        .map(|meaning| (TAG_MEANING, meaning.as_str())),
                );
                let mut hashes = Vec::new();
                for (tag, text) in texts {
                    let hash = feature_hash(tag, text);
                    hashes.push(hash);
                    // Further copies land in other buckets: the same hash, salted.
                    for copy in 1..set.keyword_copies {
                        hashes.push(fnv1a(hash, &copy.to_le_bytes()));
                    }
                }
                Some((term, hashes))
            })
            .collect();
        Self {
            mask: (1u64 << bucket_bits) - 1,
            set,
            terms,
        }
    }

    /// The features of `text`.
    pub fn features(&self, text: &str) -> Features {
        let normalised: String = normalise_for_matching(text)
            .chars()
            .map(|character| {
                if character.is_ascii_digit() {
                    '0'
                } else {
                    character
                }
            })
            .collect();
        let mut hashes: Vec<u64> = Vec::with_capacity(normalised.len() * 3 + 16);
        if !normalised.is_empty() {
            self.ngrams(&normalised, &mut hashes);
        }
        let mut previous: Option<&str> = None;
        for word in normalised
            .split(|character: char| !character.is_ascii_alphanumeric())
            .filter(|word| !word.is_empty())
        {
            hashes.push(feature_hash(TAG_WORD, word));
            if self.set.word_bigrams {
                if let Some(previous) = previous {
                    let hash = feature_hash(TAG_BIGRAM, previous);
                    hashes.push(fnv1a(fnv1a(hash, b" "), word.as_bytes()));
                }
                previous = Some(word);
            }
        }
        if self.set.segmented_words {
            for word in crate::rules::terms::segment(&normalised) {
                if word.chars().count() >= 2 && !word.is_ascii() && !word.contains(' ') {
                    hashes.push(feature_hash(TAG_SEGMENT, word));
                }
            }
        }
        for (term, term_hashes) in &self.terms {
            if !term.find_all(&normalised).is_empty() {
                hashes.extend_from_slice(term_hashes);
            }
        }
        let mut buckets: Vec<u32> = hashes
            .into_iter()
            .map(|hash| {
                // The mask keeps at most 32 bits (bucket_bits is checked at load).
                u32::try_from(hash & self.mask).unwrap_or(u32::MAX)
            })
            .collect();
        buckets.sort_unstable();
        buckets.dedup();
        let value = if buckets.is_empty() {
            0.0
        } else {
            1.0 / (buckets.len() as f32).sqrt()
        };
        Features { buckets, value }
    }

    /// Character n-grams of 1 to `char_ngrams` characters over ` text `.
    fn ngrams(&self, normalised: &str, hashes: &mut Vec<u64>) {
        let mut characters: Vec<char> = Vec::with_capacity(normalised.len() + 2);
        characters.push(' ');
        characters.extend(normalised.chars());
        characters.push(' ');
        let mut buffer = [0u8; 4];
        for start in 0..characters.len() {
            let mut hash = fnv1a(FNV_OFFSET, &[TAG_NGRAM]);
            for (length, character) in characters[start..]
                .iter()
                .take(self.set.char_ngrams as usize)
                .enumerate()
            {
                hash = fnv1a(hash, character.encode_utf8(&mut buffer).as_bytes());
                // A lone space says nothing; longer grams with spaces mark word edges.
                if length == 0 && *character == ' ' {
                    continue;
                }
                hashes.push(fnv1a(hash, &[b'0' + length as u8]));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_matches_the_published_test_vectors() {
        assert_eq!(fnv1a(FNV_OFFSET, b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(FNV_OFFSET, b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(FNV_OFFSET, b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn width_digits_and_case_do_not_change_the_features() {
        let featurizer = Featurizer::new(16, &[]);
        assert_eq!(
            featurizer.features("ＡＰＰ闪退 order 123"),
            featurizer.features("app闪退   ORDER 987")
        );
        assert_ne!(
            featurizer.features("app闪退"),
            featurizer.features("app卡顿")
        );
    }

    #[test]
    fn a_configured_keyword_adds_its_meanings() {
        let keywords = keywords_of(&DomainConfig::default());
        let shock = keywords
            .iter()
            .find(|keyword| keyword.keyword == "漏电")
            .expect("漏电 is a default keyword");
        assert!(shock.meanings.contains(&"priority:urgent".to_owned()));
        assert!(shock.meanings.contains(&"department:quality".to_owned()));
        let plain = Featurizer::new(16, &[]).features("水壶漏电");
        let with_keywords = Featurizer::new(16, &keywords).features("水壶漏电");
        assert!(with_keywords.buckets.len() > plain.buckets.len());
    }

    #[test]
    fn features_have_unit_length_and_empty_text_none() {
        let features = Featurizer::new(16, &[]).features("包裹显示已签收");
        let length: f32 = features.buckets.len() as f32 * features.value * features.value;
        assert!((length - 1.0).abs() < 1e-5);
        assert!(Featurizer::new(16, &[]).features("   ").buckets.is_empty());
    }

    #[test]
    fn segmented_words_add_features_to_chinese_text_only() {
        let segmented = FeatureSet {
            segmented_words: true,
            ..FeatureSet::ORIGINAL
        };
        let plain = Featurizer::new(16, &[]);
        let with_words = Featurizer::with_set(16, &[], segmented);
        assert!(
            with_words.features("包裹显示已签收").buckets.len()
                > plain.features("包裹显示已签收").buckets.len()
        );
        assert_eq!(
            with_words.features("parcel never came").buckets,
            plain.features("parcel never came").buckets
        );
    }
}
