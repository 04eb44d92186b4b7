// AVX2/FMA convolution GEMM (compiled with -mavx2 -mfma on this file only).
// Register block: 6 weight rows x 16 pixels = 12 ymm accumulators, 2 ymm of pixels and one
// broadcast weight per k (the last panel's 1-5 rows in a smaller block); then 8 columns of two
// panels at once, then a masked (2..7)-column tail likewise on the same running column index,
// or a single last column vectorised over panel rows (column_panels). Every output is one FMA
// chain over k in order, whichever block computes it.
// Maps of at most 4 pixels (fire6-9 at 32x32 input) take a column path that vectorizes over
// the 6 output channels of a panel with 8 independent chains instead.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "../variants.h"

namespace bluefire {
namespace {

constexpr int MR = kAvx2Mr;
constexpr int kPackMaxK = 1024;  // a packed strip lives on the stack: 64 KiB at most

inline __m256 finish(__m256 v, float bias, bool relu) {
  v = _mm256_add_ps(v, _mm256_set1_ps(bias));
  return relu ? _mm256_max_ps(v, _mm256_setzero_ps()) : v;
}

inline __m256i tail_mask(int n) {
  alignas(32) static const int m[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(m + 8 - n));
}

// Row k of B: b + brow[k] (any offsets), or, when the offsets are k * stride (1x1 planes, a
// packed strip, Winograd's products, im2col), a pointer bumped by the stride: no offset load and
// no address arithmetic on the k loop's critical path.
struct TableRows {
  const int* brow;
  const float* at(const float* bp, int k) const { return bp + brow[k]; }
};
struct StrideRows {
  ptrdiff_t stride;
  const float* at(const float* bp, int k) const { return bp + k * stride; }
};

// Offsets k * stride for every k: the stride, else 0 (the stem's shifted planes, padded rows).
ptrdiff_t row_stride(const GemmArgs& g) {
  if (g.K < 2) return 0;
  const int s = g.brow[1] - g.brow[0];
  if (s <= 0 || g.brow[0] != 0) return 0;
  for (int k = 2; k < g.K; ++k)
    if (g.brow[k] != int64_t(k) * s) return 0;
  return s;
}

// With `prefetch`, each row's line kPrefetchAhead floats on is fetched into L1 as the row is read:
// a 1x1 layer's B rows are K planes far apart, more streams than the hardware prefetchers follow.
constexpr int kPrefetchAhead = 64;

template <class Rows, bool prefetch = false, bool prefetch_a = false>
void block_16(const GemmArgs& g, Rows rows_of, const float* ap, int m0, int n) {
  float* cp = g.c + size_t(m0) * g.ldc + n;
  const size_t ldc = size_t(g.ldc);
  __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
  __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
  const float* bp = g.b + n;
  const int K = g.K;
  for (int k = 0; k < K; ++k, ap += MR) {
    const float* row = rows_of.at(bp, k);
    if (prefetch) _mm_prefetch(reinterpret_cast<const char*>(row + kPrefetchAhead), _MM_HINT_T0);
    if (prefetch_a && (k & 1))
      _mm_prefetch(reinterpret_cast<const char*>(ap + 2 * MR * K), _MM_HINT_T0);  // 48 B a step
    __m256 b0 = _mm256_loadu_ps(row), b1 = _mm256_loadu_ps(row + 8), a;
    a = _mm256_broadcast_ss(ap + 0);
    c00 = _mm256_fmadd_ps(a, b0, c00);
    c01 = _mm256_fmadd_ps(a, b1, c01);
    a = _mm256_broadcast_ss(ap + 1);
    c10 = _mm256_fmadd_ps(a, b0, c10);
    c11 = _mm256_fmadd_ps(a, b1, c11);
    a = _mm256_broadcast_ss(ap + 2);
    c20 = _mm256_fmadd_ps(a, b0, c20);
    c21 = _mm256_fmadd_ps(a, b1, c21);
    a = _mm256_broadcast_ss(ap + 3);
    c30 = _mm256_fmadd_ps(a, b0, c30);
    c31 = _mm256_fmadd_ps(a, b1, c31);
    a = _mm256_broadcast_ss(ap + 4);
    c40 = _mm256_fmadd_ps(a, b0, c40);
    c41 = _mm256_fmadd_ps(a, b1, c41);
    a = _mm256_broadcast_ss(ap + 5);
    c50 = _mm256_fmadd_ps(a, b0, c50);
    c51 = _mm256_fmadd_ps(a, b1, c51);
  }
  const __m256 lo[MR] = {c00, c10, c20, c30, c40, c50}, hi[MR] = {c01, c11, c21, c31, c41, c51};
  // Output pointer, stride, bias and ReLU in locals, and the panel unrolled: on short k loops
  // (the stem's K = 27) the stores are a tenth of the block's time.
  const float* bias = g.bias + m0;
  const bool relu = g.relu;
#pragma GCC unroll 6
  for (int i = 0; i < MR; ++i) {
    // Output rows far apart (a 1x1 layer's planes): their next lines fetched for writing ahead.
    if (ldc >= 1024) _mm_prefetch(reinterpret_cast<const char*>(cp + i * ldc + kPrefetchAhead), _MM_HINT_ET0);
    _mm256_storeu_ps(cp + i * ldc, finish(lo[i], bias[i], relu));
    _mm256_storeu_ps(cp + i * ldc + 8, finish(hi[i], bias[i], relu));
  }
}

// The last panel's R < 6 rows (M = 16, 32, 64, 128, 256, 1000: 4 or 2 rows) on 16 columns: 2R
// accumulators instead of 12 with zero rows, so a 4-row panel takes 2/3 of a whole one's time.
template <class Rows, bool prefetch, int R>
void block_16_part(const GemmArgs& g, Rows rows_of, const float* ap, int m0, int n) {
  __m256 lo[R], hi[R];
#pragma GCC unroll 6
  for (int i = 0; i < R; ++i) lo[i] = hi[i] = _mm256_setzero_ps();
  const float* bp = g.b + n;
  const int K = g.K;
  for (int k = 0; k < K; ++k, ap += MR) {
    const float* row = rows_of.at(bp, k);
    if (prefetch) _mm_prefetch(reinterpret_cast<const char*>(row + kPrefetchAhead), _MM_HINT_T0);
    const __m256 b0 = _mm256_loadu_ps(row), b1 = _mm256_loadu_ps(row + 8);
#pragma GCC unroll 6
    for (int i = 0; i < R; ++i) {
      const __m256 a = _mm256_broadcast_ss(ap + i);
      lo[i] = _mm256_fmadd_ps(a, b0, lo[i]);
      hi[i] = _mm256_fmadd_ps(a, b1, hi[i]);
    }
  }
  float* cp = g.c + size_t(m0) * g.ldc + n;
  const size_t ldc = size_t(g.ldc);
#pragma GCC unroll 6
  for (int i = 0; i < R; ++i) {
    if (ldc >= 1024) _mm_prefetch(reinterpret_cast<const char*>(cp + i * ldc + kPrefetchAhead), _MM_HINT_ET0);
    _mm256_storeu_ps(cp + i * ldc, finish(lo[i], g.bias[m0 + i], g.relu));
    _mm256_storeu_ps(cp + i * ldc + 8, finish(hi[i], g.bias[m0 + i], g.relu));
  }
}

template <class Rows, bool prefetch>
void part_16(const GemmArgs& g, Rows rows_of, const float* ap, int m0, int rows, int n) {
  switch (rows) {
    case 5: block_16_part<Rows, prefetch, 5>(g, rows_of, ap, m0, n); break;
    case 4: block_16_part<Rows, prefetch, 4>(g, rows_of, ap, m0, n); break;
    case 3: block_16_part<Rows, prefetch, 3>(g, rows_of, ap, m0, n); break;
    case 2: block_16_part<Rows, prefetch, 2>(g, rows_of, ap, m0, n); break;
    default: block_16_part<Rows, prefetch, 1>(g, rows_of, ap, m0, n); break;
  }
}

// Every panel of the call on the 16 columns at n; the first one prefetches B's rows with
// `prefetch_b`, and with `prefetch_a` each block prefetches the weights two panels on: the first
// strip of a call over many weights (the classifier's 2 MB) reads them from memory, not L2.
template <class Rows>
void panels_16(const GemmArgs& g, Rows rows_of, int n, bool prefetch_b, bool prefetch_a) {
  const int whole = g.M / MR * MR;
  int m0 = 0;
  if (prefetch_b && whole > 0) {
    block_16<Rows, true>(g, rows_of, g.a, 0, n);
    m0 = MR;
  }
  if (prefetch_a)
    for (; m0 < whole; m0 += MR) block_16<Rows, false, true>(g, rows_of, g.a + size_t(m0) * g.K, m0, n);
  for (; m0 < whole; m0 += MR) block_16(g, rows_of, g.a + size_t(m0) * g.K, m0, n);
  if (whole == g.M) return;
  const float* ap = g.a + size_t(whole) * g.K;
  if (prefetch_b && whole == 0) part_16<Rows, true>(g, rows_of, ap, whole, g.M - whole, n);
  else part_16<Rows, false>(g, rows_of, ap, whole, g.M - whole, n);
}

// 8 columns, or fewer with `masked` (then `mask` selects the first `cols`), of P panels (rows m0 ..
// m0 + 6P - 1, those below M): with P = 2 the 12 accumulators are enough independent chains for
// the FMA latency (6 are not: one panel runs at most 3/4 of the FMA rate). Each output is the same
// single chain over k as in block_16, so a column gives the same result in either block.
template <bool masked, int P>
void block_8(const GemmArgs& g, const float* ap, int m0, int n, __m256i mask) {
  __m256 acc[P][MR];
#pragma GCC unroll 2
  for (int p = 0; p < P; ++p)
#pragma GCC unroll 6
    for (int i = 0; i < MR; ++i) acc[p][i] = _mm256_setzero_ps();
  const size_t ps = size_t(MR) * g.K;  // floats per panel
  const float* bp = g.b + n;
  for (int k = 0; k < g.K; ++k, ap += MR) {
    const float* row = bp + g.brow[k];
    const __m256 b = masked ? _mm256_maskload_ps(row, mask) : _mm256_loadu_ps(row);
#pragma GCC unroll 2
    for (int p = 0; p < P; ++p)
#pragma GCC unroll 6
      for (int i = 0; i < MR; ++i) acc[p][i] = _mm256_fmadd_ps(_mm256_broadcast_ss(ap + p * ps + i), b, acc[p][i]);
  }
  alignas(32) float t[P][MR][8];
#pragma GCC unroll 2
  for (int p = 0; p < P; ++p)
#pragma GCC unroll 6
    for (int i = 0; i < MR; ++i) _mm256_store_ps(t[p][i], acc[p][i]);
  const int rows = std::min(MR * P, g.M - m0);
  for (int r = 0; r < rows; ++r) {
    float* cp = g.c + size_t(m0 + r) * g.ldc + n;
    const __m256 v = finish(_mm256_load_ps(t[r / MR][r % MR]), g.bias[m0 + r], g.relu);
    if (masked) _mm256_maskstore_ps(cp, mask, v);
    else _mm256_storeu_ps(cp, v);
  }
}

// Every panel on the 8 (or, masked, fewer) columns at n: two panels per block, then one.
template <bool masked>
void panels_8(const GemmArgs& g, int n, __m256i mask) {
  int m0 = 0;
  for (; m0 + MR < g.M; m0 += 2 * MR) block_8<masked, 2>(g, g.a + size_t(m0) * g.K, m0, n, mask);
  if (m0 < g.M) block_8<masked, 1>(g, g.a + size_t(m0) * g.K, m0, n, mask);
}

// One output pixel, one panel: lanes 0..5 are the panel's rows; 8 chains hide the FMA latency.
void column(const GemmArgs& g, const float* ap, int m0, int rows, int n) {
  __m256 acc[8];
  for (auto& v : acc) v = _mm256_setzero_ps();
  const float* bp = g.b + n;
  int k = 0;
  for (; k + 8 <= g.K; k += 8)
    for (int j = 0; j < 8; ++j)
      acc[j] =
          _mm256_fmadd_ps(_mm256_loadu_ps(ap + size_t(k + j) * MR), _mm256_broadcast_ss(bp + g.brow[k + j]), acc[j]);
  for (; k < g.K; ++k)
    acc[0] = _mm256_fmadd_ps(_mm256_loadu_ps(ap + size_t(k) * MR), _mm256_broadcast_ss(bp + g.brow[k]), acc[0]);
  __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])),
                           _mm256_add_ps(_mm256_add_ps(acc[4], acc[5]), _mm256_add_ps(acc[6], acc[7])));
  alignas(32) float out[8];
  _mm256_store_ps(out, s);
  for (int i = 0; i < rows; ++i) {
    float v = out[i] + g.bias[m0 + i];
    g.c[size_t(m0 + i) * g.ldc + n] = g.relu ? std::max(v, 0.f) : v;
  }
}

