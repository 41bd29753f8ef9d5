//! Per-caller rate limits: a token bucket per principal (and per NATS channel at intake), with
//! the rate and burst from the tokens file or, when a principal names none, from the
//! `[rate_limits.<role>]` defaults of the configuration file, which fall back on built-in
//! limits ([`RateLimitConfig::BUILT_IN`]): limits are on without any configuration. A caller over its limit gets
//! RESOURCE_EXHAUSTED naming the limit and when to retry.
//!
//! The buckets live in memory, in a few mutex-guarded shards so that callers rarely wait for
//! each other; a bucket is refilled lazily when its caller next arrives, so no background task
//! is needed. Time is an argument of [`RateLimiter::check_at`], which keeps the arithmetic
//! testable without sleeping.

use crate::status::{status_from, Failure};
use domain::types::Role;
use prometheus::{IntCounterVec, Opts, Registry};
use serde::Deserialize;
use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The metadata key of a RESOURCE_EXHAUSTED status that says how many milliseconds to wait.
pub const RETRY_AFTER_METADATA_KEY: &str = "cloop-retry-after-ms";

/// How many independently locked shards hold the buckets.
const SHARDS: usize = 16;

/// One caller's limit: `rate_per_sec` requests per second on average, at most `burst` at once.
/// A rate of 0 means unlimited; a burst of 0 means one second's worth of the rate (at least 1).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimit {
    pub rate_per_sec: f64,
    pub burst: u32,
}

impl RateLimit {
    /// No limit at all.
    pub const UNLIMITED: RateLimit = RateLimit {
        rate_per_sec: 0.0,
        burst: 0,
    };

    pub fn new(rate_per_sec: f64, burst: u32) -> Self {
        Self {
            rate_per_sec,
            burst,
        }
    }

    /// Whether this limit lets everything through (a rate of zero, negative or not a number).
    pub fn is_unlimited(&self) -> bool {
        !(self.rate_per_sec > 0.0 && self.rate_per_sec.is_finite())
    }

    /// The bucket's capacity: the burst, or one second's worth of the rate when it is 0.
    pub fn capacity(&self) -> f64 {
        if self.burst > 0 {
            f64::from(self.burst)
        } else {
            self.rate_per_sec.max(1.0)
        }
    }

    /// The limit as people read it, e.g. `10 requests per second, burst 20`.
    pub fn describe(&self) -> String {
        if self.is_unlimited() {
            "unlimited".to_owned()
        } else {
            format!(
                "{} requests per second, burst {}",
                self.rate_per_sec,
                self.capacity()
            )
        }
    }

    /// Checks the values a configuration may not hold.
    fn validate(&self, at: &str) -> Result<(), String> {
        if self.rate_per_sec.is_nan() || self.rate_per_sec < 0.0 || self.rate_per_sec.is_infinite()
        {
            return Err(format!(
                "{at}.rate_per_sec must be a finite number of at least 0 (0 is unlimited)"
            ));
        }
        Ok(())
    }
}

/// The `[rate_limits]` table of the configuration file: a default limit per role, used for
/// every principal of that role whose `[[principal]]` entry names no `rate_per_sec`.
///
/// Limits are on by default: a role the file leaves out keeps its built-in limit
/// ([`RateLimitConfig::BUILT_IN`]); a role table that names only one of `rate_per_sec` and
/// `burst` takes the other as a principal's own entry would (only a rate: the automatic burst;
/// only a burst: the built-in rate). `rate_per_sec = 0` turns a role's limit off.
///
/// ```toml
/// [rate_limits.adapter]
/// rate_per_sec = 200
/// burst = 400
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(from = "RawRateLimitConfig")]
pub struct RateLimitConfig {
    pub adapter: RateLimit,
    pub agent: RateLimit,
    pub head: RateLimit,
    pub service: RateLimit,
    pub manager: RateLimit,
    pub auditor: RateLimit,
    pub admin: RateLimit,
}

impl Default for RateLimitConfig {
    /// The built-in limits: a fresh install is limited without any configuration.
    fn default() -> Self {
        Self::BUILT_IN
    }
}

/// One role's table as written: either key may be left out.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawRateLimit {
    rate_per_sec: Option<f64>,
    burst: Option<u32>,
}

/// The `[rate_limits]` table as written, before the built-in limits fill the gaps.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawRateLimitConfig {
    adapter: Option<RawRateLimit>,
    agent: Option<RawRateLimit>,
    head: Option<RawRateLimit>,
    service: Option<RawRateLimit>,
    manager: Option<RawRateLimit>,
    auditor: Option<RawRateLimit>,
    admin: Option<RawRateLimit>,
}

