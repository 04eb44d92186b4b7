// Frames at a camera's pace through the engine alone (no Python): every run() after an idle gap, so
// the pool's workers are asleep when it starts. Engines of one model, called in rotation so each
// sees the same machine: 1 thread; 2 threads with no split (a control: the same work as 1 thread);
// 2 threads with every split and the wake-up choice as BLUEFIRE_WAKE says (auto: measured, always,
// never); medians in microseconds, a table and (with a path) JSON, written to a temporary file and
// renamed. Built and run by native/tools/paced_frames.sh.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "bluefire/engine.h"

using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: paced_frames MODEL.onnx [GAP_MS] [FRAMES] [THREADS] [JSON]\n");
    return 2;
  }
  const std::string path = argv[1];
  const double gap_ms = argc > 2 ? std::atof(argv[2]) : 33.0;
  const int frames = argc > 3 ? std::atoi(argv[3]) : 150, threads = argc > 4 ? std::atoi(argv[4]) : 2;
  const std::string json = argc > 5 ? argv[5] : "";
  if (!(gap_ms >= 0 && gap_ms <= 1000) || frames < 1 || threads < 2 || threads > 4) {
    std::fprintf(stderr, "paced_frames: expected GAP_MS 0..1000, FRAMES >= 1, THREADS 2..4; got %s %s %s\n",
                 argc > 2 ? argv[2] : "33", argc > 3 ? argv[3] : "150", argc > 4 ? argv[4] : "2");
    return 2;
  }
  struct Case {
    std::string name;
    const char* split;
    const char* wake;
    int threads;
  };
  const std::vector<Case> cases = {{"1 thread", "auto", "auto", 1},
                                   {"split never (control)", "never", "auto", threads},
                                   {"split always, wake always", "always", "always", threads},
                                   {"split always, wake never", "always", "never", threads},
                                   {"split always, wake auto", "always", "auto", threads}};
  std::vector<std::unique_ptr<bluefire::Engine>> engines;
  for (const Case& c : cases) {
    setenv("BLUEFIRE_SPLIT", c.split, 1);
    setenv("BLUEFIRE_WAKE", c.wake, 1);
    engines.push_back(bluefire::Engine::from_file(path, c.threads));
  }
  unsetenv("BLUEFIRE_SPLIT"), unsetenv("BLUEFIRE_WAKE");
  std::vector<float> x(size_t(engines[0]->input_channels()) * engines[0]->input_height() * engines[0]->input_width(),
                       0.5f),
      y(engines[0]->output_size());
  std::vector<std::vector<double>> us(engines.size());
  for (int f = 0; f < frames; ++f)
    for (size_t j = 0; j < engines.size(); ++j) {
      const size_t k = (size_t(f) + j) % engines.size();
      std::this_thread::sleep_for(std::chrono::microseconds(int(gap_ms * 1000)));
      const auto t0 = Clock::now();
      engines[k]->run(x.data(), 1, y.data());
      us[k].push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
    }
  std::printf("%s: %d threads, a frame every %g ms per call (%d per engine, in rotation)\n", path.c_str(), threads,
              gap_ms, frames);
  std::printf("%-28s %8s %10s %10s\n", "engine", "split", "median us", "x 1 thread");
  double one = 0;
  std::string rows;
  for (size_t k = 0; k < engines.size(); ++k) {
    std::vector<double> v = us[k];
    std::sort(v.begin(), v.end());
    const double m = v[v.size() / 2];
    if (k == 0) one = m;
    std::printf("%-28s %8d %10.1f %10.2f\n", cases[k].name.c_str(), engines[k]->split_layers(), m, one / m);
    char row[256];
    std::snprintf(row, sizeof row,
                  "%s    {\"engine\": \"%s\", \"threads\": %d, \"split_layers\": %d, \"median_us\": %.2f, "
                  "\"x_one_thread\": %.4f}",
                  k ? ",\n" : "", cases[k].name.c_str(), cases[k].threads, engines[k]->split_layers(), m, one / m);
    rows += row;
  }
  if (!json.empty()) {
    const std::string tmp = json + ".tmp";
    std::FILE* f = std::fopen(tmp.c_str(), "w");
    if (!f) {
      std::perror(tmp.c_str());
      return 1;
    }
    std::fprintf(f, "{\n  \"gap_ms\": %g,\n  \"frames\": %d,\n  \"rows\": [\n%s\n  ]\n}\n", gap_ms, frames,
                 rows.c_str());
    if (std::fclose(f) != 0 || std::rename(tmp.c_str(), json.c_str()) != 0) {
      std::perror(json.c_str());
      return 1;
    }
    std::printf("JSON: %s\n", json.c_str());
  }
  return 0;
}
