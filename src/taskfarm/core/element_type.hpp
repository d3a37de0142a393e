#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace taskfarm {

/// @brief Element types a result field or task column can have (each maps to an HDF5 native type).
/// `text` is UTF-8 text of at most shape[0] bytes per task, stored as one fixed-length string per
/// task (h5py, pandas and xarray read it as a string); in memory it is shape[0] bytes, NUL-padded.
enum class ElementType : std::uint8_t { u8, i32, u32, i64, u64, f32, f64, text };

/// @brief Size in bytes of one element.
constexpr std::size_t element_size(ElementType t) noexcept {
  switch (t) {
    case ElementType::u8:
    case ElementType::text:
      return 1;
    case ElementType::i32:
    case ElementType::u32:
    case ElementType::f32:
      return 4;
    case ElementType::i64:
    case ElementType::u64:
    case ElementType::f64:
      return 8;
  }
  return 0;
}

/// @brief numpy-style name, e.g. "uint32".
constexpr std::string_view element_name(ElementType t) noexcept {
  switch (t) {
    case ElementType::u8:
      return "uint8";
    case ElementType::i32:
      return "int32";
    case ElementType::u32:
      return "uint32";
    case ElementType::i64:
      return "int64";
    case ElementType::u64:
      return "uint64";
    case ElementType::f32:
      return "float32";
    case ElementType::f64:
      return "float64";
    case ElementType::text:
      return "string";
  }
  return "?";
}

}  // namespace taskfarm
