#pragma once

#include <string>
#include <string_view>

namespace taskfarm {

/// @brief `text` as valid UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing above
/// U+10FFFF): every byte that does not start a well-formed character, and NUL, becomes U+FFFD.
/// What goes into the output file as text (a program's output, an error message) passes here, so
/// that h5py, pandas, xarray and TOML readers can decode it.
std::string valid_utf8(std::string_view text);

}  // namespace taskfarm
