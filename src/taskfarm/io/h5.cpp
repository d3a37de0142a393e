#include "taskfarm/io/h5.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace taskfarm::io {

namespace {

herr_t append_frame(unsigned n, const H5E_error2_t* err, void* client) {
  auto* out = static_cast<std::string*>(client);
  if (n < 4 && err->desc != nullptr) {  // the innermost frames say what went wrong
    std::string desc;  // one line: HDF5's descriptions may hold newlines (errno texts of the VFD)
    for (const char* c = err->desc; *c != '\0'; ++c) {
      const bool space = *c == '\n' || *c == '\r' || *c == '\t' || *c == ' ';
      if (!space || (!desc.empty() && desc.back() != ' ')) {
        desc += space ? ' ' : *c;
      }
    }
    *out += fmt::format("{}{} ({})", out->empty() ? "" : "; ", desc, err->func_name);
  }
  return 0;
}

std::string error_stack() {
  std::string text;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, append_frame, &text);
  H5Eclear2(H5E_DEFAULT);
  return text.empty() ? std::string("no HDF5 error stack") : text;
}

}  // namespace

void silence_hdf5_errors() noexcept { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

hid_t check_id(hid_t id, std::string_view what) {
  if (id < 0) {
    throw H5Error(fmt::format("{}: {}", what, error_stack()));
  }
  return id;
}

void check_status(herr_t status, std::string_view what) {
  if (status < 0) {
    throw H5Error(fmt::format("{}: {}", what, error_stack()));
  }
}

hid_t native_type(ElementType type) {
  switch (type) {
    case ElementType::u8:
      return H5T_NATIVE_UINT8;
    case ElementType::i32:
      return H5T_NATIVE_INT32;
    case ElementType::u32:
      return H5T_NATIVE_UINT32;
    case ElementType::i64:
      return H5T_NATIVE_INT64;
    case ElementType::u64:
      return H5T_NATIVE_UINT64;
    case ElementType::f32:
      return H5T_NATIVE_FLOAT;
    case ElementType::f64:
      return H5T_NATIVE_DOUBLE;
    case ElementType::text:
      break;
  }
  throw Error("native_type: not a numeric element type");
}

DatatypeHandle stored_type(ElementType type, std::size_t text_bytes) {
  if (type != ElementType::text) {
    return DatatypeHandle(check_id(H5Tcopy(native_type(type)), "H5Tcopy"));
  }
  DatatypeHandle t(check_id(H5Tcopy(H5T_C_S1), "H5Tcopy"));
  check_status(H5Tset_size(t.get(), std::max<std::size_t>(1, text_bytes)), "H5Tset_size");
  check_status(H5Tset_strpad(t.get(), H5T_STR_NULLPAD), "H5Tset_strpad");
  check_status(H5Tset_cset(t.get(), H5T_CSET_UTF8), "H5Tset_cset");
  return t;
}

DatatypeHandle vlen_string_type() {
  DatatypeHandle t(check_id(H5Tcopy(H5T_C_S1), "H5Tcopy"));
  check_status(H5Tset_size(t.get(), H5T_VARIABLE), "H5Tset_size");
  check_status(H5Tset_cset(t.get(), H5T_CSET_UTF8), "H5Tset_cset");
  return t;
}

static_assert(!std::is_copy_constructible_v<FileHandle> && !std::is_copy_assignable_v<FileHandle>);
static_assert(std::is_nothrow_move_constructible_v<FileHandle> && std::is_nothrow_move_assignable_v<FileHandle>);
static_assert(std::is_nothrow_destructible_v<DatasetHandle>);

}  // namespace taskfarm::io
