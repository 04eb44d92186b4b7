// int8 kernels: requantization against exact arithmetic and ONNX Runtime's rounding; every variant's GEMM against the
// reference, byte for byte, on shapes that break every block and tail; the convolution entries
// against each other.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "bluefire/kernels_s8.h"
#include "engine/conv.h"
#include "test.h"

using namespace bluefire;

TEST(int8_requantize_is_the_rounded_float_product) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> logm(-14.0, 1.5);
  std::uniform_int_distribution<int32_t> accd(-20000000, 20000000);
  int bad = 0;
  for (int i = 0; i < 200000 && bad < 5; ++i) {
    const float m = float(std::exp2(logm(rng)));
    const int32_t acc = m >= 1 ? accd(rng) / 8 : accd(rng);
    const double exact = 128.0 + double(acc) * m;
    const int got = requantize(acc, m, 128, 0, 255);
    // inside the range: within 1/2 of the exact product (+ two float roundings); outside: clamped
    const double want = std::fmin(255, std::fmax(0, exact));
    if (std::fabs(got - want) > 0.5 + std::fabs(exact) * 2.5e-7) {
      ++bad;
      CHECK(false, "acc=%d m=%.9g: got %d, exact %.4f", acc, double(m), got, exact);
    }
  }
  // ties to even, as ONNX Runtime's cvtps2dq under the default rounding mode
  CHECK(requantize(5, 0.5f, 128, 0, 255) == 130 && requantize(7, 0.5f, 128, 0, 255) == 132, "ties to even");
  CHECK(requantize(-5, 0.5f, 128, 0, 255) == 126 && requantize(-7, 0.5f, 128, 0, 255) == 124, "ties to even, < 0");
  CHECK(requantize(7, 3.f, 0, 0, 255) == 21, "scale above 1");
  // one rounding: 16540 * 0.0031740274 = 52.498 (gemmlowp's two steps gave 53)
  CHECK(requantize(16540, 0.0031740274280309677f, 100, 0, 255) == 152, "single rounding");
  CHECK(requantize(-16540, 0.0031740274280309677f, 100, 0, 255) == 48, "single rounding, negative");
  // clamped in float before the conversion: no int32 overflow at the extremes; ReLU is lo = zc
  CHECK(requantize(INT32_MAX, 64.f, 3, 0, 255) == 255 && requantize(INT32_MIN, 64.f, 3, 0, 255) == 0, "clamp");
  CHECK(requantize(-1000, 0.01f, 40, 40, 255) == 40 && requantize(-1000, 0.01f, 40, 0, 255) == 30, "relu");
}

TEST(int8_gemm_reference_is_the_rounded_real_product) {
  // bias + sum w x, times M, rounded: the reference against doubles on one odd shape
  std::mt19937 rng(3);
  const int M = 13, N = 29, K = 37;
  std::vector<int8_t> w(M * K);
  std::vector<uint8_t> b(K * N);
  std::vector<int32_t> bias(M);
  std::vector<float> scale(M);
  std::vector<int> brow(K);
  for (auto& v : w) v = int8_t(int(rng() % 255) - 127);
  for (auto& v : b) v = uint8_t(rng() % 256);
  for (int m = 0; m < M; ++m) {
    bias[m] = int32_t(rng() % 20001) - 10000;
    scale[m] = 1e-4f * float(1 + m);
  }
  for (int k = 0; k < K; ++k) brow[k] = k * N;
  std::vector<uint8_t> c(M * N);
  gemm_u8_ref({M, N, K, w.data(), b.data(), brow.data(), bias.data(), scale.data(), 7, 0, 255, c.data(), N});
  for (int m = 0; m < M; ++m)
    for (int n = 0; n < N; ++n) {
      double acc = bias[m];
      for (int k = 0; k < K; ++k) acc += double(w[m * K + k]) * b[k * N + n];
      const double want = std::fmin(255, std::fmax(0, 7 + acc * scale[m]));
      CHECK(std::fabs(c[m * N + n] - want) <= 0.501, "m=%d n=%d: %d vs %.3f", m, n, c[m * N + n], want);
    }
}

