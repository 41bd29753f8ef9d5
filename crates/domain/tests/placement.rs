//! The trained classifier in the classify step, with the shipped model and the built-in rules:
//! its verdicts are deterministic and name only configured values, the two thresholds per
//! field route a ticket to auto, suggest or nothing, the keyword floor on priority is never
//! lowered, and the aggregate records what the verdict says (given / when / then).

mod support;

use domain::aggregate::{decide, fold};
use domain::classifier::placement::{
    place, ClassifierSettings, Placer, Thresholds, WithModel, SUGGESTED_VALUES,
};
use domain::classifier::{priority_floor, Field, FieldPrediction, Model, Prediction};
use domain::command::{ClassifyCommand, Command};
use domain::event::{Classified, Event};
use domain::types::{ContentType, Kind, Placement, Policy, Priority, Scope, Step};
use domain::{DomainError, Rules};
use proptest::prelude::*;
use std::sync::OnceLock;
use support::{minutes, submission, t0};

/// A naturally worded complaint that no keyword rule places.
const UNPLACED: &str = "上周买的那个保温杯，盖子拧不紧，一倒过来水就顺着流，包里的书都湿了";

fn rules() -> &'static Rules {
    static RULES: OnceLock<Rules> = OnceLock::new();
    RULES.get_or_init(Rules::defaults)
}

fn model() -> &'static Model {
    static MODEL: OnceLock<Model> = OnceLock::new();
    MODEL.get_or_init(|| {
        let bytes = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/data/classifier/model.bin"
        ))
        .expect("read the shipped model");
        Model::from_bytes(&bytes).expect("the shipped model reads")
    })
}

fn everywhere(auto: f64, suggest: f64) -> ClassifierSettings {
    ClassifierSettings::uniform(auto, suggest)
}

fn placer(settings: ClassifierSettings) -> Placer {
    Placer::new(model().clone(), settings, rules().config()).expect("valid placer")
}

/// A prediction with the given chosen probabilities per field (in `Field::ALL` order).
fn prediction(probabilities: [f64; 4]) -> Prediction {
    let fields = probabilities
        .iter()
        .map(|probability| FieldPrediction {
            value: "x".to_owned(),
            probability: *probability,
            ranked: vec![("x".to_owned(), *probability)],
        })
        .collect();
    Prediction {
        kind: Kind::Problem,
        content_type: ContentType::Product,
        priority: Priority::Medium,
        department: "quality".to_owned(),
        fields,
        floor_applied: None,
    }
}

#[test]
fn the_unplaced_text_is_not_placed_by_the_rules() {
    let classification = rules().classify(UNPLACED, None);
    assert!(!classification.confident, "{classification:?}");
}

