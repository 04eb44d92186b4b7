// How a convolution runs (internal). Each algorithm is one ConvAlgo entry: whether it applies to a
// layer on a variant, how it packs weights and sizes its buffers (once, at build), how it prepares
// the layer's input (once per image, before the tasks) and what one task computes. The entries
// live in conv_*.cpp, one family per file; conv_algos.cpp lists them best first, and a layer runs
// on the first that applies. Adding an algorithm (or a dtype: int8 QDQ convolutions) = a new file
// with its entries, a line in the list, kernels in the KernelTable, tests. See native/README.md.
#pragma once
#include <algorithm>
#include <vector>

#include "bluefire/kernels.h"
#include "engine/layer.h"

namespace bluefire {

// Buffer sizes the layers' algorithms ask for, in floats; the engine allocates the largest of each.
struct Workspace {
  int threads = 1;        // input: the engine's threads (split_channels cuts no more tasks than these)
  size_t prepared = 0;    // the current layer's prepared input (padded copy, planes), shared by its tasks
  size_t per_thread = 0;  // each thread's scratch (im2col columns, Winograd transforms)
};

// One task's view of a convolution, resolved per image.
struct ConvIO {
  const KernelTable& k;
  const float* in;        // C x H x W
  float* out;             // M x OH x OW
  const float* prepared;  // what the algorithm's `prepare_input` wrote
  float* work;            // this thread's scratch, Workspace::per_thread floats
};

struct ConvAlgo {
  const char* name;
  // Whether this algorithm can run the layer (as parsed) with these kernels.
  bool (*applies)(const Layer& L, const KernelTable& k);
  // Packs L.weights into L.packed, sets the layer's tiles (mb, nb, m_tiles, n_tiles) and
  // geometry, and raises `ws` to what its tasks need. Runs once, at build.
  void (*prepare)(Layer& L, const KernelTable& k, Workspace& ws);
  // Writes the input in the form the tasks read into `prepared` (once per image, before the
  // tasks), or nullptr: the tasks read the input as it is.
  void (*prepare_input)(const Layer& L, const KernelTable& k, const float* in, float* prepared);
  // Task t of L.tasks(): each output element is written by exactly one task, whichever thread runs it.
  void (*run)(const Layer& L, const ConvIO& io, int task);
  // Output rows [r0, r1) of channels [m0, m1) (m0 a multiple of the packing's mr) into dst
  // (channel stride (r1 - r0) * OW), with the full-width gemm; nullptr if the algorithm cannot
  // (then no max-pool is fused into the layer). It reads the input (io.in) itself, in this
  // thread's io.work: a layer with a fused pool runs no prepare_input.
  void (*rows)(const Layer& L, const ConvIO& io, int r0, int r1, int m0, int m1, float* dst);
  // prepare_input for input channels [c0, c1) alone, or nullptr: disjoint ranges that cover the
  // channels write exactly what prepare_input writes, each value by the same instructions, so the
  // engine runs ranges as pool tasks for a split layer (engine.cpp, prepare_parts).
  void (*prepare_channels)(const Layer& L, const KernelTable& k, const float* in, float* prepared, int c0,
                           int c1) = nullptr;
};

// The algorithms, best first (conv_algos.cpp), and the first that applies (the last always does).
const std::vector<const ConvAlgo*>& conv_algorithms();
const ConvAlgo& choose_conv(const Layer& L, const KernelTable& k);

// The entries (one family per file).
extern const ConvAlgo kConvPointwise;          // conv_pointwise.cpp
extern const ConvAlgo kConvWinograd4Channels;  // conv_small.cpp
extern const ConvAlgo kConvSmallDirect;        // conv_small.cpp
extern const ConvAlgo kConvWinograd4;          // conv_winograd.cpp
extern const ConvAlgo kConvWinograd2;          // conv_winograd.cpp
extern const ConvAlgo kConvStrided;            // conv_strided.cpp
extern const ConvAlgo kConvPadded;             // conv_padded.cpp
extern const ConvAlgo kConvIm2col;             // conv_im2col.cpp
extern const ConvAlgo kConvPointwiseS8;        // conv_s8.cpp
extern const ConvAlgo kConvPaddedS8;           // conv_s8.cpp
extern const ConvAlgo kConvIm2colS8;           // conv_s8.cpp

// Shared by the entries.

inline bool is_3x3_s1_p1(const Layer& L) {
  return L.kh == 3 && L.kw == 3 && L.sh == 1 && L.sw == 1 && L.pt == 1 && L.pl == 1 && L.pb == 1 && L.pr == 1;
}

// Chooses the GEMM (gemm_narrow for calls of at most kNarrowN columns) and packs L.weights as an
// M x K matrix for it.
inline void pack_for_gemm(Layer& L, const KernelTable& k, bool narrow) {
  L.narrow = narrow;
  const int mr = narrow ? k.narrow_mr : k.mr;
  L.packed.resize(packed_size(L.M, L.K, mr));
  pack_weights(L.weights.data(), L.M, L.K, mr, L.packed.data());
}

inline GemmFn gemm_of(const Layer& L, const KernelTable& k) { return L.narrow ? k.gemm_narrow : k.gemm; }

// mb x nb tiles over M rows and `columns` columns.
inline void set_tiles(Layer& L, int mb, int nb, int columns) {
  L.mb = mb, L.m_tiles = (L.M + mb - 1) / mb;
  L.nb = nb, L.n_tiles = (columns + nb - 1) / nb;
}

// Direct-convolution multiply-accumulates of the layer (as parsed or as reduced by its algorithm).
inline int64_t conv_work(const Layer& L) { return int64_t(L.M) * L.K * L.OH * L.OW; }

// Cuts the layer into task_parts(conv_work(L), threads) tasks where it has fewer: smaller tiles of
// output channels (whole panels of `mr`), or, for algorithms whose tasks are runs of output pixels
// (`pixel_block` > 0, a multiple of every GEMM block width), a single run of pixels cut into runs of
// whole pixel_blocks, whichever leaves the largest task less work: pruned widths like M = 15 on a
// 6-row panel cut 12 + 3, their 225 pixels 128 + 97. A layer that has the tasks already is left as
// it is. Every output is computed by the same instructions in any panel-aligned tile or any run of
// pixels (the GEMMs' one chain over k per output; no run but the last is short enough for a
// variant's column path, kColumnPathN), so results do not depend on the cut (tested:
// bit-identical for 1-4 threads), but a task repeats whatever the algorithm does per task for all
// its channels (a transform of the input, a copy of B), so algorithms whose tasks do that cut only
// where it is cheap. The cut before it is kept in L.alone (what one thread runs; see Layer::Cut).
// GEMM calls of at most this many columns take a variant's column path (AVX2 <= 4, NEON <= 3), which
// sums over k in other chains: a cut may leave such a run only where the one-thread cut has it too.
constexpr int kColumnPathN = 4;
constexpr int kPixelBlock = 32;  // runs of pixels a layer's tasks are cut into: a multiple of every GEMM block
inline void split_channels(Layer& L, int mr, int threads, int pixel_block = 0) {
  L.alone = L.cut();
  const int parts = task_parts(conv_work(L), threads);
  if (L.m_tiles * L.n_tiles >= parts) return;
  const int m_tiles = (parts + L.n_tiles - 1) / L.n_tiles;
  const int mb = ((L.M + m_tiles - 1) / m_tiles + mr - 1) / mr * mr;
  auto padded = [](int n, int to) { return int64_t((n + to - 1) / to * to); };
  const int N = L.OH * L.OW;
  if (pixel_block > 0 && L.n_tiles == 1 && N > kColumnPathN) {
    const int nb = int(padded((N + parts - 1) / parts, pixel_block)), last = N - (N - 1) / nb * nb;
    // Largest task: rows (whole panels) x pixels (whole 16-wide vectors).
    const int rows = std::min(L.M, L.mb);
    const int64_t by_pixels = padded(rows, mr) * padded(std::min(nb, N), 16);
    const int64_t by_channels = padded(std::min(mb, rows), mr) * padded(N, 16);
    if (nb < N && last > kColumnPathN && by_pixels < by_channels) {
      L.nb = nb, L.n_tiles = (N + nb - 1) / nb;
      return;
    }
  }
  if (mb < L.mb) L.mb = mb, L.m_tiles = (L.M + mb - 1) / mb;
}

// Task t's output rows [m0, m1) and column tile nt.
struct TaskTile {
  int m0, m1, nt;
};
inline TaskTile task_tile(const Layer& L, int t) {
  const int mt = t / L.n_tiles, m0 = mt * L.mb;
  return {m0, std::min(L.M, m0 + L.mb), t % L.n_tiles};
}

// A zero-padded copy of the input (L.PH x L.PW per channel; pt/pl before, the rest after), every
// row written whole so no stale border survives from another layer (conv_padded.cpp).
// Channels [c0, c1) only when given.
void copy_padded(const Layer& L, const float* in, float* p, int c0 = 0, int c1 = -1);

// GEMM arguments for output rows [m0, m1) over the packed weights, bias and ReLU of the layer;
// the caller sets N, b, c (and ldc when it is not OH * OW).
inline GemmArgs gemm_args(const Layer& L, int m0, int m1) {
  GemmArgs g;
  g.M = m1 - m0, g.K = L.K;
  g.a = L.packed.data() + size_t(m0) * L.K;
  g.brow = L.brow.data();
  g.bias = L.bias.data() + m0;
  g.ldc = L.OH * L.OW;
  g.relu = L.relu;
  return g;
}

// Task t of a GEMM over output pixels whose B rows start at b + n0 (brow gives the offsets): the
// input planes themselves (1x1) or prepared planes (strided).
inline void run_pixel_tile(const Layer& L, const ConvIO& io, int t, const float* b) {
  const TaskTile tt = task_tile(L, t);
  const int N = L.OH * L.OW, n0 = tt.nt * L.nb, n1 = std::min(N, n0 + L.nb);
  GemmArgs g = gemm_args(L, tt.m0, tt.m1);
  g.N = n1 - n0;
  g.b = b + n0;
  g.c = io.out + size_t(tt.m0) * N + n0;
  gemm_of(L, io.k)(g);
}

}  // namespace bluefire
