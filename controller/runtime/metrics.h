// Metrics: a small thread-safe registry of counters, gauges and summaries (sum/count) with labels,
// rendered in the Prometheus text exposition format (version 0.0.4). Serving it over HTTP is
// http_endpoints' job; this file knows nothing about sockets.
// Locking: the registry's lock guards only the list of families (held for O(families)); each
// family has its own lock over its series. Render() takes one family's lock at a time, so a big
// family (per-resource series) never holds up updates of the others while it renders.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace su {

// Label name/value pairs. Order does not matter: {a,b} and {b,a} name the same series.
using MetricLabels = std::vector<std::pair<std::string, std::string>>;

// Names the controller records (rendered with the registry's prefix, e.g.
// schema_upgrade_reconciles_total{result="error"}).
inline constexpr const char* kReconcilesTotal = "reconciles_total";              // counter {result}
inline constexpr const char* kReconcileDurationSeconds = "reconcile_duration_seconds";  // summary
inline constexpr const char* kQueueDepth = "queue_depth";                        // gauge
inline constexpr const char* kMigrationsAppliedTotal = "migrations_applied_total";  // counter
inline constexpr const char* kBlockedSessions = "blocked_sessions";              // gauge

class Metrics {
 public:
  // prefix is prepended to every name on output (Prometheus' "namespace_").
  explicit Metrics(std::string prefix = "schema_upgrade_");
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // Sets the # HELP line of a metric. Optional; a metric used before or without it still renders.
  void Describe(const std::string& name, const std::string& help);

  // Counters only go up: a negative delta is ignored.
  void IncCounter(const std::string& name, const MetricLabels& labels = {}, double delta = 1);
  void SetGauge(const std::string& name, const MetricLabels& labels, double value);
  void AddGauge(const std::string& name, const MetricLabels& labels, double delta);
  // Drops one series (e.g. the phase a resource left), so it is no longer rendered.
  void RemoveSeries(const std::string& name, const MetricLabels& labels);
  // A gauge read at render time (e.g. a queue's length). fn runs under its family's lock: it must
  // not call back into this registry.
  void SetGaugeFunc(const std::string& name, const MetricLabels& labels, std::function<double()> fn);
  // Adds one observation to a summary: renders <name>_sum and <name>_count.
  void Observe(const std::string& name, const MetricLabels& labels, double value);

  // Current value of a counter or gauge series (0 if absent). For a summary, its count.
  double Value(const std::string& name, const MetricLabels& labels = {}) const;
  // For a summary, the sum of observations (0 if absent).
  double Sum(const std::string& name, const MetricLabels& labels = {}) const;

  // The whole registry in Prometheus text format, families and series in name order.
  std::string Render() const;

 private:
  enum class Kind { kCounter, kGauge, kSummary };
  struct Series {
    double value = 0;  // counter/gauge value, or summary sum
    double count = 0;  // summary only
    std::function<double()> fn;
  };
  struct Family {
    Kind kind = Kind::kCounter;
    mutable std::mutex mu;
    std::map<std::string, Series> series;  // guarded by mu; keyed by rendered label set, e.g. {a="1",b="2"}
  };
  // The family of name, created with kind when new; families are never removed, so the pointer
  // stays valid for the registry's life.
  Family* GetFamily(const std::string& name, Kind kind);
  Family* FindFamily(const std::string& name) const;

  const std::string prefix_;
  mutable std::mutex mu_;  // guards families_ and help_ (the maps, not the series)
  std::map<std::string, std::unique_ptr<Family>> families_;
  std::map<std::string, std::string> help_;
};

// Escapes a label value for the text format: backslash, double quote and newline.
std::string EscapeLabelValue(const std::string& v);

}  // namespace su
