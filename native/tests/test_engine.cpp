// Whole-graph checks of the engine against a naive direct convolution, for every variant:
// single convolutions with tail-breaking widths and map sizes, a Fire module with its concat,
// ceil-mode pooling, thread-count invariance, and refusals.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <random>
#include <stdexcept>
#include <thread>

#include "bluefire/engine.h"
#include "bluefire/registry.h"
#include "proto_writer.h"
#include "shipped_models.h"
#include "test.h"

using namespace bluefire;
using namespace bftest;

namespace {

std::vector<float> rnd(size_t n, std::mt19937& rng, float scale = 1.f) {
  std::uniform_real_distribution<float> d(-scale, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

struct ConvSpec {
  int cin, cout, k, stride, pad;
};

// Direct convolution in double: the independent oracle for the engine.
std::vector<float> naive_conv(const std::vector<float>& x, int C, int H, int W, const ConvSpec& s,
                              const std::vector<float>& w, const std::vector<float>& b, bool relu, int& OH, int& OW) {
  OH = (H + 2 * s.pad - s.k) / s.stride + 1, OW = (W + 2 * s.pad - s.k) / s.stride + 1;
  std::vector<float> y(size_t(s.cout) * OH * OW);
  for (int o = 0; o < s.cout; ++o)
    for (int oy = 0; oy < OH; ++oy)
      for (int ox = 0; ox < OW; ++ox) {
        double acc = b.empty() ? 0.0 : b[o];
        for (int c = 0; c < C; ++c)
          for (int ky = 0; ky < s.k; ++ky)
            for (int kx = 0; kx < s.k; ++kx) {
              int iy = oy * s.stride - s.pad + ky, ix = ox * s.stride - s.pad + kx;
              if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
              acc += double(w[((size_t(o) * C + c) * s.k + ky) * s.k + kx]) * x[(size_t(c) * H + iy) * W + ix];
            }
        y[(size_t(o) * OH + oy) * OW + ox] = float(relu ? std::max(acc, 0.0) : acc);
      }
  return y;
}

OnnxModel parse(const std::string& s) {
  return parse_onnx(reinterpret_cast<const uint8_t*>(s.data()), s.size(), "test.onnx");
}

bool close(const std::vector<float>& got, const std::vector<float>& want, const char* what, const char* variant) {
  for (size_t i = 0; i < want.size(); ++i)
    if (!(std::fabs(got[i] - want[i]) <= 1e-4f * (1.f + std::fabs(want[i])))) {
      CHECK(false, "%s, variant %s, index %zu: got %g, expected %g", what, variant, i, got[i], want[i]);
      return false;
    }
  return true;
}

}  // namespace

TEST(engine_single_conv_all_variants) {
  std::mt19937 rng(42);
  const int widths[] = {1, 3, 4, 5, 7, 8, 13, 16, 24};
  // 2..12: the small-map kernels (direct: 9, 11 have several row blocks and a tail block; F(4x4) over
  // channels on AVX-512 6..12, NEON 7..12); 13, 15, 23, 55: Winograd F(4x4)
  // on AVX-512 (partial last tiles), F(2x2) on the others
  const int maps[] = {1, 2, 3, 4, 5, 7, 9, 11, 13, 15, 23, 55};
  // 1x1; 3x3 pad 1 (im2col below 20 columns, padded direct from 20); strided stems; 3x3 s2 pad 1
  const ConvSpec kinds[] = {{0, 0, 1, 1, 0}, {0, 0, 3, 1, 1}, {0, 0, 3, 2, 0}, {0, 0, 7, 2, 0}, {0, 0, 3, 2, 1}};
  int cases = 0;
  for (int cin : {1, 3, 13})
    for (int cout : widths)
      for (int hw : maps)
        for (ConvSpec s : kinds) {
          if (hw + 2 * s.pad < s.k) continue;
          if (hw > 15 && (cin == 1 || (cout != 5 && cout != 13))) continue;  // big maps: fewer widths
          s.cin = cin, s.cout = cout;
          const bool bias = (cases % 2) == 0, relu = (cases % 3) != 0;
          ++cases;
          auto w = rnd(size_t(cout) * cin * s.k * s.k, rng), b = bias ? rnd(cout, rng) : std::vector<float>{};
          auto x = rnd(size_t(cin) * hw * hw, rng);
          int OH, OW;
          auto want = naive_conv(x, cin, hw, hw, s, w, b, relu, OH, OW);
          std::vector<Msg> inits = {tensor("w", {cout, cin, s.k, s.k}, w)};
          std::vector<std::string> ins = {"image", "w"};
          if (bias) inits.push_back(tensor("b", {cout}, b)), ins.push_back("b");
          std::vector<Msg> nodes = {
              node("Conv", ins, {relu ? "c" : "y"},
                   {attr_ints("pads", {s.pad, s.pad, s.pad, s.pad}), attr_ints("strides", {s.stride, s.stride}),
                    attr_ints("kernel_shape", {s.k, s.k})})};
          if (relu) nodes.push_back(node("Relu", {"c"}, {"y"}));
          OnnxModel m =
              parse(model(nodes, inits, value_info("image", {-1, cin, hw, hw}), value_info("y", {-1, cout, OH, OW})));
          for (const Variant* v : available_variants()) {
            Engine e(m, 1, v->name);
            std::vector<float> got(e.output_size());
            e.run(x.data(), 1, got.data());
            char what[160];
            std::snprintf(what, sizeof what, "conv cin=%d cout=%d map=%d k=%d s=%d p=%d bias=%d relu=%d", cin, cout, hw,
                          s.k, s.stride, s.pad, bias, relu);
            close(got, want, what, v->name);
          }
        }
}

namespace {
// squeeze (1x1) -> expand1x1 | expand3x3 -> concat -> maxpool 3x3 s2 ceil
std::string fire_model(int cin, int sq, int e1, int e3, int hw, std::mt19937& rng,
                       std::vector<std::vector<float>>& ws) {
  ws = {rnd(size_t(sq) * cin, rng), rnd(sq, rng), rnd(size_t(e1) * sq, rng), rnd(e1, rng),
        rnd(size_t(e3) * sq * 9, rng)};
  auto conv = [](const std::string& in, const std::string& w, const std::string& b, const std::string& out, int k,
                 int p) {
    std::vector<std::string> ins = {in, w};
    if (!b.empty()) ins.push_back(b);
    return node("Conv", ins, {out}, {attr_ints("pads", {p, p, p, p}), attr_ints("kernel_shape", {k, k})});
  };
  std::vector<Msg> nodes = {
      conv("image", "sw", "sb", "s", 1, 0),
      node("Relu", {"s"}, {"sr"}),
      conv("sr", "e1w", "e1b", "a", 1, 0),
      node("Relu", {"a"}, {"ar"}),
      conv("sr", "e3w", "", "b", 3, 1),
      node("Relu", {"b"}, {"br"}),
      node("Concat", {"ar", "br"}, {"cat"}, {attr_int("axis", 1)}),
      node("MaxPool", {"cat"}, {"y"},
           {attr_ints("kernel_shape", {3, 3}), attr_ints("strides", {2, 2}), attr_int("ceil_mode", 1)})};
  std::vector<Msg> inits = {tensor("sw", {sq, cin, 1, 1}, ws[0]), tensor("sb", {sq}, ws[1]),
                            tensor("e1w", {e1, sq, 1, 1}, ws[2]), tensor("e1b", {e1}, ws[3]),
                            tensor("e3w", {e3, sq, 3, 3}, ws[4])};
  return model(nodes, inits, value_info("image", {-1, cin, hw, hw}), value_info("y", {-1, e1 + e3, -1, -1}));
}
}  // namespace

// Also with every layer split (BLUEFIRE_SPLIT=always) on maps whose Winograd F(4x4) layers make
// one tile task (13, 15: the input transformed once, over the pool), two (27) and many (55), with
// a squeeze wide enough that the expand layers prepare their input over the pool; from 27x27 on,
// `always` runs the two expands as one pair job (Layer::sibling), which must change nothing either.
TEST(engine_fire_concat_pool_and_threads) {
  std::mt19937 rng(5);
  struct Env {
    ~Env() { unsetenv("BLUEFIRE_SPLIT"); }
  } restore;
  for (int hw : {3, 7, 13, 15, 27, 55}) {
    const int cin = 13, sq = hw >= 13 ? 26 : 5, e1 = 7, e3 = 24;
    std::vector<std::vector<float>> ws;
    OnnxModel m = parse(fire_model(cin, sq, e1, e3, hw, rng, ws));
    auto x = rnd(size_t(cin) * hw * hw, rng);
    int h1, w1;
    auto s = naive_conv(x, cin, hw, hw, {cin, sq, 1, 1, 0}, ws[0], ws[1], true, h1, w1);
    auto a = naive_conv(s, sq, hw, hw, {sq, e1, 1, 1, 0}, ws[2], ws[3], true, h1, w1);
    auto b = naive_conv(s, sq, hw, hw, {sq, e3, 3, 1, 1}, ws[4], {}, true, h1, w1);
    a.insert(a.end(), b.begin(), b.end());
    int OH = (hw - 3 + 1) / 2 + 1;
    if ((OH - 1) * 2 >= hw) --OH;
    std::vector<float> want(size_t(e1 + e3) * OH * OH);
    for (int c = 0; c < e1 + e3; ++c)
      for (int oy = 0; oy < OH; ++oy)
        for (int ox = 0; ox < OH; ++ox) {
          float mx = -1e30f;
          for (int y = oy * 2; y < std::min(oy * 2 + 3, hw); ++y)
            for (int xx = ox * 2; xx < std::min(ox * 2 + 3, hw); ++xx)
              mx = std::max(mx, a[(size_t(c) * hw + y) * hw + xx]);
          want[(size_t(c) * OH + oy) * OH + ox] = mx;
        }
    for (const Variant* v : available_variants()) {
      std::vector<float> first;
      for (int threads = 1; threads <= 4; ++threads)
        for (const char* mode : {"auto", "always"}) {
          setenv("BLUEFIRE_SPLIT", mode, 1);
          Engine e(m, threads, v->name);
          std::vector<float> got(e.output_size());
          CHECK(got.size() == want.size(), "output size %zu vs %zu", got.size(), want.size());
          e.run(x.data(), 1, got.data());
          if (threads == 1 && first.empty()) {
            first = got;
            close(got, want, "fire", v->name);
          } else {
            CHECK(got == first, "variant %s map %d, %s: %d threads differ from 1 thread", v->name, hw, mode, threads);
          }
          if (threads >= 2 && hw >= 27 && std::string(mode) == "always") {
            bool paired = false;
            for (const auto& t : e.profile(x.data())) paired |= t.kind.find("+next") != std::string::npos;
            CHECK(paired, "variant %s map %d, %d threads, always: the expands do not run as a pair", v->name, hw,
                  threads);
          }
        }
      unsetenv("BLUEFIRE_SPLIT");
    }
  }
}

// Frames that find the workers asleep (a camera's pace) wake them or not (WakeChoice: here both, in
// turn) and run their split layers and pairs on the calling thread with the one-thread cuts while no
// worker is up (run_alone), then over the pool: the output is the 1-thread engine's, frame after
// frame, whichever path each layer took, and the layers keep their shared cuts for the frames after
// (profile() still pairs the expands).
TEST(engine_frames_after_idle_gaps_match_one_thread) {
  std::mt19937 rng(17);
  struct Env {
    ~Env() { unsetenv("BLUEFIRE_SPLIT"); }
  } restore;
  const int hw = 27, cin = 13;
  std::vector<std::vector<float>> ws;
  OnnxModel m = parse(fire_model(cin, 26, 7, 24, hw, rng, ws));
  auto x = rnd(size_t(cin) * hw * hw, rng);
  for (const Variant* v : available_variants()) {
    unsetenv("BLUEFIRE_SPLIT");
    Engine one(m, 1, v->name);
    std::vector<float> want(one.output_size()), got(one.output_size());
    one.run(x.data(), 1, want.data());
    setenv("BLUEFIRE_SPLIT", "always", 1);
    for (const char* wake : {"auto", "always", "never"})
      for (int threads : {2, 4}) {
        setenv("BLUEFIRE_WAKE", wake, 1);
        Engine e(m, threads, v->name);
        for (int frame = 0; frame < 8; ++frame) {
          // Odd frames come right after the last (workers spinning), even ones after they slept.
          if (frame % 2 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(2));
          std::fill(got.begin(), got.end(), -1.f);
          e.run(x.data(), 1, got.data());
          CHECK(got == want, "variant %s, %d threads, wake %s, frame %d: differs from 1 thread", v->name, threads, wake,
                frame);
        }
        bool paired = false;
        for (const auto& t : e.profile(x.data())) paired |= t.kind.find("+next") != std::string::npos;
        CHECK(paired, "variant %s, %d threads: the expands no longer run as a pair", v->name, threads);
      }
    unsetenv("BLUEFIRE_WAKE");
  }
  bool threw = false;
  setenv("BLUEFIRE_WAKE", "sometimes", 1);
  try {
    Engine e(m, 2, "auto");
  } catch (const std::invalid_argument& e) {
    threw = std::string(e.what()).find("BLUEFIRE_WAKE") != std::string::npos;
  }
  unsetenv("BLUEFIRE_WAKE");
  CHECK(threw, "an unknown BLUEFIRE_WAKE is refused, naming the variable");
}

// A pair (Layer::sibling) whose first output nothing reads: its storage is free after that layer, so
// one after the other the arena may give it to the second layer's output; run together in one job
// they would write the same bytes. The pair must keep them apart (plan_storage) and give the 1-thread
// output at every thread count.
TEST(engine_pair_with_a_dead_output_keeps_its_storage) {
  std::mt19937 rng(11);
  struct Env {
    ~Env() { unsetenv("BLUEFIRE_SPLIT"); }
  } restore;
  const int cin = 5, sq = 16, e1 = 24, e3 = 7, hw = 27;  // the dead output is larger: the output fits its hole
  auto conv = [](const std::string& in, const std::string& w, const std::string& b, const std::string& out, int k,
                 int p) {
    return node("Conv", {in, w, b}, {out}, {attr_ints("pads", {p, p, p, p}), attr_ints("kernel_shape", {k, k})});
  };
  std::vector<Msg> nodes = {conv("image", "sw", "sb", "s", 1, 0), node("Relu", {"s"}, {"sr"}),
                            conv("sr", "aw", "ab", "a", 1, 0), conv("sr", "bw", "bb", "b", 3, 1),
                            node("Relu", {"b"}, {"y"})};
  std::vector<Msg> inits = {
      tensor("sw", {sq, cin, 1, 1}, rnd(size_t(sq) * cin, rng)),   tensor("sb", {sq}, rnd(sq, rng)),
      tensor("aw", {e1, sq, 1, 1}, rnd(size_t(e1) * sq, rng)),     tensor("ab", {e1}, rnd(e1, rng)),
      tensor("bw", {e3, sq, 3, 3}, rnd(size_t(e3) * sq * 9, rng)), tensor("bb", {e3}, rnd(e3, rng))};
  OnnxModel m = parse(model(nodes, inits, value_info("image", {-1, cin, hw, hw}), value_info("y", {-1, e3, hw, hw})));
  auto x = rnd(size_t(cin) * hw * hw, rng);
  for (const Variant* v : available_variants()) {
    std::vector<float> first;
    for (int threads = 1; threads <= 4; ++threads) {
      setenv("BLUEFIRE_SPLIT", "always", 1);
      Engine e(m, threads, v->name);
      std::vector<float> got(e.output_size());
      e.run(x.data(), 1, got.data());
      if (threads == 1) {
        first = got;
        continue;
      }
      bool paired = false;
      for (const auto& t : e.profile(x.data())) paired |= t.kind.find("+next") != std::string::npos;
      CHECK(paired, "variant %s, %d threads: the two convolutions do not run as a pair", v->name, threads);
      CHECK(got == first, "variant %s: %d threads differ from 1 thread", v->name, threads);
    }
  }
}

TEST(engine_refusals) {
  auto refused = [](const std::string& s, const char* needle) {
    try {
      Engine e(parse(s), 1, "auto");
    } catch (const ModelError& err) {
      return std::string(err.what()).find(needle) != std::string::npos &&
             std::string(err.what()).find("test.onnx") == 0;
    }
    return false;
  };
  auto in = value_info("image", {-1, 3, 8, 8});
  CHECK(refused(model({node("Softplus", {"image"}, {"y"})}, {}, in, value_info("y", {-1, 3, 8, 8})), "Softplus"),
        "an unsupported operator names itself");
  CHECK(refused(model({node("Conv", {"image", "w"}, {"y"}, {attr_int("group", 3)})},
                      {tensor("w", {3, 1, 1, 1}, {1, 1, 1})}, in, value_info("y", {-1, 3, 8, 8})),
                "grouped"),
        "grouped convolution is refused");
  CHECK(refused(model({node("Conv", {"image", "nope"}, {"y"})}, {}, in, value_info("y", {-1, 3, 8, 8})), "initializer"),
        "a missing weight is refused");
  CHECK(refused(model({node("Conv", {"image", "w"}, {"y"})}, {tensor("w", {2, 4, 1, 1}, std::vector<float>(8))}, in,
                      value_info("y", {-1, 2, 8, 8})),
                "input channels"),
        "a channel mismatch is refused");
  bool threw = false;
  try {
    Engine e(parse(model({node("Relu", {"image"}, {"y"})}, {}, in, value_info("y", {-1, 3, 8, 8}))), 5, "auto");
  } catch (const std::invalid_argument&) {
    threw = true;
  }
  CHECK(threw, "5 threads are refused");
}

TEST(engine_stem_conv_fused_with_pool) {
  struct Env {
    ~Env() { unsetenv("BLUEFIRE_SPLIT"); }
  } restore;
  // A strided stem whose only reader is a ceil-mode max-pool runs in row bands: equal to conv then
  // pool, for every variant and 1-4 threads.
  std::mt19937 rng(11);
  for (int hw : {160, 33}) {  // several bands; one band holding every pooled row (one pool call)
    const int cin = 3, cout = hw == 160 ? 64 : 37;
    const ConvSpec s{cin, cout, 3, 2, 0};
    auto w = rnd(size_t(cout) * cin * 9, rng), b = rnd(cout, rng), x = rnd(size_t(cin) * hw * hw, rng);
    int OH, OW;
    auto conv = naive_conv(x, cin, hw, hw, s, w, b, true, OH, OW);
    int PO = (OH - 3 + 1) / 2 + 1;
    if ((PO - 1) * 2 >= OH) --PO;
    std::vector<float> want(size_t(cout) * PO * PO);
    for (int c = 0; c < cout; ++c)
      for (int oy = 0; oy < PO; ++oy)
        for (int ox = 0; ox < PO; ++ox) {
          float mx = -1e30f;
          for (int y = oy * 2; y < std::min(oy * 2 + 3, OH); ++y)
            for (int xx = ox * 2; xx < std::min(ox * 2 + 3, OW); ++xx)
              mx = std::max(mx, conv[(size_t(c) * OH + y) * OW + xx]);
          want[(size_t(c) * PO + oy) * PO + ox] = mx;
        }
    OnnxModel m = parse(model(
        {node("Conv", {"image", "w", "b"}, {"c"}, {attr_ints("strides", {2, 2}), attr_ints("kernel_shape", {3, 3})}),
         node("Relu", {"c"}, {"r"}),
         node("MaxPool", {"r"}, {"y"},
              {attr_ints("kernel_shape", {3, 3}), attr_ints("strides", {2, 2}), attr_int("ceil_mode", 1)})},
        {tensor("w", {cout, cin, 3, 3}, w), tensor("b", {cout}, b)}, value_info("image", {-1, cin, hw, hw}),
        value_info("y", {-1, cout, PO, PO})));
    for (const Variant* v : available_variants()) {
      std::vector<float> first;
      for (int threads = 1; threads <= 4; ++threads)
        for (const char* mode : {"auto", "always"}) {  // always: the shifted planes over the pool too
          setenv("BLUEFIRE_SPLIT", mode, 1);
          Engine e(m, threads, v->name);
          std::vector<float> got(e.output_size());
          e.run(x.data(), 1, got.data());
          if (threads == 1 && first.empty()) {
            first = got;
            close(got, want, hw == 160 ? "stem+pool, 160" : "stem+pool, 33", v->name);
          } else {
            CHECK(got == first, "variant %s map %d, %s: %d threads differ from 1 thread", v->name, hw, mode, threads);
          }
        }
      unsetenv("BLUEFIRE_SPLIT");
    }
  }
}

// The models we ship, whole, on every variant against the reference variant (which never uses
// Winograd or the small-map kernel): on aarch64 under qemu this is the NEON engine running the
// real pruned network, odd widths and all. Also 1 vs 4 threads, bit for bit.
TEST(engine_shipped_models_match_reference) {
  const auto models = shipped_models();
  CHECK(!models.empty(), "no .onnx model in %s", BLUEFIRE_MODELS_DIR);
  std::mt19937 rng(11);
  for (const auto& path : models) {
    auto ref = Engine::from_file(path.string(), 1, "ref");
    auto x = rnd(size_t(ref->input_channels()) * ref->input_height() * ref->input_width(), rng, 2.f);
    std::vector<float> want(ref->output_size());
    ref->run(x.data(), 1, want.data());
    for (const Variant* v : available_variants()) {
      auto one = Engine::from_file(path.string(), 1, v->name);
      auto four = Engine::from_file(path.string(), 4, v->name);
      std::vector<float> got(one->output_size()), got4(four->output_size());
      one->run(x.data(), 1, got.data());
      four->run(x.data(), 1, got4.data());
      close(got, want, path.filename().c_str(), v->name);
      CHECK(got == got4, "%s, variant %s: 4 threads differ from 1", path.filename().c_str(), v->name);
    }
  }
}

// The split choice (Engine::split_layers): with BLUEFIRE_SPLIT=always every layer with several
// tasks runs over the pool, with never none does, with auto (measured at build) any subset may;
// every choice gives the 1-thread engine's output bit for bit, and profile() reports the same
// layers as split.
TEST(engine_split_choice_is_bit_identical) {
  const auto models = shipped_models();
  std::mt19937 rng(13);
  struct Env {
    ~Env() { unsetenv("BLUEFIRE_SPLIT"); }
  } restore;
  for (const auto& path : models) {
    for (const Variant* v : available_variants()) {
      unsetenv("BLUEFIRE_SPLIT");
      auto one = Engine::from_file(path.string(), 1, v->name);
      CHECK(one->split_layers() == 0, "%s: a 1-thread engine splits %d layers", path.filename().c_str(),
            one->split_layers());
      auto x = rnd(size_t(one->input_channels()) * one->input_height() * one->input_width(), rng, 2.f);
      std::vector<float> want(one->output_size());
      one->run(x.data(), 1, want.data());
      for (const char* mode : {"always", "never", "auto"}) {
        setenv("BLUEFIRE_SPLIT", mode, 1);
        for (int threads : {2, 4}) {
          auto e = Engine::from_file(path.string(), threads, v->name);
          const std::string m = mode;
          if (m == "always")
            CHECK(e->split_layers() > 0, "%s: always, %d threads: no layer split", path.filename().c_str(), threads);
          if (m == "never")
            CHECK(e->split_layers() == 0, "%s: never: %d layers split", path.filename().c_str(), e->split_layers());
          if (m != "auto") CHECK(e->calibration_seconds() == 0, "%s: %s calibrated", path.filename().c_str(), mode);
          std::vector<float> got(e->output_size());
          for (int rep = 0; rep < 2; ++rep) {
            e->run(x.data(), 1, got.data());
            CHECK(got == want, "%s, variant %s, %s, %d threads: differs from 1 thread", path.filename().c_str(),
                  v->name, mode, threads);
          }
          int split = 0;
          for (const auto& t : e->profile(x.data())) split += t.split;
          CHECK(split == e->split_layers(), "%s: profile shows %d split layers, split_layers() %d",
                path.filename().c_str(), split, e->split_layers());
        }
      }
      unsetenv("BLUEFIRE_SPLIT");
    }
  }
  bool threw = false;
  setenv("BLUEFIRE_SPLIT", "sometimes", 1);
  try {
    Engine::from_file(models.at(0).string(), 2, "auto");
  } catch (const std::invalid_argument& e) {
    threw = std::string(e.what()).find("BLUEFIRE_SPLIT") != std::string::npos;
  }
  CHECK(threw, "an unknown BLUEFIRE_SPLIT is refused, naming the variable");
}