// One column n of P consecutive panels (rows m0 .. m0 + 6P - 1, those below M), vectorised over
// each panel's 6 rows (lanes 6-7 read the next k's rows and are dropped; kPackSlack covers the
// last panel): a 1-column tail (49 = 3 x 16 + 1 on 7x7 maps, 225, 729, 961, 3025) costs P FMAs per
// k instead of a masked 6x8 block's 6 per panel for one useful lane. P independent chains.
template <int P>
void column_panels(const GemmArgs& g, const float* ap, int m0, int n) {
  __m256 acc[P];
#pragma GCC unroll 8
  for (int p = 0; p < P; ++p) acc[p] = _mm256_setzero_ps();
  const size_t ps = size_t(MR) * g.K;  // floats per panel
  const float* bp = g.b + n;
  for (int k = 0; k < g.K; ++k) {
    const __m256 b = _mm256_broadcast_ss(bp + g.brow[k]);
#pragma GCC unroll 8
    for (int p = 0; p < P; ++p) acc[p] = _mm256_fmadd_ps(_mm256_loadu_ps(ap + p * ps + size_t(k) * MR), b, acc[p]);
  }
  alignas(32) float t[P][8];
#pragma GCC unroll 8
  for (int p = 0; p < P; ++p) _mm256_store_ps(t[p], acc[p]);
  const int rows = std::min(MR * P, g.M - m0);
  for (int r = 0; r < rows; ++r) {
    const float v = t[r / MR][r % MR] + g.bias[m0 + r];
    g.c[size_t(m0 + r) * g.ldc + n] = g.relu ? std::max(v, 0.f) : v;
  }
}

