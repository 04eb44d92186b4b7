// NEON convolution GEMM for aarch64, shaped for the in-order Cortex-A53.
// Register block: 8 weight rows x 8 pixels = 16 q accumulators. Per k the 8 weights come in as
// four 64-bit loads (vld1_f32), which the A53 dual-issues with FMLA (128-bit loads do not), and
// each FMLA takes its weight by lane (fmla v.4s, v.4s, v.s[i]) so no broadcast instruction is
// spent. Then an 8x4 block and a scalar-column tail on the same running column index. Maps of at
// most 3 pixels take a column path: 8 rows in two q registers, 4 independent chains over k.
#include <arm_neon.h>

#include <algorithm>

#include "../variants.h"

namespace bluefire {
namespace {

constexpr int MR = kNeonMr;

inline float32x4_t finish(float32x4_t v, float bias, bool relu) {
  v = vaddq_f32(v, vdupq_n_f32(bias));
  return relu ? vmaxq_f32(v, vdupq_n_f32(0.f)) : v;
}

void block_8(const GemmArgs& g, const float* ap, int m0, int rows, int n) {
  float32x4_t c[MR][2];
  for (auto& r : c) r[0] = r[1] = vdupq_n_f32(0.f);
  const float* bp = g.b + n;
  for (int k = 0; k < g.K; ++k, ap += MR) {
    const float* row = bp + g.brow[k];
    float32x4_t b0 = vld1q_f32(row), b1 = vld1q_f32(row + 4);
    float32x2_t a01 = vld1_f32(ap), a23 = vld1_f32(ap + 2), a45 = vld1_f32(ap + 4), a67 = vld1_f32(ap + 6);
    c[0][0] = vfmaq_lane_f32(c[0][0], b0, a01, 0); c[0][1] = vfmaq_lane_f32(c[0][1], b1, a01, 0);
    c[1][0] = vfmaq_lane_f32(c[1][0], b0, a01, 1); c[1][1] = vfmaq_lane_f32(c[1][1], b1, a01, 1);
    c[2][0] = vfmaq_lane_f32(c[2][0], b0, a23, 0); c[2][1] = vfmaq_lane_f32(c[2][1], b1, a23, 0);
    c[3][0] = vfmaq_lane_f32(c[3][0], b0, a23, 1); c[3][1] = vfmaq_lane_f32(c[3][1], b1, a23, 1);
    c[4][0] = vfmaq_lane_f32(c[4][0], b0, a45, 0); c[4][1] = vfmaq_lane_f32(c[4][1], b1, a45, 0);
    c[5][0] = vfmaq_lane_f32(c[5][0], b0, a45, 1); c[5][1] = vfmaq_lane_f32(c[5][1], b1, a45, 1);
    c[6][0] = vfmaq_lane_f32(c[6][0], b0, a67, 0); c[6][1] = vfmaq_lane_f32(c[6][1], b1, a67, 0);
    c[7][0] = vfmaq_lane_f32(c[7][0], b0, a67, 1); c[7][1] = vfmaq_lane_f32(c[7][1], b1, a67, 1);
  }
  for (int i = 0; i < rows; ++i) {
    float* cp = g.c + size_t(m0 + i) * g.ldc + n;
    vst1q_f32(cp, finish(c[i][0], g.bias[m0 + i], g.relu));
    vst1q_f32(cp + 4, finish(c[i][1], g.bias[m0 + i], g.relu));
  }
}

void block_4(const GemmArgs& g, const float* ap, int m0, int rows, int n) {
  float32x4_t c[MR];
  for (auto& r : c) r = vdupq_n_f32(0.f);
  const float* bp = g.b + n;
  for (int k = 0; k < g.K; ++k, ap += MR) {
    float32x4_t b = vld1q_f32(bp + g.brow[k]);
    float32x2_t a01 = vld1_f32(ap), a23 = vld1_f32(ap + 2), a45 = vld1_f32(ap + 4), a67 = vld1_f32(ap + 6);
    c[0] = vfmaq_lane_f32(c[0], b, a01, 0); c[1] = vfmaq_lane_f32(c[1], b, a01, 1);
    c[2] = vfmaq_lane_f32(c[2], b, a23, 0); c[3] = vfmaq_lane_f32(c[3], b, a23, 1);
    c[4] = vfmaq_lane_f32(c[4], b, a45, 0); c[5] = vfmaq_lane_f32(c[5], b, a45, 1);
    c[6] = vfmaq_lane_f32(c[6], b, a67, 0); c[7] = vfmaq_lane_f32(c[7], b, a67, 1);
  }
  for (int i = 0; i < rows; ++i) vst1q_f32(g.c + size_t(m0 + i) * g.ldc + n, finish(c[i], g.bias[m0 + i], g.relu));
}

// One output pixel, one 8-row panel: rows in lanes, 4 chains over k for the FMA latency.
void column(const GemmArgs& g, const float* ap, int m0, int rows, int n) {
  float32x4_t lo[4], hi[4];
  for (int j = 0; j < 4; ++j) lo[j] = hi[j] = vdupq_n_f32(0.f);
  const float* bp = g.b + n;
  int k = 0;
  for (; k + 4 <= g.K; k += 4)
    for (int j = 0; j < 4; ++j) {
      const float* a = ap + size_t(k + j) * MR;
      float32x4_t b = vld1q_dup_f32(bp + g.brow[k + j]);
      lo[j] = vfmaq_f32(lo[j], vld1q_f32(a), b);
      hi[j] = vfmaq_f32(hi[j], vld1q_f32(a + 4), b);
    }
  for (; k < g.K; ++k) {
    const float* a = ap + size_t(k) * MR;
    float32x4_t b = vld1q_dup_f32(bp + g.brow[k]);
    lo[0] = vfmaq_f32(lo[0], vld1q_f32(a), b);
    hi[0] = vfmaq_f32(hi[0], vld1q_f32(a + 4), b);
  }
  float out[MR];
  vst1q_f32(out, vaddq_f32(vaddq_f32(lo[0], lo[1]), vaddq_f32(lo[2], lo[3])));
  vst1q_f32(out + 4, vaddq_f32(vaddq_f32(hi[0], hi[1]), vaddq_f32(hi[2], hi[3])));
  for (int i = 0; i < rows; ++i) {
    float v = out[i] + g.bias[m0 + i];
    g.c[size_t(m0 + i) * g.ldc + n] = g.relu ? std::max(v, 0.f) : v;
  }
}

}  // namespace

void gemm_neon(const GemmArgs& g) {
  if (g.N <= 3) {
    for (int m0 = 0; m0 < g.M; m0 += MR)
      for (int n = 0; n < g.N; ++n) column(g, g.a + size_t(m0) * g.K, m0, std::min(MR, g.M - m0), n);
    return;
  }
  int n = 0;
  for (; n + 8 <= g.N; n += 8)
    for (int m0 = 0; m0 < g.M; m0 += MR) block_8(g, g.a + size_t(m0) * g.K, m0, std::min(MR, g.M - m0), n);
  if (n + 4 <= g.N) {
    for (int m0 = 0; m0 < g.M; m0 += MR) block_4(g, g.a + size_t(m0) * g.K, m0, std::min(MR, g.M - m0), n);
    n += 4;
  }
  for (; n < g.N; ++n)  // 1..3 leftover pixels
    for (int m0 = 0; m0 < g.M; m0 += MR) column(g, g.a + size_t(m0) * g.K, m0, std::min(MR, g.M - m0), n);
}

}  // namespace bluefire
