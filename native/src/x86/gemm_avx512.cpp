// AVX-512F convolution GEMM (compiled with -mavx512f -mavx2 -mfma on this file only).
// Register block: 6 weight rows x 32 pixels = 12 zmm accumulators, 2 zmm of pixels and one
// broadcast weight per k; a 17..31-column tail is one 6x32 block with its upper half masked, a
// 1..16-column tail a 6x16 block with masked loads/stores, on the same running column index. Same packing (mr 6) and contract as the AVX2 kernel; on Zen 4 the
// gain is fewer instructions per FMA, not wider arithmetic.
#include <immintrin.h>

#include <algorithm>

#include "../variants.h"

namespace bluefire {
namespace {

constexpr int MR = kAvx512Mr;

inline __m512 finish(__m512 v, float bias, bool relu) {
  v = _mm512_add_ps(v, _mm512_set1_ps(bias));
  return relu ? _mm512_max_ps(v, _mm512_setzero_ps()) : v;
}

// 32 columns; with `masked`, columns 16.. are those `hi` selects (a 17..31-column tail, e.g. the
// 31-wide stem rows at 64x64 input: one 6x32 block instead of two 6x16 ones).
template <bool masked>
void block_32(const GemmArgs& g, const float* ap, int m0, int rows, int n, __mmask16 hi = 0xffff) {
  __m512 c00 = _mm512_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
  __m512 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
  const float* bp = g.b + n;
  for (int k = 0; k < g.K; ++k, ap += MR) {
    const float* row = bp + g.brow[k];
    __m512 b0 = _mm512_loadu_ps(row), b1 = masked ? _mm512_maskz_loadu_ps(hi, row + 16) : _mm512_loadu_ps(row + 16), a;
    a = _mm512_set1_ps(ap[0]); c00 = _mm512_fmadd_ps(a, b0, c00); c01 = _mm512_fmadd_ps(a, b1, c01);
    a = _mm512_set1_ps(ap[1]); c10 = _mm512_fmadd_ps(a, b0, c10); c11 = _mm512_fmadd_ps(a, b1, c11);
    a = _mm512_set1_ps(ap[2]); c20 = _mm512_fmadd_ps(a, b0, c20); c21 = _mm512_fmadd_ps(a, b1, c21);
    a = _mm512_set1_ps(ap[3]); c30 = _mm512_fmadd_ps(a, b0, c30); c31 = _mm512_fmadd_ps(a, b1, c31);
    a = _mm512_set1_ps(ap[4]); c40 = _mm512_fmadd_ps(a, b0, c40); c41 = _mm512_fmadd_ps(a, b1, c41);
    a = _mm512_set1_ps(ap[5]); c50 = _mm512_fmadd_ps(a, b0, c50); c51 = _mm512_fmadd_ps(a, b1, c51);
  }
  const __m512 lo[MR] = {c00, c10, c20, c30, c40, c50}, up[MR] = {c01, c11, c21, c31, c41, c51};
  for (int i = 0; i < rows; ++i) {
    float* cp = g.c + size_t(m0 + i) * g.ldc + n;
    _mm512_storeu_ps(cp, finish(lo[i], g.bias[m0 + i], g.relu));
    if (masked) _mm512_mask_storeu_ps(cp + 16, hi, finish(up[i], g.bias[m0 + i], g.relu));
    else _mm512_storeu_ps(cp + 16, finish(up[i], g.bias[m0 + i], g.relu));
  }
}

// Up to 16 columns; `mask` selects the valid ones (all 16 for a full block).
void block_16(const GemmArgs& g, const float* ap, int m0, int rows, int n, __mmask16 mask) {
  __m512 c0 = _mm512_setzero_ps(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0;
  const float* bp = g.b + n;
  for (int k = 0; k < g.K; ++k, ap += MR) {
    const __m512 b = _mm512_maskz_loadu_ps(mask, bp + g.brow[k]);
    c0 = _mm512_fmadd_ps(_mm512_set1_ps(ap[0]), b, c0);
    c1 = _mm512_fmadd_ps(_mm512_set1_ps(ap[1]), b, c1);
    c2 = _mm512_fmadd_ps(_mm512_set1_ps(ap[2]), b, c2);
    c3 = _mm512_fmadd_ps(_mm512_set1_ps(ap[3]), b, c3);
    c4 = _mm512_fmadd_ps(_mm512_set1_ps(ap[4]), b, c4);
    c5 = _mm512_fmadd_ps(_mm512_set1_ps(ap[5]), b, c5);
  }
  const __m512 acc[MR] = {c0, c1, c2, c3, c4, c5};
  for (int i = 0; i < rows; ++i)
    _mm512_mask_storeu_ps(g.c + size_t(m0 + i) * g.ldc + n, mask, finish(acc[i], g.bias[m0 + i], g.relu));
}

}  // namespace

void gemm_avx512(const GemmArgs& g) {
  // Pixels outer, weight panels inner, as in the AVX2 kernel. 1x1 convolutions read B rows a
  // whole channel plane apart; the 2 KB strip (K x 128 bytes) is still reused by every panel.
  int n = 0;
  for (; n + 32 <= g.N; n += 32)
    for (int m0 = 0; m0 < g.M; m0 += MR) block_32<false>(g, g.a + size_t(m0) * g.K, m0, std::min(MR, g.M - m0), n);
  if (g.N - n > 16) {
    const __mmask16 hi = __mmask16((1u << (g.N - n - 16)) - 1u);
    for (int m0 = 0; m0 < g.M; m0 += MR) block_32<true>(g, g.a + size_t(m0) * g.K, m0, std::min(MR, g.M - m0), n, hi);
    n = g.N;
  }
  for (; n < g.N; n += 16) {
    const int cols = std::min(16, g.N - n);
    const __mmask16 mask = __mmask16((1u << cols) - 1u);
    for (int m0 = 0; m0 < g.M; m0 += MR) block_16(g, g.a + size_t(m0) * g.K, m0, std::min(MR, g.M - m0), n, mask);
  }
}

}  // namespace bluefire
