// BackfillPacer: decides the size of the next backfill batch and the pause before it, and keeps
// the rate and ETA, from how long batches took (measured on Clock::MonotonicNow) and whether the
// database asked us to slow down. Pure: no database; tests drive it with a FakeClock.
//
// Rules (the defaults are in BackfillKnobs, sql_backfill.h):
//  - A batch that took longer than batch_time halves the size (never below min_batch).
//  - A batch faster than a quarter of batch_time grows it by half (never above max_batch).
//  - Sessions blocked behind a batch (pg_blocking_pids) halve the size and double the next pause.
//  - Replication lag above max_lag: the caller waits (Throttled says so) before the next batch.
// Rate = rows done in this run / time since the run's first batch started; ETA = rows left
// (total estimate - rows done, never below 0) / rate. Both 0 until a batch finished.
#pragma once

#include <chrono>
#include <string>

#include "reconcilers/base/clock.h"

namespace su {

struct BackfillKnobs {
  long long batch = 1000;       // first batch size (rows)
  long long min_batch = 10;
  long long max_batch = 100000;
  // Budget per batch (adaptive sizing). A writer touching a row of the batch waits for the batch
  // to commit: 100 ms keeps that wait well under the 200 ms a user-facing write can afford (the
  // 500 ms first chosen let writers wait 249 ms in bench/backfill.sh at 5M rows).
  std::chrono::milliseconds batch_time{100};
  std::chrono::milliseconds pause{10};         // between batches (writers queued behind a batch get in)
  std::chrono::milliseconds max_lag{10000};    // replication replay_lag above this: wait; 0: no check
  bool adaptive = true;
};

class BackfillPacer {
 public:
  BackfillPacer(const BackfillKnobs& knobs, Clock* clock);

  long long batch_size() const { return size_; }
  // The pause to take before the next batch (longer after a batch that blocked others).
  std::chrono::milliseconds pause() const { return pause_; }

  void BatchStarted();
  // rows: rows the batch touched; blocked: sessions that waited on it while it ran.
  void BatchFinished(long long rows, int blocked);

  long long rows_done() const { return rows_; }
  // Rows per second over this run (0 before the first batch finished).
  double rate() const;
  // Seconds left for `total` rows in all (rows done before this run included in done_before).
  long long EtaSeconds(long long total, long long done_before) const;

 private:
  BackfillKnobs k_;
  Clock* clock_;
  long long size_;
  std::chrono::milliseconds pause_;
  long long rows_ = 0;
  bool started_ = false;
  Clock::MonoTimePoint run_start_{};
  Clock::MonoTimePoint batch_start_{};
  Clock::MonoTimePoint last_end_{};
};

}  // namespace su
