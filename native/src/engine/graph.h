// ONNX graph -> layer list (internal): every supported op parsed and checked, Conv+Relu fused,
// Concat inputs placed at their channel offset inside the Concat's tensor (no copy), views
// (Reshape, Flatten, Identity, Dropout) sharing their source's storage. Nothing is chosen or
// packed here: convolutions keep their weights as read.
#pragma once
#include <vector>

#include "bluefire/onnx.h"
#include "engine/layer.h"

namespace bluefire {

struct Graph {
  std::vector<Tensor> tensors;
  std::vector<Layer> layers;
  int input = -1, output = -1;  // tensor ids
  std::vector<int64_t> out_shape;
};

// Throws ModelError naming the file, the node and what is not supported.
Graph parse_graph(const OnnxModel& m);

}  // namespace bluefire
