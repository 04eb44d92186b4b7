// Winograd F(2x2, 3x3) transforms (Lavin & Gray 2015), with
//   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1], G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1],
//   A^T = [1 1 1 0; 0 1 -1 -1].
#include "bluefire/winograd.h"

#include <algorithm>
#include <cstddef>
#include <vector>

#include "bluefire/kernels.h"

namespace bluefire {

void winograd_weights(const float* w, int M, int C, float* u) {
  const float G[4][3] = {{1, 0, 0}, {.5f, .5f, .5f}, {.5f, -.5f, .5f}, {0, 0, 1}};
  for (int m = 0; m < M; ++m)
    for (int c = 0; c < C; ++c) {
      const float* g = w + (size_t(m) * C + c) * 9;
      float tmp[4][3];  // G g
      for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 3; ++j) tmp[i][j] = G[i][0] * g[j] + G[i][1] * g[3 + j] + G[i][2] * g[6 + j];
      for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 4; ++j)
          u[(size_t(i * 4 + j) * M + m) * C + c] = tmp[i][0] * G[j][0] + tmp[i][1] * G[j][1] + tmp[i][2] * G[j][2];
    }
}

// Both transforms walk the tiles of one tile row at a time with straight-line code, so the
// compiler vectorises across tiles (stride-2 loads of the patches, contiguous rows of v and mo).
void winograd_input(const float* padded, int PH, int PW, int C, int TX, int t0, int t1, float* v, int ld, size_t ms) {
  constexpr int kChunk = 64;
  float r[16][kChunk];  // computed into a local block (no aliasing with the input: vectorises), then copied
  for (int c = 0; c < C; ++c) {
    const float* plane = padded + size_t(c) * PH * PW;
    for (int t = t0; t < t1;) {
      const int ty = t / TX, tx0 = t % TX, n = std::min({TX - tx0, t1 - t, kChunk});
      const float* r0 = plane + size_t(2 * ty) * PW + 2 * tx0;
      const float *r1 = r0 + PW, *r2 = r1 + PW, *r3 = r2 + PW;
      for (int x = 0; x < n; ++x) {
        const int j = 2 * x;
        // B^T d, column by column
        const float a0 = r0[j] - r2[j], a1 = r0[j + 1] - r2[j + 1], a2 = r0[j + 2] - r2[j + 2],
                    a3 = r0[j + 3] - r2[j + 3];
        const float b0 = r1[j] + r2[j], b1 = r1[j + 1] + r2[j + 1], b2 = r1[j + 2] + r2[j + 2],
                    b3 = r1[j + 3] + r2[j + 3];
        const float c0 = r2[j] - r1[j], c1 = r2[j + 1] - r1[j + 1], c2 = r2[j + 2] - r1[j + 2],
                    c3 = r2[j + 3] - r1[j + 3];
        const float d0 = r1[j] - r3[j], d1 = r1[j + 1] - r3[j + 1], d2 = r1[j + 2] - r3[j + 2],
                    d3 = r1[j + 3] - r3[j + 3];
        // (B^T d) B, row by row
        r[0][x] = a0 - a2, r[1][x] = a1 + a2, r[2][x] = a2 - a1, r[3][x] = a1 - a3;
        r[4][x] = b0 - b2, r[5][x] = b1 + b2, r[6][x] = b2 - b1, r[7][x] = b1 - b3;
        r[8][x] = c0 - c2, r[9][x] = c1 + c2, r[10][x] = c2 - c1, r[11][x] = c1 - c3;
        r[12][x] = d0 - d2, r[13][x] = d1 + d2, r[14][x] = d2 - d1, r[15][x] = d1 - d3;
      }
      float* o = v + size_t(c) * ld + (t - t0);
      for (int i = 0; i < 16; ++i) std::copy(r[i], r[i] + n, o + i * ms);
      t += n;
    }
  }
}

