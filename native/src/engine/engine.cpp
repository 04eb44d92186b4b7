// The engine: a parsed graph (graph.cpp) whose convolutions each run on the first algorithm of
// the table that applies (conv_algos.cpp; the algorithms in conv_*.cpp), weights packed once,
// activations placed in one arena by lifetime (arena.cpp), every buffer allocated at build time.
// Layers run one after another; each layer's tasks go to the thread pool. A layer with enough
// work for several threads has its output channels cut into more tasks (whole weight panels, see
// split_channels); how each output is computed never depends on the cut or on which thread runs
// it, so results are identical with 1-4 threads. Whether a layer's tasks go to the pool at all is
// measured at build (calibrate): the pool only where it is clearly faster than the calling thread
// alone. See native/README.md, Thread scaling.
#include "bluefire/engine.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <mutex>
#include <stdexcept>

#include "bluefire/kernels.h"
#include "bluefire/kernels_s8.h"
#include "bluefire/registry.h"
#include "bluefire/thread_pool.h"
#include "engine/arena.h"
#include "engine/conv.h"
#include "engine/graph.h"
#include "engine/wake_choice.h"

namespace bluefire {
namespace {

constexpr size_t kBandFloats = 128 * 1024;  // per-thread band of a convolution fused with its pool
// A split convolution's input is prepared over the pool from this many input floats: below it the
// copy takes about as long as handing it out (a few hundred nanoseconds).
constexpr int64_t kMinPrepareFloats = 4096;

// Floats starting on a cache line (kAlign floats), zero-filled.
class Buffer {
 public:
  void assign(size_t n) {
    v_.assign(n + kAlign, 0.f);
    p_ = v_.data() + (kAlign - (reinterpret_cast<uintptr_t>(v_.data()) / sizeof(float)) % kAlign) % kAlign;
  }
  float* data() { return p_; }

 private:
  std::vector<float> v_;
  float* p_ = nullptr;
};

size_t round_up(size_t n, size_t a) { return (n + a - 1) / a * a; }

// Calibration (Impl::calibrate): whole passes over a zero image, alternately with every candidate
// layer alone on the calling thread and split over the pool, each layer timed; at least kMinPasses
// of each, then more until kCalibrationBudget is spent or kMaxPasses; a layer keeps the pool when
// its fastest split pass is under kKeepSplit x its fastest pass alone.
constexpr int kMinPasses = 4, kMaxPasses = 16;
constexpr double kCalibrationBudget = 0.04;  // seconds
constexpr double kKeepSplit = 0.9;
// Every calibration starts with the workers awake (ThreadPool::wake): woken only by its first job, a
// worker asleep on an idle vCPU joined 2.8 ms later (dispatch_cost.sh), after a small model's passes.
constexpr auto kWakeLimit = std::chrono::milliseconds(20);
// Engine::Impl::Hold: a call this long after the last one ended is a paced frame (WakeChoice decides
// whether it wakes the workers); sooner, calls come as a stream and always wake them.
constexpr auto kPacedGap = std::chrono::milliseconds(1);
// Then whole images: kWholePasses with the chosen splits and as many alone, interleaved; the splits stay
// when the median image with them is under kKeepWhole x the median image alone (else once more with
// twice the passes, which decides).
constexpr int kWholePasses = 15;
constexpr double kKeepWhole = 0.95;
// Sibling pairs (Layer::sibling) between the two: paired when the fastest pass of the pair in one job
// is under kKeepPair x the fastest pass of the two layers one after the other, each cut as chosen.
constexpr double kKeepPair = 0.95;

// The engine's two switches read from the environment when an engine is built: unset or empty is
// auto; anything but auto, always or never is refused, naming the variable.
enum class Mode { Auto, Always, Never };
Mode env_mode(const char* name) {
  const char* v = std::getenv(name);
  if (!v || !*v || std::strcmp(v, "auto") == 0) return Mode::Auto;
  if (std::strcmp(v, "always") == 0) return Mode::Always;
  if (std::strcmp(v, "never") == 0) return Mode::Never;
  throw std::invalid_argument(std::string(name) + " is '" + v + "'; expected auto, always or never");
}

// BLUEFIRE_SPLIT: auto (default: measured), always (every layer with several tasks goes to the
// pool: the static cut alone decides, reproducible), never (every layer alone on the caller).
using SplitMode = Mode;
SplitMode split_mode() { return env_mode("BLUEFIRE_SPLIT"); }

// A pair's tasks (Layer::pair_order): the two layers' tasks spread evenly through the job, the layer
// with more work leading, so that the first tasks the threads claim belong to different layers.
void set_pair_order(Layer& A, const Layer& B) {
  const int na = A.tasks(), nb = B.tasks();
  const bool a_leads = conv_work(A) >= conv_work(B);
  std::vector<std::pair<double, int>> due;
  for (int t = 0; t < na; ++t) due.push_back({(t + (a_leads ? 0.25 : 0.5)) / na, t});
  for (int t = 0; t < nb; ++t) due.push_back({(t + (a_leads ? 0.5 : 0.25)) / nb, -1 - t});
  std::sort(due.begin(), due.end());  // by due, then task (a total order: the same on every build)
  A.pair_order.clear();
  for (const auto& d : due) A.pair_order.push_back(d.second);
}

// BLUEFIRE_WAKE: what a paced call (Impl::Hold) does with workers it finds asleep: auto (default:
// WakeChoice measures), always (wake them), never (run on the calling thread).
using WakeMode = Mode;
WakeMode wake_mode() { return env_mode("BLUEFIRE_WAKE"); }

}  // namespace

struct Engine::Impl {
  std::string source;
  const Variant* variant = nullptr;
  std::map<std::string, std::string> metadata;
  Graph g;
  Buffer arena;
  Buffer prepared;  // the current convolution's prepared input (padded copy, planes)
  Buffer work;      // per-thread scratch, one cache-aligned slice per thread
  size_t work_per_thread = 0;
  Buffer band;  // conv rows of a conv+pool band, one slice per thread
  size_t band_per_thread = 0;
  std::vector<float*> ptr;  // per tensor, refreshed for each image
  std::unique_ptr<ThreadPool> pool;
  std::unique_ptr<Preprocessor> prep;
  std::vector<float> prep_buf;
  std::mutex run_mu;
  int64_t macs = 0;
  const Layer* current = nullptr;
  const Layer* current2 = nullptr;  // the sibling of `current` while a pair runs (pair_task)
  int split_layers = 0;
  double calibration_seconds = 0;

