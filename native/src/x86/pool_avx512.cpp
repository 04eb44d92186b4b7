// AVX-512F max-pool and stride-2 column gather (compiled with -mavx512f -mavx2 -mfma on this file
// only). Max-pool: SqueezeNet's 3x3 stride-2 windows on rows of at most 32 columns; wider rows and
// other windows go to the AVX2 kernel.
// A whole input row is two zmm, so each output row is: the column maxima of its (1-3) input rows,
// then columns 2x, 2x+1, 2x+2 picked by two-source permutes, one masked store. Loads past the row
// fill with -inf, so a ceil-mode window clipped on the right needs no scalar edge. At 64x64 input
// the three pools (31, 15 and 7 columns) took 8.4 us with the AVX2 kernel, whose 8-output steps
// handle a 15-output row in two iterations plus tail tests.
#include <immintrin.h>

#include <algorithm>
#include <cstddef>

#include "../variants.h"

namespace bluefire {

namespace {

// One channel. `wide`: rows of 17-32 columns take two zmm; up to 16, one (the upper half is -inf).
template <bool wide>
void pool_channel(const MaxPoolArgs& a, const float* in, float* out) {
  const __m512 ninf = _mm512_set1_ps(-__builtin_inff());
  const __mmask16 lo_mask = __mmask16((1u << std::min(a.W, 16)) - 1u);
  const __mmask16 hi_mask = __mmask16((1u << std::max(a.W - 16, 0)) - 1u);
  const __mmask16 out_mask = __mmask16((1u << a.OW) - 1u);
  // Lane x of `e` is column 2x, of `o` 2x+1 (indices 16.. name the second source); `e1` shifts `e`
  // down a lane (column 2x+2), lane 15 taking -inf (column 32 is never in the row).
  const __m512i even_idx = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd_idx = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  const __m512i next_idx = _mm512_setr_epi32(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16);
  auto row_lo = [&](int y) { return _mm512_mask_loadu_ps(ninf, lo_mask, in + size_t(y) * a.W); };
  auto row_hi = [&](int y) { return wide ? _mm512_mask_loadu_ps(ninf, hi_mask, in + size_t(y) * a.W + 16) : ninf; };
  for (int oy = 0; oy < a.OH; ++oy) {
    const int y0 = std::max(oy * 2 - a.pad_top, 0), y1 = std::min(oy * 2 - a.pad_top + 3, a.H);
    __m512 lo, hi;
    if (y1 - y0 == 3) {  // the common case, unrolled
      lo = _mm512_max_ps(_mm512_max_ps(row_lo(y0), row_lo(y0 + 1)), row_lo(y0 + 2));
      hi = wide ? _mm512_max_ps(_mm512_max_ps(row_hi(y0), row_hi(y0 + 1)), row_hi(y0 + 2)) : ninf;
    } else {  // a window clipped by the top padding or the bottom edge (ceil mode)
      lo = hi = ninf;
      for (int y = y0; y < y1; ++y) lo = _mm512_max_ps(lo, row_lo(y)), hi = _mm512_max_ps(hi, row_hi(y));
    }
    const __m512 e = _mm512_permutex2var_ps(lo, even_idx, hi), o = _mm512_permutex2var_ps(lo, odd_idx, hi);
    const __m512 e1 = _mm512_permutex2var_ps(e, next_idx, ninf);
    _mm512_mask_storeu_ps(out + size_t(oy) * a.OW, out_mask, _mm512_max_ps(_mm512_max_ps(e, o), e1));
  }
}

}  // namespace

void maxpool_avx512(const MaxPoolArgs& a) {
  if (a.kh != 3 || a.kw != 3 || a.sh != 2 || a.sw != 2 || a.pad_left != 0 || a.W > 32 || a.OW > 16) {
    maxpool_avx2(a);
    return;
  }
  for (int c = a.c0; c < a.c1; ++c) {
    const float* in = a.in + size_t(c) * a.H * a.W;
    float* out = a.out + size_t(c) * a.OH * a.OW;
    if (a.W > 16) pool_channel<true>(a, in, out);
    else pool_channel<false>(a, in, out);
  }
}

// Every other column, 16 outputs from two loads and one two-source permute. The stems' shifted
// planes (18 of 32 x 31 floats at 64x64 input) took 3.4 us as a compiled scalar loop, a sixth of
// the pruned model's stem; 1.8 us this way (microbenchmark; unmasked loads or stores measured no
// faster, so the permute's throughput is what bounds it).
void stride2_columns_avx512(const float* src, ptrdiff_t sld, int rows, int n, float* dst, int dld) {
  const __m512i even_idx = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  // Column blocks outside, rows inside: a block's masks are the same on every row (computing them
  // per row and block: 2.2 us instead of 1.8 on the 64x64 stem).
  for (int j = 0; j < n; j += 16) {
    const int m = std::min(16, n - j), used = 2 * m - 1;  // floats read: src[2j .. 2j + 2m - 2]
    const __mmask16 ma = __mmask16((1u << std::min(used, 16)) - 1u),
                    mb = __mmask16((1u << std::max(used - 16, 0)) - 1u);
    const __mmask16 ms = __mmask16((1u << m) - 1u);
    const float* s = src + 2 * j;
    float* d = dst + j;
    for (int r = 0; r < rows; ++r, s += sld, d += dld)
      _mm512_mask_storeu_ps(
          d, ms, _mm512_permutex2var_ps(_mm512_maskz_loadu_ps(ma, s), even_idx, _mm512_maskz_loadu_ps(mb, s + 16)));
  }
}

}  // namespace bluefire
