// AVX2 max-pool for SqueezeNet's 3x3 stride-2 windows (compiled with -mavx2 -mfma, this file only).
// Per output row, 8 outputs at a time: the column maxima of the three input rows, then the maxima
// of columns 2x, 2x+1, 2x+2 from even/odd de-interleaved vectors, all in registers. Windows clipped
// by a ceil-mode edge are done scalar here; any other window shape goes to the reference.
#include <immintrin.h>

#include <algorithm>
#include <cstddef>

#include "../variants.h"

namespace bluefire {
namespace {

constexpr int kRowMax = 2048;  // widest row the stack buffer holds

// Evens and odds of a:b (16 floats): (a0, a2, ..., b6) and (a1, a3, ..., b7).
inline void deinterleave(__m256 a, __m256 b, __m256& even, __m256& odd) {
  const __m256 e = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));  // a0 a2 b0 b2 | a4 a6 b4 b6
  const __m256 o = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1));
  even = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), _MM_SHUFFLE(3, 1, 2, 0)));
  odd = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(o), _MM_SHUFFLE(3, 1, 2, 0)));
}

inline __m256i tail_mask(int n) {  // the first n (0..8) lanes
  alignas(32) static const int m[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(m + 8 - n));
}

// Column maxima of three rows at columns x .. x+7; lanes at or past W are not used by the caller:
// read from the following row while that is inside the call's input (`room`: floats after r2 + x),
// else zero by masked loads.
inline __m256 max3(const float* r0, const float* r1, const float* r2, int x, int W, ptrdiff_t room) {
  if (x + 8 <= W || room >= 8)
    return _mm256_max_ps(_mm256_max_ps(_mm256_loadu_ps(r0 + x), _mm256_loadu_ps(r1 + x)), _mm256_loadu_ps(r2 + x));
  if (x >= W) return _mm256_setzero_ps();
  const __m256i k = tail_mask(W - x);
  return _mm256_max_ps(_mm256_max_ps(_mm256_maskload_ps(r0 + x, k), _mm256_maskload_ps(r1 + x, k)),
                       _mm256_maskload_ps(r2 + x, k));
}

}  // namespace

