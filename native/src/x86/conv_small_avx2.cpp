// 3x3 stride-1 pad-1 convolution on small maps (2x2 .. 12x12, up to the variant's small_max:
// fire2-9 at 32-64 px input), AVX2/FMA
// (compiled with -mavx2 -mfma on this file only). The map size is a template parameter, so every
// tap that would read padding is dropped at compile time: a 3x3 map costs 49 multiplies per
// (in, out) channel pair, not 81 (im2col) or 64 (Winograd F(2x2,3x3) on 4 tiles), and the weights
// are read once in their plain 9-tap form (Winograd's 16-tap form doubles the bytes streamed from
// L3, which is what bounds these layers). Vectorised over the output channels of a packed panel;
// each output pixel of a block of rows has its own accumulator and each input value is broadcast.
#include <immintrin.h>

#include <algorithm>
#include <utility>

#include "../variants.h"

namespace bluefire {
namespace {

using Vec = __m256;
constexpr int R = kSmallMr;  // output channels per panel = lanes of a vector
constexpr int kMaxAcc = 12;  // accumulators per row block (16 ymm registers)
inline Vec vzero() { return _mm256_setzero_ps(); }
inline Vec vload(const float* p) { return _mm256_loadu_ps(p); }
inline Vec vfma(Vec w, const float* x, Vec acc) { return _mm256_fmadd_ps(w, _mm256_broadcast_ss(x), acc); }
inline Vec vadd(Vec a, Vec b) { return _mm256_add_ps(a, b); }
inline void vstore(float* p, Vec v) { _mm256_store_ps(p, v); }

#include "conv_small_body.h"  // the kernel text shared with the other x86 file

}  // namespace

void conv3x3_small_avx2(const Conv3x3SmallArgs& a) { conv_small_by_size(a); }

}  // namespace bluefire
