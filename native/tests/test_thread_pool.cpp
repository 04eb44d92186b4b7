// The thread pool alone: every task of every job runs exactly once, on a valid thread index, over
// many back-to-back jobs of varying size (workers spinning, and some sleeping between jobs), and
// the pool shuts down cleanly whether its workers spin or sleep.
#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "bluefire/thread_pool.h"
#include "engine/wake_choice.h"
#include "test.h"

using namespace bluefire;

namespace {

struct Job {
  std::vector<std::atomic<int>> runs;
  std::atomic<int> bad_thread{0};
  int threads;
  explicit Job(int n, int t) : runs(size_t(n)), threads(t) {}
};

void count(void* p, int task, int thread) {
  Job& j = *static_cast<Job*>(p);
  j.runs[size_t(task)].fetch_add(1);
  if (thread < 0 || thread >= j.threads) j.bad_thread.fetch_add(1);
}

// Every task of the job ran exactly once, on a valid thread index; a failed CHECK names the first
// task that did not.
bool ran_once(const Job& job, int tasks, int threads, int round) {
  for (int t = 0; t < tasks; ++t)
    if (job.runs[size_t(t)].load() != 1) {
      CHECK(false, "threads %d round %d: task %d of %d ran %d times", threads, round, t, tasks,
            job.runs[size_t(t)].load());
      return false;
    }
  CHECK(job.bad_thread.load() == 0, "threads %d round %d: a task got a thread index outside [0, %d)", threads, round,
        threads);
  return job.bad_thread.load() == 0;
}

}  // namespace

TEST(thread_pool_runs_every_task_once) {
  for (int threads = 1; threads <= 4; ++threads) {
    ThreadPool pool(threads);
    for (int round = 0; round < 3000; ++round) {
      const int tasks = round % 37;  // 0, 1 (run inline) and up to 36
      Job job(tasks, threads);
      pool.run(tasks, count, &job);
      if (!ran_once(job, tasks, threads, round)) return;
      // Now and then let the workers' spin run out, so the next job wakes sleeping workers.
      if (round % 500 == 499) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }
}

TEST(thread_pool_shuts_down_while_workers_spin_or_sleep) {
  for (int threads = 2; threads <= 4; ++threads) {
    {
      ThreadPool pool(threads);
      Job job(8, threads);
      pool.run(8, count, &job);
    }  // destroyed at once: the workers are still spinning
    {
      ThreadPool pool(threads);
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }  // destroyed with the workers asleep
  }
  CHECK(true, "unreachable");
}

// hold(): wakes sleeping workers and keeps them spinning across jobs; jobs still run every task
// once while held, after a release, and the pool shuts down while held.
TEST(thread_pool_hold_wakes_and_keeps_workers) {
  for (int threads = 1; threads <= 4; ++threads) {
    ThreadPool pool(threads);
    for (int round = 0; round < 200; ++round) {
      if (round % 50 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(2));  // let them sleep
      pool.hold(round % 3 != 2);
      for (int j = 0; j < 3; ++j) {
        const int tasks = (round + j) % 9;
        Job job(tasks, threads);
        pool.run(tasks, count, &job);
        if (!ran_once(job, tasks, threads, round)) return;
      }
      if (round % 7 == 0) {
        pool.hold(false);
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
    }
    pool.hold(true);
  }  // destroyed while held
}

namespace {

// One task per thread, each waiting (up to 1 s) until all have started: true when every thread took one.
bool every_thread_takes_a_task(ThreadPool& pool) {
  struct Meet {
    std::atomic<int> started{0};
    std::vector<std::atomic<int>> by_thread;
    int threads;
  } m{{0}, std::vector<std::atomic<int>>(size_t(pool.threads())), pool.threads()};
  pool.run(
      pool.threads(),
      [](void* p, int, int thread) {
        Meet& m = *static_cast<Meet*>(p);
        m.by_thread[size_t(thread)].fetch_add(1);
        m.started.fetch_add(1);
        const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(1);
        while (m.started.load() < m.threads && std::chrono::steady_clock::now() < until) {
        }
      },
      &m);
  for (auto& n : m.by_thread)
    if (n.load() != 1) return false;
  return true;
}

}  // namespace

// wake() returns once every worker runs, even after they slept (the build's calibration starts so);
// the pool then still runs every task once, and lets its workers sleep again after hold(false).
TEST(thread_pool_wake_returns_with_every_worker_running) {
  for (int threads = 1; threads <= 4; ++threads) {
    ThreadPool pool(threads);
    for (int round = 0; round < 5; ++round) {
      std::this_thread::sleep_for(std::chrono::milliseconds(3));  // past the workers' spin: asleep
      CHECK(pool.wake(std::chrono::seconds(5)), "%d threads, round %d: a worker did not wake in 5 s", threads, round);
      CHECK(every_thread_takes_a_task(pool), "%d threads, round %d: after wake() a thread took no task", threads,
            round);
      Job job(13, threads);
      pool.run(13, count, &job);
      if (!ran_once(job, 13, threads, round)) return;
      pool.hold(false);
    }
  }
}

// Frames that find the workers asleep wake them or not, as measured faster lately (WakeChoice): both
// kinds first, alternately; then the faster by median, with one image in kExplore taking the other;
// a change of host (waking turns slow) turns the choice within a window.
TEST(wake_choice_takes_the_faster_kind_and_follows_a_change) {
  WakeChoice w;
  constexpr int W = WakeChoice::kWindow, E = WakeChoice::kExplore;
  auto seconds = [](bool woke, bool slow_wake) { return woke ? (slow_wake ? 300e-6 : 100e-6) : 200e-6; };
  for (int i = 0; i < 2 * W; ++i) {
    const bool woke = w.wake();
    CHECK(woke == (i % 2 == 0), "image %d: %s while filling the windows", i, woke ? "woke" : "did not wake");
    w.record(woke, seconds(woke, false));
  }
  int woken = 0, other = 0;
  for (int i = 0; i < 4 * E; ++i) {
    const bool woke = w.wake();
    woken += woke, other += !woke;
    w.record(woke, seconds(woke, false));
  }
  CHECK(other == 4 && woken == 4 * E - 4, "fast wake-ups: %d woken, %d not (expected one in %d not)", woken, other, E);
  CHECK(w.median(1) == 100e-6 && w.median(0) == 200e-6, "medians %g and %g", w.median(1), w.median(0));
  int until = -1;
  for (int i = 0; i < 2 * W && until < 0; ++i) {
    const bool woke = w.wake();
    if (!woke) until = i;
    w.record(woke, seconds(woke, true));
  }
  CHECK(until >= W / 2 && until <= W / 2 + 1, "waking turned slow: still woken %d images on", until);
}
