// A minimal, bounds-checked reader of the ONNX protobuf wire format: just what the engine needs
// (initializers, nodes and their attributes, graph inputs/outputs, metadata_props). No protobuf library.
#pragma once
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace bluefire {

// Every malformed-model error; the message names the file and what is wrong.
struct ModelError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct OnnxTensor {
  std::string name;
  std::vector<int64_t> dims;
  int32_t data_type = 0;      // ONNX TensorProto.DataType: 1 float, 7 int64
  std::vector<float> floats;  // data_type 1
  std::vector<int64_t> ints;  // data_type 7 (or 6, widened)
  int64_t numel() const;
};

struct OnnxAttribute {
  std::string name;
  int32_t type = 0;  // AttributeProto.AttributeType: 1 FLOAT 2 INT 3 STRING 4 TENSOR 6 FLOATS 7 INTS
  float f = 0;
  int64_t i = 0;
  std::string s;
  std::vector<int64_t> ints;
  std::vector<float> floats;
  bool has_tensor = false;
  OnnxTensor t;
};

struct OnnxNode {
  std::string op_type, name, domain;
  std::vector<std::string> inputs, outputs;
  std::vector<OnnxAttribute> attributes;
  const OnnxAttribute* attr(const std::string& n) const;
  int64_t attr_int(const std::string& n, int64_t dflt) const;
  std::vector<int64_t> attr_ints(const std::string& n) const;  // empty when absent
  std::string attr_string(const std::string& n, const std::string& dflt) const;
};

struct OnnxValueInfo {
  std::string name;
  int32_t elem_type = 0;
  std::vector<int64_t> dims;  // -1 for a symbolic (dim_param) or unknown dimension
};

struct OnnxModel {
  std::string source;  // the file it came from, for error messages
  std::vector<OnnxNode> nodes;
  std::map<std::string, OnnxTensor> initializers;
  std::vector<OnnxValueInfo> inputs, outputs;
  std::map<std::string, std::string> metadata;
};

// The largest model file read_onnx accepts (rtmaps_components.model_meta.MAX_MODEL_BYTES is the same).
constexpr uint64_t kMaxModelBytes = uint64_t(1) << 30;

// Parses a serialized ModelProto. `source` names it in errors. Throws ModelError.
OnnxModel parse_onnx(const uint8_t* data, size_t size, const std::string& source);
OnnxModel read_onnx(const std::string& path);

}  // namespace bluefire
