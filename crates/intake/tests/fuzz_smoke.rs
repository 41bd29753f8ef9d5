//! The fuzz targets of `fuzz/` (`intake_validator`, `nats_payload`) on stable Rust, for a fixed
//! number of seeded inputs each: random bytes, mutations of valid requests, soups of tricky
//! field values, hand-made protobuf with wrong wire types, and the saved corpus. No input may
//! panic; `make fuzz` runs the same targets under libFuzzer for longer.

#[path = "../../../fuzz/src/lib.rs"]
#[allow(dead_code)]
mod targets;

use prost::Message;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;

/// Inputs per target; `CLOOP_FUZZ_RUNS` overrides it.
const DEFAULT_RUNS: usize = 20_000;

fn runs() -> usize {
    std::env::var("CLOOP_FUZZ_RUNS")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(DEFAULT_RUNS)
}

/// Field values that have found bugs in validators before: contact data in every shape,
/// Unicode edge cases, control characters, long and empty strings.
const TRICKY: &[&str] = &[
    "",
    " ",
    "web",
    "WEB ",
    "fax",
    "138 0013 8000",
    "+86-138-0013-8000",
    "0086 13800138000",
    "+8613800138000",
    "+1",
    "+",
    "++86138",
    "+44 20 7946 0958",
    "١٣٨٠٠١٣٨٠٠٠",
    "１３８００１３８０００",
    "a@b",
    "a@@b.c",
    "@",
    "Li@Example.COM",
    "li@例子.广告",
    "\"quoted\"@x.cn",
    "e\u{301}",
    "\u{1100}\u{1161}\u{11A8}",
    "\u{200B}",
    "\u{202E}gnp.exe",
    "\u{FEFF}BOM",
    "\0",
    "\u{7}\u{1b}[31m",
    "\r\n\t",
    "APP卡顿",
    "安全隐患 退款",
    "🙂🙂🙂",
    "\u{10FFFF}",
    "x",
];

fn random_string(rng: &mut StdRng) -> String {
    match rng.gen_range(0..10) {
        0 => "长".repeat(rng.gen_range(9_990..10_010)),
        1 => "a".repeat(rng.gen_range(250..1_100)),
        2 => (0..rng.gen_range(0..40))
            .map(|_| char::from_u32(rng.gen_range(0..0x11_0000)).unwrap_or('\u{FFFD}'))
            .collect(),
        3..=5 => {
            let mut text = String::new();
            for _ in 0..rng.gen_range(1..4) {
                text.push_str(TRICKY[rng.gen_range(0..TRICKY.len())]);
            }
            text
        }
        _ => TRICKY[rng.gen_range(0..TRICKY.len())].to_owned(),
    }
}

fn random_bytes(rng: &mut StdRng, max: usize) -> Vec<u8> {
    let length = rng.gen_range(0..=max);
    (0..length).map(|_| rng.gen()).collect()
}

/// A field soup for `intake_validator`: tricky values joined by the 0xFF separator, sometimes
/// with raw bytes inside.
fn field_soup(rng: &mut StdRng) -> Vec<u8> {
    let mut data = Vec::new();
    for index in 0..rng.gen_range(1..16) {
        if index > 0 {
            data.push(0xFF);
        }
        if index == 0 && rng.gen_bool(0.7) {
            data.extend_from_slice(b"web");
        } else if index == 8 && rng.gen_bool(0.5) {
            data.extend_from_slice(&rng.gen::<i64>().to_le_bytes());
        } else if rng.gen_bool(0.1) {
            data.extend(random_bytes(rng, 16));
        } else {
            data.extend_from_slice(random_string(rng).as_bytes());
        }
    }
    data
}

