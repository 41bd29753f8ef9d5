//! The one loop of a periodic duty (SLA timers, assignment, retention, checkpoints, key
//! backups): wait for the next tick or the shutdown, run the work, log a failure and go on.
//!
//! By default the first run is at once and the next ones keep a fixed rate (a tokio interval
//! whose missed ticks are delayed, never bunched); [`Duty::first_after`],
//! [`Duty::period_after_each_run`] and [`Duty::last_run_on_shutdown`] change that.

use crate::shutdown::Shutdown;
use std::fmt::Display;
use std::future::Future;
use std::time::Duration;
use tokio::time::{Instant, Interval, MissedTickBehavior};

/// A periodic duty: its name (logged as `duty`, and in `"<name> failed"` on a failure), its
/// period and when it runs.
#[derive(Debug, Clone)]
pub struct Duty {
    name: &'static str,
    period: Duration,
    first_after: Duration,
    fixed_rate: bool,
    last_run_on_shutdown: bool,
    failures_are_errors: bool,
}

impl Duty {
    /// Runs at once, then every `period` (at a fixed rate; a run that overruns delays the next
    /// tick rather than bunching them). A failure is logged as a warning.
    pub fn every(name: &'static str, period: Duration) -> Self {
        Self {
            name,
            period,
            first_after: Duration::ZERO,
            fixed_rate: true,
            last_run_on_shutdown: false,
            failures_are_errors: false,
        }
    }

    /// The first run comes after `wait` instead of at once.
    pub fn first_after(mut self, wait: Duration) -> Self {
        self.first_after = wait;
        self
    }

    /// Each wait is a whole period from the end of the previous run (a sleep), not a fixed
    /// rate.
    pub fn period_after_each_run(mut self) -> Self {
        self.fixed_rate = false;
        self
    }

    /// One more run when the shutdown comes, before the loop ends.
    pub fn last_run_on_shutdown(mut self) -> Self {
        self.last_run_on_shutdown = true;
        self
    }

    /// A failure is logged as an error instead of a warning.
    pub fn failures_are_errors(mut self) -> Self {
        self.failures_are_errors = true;
        self
    }

    /// Runs `work` on every tick until `shutdown`; a failure is logged and the loop goes on.
    pub async fn run<F, Fut, T, E>(self, shutdown: Shutdown, mut work: F)
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: Display,
    {
        let mut ticks = Ticks::new(&self);
        loop {
            let stopping = tokio::select! {
                () = ticks.next() => false,
                () = shutdown.wait() => true,
            };
            if stopping && !self.last_run_on_shutdown {
                return;
            }
            if let Err(error) = work().await {
                self.log_failure(&error);
            }
            if stopping {
                return;
            }
        }
    }

    fn log_failure(&self, error: &dyn Display) {
        let name = self.name;
        if self.failures_are_errors {
            tracing::error!(duty = name, %error, "{name} failed");
        } else {
            tracing::warn!(duty = name, %error, "{name} failed");
        }
    }
}

/// When the next run is due.
enum Ticks {
    FixedRate(Interval),
    Sleep { wait: Duration, period: Duration },
}

impl Ticks {
    fn new(duty: &Duty) -> Self {
        if duty.fixed_rate {
            let mut interval =
                tokio::time::interval_at(Instant::now() + duty.first_after, duty.period);
            interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
            Ticks::FixedRate(interval)
        } else {
            Ticks::Sleep {
                wait: duty.first_after,
                period: duty.period,
            }
        }
    }