  // Keeps the pool's workers awake for one call (`images` images) when some layer is split. A call
  // that finds them all asleep a while after the last one ended (frames at a camera's pace: the next
  // will find them asleep again) wakes them or runs on the calling thread, as `wake_choice` measured
  // faster lately (`images` > 0: run and run_image feed it, profile does not; BLUEFIRE_WAKE=always or
  // never fixes the choice). Sooner than
  // kPacedGap after the last, calls come as a stream, and waking pays for the calls after this one:
  // always woken. Layers run alone while no worker is up either way (run_layer).
  WakeChoice wake_choice;
  WakeMode wake = WakeMode::Auto;
  std::chrono::steady_clock::time_point last_end{};
  struct Hold {
    Impl& e;
    const int images;
    bool on = false, choice = false;
    const std::chrono::steady_clock::time_point t0 = std::chrono::steady_clock::now();
    Hold(Impl& impl, int images_timed) : e(impl), images(images_timed) {
      if (!e.split_layers) return;
      choice = images > 0 && e.pool->awake() == 0 && t0 - e.last_end > kPacedGap;
      on = !choice || (e.wake == WakeMode::Auto ? e.wake_choice.wake() : e.wake == WakeMode::Always);
      if (on) e.pool->hold(true);
    }
    ~Hold() {
      if (!e.split_layers) return;
      if (on) e.pool->hold(false);
      e.last_end = std::chrono::steady_clock::now();
      if (choice) e.wake_choice.record(on, std::chrono::duration<double>(e.last_end - t0).count() / images);
    }
  };

