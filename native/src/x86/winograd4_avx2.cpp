// Winograd F(4x4, 3x3) input and output transforms, AVX2/FMA (compiled with -mavx2 -mfma on this
// file only): winograd4_avx512.cpp with 8 tiles per vector; see there for the method. Masked loads
// are vmaskmovps (masked-off lanes never fault); segments are merged with a bitwise or, since each
// masked load leaves its other lanes +0.
#include <immintrin.h>

#include <algorithm>
#include <cstddef>

#include "../variants.h"

namespace bluefire {
namespace {

inline void bt6(const __m256* d, __m256* t) {  // t = B^T d over six values
  const __m256 four = _mm256_set1_ps(4.f), five = _mm256_set1_ps(5.f), two = _mm256_set1_ps(2.f);
  t[0] = _mm256_add_ps(_mm256_fnmadd_ps(five, d[2], _mm256_mul_ps(four, d[0])), d[4]);
  t[1] = _mm256_add_ps(_mm256_fnmadd_ps(four, _mm256_add_ps(d[1], d[2]), d[3]), d[4]);
  t[2] = _mm256_fmadd_ps(four, _mm256_sub_ps(d[1], d[2]), _mm256_sub_ps(d[4], d[3]));
  t[3] = _mm256_sub_ps(_mm256_fmadd_ps(two, _mm256_sub_ps(d[3], d[1]), d[4]), d[2]);
  t[4] = _mm256_sub_ps(_mm256_fmadd_ps(two, _mm256_sub_ps(d[1], d[3]), d[4]), d[2]);
  t[5] = _mm256_add_ps(_mm256_fnmadd_ps(five, d[3], _mm256_mul_ps(four, d[1])), d[5]);
}

inline void at6(const __m256* s, __m256* y) {  // y = A^T s over six values
  const __m256 a = _mm256_add_ps(s[1], s[2]), b = _mm256_sub_ps(s[1], s[2]);
  const __m256 c = _mm256_add_ps(s[3], s[4]), d = _mm256_sub_ps(s[3], s[4]);
  y[0] = _mm256_add_ps(_mm256_add_ps(s[0], a), c);
  y[1] = _mm256_fmadd_ps(_mm256_set1_ps(2.f), d, b);
  y[2] = _mm256_fmadd_ps(_mm256_set1_ps(4.f), c, a);
  y[3] = _mm256_add_ps(_mm256_fmadd_ps(_mm256_set1_ps(8.f), d, b), s[5]);
}

inline __m256i lanes(int from, int to) {  // lanes [from, to) set
  const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_and_si256(_mm256_cmpgt_epi32(iota, _mm256_set1_epi32(from - 1)),
                          _mm256_cmpgt_epi32(_mm256_set1_epi32(to), iota));
}

// The first n (1..8) floats of v to d, without masked stores (slow on AMD) and nothing past d + n.
inline void store_first(float* d, __m256 v, int n) {
  if (n >= 8) {
    _mm256_storeu_ps(d, v);
    return;
  }
  __m128 x = _mm256_castps256_ps128(v);
  if (n >= 4) {
    _mm_storeu_ps(d, x);
    d += 4, n -= 4;
    x = _mm256_extractf128_ps(v, 1);
  }
  if (n >= 2) {
    _mm_storel_pi(reinterpret_cast<__m64*>(d), x);
    d += 2, n -= 2;
    x = _mm_movehl_ps(x, x);
  }
  if (n) _mm_store_ss(d, x);
}

}  // namespace

void winograd4_input_avx2(const float* phases, int PH, int QW, int C, int TX, int t0, int t1, float* v, int ld,
                          size_t ms) {
  for (int tt = t0; tt < t1; tt += 8) {
    const int n = std::min(8, t1 - tt);
    const __m256i mask = lanes(0, n);
    __m256i seg_mask[8];
    ptrdiff_t seg_off[8];
    int segs = 0;
    for (int j = 0; j < n;) {
      const int t = tt + j, ty = t / TX, tx = t % TX, len = std::min(n - j, TX - tx);
      seg_mask[segs] = lanes(j, j + len);
      seg_off[segs++] = ptrdiff_t(4 * ty) * QW + tx - j;
      j += len;
    }
    // 4 tiles a row and 8 tiles from a tile row's start (13-16 wide maps): lanes 4g .. 4g + 3 are 4
    // consecutive floats of one phase row, two 128-bit loads (as winograd4_avx512.cpp); 8 tiles of
    // one tile row: one plain load.
    const bool quad = TX == 4 && tt % 4 == 0 && n == 8, whole = segs == 1 && n == 8;
    for (int c = 0; c < C; ++c) {
      const float* ch = phases + size_t(c) * 4 * PH * QW;
      __m256 tmp[6][6];  // (B^T d)[i][k]
      for (int k = 0; k < 6; ++k) {
        __m256 d[6];
        for (int r = 0; r < 6; ++r) {
          const float* base = ch + (size_t(k % 4) * PH + r) * QW + k / 4;
          if (quad) {                                     // 2 whole tile rows of 4, 4 * QW floats apart
            const float* b0 = base + ptrdiff_t(tt) * QW;  // row 4 * (tt / 4) of the phase
            d[r] = _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(b0)), _mm_loadu_ps(b0 + 4 * QW), 1);
            continue;
          }
          if (whole) {
            d[r] = _mm256_loadu_ps(base + seg_off[0]);
            continue;
          }
          d[r] = _mm256_maskload_ps(base + seg_off[0], seg_mask[0]);
          for (int sg = 1; sg < segs; ++sg)
            d[r] = _mm256_or_ps(d[r], _mm256_maskload_ps(base + seg_off[sg], seg_mask[sg]));
        }
        __m256 t[6];
        bt6(d, t);
        for (int i = 0; i < 6; ++i) tmp[i][k] = t[i];
      }
      float* o = v + size_t(c) * ld + (tt - t0);
      for (int i = 0; i < 6; ++i) {
        __m256 t[6];
        bt6(tmp[i], t);
        for (int j = 0; j < 6; ++j) {
          if (n == 8) _mm256_storeu_ps(o + (i * 6 + j) * ms, t[j]);
          else _mm256_maskstore_ps(o + (i * 6 + j) * ms, mask, t[j]);
        }
      }
    }
  }
}

