// int8 GEMM, NEON for ARMv8.0 (the Cortex-A53 has no sdot): blocks of 8 output channels x 8 pixels.
// Each k's 8 activations are widened to int16 once (uxtl) and multiplied into 16 int32
// accumulators with widening multiply-accumulates by weight lane (smlal/smlal2 .4s, .h[i]); 16
// smlal per 8-byte load. Requantization in float as the reference's (kernels_s8.h): scvtf, fmul,
// clamp, fcvtns (round to nearest, ties to even).
// Weights packed with mr 8, kgroup 1, int16 (see kernels_s8.h).
#include <arm_neon.h>

#include <algorithm>
#include <cstring>

#include "bluefire/kernels_s8.h"

namespace bluefire {
namespace {
constexpr int kMr = 8, kPx = 8;

inline int32x4_t requant4(int32x4_t v, float32x4_t scale, float32x4_t flo, float32x4_t fhi, int32x4_t zc) {
  const float32x4_t f = vminq_f32(vmaxq_f32(vmulq_f32(vcvtq_f32_s32(v), scale), flo), fhi);
  return vaddq_s32(vcvtnq_s32_f32(f), zc);
}

template <int I>
inline void mac(int32x4_t (&acc)[kMr][2], int16x8_t x, int16x8_t w) {
  acc[I][0] = vmlal_laneq_s16(acc[I][0], vget_low_s16(x), w, I);
  acc[I][1] = vmlal_high_laneq_s16(acc[I][1], x, w, I);
}

inline void block(const GemmU8Args& a, const int16_t* w, int m0, int rows, const uint8_t* const* src, int npx,
                  uint8_t* out) {
  int32x4_t acc[kMr][2];
  for (int i = 0; i < kMr; ++i) acc[i][0] = acc[i][1] = vdupq_n_s32(0);
  for (int k = 0; k < a.K; ++k) {
    const int16x8_t x = vreinterpretq_s16_u16(vmovl_u8(vld1_u8(src[k])));
    const int16x8_t wv = vld1q_s16(w + size_t(k) * kMr);
    mac<0>(acc, x, wv);
    mac<1>(acc, x, wv);
    mac<2>(acc, x, wv);
    mac<3>(acc, x, wv);
    mac<4>(acc, x, wv);
    mac<5>(acc, x, wv);
    mac<6>(acc, x, wv);
    mac<7>(acc, x, wv);
  }
  const int32x4_t zc = vdupq_n_s32(a.zc);
  const float32x4_t flo = vdupq_n_f32(float(a.lo - a.zc)), fhi = vdupq_n_f32(float(a.hi - a.zc));
  for (int i = 0; i < rows; ++i) {
    const int m = m0 + i;
    const int32x4_t b = vdupq_n_s32(a.bias[m]);
    const float32x4_t s = vdupq_n_f32(a.scale[m]);
    const int32x4_t q0 = requant4(vaddq_s32(acc[i][0], b), s, flo, fhi, zc);
    const int32x4_t q1 = requant4(vaddq_s32(acc[i][1], b), s, flo, fhi, zc);
    const uint8x8_t q = vqmovn_u16(vcombine_u16(vqmovun_s32(q0), vqmovun_s32(q1)));
    if (npx == kPx) {
      vst1_u8(out + size_t(i) * a.ldc, q);
    } else {
      uint8_t tmp[kPx];
      vst1_u8(tmp, q);
      std::memcpy(out + size_t(i) * a.ldc, tmp, npx);
    }
  }
}
}  // namespace

void gemm_u8_neon(const GemmU8Args& a) {
  const uint8_t* src[kMaxKS8];
  uint8_t tail[kMaxKS8][kPx];
  for (int n = 0; n < a.N; n += kPx) {
    const int npx = std::min(kPx, a.N - n);
    for (int k = 0; k < a.K; ++k) {
      src[k] = a.b + a.brow[k] + n;
      if (npx < kPx && !a.b_overread) {  // the last 1..7 pixels: through a zero-padded copy, one code path
        std::memset(tail[k], 0, kPx);
        std::memcpy(tail[k], src[k], npx);
        src[k] = tail[k];
      }
    }
    for (int m0 = 0; m0 < a.M; m0 += kMr)
      block(a, static_cast<const int16_t*>(a.a) + size_t(m0 / kMr) * kMr * a.K, m0, std::min(kMr, a.M - m0), src, npx,
            a.c + size_t(m0) * a.ldc + n);
  }
}

}  // namespace bluefire
