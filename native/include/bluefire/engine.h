// The whole-network engine: built once from an ONNX file (weights repacked for the chosen
// variant, every buffer allocated), then run any number of times without allocating.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "bluefire/onnx.h"
#include "bluefire/preprocess.h"

namespace bluefire {

class Engine {
 public:
  static constexpr int kMaxThreads = 4;  // threads accepted by the constructor: 1..kMaxThreads

  // Throws ModelError (file, node and what is wrong) or std::invalid_argument (threads, variant).
  Engine(const OnnxModel& model, int threads = 1, const std::string& variant = "auto");
  static std::unique_ptr<Engine> from_file(const std::string& path, int threads = 1,
                                           const std::string& variant = "auto");
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // in: batch x C x H x W floats; out: batch x output_size() floats. Serialised per engine.
  void run(const float* in, int batch, float* out);

  // Preprocessing for run_image; must be set (from the model's metadata) before run_image.
  void set_preprocessing(const PreprocessSpec& spec);
  bool has_preprocessing() const;
  // px: H x W uint8 pixels in `layout` (RGB: 3 bytes each); writes output_size() floats.
  void run_image(const uint8_t* px, int H, int W, float* out, PixelLayout layout = PixelLayout::RGB);
  // Just the preprocessing: writes C x input_height x input_width floats.
  void preprocess(const uint8_t* px, int H, int W, float* out, PixelLayout layout = PixelLayout::RGB);

  int input_channels() const;
  int input_height() const;
  int input_width() const;
  const std::vector<int64_t>& output_shape() const;  // per image, without the batch dimension
  size_t output_size() const;
  const char* variant() const;
  int threads() const;
  const std::map<std::string, std::string>& metadata() const;
  // Direct-convolution multiply-accumulates per image, less the taps skipped on 1x1 maps
  // (Winograd layers count as direct: they execute 2.25x fewer multiplies).
  int64_t macs() const;
  // Layers whose tasks run over the thread pool; the others run on the calling thread alone. With
  // 2+ threads each layer that can be cut into several tasks is timed both ways at build and split
  // only where clearly faster; the environment variable BLUEFIRE_SPLIT=always|never (read when an
  // engine is built) fixes the choice instead (always: every such layer). 0 with one thread.
  int split_layers() const;
  double calibration_seconds() const;  // what that measurement took at build (0 if none)

  // One timed pass over `in` (one image): per layer its name, kind ("Conv/<algorithm>" for a
  // convolution: the entry of src/engine/conv_algos.cpp that runs it), multiply-accumulates and
  // seconds. For benchmarks and tuning; run() itself takes no timestamps. Two sibling layers run as
  // one pool job (Fire's expands, where measured faster) are timed together: the first's kind ends
  // in " +next" and its seconds are the pair's, the second's kind in " (in previous)", 0 seconds.
  struct LayerTime {
    std::string name, kind;
    int64_t macs;
    double seconds;
    bool split;  // its tasks run over the thread pool (else all on the calling thread)
  };
  std::vector<LayerTime> profile(const float* in);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace bluefire
