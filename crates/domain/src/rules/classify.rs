//! Keyword classification of a submission's text: kind, content type, priority, scope,
//! keywords and a confidence, from the tables of `ClassificationConfig`.
//!
//! Text and keywords are compared after Unicode NFKC normalisation, lower-casing and
//! collapsing of white space. An English keyword (one that starts or ends with an ASCII letter
//! or digit) matches only at word boundaries; a Chinese keyword matches anywhere. A trailing
//! `*` lets an English keyword match any word ending. Where matches overlap, the leftmost and
//! then longest wins, so "不满意" (complaint) is not also read as "满意" (praise).

use std::collections::{BTreeMap, BTreeSet};

use unicode_normalization::UnicodeNormalization;

use crate::config::ClassificationConfig;
use crate::types::{Classification, ContentType, Kind, Priority, Scope};

/// Normalises text for matching: NFKC, lower case, typographic apostrophes made plain and
/// runs of white space collapsed into one space.
pub fn normalise_for_matching(text: &str) -> String {
    let mut normalised = String::with_capacity(text.len());
    let mut last_was_space = true;
    for character in text.nfkc().flat_map(char::to_lowercase) {
        let character = if character == '\u{2019}' || character == '\u{2018}' {
            '\''
        } else {
            character
        };
        if character.is_whitespace() {
            if !last_was_space {
                normalised.push(' ');
            }
            last_was_space = true;
        } else {
            normalised.push(character);
            last_was_space = false;
        }
    }
    if normalised.ends_with(' ') {
        normalised.pop();
    }
    normalised
}

/// One keyword, compiled for matching.
#[derive(Debug, Clone, PartialEq)]
pub struct Term {
    /// The keyword as configured, without a trailing `*`: what is reported.
    pub display: String,
    pattern: String,
    prefix: bool,
    left_boundary: bool,
    right_boundary: bool,
}

fn is_word_character(character: char) -> bool {
    character.is_ascii_alphanumeric() || character == '_'
}

impl Term {
    /// Compiles one configured keyword; `None` for an empty one.
    pub fn new(keyword: &str) -> Option<Self> {
        let trimmed = keyword.trim();
        let (body, prefix) = match trimmed.strip_suffix('*') {
            Some(body) => (body.trim_end(), true),
            None => (trimmed, false),
        };
        let pattern = normalise_for_matching(body);
        let first = pattern.chars().next()?;
        let last = pattern.chars().next_back()?;
        Some(Self {
            display: body.to_owned(),
            left_boundary: is_word_character(first),
            right_boundary: is_word_character(last) && !prefix,
            prefix: prefix && is_word_character(last),
            pattern,
        })
    }

    /// The byte ranges of every match in `normalised` (text from `normalise_for_matching`).
    pub fn find_all(&self, normalised: &str) -> Vec<(usize, usize)> {
        let mut found = Vec::new();
        for (start, _) in normalised.match_indices(&self.pattern) {
            let mut end = start + self.pattern.len();
            if self.left_boundary
                && normalised[..start]
                    .chars()
                    .next_back()
                    .is_some_and(is_word_character)
            {
                continue;
            }
            if self.right_boundary
                && normalised[end..]
                    .chars()
                    .next()
                    .is_some_and(is_word_character)
            {
                continue;
            }
            if self.prefix {
                end += normalised[end..]
                    .chars()
                    .take_while(|character| is_word_character(*character))
                    .map(char::len_utf8)
                    .sum::<usize>();
            }
            found.push((start, end));
        }
        found
    }

    /// Whether `word` (normalised) is this keyword: the same text, or for a keyword with a
    /// trailing `*` any word that starts with it.
    pub fn names(&self, word: &str) -> bool {
        if self.prefix {
            word.starts_with(&self.pattern)
        } else {
            word == self.pattern
        }
    }

    /// Whether this term occurs in `text` (any form; normalised here).
    pub fn occurs_in(&self, text: &str) -> bool {
        !self.find_all(&normalise_for_matching(text)).is_empty()
    }
}

