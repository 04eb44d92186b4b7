// Every available variant's GEMM against the scalar reference, on shapes chosen to break tails.
#include <cmath>
#include <random>
#include <stdexcept>

#include "bluefire/kernels.h"
#include "bluefire/registry.h"
#include "test.h"

using namespace bluefire;

namespace {

std::vector<float> random_vec(size_t n, std::mt19937& rng) {
  std::uniform_real_distribution<float> d(-1.f, 1.f);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

// Runs `gemm` with weights packed for `mr` into C (M x ldc, pre-filled with a sentinel).
std::vector<float> run_gemm(GemmFn gemm, int mr, int M, int N, int K, int ldc, bool relu, const std::vector<float>& w,
                            const std::vector<float>& b, const std::vector<float>& bias) {
  std::vector<float> packed(packed_size(M, K, mr));
  pack_weights(w.data(), M, K, mr, packed.data());
  std::vector<float> c(size_t(M) * ldc, 12345.f);
  std::vector<int> brow(K, 0);  // rows of B in reverse order, to exercise the indirection
  for (int k = 0; k < K; ++k) brow[k] = (K - 1 - k) * (N + 3);
  gemm({M, N, K, packed.data(), b.data(), brow.data(), bias.data(), c.data(), ldc, relu});
  return c;
}

// C of a variant (`got`) against the reference's (`want`), M x ldc: close to it on the N columns,
// the sentinel past them. Reports the first mismatches, up to 5 in all over `bad`.
void check_close(const std::vector<float>& got, const std::vector<float>& want, int M, int N, int K, int ldc, int& bad,
                 const char* variant, const char* fn, int relu) {
  for (int m = 0; m < M && bad < 5; ++m)
    for (int n = 0; n < ldc; ++n) {
      const float x = got[size_t(m) * ldc + n], y = want[size_t(m) * ldc + n];
      const bool ok = n < N ? std::fabs(x - y) <= 1e-5f * (1.f + std::sqrt(float(K))) : x == 12345.f;
      if (!ok && bad++ < 5)
        CHECK(ok, "variant %s %s M=%d N=%d K=%d relu=%d at (m=%d, n=%d): got %g, reference %g%s", variant, fn, M, N, K,
              relu, m, n, x, y, n >= N ? " (wrote past N)" : "");
    }
}

}  // namespace

TEST(gemm_variants_match_reference) {
  std::mt19937 rng(1234);
  const int Ms[] = {1, 3, 4, 5, 7, 8, 13, 16, 24, 37};
  const int Ns[] = {1, 2, 3, 4, 5, 7, 8, 9, 13, 15, 16, 17, 24, 33, 49, 55, 65, 81};
  const int Ks[] = {1, 3, 8, 27, 37, 64, 144};
  struct Fn {
    const char* name;
    GemmFn fn;
    int mr;
  };
  for (const Variant* v : available_variants())
    for (Fn f : {Fn{"gemm", v->kernels.gemm, v->kernels.mr},
                 Fn{"gemm_narrow", v->kernels.gemm_narrow, v->kernels.narrow_mr}}) {
      if (std::string(v->name) == "ref") continue;
      int bad = 0;
      for (int M : Ms)
        for (int N : Ns)
          for (int K : Ks)
            for (int relu = 0; relu < 2; ++relu) {
              auto w = random_vec(size_t(M) * K, rng), b = random_vec(size_t(K) * (N + 3), rng),
                   bias = random_vec(size_t(M), rng);
              const int ldc = N + 2;
              auto want = run_gemm(gemm_ref, kRefMr, M, N, K, ldc, relu, w, b, bias);
              auto got = run_gemm(f.fn, f.mr, M, N, K, ldc, relu, w, b, bias);
              check_close(got, want, M, N, K, ldc, bad, v->name, f.name, relu);
            }
    }
}

TEST(gemm_variants_match_reference_on_plane_rows) {
  // A 1x1 layer's shape: B rows whole planes apart in order, output rows over 1024 floats apart
  // (the far-apart rows the GEMMs prefetch), maps wide enough for several column chunks and the
  // AVX-512 48 + 1 and 1- or 2-column ends.
  std::mt19937 rng(99);
  const int Ms[] = {16, 37}, Ns[] = {161, 177, 290}, Ks[] = {16, 33, 64, 128};
  const int ldc = 1030;
  for (const Variant* v : available_variants()) {
    if (std::string(v->name) == "ref") continue;
    int bad = 0;
    for (int M : Ms)
      for (int N : Ns)
        for (int K : Ks) {
          const int plane = N + 7;
          auto w = random_vec(size_t(M) * K, rng), b = random_vec(size_t(K) * plane, rng), bias = random_vec(M, rng);
          std::vector<int> brow(K);
          for (int k = 0; k < K; ++k) brow[k] = k * plane;
          std::vector<float> want(size_t(M) * ldc, 12345.f), got = want;
          std::vector<float> pr(packed_size(M, K, kRefMr)), pv(packed_size(M, K, v->kernels.mr));
          pack_weights(w.data(), M, K, kRefMr, pr.data());
          pack_weights(w.data(), M, K, v->kernels.mr, pv.data());
          gemm_ref({M, N, K, pr.data(), b.data(), brow.data(), bias.data(), want.data(), ldc, true});
          v->kernels.gemm({M, N, K, pv.data(), b.data(), brow.data(), bias.data(), got.data(), ldc, true});
          check_close(got, want, M, N, K, ldc, bad, v->name, "gemm", 1);
        }
  }
}

TEST(gemm_m_offset_panels) {
  // The engine calls gemm on row tiles starting at a panel boundary: rows [m0, M) must equal
  // the same rows of one full call.
  std::mt19937 rng(7);
  for (const Variant* v : available_variants()) {
    const int M = 100, N = 21, K = 19, mr = v->kernels.mr, m0 = 96;
    CHECK(m0 % v->kernels.narrow_mr == 0 && m0 % mr == 0, "variant %s: panel heights must divide the engine's row tile",
          v->name);
    auto w = random_vec(size_t(M) * K, rng), b = random_vec(size_t(K) * (N + 3), rng), bias = random_vec(M, rng);
    std::vector<float> packed(packed_size(M, K, mr));
    pack_weights(w.data(), M, K, mr, packed.data());
    std::vector<float> full(size_t(M) * N), part(size_t(M) * N);
    std::vector<int> brow(K, 0);
    for (int k = 0; k < K; ++k) brow[k] = k * (N + 3);
    v->kernels.gemm({M, N, K, packed.data(), b.data(), brow.data(), bias.data(), full.data(), N, true});
    v->kernels.gemm({M - m0, N, K, packed.data() + size_t(m0) * K, b.data(), brow.data(), bias.data() + m0,
                     part.data() + size_t(m0) * N, N, true});
    for (int i = m0 * N; i < M * N; ++i)
      CHECK(full[i] == part[i], "variant %s index %d: %g vs %g", v->name, i, full[i], part[i]);
  }
}

TEST(maxpool_ceil_mode_reference) {
  // 5x5 input, 3x3 stride 2, ceil: outputs 2x2; the window at 2 covers rows 2..4.
  std::vector<float> in(25);
  for (int i = 0; i < 25; ++i) in[i] = float((i * 7) % 11);
  std::vector<float> out(4, -1.f);
  maxpool_ref({in.data(), 5, 5, 3, 3, 2, 2, 0, 0, 2, 2, 0, 1, out.data()});
  for (int oy = 0; oy < 2; ++oy)
    for (int ox = 0; ox < 2; ++ox) {
      float m = -1e30f;
      for (int y = oy * 2; y < std::min(oy * 2 + 3, 5); ++y)
        for (int x = ox * 2; x < std::min(ox * 2 + 3, 5); ++x) m = std::max(m, in[y * 5 + x]);
      CHECK(out[oy * 2 + ox] == m, "(%d,%d): %g vs %g", oy, ox, out[oy * 2 + ox], m);
    }
}

TEST(registry_lists_reference_last) {
  const auto& all = all_variants();
  CHECK(!all.empty() && std::string(all.back().name) == "ref", "the scalar reference must be the last variant");
  CHECK(std::string(select_variant("auto").name) == detected_variant().name, "auto must pick the detected variant");
  bool threw = false;
  try {
    select_variant("sse9");
  } catch (const std::invalid_argument&) {
    threw = true;
  }
  CHECK(threw, "an unknown variant must be refused");
}

TEST(maxpool_variants_match_reference) {
  std::mt19937 rng(3);
  for (const Variant* v : available_variants())
    for (int H : {2, 3, 4, 5, 7, 13, 15, 27, 31, 55, 111})
      for (int W : {2, 3, 4, 5, 8, 9, 11, 13, 15, 16, 17, 27, 31, 32, 33, 55, 111}) {
        auto out_size = [](int n) {  // 3x3 stride 2, ceil_mode
          int o = (n - 3 + 1) / 2 + 1;
          return (o - 1) * 2 >= n ? o - 1 : o;
        };
        for (int pt = 0; pt < 2; ++pt) {  // top padding 1: every window one row higher
          const int C = 3, OH = out_size(H + pt), OW = out_size(W);
          auto in = random_vec(size_t(C) * H * W, rng);
          std::vector<float> want(size_t(C) * OH * OW), got(want.size(), -7.f);
          maxpool_ref({in.data(), H, W, 3, 3, 2, 2, pt, 0, OH, OW, 0, C, want.data()});
          v->kernels.maxpool({in.data(), H, W, 3, 3, 2, 2, pt, 0, OH, OW, 0, C, got.data()});
          for (size_t i = 0; i < want.size(); ++i)
            if (got[i] != want[i]) {
              CHECK(false, "variant %s maxpool %dx%d pad_top %d index %zu: got %g, reference %g", v->name, H, W, pt, i,
                    got[i], want[i]);
              break;
            }
        }
      }
}

TEST(stride2_columns_variants_match_reference) {
  // Every variant's stride-2 column gather (the stems' shifted planes) against the reference, on
  // 1-40 outputs a row (every 16-lane tail); the source ends at the last float it may read, and the
  // destination rows carry sentinels past n.
  std::mt19937 rng(8);
  for (const Variant* v : available_variants())
    for (int rows : {1, 3})
      for (int n = 1; n <= 40; ++n) {
        const int sld = 2 * n + 3, dld = n + 5;
        auto src = random_vec(size_t(rows - 1) * sld + 2 * (n - 1) + 1, rng);
        std::vector<float> want(size_t(rows) * dld, -9.f), got(want);
        stride2_columns_ref(src.data(), sld, rows, n, want.data(), dld);
        v->kernels.stride2_columns(src.data(), sld, rows, n, got.data(), dld);
        CHECK(got == want, "variant %s stride2_columns rows %d n %d differs from the reference", v->name, rows, n);
      }
}

TEST(column_phases4_variants_match_reference) {
  // Every variant's F(4x4) column-phase split against the reference: the engine's padded sizes for
  // maps 13-55 (one to four 16-lane blocks a phase row), padding 0 and 1; sentinels must all go.
  std::mt19937 rng(9);
  for (const Variant* v : available_variants())
    for (int S : {3, 13, 15, 16, 23, 27, 55, 70})
      for (int pad = 0; pad < 2; ++pad) {
        const int TX = (S + 3) / 4, PH = 4 * TX + 2, QW = (4 * TX + 2 + 3) / 4, H = S - 1;
        auto src = random_vec(size_t(H) * S, rng);
        std::vector<float> want(size_t(4) * PH * QW, -9.f), got(want.size(), -7.f);
        column_phases4_ref(src.data(), H, S, pad, pad, PH, QW, want.data());
        v->kernels.column_phases4(src.data(), H, S, pad, pad, PH, QW, got.data());
        CHECK(got == want, "variant %s column_phases4 map %dx%d pad %d differs from the reference", v->name, H, S, pad);
      }
}

TEST(conv3x3_small_variants_match_reference) {
  // Every variant's small-map kernel against the scalar reference (weights packed for each one's
  // panel height), on every map side it accepts and widths that break its panels and row blocks.
  std::mt19937 rng(21);
  for (const Variant* v : available_variants()) {
    if (!v->kernels.conv3x3_small) continue;
    int bad = 0;
    for (int S = 2; S <= v->kernels.conv3x3_small_max; ++S)
      for (int C : {1, 3, 13})
        for (int M : {1, 5, 8, 13, 16, 17, 37})
          for (int relu = 0; relu < 2; ++relu) {
            const int K = C * 9, HW = S * S;
            auto w = random_vec(size_t(M) * K, rng), x = random_vec(size_t(C) * HW, rng), bias = random_vec(M, rng);
            std::vector<float> pr(packed_size(M, K, kRefMr)), pv(packed_size(M, K, v->kernels.conv3x3_small_mr));
            pack_weights(w.data(), M, K, kRefMr, pr.data());
            pack_weights(w.data(), M, K, v->kernels.conv3x3_small_mr, pv.data());
            std::vector<float> want(size_t(M) * HW + 8, 777.f), got(want.size(), 777.f);
            conv3x3_small_ref({x.data(), C, S, S, M, pr.data(), bias.data(), want.data(), bool(relu)});
            v->kernels.conv3x3_small({x.data(), C, S, S, M, pv.data(), bias.data(), got.data(), bool(relu)});
            for (size_t i = 0; i < want.size() && bad < 5; ++i)
              if (!(std::fabs(got[i] - want[i]) <= 1e-5f * (1.f + std::sqrt(float(K))))) {
                ++bad;
                CHECK(false, "variant %s conv3x3_small map %d C=%d M=%d relu=%d index %zu%s: got %g, reference %g",
                      v->name, S, C, M, relu, i, i >= size_t(M) * HW ? " (past the output)" : "", got[i], want[i]);
              }
          }
  }
}

TEST(conv3x3_winograd4_channels_variants_match_reference) {
  // Every variant's channel-vectorised F(4x4) small-map kernel against the direct scalar reference,
  // on every map side it is compiled for (5..12: 4 or 9 tiles, partial tiles, 16-pixel runs and
  // their remainders), channel counts that break its channel groups (16 on AVX-512, 4 on NEON) and
  // output panel blocks,
  // and a call starting at a later panel (rows [m0, M)). Tolerance: Winograd F(4x4) rounding.
  std::mt19937 rng(23);
  for (const Variant* v : available_variants()) {
    if (!v->kernels.conv3x3_winograd4_channels) continue;
    int bad = 0;
    for (int S = 5; S <= kSmallMap; ++S)
      for (int C : {1, 3, 16, 23, 33})
        for (int M : {1, 5, 16, 17, 48, 59, 100, 128})
          for (int relu = 0; relu < 2; ++relu) {
            const int K = C * 9, HW = S * S;
            const int m0 = M > 16 && relu ? 16 : 0;  // sometimes a call for rows [16, M)
            auto w = random_vec(size_t(M) * K, rng), x = random_vec(size_t(C) * HW, rng), bias = random_vec(M, rng);
            std::vector<float> pr(packed_size(M, K, kRefMr)),
                pv(winograd4_channels_packed_size(M, C, v->kernels.winograd4_channels_mr));
            pack_weights(w.data(), M, K, kRefMr, pr.data());
            pack_winograd4_channels_weights(w.data(), M, C, v->kernels.winograd4_channels_mr, pv.data());
            std::vector<float> want(size_t(M) * HW + 8, 777.f), got(want.size(), 777.f);
            std::vector<float> scratch(v->kernels.winograd4_channels_scratch(S, C), -1.f);
            conv3x3_small_ref({x.data(), C, S, S, M, pr.data(), bias.data(), want.data(), bool(relu)});
            for (size_t i = 0; i < size_t(m0) * HW; ++i) got[i] = want[i];
            Conv3x3SmallArgs a{x.data(),
                               C,
                               S,
                               S,
                               M - m0,
                               pv.data() + size_t(m0) * 36 * C,
                               bias.data() + m0,
                               got.data() + size_t(m0) * HW,
                               bool(relu)};
            a.scratch = scratch.data();
            v->kernels.conv3x3_winograd4_channels(a);
            for (size_t i = 0; i < want.size() && bad < 5; ++i)
              if (!(std::fabs(got[i] - want[i]) <= 2e-5f * (1.f + float(K)))) {
                ++bad;
                CHECK(false,
                      "variant %s conv3x3_winograd4_channels map %d C=%d M=%d m0=%d relu=%d index %zu%s: got %g, "
                      "reference %g",
                      v->name, S, C, M, m0, relu, i, i >= size_t(M) * HW ? " (past the output)" : "", got[i], want[i]);
              }
          }
  }
}

TEST(winograd4_transforms_match_reference) {
  // Every variant's F(4x4) input and output transforms against the scalar references: maps whose
  // last tiles are partial, tile ranges that start and end inside tile rows, and (range 3) one that
  // starts at a tile row and ends after a lone 4-tile row (AVX2's row-wise stores with 4 tiles).
  std::mt19937 rng(22);
  for (const Variant* v : available_variants()) {
    if (!v->kernels.winograd4_input) continue;
    for (int S : {13, 15, 16, 23}) {
      const int TX = (S + 3) / 4, T = TX * TX, PH = 4 * TX + 2, QW = (4 * TX + 2 + 3) / 4;
      for (int range = 0; range < 4; ++range) {
        const int t0 = range == 0   ? 0
                       : range == 1 ? 5
                       : range == 2 ? TX + 1
                                    : 4,
                  t1 = range == 2 ? std::min(T, t0 + 11) : T;
        const int C = 5, M = 7, ld = 40;
        const size_t ms = size_t(std::max(C, M)) * ld + 16;
        auto ph = random_vec(size_t(C) * 4 * PH * QW, rng);
        std::vector<float> vw(36 * ms, 0.f), vg(36 * ms, 0.f);
        winograd4_input_ref(ph.data(), PH, QW, C, TX, t0, t1, vw.data(), ld, ms);
        v->kernels.winograd4_input(ph.data(), PH, QW, C, TX, t0, t1, vg.data(), ld, ms);
        int bad = 0;
        for (size_t i = 0; i < vw.size() && bad < 5; ++i)
          if (!(std::fabs(vg[i] - vw[i]) <= 1e-5f * (1.f + std::fabs(vw[i])))) {
            ++bad;
            CHECK(false, "variant %s winograd4_input map %d tiles [%d, %d) index %zu: got %g, reference %g", v->name, S,
                  t0, t1, i, vg[i], vw[i]);
          }
        auto mo = random_vec(36 * ms, rng), bias = random_vec(M, rng);
        for (int relu = 0; relu < 2; ++relu) {
          std::vector<float> ow(size_t(M) * S * S, 5.f), og(ow.size(), 5.f);
          winograd4_output_ref(mo.data(), M, ld, ms, TX, t0, t1, bias.data(), relu, ow.data(), S, S);
          v->kernels.winograd4_output(mo.data(), M, ld, ms, TX, t0, t1, bias.data(), relu, og.data(), S, S);
          for (size_t i = 0; i < ow.size() && bad < 5; ++i)
            if (!(std::fabs(og[i] - ow[i]) <= 1e-5f * (1.f + std::fabs(ow[i])))) {
              ++bad;
              CHECK(false, "variant %s winograd4_output map %d tiles [%d, %d) relu=%d index %zu: got %g, reference %g",
                    v->name, S, t0, t1, relu, i, og[i], ow[i]);
            }
        }
      }
    }
  }
}
