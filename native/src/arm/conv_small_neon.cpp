// 3x3 stride-1 pad-1 convolution on small maps (2x2 .. kSmallMaxNeon), NEON, for the in-order
// Cortex-A53. Same contract as conv_small_avx2.cpp (KernelTable::conv3x3_small) and the same idea:
// the map side is a template parameter, so every tap that would read padding is dropped at compile
// time (a 3x3 map costs 49 multiplies per (in, out) channel pair, not 81 or F(2x2)'s 64).
//
// Register use (32 q registers): a panel of 8 output channels is two q weight vectors per tap, and
// each output pixel of a row block has two q accumulators (up to 24, i.e. 12 pixels). The input
// values the block needs (its rows plus one above and below, at most 5 q registers here) are
// loaded once per input channel and used by lane: `fmla v.4s, w.4s, x.s[i]`, so no broadcast or
// DUP is spent and nothing is reloaded inside a channel. Per channel and tap: two weight loads
// feed 2 x (pixels) FMLAs. The source loads the next tap's weights before this tap's FMLAs; GCC's
// Cortex-A53 schedule (-mcpu=cortex-a53) spreads the weight loads (LDP) among the FMLAs, so they
// can dual-issue rather than stall. Accumulators stay in registers over the
// whole channel loop; each output is stored once.
#include <arm_neon.h>

#include <algorithm>
#include <array>
#include <utility>

#include "../variants.h"