impl From<RawRateLimitConfig> for RateLimitConfig {
    fn from(raw: RawRateLimitConfig) -> Self {
        let built_in = RateLimitConfig::BUILT_IN;
        let merge = |written: Option<RawRateLimit>, default: RateLimit| {
            written.map_or(default, |written| {
                RateLimitOverride {
                    rate_per_sec: written.rate_per_sec,
                    burst: written.burst,
                }
                .over(default)
            })
        };
        Self {
            adapter: merge(raw.adapter, built_in.adapter),
            agent: merge(raw.agent, built_in.agent),
            head: merge(raw.head, built_in.head),
            service: merge(raw.service, built_in.service),
            manager: merge(raw.manager, built_in.manager),
            auditor: merge(raw.auditor, built_in.auditor),
            admin: merge(raw.admin, built_in.admin),
        }
    }
}

impl RateLimitConfig {
    /// The limits of a fresh install, per principal (and per NATS channel for adapters).
    /// Adapters carry every customer's feedback and bulk imports; `service` also covers
    /// daemons such as cloop-notify (a `GetTicket` and a `RecordNotification` per notice);
    /// people (agents, heads) never click 50 times a second; reports and audit reads are
    /// the most expensive calls, so managers and auditors have the smallest budget.
    pub const BUILT_IN: RateLimitConfig = RateLimitConfig {
        adapter: RateLimit {
            rate_per_sec: 1_000.0,
            burst: 2_000,
        },
        agent: RateLimit {
            rate_per_sec: 50.0,
            burst: 100,
        },
        head: RateLimit {
            rate_per_sec: 50.0,
            burst: 100,
        },
        service: RateLimit {
            rate_per_sec: 200.0,
            burst: 400,
        },
        manager: RateLimit {
            rate_per_sec: 20.0,
            burst: 40,
        },
        auditor: RateLimit {
            rate_per_sec: 20.0,
            burst: 40,
        },
        admin: RateLimit {
            rate_per_sec: 200.0,
            burst: 400,
        },
    };

    /// Every role unlimited (benchmarks and tests that measure something else).
    pub const UNLIMITED: RateLimitConfig = RateLimitConfig {
        adapter: RateLimit::UNLIMITED,
        agent: RateLimit::UNLIMITED,
        head: RateLimit::UNLIMITED,
        service: RateLimit::UNLIMITED,
        manager: RateLimit::UNLIMITED,
        auditor: RateLimit::UNLIMITED,
        admin: RateLimit::UNLIMITED,
    };

    /// The default limit of a role; the services' own role is never limited.
    pub fn for_role(&self, role: Role) -> RateLimit {
        match role {
            Role::Adapter => self.adapter,
            Role::Agent => self.agent,
            Role::Head => self.head,
            Role::Service => self.service,
            Role::Manager => self.manager,
            Role::Auditor => self.auditor,
            Role::Admin => self.admin,
            Role::System => RateLimit::UNLIMITED,
        }
    }

    /// Reads and checks the `[rate_limits]` table of a configuration file (absent: the
    /// built-in limits of [`RateLimitConfig::BUILT_IN`]).
    pub fn from_config(file: &crate::config::ConfigFile) -> Result<Self, crate::ServiceError> {
        let config: Self = file.section("rate_limits")?;
        config
            .validate()
            .map_err(|reason| crate::ServiceError::Config {
                path: file.path.as_ref().map_or_else(
                    || "<defaults>".to_owned(),
                    |path| path.display().to_string(),
                ),
                reason,
            })?;
        Ok(config)
    }

    /// Checks every role's limit; the error names the key.
    pub fn validate(&self) -> Result<(), String> {
        for role in Role::ALL {
            if *role != Role::System {
                self.for_role(*role)
                    .validate(&format!("[rate_limits.{role}]"))?;
            }
        }
        Ok(())
    }
}

/// A principal's own limit from its `[[principal]]` entry; what it leaves out comes from the
/// role's default.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct RateLimitOverride {
    pub rate_per_sec: Option<f64>,
    pub burst: Option<u32>,
}

impl RateLimitOverride {
    /// The effective limit over a role default. A principal that sets only its rate gets the
    /// automatic burst (one second's worth) rather than the role's burst.
    pub fn over(&self, default: RateLimit) -> RateLimit {
        match (self.rate_per_sec, self.burst) {
            (None, None) => default,
            (Some(rate_per_sec), burst) => RateLimit::new(rate_per_sec, burst.unwrap_or(0)),
            (None, Some(burst)) => RateLimit::new(default.rate_per_sec, burst),
        }
    }

