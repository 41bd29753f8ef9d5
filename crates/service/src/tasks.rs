//! The long-lived tasks of a service, with names: a task that panics is logged as an error
//! naming it, and a vital one (a worker without which the service is useless) is also recorded
//! in [`Failures`], which the service's `run` waits for to stop with one clear line and a
//! non-zero exit.
//!
//! Each task runs under a watcher task that awaits it, so a panic is seen even when nobody
//! joins the task (the metrics endpoint) or only joins it at the shutdown (the workers).

use std::future::Future;
use tokio::sync::watch;
use tokio::task::{JoinError, JoinHandle};

/// The first failure of a vital task, shared by the service's tasks and its `run`.
#[derive(Debug, Clone)]
pub struct Failures {
    sender: watch::Sender<Option<String>>,
}

impl Default for Failures {
    fn default() -> Self {
        Self::new()
    }
}

impl Failures {
    pub fn new() -> Self {
        Self {
            sender: watch::Sender::new(None),
        }
    }

    /// Records `failure` unless one is recorded already (the first one is the cause).
    fn record(&self, failure: String) {
        self.sender.send_if_modified(|first| {
            if first.is_none() {
                *first = Some(failure);
                true
            } else {
                false
            }
        });
    }

    /// The first failure, if a vital task failed.
    pub fn get(&self) -> Option<String> {
        self.sender.borrow().clone()
    }

    /// Completes with the first failure of a vital task (never, while none fails).
    pub async fn first(&self) -> String {
        let mut receiver = self.sender.subscribe();
        let first = match receiver.wait_for(Option::is_some).await {
            Ok(failure) => failure.clone(),
            // The sender lives in `self`: the channel cannot close while this waits.
            Err(_) => None,
        };
        match first {
            Some(failure) => failure,
            None => std::future::pending().await,
        }
    }
}

/// A named long-lived task; [`Task::join`] waits for it to end.
#[derive(Debug)]
pub struct Task {
    watcher: JoinHandle<()>,
}

/// Spawns `future` as the task `name`; a panic is logged as an error naming it.
pub fn spawn<F>(name: &'static str, future: F) -> Task
where
    F: Future<Output = ()> + Send + 'static,
{
    watch_over(name, None, future)
}

/// Spawns `future` as the vital task `name`: a panic is logged as an error naming it and
/// recorded in `failures`, so that the service stops.
pub fn spawn_vital<F>(name: &'static str, failures: &Failures, future: F) -> Task
where
    F: Future<Output = ()> + Send + 'static,
{
    watch_over(name, Some(failures.clone()), future)
}

fn watch_over<F>(name: &'static str, failures: Option<Failures>, future: F) -> Task
where
    F: Future<Output = ()> + Send + 'static,
{
    let task = tokio::spawn(future);
    let watcher = tokio::spawn(async move {
        if let Err(error) = task.await {
            let failure = format!("the {name} task {}", describe(error));
            tracing::error!(task = name, "{failure}");
            if let Some(failures) = failures {
                failures.record(failure);
            }
        }
    });
    Task { watcher }
}

impl Task {
    /// Waits until the task has ended (its panic, if any, is logged already).
    pub async fn join(self) {
        // The watcher itself does not panic; it fails only when the runtime shuts down.
        if let Err(error) = self.watcher.await {
            tracing::debug!(%error, "task watcher ended early");
        }
    }
}

/// "panicked: <message>" or "was cancelled".
pub(crate) fn describe(error: JoinError) -> String {
    match error.try_into_panic() {
        Ok(payload) => {
            let message = payload
                .downcast_ref::<&str>()
                .map(|text| (*text).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic without a message".to_owned());
            format!("panicked: {message}")
        }
        Err(_) => "was cancelled".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const WAIT: Duration = Duration::from_secs(5);

    #[tokio::test]
    async fn a_vital_task_that_panics_is_logged_and_recorded_with_its_name() {
        let (captured, _guard) = crate::test_log::capture();
        let failures = Failures::new();
        assert_eq!(failures.get(), None);
        let quiet = spawn_vital("quiet worker", &failures, async {});
        quiet.join().await;
        assert_eq!(failures.get(), None, "a task that ends is no failure");
        let task = spawn_vital("consumer", &failures, async { panic!("store gone") });
        let first = tokio::time::timeout(WAIT, failures.first())
            .await
            .expect("the failure is recorded");
        assert_eq!(first, "the consumer task panicked: store gone");
        task.join().await;
        // A second failure does not replace the cause.
        spawn_vital("publisher", &failures, async {
            panic!("{}", String::from("later"))
        })
        .join()
        .await;
        assert_eq!(failures.get().as_deref(), Some(first.as_str()));
        let text = captured.text();
        assert!(text.contains("ERROR"), "{text}");
        assert!(
            text.contains("the consumer task panicked: store gone"),
            "{text}"
        );
        assert!(
            text.contains("the publisher task panicked: later"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn a_task_nobody_joins_still_has_its_panic_logged_and_records_nothing() {
        let (captured, _guard) = crate::test_log::capture();
        let (sender, receiver) = tokio::sync::oneshot::channel::<()>();
        drop(spawn("metrics endpoint", async move {
            let _ = receiver.await;
            panic!("bind lost")
        }));
        let _ = sender.send(());
        let mut text = String::new();
        for _ in 0..500 {
            tokio::time::sleep(Duration::from_millis(10)).await;
            text = captured.text();
            if text.contains("bind lost") {
                break;
            }
        }
        assert!(
            text.contains("the metrics endpoint task panicked: bind lost"),
            "{text}"
        );
    }
}
