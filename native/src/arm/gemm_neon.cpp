// NEON convolution GEMM for aarch64, shaped for the in-order Cortex-A53.
// Register block: 8 weight rows x 8 pixels = 16 q accumulators, each FMLA taking its weight by
// lane (fmla v.4s, v.4s, v.s[i]) so no broadcast instruction is spent. The block's k loop is
// hand-scheduled assembly (kloop_8x8): a compiler turns the operand loads into 128-bit `ldr q` /
// `ldp q`, which the A53 cannot issue beside an FMLA, or into 32-bit `ldr s` lane loads; here every
// operand arrives as 64-bit loads interleaved one per FMLA. Then an 8x4 block and a scalar-column
// tail on the same running column index (intrinsics: they run once per row of blocks). Maps of at
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

// One k step of the 8x8 block for the in-order Cortex-A53, as the assembler sees it: the 16 FMLAs
// on register set (B0, B1 pixels; A0, A1 weights) with the next k's row offset and operands loaded
// into the other set between them. Every 128-bit operand comes in as a 64-bit `ldr d` (low half)
// plus an `ldr x` and `ins v.d[1]` (high half): the A53 issues a 64-bit load in the same cycle as
// an FMLA, a `ldr q` it does not, so the loads ride in the FMLAs' shadow (the form of OpenBLAS's and
// ncnn's A53 kernels). The integer loads are consumed 4+ instructions later (load-use latency 3),
// and the `ins` of the next step's first operands come first, so the next step starts unstalled.
// One FMLA and its shadowed load per line, as the A53 issues them: kept out of clang-format.
// clang-format off
#define BF_FMLA(ACC, BR, AR, L) "fmla v" #ACC ".4s, v" #BR ".4s, v" #AR ".s[" #L "]\n"
#define BF_STEP_LOAD(B0, B1, A0, A1, N0, N1, M0, M1)                                               \
  BF_FMLA(16, B0, A0, 0) "ldrsw x9, [%[brow]], #4\n"                                               \
  BF_FMLA(17, B1, A0, 0) "add x10, %[bp], x9, lsl #2\n"                                            \
  BF_FMLA(18, B0, A0, 1) "ldr d" #N0 ", [x10]\n"                                                   \
  BF_FMLA(19, B1, A0, 1) "ldr x11, [x10, #8]\n"                                                    \
  BF_FMLA(20, B0, A0, 2) "ldr d" #M0 ", [%[ap]], #8\n"                                             \
  BF_FMLA(21, B1, A0, 2) "ldr x13, [%[ap]], #8\n"                                                  \
  BF_FMLA(22, B0, A0, 3) "ldr d" #N1 ", [x10, #16]\n"                                              \
  BF_FMLA(23, B1, A0, 3) "ldr x12, [x10, #24]\n"                                                   \
  BF_FMLA(24, B0, A1, 0) "ldr d" #M1 ", [%[ap]], #8\n"                                             \
  BF_FMLA(25, B1, A1, 0) "ldr x14, [%[ap]], #8\n"                                                  \
  BF_FMLA(26, B0, A1, 1) "ins v" #N0 ".d[1], x11\n"                                                \
  BF_FMLA(27, B1, A1, 1) "ins v" #M0 ".d[1], x13\n"                                                \
  BF_FMLA(28, B0, A1, 2) "ins v" #N1 ".d[1], x12\n"                                                \
  BF_FMLA(29, B1, A1, 2) "ins v" #M1 ".d[1], x14\n"                                                \
  BF_FMLA(30, B0, A1, 3)                                                                           \
  BF_FMLA(31, B1, A1, 3)
#define BF_STEP_LAST(B0, B1, A0, A1)                                                               \
  BF_FMLA(16, B0, A0, 0) BF_FMLA(17, B1, A0, 0)                                                    \
  BF_FMLA(18, B0, A0, 1) BF_FMLA(19, B1, A0, 1)                                                    \
  BF_FMLA(20, B0, A0, 2) BF_FMLA(21, B1, A0, 2)                                                    \
  BF_FMLA(22, B0, A0, 3) BF_FMLA(23, B1, A0, 3)                                                    \
  BF_FMLA(24, B0, A1, 0) BF_FMLA(25, B1, A1, 0)                                                    \
  BF_FMLA(26, B0, A1, 1) BF_FMLA(27, B1, A1, 1)                                                    \
  BF_FMLA(28, B0, A1, 2) BF_FMLA(29, B1, A1, 2)                                                    \
  BF_FMLA(30, B0, A1, 3) BF_FMLA(31, B1, A1, 3)
// clang-format on

