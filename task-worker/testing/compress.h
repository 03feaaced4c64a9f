// Compressors for the decompression tests: whole buffers, with the libraries' defaults.
#pragma once

#include <string>
#include <string_view>

#include "task-worker/decompressor.h"

namespace gaze::worker::testing {

// `data` compressed as one stream of `compression` (kNone returns it as it is).
std::string Compress(Compression compression, std::string_view data);

}  // namespace gaze::worker::testing
