// AVX-512F convolution GEMM (compiled with -mavx512f -mavx2 -mfma on this file only).
// Register block: 6 weight rows x 32 pixels = 12 zmm accumulators, 2 zmm of pixels and one
// broadcast weight per k; a 17..31-column tail is one 6x32 block with its upper half masked, a
// 2..16-column tail a 6x16 block with masked loads/stores, on the same running column index; a
// 1-column tail is vectorised over panel rows instead, and 32q + 17 columns end in 48 + 1. Same packing (mr 6) and
// contract as the AVX2 kernel; on Zen 4 the gain is fewer instructions per FMA, not wider arithmetic.
// Whole strips go in chunks of columns (kChunkFloats), with far-apart B rows, output lines and a
// call's first weights prefetched; every output is one FMA chain over k in order in any block.
#include <immintrin.h>

#include <algorithm>

#include "../variants.h"

namespace bluefire {
namespace {

constexpr int MR = kAvx512Mr;

// With `prefetch_b`, each B row's two lines kPrefetchAhead floats on are fetched into L1 as the row
// is read: a 1x1 layer's B rows are K planes far apart, more streams than the hardware prefetchers
// follow (the AVX2 GEMM's idea; there 4 strips of 16 on, here 2 of 32).
constexpr int kPrefetchAhead = 64;
// Columns are taken in chunks of B at most this many floats (16 KiB: half of Zen 4's L1D), every
// panel over a chunk before the next: with few k (K = 16: 256 columns) a strip's B is reused by
// every panel either way, but each panel then writes its 6 output rows along a chunk, not every
// output row 128 bytes at a time (M = 64: 64 write streams).
constexpr int kChunkFloats = 4096;

inline void prefetch_line(const float* p) { _mm_prefetch(reinterpret_cast<const char*>(p), _MM_HINT_T0); }

inline __m512 finish(__m512 v, float bias, bool relu) {
  v = _mm512_add_ps(v, _mm512_set1_ps(bias));
  return relu ? _mm512_max_ps(v, _mm512_setzero_ps()) : v;
}

// R (1..6) rows of a panel x 32 columns; with `masked`, columns 16.. are those `hi` selects (a
// 17..31-column tail, e.g. the 31-wide stem rows at 64x64 input: one block, not two 16-wide ones).
// A panel's last rows past M are not computed: R = the rows that exist (pruned widths like 37 or 55
// leave a 1-row last panel, which a fixed 6-row block would compute six times over).
template <int R, bool masked, bool prefetch_b = false, bool prefetch_a = false>
void block_32(const GemmArgs& g, const float* ap, int m0, int n, __mmask16 hi) {
  __m512 lo[R], up[R];
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r) lo[r] = up[r] = _mm512_setzero_ps();
  const float* bp = g.b + n;
  const int K = g.K;
  for (int k = 0; k < K; ++k, ap += MR) {
    const float* row = bp + g.brow[k];
    if (prefetch_b) {
      prefetch_line(row + kPrefetchAhead);
      prefetch_line(row + kPrefetchAhead + 16);
    }
    if (prefetch_a && (k & 1)) prefetch_line(ap + 2 * MR * K);  // 48 B a step
    const __m512 b0 = _mm512_loadu_ps(row),
                 b1 = masked ? _mm512_maskz_loadu_ps(hi, row + 16) : _mm512_loadu_ps(row + 16);
#pragma GCC unroll 6
    for (int r = 0; r < R; ++r) {
      const __m512 a = _mm512_set1_ps(ap[r]);
      lo[r] = _mm512_fmadd_ps(a, b0, lo[r]);
      up[r] = _mm512_fmadd_ps(a, b1, up[r]);
    }
  }
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r) {
    float* cp = g.c + size_t(m0 + r) * g.ldc + n;
    // Output rows far apart (a 1x1 layer's planes): their next lines fetched for writing ahead.
    if (!masked && g.ldc >= 1024) {
      _mm_prefetch(reinterpret_cast<const char*>(cp + kPrefetchAhead), _MM_HINT_ET0);
      _mm_prefetch(reinterpret_cast<const char*>(cp + kPrefetchAhead + 16), _MM_HINT_ET0);
    }
    _mm512_storeu_ps(cp, finish(lo[r], g.bias[m0 + r], g.relu));
    if (masked) _mm512_mask_storeu_ps(cp + 16, hi, finish(up[r], g.bias[m0 + r], g.relu));
    else _mm512_storeu_ps(cp + 16, finish(up[r], g.bias[m0 + r], g.relu));
  }
}

