// Per-resource gauges of a running backfill (docs/backfill.md), in the controller's registry:
//   schema_upgrade_backfill_rows_done{resource="ns/name"}       rows done over every run
//   schema_upgrade_backfill_rows_total{resource="ns/name"}      the table's estimated rows
//   schema_upgrade_backfill_rows_per_second{resource="ns/name"} this run's rate
// A resource has these series only while its backfill runs: ShowBackfill(..., nullptr) removes
// them when the step ends (bounded cardinality: at most one series each per running migration).
#pragma once

#include <string>

#include "controller/runtime/metrics.h"

namespace su {

inline constexpr const char* kBackfillRowsDone = "backfill_rows_done";
inline constexpr const char* kBackfillRowsTotal = "backfill_rows_total";
inline constexpr const char* kBackfillRowsPerSecond = "backfill_rows_per_second";

struct BackfillGauges {
  long long rows_done = 0;
  long long rows_total = 0;
  double rows_per_second = 0;
};

// The # HELP lines (once, at start).
void DescribeBackfillMetrics(Metrics* metrics);
// Sets the three gauges of resource `key` (namespace/name), or removes them (gauges null).
void ShowBackfill(Metrics* metrics, const std::string& key, const BackfillGauges* gauges);

}  // namespace su
