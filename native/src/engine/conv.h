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
  // Output rows [r0, r1) of every channel into dst (channel stride (r1 - r0) * OW), with the
  // full-width gemm; nullptr if the algorithm cannot (then no max-pool is fused into the layer).
  void (*rows)(const Layer& L, const ConvIO& io, int r0, int r1, float* dst);
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

// Task t's output rows [m0, m1) and column tile nt.
struct TaskTile {
  int m0, m1, nt;
};
inline TaskTile task_tile(const Layer& L, int t) {
  const int mt = t / L.n_tiles, m0 = mt * L.mb;
  return {m0, std::min(L.M, m0 + L.mb), t % L.n_tiles};
}

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

}  // namespace bluefire