/// A random `SubmitRequest` with tricky field values, encoded.
fn random_request(rng: &mut StdRng) -> Vec<u8> {
    let text = |rng: &mut StdRng| {
        if rng.gen_bool(0.3) {
            String::new()
        } else {
            random_string(rng)
        }
    };
    let request = proto::v1::SubmitRequest {
        channel: if rng.gen_bool(0.5) {
            "web".into()
        } else {
            text(rng)
        },
        external_id: text(rng),
        customer: rng.gen_bool(0.9).then(|| proto::v1::Customer {
            customer_id: text(rng),
            name: text(rng),
            phone: text(rng),
            email: text(rng),
            wechat_openid: text(rng),
        }),
        content: text(rng),
        occurred_at: rng.gen_bool(0.3).then(|| prost_types::Timestamp {
            seconds: rng.gen(),
            nanos: rng.gen(),
        }),
        product: text(rng),
        order_id: text(rng),
        attributes: (0..rng.gen_range(0..40))
            .map(|_| (text(rng), text(rng)))
            .collect(),
        language: rng.gen_range(-2..5),
        reply_to_ticket_id: text(rng),
    };
    let mut data = vec![rng.gen()];
    data.extend(request.encode_to_vec());
    data
}

/// Hand-made protobuf: the right field numbers with random wire types and lengths (a string
/// field sent as a varint, a length running past the end, invalid UTF-8 in a string).
fn wrong_types(rng: &mut StdRng) -> Vec<u8> {
    let mut data = vec![rng.gen()];
    for _ in 0..rng.gen_range(1..8) {
        let field: u8 = rng.gen_range(1..12);
        let wire: u8 = rng.gen_range(0..8);
        data.push((field << 3) | wire);
        match wire {
            0 => data.extend((0..rng.gen_range(1..11)).map(|_| rng.gen::<u8>() | 0x80)),
            2 => {
                let length = rng.gen_range(0..40u8);
                data.push(length);
                let body: Vec<u8> = if rng.gen_bool(0.5) {
                    vec![0xC3, 0x28, 0xA0, 0xA1, 0xE2, 0x28, 0xA1]
                } else {
                    random_bytes(rng, usize::from(length))
                };
                data.extend(body);
            }
            _ => data.extend(random_bytes(rng, 8)),
        }
    }
    data
}

/// Mutates one of `seeds`: bit flips, byte changes, insertions, deletions, truncation, splices.
fn mutate(rng: &mut StdRng, seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut data = seeds[rng.gen_range(0..seeds.len())].clone();
    for _ in 0..rng.gen_range(1..6) {
        if data.is_empty() {
            data.push(rng.gen());
            continue;
        }
        let at = rng.gen_range(0..data.len());
        match rng.gen_range(0..6) {
            0 => data[at] ^= 1 << rng.gen_range(0..8),
            1 => data[at] = rng.gen(),
            2 => {
                let bytes = random_bytes(rng, 8);
                data.splice(at..at, bytes);
            }
            3 => {
                let end = (at + rng.gen_range(1..8)).min(data.len());
                data.drain(at..end);
            }
            4 => data.truncate(at),
            _ => {
                let other = &seeds[rng.gen_range(0..seeds.len())];
                let from = rng.gen_range(0..=other.len());
                data.splice(at.., other[from..].iter().copied());
            }
        }
    }
    data
}

/// What to mutate: mostly the valid seeds (so that mutations stay near the accepting paths),
/// otherwise the saved corpus when there is one.
fn pick<'a>(rng: &mut StdRng, seeds: &'a [Vec<u8>], saved: &'a [Vec<u8>]) -> &'a [Vec<u8>] {
    if saved.is_empty() || rng.gen_bool(0.7) {
        seeds
    } else {
        saved
    }
}

/// The saved corpus of a target (`fuzz/corpus/<target>/`), if any.
fn corpus(target: &str) -> Vec<Vec<u8>> {
    let folder = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let Ok(entries) = std::fs::read_dir(folder) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    files
        .iter()
        .filter_map(|path| std::fs::read(path).ok())
        .collect()
}

