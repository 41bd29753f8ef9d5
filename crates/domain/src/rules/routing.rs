//! Routing: the ordered rules of `RoutingConfig` that pick one accountable department (and
//! optional helpers) for a classified ticket. The first rule that matches wins; when none
//! does, the ticket waits in the dispatch step for customer service.

use crate::config::{RouteRuleConfig, RoutingConfig};
use crate::rules::classify::{normalise_for_matching, Term};
use crate::types::{Classification, ContentType, Kind, Priority, Route};

/// One routing rule, compiled.
#[derive(Debug, Clone, PartialEq)]
struct CompiledRule {
    name: String,
    department: String,
    helpers: Vec<String>,
    content_types: Vec<ContentType>,
    kinds: Vec<Kind>,
    priorities: Vec<Priority>,
    products: Vec<Term>,
    keywords_any: Vec<Term>,
    keywords_all: Vec<Term>,
}

/// Whether `term` occurs in any of the extracted keywords (already normalised).
fn in_keywords(term: &Term, keywords: &[String]) -> bool {
    keywords
        .iter()
        .any(|keyword| !term.find_all(keyword).is_empty())
}

impl CompiledRule {
    fn new(index: usize, config: &RouteRuleConfig) -> Self {
        let compile = |words: &[String]| words.iter().filter_map(|word| Term::new(word)).collect();
        Self {
            name: if config.name.trim().is_empty() {
                format!("rule-{}", index + 1)
            } else {
                config.name.trim().to_owned()
            },
            department: config.department.clone(),
            helpers: config.helpers.clone(),
            content_types: config.content_types.clone(),
            kinds: config.kinds.clone(),
            priorities: config.priorities.clone(),
            products: compile(&config.products),
            keywords_any: compile(&config.keywords_any),
            keywords_all: compile(&config.keywords_all),
        }
    }

    /// Whether the rule matches; `keywords` and `product` are normalised for matching.
    fn matches(
        &self,
        classification: &Classification,
        keywords: &[String],
        product: Option<&str>,
    ) -> bool {
        let listed_or_empty = |empty: bool, contains: bool| empty || contains;
        listed_or_empty(
            self.content_types.is_empty(),
            self.content_types.contains(&classification.content_type),
        ) && listed_or_empty(
            self.kinds.is_empty(),
            self.kinds.contains(&classification.kind),
        ) && listed_or_empty(
            self.priorities.is_empty(),
            self.priorities.contains(&classification.priority),
        ) && (self.products.is_empty()
            || self.products.iter().any(|term| {
                product.is_some_and(|product| !term.find_all(product).is_empty())
                    || in_keywords(term, keywords)
            }))
            && (self.keywords_any.is_empty()
                || self
                    .keywords_any
                    .iter()
                    .any(|term| in_keywords(term, keywords)))
            && self
                .keywords_all
                .iter()
                .all(|term| in_keywords(term, keywords))
    }
}

/// The routing table compiled from configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Router {
    rules: Vec<CompiledRule>,
}

impl Router {
    /// Compiles the rules in their configured order.
    pub fn new(config: &RoutingConfig) -> Self {
        Self {
            rules: config
                .rules
                .iter()
                .enumerate()
                .map(|(index, rule)| CompiledRule::new(index, rule))
                .collect(),
        }
    }

    /// Every (department, keyword) pair the rules name, for keyword extraction and scope.
    pub fn keywords(config: &RoutingConfig) -> Vec<(String, String)> {
        config
            .rules
            .iter()
            .flat_map(|rule| {
                rule.keywords_any
                    .iter()
                    .chain(&rule.keywords_all)
                    .chain(&rule.products)
                    .map(|keyword| (rule.department.clone(), keyword.clone()))
            })
            .collect()
    }

    /// The first matching rule's route, or `None` when no rule matches.
    pub fn route(&self, classification: &Classification, product: Option<&str>) -> Option<Route> {
        let keywords: Vec<String> = classification
            .keywords
            .iter()
            .map(|keyword| normalise_for_matching(keyword))
            .collect();
        let product = product.map(normalise_for_matching);
        self.rules
            .iter()
            .find(|rule| rule.matches(classification, &keywords, product.as_deref()))
            .map(|rule| Route {
                department: rule.department.clone(),
                helpers: rule.helpers.clone(),
                rule: rule.name.clone(),
            })
    }
}