void maxpool_avx2(const MaxPoolArgs& a) {
  if (a.kh != 3 || a.kw != 3 || a.sh != 2 || a.sw != 2 || a.pad_left != 0 || a.W + 16 > kRowMax) {
    maxpool_ref(a);
    return;
  }
  alignas(32) float m[kRowMax];  // column maxima of a window row clipped at the bottom (ceil mode)
  // Output columns whose window lies inside the row; the rest (a ceil-mode edge) are done last.
  const int full = a.W < 3 ? 0 : std::min(a.OW, (a.W - 3) / 2 + 1);  // (a 1-2 column map has none)
  for (int c = a.c0; c < a.c1; ++c) {
    const float* in = a.in + size_t(c) * a.H * a.W;
    float* out = a.out + size_t(c) * a.OH * a.OW;
    for (int oy = 0; oy < a.OH; ++oy) {
      const int y0 = std::max(oy * 2 - a.pad_top, 0), y1 = std::min(oy * 2 - a.pad_top + 3, a.H);
      const float* r0 = in + size_t(y0) * a.W;
      float* o = out + size_t(oy) * a.OW;
      int ox = 0;
      if (y1 - y0 == 3) {
        // Straight from the three input rows, in registers: output columns ox .. ox+7 need the
        // column maxima 2ox .. 2ox+16. (Going through a stored row buffer and reading it back at
        // an odd offset stalls on store forwarding, which dominated on 7-15 column maps.)
        const float *r1 = r0 + a.W, *r2 = r1 + a.W;
        // This call owns channels [c0, c1): reads and stores may run into the next channel's
        // plane, which is read (input) or written later (output); only the last one is guarded.
        const float* plane_end = a.in + size_t(a.c1) * a.H * a.W;
        float* out_end = a.out + size_t(a.c1) * a.OH * a.OW;
        for (; ox < full; ox += 8) {
          const int x = 2 * ox;
          const __m256 lo = max3(r0, r1, r2, x, a.W, plane_end - (r2 + x)),
                       hi = max3(r0, r1, r2, x + 8, a.W, plane_end - (r2 + x + 8));
          const float last = x + 16 < a.W ? std::max(std::max(r0[x + 16], r1[x + 16]), r2[x + 16]) : 0.f;
          __m256 e0, o0;
          deinterleave(lo, hi, e0, o0);
          // e1 = column maxima 2ox+2, 2ox+4, ..., 2ox+16: e0 moved down one lane, `last` on top
          const __m256 e1 = _mm256_blend_ps(_mm256_permutevar8x32_ps(e0, _mm256_setr_epi32(1, 2, 3, 4, 5, 6, 7, 0)),
                                            _mm256_set1_ps(last), 0x80);
          const __m256 r = _mm256_max_ps(_mm256_max_ps(e0, o0), e1);
          // A short row's extra lanes land on the next output row (or channel), which is written
          // after this one; only at the end of the call's output are they kept out (masked
          // stores are slow on AMD).
          if (ox + 8 <= full || o + ox + 8 <= out_end) _mm256_storeu_ps(o + ox, r);
          else _mm256_maskstore_ps(o + ox, tail_mask(full - ox), r);
        }
        ox = full;
      } else {
        int x = 0;
        for (; x < a.W; ++x) {
          float v = r0[x];
          for (int y = y0 + 1; y < y1; ++y) v = std::max(v, in[size_t(y) * a.W + x]);
          m[x] = v;
        }
        for (; ox < full; ++ox) o[ox] = std::max(std::max(m[2 * ox], m[2 * ox + 1]), m[2 * ox + 2]);
      }
      for (; ox < a.OW; ++ox) {  // a window clipped on the right (ceil mode)
        const int x0 = ox * 2, x1 = std::min(x0 + 3, a.W);
        float v = r0[x0];
        for (int y = y0; y < y1; ++y)
          for (int xx = x0; xx < x1; ++xx) v = std::max(v, in[size_t(y) * a.W + xx]);
        o[ox] = v;
      }
    }
  }
}

// Every other column of `rows` rows (KernelTable::stride2_columns, the stride-2 shifted planes): 8
// outputs from two loads, a shuffle and a lane permute (the de-interleave above). Column blocks
// outside, rows inside. Blocks read src[2j .. 2j + 15]; the last one, which may only read up to
// src[2n - 2], is taken overlapping at j = n - 8 from src[2j - 1 .. 2j + 14] and its odd lanes.
// Rows of fewer than 9 outputs are copied scalar.
void stride2_columns_avx2(const float* src, ptrdiff_t sld, int rows, int n, float* dst, int dld) {
  if (n < 9) {
    stride2_columns_ref(src, sld, rows, n, dst, dld);
    return;
  }
  int j = 0;
  for (; j + 9 <= n; j += 8) {
    const float* s = src + 2 * j;
    float* d = dst + j;
    for (int r = 0; r < rows; ++r, s += sld, d += dld) {
      __m256 e, o;
      deinterleave(_mm256_loadu_ps(s), _mm256_loadu_ps(s + 8), e, o);
      _mm256_storeu_ps(d, e);
    }
  }
  if (j < n) {  // the last 8 outputs, j = n - 8 >= 1: odd lanes of src[2j - 1 .. 2j + 14]
    j = n - 8;
    const float* s = src + 2 * j - 1;
    float* d = dst + j;
    for (int r = 0; r < rows; ++r, s += sld, d += dld) {
      __m256 e, o;
      deinterleave(_mm256_loadu_ps(s), _mm256_loadu_ps(s + 8), e, o);
      _mm256_storeu_ps(d, o);
    }
  }
}

}  // namespace bluefire
