// Backfill gauges (see backfill_metrics.h).
#include "controller/runtime/backfill_metrics.h"

namespace su {

void DescribeBackfillMetrics(Metrics* metrics) {
  metrics->Describe(kBackfillRowsDone, "Rows done by the running backfill of a resource, over every run of it.");
  metrics->Describe(kBackfillRowsTotal, "Estimated rows of the table the running backfill of a resource walks.");
  metrics->Describe(kBackfillRowsPerSecond, "Rows per second of the running backfill of a resource (this run).");
}

void ShowBackfill(Metrics* metrics, const std::string& key, const BackfillGauges* gauges) {
  const MetricLabels labels = {{"resource", key}};
  if (!gauges) {
    metrics->RemoveSeries(kBackfillRowsDone, labels);
    metrics->RemoveSeries(kBackfillRowsTotal, labels);
    metrics->RemoveSeries(kBackfillRowsPerSecond, labels);
    return;
  }
  metrics->SetGauge(kBackfillRowsDone, labels, static_cast<double>(gauges->rows_done));
  metrics->SetGauge(kBackfillRowsTotal, labels, static_cast<double>(gauges->rows_total));
  metrics->SetGauge(kBackfillRowsPerSecond, labels, gauges->rows_per_second);
}

}  // namespace su