    async fn next(&mut self) {
        match self {
            Ticks::FixedRate(interval) => {
                interval.tick().await;
            }
            Ticks::Sleep { wait, period } => {
                tokio::time::sleep(*wait).await;
                *wait = *period;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::mpsc;

    const WAIT: Duration = Duration::from_secs(5);

    /// Triggers `shutdown` and waits for `task` to stop without a panic.
    async fn stop(shutdown: &Shutdown, task: tokio::task::JoinHandle<()>) {
        shutdown.trigger();
        tokio::time::timeout(WAIT, task)
            .await
            .expect("stops on shutdown")
            .expect("no panic");
    }

    /// A shutdown that triggers itself after 100 ms.
    fn triggered_soon() -> Shutdown {
        let shutdown = Shutdown::new();
        let stopper = shutdown.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            stopper.trigger();
        });
        shutdown
    }

    #[tokio::test]
    async fn runs_at_once_then_every_period_until_shutdown() {
        let shutdown = Shutdown::new();
        let (sender, mut receiver) = mpsc::unbounded_channel();
        let started = Instant::now();
        // A period long against a loaded machine's scheduling delays, so that "at once" and "a
        // period later" cannot be mistaken for one another.
        let task = tokio::spawn(Duty::every("test", Duration::from_millis(400)).run(
            shutdown.clone(),
            move || {
                let sender = sender.clone();
                async move { sender.send(Instant::now()).map_err(|_| "closed") }
            },
        ));
        let mut runs = Vec::new();
        for _ in 0..4 {
            let run = tokio::time::timeout(WAIT, receiver.recv()).await;
            runs.push(run.ok().flatten().expect("a run"));
        }
        assert!(
            runs[0] - started < Duration::from_millis(200),
            "first run at once"
        );
        // A fixed rate from the start: the fourth run is due three periods after the start
        // (not after the first run, which a loaded machine may run late while the schedule
        // holds), and never before.
        assert!(
            runs[3] - started >= Duration::from_millis(1200),
            "three periods after the start"
        );
        assert!(
            runs.windows(2).all(|pair| pair[1] > pair[0]),
            "one run at a time"
        );
        stop(&shutdown, task).await;
        // Stopped: the sender is gone with the loop, nothing more comes.
        while let Ok(Some(_)) = tokio::time::timeout(WAIT, receiver.recv()).await {}
        assert!(receiver.is_closed());
    }

    #[tokio::test]
    async fn a_failure_is_logged_with_the_name_and_the_loop_goes_on() {
        // The test's runtime has one thread: the subscriber holds for the whole loop.
        let (captured, _guard) = crate::test_log::capture();
        let shutdown = Shutdown::new();
        let mut calls = 0;
        let stopper = shutdown.clone();
        Duty::every("flaky tick", Duration::from_millis(10))
            .run(shutdown, || {
                calls += 1;
                let call = calls;
                let stopper = stopper.clone();
                async move {
                    match call {
                        1 => Err("store unreachable"),
                        2 => Ok(()),
                        _ => {
                            stopper.trigger();
                            Ok(())
                        }
                    }
                }
            })
            .await;
        assert!(
            calls >= 3,
            "the loop went on after the failure: {calls} calls"
        );
        let text = captured.text();
        assert!(text.contains("WARN"), "{text}");
        assert!(text.contains("flaky tick failed"), "{text}");
        assert!(text.contains("store unreachable"), "{text}");
        assert_eq!(text.matches("failed").count(), 1, "{text}");
    }

    #[tokio::test]
    async fn failures_as_errors_are_logged_as_errors() {
        let (captured, _guard) = crate::test_log::capture();
        let shutdown = Shutdown::new();
        let stopper = shutdown.clone();
        Duty::every("backup", Duration::from_millis(10))
            .failures_are_errors()
            .run(shutdown, || {
                stopper.trigger();
                async { Err::<(), _>("disk full") }
            })
            .await;
        let text = captured.text();
        assert!(text.contains("ERROR"), "{text}");
        assert!(text.contains("backup failed"), "{text}");
    }

    #[tokio::test]
    async fn first_after_delays_the_first_run_and_shutdown_before_it_runs_nothing() {
        let shutdown = triggered_soon();
        let mut calls = 0;
        let started = Instant::now();
        Duty::every("later", Duration::from_millis(10))
            .first_after(Duration::from_secs(60))
            .run(shutdown, || {
                calls += 1;
                async { Ok::<_, String>(()) }
            })
            .await;
        assert_eq!(calls, 0);
        assert!(started.elapsed() < Duration::from_secs(30));
    }

    #[tokio::test]
    async fn last_run_on_shutdown_runs_once_more() {
        let shutdown = triggered_soon();
        let mut calls = 0;
        Duty::every("final", Duration::from_secs(60))
            .last_run_on_shutdown()
            .run(shutdown, || {
                calls += 1;
                async { Ok::<_, String>(()) }
            })
            .await;
        // Once at once, once for the shutdown.
        assert_eq!(calls, 2);
    }

    #[tokio::test]
    async fn period_after_each_run_counts_from_the_end_of_the_run() {
        let shutdown = Shutdown::new();
        let (sender, mut receiver) = mpsc::unbounded_channel();
        let task = tokio::spawn(
            Duty::every("spaced", Duration::from_millis(50))
                .period_after_each_run()
                .run(shutdown.clone(), move || {
                    let sender = sender.clone();
                    async move {
                        let started = Instant::now();
                        // A slow run: the next one still waits a whole period after it.
                        tokio::time::sleep(Duration::from_millis(40)).await;
                        sender.send(started).map_err(|_| "closed")
                    }
                }),
        );
        let mut starts = Vec::new();
        for _ in 0..3 {
            let run = tokio::time::timeout(WAIT, receiver.recv()).await;
            starts.push(run.ok().flatten().expect("a run"));
        }
        // 40 ms of work plus 50 ms of wait between starts (a fixed rate would be 50 ms).
        assert!(starts[2] - starts[0] >= Duration::from_millis(180));
        stop(&shutdown, task).await;
    }
}