void winograd4_output_avx2(const float* mo, int M, int ld, size_t ms, int TX, int t0, int t1, const float* bias,
                           bool relu, float* out, int OH, int OW) {
  const __m256 lo = _mm256_set1_ps(relu ? 0.f : -3.4e38f);
  for (int tt = t0; tt < t1; tt += 8) {
    const int n = std::min(8, t1 - tt);
    const __m256i mask = lanes(0, n);
    int off[8], rows[8], cols[8];  // per tile: offset of its top-left output, rows and columns inside the map
    for (int j = 0; j < n; ++j) {
      const int t = tt + j, y0 = 4 * (t / TX), x0 = 4 * (t % TX);
      off[j] = y0 * OW + x0, rows[j] = std::min(4, OH - y0), cols[j] = std::min(4, OW - x0);
    }
    bool full = n == 8;
    for (int j = 0; j < n; ++j) full = full && rows[j] == 4 && cols[j] == 4;
    const bool rowwise = TX == 4 && tt % 4 == 0 && n % 4 == 0;  // whole tile rows of 4 tiles
    for (int m = 0; m < M; ++m) {
      const float* q = mo + size_t(m) * ld + (tt - t0);
      const __m256 bm = _mm256_set1_ps(bias[m]);
      __m256 tmp[4][6];  // (A^T s)[a][k]
      for (int k = 0; k < 6; ++k) {
        __m256 s[6], y[4];
        for (int i = 0; i < 6; ++i)
          s[i] = n == 8 ? _mm256_loadu_ps(q + (i * 6 + k) * ms) : _mm256_maskload_ps(q + (i * 6 + k) * ms, mask);
        at6(s, y);
        for (int a = 0; a < 4; ++a) tmp[a][k] = y[a];
      }
      float* plane = out + size_t(m) * OH * OW;
      for (int a = 0; a < 4; ++a) {
        __m256 y[4];
        at6(tmp[a], y);
        for (int b = 0; b < 4; ++b) y[b] = _mm256_max_ps(_mm256_add_ps(y[b], bm), lo);
        // 4x4 transposes within each 128-bit lane: lane g of tr[j] holds row a of tile 4g + j.
        const __m256 u0 = _mm256_unpacklo_ps(y[0], y[1]), u1 = _mm256_unpackhi_ps(y[0], y[1]);
        const __m256 u2 = _mm256_unpacklo_ps(y[2], y[3]), u3 = _mm256_unpackhi_ps(y[2], y[3]);
        const __m256 r0 = _mm256_shuffle_ps(u0, u2, _MM_SHUFFLE(1, 0, 1, 0));
        const __m256 r1 = _mm256_shuffle_ps(u0, u2, _MM_SHUFFLE(3, 2, 3, 2));
        const __m256 r2 = _mm256_shuffle_ps(u1, u3, _MM_SHUFFLE(1, 0, 1, 0));
        const __m256 r3 = _mm256_shuffle_ps(u1, u3, _MM_SHUFFLE(3, 2, 3, 2));
        if (rowwise) {
          // 4 tiles a row (13-16 wide maps): 128-bit block permutes give row a of tile row g as
          // two ymm (16 floats), stored whole up to the row's end, no stack buffer.
          const __m256 lo[2] = {_mm256_permute2f128_ps(r0, r1, 0x20), _mm256_permute2f128_ps(r0, r1, 0x31)};
          const __m256 hi[2] = {_mm256_permute2f128_ps(r2, r3, 0x20), _mm256_permute2f128_ps(r2, r3, 0x31)};
          for (int g = 0; g < n / 4; ++g) {
            const int yy = 4 * (tt / 4 + g) + a;
            if (yy >= OH) continue;
            float* d = plane + size_t(yy) * OW;
            _mm256_storeu_ps(d, lo[g]);
            store_first(d + 8, hi[g], OW - 8);
          }
          continue;
        }
        alignas(32) float tr[4][8];
        _mm256_store_ps(tr[0], r0);
        _mm256_store_ps(tr[1], r1);
        _mm256_store_ps(tr[2], r2);
        _mm256_store_ps(tr[3], r3);
        float* row = plane + size_t(a) * OW;
        if (full) {
          for (int j = 0; j < 8; ++j) _mm_storeu_ps(row + off[j], _mm_load_ps(tr[j & 3] + 4 * (j >> 2)));
          continue;
        }
        for (int j = 0; j < n; ++j) {
          if (a >= rows[j]) continue;
          const float* src = tr[j & 3] + 4 * (j >> 2);
          if (cols[j] == 4) _mm_storeu_ps(row + off[j], _mm_load_ps(src));
          else
            for (int x = 0; x < cols[j]; ++x) row[off[j] + x] = src[x];  // the map's last, partial tile
        }
      }
    }
  }
}

