// Winograd F(4x4, 3x3) input and output transforms, AVX-512F (compiled with -mavx512f -mavx2 -mfma
// on this file only). 36 products per 4x4 output tile instead of 144 direct (F(2x2, 3x3): 64), with
//   B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0; 0 4 0 -5 0 1]
//   A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1]
// (Lavin & Gray 2015; weights by winograd4_weights in winograd.cpp). Both transforms work on 16
// consecutive tiles at once, one per lane, whatever tile rows they span: the input side loads each
// patch value of 16 tiles from the column-phase split padded map (one masked load per tile row),
// the output side turns the 16 lanes of each output row back into 4-float runs with in-register
// 4x4 transposes.
#include <immintrin.h>

#include <algorithm>
#include <cstddef>

#include "../variants.h"

namespace bluefire {
namespace {

inline void bt6(const __m512* d, __m512* t) {  // t = B^T d over six values
  const __m512 four = _mm512_set1_ps(4.f), five = _mm512_set1_ps(5.f), two = _mm512_set1_ps(2.f);
  t[0] = _mm512_add_ps(_mm512_fnmadd_ps(five, d[2], _mm512_mul_ps(four, d[0])), d[4]);
  t[1] = _mm512_add_ps(_mm512_fnmadd_ps(four, _mm512_add_ps(d[1], d[2]), d[3]), d[4]);
  t[2] = _mm512_fmadd_ps(four, _mm512_sub_ps(d[1], d[2]), _mm512_sub_ps(d[4], d[3]));
  t[3] = _mm512_sub_ps(_mm512_fmadd_ps(two, _mm512_sub_ps(d[3], d[1]), d[4]), d[2]);
  t[4] = _mm512_sub_ps(_mm512_fmadd_ps(two, _mm512_sub_ps(d[1], d[3]), d[4]), d[2]);
  t[5] = _mm512_add_ps(_mm512_fnmadd_ps(five, d[3], _mm512_mul_ps(four, d[1])), d[5]);
}

inline void at6(const __m512* s, __m512* y) {  // y = A^T s over six values
  const __m512 a = _mm512_add_ps(s[1], s[2]), b = _mm512_sub_ps(s[1], s[2]);
  const __m512 c = _mm512_add_ps(s[3], s[4]), d = _mm512_sub_ps(s[3], s[4]);
  y[0] = _mm512_add_ps(_mm512_add_ps(s[0], a), c);
  y[1] = _mm512_fmadd_ps(_mm512_set1_ps(2.f), d, b);
  y[2] = _mm512_fmadd_ps(_mm512_set1_ps(4.f), c, a);
  y[3] = _mm512_add_ps(_mm512_fmadd_ps(_mm512_set1_ps(8.f), d, b), s[5]);
}

}  // namespace

void winograd4_input_avx512(const float* phases, int PH, int QW, int C, int TX, int t0, int t1, float* v, int ld,
                            size_t ms) {
  for (int tt = t0; tt < t1; tt += 16) {
    const int n = std::min(16, t1 - tt);
    const __mmask16 mask = __mmask16((1u << n) - 1u);
    // Lane j: tile tt + j at (ty, tx); its patch origin is row 4ty, index tx of every phase. The
    // lanes of one tile row read consecutive floats: one masked load per tile row in the chunk
    // (at most 5), placed so that lane j reads offset seg_off + j (masked-off lanes never fault).
    __mmask16 seg_mask[16];
    ptrdiff_t seg_off[16];
    int segs = 0;
    for (int j = 0; j < n;) {
      const int t = tt + j, ty = t / TX, tx = t % TX, len = std::min(n - j, TX - tx);
      seg_mask[segs] = __mmask16(((1u << len) - 1u) << j);
      seg_off[segs++] = ptrdiff_t(4 * ty) * QW + tx - j;
      j += len;
    }
    // 4 tiles a row and 16 tiles from a tile row's start (13-16 wide maps): lanes 4g .. 4g + 3 are
    // 4 consecutive floats of one phase row, so four 128-bit loads and inserts build each vector
    // (fire2's input transform at 64x64 input: 1.9 us with the merging masked loads, 1.1 us so).
    const bool quad = TX == 4 && tt % 4 == 0 && n == 16;
    for (int c = 0; c < C; ++c) {
      const float* ch = phases + size_t(c) * 4 * PH * QW;
      __m512 tmp[6][6];  // (B^T d)[i][k]
      for (int k = 0; k < 6; ++k) {
        __m512 d[6];
        for (int r = 0; r < 6; ++r) {
          const float* base = ch + (size_t(k % 4) * PH + r) * QW + k / 4;
          if (quad) {  // 4 whole tile rows of 4: four 128-bit loads, 4 tile rows (4 * QW floats) apart
            const float* b0 = base + ptrdiff_t(tt) * QW;  // row 4 * (tt / 4) of the phase
            d[r] = _mm512_castps128_ps512(_mm_loadu_ps(b0));
            d[r] = _mm512_insertf32x4(d[r], _mm_loadu_ps(b0 + 4 * QW), 1);
            d[r] = _mm512_insertf32x4(d[r], _mm_loadu_ps(b0 + 8 * QW), 2);
            d[r] = _mm512_insertf32x4(d[r], _mm_loadu_ps(b0 + 12 * QW), 3);
            continue;
          }
          d[r] = _mm512_maskz_loadu_ps(seg_mask[0], base + seg_off[0]);
          for (int sg = 1; sg < segs; ++sg) d[r] = _mm512_mask_loadu_ps(d[r], seg_mask[sg], base + seg_off[sg]);
        }
        __m512 t[6];
        bt6(d, t);
        for (int i = 0; i < 6; ++i) tmp[i][k] = t[i];
      }
      float* o = v + size_t(c) * ld + (tt - t0);
      for (int i = 0; i < 6; ++i) {
        __m512 t[6];
        bt6(tmp[i], t);
        for (int j = 0; j < 6; ++j) _mm512_mask_storeu_ps(o + (i * 6 + j) * ms, mask, t[j]);
      }
    }
  }
}

// The column-phase split: 64 padded columns (4 zmm, masked loads zero outside the row) give 16
// outputs of each phase, two two-source permutes and a blend per phase. The scalar split took
// 4.4 us of fire2's 13.8 us at 64x64 input (rows of 5 floats per phase: all loop overhead).
void column_phases4_avx512(const float* src, int H, int W, int pt, int pl, int PH, int QW, float* dst) {
  const size_t ps = size_t(PH) * QW;
  const __m512 zero = _mm512_setzero_ps();
  // idx[ph] lane i: column 4i + ph of the first two vectors (i < 8), of the last two (i >= 8).
  __m512i idx[4];
  for (int ph = 0; ph < 4; ++ph)
    idx[ph] = _mm512_add_epi32(_mm512_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28, 0, 4, 8, 12, 16, 20, 24, 28),
                               _mm512_set1_epi32(ph));
  auto lanes = [](int lo, int hi) {  // lanes [lo, hi) of 16, clamped
    lo = std::max(0, std::min(16, lo)), hi = std::max(lo, std::min(16, hi));
    return __mmask16(((1u << hi) - 1u) & ~((1u << lo) - 1u));
  };
  // Rows outside the map are zero in every phase; the map's rows [y0, y1) take the permutes, with
  // the load masks (which depend only on the column block) set once per block.
  const int y0 = std::max(0, std::min(PH, pt)), y1 = std::max(y0, std::min(PH, pt + H));
  for (int ph = 0; ph < 4; ++ph) {
    std::fill(dst + ph * ps, dst + ph * ps + size_t(y0) * QW, 0.f);
    std::fill(dst + ph * ps + size_t(y1) * QW, dst + (ph + 1) * ps, 0.f);
  }
  for (int j = 0; j < QW; j += 16) {
    __mmask16 m[4];
    for (int q = 0; q < 4; ++q) {  // padded columns p = 4j + 16q + lane: input column p - pl
      const int p0 = 4 * j + 16 * q;
      m[q] = lanes(pl - p0, pl + W - p0);
    }
    const __mmask16 sm = __mmask16((1u << std::min(16, QW - j)) - 1u);
    const bool upper = QW - j > 8;  // outputs 8-15 of the block exist (they come from v[2], v[3])
    for (int y = y0; y < y1; ++y) {
      const float* row = src + size_t(y - pt) * W + 4 * j - pl;
      const __m512 v0 = _mm512_maskz_loadu_ps(m[0], row), v1 = _mm512_maskz_loadu_ps(m[1], row + 16);
      const __m512 v2 = upper ? _mm512_maskz_loadu_ps(m[2], row + 32) : zero;
      const __m512 v3 = upper ? _mm512_maskz_loadu_ps(m[3], row + 48) : zero;
      float* d = dst + size_t(y) * QW + j;
      for (int ph = 0; ph < 4; ++ph) {
        __m512 r = _mm512_permutex2var_ps(v0, idx[ph], v1);
        if (upper) r = _mm512_mask_blend_ps(0xff00, r, _mm512_permutex2var_ps(v2, idx[ph], v3));
        _mm512_mask_storeu_ps(d + ph * ps, sm, r);
      }
    }
  }
}

