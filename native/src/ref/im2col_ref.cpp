// im2col for a zero-padded strided convolution, for a range of output pixels.
#include "bluefire/kernels.h"

namespace bluefire {

void im2col_ref(const Im2colArgs& a) {
  const int cols = a.n1 - a.n0;
  float* row = a.out;
  for (int c = 0; c < a.C; ++c) {
    const float* plane = a.in + size_t(c) * a.H * a.W;
    for (int ky = 0; ky < a.kh; ++ky) {
      for (int kx = 0; kx < a.kw; ++kx, row += cols) {
        int n = a.n0, oy = n / a.OW, ox = n % a.OW;
        for (int j = 0; j < cols; ++j) {
          int y = oy * a.sh - a.pad_top + ky, x = ox * a.sw - a.pad_left + kx;
          row[j] = (y >= 0 && y < a.H && x >= 0 && x < a.W) ? plane[size_t(y) * a.W + x] : 0.f;
          if (++ox == a.OW) ox = 0, ++oy;
        }
      }
    }
  }
}

}  // namespace bluefire