TEST(int8_gemm_variants_match_reference) {
  std::mt19937 rng(11);
  const S8Kernels& ref = all_s8_variants().back();
  const int Ms[] = {1, 3, 4, 5, 7, 8, 9, 13, 16, 17, 24, 37};
  const int Ns[] = {1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 33, 49, 65};
  const int Ks[] = {1, 2, 3, 4, 5, 7, 8, 9, 13, 27, 64, 144, 577};
  for (const S8Kernels& v : all_s8_variants()) {
    if (&v == &ref) continue;
    if (!v.supported()) {
      std::printf("  int8 %s: not supported by this CPU, skipped\n", v.name);
      continue;
    }
    std::printf("  int8 %s: against the reference\n", v.name);
    int failures = 0;
    for (int M : Ms)
      for (int N : Ns)
        for (int K : Ks) {
          if (failures > 3) break;
          const int ldc = N + 3, ld = N + 5;
          std::vector<int8_t> w(size_t(M) * K);
          for (auto& x : w) x = int8_t(int(rng() % 255) - 127);
          std::vector<uint8_t> b(size_t(K) * ld);
          for (auto& x : b) x = uint8_t(rng() % 256);
          std::vector<int> brow(K);
          for (int k = 0; k < K; ++k) brow[k] = (K - 1 - k) * ld;  // reversed rows, as a padded conv's are not in order
          std::vector<int32_t> bias(M);
          std::vector<float> scale(M);
          for (int m = 0; m < M; ++m) {
            bias[m] = int32_t(rng() % 200001) - 100000;
            // exact halves (ties) on every 7th row; large products, clamped, on every 5th
            scale[m] = m % 7 == 3 ? 0.5f : float(std::exp2(-1.0 - double(rng() % 1500) / 100.0) * (m % 5 == 4 ? 8 : 1));
          }
          const int zc = int(rng() % 256), relu = int(rng() % 2);
          std::vector<uint8_t> want(size_t(M) * ldc, 0xAB), got(size_t(M) * ldc, 0xAB);
          gemm_u8_ref({M, N, K, w.data(), b.data(), brow.data(), bias.data(), scale.data(), zc, relu ? zc : 0, 255,
                       want.data(), ldc});
          std::vector<uint8_t> packed(packed_size_s8(v, M, K));
          pack_s8(v, w.data(), M, K, packed.data());
          v.gemm({M, N, K, packed.data(), b.data(), brow.data(), bias.data(), scale.data(), zc, relu ? zc : 0, 255,
                  got.data(), ldc});
          // the same with B's rows readable past N (a padded im2col matrix): the direct-load path
          std::vector<uint8_t> got2(size_t(M) * ldc, 0xAB);
          std::vector<uint8_t> b2(size_t(K) * ld + kS8Overread + 16, 0x5A);
          std::copy(b.begin(), b.end(), b2.begin());
          GemmU8Args g2{
              M,   N,           K,  packed.data(), b2.data(), brow.data(), bias.data(), scale.data(), zc, relu ? zc : 0,
              255, got2.data(), ldc};
          g2.b_overread = true;
          v.gemm(g2);
          for (size_t i = 0; i < want.size() && failures <= 3; ++i)
            if (want[i] != got2[i]) {
              ++failures;
              CHECK(false, "%s (overread) M=%d N=%d K=%d: C[%zu][%zu] = %d, reference %d", v.name, M, N, K, i / ldc,
                    i % ldc, got2[i], want[i]);
            }
          for (size_t i = 0; i < want.size() && failures <= 3; ++i)
            if (want[i] != got[i]) {
              ++failures;
              CHECK(false, "%s M=%d N=%d K=%d: C[%zu][%zu] = %d, reference %d", v.name, M, N, K, i / ldc, i % ldc,
                    got[i], want[i]);
            }
        }
  }
}

TEST(int8_maxpool_reference) {
  // 3x3 stride 2, ceil mode: the last window is clipped to the map
  const uint8_t in[5 * 5] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13,
                             14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 250};
  uint8_t out[4] = {};
  maxpool_u8_ref({in, 5, 5, 3, 3, 2, 2, 0, 0, 2, 2, 0, 1, out});
  CHECK(out[0] == 13 && out[1] == 15 && out[2] == 23 && out[3] == 250, "%d %d %d %d", out[0], out[1], out[2], out[3]);
}

