// im2col for a zero-padded strided convolution, for a range of output pixels. Works on runs of
// pixels within one output row so the inner loops have no bounds tests.
#include <algorithm>
#include <cstring>

#include "bluefire/kernels.h"

namespace bluefire {

void stride2_columns_ref(const float* src, ptrdiff_t sld, int rows, int n, float* dst, int dld) {
  for (int r = 0; r < rows; ++r, src += sld, dst += dld)
    for (int j = 0; j < n; ++j) dst[j] = src[2 * j];
}

void im2col_ref(const Im2colArgs& a) {
  float* row = a.out;
  for (int c = 0; c < a.C; ++c) {
    const float* plane = a.in + size_t(c) * a.H * a.W;
    for (int ky = 0; ky < a.kh; ++ky) {
      for (int kx = 0; kx < a.kw; ++kx, row += a.ld) {
        // Output columns ox with 0 <= ox*sw - pad_left + kx < W form the range [x_lo, x_hi).
        const int off = kx - a.pad_left;
        const int x_lo = std::min(a.OW, off >= 0 ? 0 : (-off + a.sw - 1) / a.sw);
        const int x_hi = std::max(x_lo, std::min(a.OW, a.W - off > 0 ? (a.W - off - 1) / a.sw + 1 : 0));
        int n = a.n0;
        float* dst = row;
        while (n < a.n1) {
          const int oy = n / a.OW, ox0 = n % a.OW, ox1 = std::min(a.OW, ox0 + (a.n1 - n));
          const int y = oy * a.sh - a.pad_top + ky;
          if (y < 0 || y >= a.H) {
            std::fill(dst, dst + (ox1 - ox0), 0.f);
          } else {
            const float* src = plane + size_t(y) * a.W + off;
            int ox = ox0;
            for (; ox < std::min(ox1, x_lo); ++ox) dst[ox - ox0] = 0.f;
            if (a.sw == 1) {
              const int e = std::max(ox, std::min(ox1, x_hi));
              std::memcpy(dst + (ox - ox0), src + ox, size_t(e - ox) * sizeof(float));
              ox = e;
            } else if (a.sw == 2) {  // the stems: a constant stride lets the compiler vectorise
              const int e = std::max(ox, std::min(ox1, x_hi));
              float* d = dst - ox0;
              for (int i = ox; i < e; ++i) d[i] = src[2 * i];
              ox = e;
            } else {
              for (; ox < std::min(ox1, x_hi); ++ox) dst[ox - ox0] = src[ox * a.sw];
            }
            for (; ox < ox1; ++ox) dst[ox - ox0] = 0.f;
          }
          dst += ox1 - ox0;
          n += ox1 - ox0;
        }
      }
    }
  }
}

}  // namespace bluefire
