// Gear hash: h = (h << 1) + G[byte] over 32 bits, so bit 31 depends on the last 32 bytes only — a cut
// decision depends on local content, which is what lets boundaries resynchronise after an insertion.
// Normalised chunking (FastCDC, Xia et al., USENIX ATC '16): a harder mask before `avg` and an easier
// one after it pull chunk sizes towards `avg`; the first `min` bytes are skipped without hashing.
// Two bytes per step: h = (h << 2) + ((G[a] << 1) + G[b]) is exactly two one-byte steps but its dependent
// chain is one shift and one add per two bytes; the hash after the first byte, (h << 1) + G[a], is computed
// beside it and tested too, so cut points are those of the plain one-byte loop. (Testing only every second
// byte, as FastCDC 2020 does, would keep every cut at the parity of the chunk start — and an odd-length
// insertion would then never resynchronise.)
#include "cdc.h"

namespace pt_cdc {

static uint32_t table[256];
static bool table_ready = false;

const uint32_t *gear() {
  if (!table_ready) {
    uint64_t x = 0x504154524f4e5553ULL;  // "PATRONUS"
    for (int i = 0; i < 256; i++) {
      x += 0x9e3779b97f4a7c15ULL;
      uint64_t z = x;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
      z ^= z >> 31;
      table[i] = static_cast<uint32_t>(z >> 32);
    }
    table_ready = true;
  }
  return table;
}

static uint32_t top_bits(int n) {
  if (n <= 0) return 0;
  if (n >= 32) return 0xffffffffu;
  return ~((1u << (32 - n)) - 1);
}

Params make_params(uint32_t min, uint32_t avg, uint32_t max) {
  int bits = 0;
  while ((1u << (bits + 1)) <= avg) bits++;
  // round to nearest: avg in [2^b, 2^(b+1)) goes up when above 1.5 * 2^b
  if (bits < 31 && avg >= (3u << bits) / 2) bits++;
  return Params{min, avg, max, top_bits(bits + 2), top_bits(bits - 2)};
}

// Scans [i, end) two bytes at a time with `mask`; returns the cut (offset just past the byte whose hash has no
// mask bit set) or 0, leaving h and i where it stopped (i == end, or end - 1 when the span is odd).
static inline size_t scan(const uint8_t *data, size_t &i, size_t end, uint32_t &h, uint32_t mask, const uint32_t *g) {
  uint32_t x = h;
  size_t k = i;
  for (; k + 2 <= end; k += 2) {
    uint32_t a = g[data[k]], b = g[data[k + 1]];
    uint32_t mid = (x << 1) + a;
    x = (x << 2) + ((a << 1) + b);
    if (__builtin_expect(!(mid & mask) || !(x & mask), 0)) return (mid & mask) ? k + 2 : k + 1;
  }
  if (k < end) {
    x = (x << 1) + g[data[k]];
    k++;
    if (!(x & mask)) return k;
  }
  h = x;
  i = k;
  return 0;
}

size_t next_cut(const uint8_t *data, size_t n, const Params &p) {
  if (n <= p.min) return n;
  if (n > p.max) n = p.max;
  size_t normal = p.avg < n ? p.avg : n;
  const uint32_t *g = gear();
  uint32_t h = 0;
  size_t i = p.min;
  if (size_t c = scan(data, i, normal, h, p.maskS, g)) return c;
  if (size_t c = scan(data, i, n, h, p.maskL, g)) return c;
  return n;
}

}  // namespace pt_cdc
