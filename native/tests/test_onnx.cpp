// The ONNX reader: round trip of a hand-written model; truncated and malformed files are refused
// with a ModelError, never a crash (this also runs under ASan/UBSan).
#include "bluefire/onnx.h"
#include "proto_writer.h"
#include "test.h"

using namespace bluefire;
using namespace bftest;

namespace {
std::string sample() {
  return model({node("Conv", {"image", "w"}, {"y"}, {attr_ints("pads", {1, 1, 1, 1}), attr_int("group", 1)})},
               {tensor("w", {2, 3, 3, 3}, std::vector<float>(54, 0.5f))}, value_info("image", {-1, 3, 8, 8}),
               value_info("y", {-1, 2, 8, 8}), {{"bluefire.arch", "squeezenet1_1"}});
}
OnnxModel parse(const std::string& s) {
  return parse_onnx(reinterpret_cast<const uint8_t*>(s.data()), s.size(), "sample.onnx");
}
}  // namespace

TEST(onnx_round_trip) {
  OnnxModel m = parse(sample());
  CHECK(m.nodes.size() == 1 && m.nodes[0].op_type == "Conv", "one Conv node");
  CHECK(m.nodes[0].attr_ints("pads") == std::vector<int64_t>({1, 1, 1, 1}), "pads attribute");
  CHECK(m.nodes[0].attr_int("group", 0) == 1, "group attribute");
  CHECK(m.initializers.count("w") && m.initializers["w"].floats.size() == 54 && m.initializers["w"].floats[53] == 0.5f,
        "initializer w");
  CHECK(m.inputs.size() == 1 && m.inputs[0].dims == std::vector<int64_t>({-1, 3, 8, 8}), "input shape");
  CHECK(m.metadata["bluefire.arch"] == "squeezenet1_1", "metadata");
}

TEST(onnx_truncated_files_refused) {
  const std::string s = sample();
  int refused = 0;
  for (size_t n = 0; n < s.size(); ++n) {
    try {
      parse(s.substr(0, n));
    } catch (const ModelError& e) {
      ++refused;
      CHECK(std::string(e.what()).find("sample.onnx") == 0, "error must name the file: %s", e.what());
    }
  }
  // A prefix that ends exactly between two top-level fields is itself a valid message; every
  // other cut must be refused.
  CHECK(refused >= int(s.size()) - 4, "only %d of %zu truncations refused", refused, s.size());
  bool threw = false;
  try {
    parse(s.substr(0, s.size() - 1));
  } catch (const ModelError&) {
    threw = true;
  }
  CHECK(threw, "losing the last byte must be refused");
}

TEST(onnx_malformed_refused) {
  const std::string bad[] = {
      std::string("\x3a\xff\xff\xff\xff\x0f", 6),                           // graph length far past the end
      std::string("\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 12),  // varint over 10 bytes
      std::string("\x0b\x00", 2),                                           // wire type 3 (groups)
      std::string("\x00\x00", 2),                                           // field number 0
      std::string("\x08\x01", 2),                                           // no graph at all
  };
  for (const auto& b : bad) {
    bool threw = false;
    try {
      parse(b);
    } catch (const ModelError&) {
      threw = true;
    }
    CHECK(threw, "malformed input of %zu bytes accepted", b.size());
  }
  // raw_data whose size disagrees with dims
  Msg t;
  t.i(1, 4).i(2, 1).s(8, "w").s(9, std::string(12, '\0'));
  bool threw = false;
  try {
    parse(model({}, {t}, value_info("x", {1, 1, 1, 1}), value_info("x", {1, 1, 1, 1})));
  } catch (const ModelError& e) {
    threw = std::string(e.what()).find("raw_data") != std::string::npos;
  }
  CHECK(threw, "a short raw_data must be refused naming raw_data");
}
