// Runs every registered test (or those whose name contains argv[1]); exit status 1 on any failure.
#include <cstring>

#include "bluefire/registry.h"
#include "test.h"

namespace bftest {
std::vector<Case>& registry() {
  static std::vector<Case> r;
  return r;
}
int failures = 0;
}  // namespace bftest

int main(int argc, char** argv) {
  std::printf("variants compiled:");
  for (const auto& v : bluefire::all_variants())
    std::printf(" %s%s", v.name, v.supported(bluefire::cpu_features()) ? "" : "(unsupported here, skipped)");
  std::printf("\n");
  int run = 0;
  for (const auto& c : bftest::registry()) {
    if (argc > 1 && !std::strstr(c.name, argv[1])) continue;
    int before = bftest::failures;
    c.fn();
    ++run;
    std::printf("%-40s %s\n", c.name, bftest::failures == before ? "ok" : "FAILED");
  }
  std::printf("%d tests, %d failed checks\n", run, bftest::failures);
  return bftest::failures ? 1 : 0;
}
