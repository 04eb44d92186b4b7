// Whether an image that finds every worker of the pool asleep wakes them (internal; Engine::Impl::Hold).
// Frames at a camera's pace (30/s) always find them asleep. Where a worker wakes in time and warm, the
// image's split layers gain from it; where it wakes late or cold (an idle vCPU of a VM: 2.8 ms, or at
// once on a core whose caches other guests emptied), waking costs the calling thread more than the
// help is worth: on the 2-core AMD EPYC VM, paced frames of the shipped baseline ran 0.87x one thread
// when every such frame woke them (native/evidence/threads-2core/paced/before_wake_choice.txt). Which
// holds is measured, not assumed: the last kWindow images of each kind are kept, the faster kind by
// median is taken, and every kExplore-th image takes the other to keep its window current. Frame times
// of a CNN do not depend on the image, so the two windows compare like with like.
#pragma once
#include <algorithm>
#include <array>
#include <cstdint>

namespace bluefire {

class WakeChoice {
 public:
  static constexpr int kWindow = 8;    // images of each kind compared
  static constexpr int kExplore = 64;  // one image in this many takes the kind not chosen

  // Whether the next asleep image wakes the workers. Until both windows are full the two kinds
  // alternate (woken first).
  bool wake() {
    ++images_;
    if (count_[0] < kWindow || count_[1] < kWindow) return count_[1] <= count_[0];
    const bool best = median(1) < median(0);
    return images_ % kExplore == 0 ? !best : best;
  }
  // The image's seconds, per image, and whether it woke them.
  void record(bool woke, double seconds) {
    const int k = woke ? 1 : 0;
    times_[k][size_t(next_[k])] = seconds;
    next_[k] = (next_[k] + 1) % kWindow;
    count_[k] = std::min(kWindow, count_[k] + 1);
  }
  // The median of a kind's window (seconds; 0 while it is empty).
  double median(int woke) const {
    const int n = count_[woke];
    if (n == 0) return 0;
    std::array<double, kWindow> v = times_[size_t(woke)];
    std::nth_element(v.begin(), v.begin() + n / 2, v.begin() + n);
    return v[size_t(n / 2)];
  }

 private:
  std::array<std::array<double, kWindow>, 2> times_{};
  std::array<int, 2> count_{}, next_{};
  int64_t images_ = 0;
};

}  // namespace bluefire
