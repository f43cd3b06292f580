//! The `tracing` events a test's own code emits, captured: the audit trail
//! (`axum_users::audit`) and anything else, with their fields as text.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use tracing_subscriber::layer::SubscriberExt as _;

/// An event as captured: its target and fields (`message` included), each
/// rendered as text.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub target: String,
    pub fields: BTreeMap<String, String>,
}

/// A `tracing` layer that keeps every event.
#[derive(Clone, Default)]
pub struct Capture(Arc<Mutex<Vec<Recorded>>>);

struct FieldText<'a>(&'a mut BTreeMap<String, String>);

impl tracing::field::Visit for FieldText<'_> {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }

    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Capture {
    fn on_event(
        &self,
        event: &tracing::Event<'_>,
        _context: tracing_subscriber::layer::Context<'_, S>,
    ) {
        let mut fields = BTreeMap::new();
        event.record(&mut FieldText(&mut fields));
        self.0.lock().unwrap().push(Recorded {
            target: event.metadata().target().to_owned(),
            fields,
        });
    }
}

/// Keeps the capture in place for as long as it lives.
pub struct Capturing {
    _second: tracing::Dispatch,
    _guard: tracing::subscriber::DefaultGuard,
}

impl Capture {
    /// A capture of the events of this thread, until the returned guard
    /// drops: use it in a current-thread test (`#[tokio::test]`).
    pub fn start() -> (Capture, Capturing) {
        let capture = Capture::default();
        // With a single live dispatcher, tracing-core caches a callsite's
        // interest from the default of whichever thread first hits it:
        // another test's thread, without a subscriber, would make it "never"
        // for this one too. A second live dispatcher makes the cache ask
        // every live dispatcher.
        let second = tracing::Dispatch::new(tracing_subscriber::registry());
        let guard =
            tracing::subscriber::set_default(tracing_subscriber::registry().with(capture.clone()));
        (
            capture,
            Capturing {
                _second: second,
                _guard: guard,
            },
        )
    }

    /// Every event so far.
    pub fn all(&self) -> Vec<Recorded> {
        self.0.lock().unwrap().clone()
    }

    /// The audit events (`axum_users::audit`) named `name`.
    pub fn audit(&self, name: &str) -> Vec<Recorded> {
        self.all()
            .into_iter()
            .filter(|e| {
                e.target == "axum_users::audit"
                    && e.fields.get("event").map(String::as_str) == Some(name)
            })
            .collect()
    }
}
