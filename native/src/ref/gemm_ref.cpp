// Scalar reference of the convolution GEMM: the oracle every variant is tested against.
#include <algorithm>
#include <cstring>

#include "bluefire/kernels.h"

namespace bluefire {

size_t packed_size(int M, int K, int mr) {
  size_t panels = size_t((M + mr - 1) / mr);
  return panels * size_t(K) * size_t(mr) + kPackSlack;
}

void pack_weights(const float* w, int M, int K, int mr, float* out) {
  std::memset(out, 0, packed_size(M, K, mr) * sizeof(float));
  for (int m = 0; m < M; ++m)
    for (int k = 0; k < K; ++k) out[size_t(m / mr) * K * mr + size_t(k) * mr + m % mr] = w[size_t(m) * K + k];
}

void gemm_ref(const GemmArgs& g) {
  constexpr int mr = kRefMr;
  for (int m = 0; m < g.M; ++m) {
    const float* panel = g.a + size_t(m / mr) * g.K * mr + m % mr;
    for (int n = 0; n < g.N; ++n) {
      float acc = 0.f;
      for (int k = 0; k < g.K; ++k) acc += panel[size_t(k) * mr] * g.b[g.brow[k] + n];
      acc += g.bias[m];
      g.c[size_t(m) * g.ldc + n] = g.relu ? std::max(acc, 0.f) : acc;
    }
  }
}

}  // namespace bluefire
