// softmax_topk against a plain reference: double-precision softmax and a stable ordering of the
// indices by probability, on random logits with planted ties, for every k.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include "bluefire/classify_head.h"
#include "test.h"

using namespace bluefire;

TEST(softmax_topk_matches_a_stable_sort) {
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.f, 4.f);
  for (int n : {1, 2, 3, 10, 37, 1000}) {
    std::vector<float> logits(static_cast<size_t>(n)), probs(static_cast<size_t>(n));
    for (auto& v : logits) v = nd(rng);
    if (n > 3) logits[2] = logits[n - 1] = logits[1];  // ties: the lower index must come first
    double m = *std::max_element(logits.begin(), logits.end()), sum = 0;
    std::vector<double> ref(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) sum += ref[size_t(i)] = std::exp(double(logits[size_t(i)]) - m);
    for (auto& v : ref) v /= sum;
    for (int k : {1, 2, 5, 64}) {
      if (k > n) continue;
      std::vector<int32_t> topk(size_t(k), -1);
      const int best = softmax_topk(logits.data(), n, probs.data(), topk.data(), k);
      for (int i = 0; i < n; ++i)
        CHECK(std::fabs(probs[size_t(i)] - ref[size_t(i)]) <= 1e-6 + 1e-5 * ref[size_t(i)], "n %d: p[%d] %g vs %g", n,
              i, double(probs[size_t(i)]), ref[size_t(i)]);
      std::vector<int> want(static_cast<size_t>(n));
      std::iota(want.begin(), want.end(), 0);
      // std::sort with the index as tie-break: stable_sort's nothrow buffer trips test_alloc's operator delete under
      // ASan
      std::sort(want.begin(), want.end(), [&](int a, int b) {
        return probs[size_t(a)] > probs[size_t(b)] || (probs[size_t(a)] == probs[size_t(b)] && a < b);
      });
      for (int j = 0; j < k; ++j)
        CHECK(topk[size_t(j)] == want[size_t(j)], "n %d k %d: topk[%d] %d, expected %d", n, k, j, topk[size_t(j)],
              want[size_t(j)]);
      CHECK(best == want[0], "n %d k %d: best %d, expected %d", n, k, best, want[0]);
    }
  }
}
