//! Tests against the machine's services (PostgreSQL, Redis): their URLs come
//! from the environment. Without one, the tests that need it print that they
//! were skipped and pass; with `AXUM_USERS_REQUIRE_SERVICES=1` (set by
//! `.ci/run`) a missing or unreachable service fails them instead.
//!
//! ```ignore
//! let Some(url) = service_url("AXUM_USERS_TEST_REDIS_URL", "Redis") else { return };
//! let client = connect(&url).await.unwrap_or_else(|e| unreachable_service("Redis", &e));
//! ```

/// Set to `1` (or `true`) to fail, not skip, when a service is missing.
pub const REQUIRE_SERVICES: &str = "AXUM_USERS_REQUIRE_SERVICES";

/// Whether missing services fail the tests ([`REQUIRE_SERVICES`] is set).
pub fn services_required() -> bool {
    matches!(
        std::env::var(REQUIRE_SERVICES).as_deref().map(str::trim),
        Ok("1" | "true" | "yes")
    )
}

/// The URL of `service` (a name for messages, such as `"PostgreSQL"`) from the
/// environment variable `var`: `None` after printing that the test was skipped
/// when it is unset or empty; a panic instead when services are required.
pub fn service_url(var: &str, service: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.trim().is_empty() => Some(url.trim().to_owned()),
        _ if services_required() => panic!(
            "{service} is required ({REQUIRE_SERVICES} is set) but {var} is not: \
             set {var} to the service's URL"
        ),
        _ => {
            eprintln!("SKIPPED: the {service} tests need {var} (not set)");
            None
        }
    }
}

/// A test that cannot run here for `reason` (a tool or setup it needs is
/// missing, or the service is not of a kind it can use): prints
/// `SKIPPED: reason` so that the caller returns early; a panic instead when
/// services are required, so that CI never passes a test that did not run.
///
/// ```ignore
/// let Some(python) = validator else { return skip("no validator") };
/// ```
#[track_caller]
pub fn skip(reason: &str) {
    if services_required() {
        panic!("{reason}; {REQUIRE_SERVICES} is set, so the test fails instead of skipping");
    }
    eprintln!("SKIPPED: {reason}");
}

/// Fails the test because the service whose URL was given cannot be reached
/// (a URL that is set means the service is wanted, required or not).
pub fn unreachable_service(service: &str, error: &dyn std::fmt::Display) -> ! {
    panic!("{service} is configured but cannot be reached: {error}")
}