void column_tail(const GemmArgs& g, int n) {
  for (int m0 = 0; m0 < g.M; m0 += 8 * MR) {
    const float* ap = g.a + size_t(m0) * g.K;
    switch (std::min(8, (g.M - m0 + MR - 1) / MR)) {
      case 8: column_panels<8>(g, ap, m0, n); break;
      case 7: column_panels<7>(g, ap, m0, n); break;
      case 6: column_panels<6>(g, ap, m0, n); break;
      case 5: column_panels<5>(g, ap, m0, n); break;
      case 4: column_panels<4>(g, ap, m0, n); break;
      case 3: column_panels<3>(g, ap, m0, n); break;
      case 2: column_panels<2>(g, ap, m0, n); break;
      default: column_panels<1>(g, ap, m0, n); break;
    }
  }
}

// Narrow calls (a few pixels): 16 weight rows in two ymm per k, each pixel's value broadcast,
// NC pixels at once; with NC <= 2, KU independent chains over k hide the FMA latency.
template <int NC, int KU>
void narrow_block(const GemmArgs& g, const float* ap, int m0, int rows, int n) {
  constexpr int R = kAvx2NarrowMr;
  __m256 lo[KU][NC], hi[KU][NC];
#pragma GCC unroll 4
  for (int u = 0; u < KU; ++u)
#pragma GCC unroll 8
    for (int j = 0; j < NC; ++j) lo[u][j] = hi[u][j] = _mm256_setzero_ps();
  const float* bp = g.b + n;
  int k = 0;
  for (; k + KU <= g.K; k += KU)
#pragma GCC unroll 4
    for (int u = 0; u < KU; ++u) {
      const float* a = ap + size_t(k + u) * R;
      const __m256 a0 = _mm256_loadu_ps(a), a1 = _mm256_loadu_ps(a + 8);
      const float* row = bp + g.brow[k + u];
#pragma GCC unroll 8
      for (int j = 0; j < NC; ++j) {
        const __m256 b = _mm256_broadcast_ss(row + j);
        lo[u][j] = _mm256_fmadd_ps(a0, b, lo[u][j]);
        hi[u][j] = _mm256_fmadd_ps(a1, b, hi[u][j]);
      }
    }
  for (; k < g.K; ++k) {
    const float* a = ap + size_t(k) * R;
    const __m256 a0 = _mm256_loadu_ps(a), a1 = _mm256_loadu_ps(a + 8);
    const float* row = bp + g.brow[k];
#pragma GCC unroll 8
    for (int j = 0; j < NC; ++j) {
      const __m256 b = _mm256_broadcast_ss(row + j);
      lo[0][j] = _mm256_fmadd_ps(a0, b, lo[0][j]);
      hi[0][j] = _mm256_fmadd_ps(a1, b, hi[0][j]);
    }
  }
  // Spill through a buffer with constant indices only: a runtime index into lo/hi would keep the
  // accumulators in memory inside the k loop.
  alignas(32) float t[NC][R];
#pragma GCC unroll 8
  for (int j = 0; j < NC; ++j) {
    __m256 l = lo[0][j], h = hi[0][j];
#pragma GCC unroll 4
    for (int u = 1; u < KU; ++u) l = _mm256_add_ps(l, lo[u][j]), h = _mm256_add_ps(h, hi[u][j]);
    _mm256_store_ps(t[j], l);
    _mm256_store_ps(t[j] + 8, h);
  }
  for (int j = 0; j < NC; ++j)
    for (int i = 0; i < rows; ++i) {
      const float v = t[j][i] + g.bias[m0 + i];
      g.c[size_t(m0 + i) * g.ldc + n + j] = g.relu ? std::max(v, 0.f) : v;
    }
}

}  // namespace