  void build(const OnnxModel& m);
  void fuse_pools();
  void find_siblings();
  void plan_storage();
  void choose_splits(SplitMode mode);
  void calibrate(std::vector<Layer*>& candidates);
  void calibrate_pairs(const std::vector<Layer*>& candidates, std::vector<char>& chosen);
  void resolve(const float* in);
  void run_one(const float* in, float* out);
  void run_layer(Layer& L);
  void run_alone(Layer& L);
  void prepare(const Layer& L);
  void run_pair(Layer& A);
  void run_task(const Layer& L, int t, int thread);
  void conv_pool_band(const Layer& L, int band, int thread);
  ConvIO conv_io(const Layer& L, int thread) {
    return {variant->kernels, ptr[L.in], ptr[L.out], prepared.data(), work.data() + size_t(thread) * work_per_thread};
  }
  static void task(void* self, int t, int thread);
  static void pair_task(void* self, int t, int thread);
  int prep_channels = 0;  // input channels per prepare_task of the current layer
  static void prepare_task(void* self, int t, int thread);
};

void Engine::Impl::build(const OnnxModel& m) {
  source = m.source;
  metadata = m.metadata;
  g = parse_graph(m);
  const KernelTable& k = variant->kernels;
  Workspace ws;
  ws.threads = pool->threads();
  for (Layer& L : g.layers) {
    if (L.dtype == DType::U8) L.s8 = &select_s8(variant->name);  // the int8 kernels of the same ISA
    if (L.kind == Kind::MaxPool) {
      const int parts = task_parts(int64_t(L.C) * L.OH * L.OW * L.kh * L.kw, pool->threads());
      L.pool_channels = (L.C + parts - 1) / parts;
    }
    if (L.kind != Kind::Conv) continue;
    L.algo = &choose_conv(L, k);
    L.algo->prepare(L, k, ws);
    L.weights = std::vector<float>();  // packed now
    macs += int64_t(L.M) * L.K * L.OH * L.OW;
  }
  fuse_pools();
  find_siblings();
  plan_storage();
  const size_t threads = size_t(pool->threads());
  work_per_thread = round_up(ws.per_thread, kAlign);
  band_per_thread = round_up(band_per_thread, kAlign);
  prepared.assign(ws.prepared);
  work.assign(work_per_thread * threads);
  band.assign(band_per_thread * threads);
  ptr.assign(g.tensors.size(), nullptr);
}

// Each layer's two cuts (Layer::Cut): `shared` as prepared for the engine's threads, `alone` as a
// one-thread engine has it; then which one runs (calibrate, or the mode's fixed choice).
void Engine::Impl::choose_splits(SplitMode mode) {
  std::vector<Layer*> candidates;
  for (Layer& L : g.layers) {
    L.shared = L.cut();
    if (L.kind == Kind::MaxPool) L.alone = L.shared, L.alone.pool_channels = L.C;
    else if (L.kind != Kind::Conv || L.alone.m_tiles == 0) L.alone = L.shared;  // nothing was cut
    L.use(L.alone);
    L.split = false;
    if (pool->threads() == 1 || L.run_by_producer || mode == SplitMode::Never) continue;
    L.use(L.shared);
    if (L.tasks() > 1) candidates.push_back(&L);
    L.use(L.alone);
  }
  // Sibling pairs run both shared cuts in one job: two layers too small to split still make two tasks.
  for (Layer& A : g.layers) {
    A.paired = false;
    if (A.sibling < 0) continue;
    if (pool->threads() == 1 || mode == SplitMode::Never) {
      A.sibling = -1;
      continue;
    }
    Layer& B = g.layers[size_t(A.sibling)];
    A.use(A.shared), B.use(B.shared);
    set_pair_order(A, B);
    A.use(A.alone), B.use(B.alone);
  }
  if (mode == SplitMode::Auto) calibrate(candidates);
  else {
    for (Layer* L : candidates) L->split = true;
    for (Layer& A : g.layers) A.paired = A.sibling >= 0;
  }
  for (Layer& A : g.layers)
    if (A.paired) A.split = g.layers[size_t(A.sibling)].split = true;  // their tasks go to the pool
  split_layers = 0;
  for (Layer& L : g.layers) {
    L.use(L.split ? L.shared : L.alone);
    split_layers += L.split;
  }
}

void Engine::Impl::calibrate(std::vector<Layer*>& candidates) {
  const bool siblings = std::any_of(g.layers.begin(), g.layers.end(), [](const Layer& L) { return L.sibling >= 0; });
  if (candidates.empty() && !siblings) return;
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  std::vector<float> x(g.tensors[g.input].size(), 0.f);
  resolve(x.data());
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<double> best_alone(candidates.size(), inf), best_split(candidates.size(), inf);
  pool->wake(kWakeLimit);
  for (int pass = 0;; ++pass) {
    const bool split = pass % 2 == 1;
    for (Layer* L : candidates) L->use(split ? L->shared : L->alone), L->split = split;
    size_t c = 0;
    for (Layer& L : g.layers) {
      const auto t0 = Clock::now();
      run_layer(L);
      const double dt = std::chrono::duration<double>(Clock::now() - t0).count();
      if (c < candidates.size() && candidates[c] == &L) {
        double& best = split ? best_split[c] : best_alone[c];
        best = std::min(best, dt);
        ++c;
      }
    }
    const int passes = pass + 1;
    const double spent = std::chrono::duration<double>(Clock::now() - start).count();
    if (passes >= 2 * kMaxPasses || (passes >= 2 * kMinPasses && passes % 2 == 0 && spent > kCalibrationBudget)) break;
  }
  pool->hold(false);
  std::vector<char> chosen(candidates.size());
  bool any = false;
  for (size_t c = 0; c < candidates.size(); ++c) any |= chosen[c] = best_split[c] < kKeepSplit * best_alone[c];
  calibrate_pairs(candidates, chosen);
  for (char c : chosen) any |= c;
  std::vector<Layer*> pairs;  // the first layers of the pairs kept
  for (Layer& L : g.layers)
    if (L.paired) pairs.push_back(&L);
  any |= !pairs.empty();  // two one-task layers make a pair that no candidate is part of
  // The per-layer times miss what lies between layers: a split layer's output read by the next layer
  // from other cores' caches, a pool job per layer. So whole images with the chosen splits must beat
  // whole images on the calling thread alone, medians of interleaved passes, or no layer is split:
  // never slower than one thread.
  // A check that fails is run once more, twice as long, and that one decides: a burst of load from
  // elsewhere during the first (a shared host, a camera starting) would otherwise leave the engine on
  // one thread for its whole life.
  // The workers are held awake through these passes, as for frames one after the other: after an
  // idle gap a sleeping worker takes 20 us to several ms to wake (a VM's idle vCPU: dispatch_cost.sh),
  // which would decide the check by the gap between its passes, not by the splits. Paced frames
  // (`bluefire bench --frame-gap-ms`) start with the workers asleep; there split layers run on the
  // calling thread while no worker is up (run_layer), and whether to wake them is measured (Hold).
  for (int attempt = 0; any && attempt < 2; ++attempt) {
    std::vector<float> out(g.tensors[g.output].size());
    std::vector<double> with, without;
    pool->wake(kWakeLimit);
    for (int pass = 0; pass < (2 * kWholePasses) << attempt; ++pass) {
      const bool split = pass % 2 == 0;
      for (size_t c = 0; c < candidates.size(); ++c) {
        const bool s = split && chosen[c];
        candidates[c]->use(s ? candidates[c]->shared : candidates[c]->alone), candidates[c]->split = s;
      }
      for (Layer* A : pairs) {
        A->paired = split;
        for (Layer* L : {A, &g.layers[size_t(A->sibling)]}) L->use(split ? L->shared : L->alone);
      }
      const auto t0 = Clock::now();
      run_one(x.data(), out.data());
      (split ? with : without).push_back(std::chrono::duration<double>(Clock::now() - t0).count());
    }
    pool->hold(false);
    for (Layer* A : pairs) A->paired = true;
    auto median = [](std::vector<double>& v) {
      std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
      return v[v.size() / 2];
    };
    if (median(with) < kKeepWhole * median(without)) break;
    if (attempt == 1) {
      std::fill(chosen.begin(), chosen.end(), 0);
      for (Layer* A : pairs) A->paired = false;
    }
  }
  for (size_t c = 0; c < candidates.size(); ++c) candidates[c]->split = chosen[c];
  calibration_seconds = std::chrono::duration<double>(Clock::now() - start).count();
}

// Each sibling pair: timed run one layer after the other, each as `chosen` (the per-layer measurement;
// alone if it is no candidate), and in one job with both shared cuts; paired where the job is clearly
// faster. Only the pair's two layers run in these passes, on what earlier passes left in the arena.
// The layers are left as chosen; a pair's candidates are chosen too (the pair runs their shared cuts).
void Engine::Impl::calibrate_pairs(const std::vector<Layer*>& candidates, std::vector<char>& chosen) {
  using Clock = std::chrono::steady_clock;
  auto chosen_of = [&](const Layer& L) -> char* {
    const auto it = std::find(candidates.begin(), candidates.end(), &L);
    return it == candidates.end() ? nullptr : &chosen[size_t(it - candidates.begin())];
  };
  auto as_chosen = [&](Layer& L) {
    const char* c = chosen_of(L);
    L.split = c && *c;
    L.use(L.split ? L.shared : L.alone);
  };
  pool->wake(kWakeLimit);
  for (Layer& A : g.layers) {
    if (A.sibling < 0) continue;
    Layer& B = g.layers[size_t(A.sibling)];
    double best_apart = std::numeric_limits<double>::infinity(), best_paired = best_apart;
    for (int pass = 0; pass < 2 * kMaxPasses; ++pass) {
      const bool pair = pass % 2 == 1;
      if (pair) A.use(A.shared), B.use(B.shared);
      else as_chosen(A), as_chosen(B);
      const auto t0 = Clock::now();
      if (pair) run_pair(A);
      else run_layer(A), run_layer(B);
      const double dt = std::chrono::duration<double>(Clock::now() - t0).count();
      double& best = pair ? best_paired : best_apart;
      best = std::min(best, dt);
    }
    A.paired = best_paired < kKeepPair * best_apart;
    for (Layer* L : {&A, &B})
      if (char* c = chosen_of(*L); c && A.paired) *c = 1;
    as_chosen(A), as_chosen(B);
  }
  pool->hold(false);
}

// A convolution whose rows an algorithm can compute in bands (`rows`: the strided stem, im2col)
// and whose only reader is a MaxPool runs in bands of pooled rows: each band's conv rows go to a
// per-thread buffer that stays in L2 and are pooled at once, instead of writing the whole map
// (3 MB at 224x224) and reading it back. A band recomputes the conv rows it shares with the next
// (kh - sh rows; about 1/8 more work for the stem).
void Engine::Impl::fuse_pools() {
  for (Layer& L : g.layers) {
    if (L.kind != Kind::Conv || !L.algo->rows || L.narrow || L.out == g.output || g.tensors[L.out].parent >= 0)
      continue;
    int users = 0, pool_index = -1;
    for (size_t j = 0; j < g.layers.size(); ++j)
      if (g.layers[j].in == L.out) ++users, pool_index = g.layers[j].kind == Kind::MaxPool ? int(j) : pool_index;
    for (const Tensor& t : g.tensors) users += t.parent == L.out;
    if (users != 1 || pool_index < 0) continue;
    Layer& P = g.layers[size_t(pool_index)];
    const int rows_fit = int(kBandFloats / (size_t(L.M) * L.OW));
    if (rows_fit < P.kh + P.sh) continue;  // bands too thin to pay off
    L.fused_pool = pool_index;
    // Bands of at most rows_fit conv rows. With threads, a small stem whose bands are fewer than
    // its tasks (all rows in one band) is cut into more bands or into channel tiles
    // (split_channels), whichever leaves the largest task fewer conv rows x channels: a band
    // recomputes the kh - sh conv rows it shares with the next one, a channel tile writes the
    // band's planes again (the 64x64 pruned stem: 26 channels cut 18 + 8, or 15 pooled rows 8 + 7).
    L.pool_rows = (rows_fit - P.kh) / P.sh + 1;
    L.n_tiles = (P.OH + L.pool_rows - 1) / L.pool_rows;
    L.mb = L.M, L.m_tiles = 1;
    const int mr = variant->kernels.mr;
    split_channels(L, mr, pool->threads());
    const int parts = task_parts(conv_work(L), pool->threads());
    if (L.alone.n_tiles < parts && P.OH >= parts) {
      auto conv_rows = [&](int pooled) { return std::min(L.OH, (pooled - 1) * P.sh + P.kh); };
      auto panels = [&](int m) { return int64_t((m + mr - 1) / mr * mr); };
      const int pool_rows = (P.OH + parts - 1) / parts;
      const int64_t by_bands = panels(L.M) * conv_rows(pool_rows);
      const int64_t by_channels = panels(std::min(L.M, L.mb)) * conv_rows(P.OH);
      if (by_bands < by_channels)
        L.mb = L.M, L.m_tiles = 1, L.pool_rows = pool_rows, L.n_tiles = (P.OH + pool_rows - 1) / pool_rows;
    }
    P.run_by_producer = true;
    const int rows = std::max(L.pool_rows, L.alone.pool_rows);  // either cut's bands
    band_per_thread = std::max(band_per_thread, size_t(L.M) * ((rows - 1) * P.sh + P.kh) * L.OW + kAlign);
  }
}

// Sibling pairs (Layer::sibling): a Conv and the Conv right after it reading the same input, neither
// fused with a pool, at most one preparing its input (the engine has one `prepared` buffer). They
// may run at the same time: neither reads the other's output, and plan_storage keeps what either
// reads or writes alive through both (a first output nothing reads would otherwise free its storage
// for the second's).
void Engine::Impl::find_siblings() {
  for (size_t i = 0; i + 1 < g.layers.size(); ++i) {
    Layer& A = g.layers[i];
    const Layer& B = g.layers[i + 1];
    A.sibling = -1;
    if (A.kind != Kind::Conv || B.kind != Kind::Conv || A.in != B.in || A.fused_pool >= 0 || B.fused_pool >= 0)
      continue;
    if (A.algo->prepare_input && B.algo->prepare_input) continue;
    A.sibling = int(i + 1);
    ++i;  // a layer belongs to one pair at most
  }
}

// Root tensors (not views, not Concat slices, not the graph input) get arena space by lifetime:
// first write .. last read, in layer order (plan_arena).
void Engine::Impl::plan_storage() {
  auto root = [&](int t) {
    while (g.tensors[t].parent >= 0) t = g.tensors[t].parent;
    return t;
  };
  const int never = int(g.layers.size()) + 1;
  std::vector<ArenaRequest> req(g.tensors.size());
  for (size_t t = 0; t < g.tensors.size(); ++t) req[t] = {g.tensors[t].floats(), never, -1};
  // A sibling pair may run as one job: what either layer reads or writes lives through both steps.
  std::vector<int> from(g.layers.size()), to(g.layers.size());
  for (int i = 0; i < int(g.layers.size()); ++i) from[size_t(i)] = to[size_t(i)] = i;
  for (int i = 0; i < int(g.layers.size()); ++i)
    if (const int j = g.layers[size_t(i)].sibling; j >= 0) from[size_t(j)] = i, to[size_t(i)] = j;
  for (int i = 0; i < int(g.layers.size()); ++i) {
    const Layer& L = g.layers[i];
    if (L.run_by_producer) continue;  // its producer writes the pooled output directly
    const int written = L.fused_pool >= 0 ? g.layers[size_t(L.fused_pool)].out : L.out;
    req[root(L.in)].last = std::max(req[root(L.in)].last, to[size_t(i)]);
    req[root(written)].first = std::min(req[root(written)].first, from[size_t(i)]);
    req[root(written)].last = std::max(req[root(written)].last, to[size_t(i)]);
  }
  req[root(g.output)].last = never;  // copied out after the last layer
  for (size_t t = 0; t < g.tensors.size(); ++t)
    if (req[t].first == never || int(t) == g.input || g.tensors[t].parent >= 0) req[t].first = -1;
  const ArenaPlan plan = plan_arena(req, kAlign);
  for (size_t t = 0; t < g.tensors.size(); ++t) g.tensors[t].offset = plan.offset[t];
  arena.assign(plan.total);
}

// Task t: pooled rows of band t % n_tiles, channels of tile t / n_tiles.
void Engine::Impl::conv_pool_band(const Layer& L, int t, int thread) {
  const Layer& P = g.layers[size_t(L.fused_pool)];
  const KernelTable& k = variant->kernels;
  const TaskTile tt = task_tile(L, t);
  const int p0 = tt.nt * L.pool_rows, p1 = std::min(P.OH, p0 + L.pool_rows);
  const int r0 = std::max(0, p0 * P.sh - P.pt), r1 = std::min(L.OH, (p1 - 1) * P.sh - P.pt + P.kh);
  const int N = (r1 - r0) * L.OW;
  float* buf = band.data() + size_t(thread) * band_per_thread;
  L.algo->rows(L, conv_io(L, thread), r0, r1, tt.m0, tt.m1, buf);
  float* out = ptr[P.out] + size_t(tt.m0) * P.OH * P.OW;
  // Band row 0 is conv row r0: shift the pool's top padding to match. A band of all pooled rows
  // (small maps) has the output's channel stride: one call for every channel.
  if (p0 == 0 && p1 == P.OH) {
    k.maxpool({buf, r1 - r0, L.OW, P.kh, P.kw, P.sh, P.sw, P.pt + r0, P.pl, P.OH, P.OW, 0, tt.m1 - tt.m0, out});
    return;
  }
  for (int c = 0; c < tt.m1 - tt.m0; ++c)
    k.maxpool({buf + size_t(c) * N, r1 - r0, L.OW, P.kh, P.kw, P.sh, P.sw, P.pt + r0 - p0 * P.sh, P.pl, p1 - p0, P.OW,
               0, 1, out + (size_t(c) * P.OH + p0) * P.OW});
}

void Engine::Impl::resolve(const float* in) {
  float* base = arena.data();
  for (size_t t = 0; t < g.tensors.size(); ++t) {
    // Parents are created after Concat inputs but views after their source; resolve recursively.
    size_t off = 0;
    int r = int(t);
    while (g.tensors[r].parent >= 0) {
      off += size_t(g.tensors[r].coff) * g.tensors[r].H * g.tensors[r].W;
      r = g.tensors[r].parent;
    }
    float* root = r == g.input ? const_cast<float*>(in) : base + g.tensors[r].offset;
    // a uint8 tensor's offsets count bytes; its pointer is a float* only in name
    ptr[t] =
        g.tensors[r].dtype == DType::U8 ? reinterpret_cast<float*>(reinterpret_cast<uint8_t*>(root) + off) : root + off;
  }
}

void Engine::Impl::task(void* self, int t, int thread) {
  Impl& e = *static_cast<Impl*>(self);
  e.run_task(*e.current, t, thread);
}

// Task t of a sibling pair's job: pair_order says which layer's task it is.
void Engine::Impl::pair_task(void* self, int t, int thread) {
  Impl& e = *static_cast<Impl*>(self);
  const int which = e.current->pair_order[size_t(t)];
  if (which >= 0) e.run_task(*e.current, which, thread);
  else e.run_task(*e.current2, -1 - which, thread);
}

void Engine::Impl::run_task(const Layer& L, int t, int thread) {
  const KernelTable& k = variant->kernels;
  const float* in = ptr[L.in];
  float* out = ptr[L.out];
  switch (L.kind) {
    case Kind::Conv:
      if (L.fused_pool >= 0) conv_pool_band(L, t, thread);
      else L.algo->run(L, conv_io(L, thread), t);
      break;
    case Kind::MaxPool: {
      const int c0 = t * L.pool_channels, c1 = std::min(L.C, c0 + L.pool_channels);
      if (L.dtype == DType::U8)
        L.s8->maxpool({reinterpret_cast<const uint8_t*>(in), L.H, L.W, L.kh, L.kw, L.sh, L.sw, L.pt, L.pl, L.OH, L.OW,
                       c0, c1, reinterpret_cast<uint8_t*>(out)});
      else k.maxpool({in, L.H, L.W, L.kh, L.kw, L.sh, L.sw, L.pt, L.pl, L.OH, L.OW, c0, c1, out});
      break;
    }
    case Kind::Quantize: {
      const int c0 = t * kQuantChannels, c1 = std::min(L.C, c0 + kQuantChannels);
      const size_t hw = size_t(L.H) * L.W;
      quantize_u8(in + c0 * hw, (c1 - c0) * hw, L.out_scale, L.out_zp, reinterpret_cast<uint8_t*>(out) + c0 * hw);
      break;
    }
    case Kind::Dequantize: {
      const int c0 = t * kQuantChannels, c1 = std::min(L.C, c0 + kQuantChannels);
      const uint8_t* q = reinterpret_cast<const uint8_t*>(in);
      for (size_t i = c0 * size_t(L.H) * L.W; i < c1 * size_t(L.H) * L.W; ++i)
        out[i] = L.in_scale * float(int(q[i]) - L.in_zp);
      break;
    }
    case Kind::Mean:
      if (L.dtype == DType::U8) mean_u8(reinterpret_cast<const uint8_t*>(in), L.H * L.W, L.C, L.in_scale, L.in_zp, out);
      else k.mean({in, L.H * L.W, 0, L.C, out});
      break;
    case Kind::Softmax: k.softmax(in, L.C * L.H * L.W, out); break;
    case Kind::Relu: {
      const size_t n = size_t(L.C) * L.H * L.W;
      for (size_t i = 0; i < n; ++i) out[i] = std::max(in[i], 0.f);
      break;
    }
  }
}

// Task t of a split convolution's input preparation: input channels [t * prep_channels, ...).
void Engine::Impl::prepare_task(void* self, int t, int) {
  Impl& e = *static_cast<Impl*>(self);
  const Layer& L = *e.current;
  const int c0 = t * e.prep_channels, c1 = std::min(L.C, c0 + e.prep_channels);
  L.algo->prepare_channels(L, e.variant->kernels, e.ptr[L.in], e.prepared.data(), c0, c1);
}

// A convolution's input preparation (prepare_input), if its algorithm has one.
void Engine::Impl::prepare(const Layer& L) {
  current = &L;
  // A layer whose pool is fused runs in bands, whose `rows` read the input themselves.
  if (L.kind == Kind::Conv && L.algo->prepare_input && L.fused_pool < 0) {
    // A split layer prepares its input over the pool too (channel ranges, one per thread) when
    // the input is large enough: otherwise the workers wait while the caller writes it.
    const int parts = std::min(pool->threads(), L.C);
    if (L.split && L.algo->prepare_channels && parts > 1 && int64_t(L.C) * L.H * L.W >= kMinPrepareFloats) {
      prep_channels = (L.C + parts - 1) / parts;
      pool->run((L.C + prep_channels - 1) / prep_channels, &Impl::prepare_task, this);
    } else {
      L.algo->prepare_input(L, variant->kernels, ptr[L.in], prepared.data());
    }
  }
}

// A split layer or pair goes to the pool only while some worker is awake. A frame that finds them all
// asleep (frames at a camera's pace) runs its layers on the calling thread, each with the cut a
// one-thread engine has (the same outputs), until a worker is up: the shared cuts, a pair's
// interleaved tasks above all, are made for two cores, not for one. Such frames then cost what a
// 2-thread engine that splits nothing does (`native/tools/paced_frames.sh`: "wake never" against
// "split never").
void Engine::Impl::run_layer(Layer& L) {
  if (L.run_by_producer) return;  // its producer pooled each band
  if (L.split && pool->awake() == 0) return run_alone(L);
  prepare(L);
  current = &L;
  if (L.split) pool->run(L.tasks(), &Impl::task, this);
  else
    for (int t = 0, n = L.tasks(); t < n; ++t) task(this, t, 0);
}

// A split layer with its one-thread cut on the calling thread, then its shared cut back.
void Engine::Impl::run_alone(Layer& L) {
  L.use(L.alone), L.split = false;
  run_layer(L);
  L.use(L.shared), L.split = true;
}

// A paired layer and its sibling in one pool job (at most one of them prepares its input).
void Engine::Impl::run_pair(Layer& A) {
  Layer& B = g.layers[size_t(A.sibling)];
  if (A.pair_order.size() != size_t(A.tasks() + B.tasks()))  // set_pair_order ran on other cuts: a bug
    throw std::logic_error(A.name + ": pair order of " + std::to_string(A.pair_order.size()) + " tasks, not " +
                           std::to_string(A.tasks() + B.tasks()));
  if (pool->awake() == 0) return run_alone(A), run_alone(B);
  prepare(A);
  prepare(B);
  current = &A, current2 = &B;
  pool->run(int(A.pair_order.size()), &Impl::pair_task, this);
}

void Engine::Impl::run_one(const float* in, float* out) {
  resolve(in);
  for (size_t i = 0; i < g.layers.size(); ++i) {
    Layer& L = g.layers[i];
    if (L.paired) run_pair(L), i = size_t(L.sibling);
    else run_layer(L);
  }
  std::memcpy(out, ptr[g.output], g.tensors[g.output].size() * sizeof(float));
}

Engine::Engine(const OnnxModel& model, int threads, const std::string& variant) : impl_(new Impl) {
  if (threads < 1 || threads > kMaxThreads)
    throw std::invalid_argument("threads must be 1.." + std::to_string(kMaxThreads) + ", got " +
                                std::to_string(threads));
  impl_->variant = &select_variant(variant);
  impl_->pool.reset(new ThreadPool(threads));
  const SplitMode mode = split_mode();
  impl_->wake = wake_mode();
  impl_->build(model);
  impl_->choose_splits(mode);
}

std::unique_ptr<Engine> Engine::from_file(const std::string& path, int threads, const std::string& variant) {
  return std::unique_ptr<Engine>(new Engine(read_onnx(path), threads, variant));
}

Engine::~Engine() = default;

void Engine::run(const float* in, int batch, float* out) {
  std::lock_guard<std::mutex> lock(impl_->run_mu);
  Impl::Hold hold(*impl_, batch);
  const size_t in_size = impl_->g.tensors[impl_->g.input].size(), out_size = output_size();
  for (int i = 0; i < batch; ++i) impl_->run_one(in + size_t(i) * in_size, out + size_t(i) * out_size);
}

void Engine::set_preprocessing(const PreprocessSpec& spec) {
  if (spec.height != input_height() || spec.width != input_width() || input_channels() != spec.channels)
    throw ModelError(impl_->source + ": preprocessing " + std::to_string(spec.channels) + "x" +
                     std::to_string(spec.height) + "x" + std::to_string(spec.width) +
                     " does not match the graph input " + std::to_string(input_channels()) + "x" +
                     std::to_string(input_height()) + "x" + std::to_string(input_width()));
  std::lock_guard<std::mutex> lock(impl_->run_mu);
  impl_->prep.reset(new Preprocessor(spec));
  impl_->prep_buf.assign(impl_->g.tensors[impl_->g.input].size(), 0.f);
}

bool Engine::has_preprocessing() const { return impl_->prep != nullptr; }

void Engine::preprocess(const uint8_t* px, int H, int W, float* out, PixelLayout layout) {
  if (!impl_->prep) throw std::invalid_argument(impl_->source + ": the model has no preprocessing metadata");
  std::lock_guard<std::mutex> lock(impl_->run_mu);
  impl_->prep->run(px, H, W, out, layout);
}

void Engine::run_image(const uint8_t* px, int H, int W, float* out, PixelLayout layout) {
  if (!impl_->prep) throw std::invalid_argument(impl_->source + ": the model has no preprocessing metadata");
  std::lock_guard<std::mutex> lock(impl_->run_mu);
  Impl::Hold hold(*impl_, 1);
  impl_->prep->run(px, H, W, impl_->prep_buf.data(), layout);
  impl_->run_one(impl_->prep_buf.data(), out);
}

int Engine::input_channels() const { return impl_->g.tensors[impl_->g.input].C; }
int Engine::input_height() const { return impl_->g.tensors[impl_->g.input].H; }
int Engine::input_width() const { return impl_->g.tensors[impl_->g.input].W; }
const std::vector<int64_t>& Engine::output_shape() const { return impl_->g.out_shape; }
size_t Engine::output_size() const { return impl_->g.tensors[impl_->g.output].size(); }
const char* Engine::variant() const { return impl_->variant->name; }
int Engine::threads() const { return impl_->pool->threads(); }
const std::map<std::string, std::string>& Engine::metadata() const { return impl_->metadata; }
int64_t Engine::macs() const { return impl_->macs; }
int Engine::split_layers() const { return impl_->split_layers; }
double Engine::calibration_seconds() const { return impl_->calibration_seconds; }

std::vector<Engine::LayerTime> Engine::profile(const float* in) {
  std::lock_guard<std::mutex> lock(impl_->run_mu);
  Impl& e = *impl_;
  Impl::Hold hold(e, 0);  // every layer timed: not a frame's time
  e.resolve(in);
  std::vector<LayerTime> out;
  static const char* kinds[] = {"Conv", "MaxPool", "Mean", "Relu", "Softmax", "Quantize", "Dequantize"};
  const Layer* second = nullptr;  // the sibling of the pair just run: timed with it
  for (Layer& L : e.g.layers) {
    double seconds = 0;
    if (&L != second) {
      const auto t0 = std::chrono::steady_clock::now();
      if (L.paired) e.run_pair(L);
      else e.run_layer(L);
      seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
    int64_t macs = L.kind == Kind::Conv ? int64_t(L.M) * L.K * L.OH * L.OW : 0;
    std::string kind = kinds[int(L.kind)];
    if (L.kind == Kind::Conv) kind += std::string("/") + L.algo->name;  // which table entry runs it
    else if (L.dtype == DType::U8 && L.kind < Kind::Quantize) kind += " int8";
    if (L.paired) kind += " +next";              // its seconds are the pair's
    if (&L == second) kind += " (in previous)";  // and this one's 0
    out.push_back({L.name, kind, macs, seconds, L.split});
    second = L.paired ? &e.g.layers[size_t(L.sibling)] : nullptr;
  }
  return out;
}

}  // namespace bluefire