    /// Checks the values; the error names the entry.
    pub fn validate(&self, at: &str) -> Result<(), String> {
        if let Some(rate_per_sec) = self.rate_per_sec {
            RateLimit::new(rate_per_sec, 0).validate(at)?;
        }
        Ok(())
    }
}

/// Why a request was refused: whose limit, which limit, and when a retry may pass.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    /// The caller, as named in the message (`principal web-form`, `nats channel web`).
    pub caller: String,
    pub limit: RateLimit,
    pub retry_after: Duration,
}

impl Refusal {
    /// RESOURCE_EXHAUSTED naming the caller, the limit and the wait, with the wait in
    /// milliseconds also in the metadata `cloop-retry-after-ms`.
    pub fn to_status(&self) -> tonic::Status {
        let retry_ms = self.retry_after_ms();
        let mut status = status_from(Failure::RateLimited(format!(
            "rate limit of {} exceeded ({}): retry in {retry_ms} ms",
            self.caller,
            self.limit.describe()
        )));
        if let Ok(value) = retry_ms.to_string().parse() {
            status
                .metadata_mut()
                .insert(RETRY_AFTER_METADATA_KEY, value);
        }
        status
    }

    /// The wait before a retry may pass, rounded up to whole milliseconds.
    pub fn retry_after_ms(&self) -> u64 {
        let micros = self.retry_after.as_micros();
        u64::try_from(micros.div_ceil(1_000)).unwrap_or(u64::MAX)
    }
}

/// One caller's bucket.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
    limit: RateLimit,
}

/// The buckets of every caller of one service process.
#[derive(Debug)]
pub struct RateLimiter {
    shards: Vec<Mutex<HashMap<String, Bucket>>>,
    refused: OnceLock<IntCounterVec>,
}

impl Default for RateLimiter {
    fn default() -> Self {
        Self::new()
    }
}

impl RateLimiter {
    pub fn new() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            refused: OnceLock::new(),
        }
    }

    /// Registers the counter `name{caller}` of refused requests per caller in `registry` (the
    /// registry's prefix, if any, comes in front of `name`). A second call is ignored.
    pub fn register_metrics(
        &self,
        registry: &Registry,
        name: &str,
    ) -> Result<(), prometheus::Error> {
        if self.refused.get().is_some() {
            return Ok(());
        }
        let counter = IntCounterVec::new(
            Opts::new(
                name,
                "Requests refused with RESOURCE_EXHAUSTED because their caller was over its rate limit.",
            ),
            &["caller"],
        )?;
        registry.register(Box::new(counter.clone()))?;
        let _ = self.refused.set(counter);
        Ok(())
    }

    /// Takes one token from `caller`'s bucket now, or refuses.
    pub fn check(&self, caller: &str, limit: RateLimit) -> Result<(), Refusal> {
        self.check_at(caller, limit, Instant::now())
    }

    /// Takes one token from `caller`'s bucket at `now`, or refuses. A bucket starts full; a
    /// changed limit starts a fresh full bucket. Instants before the bucket's last update
    /// count as no time passed.
    pub fn check_at(&self, caller: &str, limit: RateLimit, now: Instant) -> Result<(), Refusal> {
        self.take_at(caller, limit, now).inspect_err(|refusal| {
            self.count_refusal(&refusal.caller);
        })
    }

    /// Counts one refusal of `caller` in the metric (for a caller that waited with
    /// [`RateLimiter::take_at`] and finally gave up).
    pub fn count_refusal(&self, caller: &str) {
        if let Some(counter) = self.refused.get() {
            counter.with_label_values(&[caller]).inc();
        }
    }

    /// [`RateLimiter::check_at`] without counting a refusal: for callers that wait for their
    /// token instead of giving up.
    pub fn take_at(&self, caller: &str, limit: RateLimit, now: Instant) -> Result<(), Refusal> {
        if limit.is_unlimited() {
            return Ok(());
        }
        let capacity = limit.capacity();
        let shard = &self.shards[shard_of(caller)];
        let outcome = {
            // A panic while holding the lock cannot leave a bucket half-written (each update
            // is a plain copy), so a poisoned shard is still usable.
            let mut buckets = shard
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let bucket = buckets.entry(caller.to_owned()).or_insert(Bucket {
                tokens: capacity,
                updated: now,
                limit,
            });
            if bucket.limit != limit {
                *bucket = Bucket {
                    tokens: capacity,
                    updated: now,
                    limit,
                };
            }
            let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
            bucket.tokens = (bucket.tokens + elapsed * limit.rate_per_sec).min(capacity);
            bucket.updated = bucket.updated.max(now);
            if bucket.tokens >= 1.0 {
                bucket.tokens -= 1.0;
                Ok(())
            } else {
                let missing = 1.0 - bucket.tokens;
                Err(Duration::from_secs_f64(missing / limit.rate_per_sec))
            }
        };
        outcome.map_err(|retry_after| Refusal {
            caller: caller.to_owned(),
            limit,
            retry_after,
        })
    }

    /// How many callers have a bucket (bounded by the tokens file and the channels).
    pub fn callers(&self) -> usize {
        self.shards
            .iter()
            .map(|shard| {
                shard
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .len()
            })
            .sum()
    }
}