#[test]
fn the_default_thresholds_are_valid_and_bad_ones_name_their_key() {
    assert_eq!(ClassifierSettings::default().validate(), Ok(()));
    let crossed = ClassifierSettings {
        department: Thresholds {
            auto: 0.4,
            suggest: 0.6,
        },
        ..ClassifierSettings::default()
    };
    match crossed.validate() {
        Err(DomainError::Invalid { field, .. }) => {
            assert_eq!(field, "classifier.department.suggest")
        }
        other => panic!("expected invalid, got {other:?}"),
    }
    let mut outside = ClassifierSettings::default();
    outside.kind.auto = 1.5;
    match outside.validate() {
        Err(DomainError::Invalid { field, .. }) => assert_eq!(field, "classifier.kind.auto"),
        other => panic!("expected invalid, got {other:?}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Auto exactly when every field reaches `auto`; nothing exactly when some field is below
    /// `suggest`; suggest otherwise.
    #[test]
    fn thresholds_route_to_auto_suggest_or_nothing(
        probabilities in prop::array::uniform4(0.0f64..=1.0),
        suggest in 0.0f64..=1.0,
        gap in 0.0f64..=1.0,
    ) {
        let auto = (suggest + gap).min(1.0);
        let settings = everywhere(auto, suggest);
        let placement = place(&prediction(probabilities), &settings);
        let expected = if probabilities.iter().any(|p| *p < suggest) {
            Placement::Unsure
        } else if probabilities.iter().all(|p| *p >= auto) {
            Placement::Auto
        } else {
            Placement::Suggest
        };
        prop_assert_eq!(placement, expected);
    }

    /// The same text gets the same verdict; every value it names is a configured one, each
    /// field's first value is the chosen one, at most three values, none twice.
    #[test]
    fn verdicts_are_deterministic_and_name_only_configured_values(
        text in "[a-z 发货退款卡顿客服质量安全隐患太慢了APP优惠券0-9]{1,60}",
    ) {
        let placer = placer(ClassifierSettings::default());
        let verdict = placer.verdict(rules(), &text);
        prop_assert_eq!(&verdict, &placer.verdict(rules(), &text));
        let suggestion = &verdict.suggestion;
        prop_assert_eq!(suggestion.model_version.as_str(), model().version());
        let fields: Vec<&str> = suggestion.fields.iter().map(|f| f.field.as_str()).collect();
        prop_assert_eq!(fields, vec!["kind", "content_type", "priority", "department"]);
        for field in &suggestion.fields {
            prop_assert!(!field.values.is_empty() && field.values.len() <= SUGGESTED_VALUES);
            for (index, value) in field.values.iter().enumerate() {
                prop_assert!((0.0..=1.0).contains(&value.probability));
                prop_assert!(field.values[..index].iter().all(|other| other.value != value.value));
                let valid = match field.field.as_str() {
                    "kind" => Kind::parse("kind", &value.value).is_ok(),
                    "content_type" => ContentType::parse("content_type", &value.value).is_ok(),
                    "priority" => Priority::parse("priority", &value.value).is_ok(),
                    _ => rules().is_department(&value.value),
                };
                prop_assert!(valid, "{} is not a valid {}", value.value, field.field);
            }
        }
        let lowest = suggestion
            .fields
            .iter()
            .map(|field| field.values[0].probability)
            .fold(1.0, f64::min);
        prop_assert!((suggestion.confidence - lowest).abs() < 1e-4);
    }

    /// A safety or outage keyword sets the least priority: the model may raise it, never
    /// lower it, whatever surrounds the keyword.
    #[test]
    fn the_keyword_floor_is_never_lowered(
        before in "[a-z 今天收到的东西不太好用，颜色0-9]{0,40}",
        keyword in prop::sample::select(vec!["安全隐患", "着火", "漏电", "冒烟", "宕机", "律师", "所有用户"]),
        after in "[a-z 请尽快处理谢谢0-9]{0,20}",
    ) {
        let text = format!("{before}{keyword}{after}");
        let floor = priority_floor(rules().classifier(), &text);
        prop_assert!(floor.is_some(), "{keyword} is a priority keyword");
        let verdict = placer(ClassifierSettings::default()).verdict(rules(), &text);
        let chosen = verdict.suggestion.fields[2].values[0].value.clone();
        let priority = Priority::parse("priority", &chosen).expect("a priority");
        prop_assert!(Some(priority) <= floor, "{priority} is below the floor {floor:?}");
    }
}

#[test]
fn the_fields_follow_field_all() {
    let names: Vec<&str> = Field::ALL.iter().map(|field| field.as_str()).collect();
    assert_eq!(names, ["kind", "content_type", "priority", "department"]);
}

fn received_with(settings: ClassifierSettings) -> Vec<Event> {
    let placer = placer(settings);
    let policy = WithModel {
        rules: rules(),
        placer: Some(&placer),
    };
    decide(
        &fold(&[]),
        &Command::Receive(Box::new(submission(0, t0(), UNPLACED))),
        t0(),
        &policy,
    )
    .expect("received")
}

fn types(events: &[Event]) -> Vec<&'static str> {
    events.iter().map(Event::event_type).collect()
}

#[test]
fn above_every_auto_threshold_the_model_classifies_and_dispatches() {
    let events = received_with(everywhere(0.0, 0.0));
    assert_eq!(types(&events), ["received", "classified", "dispatched"]);
    let Event::Classified(classified) = &events[1] else {
        panic!("{events:?}")
    };
    assert!(classified.automatic && classified.by_model);
    assert_eq!(classified.model_version.as_deref(), Some(model().version()));
    let expected = placer(ClassifierSettings::default()).verdict(rules(), UNPLACED);
    assert_eq!(
        Some(classified.kind.as_str()),
        expected.suggestion.top("kind")
    );
    let Event::Dispatched(dispatched) = &events[2] else {
        panic!("{events:?}")
    };
    assert_eq!(
        Some(dispatched.department.as_str()),
        expected.suggestion.top("department")
    );
    let ticket = fold(&events);
    assert_eq!(ticket.step, Step::Handle);
    assert_eq!(
        ticket.classification_model_version.as_deref(),
        Some(model().version())
    );
    assert!(ticket.suggestion.is_none());
}

#[test]
fn between_the_thresholds_the_suggestion_is_recorded_and_the_ticket_waits() {
    let events = received_with(everywhere(1.0, 0.0));
    assert_eq!(types(&events), ["received", "classification_suggested"]);
    let ticket = fold(&events);
    assert_eq!(ticket.step, Step::Classify);
    let stored = events[1].to_payload();
    assert_eq!(
        Event::from_parts("classification_suggested", 1, &stored).expect("reads back"),
        events[1]
    );
    let suggestion = ticket.suggestion.clone().expect("a suggestion");
    assert_eq!(suggestion.at, t0());
    assert_eq!(suggestion.model_version, model().version());
}

#[test]
fn below_the_suggest_threshold_the_ticket_waits_with_nothing() {
    let events = received_with(everywhere(1.0, 1.0));
    assert_eq!(types(&events), ["received"]);
    assert!(fold(&events).suggestion.is_none());
}

#[test]
fn without_a_model_and_for_confident_rules_nothing_changes() {
    let plain = decide(
        &fold(&[]),
        &Command::Receive(Box::new(submission(0, t0(), UNPLACED))),
        t0(),
        rules(),
    )
    .expect("received");
    assert_eq!(types(&plain), ["received"]);
    let confident = "APP卡顿，打开就闪退，完全用不了";
    assert!(rules().classify(confident, None).confident);
    let placer = placer(everywhere(0.0, 0.0));
    let with_model = WithModel {
        rules: rules(),
        placer: Some(&placer),
    };
    let receive = Command::Receive(Box::new(submission(1, t0(), confident)));
    let events = decide(&fold(&[]), &receive, t0(), &with_model).expect("received");
    let by_rules = decide(&fold(&[]), &receive, t0(), rules()).expect("received");
    assert_eq!(events, by_rules, "the rules keep working as before");
}

fn confirm(ticket: &domain::ticket::Ticket, department: Option<&str>) -> Command {
    let suggestion = ticket.suggestion.as_ref().expect("a suggestion");
    let top = |field: &str| suggestion.top(field).expect("a value").to_owned();
    Command::Classify(ClassifyCommand {
        kind: Kind::parse("kind", &top("kind")).expect("kind"),
        content_type: ContentType::parse("content_type", &top("content_type")).expect("type"),
        priority: Priority::parse("priority", &top("priority")).expect("priority"),
        scope: Scope::Local,
        keywords: Vec::new(),
        complex: false,
        reason: String::new(),
        department: department.map(str::to_owned),
    })
}

#[test]
fn confirming_the_suggestion_classifies_and_dispatches_to_its_department() {
    let mut events = received_with(everywhere(1.0, 0.0));
    let ticket = fold(&events);
    let department = ticket
        .suggestion
        .as_ref()
        .and_then(|suggestion| suggestion.top("department"))
        .expect("a department")
        .to_owned();
    let confirmed = decide(
        &ticket,
        &confirm(&ticket, Some(&department)),
        minutes(5),
        rules(),
    )
    .expect("confirmed");
    assert_eq!(types(&confirmed), ["classified", "dispatched"]);
    let Event::Classified(classified) = &confirmed[0] else {
        panic!("{confirmed:?}")
    };
    assert!(!classified.automatic && !classified.by_model);
    assert_eq!(classified.model_version.as_deref(), Some(model().version()));
    events.extend(confirmed);
    let ticket = fold(&events);
    assert_eq!(ticket.step, Step::Handle);
    assert_eq!(ticket.department.as_deref(), Some(department.as_str()));
    assert!(ticket.suggestion.is_none(), "the suggestion is used up");
}

#[test]
fn a_classification_dispatches_only_to_a_configured_department_while_in_classify() {
    let events = received_with(everywhere(1.0, 0.0));
    let ticket = fold(&events);
    let unknown = decide(
        &ticket,
        &confirm(&ticket, Some("nobody")),
        minutes(5),
        rules(),
    );
    assert!(
        matches!(&unknown, Err(DomainError::Invalid { field, .. }) if field == "department"),
        "{unknown:?}"
    );
    let handled = fold(&received_with(everywhere(0.0, 0.0)));
    assert_eq!(handled.step, Step::Handle);
    let mut events = received_with(everywhere(1.0, 0.0));
    events.extend(
        decide(
            &ticket,
            &confirm(&ticket, Some("quality")),
            minutes(5),
            rules(),
        )
        .expect("confirmed"),
    );
    let state = fold(&events);
    let again = Command::Classify(ClassifyCommand {
        kind: Kind::Complaint,
        content_type: ContentType::Product,
        priority: Priority::High,
        scope: Scope::Local,
        keywords: Vec::new(),
        complex: false,
        reason: String::new(),
        department: Some("logistics".to_owned()),
    });
    let refused = decide(&state, &again, minutes(9), rules());
    assert!(
        matches!(&refused, Err(DomainError::Invalid { field, .. }) if field == "department"),
        "{refused:?}"
    );
}

#[test]
fn a_classified_event_without_the_model_keeps_its_old_bytes() {
    let events = received_with(everywhere(0.0, 0.0));
    let Event::Classified(by_model) = &events[1] else {
        panic!("{events:?}")
    };
    let plain = Classified {
        model_version: None,
        by_model: false,
        ..by_model.clone()
    };
    let json = Event::Classified(plain).to_payload();
    assert!(json.get("model_version").is_none() && json.get("by_model").is_none());
    let json = Event::Classified(by_model.clone()).to_payload();
    assert_eq!(json["by_model"], serde_json::json!(true));
}
