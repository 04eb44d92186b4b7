// 3x3 stride-1 pad-1 convolution on tiny maps (2x2, 3x3: fire6-9 at 40x40 and 64x64 input), AVX2/FMA
// (compiled with -mavx2 -mfma on this file only). The map size is a template parameter, so every
// tap that would read padding is dropped at compile time: a 3x3 map costs 49 multiplies per
// (in, out) channel pair, not 81 (im2col) or 64 (Winograd F(2x2,3x3) on 4 tiles), and the weights
// are read once in their plain 9-tap form (Winograd's 16-tap form doubles the bytes streamed from
// L3, which is what bounds these layers). Vectorised over 8 output channels of a packed panel;
// each pixel has its own accumulator and each input value is broadcast.
#include <immintrin.h>

#include <algorithm>
#include <utility>

#include "../variants.h"

namespace bluefire {
namespace {

constexpr int R = kSmallMr;  // output channels per panel = lanes of a ymm

template <int H, int W, int tap, int p>
inline void step(const float* x, __m256 w, __m256* acc) {
  constexpr int iy = p / W + tap / 3 - 1, ix = p % W + tap % 3 - 1;
  if constexpr (iy >= 0 && iy < H && ix >= 0 && ix < W) acc[p] = _mm256_fmadd_ps(w, _mm256_broadcast_ss(x + iy * W + ix), acc[p]);
}

template <int H, int W, int tap, int... ps>
inline void one_tap(const float* x, const float* w, __m256* acc, std::integer_sequence<int, ps...>) {
  const __m256 wv = _mm256_loadu_ps(w + tap * R);
  (step<H, W, tap, ps>(x, wv, acc), ...);
}

// acc[p] += sum over the 9 taps of channel x (its H*W plane) times the panel's weights w (9 x R).
template <int H, int W, int... taps>
inline void one_channel(const float* x, const float* w, __m256* acc, std::integer_sequence<int, taps...>) {
  (one_tap<H, W, taps>(x, w, acc, std::make_integer_sequence<int, H * W>()), ...);
}

template <int H, int W>
void conv_small(const Conv3x3SmallArgs& a) {
  constexpr int P = H * W;
  constexpr int KU = P < 8 ? 2 : 1;  // independent accumulator sets: at least 8 FMA chains in flight
  const size_t per_c = size_t(9) * R;
  for (int m0 = 0; m0 < a.M; m0 += R) {
    const float* ap = a.a + size_t(m0) * a.C * 9;
    __m256 acc[KU][P];
    for (int u = 0; u < KU; ++u)
      for (int p = 0; p < P; ++p) acc[u][p] = _mm256_setzero_ps();
    int c = 0;
    for (; c + KU <= a.C; c += KU)
      for (int u = 0; u < KU; ++u)
        one_channel<H, W>(a.in + size_t(c + u) * P, ap + (c + u) * per_c, acc[u], std::make_integer_sequence<int, 9>());
    for (; c < a.C; ++c) one_channel<H, W>(a.in + size_t(c) * P, ap + c * per_c, acc[0], std::make_integer_sequence<int, 9>());
    alignas(32) float t[P][R];
    for (int p = 0; p < P; ++p) {
      __m256 s = acc[0][p];
      for (int u = 1; u < KU; ++u) s = _mm256_add_ps(s, acc[u][p]);
      _mm256_store_ps(t[p], s);
    }
    const int rows = std::min(R, a.M - m0);
    for (int i = 0; i < rows; ++i) {
      float* o = a.out + size_t(m0 + i) * P;
      const float b = a.bias[m0 + i];
      for (int p = 0; p < P; ++p) {
        const float v = t[p][i] + b;
        o[p] = a.relu ? std::max(v, 0.f) : v;
      }
    }
  }
}

}  // namespace

void conv3x3_small_avx2(const Conv3x3SmallArgs& a) {
  if (a.H == 3 && a.W == 3) conv_small<3, 3>(a);
  else if (a.H == 2 && a.W == 2) conv_small<2, 2>(a);
  else if (a.H == 2 && a.W == 3) conv_small<2, 3>(a);
  else if (a.H == 3 && a.W == 2) conv_small<3, 2>(a);
}

}  // namespace bluefire
