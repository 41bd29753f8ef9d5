//! Intake throughput and latency: `Submit` requests per second with p50/p99 latency for 1 and
//! 64 concurrent clients (durable: each answer follows an fsynced outbox commit), the lag from
//! answer to JetStream publish ack, and a bare tonic echo of the same messages on the same
//! machine as the ceiling. Starts its own nats-server (see `tests/src/lib.rs`).
//!
//! Run with `cargo bench -p intake` (or `make bench`); `CLOOP_BENCH_SECONDS` sets the length
//! of each measurement (default 5).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use hdrhistogram::Histogram;
use intake::{IntakeConfig, IntakeSettings};
use proto::v1;
use proto::v1::intake_client::IntakeClient;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tonic::transport::Channel;

const ADAPTER_TOKEN: &str = "bench-adapter-token";

/// A tonic server of the same `feedback.v1.Intake` that answers at once: the transport's
/// ceiling for `Submit` on this machine.
#[derive(Debug, Clone)]
struct Echo;

#[tonic::async_trait]
impl v1::intake_server::Intake for Echo {
    async fn submit(
        &self,
        request: tonic::Request<v1::SubmitRequest>,
    ) -> Result<tonic::Response<v1::SubmitResponse>, tonic::Status> {
        let request = request.into_inner();
        Ok(tonic::Response::new(v1::SubmitResponse {
            ticket_id: request.external_id,
            feedback_id: request.channel,
            notice: request.content,
            ..Default::default()
        }))
    }

    type SubmitStreamStream =
        futures::stream::Empty<Result<v1::SubmitStreamResponse, tonic::Status>>;

    async fn submit_stream(
        &self,
        _request: tonic::Request<tonic::Streaming<v1::SubmitStreamRequest>>,
    ) -> Result<tonic::Response<Self::SubmitStreamStream>, tonic::Status> {
        Ok(tonic::Response::new(futures::stream::empty()))
    }
}

fn request(worker: usize, index: u64) -> tonic::Request<v1::SubmitRequest> {
    let mut request = tonic::Request::new(v1::SubmitRequest {
        channel: "app".into(),
        external_id: format!("bench-{worker}-{index}-{}", std::process::id()),
        customer: Some(v1::Customer {
            phone: "13800138000".into(),
            name: "张三".into(),
            ..Default::default()
        }),
        content:
            "APP卡顿，购物车结算时经常闪退，希望尽快修复。订单号 20261123-0042，已经第三次了。"
                .into(),
        product: "APP".into(),
        ..Default::default()
    });
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {ADAPTER_TOKEN}").parse().expect("ascii"),
    );
    request
}

struct Figures {
    requests_per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: u64,
}

/// Runs `clients` concurrent callers against `address` for `duration`.
async fn measure(address: &str, clients: usize, duration: Duration) -> Figures {
    let channels: Vec<Channel> = {
        let mut channels = Vec::new();
        for _ in 0..clients.div_ceil(16) {
            channels.push(
                Channel::from_shared(format!("http://{address}"))
                    .expect("uri")
                    .connect()
                    .await
                    .expect("connect"),
            );
        }
        channels
    };
    measure_calls(clients, duration, |worker| {
        let client = IntakeClient::new(channels[worker % channels.len()].clone());
        move |index| {
            let mut client = client.clone();
            async move { client.submit(request(worker, index)).await.is_ok() }
        }
    })
    .await
}

/// Runs `tasks` concurrent callers of the intake core directly (no gRPC) for `duration`.
async fn measure_core(core: Arc<intake::Intake>, tasks: usize, duration: Duration) -> Figures {
    measure_calls(tasks, duration, |worker| {
        let core = core.clone();
        move |index| {
            let core = core.clone();
            async move {
                let mut submission = request(worker, index).into_inner();
                submission.external_id.push_str("-core");
                core.submit(submission).await.is_ok()
            }
        }
    })
    .await
}

/// Runs `workers` concurrent callers for `duration`: `caller(worker)` makes a worker's call,
/// which makes its `index`th request and says whether it succeeded.
async fn measure_calls<C, F, Fut>(workers: usize, duration: Duration, mut caller: C) -> Figures
where
    C: FnMut(usize) -> F,
    F: FnMut(u64) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let histogram = Arc::new(Mutex::new(
        Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("histogram"),
    ));
    let errors = Arc::new(AtomicU64::new(0));
    let completed = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + duration;
    let workers: Vec<_> = (0..workers)
        .map(|worker| {
            let mut call = caller(worker);
            let histogram = histogram.clone();
            let errors = errors.clone();
            let completed = completed.clone();
            tokio::spawn(async move {
                let mut local =
                    Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("histogram");
                let mut index = 0u64;
                while Instant::now() < deadline {
                    let began = Instant::now();
                    if call(index).await {
                        let micros = began.elapsed().as_micros() as u64;
                        local.record(micros.max(1)).expect("in range");
                        completed.fetch_add(1, Ordering::Relaxed);
                    } else {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                    index += 1;
                }
                histogram
                    .lock()
                    .expect("histogram")
                    .add(local)
                    .expect("same bounds");
            })
        })
        .collect();
    for worker in workers {
        worker.await.expect("worker");
    }
    let elapsed = start.elapsed().as_secs_f64();
    let histogram = histogram.lock().expect("histogram");
    Figures {
        requests_per_second: completed.load(Ordering::Relaxed) as f64 / elapsed,
        p50_ms: histogram.value_at_quantile(0.50) as f64 / 1000.0,
        p99_ms: histogram.value_at_quantile(0.99) as f64 / 1000.0,
        errors: errors.load(Ordering::Relaxed),
    }
}

