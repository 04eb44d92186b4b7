// AVX2 max-pool for SqueezeNet's 3x3 stride-2 windows (compiled with -mavx2 -mfma, this file only).
// Per output row: the column maxima of the three input rows, 8 at a time, then the maxima of
// columns 2x, 2x+1, 2x+2 from even/odd de-interleaved vectors. Windows that are clipped (ceil-mode
// edges) and any other shape go to the reference.
#include <immintrin.h>

#include <algorithm>

#include "../variants.h"

namespace bluefire {
namespace {

constexpr int kRowMax = 2048;  // widest row the stack buffer holds

// Evens and odds of the 16 floats at p: (p[0], p[2], ..., p[14]) and (p[1], p[3], ..., p[15]).
inline void deinterleave(const float* p, __m256& even, __m256& odd) {
  const __m256 a = _mm256_loadu_ps(p), b = _mm256_loadu_ps(p + 8);
  const __m256 e = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));  // a0 a2 b0 b2 | a4 a6 b4 b6
  const __m256 o = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1));
  even = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), _MM_SHUFFLE(3, 1, 2, 0)));
  odd = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(o), _MM_SHUFFLE(3, 1, 2, 0)));
}

}  // namespace

void maxpool_avx2(const MaxPoolArgs& a) {
  if (a.kh != 3 || a.kw != 3 || a.sh != 2 || a.sw != 2 || a.pad_left != 0 || a.W + 16 > kRowMax) {
    maxpool_ref(a);
    return;
  }
  alignas(32) float m[kRowMax];
  // Output columns whose window lies inside the row; the rest (a ceil-mode edge) are done by the
  // reference on a one-column slice below.
  const int full = std::min(a.OW, (a.W - 3) / 2 + 1);
  for (int c = a.c0; c < a.c1; ++c) {
    const float* in = a.in + size_t(c) * a.H * a.W;
    float* out = a.out + size_t(c) * a.OH * a.OW;
    for (int oy = 0; oy < a.OH; ++oy) {
      const int y0 = std::max(oy * 2 - a.pad_top, 0), y1 = std::min(oy * 2 - a.pad_top + 3, a.H);
      const float* r0 = in + size_t(y0) * a.W;
      int x = 0;
      if (y1 - y0 == 3) {
        const float *r1 = r0 + a.W, *r2 = r1 + a.W;
        for (; x + 8 <= a.W; x += 8)
          _mm256_store_ps(m + x, _mm256_max_ps(_mm256_max_ps(_mm256_loadu_ps(r0 + x), _mm256_loadu_ps(r1 + x)),
                                               _mm256_loadu_ps(r2 + x)));
        for (; x < a.W; ++x) m[x] = std::max(std::max(r0[x], r1[x]), r2[x]);
      } else {
        for (; x < a.W; ++x) {
          float v = r0[x];
          for (int y = y0 + 1; y < y1; ++y) v = std::max(v, in[size_t(y) * a.W + x]);
          m[x] = v;
        }
      }
      float* o = out + size_t(oy) * a.OW;
      int ox = 0;
      for (; ox + 8 <= full; ox += 8) {  // reads m[2ox .. 2ox+17] (lane 17 unused), inside the buffer
        __m256 e0, o0, e1, o1;
        deinterleave(m + 2 * ox, e0, o0);
        deinterleave(m + 2 * ox + 2, e1, o1);  // e1 = m[2ox+2], m[2ox+4], ...
        _mm256_storeu_ps(o + ox, _mm256_max_ps(_mm256_max_ps(e0, o0), e1));
      }
      for (; ox < a.OW; ++ox) {
        const int x0 = ox * 2, x1 = std::min(x0 + 3, a.W);
        float v = m[x0];
        for (int xx = x0 + 1; xx < x1; ++xx) v = std::max(v, m[xx]);
        o[ox] = v;
      }
    }
  }
}

}  // namespace bluefire
