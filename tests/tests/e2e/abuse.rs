//! End-to-end abuse tests against the real binaries: a thousand malformed requests over gRPC
//! and NATS (each answered with a clear error, the service healthy and its memory steady after),
//! per-token rate limits (an adapter at ten times its quota is refused the excess while another
//! adapter keeps its latency), and canary contact data that must never reach any log, with both
//! services logging at trace level.

use e2e::grpc::metrics_text;
use e2e::grpc::nats_request;
use e2e::{
    authorized, fetch_history, fetch_ticket, principal, principals_file, wait_until, Principal,
    Service, ServiceSpec, Staff, TestCluster,
};
use futures::StreamExt;
use prost::Message;
use proto::v1;
use proto::v1::intake_client::IntakeClient;
use proto::v1::tickets_client::TicketsClient;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tonic::transport::Channel;
use tonic::Code;

/// nats-server, cloop-intake (with metrics) and, when asked, cloop-workflow on one
/// configuration (`config` before the test defaults), every process logging at `log_level`.
fn stack(
    principals: &[Principal],
    config: &str,
    log_level: &str,
    with_workflow: bool,
) -> TestCluster {
    let builder = TestCluster::builder()
        .prefix("cloop-abuse-e2e-")
        .tokens(principals_file(principals))
        .config(format!(
            "{config}\n\n[intake_service]\nnode_id = 5\nmaintenance_interval_ms = 200\n\
             max_message_bytes = 200000\n\n\
             [workflow_service]\ntimer_tick_ms = 100\nack_wait_secs = 5\nbackoff_ms = [100, 500]\n\n\
             [nats]\nrequest_timeout_ms = 3000\n"
        ))
        .env("CLOOP_LOG", log_level)
        .env("RUST_LOG", log_level)
        .intake(ServiceSpec::new().metrics());
    if with_workflow {
        builder.workflow(ServiceSpec::new()).start()
    } else {
        builder.start()
    }
}

/// A client of intake, connected now.
async fn intake_client(stack: &TestCluster) -> IntakeClient<Channel> {
    IntakeClient::new(stack.connect("intake").await)
}

fn valid_submission(external_id: &str) -> v1::SubmitRequest {
    e2e::web_submission(external_id, "APP卡顿，打开很慢")
}

/// A gRPC codec that sends and receives raw message bytes, so that tests can put anything in
/// a request body.
#[derive(Debug, Clone, Copy, Default)]
struct RawCodec;

#[derive(Debug, Clone, Copy, Default)]
struct RawEncoder;

#[derive(Debug, Clone, Copy, Default)]
struct RawDecoder;

impl tonic::codec::Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawEncoder;
    type Decoder = RawDecoder;

    fn encoder(&mut self) -> Self::Encoder {
        RawEncoder
    }

    fn decoder(&mut self) -> Self::Decoder {
        RawDecoder
    }
}

impl tonic::codec::Encoder for RawEncoder {
    type Item = Vec<u8>;
    type Error = tonic::Status;

    fn encode(
        &mut self,
        item: Vec<u8>,
        destination: &mut tonic::codec::EncodeBuf<'_>,
    ) -> Result<(), tonic::Status> {
        use bytes::BufMut;
        destination.put_slice(&item);
        Ok(())
    }
}

impl tonic::codec::Decoder for RawDecoder {
    type Item = Vec<u8>;
    type Error = tonic::Status;

    fn decode(
        &mut self,
        source: &mut tonic::codec::DecodeBuf<'_>,
    ) -> Result<Option<Vec<u8>>, tonic::Status> {
        use bytes::Buf;
        Ok(Some(source.copy_to_bytes(source.remaining()).to_vec()))
    }
}

/// Calls `Intake/Submit` with `body` as the raw protobuf message.
async fn raw_submit(
    channel: Channel,
    body: Vec<u8>,
    token: &str,
) -> Result<Vec<u8>, tonic::Status> {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready()
        .await
        .map_err(|error| tonic::Status::unavailable(error.to_string()))?;
    let path = tonic::codegen::http::uri::PathAndQuery::from_static("/feedback.v1.Intake/Submit");
    grpc.unary(authorized(body, token), path, RawCodec)
        .await
        .map(tonic::Response::into_inner)
}

