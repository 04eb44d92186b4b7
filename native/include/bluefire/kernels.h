// The kernel signatures every variant implements. A variant is a table of these functions;
// the scalar reference (ref/) is the oracle, optimized variants (x86/, arm/) may only be faster.
#pragma once
#include <cstddef>

namespace bluefire {

// C[m][n] = act(bias[m] + sum_k A[m][k] * B[k][n]) for m < M, n < N.
// A is packed once at build time by pack_weights(): ceil(M/mr) panels, panel p holding rows
// p*mr .. p*mr+mr-1 as K groups of mr floats (rows past M are zero), plus kPackSlack floats.
struct GemmArgs {
  int M, N, K;
  const float* a;     // packed weights, starting at the panel of row 0 of this call
  const float* b;     // row k of B is the N floats at b + brow[k]
  const int* brow;    // K row offsets: k * stride for a plain matrix; for a stride-1 convolution
                      // over a zero-padded input, (c, ky, kx) -> c * plane + ky * padded_width + kx
  const float* bias;  // M floats
  float* c;           // M rows of N floats, row stride ldc
  int ldc;
  bool relu;
};
using GemmFn = void (*)(const GemmArgs&);

// Lets a kernel load a whole vector past the last panel row without reading out of bounds.
constexpr int kPackSlack = 16;

// Columns [n0, n1) of the im2col matrix of one image (C x H x W, zero padding), rows c*kh*kw +
// ky*kw + kx, written with row stride ld >= n1 - n0. Output pixel n is (n / OW, n % OW).
struct Im2colArgs {
  const float* in;
  int C, H, W, kh, kw, sh, sw, pad_top, pad_left, OH, OW;
  int n0, n1, ld;
  float* out;
};
using Im2colFn = void (*)(const Im2colArgs&);

// Max-pool channels [c0, c1) of one image; windows clipped to the input (padding never wins).
struct MaxPoolArgs {
  const float* in;
  int H, W, kh, kw, sh, sw, pad_top, pad_left, OH, OW;
  int c0, c1;
  float* out;
};
using MaxPoolFn = void (*)(const MaxPoolArgs&);

// out[c] = mean of channel c's H*W values, channels [c0, c1).
struct MeanArgs {
  const float* in;
  int HW, c0, c1;
  float* out;
};
using MeanFn = void (*)(const MeanArgs&);

// out = softmax(in) over n values (max-subtracted, so no overflow).
using SoftmaxFn = void (*)(const float* in, int n, float* out);

// GEMM calls with at most this many columns (maps of a few pixels: fire4-9 at 32x32 input) use
// the table's gemm_narrow, which vectorises over output channels instead of pixels.
constexpr int kNarrowN = 12;

// A 3x3 stride-1 pad-1 convolution on a square map of 2..kSmallMap pixels a side (same size out),
// for output channels [0, M) of the call: weights packed with conv3x3_small_mr as an M x (C*9) matrix
// (k = c*9 + ky*3 + kx); out is M planes of H*W. The small-map layers (fire4-9 at 32-64 px input).
constexpr int kSmallMap = 12;
struct Conv3x3SmallArgs {
  const float* in;  // C planes of H*W floats, no padding
  int C, H, W, M;
  const float* a;
  const float* bias;
  float* out;
  bool relu;
  float* scratch = nullptr;  // conv3x3_winograd4_channels only: winograd4_channels_scratch(H, C) floats
};
using Conv3x3SmallFn = void (*)(const Conv3x3SmallArgs&);

// Winograd F(4x4, 3x3) transforms for stride-1 pad-1 3x3 convolutions on maps at least
// kWinograd4MinMap wide. Input: the padded map split into 4 column phases (phase p, row y, index j
// holds padded column 4j + p; each phase PH x QW); tile t is (t / TX, t % TX), its patch at padded
// row 4 * (t / TX), index t % TX; tiles [t0, t1) go to 36 matrices `ms` floats apart,
// v[i * ms + c * ld + t - t0]. Output: 36 product matrices mo[i * ms + m * ld + t - t0] of M rows
// -> out (M x OH x OW), y = A^T mo A + bias, optionally ReLU; outputs past OH/OW are dropped.
constexpr int kWinograd4MinMap = 13;

// Winograd F(4x4, 3x3) on small square maps (KernelTable::conv3x3_winograd4_channels, 5..kSmallMap
// a side), vectorised over channels: Conv3x3SmallArgs with `a` the weights packed by
// pack_winograd4_channels_weights with the variant's panel width mr =
// KernelTable::winograd4_channels_mr (one SIMD vector of output channels:
// 16 for AVX-512, 4 for NEON; panel p, product k, input channel c: a[((p * 36 + k) * C + c) * mr +
// lane], zero past M; a call for rows [m0, ...) with m0 a multiple of mr starts at a + m0 * 36 * C)
// and `scratch` KernelTable::winograd4_channels_scratch(H, C) floats (the layout is the kernel's own). Results
// differ from the direct convolution by Winograd rounding only.
size_t winograd4_channels_packed_size(int M, int C, int mr);
void pack_winograd4_channels_weights(const float* w, int M, int C, int mr, float* out);  // w: M x C x 3 x 3
using ScratchSizeFn = size_t (*)(int S, int C);
using Winograd4InputFn = void (*)(const float* phases, int PH, int QW, int C, int TX, int t0, int t1, float* v, int ld,
                                  size_t ms);
using Winograd4OutputFn = void (*)(const float* mo, int M, int ld, size_t ms, int TX, int t0, int t1, const float* bias,
                                   bool relu, float* out, int OH, int OW);

// dst[r * dld + j] = src[r * sld + 2 * j] for r < rows, j < n: every other column of `rows` rows,
// the stride-2 convolutions' shifted planes (see engine/conv_strided.cpp). Reads nothing past
// src[(rows - 1) * sld + 2 * (n - 1)].
using Stride2ColumnsFn = void (*)(const float* src, ptrdiff_t sld, int rows, int n, float* dst, int dld);

// The F(4x4) column-phase split of one channel (the Winograd4 input's layout): for ph < 4, y < PH,
// j < QW, dst[(ph * PH + y) * QW + j] = the padded map at row y, column 4j + ph, i.e.
// src[(y - pt) * W + 4j + ph - pl] inside the H x W map and 0 outside it.
using ColumnPhases4Fn = void (*)(const float* src, int H, int W, int pt, int pl, int PH, int QW, float* dst);

// Packs W (M x K, row-major) into `out` (packed_size floats) for a kernel with panel height mr.
size_t packed_size(int M, int K, int mr);
void pack_weights(const float* w, int M, int K, int mr, float* out);

// The scalar references, one per op (src/ref/); gemm_ref reads weights packed with kRefMr.
constexpr int kRefMr = 4;
void gemm_ref(const GemmArgs& a);
void im2col_ref(const Im2colArgs& a);
void maxpool_ref(const MaxPoolArgs& a);
void mean_ref(const MeanArgs& a);
void softmax_ref(const float* in, int n, float* out);
void column_phases4_ref(const float* src, int H, int W, int pt, int pl, int PH, int QW, float* dst);
void stride2_columns_ref(const float* src, ptrdiff_t sld, int rows, int n, float* dst, int dld);
void conv3x3_small_ref(const Conv3x3SmallArgs& a);  // not in the ref variant's table: its engine
                                                    // path stays the direct convolution
void winograd4_input_ref(const float* phases, int PH, int QW, int C, int TX, int t0, int t1, float* v, int ld,
                         size_t ms);
void winograd4_output_ref(const float* mo, int M, int ld, size_t ms, int TX, int t0, int t1, const float* bias,
                          bool relu, float* out, int OH, int OW);

// One variant's kernels, filled by field name (registry.cpp): a default-constructed table is the
// scalar reference with every optional algorithm off, and a variant sets what it has, e.g.
//   KernelTable k;
//   k.gemm = gemm_avx2, k.mr = kAvx2Mr;
//   k.conv3x3_small = conv3x3_small_avx2, k.conv3x3_small_mr = kSmallMr, k.conv3x3_small_max = 6;
// The engine's convolution algorithms (src/engine/conv_*.cpp, listed best first in conv_algos.cpp)
// read the fields they need and apply only where theirs are set.
struct KernelTable {
  // Every variant has these (the reference's by default).
  GemmFn gemm = gemm_ref;
  int mr = kRefMr;                // rows per packed weight panel that `gemm` expects
  GemmFn gemm_narrow = gemm_ref;  // GEMM calls of at most kNarrowN columns
  int narrow_mr = kRefMr;         // the same for `gemm_narrow`
  Im2colFn im2col = im2col_ref;
  MaxPoolFn maxpool = maxpool_ref;
  MeanFn mean = mean_ref;
  SoftmaxFn softmax = softmax_ref;
  Stride2ColumnsFn stride2_columns = stride2_columns_ref;  // stride-2 convolutions' shifted planes
  ColumnPhases4Fn column_phases4 = column_phases4_ref;     // Winograd F(4x4)'s input split

  // Optional algorithms: off (false / nullptr) unless the variant sets them.
  bool winograd2 = false;  // 3x3 stride-1 pad-1 convolutions via Winograd F(2x2, 3x3) (shared transforms)
  Winograd4InputFn winograd4_input = nullptr;  // Winograd F(4x4, 3x3) on maps >= kWinograd4MinMap
  Winograd4OutputFn winograd4_output = nullptr;
  Conv3x3SmallFn conv3x3_small = nullptr;               // the direct small-map kernel on maps 2..conv3x3_small_max
  int conv3x3_small_mr = 0;                             // rows per packed panel that conv3x3_small expects
  int conv3x3_small_max = 0;                            // the largest map side (<= kSmallMap) it takes
  Conv3x3SmallFn conv3x3_winograd4_channels = nullptr;  // F(4x4) vectorised over channels on small maps
  int winograd4_channels_min = 0, winograd4_channels_max = 0;  // the map sides it takes
  int winograd4_channels_mr = 0;                               // output channels per packed panel it expects
  ScratchSizeFn winograd4_channels_scratch = nullptr;          // its scratch floats per call
};

}  // namespace bluefire
