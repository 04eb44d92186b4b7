// The scalar reference of the preprocessing: the oracle Preprocessor (preprocess.cpp) is tested
// against, bit for bit (tests/test_preprocess.cpp), and its baseline in native/tools/preprocess_bench.sh.
// Generic loops, branching per pixel on the layout, the colour and the path. Internal to the core.
#pragma once
#include <cstdint>
#include <vector>

#include "bluefire/preprocess.h"

namespace bluefire {

class PreprocessorRef {
 public:
  explicit PreprocessorRef(const PreprocessSpec& spec);  // throws std::invalid_argument on a bad spec
  const PreprocessSpec& spec() const { return spec_; }
  // Preprocessor::run's contract (preprocess.h). Allocates nothing.
  void run(const uint8_t* px, int H, int W, float* out, PixelLayout layout = PixelLayout::RGB);

 private:
  void emit_row(int y, const int* vals);
  PreprocessSpec spec_;
  std::vector<int> xofs_, row0_, row1_, vals_;
  std::vector<int16_t> alpha_;
  std::vector<float> lut_;  // channels x 256: the normalised float of each uint8 value
  float* out_ = nullptr;
};

}  // namespace bluefire