/// A small deterministic generator (xorshift), so a failure can be replayed.
struct Generator(u64);

impl Generator {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, limit: usize) -> usize {
        (self.next() % limit as u64) as usize
    }

    fn bytes(&mut self, length: usize) -> Vec<u8> {
        (0..length).map(|_| self.next() as u8).collect()
    }
}

/// One malformed request and what must come back.
enum Bad {
    /// A raw gRPC body.
    Grpc(Vec<u8>),
    /// A well-formed `SubmitRequest` whose values are wrong (huge, empty, malformed).
    Typed(Box<v1::SubmitRequest>),
    /// A raw NATS payload on a subject.
    Nats(String, Vec<u8>),
}

/// The thousand malformed requests: random bytes, wrong wire types and invalid UTF-8 as raw
/// gRPC bodies; huge and malformed values in typed requests; random bytes, invalid UTF-8 and
/// wrong types over NATS.
fn malformed_requests() -> Vec<(&'static str, Bad)> {
    let mut generator = Generator(0x00C0_FFEE_1234_5678);
    let mut requests = Vec::new();
    for index in 0..1_000 {
        let case = match index % 10 {
            0 | 1 => {
                let length = 1 + generator.below(600);
                ("grpc random bytes", Bad::Grpc(generator.bytes(length)))
            }
            2 => {
                // Field 1 (channel, a string) sent as a varint; field 4 (content) as a fixed64;
                // field 3 (customer, a message) with a length past the end.
                let variants: [Vec<u8>; 3] = [
                    vec![0x08, 0x96, 0x01],
                    vec![0x21, 1, 2, 3, 4, 5, 6, 7, 8],
                    vec![0x1A, 0x7F, 0x0A, 0x01, 0x41],
                ];
                (
                    "grpc wrong wire types",
                    Bad::Grpc(variants[index % 3].clone()),
                )
            }
            3 => {
                // Invalid UTF-8 inside the string fields.
                let mut body = vec![0x0A, 0x03, b'w', b'e', b'b', 0x22, 0x04];
                body.extend([0xC3, 0x28, 0xFF, 0xFE]);
                ("grpc invalid utf-8", Bad::Grpc(body))
            }
            4 => {
                let mut request = valid_submission(&format!("huge-{index}"));
                match (index / 10) % 4 {
                    0 => request.content = "长".repeat(10_001 + generator.below(5_000)),
                    1 => request.external_id = "x".repeat(5_000 + generator.below(5_000)),
                    2 => {
                        request.attributes = (0..200)
                            .map(|key| (format!("k{key}"), "v".repeat(2_000)))
                            .collect();
                    }
                    _ => {
                        request.customer = Some(v1::Customer {
                            name: "名".repeat(50_000),
                            phone: "13800138000".into(),
                            ..Default::default()
                        });
                    }
                }
                ("grpc huge strings", Bad::Typed(Box::new(request)))
            }
            5 => {
                let mut request = valid_submission(&format!("wrong-{index}"));
                match (index / 10) % 5 {
                    0 => request.channel = "fax".into(),
                    1 => request.content = " \u{3000}\n".into(),
                    2 => {
                        request.customer = Some(v1::Customer {
                            phone: "12345".into(),
                            email: "a@@b".into(),
                            ..Default::default()
                        })
                    }
                    3 => request.language = 77,
                    _ => {
                        request.occurred_at = Some(prost_types::Timestamp {
                            seconds: i64::MAX,
                            nanos: -1,
                        })
                    }
                }
                ("grpc wrong values", Bad::Typed(Box::new(request)))
            }
            6 | 7 => {
                let length = generator.below(400);
                (
                    "nats random bytes",
                    Bad::Nats("feedback.inbound.web".into(), generator.bytes(length)),
                )
            }
            8 => {
                let mut body = vec![0x22, 0x06];
                body.extend([0xE2, 0x28, 0xA1, 0xF0, 0x90, 0x28]);
                (
                    "nats invalid utf-8",
                    Bad::Nats("feedback.inbound.app".into(), body),
                )
            }
            _ => {
                let body = match index % 3 {
                    0 => vec![0x08, 0x01],
                    1 => valid_submission("mismatch").encode_to_vec(),
                    _ => v1::SubmitRequest {
                        content: "长".repeat(20_000),
                        ..valid_submission("nats-huge")
                    }
                    .encode_to_vec(),
                };
                let subject = if index % 3 == 1 {
                    "feedback.inbound.email"
                } else {
                    "feedback.inbound.web"
                };
                (
                    "nats wrong types and values",
                    Bad::Nats(subject.into(), body),
                )
            }
        };
        requests.push(case);
    }
    requests
}

