// The arena plan (src/engine/arena.cpp) on its own: reuse of dead space, no overlap between
// tensors live at the same time, alignment, first fit, and a random property check.
#include <random>

#include "engine/arena.h"
#include "test.h"

using namespace bluefire;

namespace {

// Every request placed, aligned, inside the total, and disjoint from every request whose
// lifetime [first, last] meets its own.
void check_plan(const std::vector<ArenaRequest>& r, const ArenaPlan& p, size_t align, const char* what) {
  CHECK(p.offset.size() == r.size(), "%s: %zu offsets for %zu requests", what, p.offset.size(), r.size());
  for (size_t i = 0; i < r.size(); ++i) {
    if (r[i].first < 0) continue;
    CHECK(p.offset[i] % align == 0, "%s: request %zu at %zu, not a multiple of %zu", what, i, p.offset[i], align);
    CHECK(p.offset[i] + r[i].size <= p.total, "%s: request %zu ends at %zu past the total %zu", what, i,
          p.offset[i] + r[i].size, p.total);
    for (size_t j = 0; j < i; ++j) {
      if (r[j].first < 0) continue;
      const bool live_together = r[i].first <= r[j].last && r[j].first <= r[i].last;
      const bool apart = p.offset[i] + r[i].size <= p.offset[j] || p.offset[j] + r[j].size <= p.offset[i];
      CHECK(!live_together || apart, "%s: requests %zu [%d, %d] at %zu (+%zu) and %zu [%d, %d] at %zu (+%zu) overlap",
            what, i, r[i].first, r[i].last, p.offset[i], r[i].size, j, r[j].first, r[j].last, p.offset[j], r[j].size);
    }
  }
}

}  // namespace

TEST(arena_reuses_dead_space) {
  // A chain: layer i reads tensor i and writes tensor i + 1; tensor 0 (the input) is not placed.
  std::vector<ArenaRequest> r = {{100, -1, 0}, {40, 0, 1}, {40, 1, 2}, {40, 2, 3}, {40, 3, 4}};
  ArenaPlan p = plan_arena(r, 16);
  check_plan(r, p, 16, "chain");
  // 1 and 2 are live together at layer 1; 3 starts after 1 died: it takes 1's place.
  CHECK(p.offset[1] == 0 && p.offset[2] == 48 && p.offset[3] == 0 && p.offset[4] == 48,
        "chain: offsets %zu %zu %zu %zu, expected 0 48 0 48", p.offset[1], p.offset[2], p.offset[3], p.offset[4]);
  CHECK(p.total == 96, "chain: total %zu, expected 96", p.total);
}

TEST(arena_first_fit_takes_the_lowest_hole) {
  // Three live blocks; the middle one dies; a request that fits the hole goes there, a larger
  // one goes past the end.
  std::vector<ArenaRequest> r = {{32, 0, 5}, {32, 0, 1}, {32, 0, 5}, {16, 2, 5}, {64, 3, 5}};
  ArenaPlan p = plan_arena(r, 16);
  check_plan(r, p, 16, "hole");
  CHECK(p.offset[3] == 32, "hole: small request at %zu, expected 32 (the dead block's place)", p.offset[3]);
  CHECK(p.offset[4] == 96, "hole: large request at %zu, expected 96 (past the end)", p.offset[4]);
  CHECK(p.total == 160, "hole: total %zu, expected 160", p.total);
}

TEST(arena_random_lifetimes_never_overlap) {
  std::mt19937 rng(7);
  for (int round = 0; round < 300; ++round) {
    const int layers = 1 + int(rng() % 30), n = 1 + int(rng() % 40);
    const size_t align = size_t(1) << (rng() % 5);
    std::vector<ArenaRequest> r(static_cast<size_t>(n));
    size_t sum = 0;
    for (auto& q : r) {
      q.size = 1 + rng() % 200;
      q.first = int(rng() % (layers + 1)) - 1;  // some not placed
      q.last = q.first + int(rng() % 6);
      if (q.first >= 0) sum += (q.size + align - 1) / align * align;
    }
    ArenaPlan p = plan_arena(r, align);
    check_plan(r, p, align, "random");
    CHECK(p.total <= sum, "random round %d: total %zu exceeds the sum of the requests %zu", round, p.total, sum);
  }
}
