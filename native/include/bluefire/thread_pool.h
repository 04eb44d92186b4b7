// A fixed pool of worker threads, created once with the engine. run() hands out task indices
// from one counter; the caller works too. Which thread runs a task never changes its result.
#pragma once
#include <atomic>
#include <condition_variable>
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
  // Runs fn(ctx, task, thread) for task in [0, tasks); returns when all are done. Allocates nothing.
  void run(int tasks, TaskFn fn, void* ctx);

 private:
  void work(int thread);
  void drain(int thread);
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable wake_, done_;
  TaskFn fn_ = nullptr;
  void* ctx_ = nullptr;
  int tasks_ = 0;
  long generation_ = 0;
  int busy_ = 0;
  bool stop_ = false;
  std::atomic<int> next_{0};
};

}  // namespace bluefire
