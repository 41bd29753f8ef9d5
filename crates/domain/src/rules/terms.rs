//! Term extraction: the words a submission is about, found by real word segmentation (jieba's
//! TF-IDF keyword extraction for Chinese, plain words for English) rather than by the
//! configured keyword tables, so that a problem nobody configured still shows up in reports.
//!
//! The text is normalised as for keyword matching (NFKC, lower case). Chinese terms are the
//! nouns, place and organisation names, other proper nouns, verbal nouns and verbs jieba
//! finds, weighted by TF-IDF against its embedded IDF table; person names are left out, so
//! that a customer's name never becomes a term. English words are tagged `eng` by the same
//! segmentation and weighted with the table's median IDF. Words of one character, words with
//! a digit, stop words of either language and the configured keywords are dropped. The
//! result is ordered by weight, ties by text, and holds at most `max_terms` words: the same
//! text always gives the same terms.
//!
//! The dictionaries are read once per process, on first use (see [`warm_up`]).

use std::collections::BTreeSet;
use std::sync::OnceLock;

use jieba_rs::{Jieba, KeywordExtract, KeywordExtractConfig, TfIdf};

use super::classify::normalise_for_matching;

/// The part-of-speech tags a term may have: nouns (`n`), place names (`ns`), organisations
/// (`nt`), other proper nouns (`nz`), verbal nouns (`vn`), verbs (`v`) and English words
/// (`eng`). Person names (`nr`) are deliberately absent.
const ALLOWED_TAGS: [&str; 7] = ["n", "ns", "nt", "nz", "vn", "v", "eng"];

/// Words that name no problem: Chinese function words, pronouns and the vaguest nouns and
/// verbs, which would otherwise top every report.
const CHINESE_STOP_WORDS: &[&str] = &[
    "一个",
    "一下",
    "一直",
    "不是",
    "东西",
    "为什么",
    "事情",
    "什么",
    "今天",
    "他们",
    "你们",
    "可以",
    "可是",
    "因为",
    "如果",
    "已经",
    "怎么",
    "情况",
    "我们",
    "所以",
    "时候",
    "昨天",
    "明天",
    "有点",
    "没有",
    "现在",
    "知道",
    "觉得",
    "感觉",
    "然后",
    "而且",
    "还是",
    "还有",
    "这个",
    "那个",
    "问题",
    "就是",
    "但是",
    "或者",
    "真的",
    "需要",
    "希望",
    "出现",
    "进行",
    "使用",
    "发现",
    "表示",
    "没",
    "请问",
    "你好",
    "谢谢",
    "麻烦",
    "客户",
    "用户",
];

/// English words that name no problem: articles, pronouns, auxiliaries, prepositions,
/// conjunctions, greetings and the most common light verbs.
const ENGLISH_STOP_WORDS: &[&str] = &[
    "about", "after", "again", "all", "also", "am", "an", "and", "any", "are", "as", "at", "be",
    "been", "before", "being", "but", "by", "can", "could", "did", "do", "does", "doing", "done",
    "for", "from", "get", "gets", "getting", "got", "had", "has", "have", "having", "he", "hello",
    "her", "here", "hi", "him", "his", "how", "if", "in", "into", "is", "it", "its", "just",
    "keep", "kept", "know", "left", "let", "like", "made", "make", "many", "me", "more", "most",
    "much", "my", "need", "needs", "no", "not", "now", "of", "off", "ok", "okay", "on", "once",
    "only", "or", "other", "our", "out", "over", "please", "pls", "put", "really", "said", "say",
    "see", "she", "should", "so", "some", "still", "such", "take", "than", "thank", "thanks",
    "that", "the", "their", "them", "then", "there", "these", "they", "this", "those", "through",
    "to", "too", "took", "try", "tried", "under", "until", "up", "us", "use", "used", "very",
    "want", "wanted", "was", "we", "went", "were", "what", "when", "where", "which", "while",
    "who", "why", "will", "with", "would", "yes", "yet", "you", "your", "com", "www", "http",
    "https",
];

/// The segmenter and the IDF table, loaded once.
struct Segmenter {
    jieba: Jieba,
    tfidf: TfIdf,
}

static SEGMENTER: OnceLock<Segmenter> = OnceLock::new();

fn segmenter() -> &'static Segmenter {
    SEGMENTER.get_or_init(|| {
        let stop_words: BTreeSet<String> = CHINESE_STOP_WORDS
            .iter()
            .chain(ENGLISH_STOP_WORDS)
            .map(|word| (*word).to_owned())
            .collect();
        let mut tfidf = TfIdf::default();
        *tfidf.config_mut() = KeywordExtractConfig::builder()
            .set_stop_words(stop_words)
            .min_keyword_length(2)
            .build();
        Segmenter {
            jieba: Jieba::new(),
            tfidf,
        }
    })
}

/// Loads the segmentation dictionary and the IDF table now rather than on the first
/// submission (a service calls it at start; a benchmark measures it).
pub fn warm_up() {
    segmenter();
}