void winograd4_output_avx512(const float* mo, int M, int ld, size_t ms, int TX, int t0, int t1, const float* bias,
                             bool relu, float* out, int OH, int OW) {
  const __m512 lo = _mm512_set1_ps(relu ? 0.f : -3.4e38f);
  for (int tt = t0; tt < t1; tt += 16) {
    const int n = std::min(16, t1 - tt);
    const __mmask16 mask = __mmask16((1u << n) - 1u);
    int off[16], rows[16];  // per tile: offset of its top-left output, rows inside the map
    __mmask16 cols[16];     // and its columns inside the map, as a store mask
    for (int j = 0; j < n; ++j) {
      const int t = tt + j, y0 = 4 * (t / TX), x0 = 4 * (t % TX);
      off[j] = y0 * OW + x0, rows[j] = std::min(4, OH - y0), cols[j] = __mmask16((1u << std::min(4, OW - x0)) - 1u);
    }
    // Whole tile rows in the chunk (t0 and the task size are multiples of 4), 4 tiles a row.
    const bool rowwise = TX == 4 && tt % 4 == 0 && n % 4 == 0;
    const __mmask16 rowmask = __mmask16((1u << std::min(OW, 16)) - 1u);
    bool full = n == 16;
    for (int j = 0; j < n; ++j) full = full && rows[j] == 4 && cols[j] == 0xf;
    for (int m = 0; m < M; ++m) {
      const float* q = mo + size_t(m) * ld + (tt - t0);
      const __m512 bm = _mm512_set1_ps(bias[m]);
      __m512 tmp[4][6];  // (A^T s)[a][k]
      for (int k = 0; k < 6; ++k) {
        __m512 s[6], y[4];
        for (int i = 0; i < 6; ++i) s[i] = _mm512_maskz_loadu_ps(mask, q + (i * 6 + k) * ms);
        at6(s, y);
        for (int a = 0; a < 4; ++a) tmp[a][k] = y[a];
      }
      float* plane = out + size_t(m) * OH * OW;
      for (int a = 0; a < 4; ++a) {
        __m512 y[4];
        at6(tmp[a], y);
        for (int b = 0; b < 4; ++b) y[b] = _mm512_max_ps(_mm512_add_ps(y[b], bm), lo);
        // 4x4 transposes within each 128-bit lane: afterwards lane g of tr[j] holds row a of tile
        // 4g + j, its 4 output columns in order.
        const __m512 u0 = _mm512_unpacklo_ps(y[0], y[1]), u1 = _mm512_unpackhi_ps(y[0], y[1]);
        const __m512 u2 = _mm512_unpacklo_ps(y[2], y[3]), u3 = _mm512_unpackhi_ps(y[2], y[3]);
        if (rowwise) {
          // 4 tiles a row (13-16 wide maps: fire2-3 at 64x64 input, fire6-9 at 224): a second 4x4
          // transpose, of 128-bit blocks, gives w[g] = row a of tile row g, 16 contiguous floats,
          // one store each instead of 4 per tile row through a stack buffer.
          const __m512 t0 = _mm512_shuffle_ps(u0, u2, _MM_SHUFFLE(1, 0, 1, 0));
          const __m512 t1 = _mm512_shuffle_ps(u0, u2, _MM_SHUFFLE(3, 2, 3, 2));
          const __m512 t2 = _mm512_shuffle_ps(u1, u3, _MM_SHUFFLE(1, 0, 1, 0));
          const __m512 t3 = _mm512_shuffle_ps(u1, u3, _MM_SHUFFLE(3, 2, 3, 2));
          const __m512 s0 = _mm512_shuffle_f32x4(t0, t1, _MM_SHUFFLE(1, 0, 1, 0));
          const __m512 s1 = _mm512_shuffle_f32x4(t0, t1, _MM_SHUFFLE(3, 2, 3, 2));
          const __m512 s2 = _mm512_shuffle_f32x4(t2, t3, _MM_SHUFFLE(1, 0, 1, 0));
          const __m512 s3 = _mm512_shuffle_f32x4(t2, t3, _MM_SHUFFLE(3, 2, 3, 2));
          const __m512 w[4] = {_mm512_shuffle_f32x4(s0, s2, _MM_SHUFFLE(2, 0, 2, 0)),
                               _mm512_shuffle_f32x4(s0, s2, _MM_SHUFFLE(3, 1, 3, 1)),
                               _mm512_shuffle_f32x4(s1, s3, _MM_SHUFFLE(2, 0, 2, 0)),
                               _mm512_shuffle_f32x4(s1, s3, _MM_SHUFFLE(3, 1, 3, 1))};
          for (int g = 0; g < n / 4; ++g) {
            const int yy = 4 * (tt / 4 + g) + a;
            if (yy < OH) _mm512_mask_storeu_ps(plane + size_t(yy) * OW, rowmask, w[g]);
          }
          continue;
        }
        alignas(64) float tr[4][16];
        _mm512_store_ps(tr[0], _mm512_shuffle_ps(u0, u2, _MM_SHUFFLE(1, 0, 1, 0)));
        _mm512_store_ps(tr[1], _mm512_shuffle_ps(u0, u2, _MM_SHUFFLE(3, 2, 3, 2)));
        _mm512_store_ps(tr[2], _mm512_shuffle_ps(u1, u3, _MM_SHUFFLE(1, 0, 1, 0)));
        _mm512_store_ps(tr[3], _mm512_shuffle_ps(u1, u3, _MM_SHUFFLE(3, 2, 3, 2)));
        float* row = plane + size_t(a) * OW;
        if (full) {  // 16 whole tiles: straight 128-bit stores, no tests
          for (int j = 0; j < 16; ++j) _mm_storeu_ps(row + off[j], _mm_load_ps(tr[j & 3] + 4 * (j >> 2)));
          continue;
        }
        // A partial chunk (e.g. a 15x15 map: 16 tiles, the last tile row and column cut to 3): whole
        // tiles still take plain 128-bit stores, only those cut on the right a masked store (masking
        // every store cost 1.7 us of fire2's 4.6 us output transform at 64x64 input).
        for (int j = 0; j < n; ++j) {
          if (a >= rows[j]) continue;
          const __m128 v = _mm_load_ps(tr[j & 3] + 4 * (j >> 2));
          if (cols[j] == 0xf) _mm_storeu_ps(row + off[j], v);
          else _mm512_mask_storeu_ps(row + off[j], cols[j], _mm512_castps128_ps512(v));
        }
      }
    }
  }
}

}  // namespace bluefire
