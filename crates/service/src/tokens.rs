//! The tokens file of `api.md` (TOML, SHA-256 of each token), the principals it names with
//! their rate limits, and the gRPC interceptor that turns `authorization: Bearer <token>` into a
//! [`Principal`] in the request's extensions and refuses callers over their rate limit.

use crate::error::ServiceError;
use crate::ratelimit::{RateLimit, RateLimitConfig, RateLimitOverride, RateLimiter, Refusal};
use domain::types::{Actor, Role};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use tonic::{Request, Status};

/// Someone the tokens file lets in: a name, a role and, for agents and heads, a department.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub name: String,
    pub role: Role,
    pub department: Option<String>,
    /// The channels an adapter may submit on; `None`: every configured channel.
    pub channels: Option<Vec<String>>,
}

impl Principal {
    /// The actor recorded on events this principal causes.
    pub fn actor(&self) -> Actor {
        Actor {
            principal: self.name.clone(),
            role: self.role,
            department: self.department.clone(),
        }
    }

    /// Refuses with PERMISSION_DENIED a submission on a channel this principal is not bound
    /// to (the tokens file's `channels`), before anything about the submission is looked up:
    /// an adapter cannot replay another channel's idempotency keys to learn its tickets.
    pub fn may_submit_on(&self, channel: &str) -> Result<(), Status> {
        match &self.channels {
            Some(channels) if !channels.iter().any(|allowed| allowed == channel.trim()) => {
                Err(Status::permission_denied(format!(
                    "{} may not submit on channel {:?} (its channels: {})",
                    self.name,
                    channel.trim(),
                    channels.join(", ")
                )))
            }
            _ => Ok(()),
        }
    }

    /// Refuses with PERMISSION_DENIED unless the principal has one of `roles` or is an admin.
    pub fn require_role(&self, roles: &[Role], what: &str) -> Result<(), Status> {
        if self.role == Role::Admin || roles.contains(&self.role) {
            Ok(())
        } else {
            Err(Status::permission_denied(format!(
                "role {} may not call {what}",
                self.role
            )))
        }
    }
}

/// The authenticated principal of a request, put there by [`Authenticator`]; UNAUTHENTICATED
/// when there is none (a service wired without the interceptor).
pub fn principal_of<T>(request: &Request<T>) -> Result<&Principal, Status> {
    request
        .extensions()
        .get::<Principal>()
        .ok_or_else(|| Status::unauthenticated("missing bearer token"))
}

/// One `[[principal]]` table of the tokens file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PrincipalEntry {
    name: String,
    role: String,
    #[serde(default)]
    department: Option<String>,
    token_sha256: String,
    /// The channels an adapter may submit on (`Intake.Submit`, `SubmitStream`); every channel
    /// when absent.
    #[serde(default)]
    channels: Option<Vec<String>>,
    /// This principal's own rate limit (requests per second, 0 for unlimited); the role's
    /// `[rate_limits]` default when absent.
    #[serde(default)]
    rate_per_sec: Option<f64>,
    /// This principal's own burst; see [`RateLimit`].
    #[serde(default)]
    burst: Option<u32>,
}

/// The whole tokens file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TokensFile {
    #[serde(default)]
    principal: Vec<PrincipalEntry>,
}

