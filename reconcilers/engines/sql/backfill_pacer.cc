// Adaptive batch sizing, pauses, rate and ETA for backfills (see backfill_pacer.h).
#include "reconcilers/engines/sql/backfill_pacer.h"

#include <algorithm>

namespace su {

BackfillPacer::BackfillPacer(const BackfillKnobs& knobs, Clock* clock)
    : k_(knobs), clock_(clock ? clock : RealClock()), size_(std::clamp(knobs.batch, knobs.min_batch, knobs.max_batch)),
      pause_(knobs.pause) {}

void BackfillPacer::BatchStarted() {
  batch_start_ = clock_->MonotonicNow();
  if (!started_) {
    started_ = true;
    run_start_ = batch_start_;
  }
}

void BackfillPacer::BatchFinished(long long rows, int blocked) {
  last_end_ = clock_->MonotonicNow();
  rows_ += rows;
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(last_end_ - batch_start_);
  pause_ = k_.pause;
  if (blocked > 0) {
    // Someone waited on our row locks: smaller batches hold them for less time, and a longer
    // pause lets the queue drain.
    size_ = std::max(k_.min_batch, size_ / 2);
    pause_ = std::max(k_.pause * 2, std::chrono::milliseconds(10));
    return;
  }
  if (!k_.adaptive) return;
  if (took > k_.batch_time) {
    size_ = std::max(k_.min_batch, size_ / 2);
  } else if (took * 4 < k_.batch_time) {
    size_ = std::min(k_.max_batch, size_ + std::max<long long>(1, size_ / 2));
  }
}

double BackfillPacer::rate() const {
  if (!started_ || rows_ == 0) return 0;
  double secs = std::chrono::duration<double>(last_end_ - run_start_).count();
  if (secs <= 0) return 0;
  return static_cast<double>(rows_) / secs;
}

long long BackfillPacer::EtaSeconds(long long total, long long done_before) const {
  double r = rate();
  if (r <= 0) return 0;
  long long left = std::max<long long>(0, total - done_before - rows_);
  return static_cast<long long>(static_cast<double>(left) / r + 0.5);
}

}  // namespace su
