// Which way a byte travelled in a flow. Client = the side that sent the SYN (or the heuristic's pick).
#pragma once

#include <cstdint>

namespace meshproof {

enum class Direction : std::uint8_t { ClientToServer = 0, ServerToClient = 1 };

constexpr Direction reverse(Direction d) {
    return d == Direction::ClientToServer ? Direction::ServerToClient : Direction::ClientToServer;
}
constexpr std::size_t index(Direction d) { return static_cast<std::size_t>(d); }

}  // namespace meshproof
