// The .onnx files in the repository's models/ (BLUEFIRE_MODELS_DIR, set by CMakeLists.txt), sorted;
// a test that runs them checks the list is not empty, so a moved folder cannot pass silently.
#pragma once
#include <algorithm>
#include <filesystem>
#include <vector>

namespace bftest {
inline std::vector<std::filesystem::path> shipped_models() {
  std::vector<std::filesystem::path> models;
  for (const auto& entry : std::filesystem::directory_iterator(BLUEFIRE_MODELS_DIR))
    if (entry.path().extension() == ".onnx") models.push_back(entry.path());
  std::sort(models.begin(), models.end());
  return models;
}
}  // namespace bftest
