// A fixed pool of worker threads, created once with the engine and kept across layers and runs.
// run() publishes a job (function, context, task count) under a new generation; workers and the
// caller claim task indices until none is left. Which thread runs a task never changes its result.
//
// Layers last microseconds, so a mutex + condition variable wake per layer costs more than the
// layer: workers spin on the generation for a while after each job (a few tens of microseconds)
// and only then sleep on a condition variable; the caller spins for the last claimed tasks. A
// spinning thread yields its core only after that long a wait (more threads than free cores):
// a yield where other processes are runnable gives the core away for a time slice (milliseconds).
// hold(true) wakes sleeping workers at once and keeps them spinning until hold(false): the engine
// holds them for a whole image, so no layer pays a condition-variable wake. A worker that wakes
// while a job is under way leaves it to the threads already running and takes the next one: the
// first layers of a frame that finds the workers asleep run on the caller until they are up.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace bluefire {

class ThreadPool {
 public:
  using TaskFn = void (*)(void* ctx, int task, int thread);
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;
  int threads() const { return int(workers_.size()) + 1; }
  // Workers not asleep on the condition variable now (spinning, or running a task): a snapshot.
  int awake() const { return int(workers_.size()) - sleepers_.load(); }
  // Runs fn(ctx, task, thread) for task in [0, tasks); returns when all are done. The caller is
  // thread 0. Allocates nothing. Not reentrant: one caller at a time.
  void run(int tasks, TaskFn fn, void* ctx);
  // Wakes sleeping workers (a new job with no task) and keeps every worker spinning between jobs
  // while on; off: they spin for their usual while after the last job, then sleep. Same caller as run().
  void hold(bool on);
  // hold(true), then returns once no worker sleeps (true) or `limit` has passed (false): a sleeping
  // worker can take milliseconds to wake (an idle vCPU), longer than a build's calibration passes, and
  // a worker woken during a job waits for the next one. Same caller as run().
  bool wake(std::chrono::microseconds limit);

 private:
  // state_: generation (high 32 bits) | task count (bits 16-31) | next unclaimed task (bits 0-15).
  // A claim is a compare-exchange that checks the generation, so a worker that slept through a
  // whole job can never take a task of the next one with the old one's count.
  static constexpr int kMaxTasks = 0xffff;
  int claim(uint32_t generation);
  void work(int thread);
  void run_claimed(uint32_t generation, int thread);
  uint32_t publish(int tasks, bool wake);  // a new generation of `tasks` tasks (waking sleepers); returns it

  alignas(64) std::atomic<uint64_t> state_{0};
  alignas(64) std::atomic<int> done_{0};  // tasks finished in the current generation
  alignas(64) std::atomic<int> sleepers_{0};
  TaskFn fn_ = nullptr;  // written before the generation is published, read after a claim
  void* ctx_ = nullptr;
  std::mutex mu_;
  std::condition_variable wake_;
  std::atomic<bool> held_{false};
  std::atomic<bool> stop_{false};  // set with a new, empty generation
  std::vector<std::thread> workers_;
};

}  // namespace bluefire