void winograd_output(const float* mo, int M, int ld, size_t ms, int TX, int t0, int t1, const float* bias, bool relu,
                     float* out, int OH, int OW) {
  const float lo = relu ? 0.f : -3.4e38f;
  constexpr int kChunk = 64;
  float r[4][kChunk];  // the 2x2 outputs of up to kChunk tiles, computed vectorised, then scattered
  for (int m = 0; m < M; ++m) {
    float* o = out + size_t(m) * OH * OW;
    const float bm = bias[m];
    for (int t = t0; t < t1;) {
      const int ty = t / TX, tx0 = t % TX, n = std::min({TX - tx0, t1 - t, kChunk});
      const float* q = mo + size_t(m) * ld + (t - t0);
      for (int x = 0; x < n; ++x) {
        const float s0 = q[0 * ms + x], s1 = q[1 * ms + x], s2 = q[2 * ms + x], s3 = q[3 * ms + x];
        const float s4 = q[4 * ms + x], s5 = q[5 * ms + x], s6 = q[6 * ms + x], s7 = q[7 * ms + x];
        const float s8 = q[8 * ms + x], s9 = q[9 * ms + x], s10 = q[10 * ms + x], s11 = q[11 * ms + x];
        const float s12 = q[12 * ms + x], s13 = q[13 * ms + x], s14 = q[14 * ms + x], s15 = q[15 * ms + x];
        const float a0 = s0 + s4 + s8, a1 = s1 + s5 + s9, a2 = s2 + s6 + s10, a3 = s3 + s7 + s11;      // A^T s, row 0
        const float b0 = s4 - s8 - s12, b1 = s5 - s9 - s13, b2 = s6 - s10 - s14, b3 = s7 - s11 - s15;  // row 1
        r[0][x] = std::max(a0 + a1 + a2 + bm, lo), r[1][x] = std::max(a1 - a2 - a3 + bm, lo);
        r[2][x] = std::max(b0 + b1 + b2 + bm, lo), r[3][x] = std::max(b1 - b2 - b3 + bm, lo);
      }
      const int oy = 2 * ty, ox0 = 2 * tx0;
      const int pairs = std::min(n, (OW - ox0) / 2);  // tiles whose right column exists
      float* y0 = o + size_t(oy) * OW + ox0;
      float* y1 = oy + 1 < OH ? y0 + OW : nullptr;
      for (int x = 0; x < pairs; ++x) y0[2 * x] = r[0][x], y0[2 * x + 1] = r[1][x];  // interleaving stores
      if (y1)
        for (int x = 0; x < pairs; ++x) y1[2 * x] = r[2][x], y1[2 * x + 1] = r[3][x];
      if (pairs < n) {  // an odd map: the last tile has no right column
        y0[2 * pairs] = r[0][pairs];
        if (y1) y1[2 * pairs] = r[2][pairs];
      }
      t += n;
    }
  }
}

// F(4x4, 3x3) weights, G = [1/4 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6; 1/24 1/12 1/6; 1/24 -1/12 1/6;
// 0 0 1]; computed in double once at build time, since the fractions are not exact in float.
void winograd4_weights(const float* w, int M, int C, float* u) {
  const double G[6][3] = {{1. / 4, 0, 0},
                          {-1. / 6, -1. / 6, -1. / 6},
                          {-1. / 6, 1. / 6, -1. / 6},
                          {1. / 24, 1. / 12, 1. / 6},
                          {1. / 24, -1. / 12, 1. / 6},
                          {0, 0, 1}};
  for (int m = 0; m < M; ++m)
    for (int c = 0; c < C; ++c) {
      const float* g = w + (size_t(m) * C + c) * 9;
      double tmp[6][3];  // G g
      for (int i = 0; i < 6; ++i)
        for (int j = 0; j < 3; ++j) tmp[i][j] = G[i][0] * g[j] + G[i][1] * g[3 + j] + G[i][2] * g[6 + j];
      for (int i = 0; i < 6; ++i)
        for (int j = 0; j < 6; ++j)
          u[(size_t(i * 6 + j) * M + m) * C + c] =
              float(tmp[i][0] * G[j][0] + tmp[i][1] * G[j][1] + tmp[i][2] * G[j][2]);
    }
}

size_t winograd4_channels_packed_size(int M, int C, int mr) { return size_t((M + mr - 1) / mr) * 36 * C * mr; }

// F(4x4) weights (in double, as above) regrouped so that each panel of mr output channels reads one
// contiguous mr-float vector per (product, input channel): see kernels.h.
void pack_winograd4_channels_weights(const float* w, int M, int C, int mr, float* out) {
  std::vector<float> u(size_t(36) * M * C);
  winograd4_weights(w, M, C, u.data());
  std::fill(out, out + winograd4_channels_packed_size(M, C, mr), 0.f);
  for (int m = 0; m < M; ++m)
    for (int k = 0; k < 36; ++k)
      for (int c = 0; c < C; ++c)
        out[((size_t(m / mr) * 36 + k) * C + c) * mr + m % mr] = u[(size_t(k) * M + m) * C + c];
}

