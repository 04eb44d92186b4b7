// The classifier's head after the network: softmax and the k best classes, in one pass over the
// logits, into caller-owned buffers (the per-frame path allocates nothing).
#pragma once
#include <cstdint>

namespace bluefire {

// probs[0..n) = softmax(logits) in float32; topk[0..k) = the k most probable classes, best first,
// ties broken by the lower index (numpy's argsort(-probs, kind="stable")). Returns topk[0].
// Requires 1 <= k <= n and finite logits (the caller checks; see all_finite in the binding).
int softmax_topk(const float* logits, int n, float* probs, int32_t* topk, int k);

}  // namespace bluefire
