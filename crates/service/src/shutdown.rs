//! Graceful shutdown: a future that completes on SIGTERM or SIGINT, and a cloneable signal
//! that every part of a service can await.

use tokio::sync::watch;

/// Completes when the process receives SIGTERM or SIGINT (Ctrl-C).
pub async fn terminate_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = terminate.recv() => tracing::info!("received SIGTERM, shutting down"),
                    _ = interrupt => tracing::info!("received SIGINT, shutting down"),
                }
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM, only SIGINT stops the service");
                let _ = interrupt.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}

/// A shutdown signal many tasks can wait for; [`Shutdown::trigger`] starts the shutdown.
#[derive(Debug, Clone)]
pub struct Shutdown {
    sender: watch::Sender<bool>,
    receiver: watch::Receiver<bool>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Self::new()
    }
}

impl Shutdown {
    pub fn new() -> Self {
        let (sender, receiver) = watch::channel(false);
        Self { sender, receiver }
    }

    /// Starts the shutdown; every waiter wakes.
    pub fn trigger(&self) {
        self.sender.send_replace(true);
    }

    pub fn is_triggered(&self) -> bool {
        *self.receiver.borrow()
    }

    /// Completes once [`Shutdown::trigger`] was called (at once if it already was).
    pub fn wait(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut receiver = self.receiver.clone();
        async move {
            // An error means every sender is gone, which also means shut down.
            let _ = receiver.wait_for(|triggered| *triggered).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_waiter_wakes_once_triggered() {
        let shutdown = Shutdown::new();
        let first = tokio::spawn(shutdown.wait());
        let second = tokio::spawn(shutdown.wait());
        assert!(!shutdown.is_triggered());
        shutdown.trigger();
        first.await.expect("first waiter");
        second.await.expect("second waiter");
        shutdown.wait().await;
        assert!(shutdown.is_triggered());
    }
}