// The scalar references of the F(4x4) transforms (KernelTable::winograd4_input/output): one tile
// at a time, B^T d B and A^T m A written out as matrix products.
// Zero the channel's four phases, then scatter each input row's pixels to their phase: one pass
// over the input with no short loops (the previous per-phase loops of 0-5 iterations each took
// 4.4 us for fire2's 12 channels of 15x15).
void column_phases4_ref(const float* src, int H, int W, int pt, int pl, int PH, int QW, float* dst) {
  const size_t ps = size_t(PH) * QW;  // floats per phase
  std::fill(dst, dst + 4 * ps, 0.f);
  const int y0 = std::max(0, pt), y1 = std::min(PH, pt + H);
  const int x0 = std::max(0, -pl), x1 = std::min(W, 4 * QW - pl);  // input columns inside the phases
  for (int y = y0; y < y1; ++y) {
    const float* s = src + size_t(y - pt) * W;
    float* d = dst + size_t(y) * QW;
    for (int x = x0; x < x1; ++x) {
      const int p = x + pl;
      d[(p & 3) * ps + (p >> 2)] = s[x];
    }
  }
}

void winograd4_input_ref(const float* phases, int PH, int QW, int C, int TX, int t0, int t1, float* v, int ld,
                         size_t ms) {
  const float BT[6][6] = {{4, 0, -5, 0, 1, 0},  {0, -4, -4, 1, 1, 0}, {0, 4, -4, -1, 1, 0},
                          {0, -2, -1, 2, 1, 0}, {0, 2, -1, -2, 1, 0}, {0, 4, 0, -5, 0, 1}};
  for (int c = 0; c < C; ++c)
    for (int t = t0; t < t1; ++t) {
      const int ty = t / TX, tx = t % TX;
      float d[6][6], tmp[6][6];
      for (int r = 0; r < 6; ++r)  // padded pixel (4ty + r, 4tx + k) is phase k % 4, index tx + k / 4
        for (int k = 0; k < 6; ++k) d[r][k] = phases[((size_t(c) * 4 + k % 4) * PH + 4 * ty + r) * QW + tx + k / 4];
      for (int i = 0; i < 6; ++i)
        for (int k = 0; k < 6; ++k) {
          float s = 0.f;
          for (int r = 0; r < 6; ++r) s += BT[i][r] * d[r][k];
          tmp[i][k] = s;
        }
      for (int i = 0; i < 6; ++i)
        for (int j = 0; j < 6; ++j) {
          float s = 0.f;
          for (int k = 0; k < 6; ++k) s += tmp[i][k] * BT[j][k];
          v[(i * 6 + j) * ms + size_t(c) * ld + (t - t0)] = s;
        }
    }
}

void winograd4_output_ref(const float* mo, int M, int ld, size_t ms, int TX, int t0, int t1, const float* bias,
                          bool relu, float* out, int OH, int OW) {
  const float AT[4][6] = {{1, 1, 1, 1, 1, 0}, {0, 1, -1, 2, -2, 0}, {0, 1, 1, 4, 4, 0}, {0, 1, -1, 8, -8, 1}};
  for (int m = 0; m < M; ++m)
    for (int t = t0; t < t1; ++t) {
      const int ty = t / TX, tx = t % TX;
      float tmp[4][6];
      for (int a = 0; a < 4; ++a)
        for (int k = 0; k < 6; ++k) {
          float s = 0.f;
          for (int i = 0; i < 6; ++i) s += AT[a][i] * mo[(i * 6 + k) * ms + size_t(m) * ld + (t - t0)];
          tmp[a][k] = s;
        }
      for (int a = 0; a < 4; ++a)
        for (int b = 0; b < 4; ++b) {
          const int y = 4 * ty + a, x = 4 * tx + b;
          if (y >= OH || x >= OW) continue;
          float s = 0.f;
          for (int k = 0; k < 6; ++k) s += tmp[a][k] * AT[b][k];
          s += bias[m];
          out[(size_t(m) * OH + y) * OW + x] = relu ? std::max(s, 0.f) : s;
        }
    }
}

}  // namespace bluefire