TEST(int8_maxpool_variants_match_reference) {
  std::mt19937 rng(5);
  for (const S8Kernels& v : all_s8_variants()) {
    if (!v.supported() || v.maxpool == maxpool_u8_ref) continue;
    int failures = 0;
    for (int s = 1; s <= 3; ++s)  // SqueezeNet's stride 2 takes the even/odd-byte paths; 1 and 3 the others
      for (int H = 1; H <= 19 && failures < 3; H += 3)
        for (int W = 1; W <= 67 && failures < 3; ++W)
          for (int pad = 0; pad <= 1; ++pad) {
            const int k = 3;
            // ceil mode, as the engine sizes it: the last window starts inside the (padded) input
            auto osz = [&](int n) {
              int o = (n + pad - k + s - 1) / s + 1;
              if ((o - 1) * s >= n + pad) --o;
              return std::max(o, 1);
            };
            if (H + pad < 1 || W + pad < 1) continue;
            const int OH = osz(H), OW = osz(W), C = 3;
            std::vector<uint8_t> in(size_t(C) * H * W), want(size_t(C) * OH * OW), got(want.size());
            for (auto& x : in) x = uint8_t(rng() % 256);
            maxpool_u8_ref({in.data(), H, W, k, k, s, s, pad, pad, OH, OW, 0, C, want.data()});
            v.maxpool({in.data(), H, W, k, k, s, s, pad, pad, OH, OW, 0, C, got.data()});
            for (size_t i = 0; i < want.size(); ++i)
              if (want[i] != got[i] && failures++ < 3)
                CHECK(false, "%s H=%d W=%d s=%d pad=%d: out[%zu] = %d, reference %d", v.name, H, W, s, pad, i, got[i],
                      want[i]);
            // one channel of three, as a thread's task: its bytes, and nothing outside them written
            std::vector<uint8_t> one(want.size(), 0xAB);
            v.maxpool({in.data(), H, W, k, k, s, s, pad, pad, OH, OW, 1, 2, one.data()});
            for (size_t i = 0; i < want.size(); ++i) {
              const bool mine = i >= size_t(OH) * OW && i < 2 * size_t(OH) * OW;
              if (one[i] != (mine ? want[i] : 0xAB) && failures++ < 3)
                CHECK(false, "%s H=%d W=%d s=%d pad=%d, channel 1 alone: out[%zu] = %d", v.name, H, W, s, pad, i,
                      one[i]);
            }
          }
  }
}

TEST(int8_quantize_rounds_half_to_even_and_saturates) {
  const float scale = 0.5f;
  const float x[] = {0.25f, 0.75f, -0.25f, 1.25f, 3.0f, -200.f, 200.f, 0.2499f, 63.75f};
  uint8_t q[9];
  quantize_u8(x, 9, scale, 10, q);
  // x / scale = 0.5 -> 0, 1.5 -> 2, -0.5 -> 0, 2.5 -> 2 (ties to even), 6, -400 -> 0, 400 -> 255, 0.4998 -> 0, 127.5 ->
  // 128
  const int want[] = {10, 12, 10, 12, 16, 0, 255, 10, 138};
  for (int i = 0; i < 9; ++i) CHECK(q[i] == want[i], "x=%g: %d, want %d", x[i], q[i], want[i]);
}

