// Winograd F(4x4, 3x3) input and output transforms, NEON: winograd4_avx512.cpp's method with 4
// tiles per q vector (lane j = tile tt + j). Input: the 36 patch values of 4 consecutive tiles of
// one tile row are one q load each from the column phases (tiles that straddle a tile row, or a
// last group of fewer than 4, are gathered lane by lane); B^T d B in registers; 36 q stores.
// Output: A^T m A per output channel, bias and ReLU, then a 4x4 transpose (TRN1/TRN2 on 32- and
// 64-bit elements) turns "lane = tile" into one 4-float row of each tile, stored whole. Nothing is
// read or written past the call's tiles.
#include <arm_neon.h>

#include <algorithm>
#include <cstddef>

#include "../variants.h"

namespace bluefire {
namespace {

inline void bt6(const float32x4_t* d, float32x4_t* t) {  // t = B^T d over six values
  const float32x4_t four = vdupq_n_f32(4.f), five = vdupq_n_f32(5.f), two = vdupq_n_f32(2.f);
  t[0] = vaddq_f32(vfmsq_f32(vmulq_f32(four, d[0]), five, d[2]), d[4]);
  t[1] = vaddq_f32(vfmsq_f32(d[3], four, vaddq_f32(d[1], d[2])), d[4]);
  t[2] = vfmaq_f32(vsubq_f32(d[4], d[3]), four, vsubq_f32(d[1], d[2]));
  t[3] = vsubq_f32(vfmaq_f32(d[4], two, vsubq_f32(d[3], d[1])), d[2]);
  t[4] = vsubq_f32(vfmaq_f32(d[4], two, vsubq_f32(d[1], d[3])), d[2]);
  t[5] = vaddq_f32(vfmsq_f32(vmulq_f32(four, d[1]), five, d[3]), d[5]);
}

inline void at6(const float32x4_t* s, float32x4_t* y) {  // y = A^T s over six values
  const float32x4_t a = vaddq_f32(s[1], s[2]), b = vsubq_f32(s[1], s[2]);
  const float32x4_t c = vaddq_f32(s[3], s[4]), d = vsubq_f32(s[3], s[4]);
  y[0] = vaddq_f32(vaddq_f32(s[0], a), c);
  y[1] = vfmaq_f32(b, vdupq_n_f32(2.f), d);
  y[2] = vfmaq_f32(a, vdupq_n_f32(4.f), c);
  y[3] = vaddq_f32(vfmaq_f32(b, vdupq_n_f32(8.f), d), s[5]);
}

// Lanes [0, n) from p[off[j]], the rest zero.
inline float32x4_t gather(const float* p, const ptrdiff_t* off, int n) {
  float32x4_t v = vdupq_n_f32(0.f);
  v = vld1q_lane_f32(p + off[0], v, 0);
  if (n > 1) v = vld1q_lane_f32(p + off[1], v, 1);
  if (n > 2) v = vld1q_lane_f32(p + off[2], v, 2);
  if (n > 3) v = vld1q_lane_f32(p + off[3], v, 3);
  return v;
}

inline void store_n(float* p, float32x4_t v, int n) {  // lanes [0, n)
  if (n == 4) {
    vst1q_f32(p, v);
    return;
  }
  vst1q_lane_f32(p, v, 0);
  if (n > 1) vst1q_lane_f32(p + 1, v, 1);
  if (n > 2) vst1q_lane_f32(p + 2, v, 2);
}

inline float32x4_t load_n(const float* p, int n) {  // lanes [0, n), the rest zero
  if (n == 4) return vld1q_f32(p);
  const ptrdiff_t off[4] = {0, 1, 2, 3};
  return gather(p, off, n);
}

}  // namespace

void winograd4_input_neon(const float* phases, int PH, int QW, int C, int TX, int t0, int t1, float* v, int ld,
                          size_t ms) {
  for (int tt = t0; tt < t1; tt += 4) {
    const int n = std::min(4, t1 - tt);
    ptrdiff_t off[4];  // per lane: the tile's patch origin in a phase plane
    for (int j = 0; j < n; ++j) {
      const int t = tt + j;
      off[j] = ptrdiff_t(4 * (t / TX)) * QW + t % TX;
    }
    const bool run = n == 4 && off[3] == off[0] + 3;  // 4 tiles of one tile row: contiguous lanes
    for (int c = 0; c < C; ++c) {
      const float* ch = phases + size_t(c) * 4 * PH * QW;
      float32x4_t tmp[6][6];  // (B^T d)[i][k]
      for (int k = 0; k < 6; ++k) {
        float32x4_t d[6];
        for (int r = 0; r < 6; ++r) {
          const float* base = ch + (size_t(k % 4) * PH + r) * QW + k / 4;
          d[r] = run ? vld1q_f32(base + off[0]) : gather(base, off, n);
        }
        float32x4_t t[6];
        bt6(d, t);
        for (int i = 0; i < 6; ++i) tmp[i][k] = t[i];
      }
      float* o = v + size_t(c) * ld + (tt - t0);
      for (int i = 0; i < 6; ++i) {
        float32x4_t t[6];
        bt6(tmp[i], t);
        for (int j = 0; j < 6; ++j) store_n(o + (i * 6 + j) * ms, t[j], n);
      }
    }
  }
}

void winograd4_output_neon(const float* mo, int M, int ld, size_t ms, int TX, int t0, int t1, const float* bias,
                           bool relu, float* out, int OH, int OW) {
  const float32x4_t lo = vdupq_n_f32(relu ? 0.f : -3.4e38f);
  for (int tt = t0; tt < t1; tt += 4) {
    const int n = std::min(4, t1 - tt);
    int off[4], rows[4], cols[4];  // per tile: offset of its top-left output, rows and columns inside the map
    for (int j = 0; j < n; ++j) {
      const int t = tt + j, y0 = 4 * (t / TX), x0 = 4 * (t % TX);
      off[j] = y0 * OW + x0, rows[j] = std::min(4, OH - y0), cols[j] = std::min(4, OW - x0);
    }
    bool full = n == 4;
    for (int j = 0; j < n; ++j) full = full && rows[j] == 4 && cols[j] == 4;
    for (int m = 0; m < M; ++m) {
      const float* q = mo + size_t(m) * ld + (tt - t0);
      const float32x4_t bm = vdupq_n_f32(bias[m]);
      float32x4_t tmp[4][6];  // (A^T s)[a][k]
      for (int k = 0; k < 6; ++k) {
        float32x4_t s[6], y[4];
        for (int i = 0; i < 6; ++i) s[i] = load_n(q + (i * 6 + k) * ms, n);
        at6(s, y);
        for (int a = 0; a < 4; ++a) tmp[a][k] = y[a];
      }
      float* plane = out + size_t(m) * OH * OW;
      for (int a = 0; a < 4; ++a) {
        float32x4_t y[4];
        at6(tmp[a], y);
        for (int b = 0; b < 4; ++b) y[b] = vmaxq_f32(vaddq_f32(y[b], bm), lo);
        // 4x4 transpose: tr[j] = row a of tile tt + j (lane b = output column b).
        const float32x4_t p0 = vtrn1q_f32(y[0], y[1]), p1 = vtrn2q_f32(y[0], y[1]);
        const float32x4_t p2 = vtrn1q_f32(y[2], y[3]), p3 = vtrn2q_f32(y[2], y[3]);
        const float64x2_t d0 = vreinterpretq_f64_f32(p0), d1 = vreinterpretq_f64_f32(p1);
        const float64x2_t d2 = vreinterpretq_f64_f32(p2), d3 = vreinterpretq_f64_f32(p3);
        const float32x4_t tr[4] = {vreinterpretq_f32_f64(vtrn1q_f64(d0, d2)), vreinterpretq_f32_f64(vtrn1q_f64(d1, d3)),
                                   vreinterpretq_f32_f64(vtrn2q_f64(d0, d2)),
                                   vreinterpretq_f32_f64(vtrn2q_f64(d1, d3))};
        float* row = plane + size_t(a) * OW;
        if (full) {
          for (int j = 0; j < 4; ++j) vst1q_f32(row + off[j], tr[j]);
          continue;
        }
        for (int j = 0; j < n; ++j) {
          if (a >= rows[j]) continue;
          if (cols[j] == 4) vst1q_f32(row + off[j], tr[j]);
          else {  // the map's last, partial tile
            alignas(16) float r[4];
            vst1q_f32(r, tr[j]);
            for (int x = 0; x < cols[j]; ++x) row[off[j] + x] = r[x];
          }
        }
      }
    }
  }
}

}  // namespace bluefire
