// How a Winograd layer is cut into tasks for several threads (conv_winograd.cpp, shared_cut), on a
// kernel table with 6-row panels (the x86 variants'): the cuts native/README.md describes for the
// 224x224 SqueezeNet layers, and for many shapes the invariants that keep outputs bit-identical to
// the one-thread cut (one row stride for both cuts; the last run's column-path tail unchanged).
// The outputs themselves are compared bit for bit in test_engine.cpp.
#include "engine/conv.h"
#include "test.h"

using namespace bluefire;

namespace {

Layer winograd_layer(int M, int C, int map) {
  Layer L;
  L.kind = Kind::Conv;
  L.M = M, L.C = C, L.H = L.W = L.OH = L.OW = map;
  L.kh = L.kw = 3, L.pt = L.pl = L.pb = L.pr = 1;
  L.K = C * 9;
  L.weights.assign(size_t(M) * C * 9, 0.f);
  L.bias.assign(size_t(M), 0.f);
  return L;
}

struct Cut {
  int nb, n_tiles, m_tiles;
  bool once;
};

Cut cut_for(int M, int C, int map, int threads, Layer* out = nullptr) {
  KernelTable k;
  k.mr = k.narrow_mr = 6;
  Workspace ws;
  ws.threads = threads;
  Layer L = winograd_layer(M, C, map);
  kConvWinograd4.prepare(L, k, ws);
  if (out) *out = L;
  return {L.nb, L.n_tiles, L.m_tiles, L.transformed_at > 0};
}

int tail(int T, int run) {  // the last run's length
  return T - (T - 1) / run * run;
}

}  // namespace

TEST(thread_cuts_of_the_224_layers) {
  struct Case {
    const char* name;
    int M, C, map, threads;
    Cut want;
  };
  const Case cases[] = {
      {"fire2 55x55, 1 thread", 64, 16, 55, 1, {32, 7, 1, false}},
      {"fire2 55x55, 2 threads", 64, 16, 55, 2, {48, 5, 1, false}},
      {"fire2 55x55, 4 threads", 64, 16, 55, 4, {32, 7, 2, false}},
      {"fire4 27x27, 2 threads", 128, 32, 27, 2, {32, 2, 1, false}},
      {"fire4 27x27, 4 threads", 128, 32, 27, 4, {32, 2, 2, false}},
      {"fire6 13x13, 2 threads", 192, 48, 13, 2, {16, 1, 2, true}},
      {"fire8 13x13, 4 threads", 256, 64, 13, 4, {16, 1, 4, true}},
  };
  for (const Case& c : cases) {
    const Cut got = cut_for(c.M, c.C, c.map, c.threads);
    CHECK(got.nb == c.want.nb && got.n_tiles == c.want.n_tiles && got.m_tiles == c.want.m_tiles &&
              got.once == c.want.once,
          "%s: runs of %d x %d, %d channel ranges, once %d; expected %d x %d, %d, %d", c.name, got.nb, got.n_tiles,
          got.m_tiles, int(got.once), c.want.nb, c.want.n_tiles, c.want.m_tiles, int(c.want.once));
  }
}

TEST(thread_cuts_keep_the_one_thread_layout) {
  for (int map : {13, 14, 17, 20, 23, 27, 31, 40, 55, 57, 64})
    for (int M : {7, 16, 37, 64, 128, 192})
      for (int C : {3, 16, 48})
        for (int threads = 2; threads <= 4; ++threads) {
          Layer L;
          cut_for(M, C, map, threads, &L);
          const Layer::Cut& a = L.alone;
          CHECK(L.ld >= a.nb && L.ld >= L.nb, "map %d M %d: ld %d below a run (%d, %d)", map, M, L.ld, a.nb, L.nb);
          CHECK(a.m_tiles == 1 && a.nb == 32 && a.transformed_at == 0, "map %d M %d: the one-thread cut changed", map,
                M);
          const int ta = tail(L.T, a.nb), ts = tail(L.T, L.transformed_at ? L.T : L.nb);
          CHECK((ta <= 4) == (ts <= 4) && (ta > 4 || ta == ts),
                "map %d M %d C %d, %d threads: last runs of %d and %d tiles (column path differs)", map, M, C, threads,
                ta, ts);
          CHECK(!L.transformed_at || (L.n_tiles == 1 && L.T <= L.ld), "map %d M %d: transformed once but %d runs", map,
                M, L.n_tiles);
          CHECK(L.m_tiles * L.mb >= M && (L.m_tiles - 1) * L.mb < M && L.mb % 6 == 0,
                "map %d M %d: channel cut %d x %d", map, M, L.m_tiles, L.mb);
        }
}

