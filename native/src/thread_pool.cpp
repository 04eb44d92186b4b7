#include "bluefire/thread_pool.h"

#include <chrono>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define BLUEFIRE_PAUSE() _mm_pause()
#elif defined(__aarch64__)
#define BLUEFIRE_PAUSE() __asm__ __volatile__("yield")
#else
#define BLUEFIRE_PAUSE() ((void)0)
#endif

namespace bluefire {
namespace {

// How long a worker keeps spinning for the next job before it sleeps: longer than the gap
// between two layers (microseconds), short enough not to burn a core between frames. Also how
// long a spinning thread (a held worker, the caller waiting for the last tasks) waits before it
// yields its core: a yield on a host where other processes are runnable hands the core away for
// a scheduler time slice (milliseconds), so it is kept for waits that are already long (more
// threads than free cores), never for the microsecond gaps between layers.
constexpr auto kSpin = std::chrono::microseconds(50);
// A spinning thread looks at the shared word after every pause (a pause is 10-140 cycles, by
// CPU) and at the clock every kClockEvery pauses.
constexpr int kClockEvery = 64;

uint32_t generation_of(uint64_t s) { return uint32_t(s >> 32); }

}  // namespace

ThreadPool::ThreadPool(int threads) {
  for (int t = 1; t < threads; ++t) workers_.emplace_back([this, t] { work(t); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_.store(true);
    // A new generation with no tasks: spinning workers look, see stop_, and leave.
    state_.store((uint64_t(generation_of(state_.load()) + 1)) << 32);
  }
  wake_.notify_all();
  for (auto& w : workers_) w.join();
}

int ThreadPool::claim(uint32_t generation) {
  uint64_t s = state_.load(std::memory_order_acquire);
  for (;;) {
    const int next = int(s & 0xffff), tasks = int((s >> 16) & 0xffff);
    if (generation_of(s) != generation || next >= tasks) return -1;
    if (state_.compare_exchange_weak(s, s + 1, std::memory_order_acq_rel, std::memory_order_acquire)) return next;
  }
}

void ThreadPool::run_claimed(uint32_t generation, int thread) {
  for (int t = claim(generation); t >= 0; t = claim(generation)) {
    fn_(ctx_, t, thread);  // stable: the job cannot end before this task is counted done
    done_.fetch_add(1, std::memory_order_release);
  }
}

void ThreadPool::work(int thread) {
  uint32_t seen = 0;
  for (;;) {
    // Spin for the next generation, then sleep.
    uint32_t g = generation_of(state_.load(std::memory_order_acquire));
    auto until = std::chrono::steady_clock::now() + kSpin;
    for (int i = 1; g == seen; ++i) {
      BLUEFIRE_PAUSE();
      g = generation_of(state_.load(std::memory_order_acquire));
      if (g != seen || i % kClockEvery) continue;
      if (std::chrono::steady_clock::now() > until) {
        if (held_.load(std::memory_order_relaxed)) {
          std::this_thread::yield();
          until = std::chrono::steady_clock::now() + kSpin;
          continue;
        }
        std::unique_lock<std::mutex> lock(mu_);
        sleepers_.fetch_add(1);  // seq_cst, paired with run()'s store then load (no lost wake-up)
        // held_ too: a hold() that read sleepers_ before this increment publishes nothing.
        const auto ready = [&] { return stop_.load() || held_.load() || generation_of(state_.load()) != seen; };
        const bool slept = !ready();  // else a job came while this worker was deciding to sleep
        if (slept) wake_.wait(lock, ready);
        sleepers_.fetch_sub(1);
        if (stop_.load()) return;
        g = generation_of(state_.load(std::memory_order_acquire));
        if (!slept) continue;
        // A job published while this worker slept is under way already: the threads that were
        // awake run its tasks (the caller never waits for an unclaimed one). A worker fresh from
        // sleep -- its core idle until now, its caches cold, on a VM its vCPU just rescheduled --
        // would hold the job's barrier with whatever task it claimed, so it waits for the next job.
        seen = g;
        until = std::chrono::steady_clock::now() + kSpin;
      }
    }
    if (stop_.load()) return;  // set together with a new generation: checking after a change suffices
    seen = g;
    run_claimed(g, thread);
  }
}

uint32_t ThreadPool::publish(int tasks, bool wake) {
  const uint32_t g = generation_of(state_.load(std::memory_order_relaxed)) + 1;
  state_.store((uint64_t(g) << 32) | (uint64_t(tasks) << 16));  // seq_cst: publishes fn_, ctx_, done_
  if (wake && sleepers_.load() > 0) {
    { std::lock_guard<std::mutex> lock(mu_); }
    wake_.notify_all();
  }
  return g;
}

void ThreadPool::hold(bool on) {
  if (workers_.empty()) return;
  held_.store(on);  // seq_cst, paired with work()'s increment of sleepers_ then load of held_
  if (on && sleepers_.load() > 0) publish(0, true);  // nothing to claim: the woken workers spin again
}

bool ThreadPool::wake(std::chrono::microseconds limit) {
  hold(true);
  // Held, no worker goes to sleep, and every sleeper has been notified: wait until none sleeps.
  const auto until = std::chrono::steady_clock::now() + limit;
  for (int i = 1; sleepers_.load() > 0; ++i) {
    BLUEFIRE_PAUSE();
    if (i % kClockEvery == 0 && std::chrono::steady_clock::now() > until) return false;
  }
  return true;
}

void ThreadPool::run(int tasks, TaskFn fn, void* ctx) {
  if (workers_.empty() || tasks <= 1) {
    for (int t = 0; t < tasks; ++t) fn(ctx, t, 0);
    return;
  }
  if (tasks > kMaxTasks) {  // more tasks than the state word counts: in chunks (never at these sizes)
    struct Chunk {
      TaskFn fn;
      void* ctx;
      int t0;
    };
    for (int t0 = 0; t0 < tasks; t0 += kMaxTasks) {
      Chunk c{fn, ctx, t0};
      run(
          std::min(kMaxTasks, tasks - t0),
          [](void* p, int t, int th) {
            const Chunk& c = *static_cast<Chunk*>(p);
            c.fn(c.ctx, c.t0 + t, th);
          },
          &c);
    }
    return;
  }
  fn_ = fn;
  ctx_ = ctx;
  done_.store(0, std::memory_order_relaxed);
  // While held, hold(true) has woken every sleeper already, and a held worker never goes back to
  // sleep: notifying again for each layer of an image whose workers are still waking would cost the
  // caller a mutex and a futex call per layer (a VM's sleeping vCPU can take milliseconds to wake).
  const uint32_t g = publish(tasks, !held_.load());
  run_claimed(g, 0);
  // Every task is claimed; wait for the ones other threads are still running.
  auto until = std::chrono::steady_clock::time_point::max();
  for (int i = 1; done_.load(std::memory_order_acquire) < tasks; ++i) {
    BLUEFIRE_PAUSE();
    if (i % kClockEvery) continue;
    const auto now = std::chrono::steady_clock::now();
    if (until == std::chrono::steady_clock::time_point::max()) until = now + kSpin;
    else if (now > until) std::this_thread::yield(), until = now + kSpin;
  }
}

}  // namespace bluefire