/// The publish-lag histogram's quantile, as the upper bound of the bucket it falls in.
fn lag_quantile(metrics: &intake::metrics::IntakeMetrics, quantile: f64) -> Option<f64> {
    let histogram = metrics.publish_lag.clone();
    let count = histogram.get_sample_count();
    if count == 0 {
        return None;
    }
    let families = metrics.registry.gather();
    let family = families
        .iter()
        .find(|family| family.name() == "cloop_intake_publish_lag_seconds")?;
    let buckets = family.get_metric().first()?.get_histogram().get_bucket();
    let wanted = (count as f64 * quantile).ceil() as u64;
    buckets
        .iter()
        .find(|bucket| bucket.cumulative_count() >= wanted)
        .map(|bucket| bucket.upper_bound())
}

fn main() {
    let seconds: u64 = std::env::var("CLOOP_BENCH_SECONDS")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(5);
    let duration = Duration::from_secs(seconds);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let nats = e2e::NatsServer::start();
    let data = tempfile::tempdir().expect("temp dir");
    runtime.block_on(async {
        // The ceiling: a bare tonic echo of the same messages.
        let echo_listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let echo_address = echo_listener.local_addr().expect("address").to_string();
        let echo = tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(v1::intake_server::IntakeServer::new(Echo))
                .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(
                    echo_listener,
                )),
        );

        let tokens = service::TokenRegistry::from_toml_str(&format!(
            "[[principal]]\nname = \"bench\"\nrole = \"adapter\"\ntoken_sha256 = \"{}\"\n",
            service::tokens::token_sha256(ADAPTER_TOKEN)
        ))
        .expect("tokens")
        // The benchmark measures throughput, not the built-in rate limits.
        .with_rate_limits(service::RateLimitConfig::UNLIMITED);
        let running = intake::start(IntakeConfig {
            base: service::ServiceBase {
                listen: "127.0.0.1:0".parse().expect("address"),
                metrics_listen: None,
                nats_url: nats.url(),
                data_dir: data.path().to_path_buf(),
                tokens: Arc::new(tokens),
                rules: Arc::new(domain::rules::Rules::defaults()),
                nats: service::config::NatsConfig::default(),
                tls: None,
            },
            settings: IntakeSettings::default(),
        })
        .await
        .expect("start intake");
        let intake_address = running.address.to_string();
        let metrics = running.core.metrics().clone();

        // Warm up both (connections, JetStream streams, SQLite pages).
        measure(&echo_address, 8, Duration::from_secs(1)).await;
        measure(&intake_address, 8, Duration::from_secs(1)).await;

        println!(
            "## Intake benchmark ({seconds} s per figure, nats-server {})",
            nats.version()
        );
        println!();
        println!("| what | clients | requests/s | p50 ms | p99 ms | errors |");
        println!("| --- | --- | --- | --- | --- | --- |");
        for clients in [1usize, 64] {
            let figures = measure(&echo_address, clients, duration).await;
            println!(
                "| tonic echo (ceiling) | {clients} | {:.0} | {:.2} | {:.2} | {} |",
                figures.requests_per_second, figures.p50_ms, figures.p99_ms, figures.errors
            );
            let figures = measure(&intake_address, clients, duration).await;
            println!(
                "| Submit, durable | {clients} | {:.0} | {:.2} | {:.2} | {} |",
                figures.requests_per_second, figures.p50_ms, figures.p99_ms, figures.errors
            );
        }
        let figures = measure_core(running.core.clone(), 64, duration).await;
        println!(
            "| intake core without gRPC, durable | 64 tasks | {:.0} | {:.2} | {:.2} | {} |",
            figures.requests_per_second, figures.p50_ms, figures.p99_ms, figures.errors
        );

        // Let the relay catch up, then read the lag histogram.
        let counters = running.core.outbox().counters();
        let caught_up = Instant::now() + Duration::from_secs(60);
        while counters.pending() > 0 && Instant::now() < caught_up {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let count = metrics.publish_lag.get_sample_count();
        let mean_ms = if count == 0 {
            0.0
        } else {
            metrics.publish_lag.get_sample_sum() / count as f64 * 1000.0
        };
        let batches = metrics.commit_batch.get_sample_count();
        println!();
        println!(
            "outbox: {batches} transactions, {:.1} commands each on average",
            metrics.commit_batch.get_sample_sum() / batches.max(1) as f64
        );
        println!(
            "answer → publish ack lag over {count} submissions: mean {mean_ms:.1} ms, \
             p50 ≤ {} ms, p99 ≤ {} ms (bucket upper bounds)",
            lag_quantile(&metrics, 0.50).map_or("?".into(), |v| format!("{}", v * 1000.0)),
            lag_quantile(&metrics, 0.99).map_or("?".into(), |v| format!("{}", v * 1000.0)),
        );
        running.stop().await.expect("stop intake");
        echo.abort();
    });
}
