// The model's preprocessing in C++: uint8 RGB (any size) -> float32 planes at the input size.
// Mirrors rtmaps_components.preprocess.Preprocessing for resize="bilinear": OpenCV's fixed-point
// INTER_LINEAR (11-bit weights, its SIMD rounding; exact 2x downscales use its area path) and
// its fixed-point RGB->gray. Tolerance: each resized uint8 value is within 1 of OpenCV's x86 build.
// Integer arithmetic and a table for the normalisation: the output is bit-identical on every ISA.
#pragma once
#include <cstdint>
#include <vector>

namespace bluefire {

// The interleaved uint8 layouts a frame may arrive in (RTMaps IplImage channel sequences).
// GRAY is one channel (its luma is the value itself); the alpha of RGBA/BGRA is ignored.
enum class PixelLayout { RGB, BGR, GRAY, RGBA, BGRA };

struct PreprocessSpec {
  int height = 0, width = 0;
  bool gray = false;  // luma first, replicated to three channels
  float scale = 1.f / 255.f;
  float mean[3] = {0, 0, 0};
  float std[3] = {1, 1, 1};
  bool bgr = false;  // network planes in B, G, R order
  int channels = 3;  // 1: a gray model whose stem takes the luma plane alone (mean[0], std[0])
};

class Preprocessor {
 public:
  explicit Preprocessor(const PreprocessSpec& spec);  // throws std::invalid_argument on a bad spec
  const PreprocessSpec& spec() const { return spec_; }
  // px: H x W interleaved pixels in `layout` (3, 1 or 4 bytes each); out: channels x height x width
  // floats. Gives what Preprocessing.apply gives on the same frame and channel_seq. Allocates nothing.
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
