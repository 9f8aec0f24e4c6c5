// The libFuzzer entry point of every target: CMake compiles this file once per target with
// MESHPROOF_FUZZ_HEADER (the target's header under tests/fuzz/targets) and MESHPROOF_FUZZ_ENTRY
// (its `<name>_one(Bytes)` function). The regression test replays inputs through the same functions.
#include <cstddef>
#include <cstdint>

#include MESHPROOF_FUZZ_HEADER

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    return meshproof::fuzz::MESHPROOF_FUZZ_ENTRY(meshproof::Bytes(data, size));
}