/// What a keyword means to the rules: every table it appears in.
#[derive(Debug, Clone, Default, PartialEq)]
struct Meaning {
    kinds: Vec<Kind>,
    content_types: Vec<ContentType>,
    priority: Option<Priority>,
    /// A configured product or module name.
    product: bool,
    global: bool,
    complex: bool,
    /// Departments whose routing rules name this keyword (for the scope).
    departments: BTreeSet<String>,
}

/// The classifier compiled from configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Classifier {
    terms: Vec<Term>,
    meanings: Vec<Meaning>,
    kind_precedence: Vec<Kind>,
    default_kind: Kind,
    content_precedence: Vec<ContentType>,
    default_content_type: ContentType,
    default_priority: Priority,
    low_priority_kinds: Vec<Kind>,
    global_min_departments: usize,
    threshold: f64,
    max_terms: usize,
}

/// The signals a text gave, before they are turned into a [`Classification`]; `explain`
/// output and tests read them.
#[derive(Debug, Clone, PartialEq)]
pub struct Evidence {
    pub kinds: BTreeMap<Kind, Vec<String>>,
    pub content_types: BTreeMap<ContentType, Vec<String>>,
    pub priority_keywords: Vec<String>,
    /// The most urgent priority a keyword asked for.
    pub priority: Option<Priority>,
    pub departments: BTreeSet<String>,
}

impl Classifier {
    /// Compiles the tables. `routing_keywords` lists (department, keyword) pairs from the
    /// routing rules: they are extracted as keywords too, and they decide the scope.
    pub fn new(config: &ClassificationConfig, routing_keywords: &[(String, String)]) -> Self {
        let mut classifier = Self {
            terms: Vec::new(),
            meanings: Vec::new(),
            kind_precedence: config.kind_precedence.clone(),
            default_kind: config.default_kind,
            content_precedence: config.content_precedence.clone(),
            default_content_type: config.default_content_type,
            default_priority: config.default_priority,
            low_priority_kinds: config.low_priority_kinds.clone(),
            global_min_departments: config.global_min_departments,
            threshold: config.confidence_threshold,
            max_terms: config.max_terms,
        };
        let mut index_by_pattern: BTreeMap<(String, bool), usize> = BTreeMap::new();
        let mut add = |keyword: &str, update: &dyn Fn(&mut Meaning)| {
            let Some(term) = Term::new(keyword) else {
                return;
            };
            let key = (term.pattern.clone(), term.prefix);
            let index = *index_by_pattern.entry(key).or_insert_with(|| {
                classifier.terms.push(term);
                classifier.meanings.push(Meaning::default());
                classifier.terms.len() - 1
            });
            update(&mut classifier.meanings[index]);
        };
        for keyword in &config.products {
            add(keyword, &|meaning| meaning.product = true);
        }
        for kind in Kind::ALL {
            for keyword in config.kinds.of(*kind) {
                add(keyword, &|meaning| {
                    if !meaning.kinds.contains(kind) {
                        meaning.kinds.push(*kind);
                    }
                });
            }
        }
        for content_type in ContentType::ALL {
            for keyword in config.content_types.of(*content_type) {
                add(keyword, &|meaning| {
                    if !meaning.content_types.contains(content_type) {
                        meaning.content_types.push(*content_type);
                    }
                });
            }
        }
        for keyword in &config.priorities.high {
            add(keyword, &|meaning| {
                meaning.priority = Some(
                    meaning
                        .priority
                        .map_or(Priority::High, |p| p.min(Priority::High)),
                );
            });
        }
        for keyword in &config.priorities.urgent {
            add(keyword, &|meaning| {
                meaning.priority = Some(Priority::Urgent)
            });
        }
        for keyword in &config.global_keywords {
            add(keyword, &|meaning| meaning.global = true);
        }
        for keyword in &config.complex_keywords {
            add(keyword, &|meaning| meaning.complex = true);
        }
        for (department, keyword) in routing_keywords {
            add(keyword, &|meaning| {
                meaning.departments.insert(department.clone());
            });
        }
        classifier
    }