/// The resident set size of a process, in KiB, from `/proc/<pid>/status`.
fn resident_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/<pid>/status")
}

/// The numeric gRPC code and the `ErrorStatus` of a NATS reply.
fn nats_outcome(reply: &async_nats::Message) -> (i32, Option<v1::ErrorStatus>) {
    let code = reply
        .headers
        .as_ref()
        .and_then(|headers| headers.get("Cloop-Status"))
        .and_then(|value| value.as_str().parse::<i32>().ok())
        .expect("every reply carries Cloop-Status");
    let error = (code != 0)
        .then(|| v1::ErrorStatus::decode(reply.payload.as_ref()).expect("an ErrorStatus body"));
    (code, error)
}

async fn health_status(stack: &TestCluster) -> i32 {
    let mut health =
        tonic_health::pb::health_client::HealthClient::new(stack.connect("intake").await);
    health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "feedback.v1.Intake".into(),
        })
        .await
        .expect("health check answers")
        .into_inner()
        .status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_malformed_requests_get_clear_errors_and_leave_intake_healthy() {
    let stack = stack(
        &[principal("t-adapter", "web-form", "adapter")],
        "",
        "info",
        false,
    );
    let nats = stack.nats_client().await;
    let channel = stack.connect("intake").await;

    // Warm up both entry points so the allocator's pools exist before the first measurement.
    let mut intake = intake_client(&stack).await;
    for index in 0..20 {
        intake
            .submit(authorized(
                valid_submission(&format!("warm-{index}")),
                "t-adapter",
            ))
            .await
            .expect("a valid submission is accepted");
        let _ = raw_submit(channel.clone(), vec![0xFF; 64], "t-adapter").await;
        nats_request(&nats, "feedback.inbound.web", vec![0x08, 0x01]).await;
    }
    let pid = stack.intake().pid().expect("intake runs");
    let before_kib = resident_kib(pid);

    let requests = malformed_requests();
    assert_eq!(requests.len(), 1_000);
    let mut tally: BTreeMap<(&str, String), usize> = BTreeMap::new();
    let started = Instant::now();
    let mut pending = futures::stream::iter(requests.into_iter().map(|(kind, bad)| {
        let channel = channel.clone();
        let nats = nats.clone();
        let mut intake = IntakeClient::new(channel.clone());
        async move {
            let (code, message) = match bad {
                Bad::Grpc(body) => match raw_submit(channel, body, "t-adapter").await {
                    Ok(answer) => panic!("{kind}: accepted, answer {answer:?}"),
                    Err(status) => (status.code(), status.message().to_owned()),
                },
                Bad::Typed(request) => {
                    match intake.submit(authorized(*request, "t-adapter")).await {
                        Ok(answer) => panic!("{kind}: accepted, answer {answer:?}"),
                        Err(status) => (status.code(), status.message().to_owned()),
                    }
                }
                Bad::Nats(subject, body) => {
                    let reply = nats_request(&nats, &subject, body).await;
                    let (code, error) = nats_outcome(&reply);
                    let error = error.unwrap_or_else(|| panic!("{kind}: accepted over NATS"));
                    assert_eq!(
                        error.code, code,
                        "{kind}: the body repeats the header's code"
                    );
                    (Code::from_i32(code), error.message)
                }
            };
            (kind, code, message)
        }
    }))
    .buffer_unordered(16);
    let mut answered = 0;
    while let Some((kind, code, message)) = pending.next().await {
        answered += 1;
        assert!(
            !message.trim().is_empty(),
            "{kind}: {code:?} without a message"
        );
        let allowed: &[Code] = match kind {
            // tonic answers a body that is not protobuf with INTERNAL "failed to decode ...",
            // as the gRPC status code guide prescribes for parse errors; a body that happens to
            // decode is refused by validation.
            "grpc random bytes" | "grpc wrong wire types" | "grpc invalid utf-8" => {
                &[Code::Internal, Code::InvalidArgument]
            }
            // Larger than `max_message_bytes` is OUT_OF_RANGE, otherwise validation refuses.
            "grpc huge strings" => &[Code::InvalidArgument, Code::OutOfRange],
            _ => &[Code::InvalidArgument],
        };
        assert!(
            allowed.contains(&code),
            "{kind}: {code:?} {message:?} is not one of {allowed:?}"
        );
        if code == Code::Internal {
            assert!(
                message.contains("decode"),
                "{kind}: an INTERNAL answer must say the message did not decode: {message}"
            );
        }
        *tally.entry((kind, format!("{code:?}"))).or_default() += 1;
    }
    let elapsed = started.elapsed();
    assert_eq!(answered, 1_000);
    for ((kind, code), count) in &tally {
        println!("malformed: {kind:<28} {code:<16} {count}");
    }

    // Still healthy, still accepting, memory steady.
    assert_eq!(
        health_status(&stack).await,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );
    let after = intake
        .submit(authorized(valid_submission("after-the-abuse"), "t-adapter"))
        .await
        .expect("a valid submission is still accepted")
        .into_inner();
    assert!(!after.ticket_id.is_empty());
    let reply = nats_request(
        &nats,
        "feedback.inbound.web",
        valid_submission("after-over-nats").encode_to_vec(),
    )
    .await;
    assert_eq!(
        nats_outcome(&reply).0,
        0,
        "NATS still accepts valid requests"
    );
    let after_kib = resident_kib(pid);
    println!(
        "malformed: 1000 answered in {:.2} s; intake VmRSS before {before_kib} KiB, after {after_kib} KiB",
        elapsed.as_secs_f64()
    );
    assert!(
        after_kib < before_kib + 64 * 1024,
        "intake grew from {before_kib} KiB to {after_kib} KiB"
    );
    let metrics = metrics_text(stack.intake().metrics_address());
    assert!(
        metrics.contains("result=\"invalid\""),
        "invalid submissions are counted"
    );
}

