#pragma once

#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include <hdf5.h>

#include "taskfarm/core/element_type.hpp"
#include "taskfarm/core/error.hpp"

namespace taskfarm::io {

/// @brief An HDF5 call failed; what() holds the call and HDF5's walked error stack.
class H5Error : public Error {
 public:
  using Error::Error;
};

/// @brief Turns off HDF5's automatic printing of its error stack: we turn it into exception text.
void silence_hdf5_errors() noexcept;

/// @brief Throws H5Error if `id` is negative; returns it otherwise.
hid_t check_id(hid_t id, std::string_view what);
/// @brief Throws H5Error if `status` is negative.
void check_status(herr_t status, std::string_view what);

/// @brief Move-only owner of an HDF5 identifier, closed by `Close` when it goes out of scope.
template <herr_t (*Close)(hid_t)>
class Handle {
 public:
  Handle() noexcept = default;
  /// @brief Takes ownership of `id` (which must be valid or H5I_INVALID_HID).
  explicit Handle(hid_t id) noexcept : id_(id) {}
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  // Nulling the source prevents closing the id twice (once in other and once in this).
  Handle(Handle&& other) noexcept : id_(std::exchange(other.id_, H5I_INVALID_HID)) {}
  Handle& operator=(Handle&& other) noexcept {
    if (this != &other) {
      reset();
      id_ = std::exchange(other.id_, H5I_INVALID_HID);
    }
    return *this;
  }
  ~Handle() { reset(); }

  /// @brief Closes the id now (errors are ignored: destructors never throw).
  void reset() noexcept {
    if (id_ >= 0) {
      Close(id_);
      id_ = H5I_INVALID_HID;
    }
  }
  [[nodiscard]] hid_t get() const noexcept { return id_; }
  [[nodiscard]] explicit operator bool() const noexcept { return id_ >= 0; }

 private:
  hid_t id_ = H5I_INVALID_HID;
};

using FileHandle = Handle<&H5Fclose>;
using GroupHandle = Handle<&H5Gclose>;
using DatasetHandle = Handle<&H5Dclose>;
using DataspaceHandle = Handle<&H5Sclose>;
using DatatypeHandle = Handle<&H5Tclose>;
using PropListHandle = Handle<&H5Pclose>;
using AttributeHandle = Handle<&H5Aclose>;

/// @brief The HDF5 native type of a numeric element type (owned by the library; do not close).
hid_t native_type(ElementType type);

/// @brief The type of one element as stored: the native type, or for text a fixed-length UTF-8
/// string of `text_bytes` bytes, NUL-padded (h5py and pandas read it as a string).
DatatypeHandle stored_type(ElementType type, std::size_t text_bytes);

/// @brief A new variable-length UTF-8 string type.
DatatypeHandle vlen_string_type();

}  // namespace taskfarm::io
