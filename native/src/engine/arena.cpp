#include "engine/arena.h"

#include <algorithm>

namespace bluefire {

ArenaPlan plan_arena(const std::vector<ArenaRequest>& requests, size_t align) {
  ArenaPlan plan;
  plan.offset.assign(requests.size(), 0);
  std::vector<size_t> order;
  for (size_t i = 0; i < requests.size(); ++i)
    if (requests[i].first >= 0) order.push_back(i);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return requests[a].first < requests[b].first || (requests[a].first == requests[b].first && a < b);
  });
  struct Block {
    size_t begin, end;
    int last;
  };
  std::vector<Block> live;  // sorted by begin
  for (size_t i : order) {
    const ArenaRequest& r = requests[i];
    live.erase(std::remove_if(live.begin(), live.end(), [&](const Block& b) { return b.last < r.first; }), live.end());
    const size_t need = (r.size + align - 1) / align * align;
    size_t at = 0;
    for (const Block& b : live) {
      if (b.begin >= at + need) break;
      at = std::max(at, b.end);
    }
    plan.offset[i] = at;
    live.insert(std::upper_bound(live.begin(), live.end(), at, [](size_t v, const Block& b) { return v < b.begin; }),
                {at, at + need, r.last});
    plan.total = std::max(plan.total, at + need);
  }
  return plan;
}

}  // namespace bluefire
