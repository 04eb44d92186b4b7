// The int8 references: requantization, GEMM, max-pool, and the weight packing every variant uses.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "bluefire/kernels_s8.h"

namespace bluefire {

uint8_t requantize(int32_t acc, float scale, int zc, int lo, int hi) {
  const float v = std::clamp(float(acc) * scale, float(lo - zc), float(hi - zc));
  return uint8_t(zc + int(std::nearbyint(v)));  // the default rounding mode: to nearest, ties to even
}

void gemm_u8_ref(const GemmU8Args& a) {
  const int8_t* w = static_cast<const int8_t*>(a.a);
  for (int m = 0; m < a.M; ++m) {
    for (int n = 0; n < a.N; ++n) {
      int32_t acc = a.bias[m];
      for (int k = 0; k < a.K; ++k) acc += int32_t(w[size_t(m) * a.K + k]) * int32_t(a.b[a.brow[k] + n]);
      a.c[size_t(m) * a.ldc + n] = requantize(acc, a.scale[m], a.zc, a.lo, a.hi);
    }
  }
}

void maxpool_u8_ref(const MaxPoolU8Args& a) {
  for (int c = a.c0; c < a.c1; ++c) {
    const uint8_t* in = a.in + size_t(c) * a.H * a.W;
    uint8_t* out = a.out + size_t(c) * a.OH * a.OW;
    for (int oy = 0; oy < a.OH; ++oy)
      for (int ox = 0; ox < a.OW; ++ox) {
        const int y0 = std::max(0, oy * a.sh - a.pad_top), y1 = std::min(a.H, oy * a.sh - a.pad_top + a.kh);
        const int x0 = std::max(0, ox * a.sw - a.pad_left), x1 = std::min(a.W, ox * a.sw - a.pad_left + a.kw);
        uint8_t v = 0;
        for (int y = y0; y < y1; ++y)
          for (int x = x0; x < x1; ++x) v = std::max(v, in[y * a.W + x]);
        out[oy * a.OW + ox] = v;
      }
  }
}

// Every step is one exactly rounded IEEE operation (a division, min / max, two additions; nothing
// to contract into an FMA), so the loop gives the same bytes at any vector width: on x86 it is
// compiled for AVX-512 and AVX2 too and the CPU's best runs (GCC function multiversioning).
// no-trapping-math lets GCC vectorise the clamps (it changes no value, only what may raise a
// floating-point exception flag, which nothing here reads).
#if defined(__GNUC__) && !defined(__clang__)
#if defined(__x86_64__) && !defined(__SANITIZE_THREAD__)  // TSan cannot run an ifunc resolver before it starts
__attribute__((target_clones("avx512f", "avx2", "default")))
#endif
__attribute__((optimize("no-trapping-math")))
#endif
void quantize_u8(const float* x, size_t n, float scale, int zp, uint8_t* out) {
  // round half to even by adding and subtracting 1.5 * 2^23 (exact for |v| < 2^22; v is clamped
  // first): ONNX QuantizeLinear's rounding, without a libm call per value
  constexpr float kMagic = 12582912.f;
  for (size_t i = 0; i < n; ++i) {
    float v = x[i] / scale;  // (ternaries on values, not std::min / max's references: GCC vectorises these)
    v = v > -512.f ? v : -512.f;
    v = v < 512.f ? v : 512.f;
    float q = (v + kMagic) - kMagic + float(zp);
    q = q > 0.f ? q : 0.f;
    q = q < 255.f ? q : 255.f;
    out[i] = uint8_t(int(q));
  }
}

void mean_u8(const uint8_t* in, int hw, int C, float scale, int zp, float* out) {
  for (int c = 0; c < C; ++c) {
    int64_t sum = 0;
    for (int i = 0; i < hw; ++i) sum += in[size_t(c) * hw + i];
    out[c] = scale * float(double(sum - int64_t(zp) * hw) / hw);
  }
}

static int round_up(int v, int m) { return (v + m - 1) / m * m; }

size_t packed_offset_s8(const S8Kernels& v, int m0, int K) {
  return size_t(m0 / v.mr) * v.mr * round_up(K, v.kgroup) * v.wbytes;
}

size_t packed_size_s8(const S8Kernels& v, int M, int K) {
  return packed_offset_s8(v, round_up(M, v.mr), K) + 64;  // slack: a kernel may load one vector past the end
}

void pack_s8(const S8Kernels& v, const int8_t* w, int M, int K, void* out) {
  const int kp = round_up(K, v.kgroup), panels = (M + v.mr - 1) / v.mr;
  std::memset(out, 0, packed_size_s8(v, M, K));
  for (int p = 0; p < panels; ++p)
    for (int r = 0; r < v.mr; ++r) {
      const int m = p * v.mr + r;
      if (m >= M) break;
      for (int k = 0; k < K; ++k) {
        const size_t i =
            size_t(p) * v.mr * kp + size_t(k / v.kgroup) * v.mr * v.kgroup + size_t(r) * v.kgroup + k % v.kgroup;
        if (v.wbytes == 2) static_cast<int16_t*>(out)[i] = w[size_t(m) * K + k];
        else static_cast<int8_t*>(out)[i] = w[size_t(m) * K + k];
      }
    }
}

}  // namespace bluefire
