// int8 GEMM, AVX2: blocks of 4 output channels x 16 pixels. Activations are zero-extended to 16
// bits and multiplied with vpmaddwd against int16 weight pairs (k, k+1): exact, no vpmaddubsw
// saturation. Weights packed with mr 4, kgroup 2, int16 (see kernels_s8.h).
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "bluefire/kernels_s8.h"
#include "x86/gemm_s8_x86.h"

namespace bluefire {
namespace {
constexpr int kMr = 4, kPx = kS8Px;

// 8 accumulators -> requantized uint8 in the low 8 bytes (kernels_s8.h): float product, clamp,
// round to even.
inline __m128i requant8(__m256i v, __m256 scale, __m256 flo, __m256 fhi, __m256i zc) {
  __m256 f = _mm256_mul_ps(_mm256_cvtepi32_ps(v), scale);
  f = _mm256_min_ps(_mm256_max_ps(f, flo), fhi);
  v = _mm256_add_epi32(_mm256_cvtps_epi32(f), zc);
  const __m128i p16 = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  return _mm_packus_epi16(p16, p16);
}

// One block: rows [m0, m0 + rows) (rows <= 4) x the 16 pixels widened in bp: per k pair two ymm of
// 8 pixels' (x_k, x_k+1) int16 pairs.
inline void block(const GemmU8Args& a, const int16_t* w, int m0, int rows, const __m256i* bp, int npx, uint8_t* out) {
  __m256i acc[kMr][2];
  for (int i = 0; i < kMr; ++i) acc[i][0] = acc[i][1] = _mm256_setzero_si256();
  const int kq = (a.K + 1) / 2;
  for (int q = 0; q < kq; ++q) {
    const __m256i lo = _mm256_load_si256(bp + 2 * q), hi = _mm256_load_si256(bp + 2 * q + 1);
    const int16_t* wk = w + size_t(q) * kMr * 2;
    for (int i = 0; i < kMr; ++i) {
      int32_t pair;
      std::memcpy(&pair, wk + 2 * i, 4);
      const __m256i wv = _mm256_set1_epi32(pair);
      acc[i][0] = _mm256_add_epi32(acc[i][0], _mm256_madd_epi16(lo, wv));
      acc[i][1] = _mm256_add_epi32(acc[i][1], _mm256_madd_epi16(hi, wv));
    }
  }
  const __m256i zc = _mm256_set1_epi32(a.zc);
  const __m256 flo = _mm256_set1_ps(float(a.lo - a.zc)), fhi = _mm256_set1_ps(float(a.hi - a.zc));
  for (int i = 0; i < rows; ++i) {
    const int m = m0 + i;
    const __m256i b = _mm256_set1_epi32(a.bias[m]);
    const __m256 s = _mm256_set1_ps(a.scale[m]);
    const __m128i q0 = requant8(_mm256_add_epi32(acc[i][0], b), s, flo, fhi, zc);
    const __m128i q1 = requant8(_mm256_add_epi32(acc[i][1], b), s, flo, fhi, zc);
    const __m128i q = _mm_unpacklo_epi64(q0, q1);
    store_c_row(q, npx, out + size_t(i) * a.ldc);
  }
}
}  // namespace

// Each block of 16 pixels is widened once (K ymm) and then read by every panel of 4 rows.
void gemm_u8_avx2(const GemmU8Args& a) {
  __m256i bp[kMaxKS8 + 2];
  const int kp = (a.K + 1) / 2 * 2;
  for (int n = 0; n < a.N; n += kPx) {
    const int npx = std::min(kPx, a.N - n);
    auto row = [&](int k) { return load_b_row(a, k, n, npx); };
    for (int k = 0; k < a.K; k += 2) {
      const __m128i x0 = row(k), x1 = row(k + 1);
      bp[k] = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(x0, x1));      // pixels 0-7: (x_k, x_k+1)
      bp[k + 1] = _mm256_cvtepu8_epi16(_mm_unpackhi_epi8(x0, x1));  // pixels 8-15
    }
    for (int m0 = 0; m0 < a.M; m0 += kMr)
      block(a, static_cast<const int16_t*>(a.a) + size_t(m0 / kMr) * kMr * kp, m0, std::min(kMr, a.M - m0), bp, npx,
            a.c + size_t(m0) * a.ldc + n);
  }
}

}  // namespace bluefire