void gemm_narrow_avx2(const GemmArgs& g) {
  constexpr int R = kAvx2NarrowMr;
  for (int m0 = 0; m0 < g.M; m0 += R) {
    const float* ap = g.a + size_t(m0) * g.K;
    const int rows = std::min(R, g.M - m0);
    for (int n = 0; n < g.N;) {
      switch (std::min(6, g.N - n)) {
        case 6:
          narrow_block<6, 1>(g, ap, m0, rows, n);
          n += 6;
          break;
        case 5:
          narrow_block<5, 1>(g, ap, m0, rows, n);
          n += 5;
          break;
        case 4:
          narrow_block<4, 1>(g, ap, m0, rows, n);
          n += 4;
          break;
        case 3:
          narrow_block<3, 1>(g, ap, m0, rows, n);
          n += 3;
          break;
        case 2:
          narrow_block<2, 2>(g, ap, m0, rows, n);
          n += 2;
          break;
        default:
          narrow_block<1, 4>(g, ap, m0, rows, n);
          n += 1;
          break;
      }
    }
  }
}

void gemm_avx2(const GemmArgs& g) {
  if (g.N <= 4) {
    for (int m0 = 0; m0 < g.M; m0 += MR) {
      const float* ap = g.a + size_t(m0) * g.K;
      for (int n = 0; n < g.N; ++n) column(g, ap, m0, std::min(MR, g.M - m0), n);
    }
    return;
  }
  // Pixels outer, weight panels inner: a 16-pixel strip of B (K x 64 bytes) stays in L1
  // while every panel of A streams past it. A strip whose rows lie far apart (a 1x1
  // convolution reads whole channel planes) is first copied to an aligned contiguous block, when
  // at least 4 panels reuse it: M = 16 squeeze layers gain without the copy (native/README.md, the
  // AVX2 variant), while never copying was slower for M = 64 and M = 1000.
  int n = 0;
  const bool pack = g.M > 3 * MR && g.K >= 64 && g.K <= kPackMaxK && g.brow[g.K - 1] != (g.K - 1) * 16;
  const ptrdiff_t stride = row_stride(g);
  // Rows far apart (planes of a map, not a packed matrix) with room for the next strips ahead.
  const bool prefetch = (stride ? stride : g.brow[g.K - 1] - g.brow[0]) >= 1024 && g.N >= 64;
  for (; n + 16 <= g.N; n += 16) {
    if (pack) {
      alignas(64) float strip[kPackMaxK * 16];
      for (int k = 0; k < g.K; ++k) {
        const float* src = g.b + g.brow[k] + n;
        _mm_prefetch(reinterpret_cast<const char*>(src + kPrefetchAhead), _MM_HINT_T0);
        _mm256_store_ps(strip + 16 * k, _mm256_loadu_ps(src));
        _mm256_store_ps(strip + 16 * k + 8, _mm256_loadu_ps(src + 8));
      }
      GemmArgs s = g;
      s.b = strip - n;  // block_16 reads s.b + n + k * 16
      panels_16(s, StrideRows{16}, n, false, n == 0);
      continue;
    }
    if (stride) panels_16(g, StrideRows{stride}, n, prefetch, n == 0);
    else panels_16(g, TableRows{g.brow}, n, prefetch, n == 0);
  }
  if (n + 8 <= g.N) {
    panels_8<false>(g, n, __m256i());
    n += 8;
  }
  if (g.N - n == 1) {  // one last column (see column_panels)
    column_tail(g, n);
    return;
  }
  if (n < g.N) {
    __m256i mask = tail_mask(g.N - n);
    panels_8<true>(g, n, mask);
  }
}

}  // namespace bluefire
