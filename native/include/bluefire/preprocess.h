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

// The optimized preprocessing: one loop per (layout, colour) with no branch per pixel, the resize's
// tables kept for the last input size (a stream of equal frames computes them once), the vertical
// pass in SSE2 / NEON. Bit-identical to PreprocessorRef (src/ref/preprocess_ref.h), its oracle.
class Preprocessor {
 public:
  explicit Preprocessor(const PreprocessSpec& spec);  // throws std::invalid_argument on a bad spec
  const PreprocessSpec& spec() const { return spec_; }
  // px: H x W interleaved pixels in `layout` (3, 1 or 4 bytes each); out: channels x height x width
  // floats. Gives what Preprocessing.apply gives on the same frame and channel_seq. Allocates nothing.
  void run(const uint8_t* px, int H, int W, float* out, PixelLayout layout = PixelLayout::RGB);

 private:
  template <PixelLayout L, bool Gray>
  void run_as(const uint8_t* px, int H, int W);
  void resize_tables(int H, int W);
  template <int Step>
  void emit_row(int y, const uint8_t* vals, const int* offset);
  PreprocessSpec spec_;
  int table_h_ = 0, table_w_ = 0;      // the input size the resize tables below are for (0: none yet)
  std::vector<int> x0_;                // each output column's first source column (it reads x0, x0 + 1)
  std::vector<int> y0_, y1_;           // each output row's two source rows
  std::vector<int16_t> alpha_, beta_;  // their 11-bit weights, two per output column / row
  std::vector<int16_t> rows_;          // two horizontally resized source rows (>> 4), 1 or 4 per pixel
  std::vector<uint8_t> vals_;          // one output row's uint8 values (or a row's lumas)
  std::vector<float> lut_;             // channels x 256: the normalised float of each uint8 value
  float* out_ = nullptr;
};

}  // namespace bluefire
