#pragma once

#include <cstdint>
#include <filesystem>
#include <vector>

namespace taskfarm::apps {

/// @brief Writes an 8-bit RGB PNG (rows top to bottom, 3 bytes per pixel). Throws Error on I/O failure.
void write_png(const std::filesystem::path& path, std::uint32_t width, std::uint32_t height,
               const std::vector<std::uint8_t>& rgb);

}  // namespace taskfarm::apps
