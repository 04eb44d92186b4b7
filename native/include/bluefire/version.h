#pragma once
namespace bluefire {
const char* version();
}
