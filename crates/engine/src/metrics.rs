//! The engine's own metrics, kept with the `prometheus-client` crate: executions started and
//! finished (by mode and status), their durations, webhook answers by status, open
//! connections, the grouped writer's queue, webhook calls waiting and the database pool.
//! `/metrics` encodes them together with the plugins' families (OpenMetrics text).
//!
//! The counters are process-wide: every part of the engine records into [`engine`].

use std::sync::atomic::AtomicU64;
use std::sync::LazyLock;

use node_api::{MetricFamily, MetricKind};
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// Labels of an execution that started.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ModeLabels {
    /// `webhook`, `trigger`, `manual`, ...
    pub mode: String,
}

/// Labels of an execution that ended.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EndLabels {
    /// How it started.
    pub mode: String,
    /// `success`, `error`, `canceled`.
    pub status: String,
}

/// Labels of a webhook answer.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AnswerLabels {
    /// The HTTP status code.
    pub status: String,
}

fn duration_histogram() -> Histogram {
    // 1 ms to about 65 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 17))
}

/// The engine's counters, gauges and histograms.
#[derive(Debug)]
pub struct EngineMetrics {
    /// Executions started.
    pub started: Family<ModeLabels, Counter>,
    /// Executions ended, by how.
    pub finished: Family<EndLabels, Counter>,
    /// Seconds from start to end.
    pub duration: Family<ModeLabels, Histogram, fn() -> Histogram>,
    /// Answers to `/webhook/` and `/webhook-test/` calls.
    pub webhook_answers: Family<AnswerLabels, Counter>,
    /// HTTP connections open now.
    pub open_connections: Gauge<i64, std::sync::atomic::AtomicI64>,
    /// Connections refused past the cap.
    pub refused_connections: Counter<u64, AtomicU64>,
}

static ENGINE: LazyLock<EngineMetrics> = LazyLock::new(|| EngineMetrics {
    started: Family::default(),
    finished: Family::default(),
    duration: Family::new_with_constructor(duration_histogram),
    webhook_answers: Family::default(),
    open_connections: Gauge::default(),
    refused_connections: Counter::default(),
});

/// The process's engine metrics.
pub fn engine() -> &'static EngineMetrics {
    &ENGINE
}

/// Values read when `/metrics` is scraped.
#[derive(Debug, Clone, Copy, Default)]
pub struct Snapshot {
    /// Execution writes queued for the grouped writer.
    pub writer_queue: usize,
    /// Webhook calls waiting for a slot.
    pub webhook_waiting: usize,
    /// Database connections open.
    pub pool_size: u32,
    /// Of those, idle.
    pub pool_idle: usize,
}

/// The plugins' families, encoded by the same encoder as the engine's.
#[derive(Debug)]
struct PluginFamilies(Vec<MetricFamily>);

impl prometheus_client::collector::Collector for PluginFamilies {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        for family in &self.0 {
            // OpenMetrics adds `_total` to a counter's samples itself.
            let name = match family.kind {
                MetricKind::Counter => family.name.strip_suffix("_total").unwrap_or(&family.name),
                MetricKind::Gauge => &family.name,
            };
            let kind = match family.kind {
                MetricKind::Counter => prometheus_client::metrics::MetricType::Counter,
                MetricKind::Gauge => prometheus_client::metrics::MetricType::Gauge,
            };
            let mut metric = encoder.encode_descriptor(name, &family.help, None, kind)?;
            // A family of one unlabelled sample is written without `{}`.
            if let [sample] = family.samples.as_slice() {
                if sample.labels.is_empty() {
                    encode_value(family.kind, sample.value, metric)?;
                    continue;
                }
            }
            for sample in &family.samples {
                let labels: Vec<(String, String)> = sample.labels.clone();
                encode_value(family.kind, sample.value, metric.encode_family(&labels)?)?;
            }
        }
        Ok(())
    }
}

/// Writes one value; whole numbers (counts, API usage) read as such, not as `3.0`.
fn encode_value(
    kind: MetricKind,
    v: f64,
    encoder: prometheus_client::encoding::MetricEncoder<'_>,
) -> Result<(), std::fmt::Error> {
    let whole = v.fract() == 0.0 && v.abs() < 9.0e15;
    match (kind, whole) {
        (MetricKind::Counter, true) if v >= 0.0 => ConstCounter::new(v as u64).encode(encoder),
        (MetricKind::Counter, _) => ConstCounter::new(v).encode(encoder),
        (MetricKind::Gauge, true) => ConstGauge::new(v as i64).encode(encoder),
        (MetricKind::Gauge, false) => ConstGauge::new(v).encode(encoder),
    }
}

/// The OpenMetrics text of the engine's metrics, `snapshot` and the plugins' `families`.
pub fn render(snapshot: Snapshot, families: Vec<MetricFamily>) -> String {
    let m = engine();
    let mut registry = Registry::default();
    registry.register(
        "switchyard_executions_started",
        "Executions started, by mode",
        m.started.clone(),
    );
    registry.register(
        "switchyard_executions_finished",
        "Executions ended, by mode and status",
        m.finished.clone(),
    );
    registry.register(
        "switchyard_execution_duration_seconds",
        "Seconds from an execution's start to its end, by mode",
        m.duration.clone(),
    );
    registry.register(
        "switchyard_webhook_answers",
        "Answers to webhook calls, by HTTP status",
        m.webhook_answers.clone(),
    );
    registry.register(
        "switchyard_open_connections",
        "HTTP connections open",
        m.open_connections.clone(),
    );
    registry.register(
        "switchyard_refused_connections",
        "HTTP connections refused past SWITCHYARD_MAX_CONNECTIONS",
        m.refused_connections.clone(),
    );
    let gauge = |v: usize| {
        let g: Gauge = Gauge::default();
        g.set(i64::try_from(v).unwrap_or(i64::MAX));
        g
    };
    registry.register(
        "switchyard_execution_writer_queue",
        "Execution row writes waiting for the grouped writer",
        gauge(snapshot.writer_queue),
    );
    registry.register(
        "switchyard_webhook_calls_waiting",
        "Webhook calls waiting for an execution slot",
        gauge(snapshot.webhook_waiting),
    );
    registry.register(
        "switchyard_db_pool_connections",
        "Database connections open",
        gauge(snapshot.pool_size as usize),
    );
    registry.register(
        "switchyard_db_pool_idle_connections",
        "Database connections open and idle",
        gauge(snapshot.pool_idle),
    );
    registry.register_collector(Box::new(PluginFamilies(families)));
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut out, &registry);
    out
}
