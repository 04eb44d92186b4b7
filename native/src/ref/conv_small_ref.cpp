// The scalar reference of the small-map 3x3 kernel (KernelTable::conv3x3_small): the same contract,
// weights packed with kRefMr. Every tap is tested against the map's bounds at run time.
#include <algorithm>

#include "bluefire/kernels.h"

namespace bluefire {

void conv3x3_small_ref(const Conv3x3SmallArgs& a) {
  const int HW = a.H * a.W, K = a.C * 9;
  for (int m = 0; m < a.M; ++m) {
    const float* panel = a.a + size_t(m / kRefMr) * kRefMr * K;  // K groups of kRefMr floats
    for (int oy = 0; oy < a.H; ++oy)
      for (int ox = 0; ox < a.W; ++ox) {
        float acc = 0.f;
        for (int c = 0; c < a.C; ++c)
          for (int ky = 0; ky < 3; ++ky)
            for (int kx = 0; kx < 3; ++kx) {
              const int iy = oy + ky - 1, ix = ox + kx - 1;
              if (iy < 0 || iy >= a.H || ix < 0 || ix >= a.W) continue;
              acc += panel[size_t(c * 9 + ky * 3 + kx) * kRefMr + m % kRefMr] * a.in[size_t(c) * HW + iy * a.W + ix];
            }
        const float v = acc + a.bias[m];
        a.out[size_t(m) * HW + oy * a.W + ox] = a.relu ? std::max(v, 0.f) : v;
      }
  }
}

}  // namespace bluefire