// The column-phase split (KernelTable::column_phases4): 32 padded columns (4 ymm; masked loads give zeros
// outside the row and never fault) give 8 outputs of each phase: a 4x4 transpose within each
// 128-bit lane puts columns ph, 8 + ph, 16 + ph, 24 + ph | 4 + ph, ... in one vector, and a lane
// permute orders them. Stores end at the phase row's last index (store_first).
void column_phases4_avx2(const float* src, int H, int W, int pt, int pl, int PH, int QW, float* dst) {
  const size_t ps = size_t(PH) * QW;
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  const int y0 = std::max(0, std::min(PH, pt)), y1 = std::max(y0, std::min(PH, pt + H));
  for (int ph = 0; ph < 4; ++ph) {
    std::fill(dst + ph * ps, dst + ph * ps + size_t(y0) * QW, 0.f);
    std::fill(dst + ph * ps + size_t(y1) * QW, dst + (ph + 1) * ps, 0.f);
  }
  for (int j = 0; j < QW; j += 8) {
    __m256i m[4];
    bool any[4];
    for (int q = 0; q < 4; ++q) {  // padded columns p = 4j + 8q + lane: input column p - pl
      const int p0 = 4 * j + 8 * q;
      m[q] = lanes(pl - p0, pl + W - p0);
      any[q] = pl + W - p0 > 0 && pl - p0 < 8;
    }
    const int nout = std::min(8, QW - j);
    for (int y = y0; y < y1; ++y) {
      const float* row = src + ptrdiff_t(y - pt) * W + 4 * j - pl;
      __m256 v[4];
      for (int q = 0; q < 4; ++q) v[q] = any[q] ? _mm256_maskload_ps(row + 8 * q, m[q]) : _mm256_setzero_ps();
      const __m256 u0 = _mm256_unpacklo_ps(v[0], v[1]), u1 = _mm256_unpackhi_ps(v[0], v[1]);
      const __m256 u2 = _mm256_unpacklo_ps(v[2], v[3]), u3 = _mm256_unpackhi_ps(v[2], v[3]);
      const __m256 t[4] = {
          _mm256_shuffle_ps(u0, u2, _MM_SHUFFLE(1, 0, 1, 0)), _mm256_shuffle_ps(u0, u2, _MM_SHUFFLE(3, 2, 3, 2)),
          _mm256_shuffle_ps(u1, u3, _MM_SHUFFLE(1, 0, 1, 0)), _mm256_shuffle_ps(u1, u3, _MM_SHUFFLE(3, 2, 3, 2))};
      float* d = dst + size_t(y) * QW + j;
      for (int ph = 0; ph < 4; ++ph) store_first(d + ph * ps, _mm256_permutevar8x32_ps(t[ph], order), nout);
    }
  }
}

}  // namespace bluefire
