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

using Vec = __m512;
constexpr int R = kSmallMr512;  // output channels per panel = lanes of a vector
constexpr int kMaxAcc = 24;     // accumulators per row block (32 zmm registers)
inline Vec vzero() { return _mm512_setzero_ps(); }
inline Vec vload(const float* p) { return _mm512_loadu_ps(p); }
inline Vec vfma(Vec w, const float* x, Vec acc) { return _mm512_fmadd_ps(w, _mm512_set1_ps(*x), acc); }
inline Vec vadd(Vec a, Vec b) { return _mm512_add_ps(a, b); }
inline void vstore(float* p, Vec v) { _mm512_store_ps(p, v); }

#include "conv_small_body.h"  // the kernel text shared with the other x86 file

}  // namespace

void conv3x3_small_avx512(const Conv3x3SmallArgs& a) { conv_small_by_size(a); }

}  // namespace bluefire