/// The hex SHA-256 of a token, as the tokens file stores it.
pub fn token_sha256(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Every principal of a tokens file, looked up by the SHA-256 of a presented token.
#[derive(Debug, Default)]
pub struct TokenRegistry {
    by_hash: HashMap<String, Principal>,
    /// The `rate_per_sec` and `burst` of the entries that set them, by principal name.
    rate_overrides: HashMap<String, RateLimitOverride>,
    /// The `[rate_limits]` defaults per role of the configuration file.
    role_rate_limits: RateLimitConfig,
}

impl TokenRegistry {
    /// A registry that lets nobody in (no tokens file configured).
    pub fn empty() -> Self {
        Self::default()
    }

    /// Reads and checks a tokens file.
    pub fn load(path: &Path) -> Result<Self, ServiceError> {
        let text = std::fs::read_to_string(path).map_err(|source| ServiceError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_toml_str(&text).map_err(|reason| ServiceError::Tokens {
            path: path.display().to_string(),
            reason,
        })
    }

    /// Parses and checks the text of a tokens file; the error says what is wrong and where.
    pub fn from_toml_str(text: &str) -> Result<Self, String> {
        let file: TokensFile = toml::from_str(text).map_err(|error| error.message().to_owned())?;
        let mut by_hash = HashMap::new();
        let mut rate_overrides = HashMap::new();
        let mut names = std::collections::HashSet::new();
        for (index, entry) in file.principal.into_iter().enumerate() {
            let at = format!("principal[{index}]");
            if entry.name.trim().is_empty() {
                return Err(format!("{at}.name is empty"));
            }
            if !names.insert(entry.name.clone()) {
                return Err(format!("{at}.name {:?} appears twice", entry.name));
            }
            let role =
                Role::parse("role", &entry.role).map_err(|error| format!("{at}.role: {error}"))?;
            if role == Role::System {
                return Err(format!("{at}.role: system is reserved for the services"));
            }
            let department = entry
                .department
                .map(|department| department.trim().to_owned())
                .filter(|department| !department.is_empty());
            match (role, &department) {
                (Role::Agent | Role::Head, None) => {
                    return Err(format!("{at}.department is required for role {role}"));
                }
                (Role::Agent | Role::Head, Some(_)) | (_, None) => {}
                (_, Some(_)) => {
                    return Err(format!(
                        "{at}.department is only allowed for agent and head"
                    ));
                }
            }
            let channels = match entry.channels {
                None => None,
                Some(_) if role != Role::Adapter => {
                    return Err(format!("{at}.channels is only allowed for adapter"));
                }
                Some(channels) => {
                    let channels: Vec<String> = channels
                        .iter()
                        .map(|channel| channel.trim().to_owned())
                        .collect();
                    if channels.is_empty() || channels.iter().any(String::is_empty) {
                        return Err(format!(
                            "{at}.channels must name at least one channel, none empty"
                        ));
                    }
                    Some(channels)
                }
            };
            let rate_override = RateLimitOverride {
                rate_per_sec: entry.rate_per_sec,
                burst: entry.burst,
            };
            rate_override.validate(&at)?;
            if rate_override != RateLimitOverride::default() {
                rate_overrides.insert(entry.name.clone(), rate_override);
            }
            let hash = entry.token_sha256.trim().to_ascii_lowercase();
            if hash.len() != 64 || !hash.bytes().all(|byte| byte.is_ascii_hexdigit()) {
                return Err(format!("{at}.token_sha256 is not 64 hex digits"));
            }
            let principal = Principal {
                name: entry.name,
                role,
                department,
                channels,
            };
            if by_hash.insert(hash, principal).is_some() {
                return Err(format!("{at}.token_sha256 is used by another principal"));
            }
        }
        Ok(Self {
            by_hash,
            rate_overrides,
            role_rate_limits: RateLimitConfig::default(),
        })
    }

    /// The same registry with the `[rate_limits]` defaults per role of the configuration.
    pub fn with_rate_limits(mut self, role_defaults: RateLimitConfig) -> Self {
        self.role_rate_limits = role_defaults;
        self
    }

    /// The rate limit of a principal: its own `rate_per_sec`/`burst`, else its role's default.
    pub fn rate_limit_of(&self, principal: &Principal) -> RateLimit {
        let default = self.role_rate_limits.for_role(principal.role);
        self.rate_overrides
            .get(&principal.name)
            .map_or(default, |own| own.over(default))
    }

    /// The default rate limit of a role, for callers without a token (NATS requests).
    pub fn role_rate_limit(&self, role: Role) -> RateLimit {
        self.role_rate_limits.for_role(role)
    }

    /// The principal a token belongs to.
    pub fn authenticate(&self, token: &str) -> Option<&Principal> {
        self.by_hash.get(&token_sha256(token))
    }

    /// Every principal of the file, in no particular order.
    pub fn principals(&self) -> impl Iterator<Item = &Principal> {
        self.by_hash.values()
    }

    /// How many principals the file names.
    pub fn len(&self) -> usize {
        self.by_hash.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }
}

/// The gRPC interceptor: reads `authorization: Bearer <token>`, puts the [`Principal`] in the
/// request extensions, refuses with UNAUTHENTICATED when the token is missing or unknown and
/// with RESOURCE_EXHAUSTED when the principal is over its rate limit. Clones share one set of
/// rate-limit buckets.
#[derive(Debug, Clone)]
pub struct Authenticator {
    registry: Arc<TokenRegistry>,
    limiter: Arc<RateLimiter>,
    /// A call without an `authorization` header passes with no [`Principal`] (every RPC that
    /// needs one then refuses with UNAUTHENTICATED); a header that is there is checked as
    /// always. For a service one of whose RPCs answers the public too.
    anonymous_allowed: bool,
}

impl Authenticator {
    pub fn new(registry: Arc<TokenRegistry>) -> Self {
        Self {
            registry,
            limiter: Arc::new(RateLimiter::new()),
            anonymous_allowed: false,
        }
    }

    /// The same authenticator (same tokens, same rate-limit buckets) letting calls without an
    /// `authorization` header through with no principal: the service decides, per RPC, what an
    /// anonymous caller gets (`service::tokens::principal_of` refuses it with UNAUTHENTICATED).
    pub fn allowing_anonymous(&self) -> Self {
        Self {
            anonymous_allowed: true,
            ..self.clone()
        }
    }

    /// The tokens file behind this authenticator.
    pub fn registry(&self) -> &Arc<TokenRegistry> {
        &self.registry
    }

    /// The rate-limit buckets, shared with the service's other entry points (intake's NATS
    /// requests) and its metrics.
    pub fn limiter(&self) -> &Arc<RateLimiter> {
        &self.limiter
    }

    /// Takes one request from `principal`'s rate limit, or refuses with the limit named.
    pub fn check_rate(&self, principal: &Principal) -> Result<(), Refusal> {
        self.limiter.check(
            &format!("principal {}", principal.name),
            self.registry.rate_limit_of(principal),
        )
    }

    /// Takes one request from `principal`'s rate limit, waiting for the token as long as the
    /// whole wait stays within `max_wait`; then refuses (and only then counts a refusal). For
    /// work the caller paces rather than drops, such as the items of a bulk import.
    pub async fn wait_for_rate(
        &self,
        principal: &Principal,
        max_wait: std::time::Duration,
    ) -> Result<(), Refusal> {
        let caller = format!("principal {}", principal.name);
        let limit = self.registry.rate_limit_of(principal);
        let started = std::time::Instant::now();
        loop {
            match self
                .limiter
                .take_at(&caller, limit, std::time::Instant::now())
            {
                Ok(()) => return Ok(()),
                Err(refusal) if started.elapsed() + refusal.retry_after <= max_wait => {
                    tokio::time::sleep(refusal.retry_after).await;
                }
                Err(refusal) => {
                    self.limiter.count_refusal(&caller);
                    return Err(refusal);
                }
            }
        }
    }

    /// Authenticates the metadata of one call.
    pub fn authenticate(
        &self,
        metadata: &tonic::metadata::MetadataMap,
    ) -> Result<Principal, Status> {
        let header = metadata
            .get("authorization")
            .ok_or_else(|| Status::unauthenticated("missing authorization: Bearer <token>"))?;
        let text = header
            .to_str()
            .map_err(|_| Status::unauthenticated("authorization header is not text"))?;
        let token = text
            .strip_prefix("Bearer ")
            .or_else(|| text.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|token| !token.is_empty())
            .ok_or_else(|| Status::unauthenticated("authorization is not \"Bearer <token>\""))?;
        self.registry
            .authenticate(token)
            .cloned()
            .ok_or_else(|| Status::unauthenticated("unknown token"))
    }
}

impl tonic::service::Interceptor for Authenticator {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        if self.anonymous_allowed && request.metadata().get("authorization").is_none() {
            return Ok(request);
        }
        let principal = self.authenticate(request.metadata())?;
        self.check_rate(&principal)
            .map_err(|refusal| refusal.to_status())?;
        request.extensions_mut().insert(principal);
        Ok(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::service::Interceptor;

    fn registry() -> TokenRegistry {
        let text = format!(
            r#"
            [[principal]]
            name = "web-form"
            role = "adapter"
            token_sha256 = "{}"

            [[principal]]
            name = "li.si"
            role = "agent"
            department = "logistics"
            token_sha256 = "{}"
            "#,
            token_sha256("adapter-secret"),
            token_sha256("agent-secret"),
        );
        TokenRegistry::from_toml_str(&text).expect("valid tokens file")
    }

    fn request_with(header: Option<&str>) -> Request<()> {
        let mut request = Request::new(());
        if let Some(value) = header {
            request
                .metadata_mut()
                .insert("authorization", value.parse().expect("ascii header"));
        }
        request
    }

    /// What `authenticator` answers a request bearing `token`.
    fn bearing(authenticator: &mut Authenticator, token: &str) -> Result<Request<()>, Status> {
        authenticator.call(request_with(Some(&format!("Bearer {token}"))))
    }

    #[test]
    fn a_known_token_becomes_its_principal() {
        let mut authenticator = Authenticator::new(Arc::new(registry()));
        let request = bearing(&mut authenticator, "agent-secret").expect("known token");
        let principal = principal_of(&request).expect("principal set");
        assert_eq!(principal.name, "li.si");
        assert_eq!(principal.role, Role::Agent);
        assert_eq!(principal.department.as_deref(), Some("logistics"));
        assert_eq!(principal.actor().principal, "li.si");
    }

    #[test]
    fn missing_malformed_and_unknown_tokens_are_unauthenticated() {
        let mut authenticator = Authenticator::new(Arc::new(registry()));
        for header in [
            None,
            Some("Basic abc"),
            Some("Bearer "),
            Some("Bearer nope"),
        ] {
            let status = authenticator
                .call(request_with(header))
                .expect_err("refused");
            assert_eq!(status.code(), tonic::Code::Unauthenticated, "{header:?}");
        }
    }

    #[test]
    fn allowing_anonymous_passes_a_call_without_a_header_only() {
        let mut authenticator = Authenticator::new(Arc::new(registry())).allowing_anonymous();
        let passed = authenticator
            .call(request_with(None))
            .expect("no header: passes");
        assert!(
            principal_of(&passed).is_err(),
            "no principal for an anonymous call"
        );
        // A header that is there is checked as always: a bad one is not taken as anonymous.
        for header in ["Basic abc", "Bearer ", "Bearer nope"] {
            let status = authenticator
                .call(request_with(Some(header)))
                .expect_err("refused");
            assert_eq!(status.code(), tonic::Code::Unauthenticated, "{header:?}");
        }
        let known = authenticator
            .call(request_with(Some("Bearer adapter-secret")))
            .expect("a known token");
        assert_eq!(principal_of(&known).expect("principal").name, "web-form");
    }

    #[test]
    fn an_adapter_bound_to_channels_submits_on_those_only() {
        let text = format!(
            "[[principal]]\nname = \"app-sdk\"\nrole = \"adapter\"\nchannels = [\"app\", \" wechat \"]\n\
             token_sha256 = \"{}\"\n",
            token_sha256("app-secret")
        );
        let bound = TokenRegistry::from_toml_str(&text).expect("valid tokens file");
        let app = bound.authenticate("app-secret").expect("app-sdk");
        assert!(app.may_submit_on("app").is_ok());
        assert!(app.may_submit_on(" wechat").is_ok());
        let refused = app.may_submit_on("web").expect_err("another channel");
        assert_eq!(refused.code(), tonic::Code::PermissionDenied);
        assert_eq!(
            refused.message(),
            "app-sdk may not submit on channel \"web\" (its channels: app, wechat)"
        );
        // Unbound adapters submit on every channel.
        let unbound = registry();
        let web = unbound.authenticate("adapter-secret").expect("web-form");
        assert!(web.may_submit_on("anything").is_ok());
        for (entry, reason) in [
            (
                "role = \"agent\"\ndepartment = \"x\"\nchannels = [\"web\"]",
                "channels is only allowed for adapter",
            ),
            ("role = \"adapter\"\nchannels = []", "at least one channel"),
            ("role = \"adapter\"\nchannels = [\" \"]", "none empty"),
        ] {
            let text = format!(
                "[[principal]]\nname = \"x\"\n{entry}\ntoken_sha256 = \"{}\"\n",
                token_sha256("x")
            );
            let error = TokenRegistry::from_toml_str(&text).expect_err(entry);
            assert!(error.contains("principal[0].channels"), "{error}");
            assert!(error.contains(reason), "{error}");
        }
    }

    #[test]
    fn roles_are_enforced_with_permission_denied() {
        let registry = registry();
        let agent = registry.authenticate("agent-secret").expect("agent");
        let status = agent
            .require_role(&[Role::Adapter], "Intake.Submit")
            .expect_err("agent may not submit");
        assert_eq!(status.code(), tonic::Code::PermissionDenied);
        let adapter = registry.authenticate("adapter-secret").expect("adapter");
        assert!(adapter
            .require_role(&[Role::Adapter], "Intake.Submit")
            .is_ok());
    }

    #[test]
    fn a_principal_over_its_rate_limit_is_refused_naming_the_limit() {
        let text = format!(
            "[[principal]]\nname = \"slow-form\"\nrole = \"adapter\"\nrate_per_sec = 1\nburst = 2\ntoken_sha256 = \"{}\"\n\n\
             [[principal]]\nname = \"web-form\"\nrole = \"adapter\"\ntoken_sha256 = \"{}\"\n\n\
             [[principal]]\nname = \"li.si\"\nrole = \"agent\"\ndepartment = \"logistics\"\ntoken_sha256 = \"{}\"\n",
            token_sha256("slow-secret"),
            token_sha256("adapter-secret"),
            token_sha256("agent-secret"),
        );
        let defaults: RateLimitConfig = toml::from_str(
            "[adapter]\nrate_per_sec = 1000\n[agent]\nrate_per_sec = 1\nburst = 1\n",
        )
        .expect("valid defaults");
        let registry = TokenRegistry::from_toml_str(&text)
            .expect("valid tokens file")
            .with_rate_limits(defaults);
        let slow = registry.authenticate("slow-secret").expect("slow").clone();
        assert_eq!(registry.rate_limit_of(&slow), RateLimit::new(1.0, 2));
        let web = registry
            .authenticate("adapter-secret")
            .expect("web")
            .clone();
        assert_eq!(registry.rate_limit_of(&web), RateLimit::new(1000.0, 0));

        let mut authenticator = Authenticator::new(Arc::new(registry));
        for _ in 0..2 {
            bearing(&mut authenticator, "slow-secret").expect("within the burst");
        }
        let status = bearing(&mut authenticator, "slow-secret").expect_err("over the burst");
        assert_eq!(status.code(), tonic::Code::ResourceExhausted);
        assert!(
            status.message().contains("principal slow-form"),
            "{status:?}"
        );
        assert!(
            status.message().contains("1 requests per second, burst 2"),
            "{status:?}"
        );
        // Another principal of the same role has its own bucket, and the agent its role's.
        bearing(&mut authenticator, "adapter-secret").expect("another adapter is not affected");
        bearing(&mut authenticator, "agent-secret").expect("the agent's first");
        let status = bearing(&mut authenticator, "agent-secret")
            .expect_err("the agent role's default is 1 per second");
        assert_eq!(status.code(), tonic::Code::ResourceExhausted);
        // A clone shares the buckets.
        let mut clone = authenticator.clone();
        assert!(bearing(&mut clone, "slow-secret").is_err());
    }

    #[tokio::test]
    async fn a_paced_caller_waits_for_its_token_and_only_a_final_refusal_counts() {
        let text = format!(
            "[[principal]]\nname = \"bulk\"\nrole = \"adapter\"\nrate_per_sec = 20\nburst = 1\ntoken_sha256 = \"{}\"\n",
            token_sha256("bulk-secret"),
        );
        let registry = TokenRegistry::from_toml_str(&text).expect("valid tokens file");
        let principal = registry.authenticate("bulk-secret").expect("bulk").clone();
        let authenticator = Authenticator::new(Arc::new(registry));
        let metrics = prometheus::Registry::new();
        authenticator
            .limiter()
            .register_metrics(&metrics, "rate_limited_total")
            .expect("register");
        let started = std::time::Instant::now();
        for _ in 0..3 {
            authenticator
                .wait_for_rate(&principal, std::time::Duration::from_secs(1))
                .await
                .expect("paced, not refused");
        }
        assert!(
            started.elapsed() >= std::time::Duration::from_millis(90),
            "two tokens at 20 per second take about 100 ms, took {:?}",
            started.elapsed()
        );
        let refusal = authenticator
            .wait_for_rate(&principal, std::time::Duration::from_millis(1))
            .await
            .expect_err("a wait longer than allowed is refused");
        assert!(refusal.to_status().message().contains("principal bulk"));
        let text = crate::metrics::render(&metrics);
        assert!(
            text.contains("rate_limited_total{caller=\"principal bulk\"} 1"),
            "waits are not refusals, the final one is: {text}"
        );
    }

    #[test]
    fn bad_files_name_the_entry_and_the_problem() {
        let cases = [
            (
                "[[principal]]\nname = \"a\"\nrole = \"boss\"\ntoken_sha256 = \"00\"",
                "principal[0].role",
            ),
            (
                &format!(
                    "[[principal]]\nname = \"a\"\nrole = \"agent\"\ntoken_sha256 = \"{}\"",
                    "0".repeat(64)
                ),
                "principal[0].department",
            ),
            (
                "[[principal]]\nname = \"a\"\nrole = \"adapter\"\ntoken_sha256 = \"xyz\"",
                "principal[0].token_sha256",
            ),
            (
                "[[principal]]\nname = \"a\"\nrole = \"system\"\ntoken_sha256 = \"00\"",
                "principal[0].role",
            ),
            (
                &format!(
                    "[[principal]]\nname = \"a\"\nrole = \"adapter\"\nrate_per_sec = -2\ntoken_sha256 = \"{}\"",
                    "0".repeat(64)
                ),
                "principal[0].rate_per_sec",
            ),
        ];
        for (text, expected) in cases {
            let error = TokenRegistry::from_toml_str(text).expect_err("refused");
            assert!(error.contains(expected), "{error} should name {expected}");
        }
    }
}
