// Manager: controller-runtime's controller loop for string keys. N worker threads take keys from a
// WorkQueue and call a reconcile callback; an error backs the key off exponentially until its retry
// limit, after which the key is left alone until its source changes; success forgets the backoff;
// requeue_after schedules the next pass. Stop() is graceful. Knows nothing of SchemaUpgrade.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "controller/runtime/metrics.h"
#include "controller/runtime/workqueue.h"
#include "reconcilers/base/result.h"

namespace su {

struct ReconcileResult {
  // Run again soon, backing off like an error would (controller-runtime's Requeue: true). Such passes
  // count towards the retry limit; to poll something slow, use requeue_after instead.
  bool requeue = false;
  // Run again after this long (takes precedence over requeue when > 0); resets the backoff.
  std::chrono::milliseconds requeue_after{0};
};

using ReconcileFunc = std::function<Result<ReconcileResult>(const std::string& key)>;

struct ManagerOptions {
  int workers = 2;
  WorkQueueOptions queue;
  // Retries after the first failure before a key is left alone; < 0 means retry forever.
  int default_retry_limit = -1;
  // Optional; records reconciles_total{result}, reconcile_duration_seconds and queue_depth.
  Metrics* metrics = nullptr;
};

class Manager {
 public:
  Manager(ReconcileFunc reconcile, ManagerOptions options = {});
  // Stops (gracefully) if still running.
  ~Manager();
  Manager(const Manager&) = delete;
  Manager& operator=(const Manager&) = delete;

  // Starts the workers. Calling it twice, or after Stop, is kInvalidArgument.
  Status Start();

  // The key's source changed (a manifest was written or deleted): clears an exhausted retry budget
  // and queues the key.
  void Enqueue(const std::string& key);
  // A periodic resync touched the key: queues it unless its retries are exhausted, so a key that
  // keeps failing is not retried forever by resyncs.
  void Resync(const std::string& key);
  // Drops everything known about a key (its manifest is gone for good): policy, backoff, exhaustion.
  // A queued pass still runs, so the reconciler can observe the deletion.
  void Remove(const std::string& key);

  // Retry policy for one key (the manifest's spec.policy.retries): limit retries after the first
  // failure (< 0: unlimited), backing off initial doubling to max.
  void SetRetryPolicy(const std::string& key, int limit, std::chrono::milliseconds initial,
                      std::chrono::milliseconds max);
  // True when the key failed past its retry limit and waits for Enqueue.
  bool Exhausted(const std::string& key) const;

  // Graceful stop: no new keys are taken, reconciles in flight run to their end (they should poll
  // Stopping() or StopToken() and return early), workers are joined. Idempotent.
  void Stop();
  bool Stopping() const { return stop_.stop_requested(); }
  std::stop_token StopToken() const { return stop_.get_token(); }

  WorkQueue& queue() { return queue_; }

 private:
  void Worker();
  void ProcessOne(const std::string& key);
  int RetryLimitFor(const std::string& key) const;

  ReconcileFunc reconcile_;
  const ManagerOptions options_;
  WorkQueue queue_;
  std::stop_source stop_;
  std::vector<std::thread> workers_;
  std::mutex lifecycle_mu_;  // Start/Stop
  bool started_ = false;
  bool stopped_ = false;

  mutable std::mutex mu_;  // limits_ and exhausted_
  std::map<std::string, int> limits_;
  std::set<std::string> exhausted_;
};

}  // namespace su
