// NEON max-pool for SqueezeNet's 3x3 stride-2 windows (ceil mode). Per output row, 4 outputs at a
// time, all in registers: the column maxima of the window's rows at columns 2ox .. 2ox+7 (two q
// loads per row), de-interleaved into even and odd columns with UZP1/UZP2, and column 2ox+8
// brought in by EXT; then a 2-output step on d registers, one scalar full window and the windows
// clipped by the ceil-mode edge. Nothing is read outside the window rows the output needs, and
// windows clipped at the bottom reuse a row pointer, so they take the same vector path. Any
// other window shape (or left padding) goes to the reference.
#include <arm_neon.h>

#include <algorithm>
#include <cstddef>

#include "../variants.h"

namespace bluefire {
namespace {

inline float32x4_t max3q(const float* r0, const float* r1, const float* r2, int x) {
  return vmaxq_f32(vmaxq_f32(vld1q_f32(r0 + x), vld1q_f32(r1 + x)), vld1q_f32(r2 + x));
}

inline float max3s(const float* r0, const float* r1, const float* r2, int x) {
  return std::max(std::max(r0[x], r1[x]), r2[x]);
}

}  // namespace

void maxpool_neon(const MaxPoolArgs& a) {
  if (a.kh != 3 || a.kw != 3 || a.sh != 2 || a.sw != 2 || a.pad_left != 0) {
    maxpool_ref(a);
    return;
  }
  // Output columns whose window lies inside the row; the rest (a ceil-mode edge) are done last.
  const int full = a.W < 3 ? 0 : std::min(a.OW, (a.W - 3) / 2 + 1);  // (a 1-2 column map has none)
  for (int c = a.c0; c < a.c1; ++c) {
    const float* in = a.in + size_t(c) * a.H * a.W;
    float* out = a.out + size_t(c) * a.OH * a.OW;
    for (int oy = 0; oy < a.OH; ++oy) {
      const int y0 = std::max(oy * 2 - a.pad_top, 0), y1 = std::min(oy * 2 - a.pad_top + 3, a.H);
      // The window's rows; a window clipped to 1 or 2 rows repeats its last one.
      const float* r0 = in + size_t(y0) * a.W;
      const float* r1 = y1 - y0 >= 2 ? r0 + a.W : r0;
      const float* r2 = y1 - y0 >= 3 ? r1 + a.W : r1;
      float* o = out + size_t(oy) * a.OW;
      int ox = 0;
      for (; ox + 4 <= full; ox += 4) {  // reads columns 2ox .. 2ox+8, all inside the row
        const int x = 2 * ox;
        const float32x4_t lo = max3q(r0, r1, r2, x), hi = max3q(r0, r1, r2, x + 4);
        const float32x4_t c8 =
            vmaxq_f32(vmaxq_f32(vld1q_dup_f32(r0 + x + 8), vld1q_dup_f32(r1 + x + 8)), vld1q_dup_f32(r2 + x + 8));
        const float32x4_t e = vuzp1q_f32(lo, hi), od = vuzp2q_f32(lo, hi);  // columns x+2i, x+2i+1
        const float32x4_t e1 = vextq_f32(e, c8, 1);                         // columns x+2i+2
        vst1q_f32(o + ox, vmaxq_f32(vmaxq_f32(e, od), e1));
      }
      if (ox + 2 <= full) {  // columns 2ox .. 2ox+4
        const int x = 2 * ox;
        const float32x4_t m = max3q(r0, r1, r2, x);
        const float32x2_t c4 = vdup_n_f32(max3s(r0, r1, r2, x + 4));
        const float32x2_t e = vget_low_f32(vuzp1q_f32(m, m)), od = vget_low_f32(vuzp2q_f32(m, m));
        vst1_f32(o + ox, vmax_f32(vmax_f32(e, od), vext_f32(e, c4, 1)));
        ox += 2;
      }
      if (ox < full) {
        const int x = 2 * ox;
        o[ox] = std::max(std::max(max3s(r0, r1, r2, x), max3s(r0, r1, r2, x + 1)), max3s(r0, r1, r2, x + 2));
        ++ox;
      }
      for (; ox < a.OW; ++ox) {  // a window clipped on the right (ceil mode)
        const int x0 = ox * 2, x1 = std::min(x0 + 3, a.W);
        float v = r0[x0];
        for (int x = x0; x < x1; ++x) v = std::max(v, max3s(r0, r1, r2, x));
        o[ox] = v;
      }
    }
  }
}

}  // namespace bluefire
