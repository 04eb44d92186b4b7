// The convolution algorithms, best first: a layer runs on the first entry that applies to it on
// the chosen variant. Which one that is for each layer shape and variant: native/README.md.
#include <stdexcept>

#include "engine/conv.h"

namespace bluefire {

const std::vector<const ConvAlgo*>& conv_algorithms() {
  static const std::vector<const ConvAlgo*> list = {
      &kConvPointwiseS8,        // int8 (QDQ): 1x1, and any kernel on a 1x1 map
      &kConvPaddedS8,           // int8 (QDQ): anything else, on a padded copy (phase planes if strided)
      &kConvIm2colS8,           // int8 (QDQ): reached by no layer (padded_s8 takes all); the tests' oracle
      &kConvPointwise,          // 1x1, and any kernel on a 1x1 map
      &kConvWinograd4Channels,  // 3x3 s1 p1, small square maps, F(4x4) over channels
      &kConvSmallDirect,        // 3x3 s1 p1, small square maps, direct
      &kConvWinograd4,          // 3x3 s1 p1, maps >= 13
      &kConvWinograd2,          // 3x3 s1 p1, maps >= 3
      &kConvStrided,            // stride > 1
      &kConvPadded,             // stride 1, rows >= 20
      &kConvIm2col,             // anything
  };
  return list;
}

const ConvAlgo& choose_conv(const Layer& L, const KernelTable& k) {
  for (const ConvAlgo* a : conv_algorithms())
    if (a->applies(L, k)) return *a;
  throw std::logic_error("no convolution algorithm applies to layer '" + L.name + "'");
}

}  // namespace bluefire