    /// The configured confidence threshold.
    pub fn threshold(&self) -> f64 {
        self.threshold
    }

    /// The terms of `content` (see `rules::terms`), without the configured keywords.
    pub fn terms(&self, content: &str) -> Vec<String> {
        let configured = |word: &str| self.terms.iter().any(|term| term.names(word));
        super::terms::extract_terms(content, self.max_terms, &configured)
    }

    /// The matched terms (indexes) in order of appearance, leftmost-longest, no overlaps.
    fn matches(&self, content: &str) -> Vec<usize> {
        let normalised = normalise_for_matching(content);
        let mut found: Vec<(usize, usize, usize)> = Vec::new();
        for (index, term) in self.terms.iter().enumerate() {
            for (start, end) in term.find_all(&normalised) {
                found.push((start, end, index));
            }
        }
        found.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
        let mut kept = Vec::new();
        let mut covered_until = 0;
        for (start, end, index) in found {
            if start >= covered_until {
                kept.push(index);
                covered_until = end;
            }
        }
        kept
    }

    /// Collects the evidence the text gives, one entry per distinct keyword.
    pub fn evidence(&self, content: &str) -> (Vec<String>, Evidence, bool, bool) {
        let mut keywords: Vec<String> = Vec::new();
        let mut seen = BTreeSet::new();
        let mut evidence = Evidence {
            kinds: BTreeMap::new(),
            content_types: BTreeMap::new(),
            priority_keywords: Vec::new(),
            priority: None,
            departments: BTreeSet::new(),
        };
        let mut global = false;
        let mut complex = false;
        for index in self.matches(content) {
            if !seen.insert(index) {
                continue;
            }
            let term = &self.terms[index];
            let meaning = &self.meanings[index];
            keywords.push(term.display.clone());
            note(&mut evidence.kinds, &meaning.kinds, &term.display);
            note(
                &mut evidence.content_types,
                &meaning.content_types,
                &term.display,
            );
            if let Some(priority) = meaning.priority {
                evidence.priority_keywords.push(term.display.clone());
                evidence.priority = Some(evidence.priority.map_or(priority, |p| p.min(priority)));
            }
            evidence
                .departments
                .extend(meaning.departments.iter().cloned());
            global |= meaning.global;
            complex |= meaning.complex;
        }
        (keywords, evidence, global, complex)
    }

    /// Classifies `content`. The kind is the first kind of the precedence list that matched
    /// (complaint before problem before suggestion ...); the content type is the one with the
    /// most matched keywords, ties broken by precedence; an urgent keyword makes the ticket
    /// urgent, a high one high, otherwise praise and suggestions are low and the rest medium.
    ///
    /// Confidence: 0.4 when a kind matched (0.3 when several kinds did) and 0.4 when a content
    /// type matched (0.3 when the top content types tie); only when both matched, 0.1 more for
    /// a priority keyword and 0.1 more for three or more distinct keywords. So with the
    /// default threshold of 0.5 a ticket is placed automatically only when both its kind and
    /// its content type were recognised.
    ///
    /// Configured product names found in the submission's `product` field are added to the
    /// keywords after those of the text; they change nothing else. The terms of the text
    /// (`rules::terms`) are extracted too.
    pub fn classify(&self, content: &str, product: Option<&str>) -> Classification {
        Classification {
            terms: self.terms(content),
            ..self.classify_keywords(content, product)
        }
    }