namespace {

// A 1x1 convolution (squeeze, expand1x1) of M x C on a map x map input, prepared as the pointwise
// entry prepares it for `threads` threads on 6-row panels.
Layer pointwise_layer(int M, int C, int map, int threads) {
  KernelTable k;
  k.mr = k.narrow_mr = 6;
  Workspace ws;
  ws.threads = threads;
  Layer L;
  L.kind = Kind::Conv;
  L.M = M, L.C = C, L.K = C, L.H = L.W = L.OH = L.OW = map;
  L.weights.assign(size_t(M) * C, 0.f);
  L.bias.assign(size_t(M), 0.f);
  kConvPointwise.prepare(L, k, ws);
  return L;
}

}  // namespace

// Pruned widths cut by pixels where a channel cut is lopsided: the shipped pruned model's fire3
// squeeze (15 x 75 on 15x15 maps) would run 12 + 3 channels; its 225 pixels run 128 + 97.
TEST(thread_cuts_of_pruned_pointwise_layers) {
  struct Case {
    const char* name;
    int M, C, map, threads;
    int nb, n_tiles, m_tiles;
  };
  const Case cases[] = {
      {"fire3 squeeze 15x75, 15x15, 2 threads", 15, 75, 15, 2, 128, 2, 1},
      {"fire3 squeeze, 4 threads (work for 2 tasks)", 15, 75, 15, 4, 128, 2, 1},
      {"20 x 75, 15x15, 2 threads (12 + 8 channels beat 128 + 97 pixels)", 20, 75, 15, 2, 256, 1, 2},
      {"15 x 75, 31x31, 2 threads (runs of 256 already)", 15, 75, 31, 2, 256, 4, 1},
      {"48 channels, 15x15, 2 threads (panels even)", 48, 64, 15, 2, 256, 1, 2},
      {"fire3 squeeze, 1 thread", 15, 75, 15, 1, 256, 1, 1},
  };
  for (const Case& c : cases) {
    const Layer L = pointwise_layer(c.M, c.C, c.map, c.threads);
    CHECK(L.nb == c.nb && L.n_tiles == c.n_tiles && L.m_tiles == c.m_tiles,
          "%s: %d runs of %d pixels, %d channel ranges; expected %d of %d, %d", c.name, L.n_tiles, L.nb, L.m_tiles,
          c.n_tiles, c.nb, c.m_tiles);
  }
}

// Any pixel cut: runs of whole kPixelBlocks, the one-thread cut unchanged, and no run short enough
// for a variant's column path (where the one-thread call is longer), so outputs stay bit-identical.
TEST(thread_cuts_by_pixels_keep_the_gemm_paths) {
  int by_pixels = 0;
  for (int map = 2; map <= 16; ++map)
    for (int M : {5, 7, 12, 15, 23, 38, 64, 70})
      for (int threads = 2; threads <= 4; ++threads) {
        const Layer L = pointwise_layer(M, 96, map, threads);
        const int N = map * map;
        CHECK(L.alone.n_tiles == 1 && L.alone.m_tiles == 1, "map %d M %d: the one-thread cut changed", map, M);
        if (L.n_tiles == 1) continue;
        ++by_pixels;
        const int last = N - (L.n_tiles - 1) * L.nb;
        CHECK(L.m_tiles == 1 && L.nb % kPixelBlock == 0 && L.nb < N && last > kColumnPathN && last <= L.nb,
              "map %d M %d, %d threads: %d runs of %d (last %d) x %d channel ranges", map, M, threads, L.n_tiles, L.nb,
              last, L.m_tiles);
      }
  CHECK(by_pixels > 0, "no shape was cut by pixels");
}
