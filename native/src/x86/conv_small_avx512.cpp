// 3x3 stride-1 pad-1 convolution on small maps, AVX-512F (compiled with -mavx512f -mavx2 -mfma on
// this file only): conv_small_avx2.cpp with 16 output channels per zmm and up to 24 accumulators,
// so each broadcast input value (an embedded-broadcast FMA operand) feeds twice the lanes; the
// AVX2 form is bound by its loads. See conv_small_avx2.cpp for the method.
#include <immintrin.h>

#include <algorithm>
#include <utility>

#include "../variants.h"

namespace bluefire {
namespace {
namespace zmm {

using Vec = __m512;
constexpr int R = kSmallMr512;  // output channels per panel = lanes of a vector
constexpr int VL = R;
constexpr int kMaxAcc = 24;     // accumulators per row block (32 zmm registers)
inline Vec vzero() { return _mm512_setzero_ps(); }
inline Vec vload(const float* p) { return _mm512_loadu_ps(p); }
inline Vec vfma(Vec w, const float* x, Vec acc) { return _mm512_fmadd_ps(w, _mm512_set1_ps(*x), acc); }
inline Vec vadd(Vec a, Vec b) { return _mm512_add_ps(a, b); }
inline void vstore(float* p, Vec v) { _mm512_store_ps(p, v); }

#include "conv_small_body.h"  // the kernel text shared with the other x86 file

}  // namespace zmm

// A last panel of at most 8 channels on maps up to 5x5 (M = 50, 51, 82 on 3x3 maps in the pruned
// 64x64 model: 2-3 channels in a 16-lane panel) runs on the first 8 lanes of its weights in ymm:
// such a panel measured 0.33 us against 0.52 us in zmm (fire7's expand3x3, 3x3 map). From 7x7 on
// both take the same time (one broadcast-operand FMA a cycle either way), so those keep zmm.
// Without AVX-512VL only ymm0-15 exist for these ops, hence the AVX2 kernel's 12 accumulators.
namespace ymm {

using Vec = __m256;
constexpr int R = kSmallMr512;  // the weights keep the 16-channel panel stride
constexpr int VL = 8;
constexpr int kMaxAcc = 12;
inline Vec vzero() { return _mm256_setzero_ps(); }
inline Vec vload(const float* p) { return _mm256_loadu_ps(p); }
inline Vec vfma(Vec w, const float* x, Vec acc) { return _mm256_fmadd_ps(w, _mm256_broadcast_ss(x), acc); }
inline Vec vadd(Vec a, Vec b) { return _mm256_add_ps(a, b); }
inline void vstore(float* p, Vec v) { _mm256_store_ps(p, v); }

#include "conv_small_body.h"

}  // namespace ymm

constexpr int kYmmTailMaxMap = 5;

}  // namespace

void conv3x3_small_avx512(const Conv3x3SmallArgs& a) {
  for (int m0 = 0; m0 < a.M; m0 += kSmallMr512) {
    const float* ap = a.a + size_t(m0) * a.C * 9;
    if (a.M - m0 <= ymm::VL && a.H <= kYmmTailMaxMap) ymm::kPanelBySize[a.H](a, ap, m0);
    else zmm::kPanelBySize[a.H](a, ap, m0);
  }
}

}  // namespace bluefire