// R rows x 48 columns: with a 1-column tail, 49 pixels (7x7 maps) take 48 + 1 instead of 32 + a
// half-masked 32 (2 x 12 FMAs per k and panel against 18 + 1 with column_panels).
template <int R>
void block_48(const GemmArgs& g, const float* ap, int m0, int n) {
  __m512 v0[R], v1[R], v2[R];
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r) v0[r] = v1[r] = v2[r] = _mm512_setzero_ps();
  const float* bp = g.b + n;
  for (int k = 0; k < g.K; ++k, ap += MR) {
    const float* row = bp + g.brow[k];
    const __m512 b0 = _mm512_loadu_ps(row), b1 = _mm512_loadu_ps(row + 16), b2 = _mm512_loadu_ps(row + 32);
#pragma GCC unroll 6
    for (int r = 0; r < R; ++r) {
      const __m512 a = _mm512_set1_ps(ap[r]);
      v0[r] = _mm512_fmadd_ps(a, b0, v0[r]);
      v1[r] = _mm512_fmadd_ps(a, b1, v1[r]);
      v2[r] = _mm512_fmadd_ps(a, b2, v2[r]);
    }
  }
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r) {
    float* cp = g.c + size_t(m0 + r) * g.ldc + n;
    _mm512_storeu_ps(cp, finish(v0[r], g.bias[m0 + r], g.relu));
    _mm512_storeu_ps(cp + 16, finish(v1[r], g.bias[m0 + r], g.relu));
    _mm512_storeu_ps(cp + 32, finish(v2[r], g.bias[m0 + r], g.relu));
  }
}

// R rows x up to 16 columns; `mask` selects the valid ones (all 16 for a full block).
template <int R>
void block_16(const GemmArgs& g, const float* ap, int m0, int n, __mmask16 mask) {
  __m512 acc[R];
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();
  const float* bp = g.b + n;
  for (int k = 0; k < g.K; ++k, ap += MR) {
    const __m512 b = _mm512_maskz_loadu_ps(mask, bp + g.brow[k]);
#pragma GCC unroll 6
    for (int r = 0; r < R; ++r) acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(ap[r]), b, acc[r]);
  }
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r)
    _mm512_mask_storeu_ps(g.c + size_t(m0 + r) * g.ldc + n, mask, finish(acc[r], g.bias[m0 + r], g.relu));
}

// One column n of P consecutive panels (rows m0 .. m0 + 6P - 1, those below M), vectorised over
// each panel's 6 rows: a 1-column tail (225 = 7 x 32 + 1 pixels on the 15x15 maps at 64x64 input,
// 961 for the stem) costs P FMAs per k instead of a 6x16 block's 6 per panel, 16 lanes each, for
// one useful lane. The P accumulators are independent chains.
template <int P>
void column_panels(const GemmArgs& g, const float* ap, int m0, int n) {
  __m512 acc[P];
#pragma GCC unroll 4
  for (int p = 0; p < P; ++p) acc[p] = _mm512_setzero_ps();
  const size_t ps = size_t(MR) * g.K;  // floats per panel
  const float* bp = g.b + n;
  for (int k = 0; k < g.K; ++k) {
    const __m512 b = _mm512_set1_ps(bp[g.brow[k]]);
#pragma GCC unroll 4
    for (int p = 0; p < P; ++p)
      acc[p] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(0x3f, ap + p * ps + size_t(k) * MR), b, acc[p]);
  }
  alignas(64) float t[P][16];
#pragma GCC unroll 4
  for (int p = 0; p < P; ++p) _mm512_store_ps(t[p], acc[p]);
  const int rows = std::min(MR * P, g.M - m0);
  for (int r = 0; r < rows; ++r) {
    const float v = t[r / MR][r % MR] + g.bias[m0 + r];
    g.c[size_t(m0 + r) * g.ldc + n] = g.relu ? std::max(v, 0.f) : v;
  }
}

void column(const GemmArgs& g, int n) {
  for (int m0 = 0; m0 < g.M; m0 += 4 * MR) {
    const float* ap = g.a + size_t(m0) * g.K;
    switch (std::min(4, (g.M - m0 + MR - 1) / MR)) {
      case 4: column_panels<4>(g, ap, m0, n); break;
      case 3: column_panels<3>(g, ap, m0, n); break;
      case 2: column_panels<2>(g, ap, m0, n); break;
      default: column_panels<1>(g, ap, m0, n); break;
    }
  }
}

template <bool masked, bool pb = false, bool pa = false>
void panel_32(const GemmArgs& g, const float* ap, int m0, int rows, int n, __mmask16 hi = 0xffff) {
  switch (rows) {
    case 6: block_32<6, masked, pb, pa>(g, ap, m0, n, hi); break;
    case 5: block_32<5, masked, pb, pa>(g, ap, m0, n, hi); break;
    case 4: block_32<4, masked, pb, pa>(g, ap, m0, n, hi); break;
    case 3: block_32<3, masked, pb, pa>(g, ap, m0, n, hi); break;
    case 2: block_32<2, masked, pb, pa>(g, ap, m0, n, hi); break;
    default: block_32<1, masked, pb, pa>(g, ap, m0, n, hi); break;
  }
}

