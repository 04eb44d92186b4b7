// Runs every registered test (or those whose name contains one of the arguments); exit status 1 on
// any failure, 2 when the arguments select no test.
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
    bool selected = argc == 1;
    for (int a = 1; a < argc; ++a) selected |= std::strstr(c.name, argv[a]) != nullptr;
    if (!selected) continue;
    int before = bftest::failures;
    c.fn();
    ++run;
    std::printf("%-40s %s\n", c.name, bftest::failures == before ? "ok" : "FAILED");
  }
  std::printf("%d tests, %d failed checks\n", run, bftest::failures);
  return bftest::failures ? 1 : run == 0 ? 2 : 0;
}