// acc[i*8 .. i*8+7] = sum_k ap[k*8 + i] * (bp + brow[k])[0..7] for the 8 rows i of a panel.
// K >= 1. Accumulators v16-v31 (row i: v16+2i pixels 0-3, v17+2i pixels 4-7), operand sets
// v0-v3 and v4-v7 used in turn (the next step's operands load during this one), so no callee-saved register
// is touched. Reads exactly K row offsets, K*8 weights and 8 pixels per row.
void kloop_8x8(const float* ap, const float* bp, const int* brow, int K, float* acc) {
  int left = K - 1;  // steps after the current one
  asm volatile(
      "ldrsw x9, [%[brow]], #4\n"
      "add x10, %[bp], x9, lsl #2\n"
      "ldr q0, [x10]\n"
      "ldr q1, [x10, #16]\n"
      "ldr q2, [%[ap]], #16\n"
      "ldr q3, [%[ap]], #16\n"
      "movi v16.4s, #0\n" "movi v17.4s, #0\n" "movi v18.4s, #0\n" "movi v19.4s, #0\n"
      "movi v20.4s, #0\n" "movi v21.4s, #0\n" "movi v22.4s, #0\n" "movi v23.4s, #0\n"
      "movi v24.4s, #0\n" "movi v25.4s, #0\n" "movi v26.4s, #0\n" "movi v27.4s, #0\n"
      "movi v28.4s, #0\n" "movi v29.4s, #0\n" "movi v30.4s, #0\n" "movi v31.4s, #0\n"
      "cbz %w[left], 3f\n"
      "1:\n"  // set 0 computes, set 1 loads
      BF_STEP_LOAD(0, 1, 2, 3, 4, 5, 6, 7)
      "subs %w[left], %w[left], #1\n"
      "b.eq 4f\n"
      // set 1 computes, set 0 loads
      BF_STEP_LOAD(4, 5, 6, 7, 0, 1, 2, 3)
      "subs %w[left], %w[left], #1\n"
      "b.ne 1b\n"
      "3:\n"
      BF_STEP_LAST(0, 1, 2, 3)
      "b 5f\n"
      "4:\n"
      BF_STEP_LAST(4, 5, 6, 7)
      "5:\n"
      "st1 {v16.4s, v17.4s, v18.4s, v19.4s}, [%[acc]], #64\n"
      "st1 {v20.4s, v21.4s, v22.4s, v23.4s}, [%[acc]], #64\n"
      "st1 {v24.4s, v25.4s, v26.4s, v27.4s}, [%[acc]], #64\n"
      "st1 {v28.4s, v29.4s, v30.4s, v31.4s}, [%[acc]]\n"
      : [ap] "+r"(ap), [brow] "+r"(brow), [left] "+r"(left), [acc] "+r"(acc)
      : [bp] "r"(bp)
      : "x9", "x10", "x11", "x12", "x13", "x14", "v0", "v1", "v2", "v3", "v4", "v5", "v6", "v7", "v16", "v17",
        "v18", "v19", "v20", "v21", "v22", "v23", "v24", "v25", "v26", "v27", "v28", "v29", "v30", "v31", "cc",
        "memory");
}
#undef BF_FMLA
#undef BF_STEP_LOAD
#undef BF_STEP_LAST

void block_8(const GemmArgs& g, const float* ap, int m0, int rows, int n) {
  alignas(16) float acc[MR * 8] = {};
  if (g.K > 0) kloop_8x8(ap, g.b + n, g.brow, g.K, acc);
  for (int i = 0; i < rows; ++i) {
    float* cp = g.c + size_t(m0 + i) * g.ldc + n;
    vst1q_f32(cp, finish(vld1q_f32(acc + i * 8), g.bias[m0 + i], g.relu));
    vst1q_f32(cp + 4, finish(vld1q_f32(acc + i * 8 + 4), g.bias[m0 + i], g.relu));
  }
}

void block_4(const GemmArgs& g, const float* ap, int m0, int rows, int n) {
  float32x4_t c[MR];
  for (auto& r : c) r = vdupq_n_f32(0.f);
  const float* bp = g.b + n;
  for (int k = 0; k < g.K; ++k, ap += MR) {
    float32x4_t b = vld1q_f32(bp + g.brow[k]);
    float32x2_t a01 = vld1_f32(ap), a23 = vld1_f32(ap + 2), a45 = vld1_f32(ap + 4), a67 = vld1_f32(ap + 6);
    c[0] = vfmaq_lane_f32(c[0], b, a01, 0);
    c[1] = vfmaq_lane_f32(c[1], b, a01, 1);
    c[2] = vfmaq_lane_f32(c[2], b, a23, 0);
    c[3] = vfmaq_lane_f32(c[3], b, a23, 1);
    c[4] = vfmaq_lane_f32(c[4], b, a45, 0);
    c[5] = vfmaq_lane_f32(c[5], b, a45, 1);
    c[6] = vfmaq_lane_f32(c[6], b, a67, 0);
    c[7] = vfmaq_lane_f32(c[7], b, a67, 1);
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
