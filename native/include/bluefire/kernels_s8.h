// int8 kernels: uint8 activations x int8 weights -> int32 accumulators -> requantized uint8.
// The scalar reference (src/ref/gemm_s8_ref.cpp) is the oracle; AVX2, AVX-512 VNNI and NEON
// variants (src/x86/gemm_s8_*.cpp, src/arm/gemm_s8_neon.cpp) must give identical bytes: all of it
// is integer arithmetic, so there is no tolerance.
//
// Quantization (what `bluefire quantize` writes): real = scale * (q - zero_point); weights int8
// symmetric per output channel (zero point 0, -127..127), activations uint8 per tensor, biases
// int32 at input scale x weight scale. A convolution's output channel m is then
//   y = zc + M_m * (bias_m + sum_k w[m][k] * (x[k] - zx)),   M_m = s_x * s_w[m] / s_y,
// and -zx * sum_k w[m][k] is folded into the bias once, so the kernels see bias + sum w * x. A
// zero-padded input is padded with zx (the real 0).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace bluefire {

// Requantization as ONNX Runtime's (MLAS's MlasRequantizeOutput after QLinearConv), in float32:
//   y = zc + round_half_even(clamp(float(acc) * scale_m, float(lo - zc), float(hi - zc)))
// with scale_m = x_scale * w_scale[m] / y_scale computed in float as QLinearConv computes it. Each
// step is one IEEE operation (the int -> float conversion rounds to nearest even past 2^24; the
// product is not contracted into anything), so x86 (cvtdq2ps, mulps, cvtps2dq under the default
// MXCSR) and NEON (scvtf, fmul, fcvtns) give the same bytes as this function, and the engine gives
// ONNX Runtime's bytes. Clamping before the conversion keeps it in range on both (x86 would give
// INT_MIN where NEON saturates). A fixed-point multiplier would need 64-bit products per output
// (smull + srshl on the A53, two vpmuldq on x86) and rounds differently from ONNX Runtime at
// halves: the outputs drifted by up to 6 quantization steps after 26 layers.
uint8_t requantize(int32_t acc, float scale, int zc, int lo, int hi);

// C[m][n] = requantize(bias[m] + sum_k A[m][k] * B[k][n], scale[m], zc, lo, hi) for m < M,
// n < N, as uint8. A: int8 weights packed by the variant's pack_s8 (panels of mr rows, rows past M
// zero). B: uint8, row k is the N bytes at b + brow[k] (as the fp32 GemmArgs). A fused ReLU is
// lo = zc. K <= kMaxKS8 (SqueezeNet's largest is 64 * 9 = 576; the engine splits nothing).
constexpr int kMaxKS8 = 4096;
struct GemmU8Args {
  int M, N, K;
  const void* a;  // packed weights, starting at the panel of row 0 of this call
  const uint8_t* b;
  const int* brow;
  const int32_t* bias;  // M
  const float* scale;   // M, positive and finite
  int zc, lo, hi;
  uint8_t* c;  // M rows of N bytes, row stride ldc
  int ldc;
  // B's rows may be read up to kS8Overread bytes past column N - 1 (a padded im2col matrix): the
  // last partial block of pixels is loaded directly instead of through a zero-padded copy.
  bool b_overread = false;
};
constexpr int kS8Overread = 16;
using GemmU8Fn = void (*)(const GemmU8Args&);

// Max-pool of uint8 planes, channels [c0, c1), windows clipped to the input (as MaxPoolArgs).
struct MaxPoolU8Args {
  const uint8_t* in;
  int H, W, kh, kw, sh, sw, pad_top, pad_left, OH, OW;
  int c0, c1;
  uint8_t* out;
};
using MaxPoolU8Fn = void (*)(const MaxPoolU8Args&);

// A variant's int8 kernels and the weight layout they read: panels of `mr` rows; in a panel, K
// rounded up to `kgroup`, then for each group of kgroup k's the mr rows' kgroup weights in a row
// ([panel][k / kgroup][row][k % kgroup]), each weight `wbytes` wide (1: int8; 2: int16, for
// kernels that multiply in 16 bits). Zero past M and K.
struct S8Kernels {
  const char* name;
  bool (*supported)();
  int mr, kgroup, wbytes;
  GemmU8Fn gemm;
  MaxPoolU8Fn maxpool;
};
size_t packed_size_s8(const S8Kernels& v, int M, int K);                     // bytes
void pack_s8(const S8Kernels& v, const int8_t* w, int M, int K, void* out);  // w: M x K row-major
// Bytes from the start of the packed weights to the panel of row m0 (a multiple of mr).
size_t packed_offset_s8(const S8Kernels& v, int m0, int K);

// Every int8 variant compiled into this build, best first, the reference last.
const std::vector<S8Kernels>& all_s8_variants();

// The int8 kernels that go with an fp32 variant of the registry: avx512 -> avx512vnni where the CPU
// has VNNI, else avx2; avx2 -> avx2; neon -> neon; ref -> ref.
const S8Kernels& select_s8(const std::string& fp32_variant);

void gemm_u8_ref(const GemmU8Args& a);  // mr 1, kgroup 1, int8: A is plain M x K
// x (n floats) -> clamp(round_half_even(x / scale) + zp, 0, 255), as ONNX QuantizeLinear.
void quantize_u8(const float* x, size_t n, float scale, int zp, uint8_t* out);
// out[c] = scale * (mean of channel c's hw values - zp), channels [0, C): a dequantized average pool.
void mean_u8(const uint8_t* in, int hw, int C, float scale, int zp, float* out);
void maxpool_u8_ref(const MaxPoolU8Args& a);
void maxpool_u8_rows(const MaxPoolU8Args& a);  // the optimized variants' (ref/maxpool_u8_rows.cpp)

}  // namespace bluefire
