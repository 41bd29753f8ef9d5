//! Which replica runs the duties that must run on one replica at a time: the log-tail
//! publisher, the SLA timers, the assigner, retention, checkpoints.
//!
//! On SQLite there is one process, and it always leads. On PostgreSQL each replica keeps one
//! connection of its own and tries `pg_try_advisory_lock` on [`LEADER_LOCK`] every second; the
//! one that holds the session-level lock leads. When the leader dies, PostgreSQL ends its
//! session and frees the lock, and the next replica to try takes over within a second (a
//! network partition takes as long as the server needs to notice the dead session). The
//! leader checks its connection every second and steps down when it breaks.
//!
//! Why overlap is harmless: for a moment two replicas may both believe they lead (the old one
//! has not noticed its broken connection yet). Every duty is safe to run twice: timer events
//! have ids derived from the ticket and its version, so the second replica's append is a
//! repeat that appends nothing; the publisher sets each row's event id as the JetStream
//! message id, so the broker drops the second copy; the position it keeps in PostgreSQL only
//! moves forward.

use service::shutdown::Shutdown;
use std::future::Future;
use std::time::Duration;
use tokio::sync::watch;

/// The session-level advisory lock the leader holds: ASCII "cloopldr".
pub const LEADER_LOCK: i64 = 0x636c_6f6f_706c_6472;

/// How often a follower tries to take the lead, and the leader checks its connection.
const TRY_INTERVAL: Duration = Duration::from_secs(1);

/// Whether this replica leads, as it changes.
#[derive(Debug, Clone)]
pub struct Leadership {
    receiver: watch::Receiver<bool>,
}

impl Leadership {
    /// Always the leader (one process on SQLite).
    pub fn always() -> Self {
        let (sender, receiver) = watch::channel(true);
        // The receiver keeps the value after the sender is gone.
        drop(sender);
        Leadership { receiver }
    }

    /// Competes for the lead on the PostgreSQL database at `url` on a thread of its own until
    /// `stop` is triggered (the lock goes with the session when the thread ends).
    pub fn compete(url: String, replica: String, stop: Shutdown) -> Self {
        let (sender, receiver) = watch::channel(false);
        let spawned = std::thread::Builder::new()
            .name("workflow-leader".to_string())
            .spawn(move || compete(&url, &replica, &sender, &stop));
        if let Err(error) = spawned {
            tracing::error!(%error, "cannot start the leader election: this replica never leads");
        }
        Leadership { receiver }
    }

    /// Spawns `duty` as the vital task `name` of `tasks`: run (see [`Leadership::lead`]) while
    /// this replica leads, until `stop`.
    pub fn spawn_led<F, Fut>(
        &self,
        tasks: &mut service::server::Tasks,
        name: &'static str,
        stop: &Shutdown,
        duty: F,
    ) where
        F: Fn(Shutdown) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        tasks.spawn_vital(name, self.clone().lead(name, stop.clone(), duty));
    }

    /// Runs `duty` while this replica leads: started when it takes the lead, stopped (its
    /// `Shutdown` triggered, and awaited) when it loses it or `stop` is triggered.
    pub async fn lead<F, Fut>(mut self, name: &'static str, stop: Shutdown, duty: F)
    where
        F: Fn(Shutdown) -> Fut,
        Fut: Future<Output = ()>,
    {
        loop {
            // Wait to lead.
            loop {
                if stop.is_triggered() {
                    return;
                }
                if *self.receiver.borrow_and_update() {
                    break;
                }
                tokio::select! {
                    changed = self.receiver.changed() => {
                        if changed.is_err() && !*self.receiver.borrow() {
                            // Never going to lead.
                            stop.wait().await;
                            return;
                        }
                    }
                    _ = stop.wait() => return,
                }
            }
            tracing::info!(duty = name, "leading: duty started");
            let duty_stop = Shutdown::new();
            let mut running = std::pin::pin!(duty(duty_stop.clone()));
            let mut receiver = self.receiver.clone();
            let lost = async {
                loop {
                    if !*receiver.borrow_and_update() {
                        return;
                    }
                    if receiver.changed().await.is_err() {
                        // The value stays; a closed channel that leads leads for good.
                        if *receiver.borrow() {
                            std::future::pending::<()>().await;
                        }
                        return;
                    }
                }
            };
            tokio::select! {
                () = &mut running => return,
                () = lost => {
                    tracing::warn!(duty = name, "lead lost: duty stopping");
                    duty_stop.trigger();
                    running.await;
                }
                _ = stop.wait() => {
                    duty_stop.trigger();
                    running.await;
                    return;
                }
            }
        }
    }
}

/// The election loop: connect, try the lock, hold it while the connection lives.
fn compete(url: &str, replica: &str, sender: &watch::Sender<bool>, stop: &Shutdown) {
    let mut client: Option<postgres::Client> = None;
    let mut leading = false;
    while !stop.is_triggered() {
        if client.as_ref().is_none_or(postgres::Client::is_closed) {
            if leading {
                tracing::warn!(replica, "lost the connection that holds the lead");
                leading = false;
                sender.send_replace(false);
            }
            client = eventlog::pgtls::connect(url)
                .map_err(|error| tracing::warn!(%error, "leader election cannot connect"))
                .ok();
        }
        if let Some(connection) = client.as_mut() {
            let result = if leading {
                connection.simple_query("SELECT 1").map(|_| true)
            } else {
                connection
                    .query_one("SELECT pg_try_advisory_lock($1)", &[&LEADER_LOCK])
                    .and_then(|row| row.try_get::<_, bool>(0))
            };
            match result {
                Ok(true) if !leading => {
                    tracing::info!(replica, "this replica leads");
                    leading = true;
                    sender.send_replace(true);
                }
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(%error, "leader election query failed");
                    client = None;
                    if leading {
                        leading = false;
                        sender.send_replace(false);
                    }
                }
            }
        }
        std::thread::sleep(TRY_INTERVAL);
    }
    sender.send_replace(false);
}
