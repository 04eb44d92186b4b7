// Softmax + top-k for the classifier component; see bluefire/classify_head.h.
#include "bluefire/classify_head.h"

#include <cmath>

namespace bluefire {

int softmax_topk(const float* logits, int n, float* probs, int32_t* topk, int k) {
  float m = logits[0];
  for (int i = 1; i < n; ++i) m = logits[i] > m ? logits[i] : m;
  float sum = 0.f;  // summed in index order, like numpy's pairwise sum only up to rounding
  for (int i = 0; i < n; ++i) {
    probs[i] = std::exp(logits[i] - m);
    sum += probs[i];
  }
  const float inv = 1.f / sum;
  for (int i = 0; i < n; ++i) probs[i] *= inv;
  // Insertion into a sorted k-list: k is small (<= 64) and n a few hundred at most; a strictly
  // greater test keeps the earlier index ahead on ties.
  int have = 0;
  for (int i = 0; i < n; ++i) {
    const float p = probs[i];
    if (have == k && !(p > probs[topk[k - 1]])) continue;
    int j = have < k ? have++ : k - 1;
    while (j > 0 && p > probs[topk[j - 1]]) {
      topk[j] = topk[j - 1];
      --j;
    }
    topk[j] = int32_t(i);
  }
  return topk[0];
}

}  // namespace bluefire
