// Activation storage (internal): tensors whose lifetimes do not overlap share arena space, so the
// working set stays a few MB and hot in cache instead of the sum of all activations. A pure
// function of sizes and lifetimes, tested on its own (native/tests/test_arena.cpp).
#pragma once
#include <cstddef>
#include <vector>

namespace bluefire {

struct ArenaRequest {
  size_t size;  // floats
  int first;    // the layer that first writes it; < 0: not placed in the arena (offset 0)
  int last;     // the last layer that reads it (>= first)
};

struct ArenaPlan {
  std::vector<size_t> offset;  // per request, a multiple of `align`
  size_t total = 0;            // floats the arena needs
};

// Requests are placed in order of `first` (then index), each at the lowest offset where it
// overlaps no placed request still live at its first layer (first fit); a request is live over
// [first, last]. Sizes are rounded up to `align`.
ArenaPlan plan_arena(const std::vector<ArenaRequest>& requests, size_t align);

}  // namespace bluefire
