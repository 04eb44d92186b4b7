// The cost of one ThreadPool::run (publish, every thread claims, barrier) with the workers held
// awake as the engine holds them for an image: jobs of `threads` empty tasks (the caller may run
// them all before a worker looks), jobs where every thread must take one task (a rendezvous: the
// whole hand-off), and jobs of `threads` tasks that each spin for 2 us (the hand-off beside real
// work) against the same work run alone on the calling thread; batches of 1000 (100) jobs,
// interleaved, medians over the batches. Then the cost of reading what another core has just written
// (16-256 KiB: a split layer's output read by the next layer), and, as frames come (tens of
// milliseconds apart, the workers asleep), how long after an image's hold(true) no worker sleeps
// (ThreadPool::wake).
// Built and run by native/tools/dispatch_cost.sh.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <utility>
#include <vector>

#include "bluefire/thread_pool.h"

using Clock = std::chrono::steady_clock;

namespace {

void empty(void*, int, int) {}

// Every thread takes one task: each task waits (spinning, up to 1 ms) until all have started, so
// the job's time is the full hand-off (publish, every worker wakes and claims, the last done).
struct Rendezvous {
  std::atomic<int> started{0};
  int threads = 1;
  std::atomic<int> timeouts{0};
};
void meet(void* p, int, int) {
  Rendezvous& r = *static_cast<Rendezvous*>(p);
  r.started.fetch_add(1);
  const auto until = Clock::now() + std::chrono::milliseconds(1);
  while (r.started.load() < r.threads)
    if (Clock::now() > until) {
      r.timeouts.fetch_add(1);
      return;
    }
}

void spin_2us(void*, int, int) {
  const auto until = Clock::now() + std::chrono::microseconds(2);
  while (Clock::now() < until) {
  }
}

double quantile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, size_t(q * double(v.size())))];
}

double median(std::vector<double> v) { return quantile(std::move(v), 0.5); }

// A split layer's output is read by the next layer on whichever core: the cost of reading `floats`
// that another core has just written, against reading what this core wrote (both after a write
// of the whole buffer; a worker thread writes on request). Medians over `reps`, microseconds.
struct Handoff {
  double remote_us, local_us;
};
Handoff handoff(size_t floats, int reps) {
  std::vector<uint32_t> buf(floats);  // integers: the sums vectorise, so the reads are what is timed
  std::atomic<int> turn{0};           // 1: the worker writes, then sets 2
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    uint32_t v = 0;
    while (!stop.load()) {
      if (turn.load(std::memory_order_acquire) != 1) continue;
      v += 1;
      for (uint32_t& f : buf) f = v;
      turn.store(2, std::memory_order_release);
    }
  });
  auto read_all = [&] {
    uint32_t s = 0;
    for (uint32_t f : buf) s += f;
    return s;
  };
  std::vector<double> remote, local;
  volatile uint32_t sink = 0;
  for (int r = 0; r < reps; ++r) {
    turn.store(1, std::memory_order_release);
    while (turn.load(std::memory_order_acquire) != 2) {
    }
    auto t0 = Clock::now();
    sink = sink + read_all();
    remote.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
    for (uint32_t& f : buf) f = uint32_t(r);
    t0 = Clock::now();
    sink = sink + read_all();
    local.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
  }
  stop.store(true);
  writer.join();
  return {median(remote), median(local)};
}

}  // namespace

int main(int argc, char** argv) {
  const int batches = argc > 1 ? std::atoi(argv[1]) : 200, jobs = 1000;
  std::printf("threads  empty job us  every thread one task us (timeouts)  2 us/task job us  alone us  x alone\n");
  for (int threads : {1, 2, 3, 4}) {
    bluefire::ThreadPool pool(threads);
    pool.hold(true);
    std::vector<double> e, w, a, m;
    Rendezvous r;
    r.threads = threads;
    // With more threads than logical CPUs a rendezvous waits for time slices: not measured.
    const bool rendezvous = threads <= int(std::thread::hardware_concurrency());
    for (int b = 0; b < batches; ++b) {
      auto t0 = Clock::now();
      for (int j = 0; j < jobs; ++j) pool.run(threads, empty, nullptr);
      auto t1 = Clock::now();
      for (int j = 0; rendezvous && j < jobs / 10; ++j) {
        r.started.store(0);
        pool.run(threads, meet, &r);
      }
      auto tm = Clock::now();
      m.push_back(std::chrono::duration<double, std::micro>(tm - t1).count() / (jobs / 10));
      t1 = Clock::now();
      for (int j = 0; j < jobs / 10; ++j) pool.run(threads, spin_2us, nullptr);
      auto t2 = Clock::now();
      for (int j = 0; j < jobs / 10; ++j)
        for (int t = 0; t < threads; ++t) spin_2us(nullptr, t, 0);
      auto t3 = Clock::now();
      e.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count() / jobs);
      w.push_back(std::chrono::duration<double, std::micro>(t2 - t1).count() / (jobs / 10));
      a.push_back(std::chrono::duration<double, std::micro>(t3 - t2).count() / (jobs / 10));
    }
    pool.hold(false);
    if (rendezvous)
      std::printf("%7d  %12.3f  %24.3f (%5d)  %17.3f %9.3f %8.2f\n", threads, median(e), median(m), r.timeouts.load(),
                  median(w), median(a), median(a) / median(w));
    else
      std::printf("%7d  %12.3f  %24s (    -)  %17.3f %9.3f %8.2f\n", threads, median(e), "-", median(w), median(a),
                  median(a) / median(w));
  }
  // Frames come tens of milliseconds apart (30 fps: 33 ms): the workers are asleep when each
  // arrives. How long until every worker runs again (ThreadPool::wake: hold(true), then no sleeper);
  // a frame's layers before that run on the calling thread.
  if (std::thread::hardware_concurrency() >= 2) {
    std::printf("\nreading what another core has just written (a split layer's output, read by the next layer)\n");
    std::printf("    KiB  other core wrote us  this core wrote us  extra us\n");
    for (int kib : {16, 64, 256}) {
      const Handoff h = handoff(size_t(kib) * 256, 2000);
      std::printf("%7d  %19.2f  %18.2f  %8.2f\n", kib, h.remote_us, h.local_us, h.remote_us - h.local_us);
    }
  }
  std::printf("\nafter an idle gap (workers asleep): microseconds from hold(true) until no worker sleeps\n");
  std::printf("threads  gap ms  median us  p90 us  not up within 20 ms\n");
  for (int threads : {2, 4}) {
    if (threads > int(std::thread::hardware_concurrency())) continue;
    bluefire::ThreadPool pool(threads);
    for (double gap_ms : {0.2, 1.0, 5.0, 33.0}) {
      std::vector<double> us;
      int late = 0;
      const int samples = gap_ms > 10 ? 60 : 200;
      for (int i = 0; i < samples; ++i) {
        std::this_thread::sleep_for(std::chrono::microseconds(int(gap_ms * 1000)));
        const auto t0 = Clock::now();
        const bool up = pool.wake(std::chrono::milliseconds(20));
        const double dt = std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
        pool.hold(false);
        if (up) us.push_back(dt);
        else ++late;
      }
      if (us.empty()) std::printf("%7d  %6.1f  %9s  %6s  %d of %d\n", threads, gap_ms, "-", "-", late, samples);
      else
        std::printf("%7d  %6.1f  %9.1f  %6.1f  %d of %d\n", threads, gap_ms, median(us), quantile(us, 0.9), late,
                    samples);
    }
  }
  return 0;
}
