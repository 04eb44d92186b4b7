// A tiny test harness: TEST(name) registers a function, CHECK reports and counts failures.
#pragma once
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

namespace bftest {
struct Case {
  const char* name;
  std::function<void()> fn;
};
std::vector<Case>& registry();
extern int failures;
struct Register {
  Register(const char* n, std::function<void()> f) { registry().push_back({n, std::move(f)}); }
};
}  // namespace bftest

#define BF_CAT2(a, b) a##b
#define BF_CAT(a, b) BF_CAT2(a, b)
#define TEST(name)                                         \
  static void name();                                      \
  static bftest::Register BF_CAT(reg_, name)(#name, name); \
  static void name()
#define CHECK(cond, ...)                                                            \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      ++bftest::failures;                                                           \
      std::fprintf(stderr, "%s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, #cond); \
      std::fprintf(stderr, __VA_ARGS__);                                            \
      std::fprintf(stderr, "\n");                                                   \
    }                                                                               \
  } while (0)
