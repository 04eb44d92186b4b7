// The cost of one ThreadPool::run (publish, every thread claims, barrier) with the workers held
// awake as the engine holds them for an image: jobs of `threads` empty tasks, and of `threads`
// tasks that each spin for a fixed 2 us (so the hand-off cost shows beside real work), timed in
// batches of 1000 jobs, interleaved with the same work run alone on the calling thread; prints
// medians over the batches. Built and run by native/tools/dispatch_cost.sh.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "bluefire/thread_pool.h"

using Clock = std::chrono::steady_clock;

namespace {

void empty(void*, int, int) {}

void spin_2us(void*, int, int) {
  const auto until = Clock::now() + std::chrono::microseconds(2);
  while (Clock::now() < until) {
  }
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const int batches = argc > 1 ? std::atoi(argv[1]) : 200, jobs = 1000;
  std::printf("threads  empty job us  (%d jobs x %d batches)   2 us/task job us  alone us  x alone\n", jobs, batches);
  for (int threads : {1, 2, 3, 4}) {
    bluefire::ThreadPool pool(threads);
    pool.hold(true);
    std::vector<double> e, w, a;
    for (int b = 0; b < batches; ++b) {
      auto t0 = Clock::now();
      for (int j = 0; j < jobs; ++j) pool.run(threads, empty, nullptr);
      auto t1 = Clock::now();
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
    std::printf("%7d  %12.3f  %27s %17.3f %9.3f %8.2f\n", threads, median(e), "", median(w), median(a),
                median(a) / median(w));
  }
  return 0;
}
