// CRC-32C (Castagnoli), the checksum of every shard file in a manifest.
#ifndef HPO_FEATURES_CRC32C_H_
#define HPO_FEATURES_CRC32C_H_

#include <cstddef>
#include <cstdint>
#include <string>

namespace hpo::features {

// Returns the CRC-32C of data[0, n) appended to a stream whose CRC-32C is
// `crc` (0 for the empty stream), so Crc32c(b, nb, Crc32c(a, na)) equals the
// CRC of a followed by b. Uses SSE4.2's crc32 instruction when the CPU has
// it, a table otherwise; both give the same values. Thread safe.
uint32_t Crc32c(const void* data, size_t n, uint32_t crc = 0);

namespace internal {
// The table-driven version alone, so tests can compare both paths.
uint32_t Crc32cTable(const void* data, size_t n, uint32_t crc);
}  // namespace internal

// The CRC as 8 lower-case hex digits, the form manifests store.
std::string Crc32cHex(uint32_t crc);

}  // namespace hpo::features

#endif  // HPO_FEATURES_CRC32C_H_
