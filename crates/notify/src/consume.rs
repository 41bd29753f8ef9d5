//! The run of the notifier: its store, senders and workflow client, and the durable pull
//! consumer on TICKET_EVENTS that hands each log row to the notifier (a scheduled report to
//! `reports`) and acks it once its notices are sent and recorded.

use crate::error::NotifyError;
use crate::metrics::Metrics;
use crate::notifier::{Handled, Notifier};
use crate::sender::{FileSink, Smtp, Webhook};
use crate::staff::{AlertParts, Alerts};
use crate::store::{Store, STORE_FILE};
use crate::NotifyConfig;
use async_nats::jetstream::{self, consumer::pull, consumer::AckPolicy, AckKind};
use futures::StreamExt;
use prost::Message as _;
use proto::v1;
use proto::v1::reports_client::ReportsClient;
use proto::v1::tickets_client::TicketsClient;
use service::config::NatsConfig;
use service::server::Tasks;
use service::shutdown::Shutdown;
use service::tasks::Failures;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// Runs the notifier until `shutdown` completes.
pub async fn run(
    config: NotifyConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), NotifyError> {
    std::fs::create_dir_all(&config.data_dir).map_err(|source| NotifyError::DataDir {
        path: config.data_dir.clone(),
        source,
    })?;
    let store = Store::open(&config.data_dir.join(STORE_FILE))?;
    let stop = Shutdown::new();
    let mut tasks = Tasks::new(&Failures::new());
    tasks.push(service::tasks::spawn("shutdown signal", {
        let stop = stop.clone();
        async move {
            shutdown.await;
            stop.trigger();
        }
    }));
    let metrics = Metrics::new()?;
    if let Some(bound) = service::metrics::endpoint(
        config.metrics_listen,
        &metrics.registry,
        stop.wait(),
        &mut tasks,
    )
    .await?
    {
        tracing::info!(%bound, "metrics listening");
    }
    let notifier = notifier(&config, store, metrics, &stop)?;
    if let Some(alerts) = notifier.alerts.clone() {
        tracing::info!("staff alerts on");
        tasks.push(service::tasks::spawn(
            "staff alerts",
            alerts.run(stop.clone()),
        ));
    }
    let (client, _connected) = service::nats::connect(
        &config.nats_url,
        "cloop-notify",
        &config.nats.client_auth()?,
    )
    .await?;
    let context = service::nats::jetstream_context(client, config.nats.request_timeout());
    tracing::info!(consumer = %config.settings.consumer_name, "cloop-notify started");
    while !stop.is_triggered() {
        if let Err(error) = consume(&notifier, &context, &config.nats, &stop).await {
            tracing::warn!(%error, "ticket events consumer stopped, will retry");
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = stop.wait() => {}
            }
        }
    }
    tasks.join().await;
    tracing::info!("cloop-notify stopped");
    Ok(())
}

/// The notifier of `config`: its senders and its (lazily connected) workflow client.
fn notifier(
    config: &NotifyConfig,
    store: Store,
    metrics: Metrics,
    stop: &Shutdown,
) -> Result<Notifier, NotifyError> {
    let endpoint = service::tls::endpoint(
        "[notify] workflow_url",
        &config.settings.workflow_url,
        config.workflow_tls.as_ref(),
    )?
    .connect_timeout(Duration::from_secs(2));
    let channel = endpoint
        .clone()
        .timeout(config.settings.request_timeout())
        .connect_lazy();
    // A scheduled report folds the log up to its position: minutes on a large log.
    let report_channel = endpoint
        .timeout(config.settings.report_timeout())
        .connect_lazy();
    let webhook = match &config.settings.webhook {
        Some(settings) => Some(
            Webhook::new(
                settings,
                config.settings.webhook_secret(),
                config.webhook_tls.as_ref(),
            )
            .map_err(|reason| NotifyError::Config {
                key: "notify.webhook.url".to_owned(),
                reason,
            })?,
        ),
        None => None,
    };
    let smtp = match &config.settings.smtp {
        Some(settings) => Some(Smtp::new(settings).map_err(|reason| NotifyError::Config {
            key: "notify.smtp".to_owned(),
            reason,
        })?),
        None => None,
    };
    let file = config.settings.file.as_ref().map(|settings| {
        let sink = FileSink::new(config.data_dir.join(&settings.path));
        tracing::info!(file = %sink.path().display(), "notices are appended to a file");
        sink
    });
    let tickets = TicketsClient::new(channel);
    let reports = ReportsClient::new(report_channel);
    let alerts = match &config.alerts {
        Some(setup) => {
            let parts = AlertParts {
                store: store.clone(),
                tickets: tickets.clone(),
                smtp: smtp.clone(),
                metrics: metrics.clone(),
                time_format: config.time_format.clone(),
                offset: config.offset,
                webhook_tls: config.webhook_tls.clone(),
            };
            Some(Arc::new(Alerts::new(
                setup.clone(),
                &config.settings,
                parts,
            )?))
        }
        None => None,
    };
    Ok(Notifier {
        alerts,
        token: config.settings.workflow_token(),
        settings: config.settings.clone(),
        templates: config.templates.clone(),
        time_format: config.time_format.clone(),
        offset: config.offset,
        store,
        tickets,
        reports,
        webhook,
        smtp,
        file,
        metrics,
        shutdown: stop.clone(),
        rating_links: config.rating_links.clone(),
    })
}

