// Max-pool, global mean and softmax, scalar. Both are memory-bound and tiny next to the convolutions.
#include <algorithm>
#include <cmath>

#include "bluefire/kernels.h"

namespace bluefire {

void maxpool_ref(const MaxPoolArgs& a) {
  for (int c = a.c0; c < a.c1; ++c) {
    const float* in = a.in + size_t(c) * a.H * a.W;
    float* out = a.out + size_t(c) * a.OH * a.OW;
    for (int oy = 0; oy < a.OH; ++oy) {
      int y0 = std::max(oy * a.sh - a.pad_top, 0), y1 = std::min(oy * a.sh - a.pad_top + a.kh, a.H);
      int ox = 0;
      if (a.kh == 3 && a.kw == 3 && a.pad_left == 0 && y1 - y0 == 3) {
        // SqueezeNet's 3x3 windows wholly inside the map: three row maxima, no bounds tests.
        const float *r0 = in + size_t(y0) * a.W, *r1 = r0 + a.W, *r2 = r1 + a.W;
        for (; ox * a.sw + 3 <= a.W; ++ox) {
          const int x = ox * a.sw;
          float m0 = std::max(std::max(r0[x], r0[x + 1]), r0[x + 2]);
          float m1 = std::max(std::max(r1[x], r1[x + 1]), r1[x + 2]);
          float m2 = std::max(std::max(r2[x], r2[x + 1]), r2[x + 2]);
          out[size_t(oy) * a.OW + ox] = std::max(std::max(m0, m1), m2);
        }
      }
      for (; ox < a.OW; ++ox) {
        int x0 = std::max(ox * a.sw - a.pad_left, 0), x1 = std::min(ox * a.sw - a.pad_left + a.kw, a.W);
        float m = in[size_t(y0) * a.W + x0];
        for (int y = y0; y < y1; ++y)
          for (int x = x0; x < x1; ++x) m = std::max(m, in[size_t(y) * a.W + x]);
        out[size_t(oy) * a.OW + ox] = m;
      }
    }
  }
}

void mean_ref(const MeanArgs& a) {
  for (int c = a.c0; c < a.c1; ++c) {
    const float* p = a.in + size_t(c) * a.HW;
    float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};  // 8 partial sums: one chain would be latency-bound
    int i = 0;
    for (; i + 8 <= a.HW; i += 8)
      for (int j = 0; j < 8; ++j) s[j] += p[i + j];
    for (; i < a.HW; ++i) s[0] += p[i];
    a.out[c] = (((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]))) / float(a.HW);
  }
}

void softmax_ref(const float* in, int n, float* out) {
  float mx = in[0];
  for (int i = 1; i < n; ++i) mx = std::max(mx, in[i]);
  float sum = 0.f;
  for (int i = 0; i < n; ++i) sum += out[i] = std::exp(in[i] - mx);
  for (int i = 0; i < n; ++i) out[i] /= sum;
}

}  // namespace bluefire