// Every panel of the call on the whole 32-column strips n0 .. n1, panel by panel; the first panel
// prefetches B's rows with `prefetch_b`, and with `prefetch_a` the others prefetch the weights two
// panels on: the first strip of a call over many weights (the classifier's 2 MB) reads them from
// memory, not L2 (given for one-strip chunks only, K > 64).
void panels_32(const GemmArgs& g, int n0, int n1, bool prefetch_b, bool prefetch_a) {
  for (int m0 = 0; m0 < g.M; m0 += MR) {
    const float* ap = g.a + size_t(m0) * g.K;
    const int rows = std::min(MR, g.M - m0);
    for (int n = n0; n < n1; n += 32) {
      if (prefetch_b && m0 == 0) panel_32<false, true>(g, ap, m0, rows, n);
      else if (prefetch_a) panel_32<false, false, true>(g, ap, m0, rows, n);
      else panel_32<false>(g, ap, m0, rows, n);
    }
  }
}

void panel_48(const GemmArgs& g, const float* ap, int m0, int rows, int n) {
  switch (rows) {
    case 6: block_48<6>(g, ap, m0, n); break;
    case 5: block_48<5>(g, ap, m0, n); break;
    case 4: block_48<4>(g, ap, m0, n); break;
    case 3: block_48<3>(g, ap, m0, n); break;
    case 2: block_48<2>(g, ap, m0, n); break;
    default: block_48<1>(g, ap, m0, n); break;
  }
}

void panel_16(const GemmArgs& g, const float* ap, int m0, int rows, int n, __mmask16 mask) {
  switch (rows) {
    case 6: block_16<6>(g, ap, m0, n, mask); break;
    case 5: block_16<5>(g, ap, m0, n, mask); break;
    case 4: block_16<4>(g, ap, m0, n, mask); break;
    case 3: block_16<3>(g, ap, m0, n, mask); break;
    case 2: block_16<2>(g, ap, m0, n, mask); break;
    default: block_16<1>(g, ap, m0, n, mask); break;
  }
}

}  // namespace

void gemm_avx512(const GemmArgs& g) {
  // Pixels outer, weight panels inner, as in the AVX2 kernel: a chunk of 32-column strips (one
  // strip when K > 64) is reused by every panel. 1x1 convolutions read B rows a whole channel
  // plane apart (prefetched, see kPrefetchAhead), and write rows a plane apart too.
  // N = 32q + 17 (q >= 1; 49 = 7x7 maps): the last 49 columns as 48 + 1 (block_48, column).
  const bool split49 = g.N % 32 == 17 && g.N >= 49;
  const int blocks = split49 ? (g.N - 49) / 32 : g.N / 32;
  int n = 32 * blocks;
  if (n > 0) {  // (the Winograd GEMMs of small maps, 16 columns, do not pay for this set-up)
    // B rows far apart (planes of a map, not a packed matrix; K >= 32: with 16 rows the
    // prefetches cost more than they save) with room for the next strips ahead.
    const bool prefetch_b = g.K >= 32 && g.brow[g.K - 1] - g.brow[0] >= 1024 && g.N >= 128;
    const int nc = std::max(32, kChunkFloats / std::max(g.K, 1) / 32 * 32);
    for (int n0 = 0; n0 < n; n0 += nc) panels_32(g, n0, std::min(n, n0 + nc), prefetch_b, n0 == 0 && nc == 32);
  }
  if (split49) {
    for (int m0 = 0; m0 < g.M; m0 += MR) panel_48(g, g.a + size_t(m0) * g.K, m0, std::min(MR, g.M - m0), n);
    column(g, n + 48);
    return;
  }
  if (g.N - n > 16) {
    const __mmask16 hi = __mmask16((1u << (g.N - n - 16)) - 1u);
    for (int m0 = 0; m0 < g.M; m0 += MR) panel_32<true>(g, g.a + size_t(m0) * g.K, m0, std::min(MR, g.M - m0), n, hi);
    n = g.N;
  }
  if (g.N - n == 1) {  // one last column (see column_panels)
    column(g, n);
    return;
  }
  for (; n < g.N; n += 16) {
    const int cols = std::min(16, g.N - n);
    const __mmask16 mask = __mmask16((1u << cols) - 1u);
    for (int m0 = 0; m0 < g.M; m0 += MR) panel_16(g, g.a + size_t(m0) * g.K, m0, std::min(MR, g.M - m0), n, mask);
  }
}

}  // namespace bluefire
