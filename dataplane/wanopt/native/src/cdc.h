// FastCDC-style content-defined chunking with a 32-bit gear hash (see cdc.cc). No N-API here so the
// chunker can be reasoned about (and benchmarked) on its own.
#pragma once
#include <cstddef>
#include <cstdint>

namespace pt_cdc {

struct Params {
  uint32_t min;    // smallest chunk, bytes (except a final remainder)
  uint32_t avg;    // target average: the normalisation point, bytes
  uint32_t max;    // largest chunk, bytes
  uint32_t maskS;  // harder mask used before avg (more bits set)
  uint32_t maskL;  // easier mask used after avg (fewer bits set)
};

// The 256-entry gear table; identical to GEAR in ../../chunker.ts (splitmix64, seed "PATRONUS", high 32 bits).
const uint32_t *gear();

// Masks for `avg`: bits = round(log2 avg); maskS has bits+2 top bits set, maskL bits-2 (normalisation level 2).
Params make_params(uint32_t min, uint32_t avg, uint32_t max);

// Length of the next chunk of data[0..n). A chunk ends where the gear hash has no bit of the mask set.
size_t next_cut(const uint8_t *data, size_t n, const Params &p);

}  // namespace pt_cdc