    /// [`Classifier::classify`] without the terms, for a caller that needs only the values
    /// (intake's first deadlines): it does not pay for word segmentation.
    pub fn classify_keywords(&self, content: &str, product: Option<&str>) -> Classification {
        let (mut keywords, evidence, global, complex) = self.evidence(content);
        let evidence_keywords = keywords.len();
        if let Some(product) = product {
            for index in self.matches(product) {
                let name = &self.terms[index].display;
                if self.meanings[index].product && !keywords.contains(name) {
                    keywords.push(name.clone());
                }
            }
        }
        let mut confidence: f64 = 0.0;

        let kind = self
            .kind_precedence
            .iter()
            .copied()
            .find(|kind| evidence.kinds.contains_key(kind));
        if kind.is_some() {
            confidence += if evidence.kinds.len() > 1 { 0.3 } else { 0.4 };
        }
        let kind = kind.unwrap_or(self.default_kind);

        let best_count = evidence
            .content_types
            .values()
            .map(Vec::len)
            .max()
            .unwrap_or(0);
        let content_type = self
            .content_precedence
            .iter()
            .copied()
            .find(|content_type| {
                best_count > 0
                    && evidence
                        .content_types
                        .get(content_type)
                        .is_some_and(|words| words.len() == best_count)
            });
        if content_type.is_some() {
            let tied = evidence
                .content_types
                .values()
                .filter(|words| words.len() == best_count)
                .count();
            confidence += if tied > 1 { 0.3 } else { 0.4 };
        }
        let content_type = content_type.unwrap_or(self.default_content_type);

        let both_recognised = !evidence.kinds.is_empty() && best_count > 0;
        let priority = match evidence.priority {
            Some(priority) => {
                if both_recognised {
                    confidence += 0.1;
                }
                priority
            }
            None if evidence.kinds.contains_key(&kind)
                && self.low_priority_kinds.contains(&kind) =>
            {
                Priority::Low
            }
            None => self.default_priority,
        };
        if both_recognised && evidence_keywords >= 3 {
            confidence += 0.1;
        }
        let confidence = (confidence.min(1.0) * 100.0).round() / 100.0;

        let scope = if global || evidence.departments.len() >= self.global_min_departments {
            Scope::Global
        } else {
            Scope::Local
        };
        Classification {
            kind,
            content_type,
            priority,
            scope,
            keywords,
            confidence,
            confident: confidence >= self.threshold,
            complex,
            terms: Vec::new(),
        }
    }
}

/// Records `word` as evidence for each of `keys`.
fn note<K: Ord + Copy>(evidence: &mut BTreeMap<K, Vec<String>>, keys: &[K], word: &str) {
    for key in keys {
        evidence.entry(*key).or_default().push(word.to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spans(keyword: &str, text: &str) -> Vec<String> {
        let term = Term::new(keyword).expect("a keyword");
        let normalised = normalise_for_matching(text);
        term.find_all(&normalised)
            .into_iter()
            .map(|(start, end)| normalised[start..end].to_owned())
            .collect()
    }

    #[test]
    fn english_keywords_match_whole_words_case_insensitively() {
        assert_eq!(spans("error", "An ERROR occurred"), ["error"]);
        assert_eq!(spans("error", "terrorism"), Vec::<String>::new());
        assert_eq!(spans("error", "errors"), Vec::<String>::new());
        assert_eq!(spans("error", "error: 404"), ["error"]);
        assert_eq!(spans("how do i", "How   do\tI pay?"), ["how do i"]);
    }

    #[test]
    fn a_trailing_star_matches_word_endings() {
        assert_eq!(
            spans("crash*", "it crashes, it crashed"),
            ["crashes", "crashed"]
        );
        assert_eq!(spans("crash*", "a crash"), ["crash"]);
        assert_eq!(spans("crash*", "autocrash"), Vec::<String>::new());
    }

    #[test]
    fn chinese_keywords_match_anywhere_and_next_to_latin_text() {
        assert_eq!(spans("卡顿", "最近APP卡顿严重"), ["卡顿"]);
        assert_eq!(spans("APP", "APP卡顿"), ["app"]);
        assert_eq!(spans("APP", "WeChatAPP"), Vec::<String>::new());
    }

    #[test]
    fn empty_keywords_are_ignored() {
        assert_eq!(Term::new("  "), None);
        assert_eq!(Term::new("*"), None);
    }

    #[test]
    fn whitespace_is_collapsed_and_typographic_apostrophes_made_plain() {
        assert_eq!(
            normalise_for_matching("  Doesn\u{2019}t \n WORK  "),
            "doesn't work"
        );
        assert_eq!(normalise_for_matching("ＡＰＰ"), "app");
    }
}