/// Runs `target` on one input; on a panic, prints the input in hex so it can be saved as a
/// corpus file and replayed, then fails.
fn run_one(target: fn(&[u8]), name: &str, data: &[u8]) {
    if let Err(panic) = catch_unwind(AssertUnwindSafe(|| target(data))) {
        let hex: String = data.iter().map(|byte| format!("{byte:02x}")).collect();
        eprintln!("{name} panicked on input (hex) {hex}");
        std::panic::resume_unwind(panic);
    }
}

fn seed_encodings() -> Vec<Vec<u8>> {
    targets::seed_requests()
        .iter()
        .enumerate()
        .map(|(index, request)| {
            let mut data = vec![u8::try_from(index).unwrap_or(0)];
            data.extend(request.encode_to_vec());
            data
        })
        .collect()
}

#[test]
fn the_intake_validator_never_panics() {
    let mut rng = StdRng::seed_from_u64(0x5EED_0001);
    let seeds: Vec<Vec<u8>> = targets::seed_requests()
        .iter()
        .map(|request| {
            let customer = request.customer.clone().unwrap_or_default();
            let fields = [
                request.channel.as_str(),
                request.external_id.as_str(),
                customer.customer_id.as_str(),
                customer.name.as_str(),
                customer.phone.as_str(),
                customer.email.as_str(),
                customer.wechat_openid.as_str(),
                request.content.as_str(),
            ];
            fields
                .iter()
                .map(|field| field.as_bytes().to_vec())
                .collect::<Vec<_>>()
                .join(&0xFF)
        })
        .collect();
    let saved = corpus("intake_validator");
    for data in &saved {
        run_one(targets::intake_validator, "intake_validator", data);
    }
    let mut accepted = 0usize;
    let runs = runs();
    for _ in 0..runs {
        let data = match rng.gen_range(0..4) {
            0 => random_bytes(&mut rng, 256),
            1 => {
                let source = pick(&mut rng, &seeds, &saved);
                mutate(&mut rng, source)
            }
            _ => field_soup(&mut rng),
        };
        run_one(targets::intake_validator, "intake_validator", &data);
        let input = targets::submission_input(&data);
        let config = targets::rules().config();
        if domain::submission::Submission::parse(
            &input,
            &config.limits,
            &config.channels,
            targets::fixed_now(),
        )
        .is_ok()
        {
            accepted += 1;
        }
    }
    assert_some_accepted(accepted, runs);
}

#[test]
fn the_nats_payload_decoder_never_panics() {
    let mut rng = StdRng::seed_from_u64(0x5EED_0002);
    let seeds = seed_encodings();
    let saved = corpus("nats_payload");
    for data in &saved {
        run_one(targets::nats_payload, "nats_payload", data);
    }
    for data in &seeds {
        run_one(targets::nats_payload, "nats_payload", data);
    }
    let mut accepted = 0usize;
    let runs = runs();
    for _ in 0..runs {
        let data = match rng.gen_range(0..5) {
            0 => random_bytes(&mut rng, 512),
            1 => wrong_types(&mut rng),
            2 => random_request(&mut rng),
            _ => {
                let source = pick(&mut rng, &seeds, &saved);
                mutate(&mut rng, source)
            }
        };
        run_one(targets::nats_payload, "nats_payload", &data);
        let (subject, payload) = match data.split_first() {
            Some((first, rest)) => (
                targets::SUBJECTS[usize::from(*first) % targets::SUBJECTS.len()],
                rest,
            ),
            None => (targets::SUBJECTS[0], data.as_slice()),
        };
        if intake::inbound::check_payload(targets::rules(), subject, payload, targets::fixed_now())
            .is_ok()
        {
            accepted += 1;
        }
    }
    assert_some_accepted(accepted, runs);
}

/// The generator must reach the accepting paths too (and their invariants), not only
/// refusals.
fn assert_some_accepted(accepted: usize, runs: usize) {
    println!("{accepted} of {runs} inputs were accepted");
    assert!(
        accepted > runs / 1_000,
        "only {accepted} of {runs} inputs were valid"
    );
}