/// The words of `text` as jieba's dictionary segments it (without its HMM guesses for
/// unknown words, so the cut depends on the dictionary alone).
pub fn segment(text: &str) -> Vec<&str> {
    segmenter()
        .jieba
        .cut(text, false)
        .into_iter()
        .map(|token| token.word)
        .collect()
}

/// Whether `word` is a stop word of either language.
pub fn is_stop_word(word: &str) -> bool {
    CHINESE_STOP_WORDS.contains(&word) || ENGLISH_STOP_WORDS.contains(&word)
}

/// At most `max_terms` terms of `content`, heaviest first (ties by text), leaving out every
/// word for which `configured` is true (the configured keywords, already reported as such).
pub fn extract_terms(
    content: &str,
    max_terms: usize,
    configured: &dyn Fn(&str) -> bool,
) -> Vec<String> {
    if max_terms == 0 {
        return Vec::new();
    }
    let normalised = normalise_for_matching(content);
    if normalised.is_empty() {
        return Vec::new();
    }
    let segmenter = segmenter();
    let allowed = ALLOWED_TAGS.iter().map(|tag| (*tag).to_owned()).collect();
    let mut candidates =
        segmenter
            .tfidf
            .extract_keywords(&segmenter.jieba, &normalised, usize::MAX, allowed);
    candidates.sort_by(|a, b| {
        b.weight
            .total_cmp(&a.weight)
            .then_with(|| a.keyword.cmp(&b.keyword))
    });
    let mut terms: Vec<String> = Vec::new();
    for candidate in candidates {
        let word = candidate.keyword.trim();
        if word.chars().count() < 2
            || word.chars().any(|character| character.is_numeric())
            || !word.chars().any(char::is_alphabetic)
            || is_stop_word(word)
            || configured(word)
            || terms.iter().any(|seen| seen == word)
        {
            continue;
        }
        terms.push(word.to_owned());
        if terms.len() == max_terms {
            break;
        }
    }
    terms
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nothing_configured(_: &str) -> bool {
        false
    }

    #[test]
    fn chinese_terms_come_from_segmentation() {
        let terms = extract_terms("包裹显示已签收，可我根本没收到东西", 5, &nothing_configured);
        // What jieba really gives: its dictionary reads 没收到 as 没收 ("confiscate") and 到.
        assert_eq!(terms, ["签收", "没收", "包裹", "显示"]);
    }

    #[test]
    fn english_words_are_lower_cased_and_stop_words_dropped() {
        let terms = extract_terms(
            "The Courier left my package in the RAIN",
            5,
            &nothing_configured,
        );
        assert_eq!(terms, ["courier", "package", "rain"]);
    }

    #[test]
    fn configured_keywords_are_not_repeated() {
        let configured = |word: &str| word == "签收";
        let terms = extract_terms("包裹显示已签收，可我根本没收到东西", 5, &configured);
        assert!(!terms.iter().any(|term| term == "签收"), "{terms:?}");
        assert!(terms.iter().any(|term| term == "包裹"), "{terms:?}");
    }

    #[test]
    fn the_rules_leave_out_their_configured_keywords() {
        // "courier" is a configured service keyword: a keyword of the ticket, not a term.
        let rules = crate::Rules::defaults();
        let text = "The courier left my package in the rain";
        let classification = rules.classifier().classify(text, None);
        assert!(classification.keywords.iter().any(|word| word == "courier"));
        assert_eq!(classification.terms, ["package", "rain"]);
        assert!(rules
            .classifier()
            .classify_keywords(text, None)
            .terms
            .is_empty());
    }

    #[test]
    fn max_terms_is_respected_and_zero_disables() {
        let text = "在线客服一直机器人回复，转人工转不了，订单退款也没有到账，快递包裹破损";
        let all = extract_terms(text, 20, &nothing_configured);
        assert!(all.len() > 3, "{all:?}");
        let three = extract_terms(text, 3, &nothing_configured);
        assert_eq!(three, all[..3]);
        assert!(extract_terms(text, 0, &nothing_configured).is_empty());
    }

    #[test]
    fn one_character_words_digits_and_names_are_left_out() {
        let terms = extract_terms(
            "我叫王小明，电话13800138000，门坏了",
            10,
            &nothing_configured,
        );
        for term in &terms {
            assert!(term.chars().count() >= 2, "{terms:?}");
            assert!(!term.chars().any(char::is_numeric), "{terms:?}");
            assert!(!term.contains("王小明"), "{terms:?}");
        }
    }

    #[test]
    fn the_same_text_gives_the_same_terms() {
        let text = "The app crashes when I open the payment page; 支付页面打不开，app闪退";
        let first = extract_terms(text, 5, &nothing_configured);
        for _ in 0..20 {
            assert_eq!(extract_terms(text, 5, &nothing_configured), first);
        }
    }
}