async fn consume(
    notifier: &Notifier,
    context: &jetstream::Context,
    nats: &NatsConfig,
    stop: &Shutdown,
) -> Result<(), String> {
    let settings = &nats.ticket_events_stream;
    let stream = match context.get_stream(&settings.name).await {
        Ok(stream) => stream,
        Err(_) => {
            // The workflow owns TICKET_EVENTS; whichever service starts first creates it.
            service::nats::ensure_stream(context, settings)
                .await
                .map_err(|error| error.to_string())?;
            context
                .get_stream(&settings.name)
                .await
                .map_err(|error| format!("get stream {}: {error}", settings.name))?
        }
    };
    let name = notifier.settings.consumer_name.clone();
    let config = pull::Config {
        durable_name: Some(name.clone()),
        description: Some("notify: customer notices".into()),
        filter_subject: format!("{}.>", proto::TICKET_EVENTS_SUBJECT_PREFIX),
        ack_policy: AckPolicy::Explicit,
        ack_wait: notifier.settings.ack_wait(),
        // Few messages in flight: each may wait through retries of its notices.
        max_ack_pending: 64,
        ..Default::default()
    };
    let consumer = service::nats::durable_consumer(&stream, config).await?;
    let mut messages = consumer
        .stream()
        .max_messages_per_batch(16)
        .messages()
        .await
        .map_err(|error| format!("consume: {error}"))?;
    loop {
        let next = tokio::select! {
            next = messages.next() => next,
            _ = stop.wait() => return Ok(()),
        };
        let message = match next {
            None => return Err("consumer stream ended".into()),
            Some(Err(error)) => {
                tracing::debug!(%error, "ticket events consumer");
                continue;
            }
            Some(Ok(message)) => message,
        };
        let row = match v1::LogEvent::decode(message.payload.clone()) {
            Ok(row) => row,
            Err(error) => {
                tracing::warn!(%error, subject = %message.subject, "not a LogEvent, skipped");
                let _ = message.ack().await;
                continue;
            }
        };
        // Keep JetStream from redelivering while the notices of this event are retried.
        let keepalive = {
            let message_ack = message.clone();
            let every = notifier.settings.ack_wait() / 3;
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(every).await;
                    if message_ack.ack_with(AckKind::Progress).await.is_err() {
                        return;
                    }
                }
            })
        };
        let handled = if row.event_type == crate::reports::REPORT_SCHEDULED {
            notifier.handle_report(&row).await
        } else {
            notifier.handle(&row).await
        };
        keepalive.abort();
        if let Err(error) = keepalive.await {
            if error.is_panic() {
                tracing::error!("the ack keepalive task panicked");
            }
        }
        let result = match handled {
            Handled::Done => message.double_ack().await,
            Handled::Later => {
                message
                    .ack_with(AckKind::Nak(Some(Duration::from_secs(2))))
                    .await
            }
        };
        if let Err(error) = result {
            tracing::debug!(%error, "ack; the event will be redelivered and skipped");
        }
    }
}