fn shard_of(caller: &str) -> usize {
    let mut hasher = DefaultHasher::new();
    caller.hash(&mut hasher);
    (hasher.finish() % SHARDS as u64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(start: Instant, millis: u64) -> Instant {
        start + Duration::from_millis(millis)
    }

    #[test]
    fn a_full_bucket_lets_the_burst_through_then_refuses() {
        let limiter = RateLimiter::new();
        let limit = RateLimit::new(10.0, 5);
        let start = Instant::now();
        for _ in 0..5 {
            limiter
                .check_at("principal a", limit, start)
                .expect("within the burst");
        }
        let refusal = limiter
            .check_at("principal a", limit, start)
            .expect_err("the sixth at once is over the burst");
        assert_eq!(refusal.retry_after_ms(), 100, "one token takes 1/10 s");
        let status = refusal.to_status();
        assert_eq!(status.code(), tonic::Code::ResourceExhausted);
        assert!(status.message().contains("principal a"), "{status:?}");
        assert!(
            status.message().contains("10 requests per second, burst 5"),
            "{status:?}"
        );
        assert_eq!(
            status
                .metadata()
                .get(RETRY_AFTER_METADATA_KEY)
                .and_then(|value| value.to_str().ok()),
            Some("100")
        );
    }

    #[test]
    fn tokens_come_back_at_the_rate_and_never_above_the_burst() {
        let limiter = RateLimiter::new();
        let limit = RateLimit::new(10.0, 2);
        let start = Instant::now();
        limiter.check_at("c", limit, start).expect("first");
        limiter.check_at("c", limit, start).expect("second");
        assert!(limiter.check_at("c", limit, at(start, 50)).is_err());
        limiter
            .check_at("c", limit, at(start, 100))
            .expect("one token after 100 ms");
        assert!(limiter.check_at("c", limit, at(start, 110)).is_err());
        // A long pause refills to the burst, not beyond.
        let later = at(start, 60_000);
        limiter.check_at("c", limit, later).expect("refilled");
        limiter.check_at("c", limit, later).expect("refilled");
        assert!(limiter.check_at("c", limit, later).is_err());
    }

    #[test]
    fn over_a_long_run_the_accepted_count_follows_the_rate() {
        let limiter = RateLimiter::new();
        let limit = RateLimit::new(20.0, 20);
        let start = Instant::now();
        // 200 requests per second for 10 s: ten times the quota.
        let mut accepted = 0;
        for index in 0..2_000u64 {
            if limiter
                .check_at("flood", limit, at(start, index * 5))
                .is_ok()
            {
                accepted += 1;
            }
        }
        // The burst, then 20 per second for the remaining 9.995 s.
        assert!((218..=221).contains(&accepted), "{accepted}");
    }

    #[test]
    fn callers_have_separate_buckets_and_unlimited_means_unlimited() {
        let limiter = RateLimiter::new();
        let limit = RateLimit::new(1.0, 1);
        let start = Instant::now();
        limiter.check_at("a", limit, start).expect("a's first");
        assert!(limiter.check_at("a", limit, start).is_err());
        limiter
            .check_at("b", limit, start)
            .expect("b has its own bucket");
        for _ in 0..10_000 {
            limiter
                .check_at("free", RateLimit::UNLIMITED, start)
                .expect("unlimited");
        }
        assert_eq!(limiter.callers(), 2, "unlimited callers need no bucket");
    }

    #[test]
    fn a_changed_limit_starts_a_fresh_bucket_and_time_going_back_is_no_time() {
        let limiter = RateLimiter::new();
        let start = at(Instant::now(), 1_000);
        let small = RateLimit::new(1.0, 1);
        limiter.check_at("c", small, start).expect("first");
        assert!(limiter
            .check_at("c", small, start - Duration::from_millis(500))
            .is_err());
        let larger = RateLimit::new(1.0, 3);
        for _ in 0..3 {
            limiter.check_at("c", larger, start).expect("new burst");
        }
        assert!(limiter.check_at("c", larger, start).is_err());
    }

    #[test]
    fn the_refused_counter_counts_per_caller() {
        let limiter = RateLimiter::new();
        let registry = Registry::new();
        limiter
            .register_metrics(&registry, "rate_limited_total")
            .expect("register");
        limiter
            .register_metrics(&registry, "rate_limited_total")
            .expect("second call ignored");
        let limit = RateLimit::new(1.0, 1);
        let start = Instant::now();
        for _ in 0..4 {
            let _ = limiter.check_at("principal x", limit, start);
        }
        let text = crate::metrics::render(&registry);
        assert!(
            text.contains("rate_limited_total{caller=\"principal x\"} 3"),
            "{text}"
        );
    }

    #[test]
    fn role_defaults_and_principal_overrides_combine() {
        let config: RateLimitConfig = toml::from_str(
            "[adapter]\nrate_per_sec = 200\nburst = 400\n[agent]\nrate_per_sec = 2.5\n",
        )
        .expect("valid table");
        assert_eq!(config.for_role(Role::Adapter), RateLimit::new(200.0, 400));
        assert_eq!(config.for_role(Role::Agent), RateLimit::new(2.5, 0));
        assert_eq!(
            config.for_role(Role::Manager),
            RateLimitConfig::BUILT_IN.manager,
            "a role the table leaves out keeps its built-in limit"
        );
        assert!(config.for_role(Role::System).is_unlimited());
        assert_eq!(config.validate(), Ok(()));

        let adapter = config.for_role(Role::Adapter);
        assert_eq!(RateLimitOverride::default().over(adapter), adapter);
        let own_rate = RateLimitOverride {
            rate_per_sec: Some(10.0),
            burst: None,
        };
        assert_eq!(own_rate.over(adapter), RateLimit::new(10.0, 0));
        assert_eq!(own_rate.over(adapter).capacity(), 10.0);
        let own_burst = RateLimitOverride {
            rate_per_sec: None,
            burst: Some(7),
        };
        assert_eq!(own_burst.over(adapter), RateLimit::new(200.0, 7));
        let unlimited = RateLimitOverride {
            rate_per_sec: Some(0.0),
            burst: None,
        };
        assert!(unlimited.over(adapter).is_unlimited());

        let negative: RateLimitConfig =
            toml::from_str("[head]\nrate_per_sec = -1\n").expect("parses");
        let error = negative.validate().expect_err("negative rate");
        assert!(error.contains("[rate_limits.head]"), "{error}");
        assert!(toml::from_str::<RateLimitConfig>("[adapter]\nrate = 1\n").is_err());
    }

    #[test]
    fn the_table_is_read_from_the_configuration_file() {
        let file = crate::config::ConfigFile::from_toml_str(
            "[rate_limits.adapter]\nrate_per_sec = 50\nburst = 100\n",
            None,
        )
        .expect("the domain accepts the section");
        let config = RateLimitConfig::from_config(&file).expect("valid");
        assert_eq!(config.adapter, RateLimit::new(50.0, 100));
        let defaults =
            RateLimitConfig::from_config(&crate::config::ConfigFile::defaults()).expect("defaults");
        assert_eq!(defaults, RateLimitConfig::BUILT_IN);
        for role in Role::ALL {
            assert_eq!(
                defaults.for_role(*role).is_unlimited(),
                *role == Role::System,
                "without configuration only the services' own role is unlimited ({role})"
            );
        }
        let only_burst = crate::config::ConfigFile::from_toml_str(
            "[rate_limits.agent]\nburst = 7\n[rate_limits.admin]\nrate_per_sec = 0\n",
            None,
        )
        .expect("parses");
        let config = RateLimitConfig::from_config(&only_burst).expect("valid");
        assert_eq!(
            config.agent,
            RateLimit::new(RateLimitConfig::BUILT_IN.agent.rate_per_sec, 7),
            "a burst alone keeps the built-in rate"
        );
        assert!(config.admin.is_unlimited(), "0 turns a role's limit off");
        let bad = crate::config::ConfigFile::from_toml_str(
            "[rate_limits.adapter]\nrate_per_sec = -5\n",
            Some(std::path::Path::new("c.toml")),
        )
        .expect("parses");
        let error = RateLimitConfig::from_config(&bad).expect_err("negative");
        assert!(error.to_string().contains("c.toml"), "{error}");
        assert!(error.to_string().contains("rate_limits.adapter"), "{error}");
    }
}
