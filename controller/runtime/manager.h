// Manager: controller-runtime's controller loop for string keys. N worker threads take keys from a
// WorkQueue and call a reconcile callback; requeue_after schedules the next pass; success forgets
// the key's backoff. Stop() is graceful. Knows nothing of SchemaUpgrade.
//
// Retries belong to the reconcile callback, not here: the SchemaUpgrade reconciler counts attempts,
// persists them with the next retry time in status (so a restart keeps them) and returns
// requeue_after. An error from the callback (or an exception it throws) is a bug or an outage the
// callback could not classify: the key is retried with the queue's plain exponential backoff
// (client-go's 5 ms .. 1000 s), never given up on, so nothing is silently dropped.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "controller/runtime/metrics.h"
#include "controller/runtime/workqueue.h"
#include "reconcilers/base/result.h"

namespace su {

struct ReconcileResult {
  // Run again after this long (0: not before the key is enqueued again); resets the backoff.
  std::chrono::milliseconds requeue_after{0};
};

using ReconcileFunc = std::function<Result<ReconcileResult>(const std::string& key)>;

struct ManagerOptions {
  int workers = 2;
  WorkQueueOptions queue;
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

  // The key's source changed (a manifest was written or deleted): forgets its backoff and queues
  // the key for a prompt pass.
  void Enqueue(const std::string& key);
  // A periodic resync touched the key: queues it behind change work (Enqueue, retries that are
  // due), keeping its backoff.
  void Resync(const std::string& key);
  // Forgets the key's backoff (its manifest is gone for good). A queued pass still runs, so the
  // reconciler can observe the deletion.
  void Remove(const std::string& key);

  // Graceful stop: no new keys are taken, reconciles in flight run to their end (they should poll
  // Stopping() or StopToken() and return early), workers are joined. Idempotent.
  void Stop();
  bool Stopping() const { return stop_.stop_requested(); }
  std::stop_token StopToken() const { return stop_.get_token(); }

  WorkQueue& queue() { return queue_; }

 private:
  void Worker();
  void ProcessOne(const std::string& key);

  ReconcileFunc reconcile_;
  const ManagerOptions options_;
  WorkQueue queue_;
  std::stop_source stop_;
  std::vector<std::thread> workers_;
  std::mutex lifecycle_mu_;  // Start/Stop
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace su