namespace bluefire {
namespace {

constexpr int R = kSmallMrNeon;  // output channels per panel: two q vectors
static_assert(R == 8, "the kernel holds a panel in two q registers");
constexpr int kAccRegs = 24;  // q accumulators per row block (2 per pixel)
// Accumulators + input vectors per block. The other 6 hold weights: GCC's A53 schedule hoists the
// next taps' weight loads ahead of their FMLAs, and with 28 the 4x4 map's 3-row block spilled
// accumulators every channel (checked in the disassembly); with 26 only the 5x5 map's middle block
// (20 accumulators + 5 input vectors) spills two registers, one store and reload each per channel.
constexpr int kRegs = 26;

// The input rows a block of output rows [Y0, Y0 + NY) reads, as one contiguous span of the plane.
template <int H, int W, int Y0, int NY>
struct Span {
  static constexpr int r0 = std::max(Y0 - 1, 0), r1 = std::min(Y0 + NY, H - 1);
  static constexpr int n = (r1 - r0 + 1) * W;  // floats
  static constexpr int nq = (n + 3) / 4;       // q registers
};

// Rows per block: as many as the register budget allows (at least one).
template <int H, int W, int Y0, int NY = std::min(H - Y0, kAccRegs / (2 * W))>
constexpr int rows_per_block() {
  if constexpr (NY <= 1) return 1;
  else if constexpr (2 * NY * W + Span<H, W, Y0, NY>::nq <= kRegs) return NY;
  else return rows_per_block<H, W, Y0, NY - 1>();
}

// q register j of the span; the last one is loaded partially (never past the plane's end).
template <int n, int j>
inline float32x4_t load_q(const float* p) {
  constexpr int rem = n - 4 * j;
  if constexpr (rem >= 4) return vld1q_f32(p + 4 * j);
  else if constexpr (rem == 3)
    return vld1q_lane_f32(p + 4 * j + 2, vcombine_f32(vld1_f32(p + 4 * j), vdup_n_f32(0.f)), 2);
  else if constexpr (rem == 2) return vcombine_f32(vld1_f32(p + 4 * j), vdup_n_f32(0.f));
  else return vld1q_lane_f32(p + 4 * j, vdupq_n_f32(0.f), 0);
}

template <int n, int... js>
inline void load_span(const float* p, float32x4_t* x, std::integer_sequence<int, js...>) {
  ((x[js] = load_q<n, js>(p)), ...);
}

// Output pixel p of the block, tap (ky, kx): two FMLAs by lane, or nothing when it reads padding.
template <int H, int W, int Y0, int NY, int tap, int p>
inline void step(const float32x4_t* x, float32x4_t w0, float32x4_t w1, float32x4_t (*acc)[2]) {
  constexpr int iy = Y0 + p / W + tap / 3 - 1, ix = p % W + tap % 3 - 1;
  if constexpr (iy >= 0 && iy < H && ix >= 0 && ix < W) {
    constexpr int i = (iy - Span<H, W, Y0, NY>::r0) * W + ix;
    acc[p][0] = vfmaq_laneq_f32(acc[p][0], w0, x[i / 4], i % 4);
    acc[p][1] = vfmaq_laneq_f32(acc[p][1], w1, x[i / 4], i % 4);
  }
}

template <int H, int W, int Y0, int NY, int tap, int... ps>
inline void tap_fmas(const float32x4_t* x, float32x4_t w0, float32x4_t w1, float32x4_t (*acc)[2],
                     std::integer_sequence<int, ps...>) {
  (step<H, W, Y0, NY, tap, ps>(x, w0, w1, acc), ...);
}

// Taps tap..8 of one channel; w0/w1 hold tap's weights, the next tap's are loaded first.
// (Loads of a tap no pixel of the block uses are dead and disappear.)
template <int H, int W, int Y0, int NY, int tap>
inline void taps(const float32x4_t* x, const float* w, float32x4_t w0, float32x4_t w1, float32x4_t (*acc)[2]) {
  if constexpr (tap < 9) {
    float32x4_t n0 = w0, n1 = w1;
    if constexpr (tap + 1 < 9) n0 = vld1q_f32(w + (tap + 1) * R), n1 = vld1q_f32(w + (tap + 1) * R + 4);
    tap_fmas<H, W, Y0, NY, tap>(x, w0, w1, acc, std::make_integer_sequence<int, NY * W>());
    taps<H, W, Y0, NY, tap + 1>(x, w, n0, n1, acc);
  }
}

// Indexed at compile time only, so the accumulator array lives in registers (a run-time index
// into it makes the compiler keep a copy in memory, stored every channel).
template <int P, int... ps>
inline void zero_acc(float32x4_t (&acc)[P][2], std::integer_sequence<int, ps...>) {
  ((acc[ps][0] = acc[ps][1] = vdupq_n_f32(0.f)), ...);
}

template <int P, int... ps>
inline void finish(float32x4_t (&acc)[P][2], float32x4_t b0, float32x4_t b1, bool relu, float (*t)[R],
                   std::integer_sequence<int, ps...>) {
  const float32x4_t zero = vdupq_n_f32(0.f);
  ((acc[ps][0] = vaddq_f32(acc[ps][0], b0), acc[ps][1] = vaddq_f32(acc[ps][1], b1)), ...);
  if (relu) ((acc[ps][0] = vmaxq_f32(acc[ps][0], zero), acc[ps][1] = vmaxq_f32(acc[ps][1], zero)), ...);
  ((vst1q_f32(t[ps], acc[ps][0]), vst1q_f32(t[ps] + 4, acc[ps][1])), ...);
}

// Output rows [Y0, Y0 + NY) of one panel (rows m0 .. m0 + R - 1 of the packed weights ap).
template <int H, int W, int Y0, int NY>
void row_block(const Conv3x3SmallArgs& a, const float* ap, int m0) {
  constexpr int P = NY * W, HW = H * W;
  using S = Span<H, W, Y0, NY>;
  static_assert(2 * P <= kAccRegs, "accumulators exceed the register budget");
  float32x4_t acc[P][2];
  zero_acc(acc, std::make_integer_sequence<int, P>());
  const float* in = a.in + S::r0 * W;
  for (int c = 0; c < a.C; ++c, in += HW, ap += 9 * R) {
    float32x4_t x[S::nq];
    load_span<S::n>(in, x, std::make_integer_sequence<int, S::nq>());
    taps<H, W, Y0, NY, 0>(x, ap, vld1q_f32(ap), vld1q_f32(ap + 4), acc);
  }
  const int rows = std::min(R, a.M - m0);
  alignas(16) float bias[R] = {};
  for (int i = 0; i < rows; ++i) bias[i] = a.bias[m0 + i];
  const float32x4_t b0 = vld1q_f32(bias), b1 = vld1q_f32(bias + 4);
  alignas(16) float t[P][R];
  finish(acc, b0, b1, a.relu, t, std::make_integer_sequence<int, P>());
  for (int i = 0; i < rows; ++i) {
    float* o = a.out + size_t(m0 + i) * HW + Y0 * W;
    for (int p = 0; p < P; ++p) o[p] = t[p][i];
  }
}

template <int H, int W, int Y0 = 0>
void row_blocks(const Conv3x3SmallArgs& a, const float* ap, int m0) {
  if constexpr (Y0 < H) {
    constexpr int NY = rows_per_block<H, W, Y0>();
    row_block<H, W, Y0, NY>(a, ap, m0);
    row_blocks<H, W, Y0 + NY>(a, ap, m0);
  }
}

template <int S>
void conv_small(const Conv3x3SmallArgs& a) {
  for (int m0 = 0; m0 < a.M; m0 += R) row_blocks<S, S>(a, a.a + size_t(m0) * a.C * 9, m0);
}

using SmallFn = void (*)(const Conv3x3SmallArgs&);
template <int... s>
constexpr auto table(std::integer_sequence<int, s...>) {
  return std::array<SmallFn, sizeof...(s)>{(s < 2 ? nullptr : conv_small<std::max(s, 2)>)...};
}
constexpr auto kBySize = table(std::make_integer_sequence<int, kSmallMaxNeon + 1>());

}  // namespace

void conv3x3_small_neon(const Conv3x3SmallArgs& a) { kBySize[a.H](a); }

}  // namespace bluefire
