// 3x3 stride-1 pad-1 convolutions by Winograd: F(4x4, 3x3) on maps at least kWinograd4MinMap wide
// (36 GEMMs of (M x C)(C x 4x4-tiles) between the variant's SIMD input and output transforms; the
// input split into 4 column phases once per layer) and F(2x2, 3x3) on maps at least 3 wide (16
// GEMMs, transforms shared by the variants in winograd.cpp). The GEMMs run on the variant's gemm;
// a task is a run of tiles over all output channels. The reference never uses these: it is the
// direct convolution they are tested against.
#include "bluefire/winograd.h"
#include "engine/conv.h"

namespace bluefire {
namespace {

constexpr int kTiles2 = 64;   // 2x2 output tiles per F(2x2) task
constexpr int kTiles4 = 32;   // 4x4 output tiles per F(4x4) task
constexpr int kMinWidth = 3;  // on 2x2 maps most of each 2x2 tile is padding

bool winograd2_applies(const Layer& L, const KernelTable& k) {
  return L.dtype == DType::F32 && k.winograd2 && is_3x3_s1_p1(L) && L.OW >= kMinWidth;
}

bool winograd4_applies(const Layer& L, const KernelTable& k) {
  return winograd2_applies(L, k) && k.winograd4_input && L.OW >= kWinograd4MinMap && L.OH >= kWinograd4MinMap;
}

// The cut for several threads, from a model of each task's cost and the pool's order of claims
// (the next task to the first free thread): runs of nb tiles (a multiple of 16, the widest SIMD
// block of the transforms and GEMMs) times ranges of output channels (whole panels of mr), each
// task transforming its tiles' input for its channels; or, where the tiles fit in one run, the
// input transformed once per image over the pool (prepare_channels) and the tasks cut by channel
// alone. The least modelled time wins, fewer tasks on a tie. Sets mb, m_tiles, nb, n_tiles;
// returns whether the input is transformed once. Outputs are the same as the one-thread cut's:
// every matrix element, transform lane and output pixel is computed by the same instructions
// (with column_path_tail; tested bit for bit on every variant, 1-4 threads).
// GEMM calls of at most kColumnPathN columns take the variants' column path (AVX2 <= 4, NEON <= 3),
// which sums over k in other chains: a tile must be in such a call under both cuts or under
// neither. Only a cut's last run can be that short; its length if it is, else 0. (NEON's 1-3
// leftover columns of a longer call take that path too: the last T % 4 tiles under every cut,
// since runs are multiples of 16.)
int column_path_tail(int T, int run) {
  const int last = T - (T - 1) / run * run;
  return last <= kColumnPathN ? last : 0;
}

bool shared_cut(Layer& L, int mr, int threads) {
  const int na = (L.wino_tile + 2) * (L.wino_tile + 2);
  // Costs in multiply-adds: a hand-off costs about a layer share of this much work (0.5-1 us).
  constexpr double kTask = 16e3, kDispatch = 32e3, kTransformIn = 6, kTransformOut = 2;
  auto width = [](int n) { return double((n + 15) / 16 * 16); };
  double best = 1e300;
  bool best_once = false;
  Layer::Cut best_cut = L.cut();
  std::vector<double> load(static_cast<size_t>(threads), 0.0);
  for (int parts : {1, 2, 3, 4, 6, 8}) {
    const int mb = ((L.M + parts - 1) / parts + mr - 1) / mr * mr, m_tiles = (L.M + mb - 1) / mb;
    if (parts > 1 && m_tiles == 1) continue;
    for (int nb : {64, 48, 32, 16, 0}) {  // 0: every tile in one run, transformed once
      const bool once = nb == 0;
      const int run = once ? L.T : nb, n_tiles = (L.T + run - 1) / run;
      if (once ? L.T > 64 || m_tiles == 1 : nb > 16 && nb - 16 >= L.T) continue;  // none, or the cut of a smaller nb
      if (column_path_tail(L.T, run) != column_path_tail(L.T, L.alone.nb)) continue;
      std::fill(load.begin(), load.end(), 0.0);
      for (int t = 0; t < m_tiles * n_tiles; ++t) {
        const int m0 = t / n_tiles * mb, rows = std::min(L.M, m0 + mb) - m0;
        const int t0 = t % n_tiles * run, n = std::min(L.T, t0 + run) - t0;
        const double w = width(n);
        const double cost = double(na) * w *
                                (double((rows + mr - 1) / mr * mr) * L.C * (run == 16 ? 1.15 : 1.0) +
                                 (once ? 0.0 : kTransformIn * L.C) + kTransformOut * rows) +
                            kTask;
        *std::min_element(load.begin(), load.end()) += cost;
      }
      double time = *std::max_element(load.begin(), load.end()) + kDispatch;
      if (once) time += kTransformIn * na * width(L.T) * L.C / threads + kDispatch;
      if (time < best) best = time, best_once = once, best_cut = {mb, m_tiles, run, n_tiles, 0, 0, 0};
    }
  }
  L.use(best_cut);
  return best_once;
}

// Tile side r: (r + 2)^2 transformed M x C weight matrices, each packed for the GEMM.
void prepare(Layer& L, const KernelTable& k, Workspace& ws, int r) {
  const int na = (r + 2) * (r + 2);
  L.wino_tile = r;
  L.TX = (L.OW + r - 1) / r;
  L.T = L.TX * ((L.OH + r - 1) / r);
  L.narrow = L.T <= kNarrowN;
  const int mr = L.narrow ? k.narrow_mr : k.mr;
  std::vector<float> u(size_t(na) * L.M * L.C);
  if (r == 4) winograd4_weights(L.weights.data(), L.M, L.C, u.data());
  else winograd_weights(L.weights.data(), L.M, L.C, u.data());
  L.upanel = packed_size(L.M, L.C, mr);
  L.packed.resize(na * L.upanel);
  for (int i = 0; i < na; ++i)
    pack_weights(u.data() + size_t(i) * L.M * L.C, L.M, L.C, mr, L.packed.data() + i * L.upanel);
  L.PH = r * ((L.OH + r - 1) / r) + 2, L.PW = r * L.TX + 2;  // whole (r+2)^2 patches for every tile
  const int phases = r == 4 ? 4 : 1;  // F(4x4): the transform reads 4 column phases (see kernels.h)
  L.QW = (L.PW + phases - 1) / phases;
  // One thread: runs of kTiles tiles over all output channels. Several: the cut of shared_cut.
  set_tiles(L, L.M, r == 4 ? kTiles4 : kTiles2, L.T);
  L.alone = L.cut();
  bool once = false;
  if (ws.threads > 1) once = shared_cut(L, mr, ws.threads);
  L.ld = std::max(L.alone.nb, L.nb);  // both cuts read and write their matrices at this stride
  L.brow.resize(size_t(L.C));
  for (int c = 0; c < L.C; ++c) L.brow[c] = c * L.ld;
  L.zeros.assign(size_t(L.M), 0.f);
  const size_t split = size_t(L.C) * phases * L.PH * L.QW;  // the padded copy or column phases
  ws.prepared = std::max(ws.prepared, split);
  ws.per_thread = std::max(ws.per_thread, size_t(na) * ((L.C + L.M) * L.ld + 2 * kAlign) + kAlign);
  if (once) {
    L.transformed_at = (split + kAlign - 1) / kAlign * kAlign;
    ws.prepared = std::max(ws.prepared, L.transformed_at + na * (size_t(L.C) * L.ld + kAlign));
  }
}
void winograd2_prepare(Layer& L, const KernelTable& k, Workspace& ws) { prepare(L, k, ws, 2); }
void winograd4_prepare(Layer& L, const KernelTable& k, Workspace& ws) { prepare(L, k, ws, 4); }

// Tiles [t0, t1) of the prepared input -> 16 or 36 matrices vs floats apart at v.
void transform(const Layer& L, const KernelTable& k, const float* prepared, int t0, int t1, float* v, size_t vs) {
  if (L.wino_tile == 4) k.winograd4_input(prepared, L.PH, L.QW, L.C, L.TX, t0, t1, v, L.ld, vs);
  else winograd_input(prepared, L.PH, L.PW, L.C, L.TX, t0, t1, v, L.ld, vs);
}

size_t input_stride(const Layer& L) { return size_t(L.C) * L.ld + kAlign; }  // see winograd.h

// Input channels [c0, c1) of the transformed input (once per image when all tiles make one task):
// each channel's matrices are rows c of the 16 or 36 matrices, so channel ranges write apart.
void transform_channels(const Layer& L, const KernelTable& k, float* p, int c0, int c1) {
  if (!L.transformed_at || c0 >= c1) return;
  const size_t plane = size_t(L.wino_tile == 4 ? 4 * L.PH * L.QW : L.PH * L.PW);
  float* v = p + L.transformed_at + size_t(c0) * L.ld;
  const float* src = p + c0 * plane;
  if (L.wino_tile == 4) k.winograd4_input(src, L.PH, L.QW, c1 - c0, L.TX, 0, L.T, v, L.ld, input_stride(L));
  else winograd_input(src, L.PH, L.PW, c1 - c0, L.TX, 0, L.T, v, L.ld, input_stride(L));
}

// F(2x2): a zero-padded copy (right and bottom padding up to whole tiles); channels [c0, c1).
void winograd2_channels(const Layer& L, const KernelTable& k, const float* in, float* p, int c0, int c1) {
  copy_padded(L, in, p, c0, c1);
  transform_channels(L, k, p, c0, c1);
}

// F(4x4): the padded map split into 4 column phases per channel by the variant's kernel.
void winograd4_channels(const Layer& L, const KernelTable& k, const float* in, float* p, int c0, int c1) {
  for (int c = c0; c < c1; ++c)
    k.column_phases4(in + size_t(c) * L.H * L.W, L.H, L.W, L.pt, L.pl, L.PH, L.QW, p + size_t(c) * 4 * L.PH * L.QW);
  transform_channels(L, k, p, c0, c1);
}

void winograd2_input(const Layer& L, const KernelTable& k, const float* in, float* p) {
  winograd2_channels(L, k, in, p, 0, L.C);
}
void winograd4_input(const Layer& L, const KernelTable& k, const float* in, float* p) {
  winograd4_channels(L, k, in, p, 0, L.C);
}

// A task is output tiles [t0, t1) of output channels [m0, m1): transform the tiles' input, 16 or
// 36 GEMMs, transform back.
void run(const Layer& L, const ConvIO& io, int task) {
  const TaskTile tt = task_tile(L, task);
  const int t0 = tt.nt * L.nb, t1 = std::min(L.T, t0 + L.nb), M = tt.m1 - tt.m0;
  const size_t vs = input_stride(L), ms = size_t(L.M) * L.ld + kAlign;  // see winograd.h
  const int na = (L.wino_tile + 2) * (L.wino_tile + 2);
  const float* v = io.prepared + L.transformed_at;  // transformed once per image, or here:
  float* mo = io.work + na * vs;
  if (!L.transformed_at) {
    transform(L, io.k, io.prepared, t0, t1, io.work, vs);
    v = io.work;
  }
  GemmArgs g = gemm_args(L, tt.m0, tt.m1);
  g.N = t1 - t0;
  g.K = L.C;
  g.bias = L.zeros.data();
  g.ldc = L.ld;
  g.relu = false;
  const GemmFn gemm = gemm_of(L, io.k);
  for (int i = 0; i < na; ++i) {
    g.a = L.packed.data() + i * L.upanel + size_t(tt.m0) * L.C;
    g.b = v + i * vs;
    g.c = mo + i * ms;
    gemm(g);
  }
  const float* bias = L.bias.data() + tt.m0;
  float* out = io.out + size_t(tt.m0) * L.OH * L.OW;
  if (L.wino_tile == 4) io.k.winograd4_output(mo, M, L.ld, ms, L.TX, t0, t1, bias, L.relu, out, L.OH, L.OW);
  else winograd_output(mo, M, L.ld, ms, L.TX, t0, t1, bias, L.relu, out, L.OH, L.OW);
}

}  // namespace

const ConvAlgo kConvWinograd4 = {"winograd4", winograd4_applies, winograd4_prepare, winograd4_input,
                                 run,         nullptr,           winograd4_channels};
const ConvAlgo kConvWinograd2 = {"winograd2", winograd2_applies, winograd2_prepare, winograd2_input,
                                 run,         nullptr,           winograd2_channels};

}  // namespace bluefire
