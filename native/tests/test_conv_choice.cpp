// The README's algorithm table as a test: which entry of src/engine/conv_algos.cpp runs a
// convolution of a given shape on each variant (Engine::profile names it, kind "Conv/<entry>").
#include <cstring>
#include <random>

#include "bluefire/engine.h"
#include "bluefire/registry.h"
#include "proto_writer.h"
#include "test.h"

using namespace bluefire;
using namespace bftest;

namespace {

struct Shape {
  int k, stride, pad, map;
  const char* avx512;  // expected entry per variant
  const char* avx2;
  const char* neon;
  const char* ref;
};

std::string algorithm(const Shape& c, const char* variant) {
  const int C = 5, M = 7, O = (c.map + 2 * c.pad - c.k) / c.stride + 1;
  std::vector<float> w(size_t(M) * C * c.k * c.k, 0.5f);
  std::vector<Msg> nodes = {node("Conv", {"image", "w"}, {"y"},
                                 {attr_ints("pads", {c.pad, c.pad, c.pad, c.pad}),
                                  attr_ints("strides", {c.stride, c.stride}), attr_ints("kernel_shape", {c.k, c.k})})};
  std::string bytes = model(nodes, {tensor("w", {M, C, c.k, c.k}, w)}, value_info("image", {-1, C, c.map, c.map}),
                            value_info("y", {-1, M, O, O}));
  Engine e(parse_onnx(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "choice.onnx"), 1, variant);
  std::vector<float> x(size_t(C) * c.map * c.map, 1.f);
  return e.profile(x.data()).at(0).kind;
}

}  // namespace

TEST(conv_algorithm_choice_per_variant) {
  const Shape cases[] = {
      // k s p map   avx512                avx2            neon                  ref
      {1, 1, 0, 15, "pointwise", "pointwise", "pointwise", "pointwise"},
      {3, 1, 1, 1, "pointwise", "pointwise", "pointwise", "pointwise"},  // 1x1 map: one tap
      {3, 1, 1, 3, "small_direct", "small_direct", "small_direct", "im2col"},
      {3, 1, 1, 5, "small_direct", "small_direct", "small_direct", "im2col"},
      {3, 1, 1, 6, "winograd4_channels", "small_direct", "winograd2", "im2col"},
      {3, 1, 1, 7, "winograd4_channels", "winograd2", "winograd4_channels", "im2col"},
      {3, 1, 1, 12, "winograd4_channels", "winograd2", "winograd4_channels", "im2col"},
      {3, 1, 1, 15, "winograd4", "winograd4", "winograd4", "im2col"},
      {3, 1, 1, 27, "winograd4", "winograd4", "winograd4", "padded"},
      {3, 2, 0, 31, "strided", "strided", "strided", "strided"},
      {5, 1, 2, 9, "im2col", "im2col", "im2col", "im2col"},
      {5, 1, 2, 24, "padded", "padded", "padded", "padded"},
  };
  int checked = 0;
  for (const Variant* v : available_variants())
    for (const Shape& c : cases) {
      const char* want = !std::strcmp(v->name, "avx512") ? c.avx512
                         : !std::strcmp(v->name, "avx2") ? c.avx2
                         : !std::strcmp(v->name, "neon") ? c.neon
                                                         : c.ref;
      const std::string got = algorithm(c, v->name);
      ++checked;
      CHECK(got == std::string("Conv/") + want,
            "variant %s, %dx%d conv stride %d pad %d on a %dx%d map: runs %s, expected Conv/%s", v->name, c.k, c.k,
            c.stride, c.pad, c.map, c.map, got.c_str(), want);
    }
  CHECK(checked > 0, "no variant checked");
}