fn percentile(samples: &mut [Duration], share: f64) -> Duration {
    samples.sort();
    let index = ((samples.len() as f64 - 1.0) * share).round() as usize;
    samples[index]
}

/// Submits `count` valid requests one after another as `token`; returns their latencies.
async fn sequential_latencies(
    intake: &mut IntakeClient<Channel>,
    token: &str,
    prefix: &str,
    count: usize,
) -> Vec<Duration> {
    let mut samples = Vec::with_capacity(count);
    for index in 0..count {
        let started = Instant::now();
        intake
            .submit(authorized(
                valid_submission(&format!("{prefix}-{index}")),
                token,
            ))
            .await
            .expect("the calm adapter is never refused");
        samples.push(started.elapsed());
    }
    samples
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_adapter_at_ten_times_its_quota_is_refused_the_excess_and_others_keep_their_latency() {
    const RATE: f64 = 20.0;
    const BURST: usize = 20;
    const FLOOD_PER_SEC: u64 = 200;
    const FLOOD_SECS: u64 = 3;
    // Adapters default to 5 per second (this also limits each NATS channel); the flood
    // adapter has its own 20 per second, the calm adapter none at all.
    let stack = stack(
        &[
            principal("t-flood", "flood-form", "adapter").with("rate_per_sec = 20\nburst = 20"),
            principal("t-calm", "calm-form", "adapter").with("rate_per_sec = 0"),
        ],
        "[rate_limits.adapter]\nrate_per_sec = 5\nburst = 5\n",
        "info",
        false,
    );
    let mut calm = intake_client(&stack).await;
    // Warm-up, then the calm adapter's latency with nobody else around.
    sequential_latencies(&mut calm, "t-calm", "warm", 20).await;
    let mut unloaded = sequential_latencies(&mut calm, "t-calm", "unloaded", 60).await;
    let unloaded_p50 = percentile(&mut unloaded, 0.5);

    // The flood: 200 requests per second for 3 s, ten times the flood adapter's quota, each
    // request on its own task so that a slow answer does not slow the pace.
    let flood_channel = stack.connect("intake").await;
    let flood = tokio::spawn(async move {
        let mut ticker = tokio::time::interval(Duration::from_micros(1_000_000 / FLOOD_PER_SEC));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        let started = Instant::now();
        let mut calls = Vec::new();
        for index in 0..FLOOD_PER_SEC * FLOOD_SECS {
            ticker.tick().await;
            let mut client = IntakeClient::new(flood_channel.clone());
            calls.push(tokio::spawn(async move {
                client
                    .submit(authorized(
                        valid_submission(&format!("flood-{index}")),
                        "t-flood",
                    ))
                    .await
                    .map(|_| ())
            }));
        }
        let sent_for = started.elapsed();
        let mut outcomes = Vec::new();
        for call in calls {
            outcomes.push(call.await.expect("flood call task"));
        }
        (outcomes, sent_for)
    });
    // The calm adapter during the flood.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut loaded = sequential_latencies(&mut calm, "t-calm", "loaded", 60).await;
    let loaded_p50 = percentile(&mut loaded, 0.5);
    let (outcomes, sent_for) = flood.await.expect("flood task");

    let accepted = outcomes.iter().filter(|outcome| outcome.is_ok()).count();
    let refused: Vec<&tonic::Status> = outcomes
        .iter()
        .filter_map(|outcome| outcome.as_ref().err())
        .collect();
    for status in &refused {
        assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
        assert!(
            status.message().contains("principal flood-form")
                && status
                    .message()
                    .contains("20 requests per second, burst 20"),
            "the refusal names the limit: {}",
            status.message()
        );
        assert!(status.metadata().get("cloop-retry-after-ms").is_some());
    }
    let share_refused = refused.len() as f64 / outcomes.len() as f64;
    let allowed_at_most = BURST as f64 + RATE * sent_for.as_secs_f64() + 5.0;
    println!(
        "rate limit: flood sent {} in {:.2} s, accepted {accepted}, refused {} ({:.1} %); \
         calm p50 unloaded {:.2} ms, during the flood {:.2} ms",
        outcomes.len(),
        sent_for.as_secs_f64(),
        refused.len(),
        share_refused * 100.0,
        unloaded_p50.as_secs_f64() * 1e3,
        loaded_p50.as_secs_f64() * 1e3,
    );
    assert!(
        (accepted as f64) <= allowed_at_most,
        "{accepted} accepted, the bucket allows at most {allowed_at_most:.0}"
    );
    assert!(
        accepted >= BURST,
        "at least the burst is accepted, got {accepted}"
    );
    assert!(
        (0.70..=0.97).contains(&share_refused),
        "about 90 % of a tenfold flood is refused, got {:.1} %",
        share_refused * 100.0
    );
    // On a busy two-core machine the absolute figures move; the other adapter must still be
    // answered in about the time it was before, not queued behind the flood.
    let bound = (unloaded_p50 * 4).max(unloaded_p50 + Duration::from_millis(25));
    assert!(
        loaded_p50 <= bound,
        "the calm adapter's p50 went from {unloaded_p50:?} to {loaded_p50:?} (bound {bound:?})"
    );
    let metrics = metrics_text(stack.intake().metrics_address());
    let counted = metrics
        .lines()
        .find_map(|line| {
            line.strip_prefix("cloop_intake_rate_limited_total{caller=\"principal flood-form\"}")
        })
        .and_then(|value| value.trim().parse::<usize>().ok());
    assert_eq!(
        counted,
        Some(refused.len()),
        "the metric counts every refusal"
    );

    // NATS requests have one bucket per channel at the adapter default (5 per second, burst 5).
    let nats = stack.nats_client().await;
    nats_request(&nats, "feedback.inbound.sms", vec![0x08, 0x01]).await;
    let mut nats_refused = 0;
    for index in 0..30 {
        let reply = nats_request(
            &nats,
            "feedback.inbound.sms",
            valid_submission(&format!("nats-flood-{index}")).encode_to_vec(),
        )
        .await;
        let (code, error) = nats_outcome(&reply);
        if code == Code::ResourceExhausted as i32 {
            let error = error.expect("error body");
            assert!(
                error.message.contains("nats channel sms"),
                "{}",
                error.message
            );
            nats_refused += 1;
        }
    }
    println!("rate limit: NATS channel sms, 30 requests at once, {nats_refused} refused");
    assert!(
        (20..=28).contains(&nats_refused),
        "a burst of 5 then 5 per second refuses most of 30 quick requests, got {nats_refused}"
    );
}

/// The canaries: contact data and a name that must never reach a log.
const CANARY_PHONE_INPUT: &str = "139-1234-5678";
const CANARY_PHONE_DIGITS: &str = "13912345678";
const CANARY_EMAIL_LOCAL: &str = "canary.zhou.7741";
const CANARY_EMAIL: &str = "canary.zhou.7741@Canary-Mail.example";
const CANARY_EMAIL_DOMAIN: &str = "canary-mail.example";
const CANARY_NAME: &str = "金丝雀周";
const CANARY_WECHAT: &str = "wx_canary_openid_90210";
const CANARY_NATS_PHONE: &str = "+44 7700 900461";
const CANARY_NATS_DIGITS: &str = "7700900461";
const CANARY_NATS_SPACED: &str = "7700 900461";

/// A bearer token distinctive enough to search for: secrets must not reach the logs either.
const CANARY_TOKEN: &str = "t-adapter-canary-secret-61733";

/// Every form a canary could take in a log: as sent, normalised, and as the escaped bytes a
/// `Debug` of a byte buffer prints (`\xe9\x87...`, also with JSON's doubled backslashes).
fn canaries() -> Vec<String> {
    let mut forms = Vec::new();
    for canary in [
        CANARY_PHONE_DIGITS,
        CANARY_PHONE_INPUT,
        CANARY_EMAIL_LOCAL,
        CANARY_EMAIL_DOMAIN,
        CANARY_NAME,
        CANARY_WECHAT,
        CANARY_NATS_DIGITS,
        CANARY_NATS_SPACED,
        CANARY_TOKEN,
    ] {
        forms.push(canary.to_lowercase());
        if !canary.is_ascii() {
            let escaped: String = canary
                .bytes()
                .map(|byte| format!("\\x{byte:02x}"))
                .collect();
            forms.push(escaped.clone());
            forms.push(escaped.replace('\\', "\\\\"));
        }
    }
    forms
}

fn canary_submission(external_id: &str) -> v1::SubmitRequest {
    v1::SubmitRequest {
        channel: "web".into(),
        external_id: external_id.into(),
        customer: Some(v1::Customer {
            customer_id: "c-canary".into(),
            name: CANARY_NAME.into(),
            phone: CANARY_PHONE_INPUT.into(),
            email: CANARY_EMAIL.into(),
            wechat_openid: CANARY_WECHAT.into(),
        }),
        content: "建议增加夜间模式".into(),
        ..Default::default()
    }
}

fn step(ticket: &v1::Ticket) -> v1::Step {
    v1::Step::try_from(ticket.step).unwrap_or(v1::Step::Unspecified)
}

async fn wait_ticket(
    tickets: &mut TicketsClient<Channel>,
    ticket_id: &str,
    condition: impl Fn(&v1::Ticket) -> bool,
) -> v1::Ticket {
    let timeout = Duration::from_secs(30);
    e2e::wait_for_ticket(tickets, ticket_id, "t-admin", timeout, condition)
        .await
        .unwrap_or_else(|last| {
            panic!("ticket {ticket_id} never reached the expected state; last seen {last:?}")
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customer_contact_data_never_appears_in_any_log_at_trace_level() {
    let mut stack = stack(
        &[
            principal(CANARY_TOKEN, "web-form", "adapter"),
            principal("t-service", "zhang.san", "service"),
            principal("t-agent-product", "zhou.ba", "agent").of("product"),
            principal("t-head-product", "wu.jiu", "head").of("product"),
            principal("t-admin", "root", "admin"),
        ],
        "",
        "trace",
        true,
    );
    let mut intake = intake_client(&stack).await;
    let mut tickets = TicketsClient::new(stack.connect("workflow").await);
    let nats = stack.nats_client().await;

    // A submission over gRPC, its repeat, and refused ones that carry the canaries.
    let ticket_id = intake
        .submit(authorized(canary_submission("canary-1"), CANARY_TOKEN))
        .await
        .expect("accepted")
        .into_inner()
        .ticket_id;
    let repeat = intake
        .submit(authorized(canary_submission("canary-1"), CANARY_TOKEN))
        .await
        .expect("duplicate")
        .into_inner();
    assert!(repeat.duplicate);
    let mut bad_email = canary_submission("canary-bad");
    if let Some(customer) = bad_email.customer.as_mut() {
        customer.email = format!("{CANARY_EMAIL_LOCAL}@@{CANARY_EMAIL_DOMAIN}");
    }
    let refused = intake
        .submit(authorized(bad_email, CANARY_TOKEN))
        .await
        .expect_err("a bad e-mail address is refused");
    assert_eq!(refused.code(), Code::InvalidArgument);
    let mut bad_phone = canary_submission("canary-bad-phone");
    if let Some(customer) = bad_phone.customer.as_mut() {
        customer.phone = format!("{CANARY_PHONE_DIGITS}99999");
    }
    let _ = intake.submit(authorized(bad_phone, CANARY_TOKEN)).await;
    // A submission over NATS with another canary phone number.
    let over_nats = v1::SubmitRequest {
        channel: String::new(),
        customer: Some(v1::Customer {
            phone: CANARY_NATS_PHONE.into(),
            name: CANARY_NAME.into(),
            ..Default::default()
        }),
        ..canary_submission("canary-nats")
    };
    let reply = nats_request(&nats, "feedback.inbound.email", over_nats.encode_to_vec()).await;
    assert_eq!(nats_outcome(&reply).0, 0, "accepted over NATS");

    // The ticket through every step, with queries that name the canaries.
    let ticket = wait_ticket(&mut tickets, &ticket_id, |ticket| {
        step(ticket) == v1::Step::Classify
    })
    .await;
    assert_eq!(ticket.ticket_id, ticket_id);
    let mut service = Staff::new(tickets.clone(), "t-service");
    let mut agent = service.as_("t-agent-product");
    let id = &ticket_id;
    let classified = service
        .classify(id, v1::Kind::Suggestion, "read the text")
        .await;
    classified.expect("classify");
    let message = "我们已收到，正在处理";
    agent.acknowledge(id, message).await.expect("acknowledge");
    let evaluated = agent.evaluate(id, (4, 2, 4), "值得做").await;
    evaluated.expect("evaluate");
    let proposed = agent.propose(id, v1::Outcome::Adopted, "已排期").await;
    proposed.expect("propose");
    let mut head = service.as_("t-head-product");
    head.approve(id, "同意").await.expect("approve");
    service.review(id, 5, "客户满意").await.expect("review");
    let archived = service.archive(id).await.expect("archive");
    assert_eq!(step(&archived), v1::Step::Archive);
    let seen = fetch_ticket(&mut tickets, &ticket_id, "t-admin")
        .await
        .expect("get")
        .into_inner()
        .ticket
        .expect("ticket");
    let customer = seen.customer.expect("customer");
    assert_eq!(
        customer.phone,
        format!("+86{CANARY_PHONE_DIGITS}"),
        "the canary really went through"
    );
    for text in [CANARY_NAME, CANARY_PHONE_DIGITS, CANARY_EMAIL_LOCAL] {
        let _ = tickets
            .list_tickets(authorized(
                v1::ListTicketsRequest {
                    filter: Some(v1::TicketFilter {
                        text: text.into(),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                "t-admin",
            ))
            .await;
    }
    let _ = fetch_history(&mut tickets, &ticket_id, "t-admin")
        .await
        .expect("history");
    // Wait until intake has its confirmation, so the whole loop ran.
    let confirmed = wait_until(Duration::from_secs(30), || {
        metrics_text(stack.intake().metrics_address())
            .lines()
            .find_map(|line| line.strip_prefix("cloop_intake_confirmed_total"))
            .and_then(|value| value.trim().parse::<f64>().ok())
            .is_some_and(|value| value >= 2.0)
    });
    assert!(confirmed, "intake saw workflow's confirmations");

    // Stop everything gracefully so every log is flushed, then read every byte written.
    assert_eq!(
        stack.intake_mut().terminate(Duration::from_secs(30)),
        Some(0)
    );
    for workflow in stack.services_mut() {
        if workflow.kind == Service::Workflow {
            assert_eq!(workflow.terminate(Duration::from_secs(30)), Some(0));
        }
    }
    stack.nats_mut().stop();
    let logs: Vec<(String, Vec<u8>)> = [
        ("intake.log", stack.dir.path().join("intake.log")),
        ("workflow.log", stack.dir.path().join("workflow.log")),
        (
            "nats-server.log",
            stack.nats().store_dir().join("nats-server.log"),
        ),
    ]
    .into_iter()
    .map(|(name, path): (&str, PathBuf)| {
        (
            name.to_owned(),
            std::fs::read(&path).unwrap_or_else(|error| panic!("read {}: {error}", path.display())),
        )
    })
    .collect();
    let mut leaks = Vec::new();
    for (name, bytes) in &logs {
        let text = String::from_utf8_lossy(bytes);
        println!("canary: {name} has {} bytes", bytes.len());
        for line in text.lines() {
            let lowered = line.to_lowercase();
            for canary in canaries() {
                if lowered.contains(&canary) {
                    // Name the line by its level and target (JSON logs) and show its start.
                    let field = |key: &str| {
                        line.split_once(&format!("\"{key}\":\""))
                            .and_then(|(_, rest)| rest.split('"').next())
                            .unwrap_or("?")
                            .to_owned()
                    };
                    let shown: String = line.chars().take(300).collect();
                    leaks.push(format!(
                        "{name} contains {canary:?} at level {} target {}: {shown}",
                        field("level"),
                        field("target")
                    ));
                }
            }
        }
    }
    let intake_log = String::from_utf8_lossy(&logs[0].1);
    assert!(
        intake_log.contains("\"level\":\"TRACE\"") || intake_log.contains("\"level\":\"DEBUG\""),
        "the services really logged at the most verbose level"
    );
    assert!(
        leaks.is_empty(),
        "customer data in the logs:\n{}",
        leaks.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_import_over_its_rate_is_paced_not_refused() {
    const RATE: f64 = 20.0;
    const BURST: usize = 5;
    const ITEMS: usize = 40;
    let stack = stack(
        &[principal("t-bulk", "bulk-import", "adapter").with("rate_per_sec = 20\nburst = 5")],
        "",
        "info",
        false,
    );
    let mut intake = intake_client(&stack).await;
    let requests: Vec<v1::SubmitStreamRequest> = (0..ITEMS)
        .map(|index| v1::SubmitStreamRequest {
            submission: Some(valid_submission(&format!("bulk-{index}"))),
        })
        .collect();
    let started = Instant::now();
    let mut answers = intake
        .submit_stream(authorized(futures::stream::iter(requests), "t-bulk"))
        .await
        .expect("bulk import")
        .into_inner();
    let mut accepted = 0;
    while let Some(answer) = answers.next().await {
        match answer.expect("stream item").outcome {
            Some(v1::submit_stream_response::Outcome::Result(_)) => accepted += 1,
            other => panic!("an item was refused instead of paced: {other:?}"),
        }
    }
    let elapsed = started.elapsed();
    println!(
        "rate limit: a bulk import of {ITEMS} at {RATE}/s, burst {BURST}: {accepted} accepted \
         in {:.2} s",
        elapsed.as_secs_f64()
    );
    assert_eq!(accepted, ITEMS);
    // The call and the burst pass at once; the rest come at the rate.
    let paced_at_least = Duration::from_secs_f64((ITEMS - BURST - 1) as f64 / RATE * 0.9);
    assert!(
        elapsed >= paced_at_least,
        "{ITEMS} items took {elapsed:?}: the rate was not applied (at least {paced_at_least:?})"
    );
    let metrics = metrics_text(stack.intake().metrics_address());
    assert!(
        !metrics.contains("cloop_intake_rate_limited_total{caller=\"principal bulk-import\"}"),
        "a paced item is not a refusal"
    );
}
