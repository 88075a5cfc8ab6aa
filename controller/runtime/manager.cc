// Manager (see manager.h): the worker loop and what each reconcile outcome does to the queue.
#include "controller/runtime/manager.h"

#include <exception>

#include "reconcilers/base/log.h"

namespace su {

Manager::Manager(ReconcileFunc reconcile, ManagerOptions options)
    : reconcile_(std::move(reconcile)), options_(options), queue_(options.queue) {
  if (options_.metrics) {
    Metrics* m = options_.metrics;
    m->Describe(kReconcilesTotal, "Reconcile passes by result (success, error, requeue_after).");
    m->Describe(kReconcileDurationSeconds, "Time spent in reconcile passes.");
    m->Describe(kQueueDepth, "Keys ready in the work queue, waiting for a worker.");
    m->SetGaugeFunc(kQueueDepth, {}, [this] { return static_cast<double>(queue_.Len()); });
  }
}

Manager::~Manager() {
  Stop();
  // The gauge callback captures this; do not leave it dangling in a registry that outlives us.
  if (options_.metrics) options_.metrics->SetGauge(kQueueDepth, {}, 0);
}

Status Manager::Start() {
  std::lock_guard<std::mutex> l(lifecycle_mu_);
  if (started_ || stopped_) return Status::Invalid("manager: Start called twice or after Stop");
  if (options_.workers < 1) return Status::Invalid("manager: workers must be at least 1");
  started_ = true;
  for (int i = 0; i < options_.workers; ++i) workers_.emplace_back([this] { Worker(); });
  LogInfo("manager_started", {{"workers", std::to_string(options_.workers)}});
  return Status::Ok();
}

void Manager::Stop() {
  std::lock_guard<std::mutex> l(lifecycle_mu_);
  if (stopped_) return;
  stopped_ = true;
  stop_.request_stop();
  queue_.ShutDown();
  for (auto& t : workers_) t.join();
  workers_.clear();
  if (started_) LogInfo("manager_stopped");
}

void Manager::Enqueue(const std::string& key) {
  // A changed source deserves a prompt pass, not the tail of an old backoff.
  queue_.Forget(key);
  queue_.Add(key);
}

void Manager::Resync(const std::string& key) { queue_.AddResync(key); }  // behind change work (workqueue.h)

void Manager::Remove(const std::string& key) { queue_.Forget(key); }

void Manager::Worker() {
  while (auto key = queue_.Get()) {
    ProcessOne(*key);
    queue_.Done(*key);
  }
}

void Manager::ProcessOne(const std::string& key) {
  auto start = std::chrono::steady_clock::now();
  Result<ReconcileResult> result = Status::Failed("reconcile did not run");
  // The callback is user code: an exception must not kill a worker thread (and the process).
  try {
    result = reconcile_(key);
  } catch (const std::exception& e) {
    result = Status::Failed(std::string("reconcile threw: ") + e.what());
  } catch (...) {
    result = Status::Failed("reconcile threw a non-standard exception");
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  std::string outcome;
  if (!result.ok()) {
    outcome = "error";
    if (!Stopping()) {  // when stopping, the next process picks it up; a retry now is pointless
      int retry = queue_.NumRequeues(key) + 1;
      auto delay = queue_.AddRateLimited(key);
      LogWarn("reconcile_failed", {{"key", key}, {"retry", std::to_string(retry)},
                                   {"backoff_ms", std::to_string(delay.count())},
                                   {"error", result.status().ToString()}});
    }
  } else if (result->requeue_after > std::chrono::milliseconds::zero()) {
    queue_.Forget(key);
    queue_.AddAfter(key, result->requeue_after);
    outcome = "requeue_after";
  } else {
    queue_.Forget(key);
    outcome = "success";
  }
  if (options_.metrics) {
    options_.metrics->IncCounter(kReconcilesTotal, {{"result", outcome}});
    options_.metrics->Observe(kReconcileDurationSeconds, {}, seconds);
  }
}

}  // namespace su