// One int8 convolution layer run whole on a given algorithm entry and variant (every task in turn).
static std::vector<uint8_t> run_conv_s8(const ConvAlgo& algo, const S8Kernels& v, int C, int H, int W, int M, int k,
                                        int pad, int stride, const std::vector<uint8_t>& x,
                                        const std::vector<int8_t>& w, const std::vector<int32_t>& bias, bool relu) {
  Layer L;
  L.name = "t";
  L.C = C, L.H = H, L.W = W, L.M = M, L.kh = L.kw = k;
  L.pt = L.pl = L.pb = L.pr = pad;
  L.sh = L.sw = stride;
  L.OH = (H + 2 * pad - k) / stride + 1, L.OW = (W + 2 * pad - k) / stride + 1;
  L.K = C * k * k;
  L.relu = relu;
  L.dtype = DType::U8;
  L.qweights = w, L.qbias = bias;
  L.wscale.assign(size_t(M), 0.004f);
  for (int m = 0; m < M; ++m) L.wscale[m] *= 1.f + 0.07f * float(m % 5);
  L.in_scale = 0.05f, L.in_zp = 37, L.out_scale = 0.11f, L.out_zp = 12;
  L.s8 = &v;
  KernelTable kt;
  Workspace ws;
  algo.prepare(L, kt, ws);
  std::vector<float> prepared(ws.prepared + 1), work(ws.per_thread + 1);
  std::vector<float> in((x.size() + 3) / 4 + 1);
  std::memcpy(in.data(), x.data(), x.size());
  std::vector<float> out(size_t(M) * L.OH * L.OW / 4 + 1);
  if (algo.prepare_input) algo.prepare_input(L, kt, in.data(), prepared.data());
  for (int t = 0; t < L.tasks(); ++t) algo.run(L, {kt, in.data(), out.data(), prepared.data(), work.data()}, t);
  const uint8_t* o = reinterpret_cast<const uint8_t*>(out.data());
  return std::vector<uint8_t>(o, o + size_t(M) * L.OH * L.OW);
}

TEST(int8_padded_conv_matches_im2col_on_every_variant) {
  // convolutions on the padded grid (padded_s8) against the im2col entry on the reference
  // kernels: same bytes, on maps narrower and wider than a block of pixels, grids that cross task
  // tiles (OH * PW > 256), kernels 1x1 with padding, 2x2, 3x3 and 5x5, strides 1, 2 and 3 (phase
  // planes; the 64x64 stem)
  std::mt19937 rng(11);
  struct Shape {
    int C, H, W, M, k, pad, stride = 1;
  };
  const Shape shapes[] = {{5, 3, 3, 9, 3, 1},      {16, 7, 7, 20, 3, 1},     {3, 15, 15, 17, 3, 1},
                          {2, 19, 23, 5, 3, 1},    {4, 6, 9, 11, 5, 2},      {3, 5, 4, 7, 1, 1},
                          {6, 1, 1, 8, 3, 1},      {9, 4, 5, 100, 3, 0},     {33, 2, 3, 13, 3, 1},
                          {1, 31, 31, 3, 3, 1},    {1, 64, 64, 26, 3, 0, 2}, {3, 17, 14, 9, 3, 1, 2},
                          {2, 13, 20, 5, 5, 2, 3}, {4, 9, 8, 7, 2, 0, 2},    {5, 7, 7, 6, 1, 0, 2}};
  const S8Kernels& ref = all_s8_variants().back();
  for (const Shape& s : shapes) {
    std::vector<uint8_t> x(size_t(s.C) * s.H * s.W);
    std::vector<int8_t> w(size_t(s.M) * s.C * s.k * s.k);
    std::vector<int32_t> bias(size_t(s.M));
    for (auto& v : x) v = uint8_t(rng() % 256);
    for (auto& v : w) v = int8_t(int(rng() % 255) - 127);
    for (auto& v : bias) v = int32_t(rng() % 20001) - 10000;
    for (bool relu : {false, true}) {
      const auto want = run_conv_s8(kConvIm2colS8, ref, s.C, s.H, s.W, s.M, s.k, s.pad, s.stride, x, w, bias, relu);
      for (const S8Kernels& v : all_s8_variants()) {
        if (!v.supported()) continue;
        const auto got = run_conv_s8(kConvPaddedS8, v, s.C, s.H, s.W, s.M, s.k, s.pad, s.stride, x, w, bias, relu);
        size_t bad = 0;
        while (bad < want.size() && want[bad] == got[bad]) ++bad;
        CHECK(bad == want.size(), "%s C=%d H=%d W=%d M=%d k=%d pad=%d stride=%d relu=%d: byte %zu is %d, im2col %d",
              v.name, s.C, s.H, s.W, s.M, s.k, s.pad, s.stride, int(relu), bad, bad < got.size() ? got[bad] : -1,
              bad < want.size() ? want[bad] : -1);
      }
    }
  }
}
