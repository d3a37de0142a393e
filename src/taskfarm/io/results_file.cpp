#include "taskfarm/io/results_file.hpp"

#include "taskfarm/io/live_status.hpp"
#include "taskfarm/io/fletcher32.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <bit>
#include <chrono>
#include <cstddef>
#include <cstring>
#include <ctime>
#include <set>

#include <fmt/format.h>
#include <hdf5_hl.h>

namespace taskfarm::io {

namespace {

constexpr std::size_t kTargetChunkBytes = std::size_t{1} << 20;  // ~1 MiB per HDF5 chunk: good write throughput
constexpr hsize_t kMinTableChunkRows = 64;
constexpr hsize_t kMaxTableChunkRows = 4096;
constexpr hsize_t kParamsChunkRows = 65536;  // /params/<axis>: written and checked in blocks of one chunk

struct FailureDisk {
  std::uint64_t task;
  std::uint32_t attempt;
  std::int32_t rank;
  const char* host;
  const char* message;
};

struct RankDisk {
  std::int32_t rank;
  const char* host;
  std::uint64_t tasks;
  std::uint64_t chunks;
  double busy_seconds;
  double cpu_seconds;
  double peak_rss_mib;
};

/// `speculative`: with the column files have had since issue 12 (older files are read without it).
DatatypeHandle chunk_row_type(bool speculative = true) {
  DatatypeHandle t(check_id(H5Tcreate(H5T_COMPOUND, sizeof(ChunkRow)), "H5Tcreate(chunk row)"));
  check_status(H5Tinsert(t.get(), "begin", offsetof(ChunkRow, begin), H5T_NATIVE_UINT64), "H5Tinsert");
  check_status(H5Tinsert(t.get(), "end", offsetof(ChunkRow, end), H5T_NATIVE_UINT64), "H5Tinsert");
  check_status(H5Tinsert(t.get(), "rank", offsetof(ChunkRow, rank), H5T_NATIVE_INT32), "H5Tinsert");
  check_status(H5Tinsert(t.get(), "assigned", offsetof(ChunkRow, assigned), H5T_NATIVE_DOUBLE), "H5Tinsert");
  check_status(H5Tinsert(t.get(), "started", offsetof(ChunkRow, started), H5T_NATIVE_DOUBLE), "H5Tinsert");
  check_status(H5Tinsert(t.get(), "finished", offsetof(ChunkRow, finished), H5T_NATIVE_DOUBLE), "H5Tinsert");
  if (speculative) {
    check_status(H5Tinsert(t.get(), "speculative", offsetof(ChunkRow, speculative), H5T_NATIVE_UINT8), "H5Tinsert");
  }
  return t;
}

DatatypeHandle failure_row_type() {
  DatatypeHandle str = vlen_string_type();
  DatatypeHandle t(check_id(H5Tcreate(H5T_COMPOUND, sizeof(FailureDisk)), "H5Tcreate(failure row)"));
  check_status(H5Tinsert(t.get(), "task", offsetof(FailureDisk, task), H5T_NATIVE_UINT64), "H5Tinsert");
  check_status(H5Tinsert(t.get(), "attempt", offsetof(FailureDisk, attempt), H5T_NATIVE_UINT32), "H5Tinsert");
  check_status(H5Tinsert(t.get(), "rank", offsetof(FailureDisk, rank), H5T_NATIVE_INT32), "H5Tinsert");
  check_status(H5Tinsert(t.get(), "host", offsetof(FailureDisk, host), str.get()), "H5Tinsert");
  check_status(H5Tinsert(t.get(), "message", offsetof(FailureDisk, message), str.get()), "H5Tinsert");
  return t;
}

DatatypeHandle rank_row_type() {
  DatatypeHandle str = vlen_string_type();
  DatatypeHandle t(check_id(H5Tcreate(H5T_COMPOUND, sizeof(RankDisk)), "H5Tcreate(rank row)"));
  check_status(H5Tinsert(t.get(), "rank", offsetof(RankDisk, rank), H5T_NATIVE_INT32), "H5Tinsert");
  check_status(H5Tinsert(t.get(), "host", offsetof(RankDisk, host), str.get()), "H5Tinsert");
  check_status(H5Tinsert(t.get(), "tasks", offsetof(RankDisk, tasks), H5T_NATIVE_UINT64), "H5Tinsert");
  check_status(H5Tinsert(t.get(), "chunks", offsetof(RankDisk, chunks), H5T_NATIVE_UINT64), "H5Tinsert");
  check_status(H5Tinsert(t.get(), "busy_seconds", offsetof(RankDisk, busy_seconds), H5T_NATIVE_DOUBLE), "H5Tinsert");
  check_status(H5Tinsert(t.get(), "cpu_seconds", offsetof(RankDisk, cpu_seconds), H5T_NATIVE_DOUBLE), "H5Tinsert");
  check_status(H5Tinsert(t.get(), "peak_rss_mib", offsetof(RankDisk, peak_rss_mib), H5T_NATIVE_DOUBLE), "H5Tinsert");
  return t;
}

GroupHandle create_group(hid_t parent, const char* name, bool track_order = false) {
  PropListHandle gcpl(check_id(H5Pcreate(H5P_GROUP_CREATE), "H5Pcreate"));
  if (track_order) {  // lets readers list /results in the kernel's field order
    check_status(H5Pset_link_creation_order(gcpl.get(), H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED),
                 "H5Pset_link_creation_order");
  }
  return GroupHandle(
      check_id(H5Gcreate2(parent, name, H5P_DEFAULT, gcpl.get(), H5P_DEFAULT), fmt::format("create group {}", name)));
}

void write_string_attribute(hid_t obj, std::string_view name, const std::string& value) {
  DatatypeHandle type = vlen_string_type();
  DataspaceHandle space(check_id(H5Screate(H5S_SCALAR), "H5Screate"));
  const std::string n(name);
  if (H5Aexists(obj, n.c_str()) > 0) {
    check_status(H5Adelete(obj, n.c_str()), "H5Adelete");
  }
  AttributeHandle attr(
      check_id(H5Acreate2(obj, n.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT), "attribute " + n));
  const char* ptr = value.c_str();
  check_status(H5Awrite(attr.get(), type.get(), &ptr), "write attribute " + n);
}

void write_attribute(hid_t obj, std::string_view name, const AttributeValue& value) {
  if (const auto* s = std::get_if<std::string>(&value)) {
    write_string_attribute(obj, name, *s);
    return;
  }
  const std::string n(name);
  if (H5Aexists(obj, n.c_str()) > 0) {
    check_status(H5Adelete(obj, n.c_str()), "H5Adelete");
  }
  const hid_t type = std::holds_alternative<std::int64_t>(value) ? H5T_NATIVE_INT64 : H5T_NATIVE_DOUBLE;
  DataspaceHandle space(check_id(H5Screate(H5S_SCALAR), "H5Screate"));
  AttributeHandle attr(check_id(H5Acreate2(obj, n.c_str(), type, space.get(), H5P_DEFAULT, H5P_DEFAULT), n));
  std::visit([&](const auto& v) { check_status(H5Awrite(attr.get(), type, &v), "write attribute " + n); }, value);
}

/// A chunked layout with a Fletcher32 checksum per chunk: a changed byte is an error on read, never
/// a wrong value (HDF5 checks it in H5Dread unless a reader turns error detection off). `deflate`:
/// compressed first (text fields: mostly NUL padding), the checksum over the stored bytes.
PropListHandle checksummed_chunks(std::span<const hsize_t> chunk, bool deflate = false) {
  PropListHandle dcpl(check_id(H5Pcreate(H5P_DATASET_CREATE), "H5Pcreate"));
  check_status(H5Pset_chunk(dcpl.get(), static_cast<int>(chunk.size()), chunk.data()), "H5Pset_chunk");
  if (deflate) {
    check_status(H5Pset_deflate(dcpl.get(), 1), "H5Pset_deflate");
  }
  check_status(H5Pset_fletcher32(dcpl.get()), "H5Pset_fletcher32");
  return dcpl;
}

/// A table's chunk for about `rows` rows: a sixteenth of them, a power of two in [64, 4096] rows.
/// Every checkpoint writes the table's last chunk whole (filled, checksummed, written): a 4096-row
/// chunk (229 KiB of /chunks) cost a 2000-task job 1 ms of rank 0's time at its end, 64 rows 0.1 ms.
hsize_t table_chunk_rows(std::uint64_t rows) {
  return std::clamp<hsize_t>(std::bit_floor(std::max<std::uint64_t>(1, rows / 16)), kMinTableChunkRows,
                             kMaxTableChunkRows);
}

DatasetHandle create_table(hid_t file, const char* name, hid_t type, hsize_t chunk_rows) {
  const hsize_t dims[1] = {0};
  const hsize_t maxdims[1] = {H5S_UNLIMITED};
  DataspaceHandle space(check_id(H5Screate_simple(1, dims, maxdims), "H5Screate_simple"));
  const std::array<hsize_t, 1> chunk{chunk_rows};
  PropListHandle dcpl = checksummed_chunks(chunk);
  return DatasetHandle(
      check_id(H5Dcreate2(file, name, type, space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT), name));
}

void append_rows(hid_t dataset, hid_t type, hsize_t count, const void* rows) {
  if (count == 0) {
    return;
  }
  DataspaceHandle old_space(check_id(H5Dget_space(dataset), "H5Dget_space"));
  hsize_t n = 0;
  H5Sget_simple_extent_dims(old_space.get(), &n, nullptr);
  const hsize_t new_size = n + count;
  check_status(H5Dset_extent(dataset, &new_size), "H5Dset_extent");
  DataspaceHandle file_space(check_id(H5Dget_space(dataset), "H5Dget_space"));
  check_status(H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, &n, nullptr, &count, nullptr), "select");
  DataspaceHandle mem_space(check_id(H5Screate_simple(1, &count, nullptr), "H5Screate_simple"));
  check_status(H5Dwrite(dataset, type, mem_space.get(), file_space.get(), H5P_DEFAULT, rows), "append rows");
}

hsize_t table_size(hid_t dataset) {
  DataspaceHandle space(check_id(H5Dget_space(dataset), "H5Dget_space"));
  hsize_t n = 0;
  H5Sget_simple_extent_dims(space.get(), &n, nullptr);
  return n;
}

/// The per-task dimensions of a column in the file: its shape, but none for text (one string per task).
std::vector<std::uint64_t> stored_shape(const ColumnSpec& spec) {
  return spec.type == ElementType::text ? std::vector<std::uint64_t>{} : spec.shape;
}

std::optional<ElementType> element_type_of(hid_t type) {
  const H5T_class_t cls = H5Tget_class(type);
  const std::size_t size = H5Tget_size(type);
  if (cls == H5T_STRING && H5Tis_variable_str(type) == 0) {
    return ElementType::text;
  }
  if (cls == H5T_FLOAT) {
    return size == 4 ? std::optional(ElementType::f32) : size == 8 ? std::optional(ElementType::f64) : std::nullopt;
  }
  if (cls == H5T_INTEGER) {
    const bool is_signed = H5Tget_sign(type) == H5T_SGN_2;
    switch (size) {
      case 1:
        return is_signed ? std::nullopt : std::optional(ElementType::u8);
      case 4:
        return is_signed ? ElementType::i32 : ElementType::u32;
      case 8:
        return is_signed ? ElementType::i64 : ElementType::u64;
      default:
        return std::nullopt;
    }
  }
  return std::nullopt;
}


/// Writes one whole chunk of `dataset` (whose only filter is Fletcher32) as it is stored: `chunk` holds
/// the chunk's bytes, then ResultsFile::kChecksumBytes this fills with their checksum, little-endian
/// after the data as HDF5's filter stores it (H5Zfletcher32.c). One H5Dwrite_chunk: no copy into HDF5's chunk cache,
/// none into its filter's buffer, and a checksum 2-4x faster than HDF5's.
void write_raw_chunk(hid_t dataset, std::span<const hsize_t> offset, std::span<std::byte> chunk,
                     const std::string& what) {
  const std::size_t bytes = chunk.size() - ResultsFile::kChecksumBytes;
  const std::uint32_t sum = fletcher32(chunk.first(bytes));
  for (std::size_t k = 0; k < ResultsFile::kChecksumBytes; ++k) {
    chunk[bytes + k] = static_cast<std::byte>((sum >> (8 * k)) & 0xff);
  }
  check_status(H5Dwrite_chunk(dataset, H5P_DEFAULT, 0, offset.data(), chunk.size(), chunk.data()), what);
}

void write_params(hid_t file, const job::ParamSpace& params, TaskIndex n_tasks,
                  const std::function<bool()>& cancelled) {
  GroupHandle group = create_group(file, "params", true);
  constexpr TaskIndex kBlock = kParamsChunkRows;
  const hsize_t dims[1] = {n_tasks};
  const std::array<hsize_t, 1> chunk{std::min<hsize_t>(n_tasks, kBlock)};
  DataspaceHandle space(check_id(H5Screate_simple(1, dims, nullptr), "H5Screate_simple"));
  PropListHandle dcpl = checksummed_chunks(chunk);
  for (std::size_t a = 0; a < params.axes().size(); ++a) {
    const job::Axis& axis = params.axes()[a];
    DatatypeHandle str;
    hid_t type = H5T_NATIVE_INT64;
    if (axis.kind() == job::Axis::Kind::real) {
      type = H5T_NATIVE_DOUBLE;
    } else if (axis.kind() == job::Axis::Kind::text) {
      str = vlen_string_type();
      type = str.get();
    }
    // HDF5 refuses filters on a variable-length string dataset (its chunks hold heap references,
    // not the strings): a text axis is chunked without a checksum.
    PropListHandle plain;
    if (axis.kind() == job::Axis::Kind::text) {
      plain = PropListHandle(check_id(H5Pcreate(H5P_DATASET_CREATE), "H5Pcreate"));
      check_status(H5Pset_chunk(plain.get(), 1, chunk.data()), "H5Pset_chunk");
    }
    DatasetHandle ds(check_id(H5Dcreate2(group.get(), axis.name().c_str(), type, space.get(), H5P_DEFAULT,
                                         axis.kind() == job::Axis::Kind::text ? plain.get() : dcpl.get(),
                                         H5P_DEFAULT),
                              "create /params/" + axis.name()));
    write_string_attribute(ds.get(), "description", "value of parameter axis '" + axis.name() + "' for each task");
    write_string_attribute(ds.get(), "axis", axis.describe());
    std::vector<std::int64_t> ints;
    std::vector<double> reals;
    std::vector<const char*> texts;
    std::vector<std::byte> raw;
    for (TaskIndex b = 0; b < n_tasks; b += kBlock) {
      if (cancelled && cancelled()) {
        throw Interrupted("stopped by a signal while writing /params");
      }
      const hsize_t count = std::min(kBlock, n_tasks - b);
      const void* data = nullptr;
      switch (axis.kind()) {
        case job::Axis::Kind::integer:
          ints.resize(count);
          for (hsize_t i = 0; i < count; ++i) {
            ints[i] = params.integer(a, b + i);
          }
          data = ints.data();
          break;
        case job::Axis::Kind::real:
          reals.resize(count);
          for (hsize_t i = 0; i < count; ++i) {
            reals[i] = params.real(a, b + i);
          }
          data = reals.data();
          break;
        case job::Axis::Kind::text:
          texts.resize(count);
          for (hsize_t i = 0; i < count; ++i) {
            texts[i] = params.text(a, b + i).c_str();
          }
          data = texts.data();
          break;
      }
      const hsize_t start = b;
      if (axis.kind() != job::Axis::Kind::text) {  // 8-byte numbers: whole chunks, as stored
        constexpr std::size_t kWidth = 8;
        raw.assign(chunk[0] * kWidth + ResultsFile::kChecksumBytes, std::byte{0});  // rows past n_tasks stay zero
        std::memcpy(raw.data(), data, count * kWidth);
        write_raw_chunk(ds.get(), {&start, 1}, raw, "write /params/" + axis.name());
        continue;
      }
      DataspaceHandle file_space(check_id(H5Dget_space(ds.get()), "H5Dget_space"));
      check_status(H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, &start, nullptr, &count, nullptr), "select");
      DataspaceHandle mem_space(check_id(H5Screate_simple(1, &count, nullptr), "H5Screate_simple"));
      check_status(H5Dwrite(ds.get(), type, mem_space.get(), file_space.get(), H5P_DEFAULT, data),
                   "write /params/" + axis.name());
    }
  }
}

// -- The netCDF-4 view: dimension scales and root links, so that xarray (h5netcdf) and netCDF-C open
// the file with named dimensions and the parameters as coordinates, with no reader-side code.

constexpr const char* kPureDimension = "This is a netCDF dimension but not a netCDF variable.";

/// A netCDF dimension without values (netCDF-4's marker NAME). Chunked and never written, it takes
/// no storage whatever its size; `growing` ones (tables appended to) are unlimited, and readers
/// take their length from the longest variable on them.
DatasetHandle create_dimension(hid_t where, const std::string& name, hsize_t size, bool growing) {
  const hsize_t dims[1] = {growing ? 0 : size};
  const hsize_t maxdims[1] = {growing ? H5S_UNLIMITED : size};
  DataspaceHandle space(check_id(H5Screate_simple(1, dims, maxdims), "H5Screate_simple"));
  PropListHandle dcpl(check_id(H5Pcreate(H5P_DATASET_CREATE), "H5Pcreate"));
  const hsize_t chunk[1] = {std::max<hsize_t>(1, std::min<hsize_t>(growing ? 1024 : size, hsize_t{1} << 20))};
  check_status(H5Pset_chunk(dcpl.get(), 1, chunk), "H5Pset_chunk");
  check_status(H5Pset_fill_time(dcpl.get(), H5D_FILL_TIME_NEVER), "H5Pset_fill_time");
  DatasetHandle ds(check_id(H5Dcreate2(where, name.c_str(), H5T_IEEE_F32LE, space.get(), H5P_DEFAULT, dcpl.get(),
                                       H5P_DEFAULT),
                            "create dimension " + name));
  const std::string marker = fmt::format("{}{:10}", kPureDimension, growing ? 0 : size);
  check_status(H5DSset_scale(ds.get(), marker.c_str()), "H5DSset_scale " + name);
  return ds;
}

void attach(hid_t dataset, hid_t scale, unsigned dim, const std::string& what) {
  check_status(H5DSattach_scale(dataset, scale, dim), "attach a dimension to " + what);
}

}  // namespace

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

double ResultsFile::estimate_bytes(const CreateOptions& options) {
  const auto n = static_cast<double>(options.n_tasks);
  double per_task = 1 + 4 + 8;  // /tasks/state, rank, seconds
  for (const ColumnSpec& c : options.results) {
    per_task += static_cast<double>(c.bytes_per_task());
  }
  double text_bytes = 0.0;
  if (options.params != nullptr) {
    for (std::size_t a = 0; a < options.params->axes().size(); ++a) {
      const job::Axis& axis = options.params->axes()[a];
      if (axis.kind() != job::Axis::Kind::text) {
        per_task += 8;
        continue;
      }
      // A variable-length string: a 16-byte reference in the dataset, and in the global heap a
      // 16-byte object header plus the bytes rounded up to 8 (HDF5 file format spec, III.E).
      double mean = 0.0;
      for (std::uint64_t i = 0; i < axis.size(); ++i) {
        mean += static_cast<double>((axis.text_at(i).size() + 1 + 7) / 8 * 8);
      }
      text_bytes += n * (32.0 + mean / static_cast<double>(axis.size()));
    }
  }
  return n * per_task + text_bytes + 64.0 * 1024;  // + metadata: superblock, headers, chunk indexes
}

TaskIndex ResultsFile::chunk_rows_for(TaskIndex n_tasks, std::span<const ColumnSpec> results) {
  std::size_t widest = 8;  // /tasks/seconds is 8 bytes a task
  for (const ColumnSpec& c : results) {
    widest = std::max(widest, c.bytes_per_task());
  }
  return std::min<TaskIndex>(n_tasks, std::bit_floor(std::max<std::size_t>(1, kTargetChunkBytes / widest)));
}

ResultsFile ResultsFile::create(const CreateOptions& options) {
  silence_hdf5_errors();
  if (options.n_tasks == 0) {
    throw Error("a results file needs at least one task");
  }
  ResultsFile rf;
  rf.n_tasks_ = options.n_tasks;
  const unsigned flags = options.overwrite ? H5F_ACC_TRUNC : H5F_ACC_EXCL;
  // The 1.8 file format: checksummed superblock and object headers (the earliest format has none),
  // attributes of any size (the job text); every HDF5 since 1.8 reads it. Not the 1.10 format,
  // although its chunk indexes carry checksums too: its superblock records "open for writing", and
  // after a kill -9 no HDF5 program opens the file again until `h5clear -s` -- resume included.
  PropListHandle fapl(check_id(H5Pcreate(H5P_FILE_ACCESS), "H5Pcreate"));
  check_status(H5Pset_libver_bounds(fapl.get(), H5F_LIBVER_V18, H5F_LIBVER_V18), "H5Pset_libver_bounds");
  rf.file_ = FileHandle(check_id(H5Fcreate(options.path.c_str(), flags, H5P_DEFAULT, fapl.get()),
                                 fmt::format("cannot create {}", options.path.string())));
  rf.lock_ = OutputLock(options.path);
  const hid_t f = rf.file_.get();

  // One chunk-row count for every per-task dataset, so that a write-behind window covers whole chunks.
  rf.chunk_rows_ = chunk_rows_for(options.n_tasks, options.results);

  std::vector<ColumnSpec> all = options.results;
  all.push_back({"state", ElementType::u8, {}, "", "0 pending, 1 done, 2 failed"});
  all.push_back({"rank", ElementType::i32, {}, "", "rank that computed the task (-1: not yet)"});
  all.push_back({"seconds", ElementType::f64, {}, "s", "wall seconds the kernel spent on the task"});
  all.push_back({"attempts", ElementType::u32, {}, "", "times the task ran: its failed attempts, and the one that succeeded"});
  rf.has_attempts_ = true;

  GroupHandle results = create_group(f, "results", true);
  GroupHandle tasks = create_group(f, "tasks", true);
  for (std::size_t c = 0; c < all.size(); ++c) {
    const ColumnSpec& spec = all[c];
    const bool is_result = c < options.results.size();
    std::vector<hsize_t> dims{options.n_tasks};
    std::vector<hsize_t> chunk{rf.chunk_rows_};
    for (auto d : stored_shape(spec)) {
      dims.push_back(d);
      chunk.push_back(d);
    }
    DataspaceHandle space(check_id(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), "space"));
    PropListHandle dcpl = checksummed_chunks(chunk, spec.type == ElementType::text);
    if (spec.name == "rank" && !is_result) {
      const std::int32_t fill = -1;
      check_status(H5Pset_fill_value(dcpl.get(), H5T_NATIVE_INT32, &fill), "H5Pset_fill_value");
    }
    const hid_t parent = is_result ? results.get() : tasks.get();
    Column col;
    col.spec = spec;
    col.path = (is_result ? "/results/" : "/tasks/") + spec.name;
    col.bytes = spec.bytes_per_task();
    col.type = stored_type(spec.type, spec.bytes_per_task());
    col.dataset = DatasetHandle(check_id(
        H5Dcreate2(parent, spec.name.c_str(), col.type.get(), space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT),
        "create " + col.path));
    if (spec.type == ElementType::text) {
      write_string_attribute(col.dataset.get(), "_Encoding", "utf-8");  // xarray decodes it to str
    }
    if (!spec.description.empty()) {
      write_string_attribute(col.dataset.get(), "description", spec.description);
    }
    if (!spec.unit.empty()) {
      write_string_attribute(col.dataset.get(), "unit", spec.unit);
      write_string_attribute(col.dataset.get(), "units", spec.unit);  // the CF name xarray's plots read
    }
    rf.columns_.push_back(std::move(col));
  }

  rf.find_whole_chunk_columns();
  if (options.params != nullptr && !options.params->empty()) {
    write_params(f, *options.params, options.n_tasks, options.cancelled);
  }
  DatatypeHandle chunk_type = chunk_row_type();
  DatatypeHandle failure_type = failure_row_type();
  // Rows to expect: up to one chunk per task (ss), and about one failure row per task at worst.
  rf.chunks_ = create_table(f, "chunks", chunk_type.get(), table_chunk_rows(options.n_tasks));
  rf.failures_ = create_table(f, "failures", failure_type.get(), table_chunk_rows(options.n_tasks));

  // The netCDF-4 view. Dimensions: `task` on every per-task dataset, `FIELD_dimK` for a result's own
  // axes, `chunk` and `failure` on the tables (`rank` on /ranks, written at the end). At the root,
  // hard links to every result and parameter (the same datasets as /results/X and /params/X, no
  // copy), and each result's CF `coordinates` attribute names the parameters: xarray opens the root
  // as a Dataset over `task` with the parameters as coordinates. A name the root already uses (a
  // group, a table, a dimension, a result named like an axis) keeps only its /results or /params path.
  {
    std::set<std::string, std::less<>> taken{"params", "results", "tasks", "chunks", "failures",
                                             "ranks",  "task",    "chunk", "failure", "rank"};
    DatasetHandle task = create_dimension(f, "task", options.n_tasks, false);
    for (const Column& col : rf.columns_) {
      attach(col.dataset.get(), task.get(), 0, col.path);
      const std::vector<std::uint64_t> shape = stored_shape(col.spec);
      for (std::size_t k = 0; k < shape.size(); ++k) {
        const std::string name = fmt::format("{}_dim{}", col.spec.name, k + 1);
        if (taken.insert(name).second) {
          DatasetHandle dim = create_dimension(f, name, shape[k], false);
          attach(col.dataset.get(), dim.get(), static_cast<unsigned>(k + 1), col.path);
        }
      }
    }
    DatasetHandle chunk = create_dimension(f, "chunk", 0, true);
    attach(rf.chunks_.get(), chunk.get(), 0, "/chunks");
    DatasetHandle failure = create_dimension(f, "failure", 0, true);
    attach(rf.failures_.get(), failure.get(), 0, "/failures");
    std::vector<std::string> linked;
    for (std::size_t c = 0; c < options.results.size(); ++c) {
      const std::string& name = rf.columns_[c].spec.name;
      if (taken.insert(name).second) {
        check_status(H5Lcreate_hard(f, rf.columns_[c].path.c_str(), f, name.c_str(), H5P_DEFAULT, H5P_DEFAULT),
                     "link /" + name);
      }
    }
    std::string coordinates;
    if (options.params != nullptr) {
      for (const job::Axis& axis : options.params->axes()) {
        const std::string path = "/params/" + axis.name();
        DatasetHandle ds(check_id(H5Dopen2(f, path.c_str(), H5P_DEFAULT), "open " + path));
        attach(ds.get(), task.get(), 0, path);
        if (taken.insert(axis.name()).second) {
          check_status(H5Lcreate_hard(f, path.c_str(), f, axis.name().c_str(), H5P_DEFAULT, H5P_DEFAULT),
                       "link /" + axis.name());
          if (axis.name().find(' ') == std::string::npos) {  // CF separates names by blanks
            coordinates += (coordinates.empty() ? "" : " ") + axis.name();
          }
        }
      }
    }
    if (!coordinates.empty()) {
      for (std::size_t c = 0; c < options.results.size(); ++c) {
        write_string_attribute(rf.columns_[c].dataset.get(), "coordinates", coordinates);
      }
    }
  }

  write_attribute(f, "taskfarm_format", kFormatVersion);
  write_attribute(f, "status", std::string("running"));
  write_attribute(f, "n_tasks", static_cast<std::int64_t>(options.n_tasks));
  write_attribute(f, "created", utc_now());
  for (const auto& [name, value] : options.attributes) {
    write_attribute(f, name, value);
  }
  rf.flush();
  return rf;
}

ResultsFile ResultsFile::open(const std::filesystem::path& path, bool writable) {
  silence_hdf5_errors();
  if (!std::filesystem::exists(path)) {
    throw InputError(fmt::format("{}: no such file", path.string()));
  }
  switch (OutputLock::probe(path)) {
    case Holder::writer:
      throw InputError(fmt::format("{}: a running job is writing this file (it holds the file's write lock); "
                                   "wait for that job to end or stop it first",
                                   path.string()));
    case Holder::readers:
      if (writable) {
        throw InputError(fmt::format("{}: another program has this file open for reading (h5py, HDFView, "
                                     "taskfarm inspect: HDF5's shared lock); close it there first",
                                     path.string()));
      }
      break;
    case Holder::none:
      break;
  }
  if (!std::filesystem::is_regular_file(path)) {
    throw InputError(fmt::format("{}: not a regular file", path.string()));
  }
  // Opening read-write would write a superblock into an empty file: check the signature first.
  if (H5Fis_hdf5(path.c_str()) <= 0) {
    H5Eclear2(H5E_DEFAULT);
    throw InputError(fmt::format("{}: not a readable HDF5 file (empty, truncated or corrupt)", path.string()));
  }
  ResultsFile rf;
  const hid_t id = H5Fopen(path.c_str(), writable ? H5F_ACC_RDWR : H5F_ACC_RDONLY, H5P_DEFAULT);
  if (id < 0) {
    H5Eclear2(H5E_DEFAULT);
    throw InputError(fmt::format("{}: not a readable HDF5 file (truncated or corrupt)", path.string()));
  }
  rf.file_ = FileHandle(id);
  if (writable) {
    rf.lock_ = OutputLock(path);
    if (!rf.lock_.conflicted()) {  // this writer owns the output now: a status left by a killed run is stale
      remove_live_status(path);
    }
    if (rf.lock_.conflicted()) {  // a writer that turned HDF5's locking off got here between probe and open
      throw InputError(fmt::format("{}: a running job is writing this file (it holds the file's write lock); "
                                   "wait for that job to end or stop it first",
                                   path.string()));
    }
  }
  if (H5Aexists(id, "taskfarm_format") <= 0) {
    throw InputError(fmt::format("{}: an HDF5 file, but not a taskfarm output (no taskfarm_format attribute)",
                                 path.string()));
  }
  try {
    const auto n = rf.attribute("n_tasks");
    rf.n_tasks_ = n ? static_cast<TaskIndex>(std::get<std::int64_t>(*n)) : 0;
    std::vector<std::string> paths;
    GroupHandle results(check_id(H5Gopen2(id, "results", H5P_DEFAULT), "open /results"));
    H5G_info_t info{};
    check_status(H5Gget_info(results.get(), &info), "H5Gget_info");
    for (hsize_t i = 0; i < info.nlinks; ++i) {
      char name[256] = {};
      check_status(static_cast<herr_t>(H5Lget_name_by_idx(results.get(), ".", H5_INDEX_CRT_ORDER, H5_ITER_INC, i,
                                                          name, sizeof name, H5P_DEFAULT)),
                   "list /results");
      paths.push_back(std::string("/results/") + name);
    }
    for (const char* t : {"/tasks/state", "/tasks/rank", "/tasks/seconds"}) {
      paths.emplace_back(t);
    }
    rf.has_attempts_ = H5Lexists(id, "/tasks/attempts", H5P_DEFAULT) > 0;  // since format 4
    if (rf.has_attempts_) {
      paths.emplace_back("/tasks/attempts");
    }
    for (const std::string& p : paths) {
      Column col;
      col.path = p;
      col.spec.name = p.substr(p.rfind('/') + 1);
      col.dataset = DatasetHandle(check_id(H5Dopen2(id, p.c_str(), H5P_DEFAULT), "open " + p));
      DatatypeHandle type(check_id(H5Dget_type(col.dataset.get()), "H5Dget_type"));
      const auto et = element_type_of(type.get());
      if (!et) {
        throw InputError(fmt::format("{}: dataset {} has a type taskfarm does not write", path.string(), p));
      }
      col.spec.type = *et;
      col.type = DatatypeHandle(check_id(H5Tget_native_type(type.get(), H5T_DIR_ASCEND), "H5Tget_native_type"));
      DataspaceHandle space(check_id(H5Dget_space(col.dataset.get()), "H5Dget_space"));
      const int rank = H5Sget_simple_extent_ndims(space.get());
      std::vector<hsize_t> dims(static_cast<std::size_t>(std::max(rank, 1)));
      H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
      if (dims[0] != rf.n_tasks_) {
        throw InputError(fmt::format("{}: {} has {} rows, expected n_tasks = {}", path.string(), p, dims[0], rf.n_tasks_));
      }
      col.spec.shape.assign(dims.begin() + 1, dims.end());
      if (col.spec.type == ElementType::text) {
        col.spec.shape.insert(col.spec.shape.begin(), H5Tget_size(type.get()));  // bytes per task
      }
      col.bytes = col.spec.bytes_per_task();
      PropListHandle dcpl(check_id(H5Dget_create_plist(col.dataset.get()), "H5Dget_create_plist"));
      std::vector<hsize_t> chunk(dims.size());
      if (H5Pget_chunk(dcpl.get(), static_cast<int>(chunk.size()), chunk.data()) > 0) {
        rf.chunk_rows_ = chunk[0];
      }
      rf.columns_.push_back(std::move(col));
    }
    rf.find_whole_chunk_columns();
    rf.chunks_ = DatasetHandle(check_id(H5Dopen2(id, "chunks", H5P_DEFAULT), "open /chunks"));
    rf.failures_ = DatasetHandle(check_id(H5Dopen2(id, "failures", H5P_DEFAULT), "open /failures"));
  } catch (const H5Error& e) {
    throw InputError(fmt::format("{}: damaged taskfarm output: {}", path.string(), e.what()));
  }
  return rf;
}

void ResultsFile::write_tasks(std::size_t column, TaskRange range, const void* data) {
  if (range.empty()) {
    return;
  }
  const Column& col = columns_.at(column);
  DataspaceHandle file_space(check_id(H5Dget_space(col.dataset.get()), "H5Dget_space"));
  std::vector<hsize_t> start{range.begin};
  std::vector<hsize_t> count{range.size()};
  hsize_t values = range.size();
  for (auto d : stored_shape(col.spec)) {
    start.push_back(0);
    count.push_back(d);
    values *= d;
  }
  check_status(H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr),
               "select hyperslab");
  DataspaceHandle mem_space(check_id(H5Screate_simple(1, &values, nullptr), "H5Screate_simple"));
  check_status(H5Dwrite(col.dataset.get(), col.type.get(), mem_space.get(), file_space.get(),
                        H5P_DEFAULT, data),
               fmt::format("write {} [{}, {})", col.path, range.begin, range.end));
}

void ResultsFile::find_whole_chunk_columns() {
  for (Column& col : columns_) {
    PropListHandle dcpl(check_id(H5Dget_create_plist(col.dataset.get()), "H5Dget_create_plist"));
    DatatypeHandle stored(check_id(H5Dget_type(col.dataset.get()), "H5Dget_type"));
    const std::vector<std::uint64_t> shape = stored_shape(col.spec);
    std::vector<hsize_t> chunk(shape.size() + 1);
    bool whole = H5Pget_nfilters(dcpl.get()) == 1 &&
                 H5Pget_filter2(dcpl.get(), 0, nullptr, nullptr, nullptr, 0, nullptr, nullptr) == H5Z_FILTER_FLETCHER32 &&
                 H5Tequal(stored.get(), col.type.get()) > 0 &&
                 H5Pget_chunk(dcpl.get(), static_cast<int>(chunk.size()), chunk.data()) == static_cast<int>(chunk.size()) &&
                 chunk[0] == chunk_rows_;
    for (std::size_t k = 0; whole && k < shape.size(); ++k) {
      whole = chunk[k + 1] == shape[k];  // a chunk holds whole rows: its bytes are rows x column_bytes
    }
    col.whole_chunks = whole;
  }
}

void ResultsFile::write_chunk(std::size_t column, TaskIndex first, std::span<std::byte> chunk) {
  const Column& col = columns_.at(column);
  const std::size_t bytes = chunk_rows_ * col.bytes;
  if (!col.whole_chunks || first % chunk_rows_ != 0 || first >= n_tasks_ || chunk.size() != bytes + kChecksumBytes) {
    throw Error(fmt::format("write_chunk {} at task {}: not a whole chunk of this column", col.path, first));
  }
  std::vector<hsize_t> offset(stored_shape(col.spec).size() + 1, 0);
  offset[0] = first;
  write_raw_chunk(col.dataset.get(), offset, chunk,
                  fmt::format("write {} [{}, {})", col.path, first, std::min(n_tasks_, first + chunk_rows_)));
}

void ResultsFile::read_tasks(std::size_t column, TaskRange range, void* data) const {
  if (range.empty()) {
    return;
  }
  const Column& col = columns_.at(column);
  DataspaceHandle file_space(check_id(H5Dget_space(col.dataset.get()), "H5Dget_space"));
  std::vector<hsize_t> start{range.begin};
  std::vector<hsize_t> count{range.size()};
  hsize_t values = range.size();
  for (auto d : stored_shape(col.spec)) {
    start.push_back(0);
    count.push_back(d);
    values *= d;
  }
  check_status(H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr),
               "select hyperslab");
  DataspaceHandle mem_space(check_id(H5Screate_simple(1, &values, nullptr), "H5Screate_simple"));
  check_status(H5Dread(col.dataset.get(), col.type.get(), mem_space.get(), file_space.get(), H5P_DEFAULT,
                       data),
               fmt::format("read {} [{}, {})", col.path, range.begin, range.end));
}

void ResultsFile::append_chunks(std::span<const ChunkRow> rows) {
  DatatypeHandle type = chunk_row_type();
  append_rows(chunks_.get(), type.get(), rows.size(), rows.data());
}

void ResultsFile::append_failures(std::span<const FailureRow> rows) {
  std::vector<FailureDisk> disk;
  disk.reserve(rows.size());
  for (const FailureRow& r : rows) {
    disk.push_back({r.task, r.attempt, r.rank, r.host.c_str(), r.message.c_str()});
  }
  DatatypeHandle type = failure_row_type();
  append_rows(failures_.get(), type.get(), disk.size(), disk.data());
}

void ResultsFile::write_ranks(std::span<const RankRow> rows) {
  std::vector<RankDisk> disk;
  for (const RankRow& r : rows) {
    disk.push_back({r.rank, r.host.c_str(), r.tasks, r.chunks, r.busy_seconds, r.cpu_seconds, r.peak_rss_mib});
  }
  DatatypeHandle type = rank_row_type();
  const bool has_dimension = H5Lexists(file_.get(), "rank", H5P_DEFAULT) > 0;
  DatasetHandle dim = has_dimension ? DatasetHandle(check_id(H5Dopen2(file_.get(), "rank", H5P_DEFAULT), "open /rank"))
                                    : create_dimension(file_.get(), "rank", 0, true);
  if (H5Lexists(file_.get(), "ranks", H5P_DEFAULT) > 0) {  // a resume's run replaces the table
    DatasetHandle old(check_id(H5Dopen2(file_.get(), "ranks", H5P_DEFAULT), "open /ranks"));
    const htri_t attached = H5DSis_attached(old.get(), dim.get(), 0);
    check_status(attached < 0 ? -1 : 0, "H5DSis_attached /ranks");
    if (attached > 0) {
      check_status(H5DSdetach_scale(old.get(), dim.get(), 0), "detach /rank");
    }
    old.reset();
    check_status(H5Ldelete(file_.get(), "ranks", H5P_DEFAULT), "H5Ldelete /ranks");
  }
  // Written once, whole: its own size in rows (2 rows of 4096 cost as much as /chunks above).
  const hsize_t chunk_rows = std::min<hsize_t>(std::bit_ceil(std::max<std::size_t>(1, rows.size())), kMaxTableChunkRows);
  DatasetHandle ds = create_table(file_.get(), "ranks", type.get(), chunk_rows);
  append_rows(ds.get(), type.get(), disk.size(), disk.data());
  attach(ds.get(), dim.get(), 0, "/ranks");
}

std::vector<std::string> ResultsFile::param_names() const {
  std::vector<std::string> names;
  if (H5Lexists(file_.get(), "params", H5P_DEFAULT) <= 0) {
    return names;
  }
  GroupHandle params(check_id(H5Gopen2(file_.get(), "params", H5P_DEFAULT), "open /params"));
  H5G_info_t info{};
  check_status(H5Gget_info(params.get(), &info), "H5Gget_info /params");
  // The job's axis order where the group tracks it (every taskfarm output does), else name order.
  unsigned crt_flags = 0;
  PropListHandle gcpl(check_id(H5Gget_create_plist(params.get()), "H5Gget_create_plist /params"));
  check_status(H5Pget_link_creation_order(gcpl.get(), &crt_flags), "H5Pget_link_creation_order");
  const H5_index_t index = (crt_flags & H5P_CRT_ORDER_INDEXED) != 0 ? H5_INDEX_CRT_ORDER : H5_INDEX_NAME;
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    const ssize_t length = H5Lget_name_by_idx(params.get(), ".", index, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
    check_status(length < 0 ? -1 : 0, "list /params");
    std::string name(static_cast<std::size_t>(length), '\0');
    check_status(H5Lget_name_by_idx(params.get(), ".", index, H5_ITER_INC, i, name.data(), name.size() + 1,
                                    H5P_DEFAULT) < 0 ? -1 : 0,
                 "list /params");
    names.push_back(std::move(name));
  }
  return names;
}

ParamValues ResultsFile::read_param(const std::string& name, TaskRange range) const {
  const std::string path = "/params/" + name;
  DatasetHandle ds(check_id(H5Dopen2(file_.get(), path.c_str(), H5P_DEFAULT), "open " + path));
  DatatypeHandle type(check_id(H5Dget_type(ds.get()), "H5Dget_type " + path));
  const hsize_t start = range.begin;
  const hsize_t count = range.size();
  DataspaceHandle file_space(check_id(H5Dget_space(ds.get()), "H5Dget_space " + path));
  check_status(H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, &start, nullptr, &count, nullptr), "select " + path);
  DataspaceHandle mem_space(check_id(H5Screate_simple(1, &count, nullptr), "H5Screate_simple"));
  switch (H5Tget_class(type.get())) {
    case H5T_STRING: {
      DatatypeHandle mem = vlen_string_type();
      std::vector<char*> raw(count);
      check_status(H5Dread(ds.get(), mem.get(), mem_space.get(), file_space.get(), H5P_DEFAULT, raw.data()), "read " + path);
      std::vector<std::string> out;
      out.reserve(count);
      for (const char* v : raw) {
        out.emplace_back(v != nullptr ? v : "");
      }
      H5Dvlen_reclaim(mem.get(), mem_space.get(), H5P_DEFAULT, raw.data());
      return out;
    }
    case H5T_INTEGER: {
      std::vector<std::int64_t> out(count);
      check_status(H5Dread(ds.get(), H5T_NATIVE_INT64, mem_space.get(), file_space.get(), H5P_DEFAULT, out.data()),
                   "read " + path);
      return out;
    }
    default: {
      std::vector<double> out(count);
      check_status(H5Dread(ds.get(), H5T_NATIVE_DOUBLE, mem_space.get(), file_space.get(), H5P_DEFAULT, out.data()),
                   "read " + path);
      return out;
    }
  }
}

std::vector<ChunkRow> ResultsFile::read_chunks() const {
  std::vector<ChunkRow> rows(table_size(chunks_.get()));
  const DatatypeHandle stored(check_id(H5Dget_type(chunks_.get()), "H5Dget_type(/chunks)"));
  DatatypeHandle type = chunk_row_type(H5Tget_member_index(stored.get(), "speculative") >= 0);
  if (!rows.empty()) {
    check_status(H5Dread(chunks_.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, rows.data()), "read /chunks");
  }
  return rows;
}

std::vector<FailureRow> ResultsFile::read_failures() const {
  const hsize_t n = table_size(failures_.get());
  std::vector<FailureDisk> disk(n);
  DatatypeHandle type = failure_row_type();
  std::vector<FailureRow> rows;
  if (n == 0) {
    return rows;
  }
  check_status(H5Dread(failures_.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, disk.data()), "read /failures");
  for (const FailureDisk& d : disk) {
    rows.push_back({d.task, d.attempt, d.rank, d.host != nullptr ? d.host : "", d.message != nullptr ? d.message : ""});
  }
  DataspaceHandle space(check_id(H5Dget_space(failures_.get()), "H5Dget_space"));
  H5Dvlen_reclaim(type.get(), space.get(), H5P_DEFAULT, disk.data());
  return rows;
}

void ResultsFile::set_attribute(std::string_view name, const AttributeValue& value) {
  write_attribute(file_.get(), name, value);
}

std::optional<AttributeValue> ResultsFile::attribute(std::string_view name) const {
  const std::string n(name);
  if (H5Aexists(file_.get(), n.c_str()) <= 0) {
    return std::nullopt;
  }
  AttributeHandle attr(check_id(H5Aopen(file_.get(), n.c_str(), H5P_DEFAULT), "open attribute " + n));
  DatatypeHandle type(check_id(H5Aget_type(attr.get()), "H5Aget_type"));
  switch (H5Tget_class(type.get())) {
    case H5T_STRING: {
      if (H5Tis_variable_str(type.get()) > 0) {
        DatatypeHandle mem = vlen_string_type();
        char* ptr = nullptr;
        check_status(H5Aread(attr.get(), mem.get(), &ptr), "read attribute " + n);
        std::string out = ptr != nullptr ? ptr : "";
        H5free_memory(ptr);
        return out;
      }
      std::string out(H5Tget_size(type.get()), '\0');
      check_status(H5Aread(attr.get(), type.get(), out.data()), "read attribute " + n);
      return out.substr(0, out.find('\0'));
    }
    case H5T_INTEGER: {
      std::int64_t v = 0;
      check_status(H5Aread(attr.get(), H5T_NATIVE_INT64, &v), "read attribute " + n);
      return v;
    }
    case H5T_FLOAT: {
      double v = 0;
      check_status(H5Aread(attr.get(), H5T_NATIVE_DOUBLE, &v), "read attribute " + n);
      return v;
    }
    default:
      return std::nullopt;
  }
}

std::string ResultsFile::text_attribute(std::string_view name) const {
  const auto v = attribute(name);
  if (!v || !std::holds_alternative<std::string>(*v)) {
    throw Error(fmt::format("output file has no text attribute '{}'", name));
  }
  return std::get<std::string>(*v);
}

void ResultsFile::flush() {
  check_status(H5Fflush(file_.get(), H5F_SCOPE_GLOBAL), "H5Fflush");
  if (lock_.still_at_path()) {
    return;
  }
  // Removed, or renamed over: our writes go to an inode no path names. Save it before it is gone.
  const std::string rescue = fmt::format("{}.orphaned-{}", lock_.path().string(), getpid());
  std::string saved = "could not save it";
  if (const int out = ::open(rescue.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644); out >= 0) {
    std::vector<char> buf(std::size_t{1} << 20);
    off_t at = 0;
    bool ok = true;
    for (ssize_t n; (n = ::pread(lock_.fd(), buf.data(), buf.size(), at)) > 0; at += n) {
      ok = ok && ::write(out, buf.data(), static_cast<std::size_t>(n)) == n;
    }
    ok = ::close(out) == 0 && ok;
    saved = ok ? fmt::format("its contents so far are saved as {}", rescue) : "saving it failed (disk full?)";
  }
  throw Error(fmt::format("{}: the output file was removed or replaced while this job was writing it; {}",
                          lock_.path().string(), saved));
}

void ResultsFile::sync() {
  flush();
  if (lock_.fd() >= 0 && ::fsync(lock_.fd()) != 0) {  // the inode's pages, whichever descriptor wrote them
    throw Error(fmt::format("{}: fsync failed: {}", lock_.path().string(), std::strerror(errno)));
  }
}

bool ResultsFile::has_checksums() const {
  const Column& state = columns_.at(state_column());
  PropListHandle dcpl(check_id(H5Dget_create_plist(state.dataset.get()), "H5Dget_create_plist"));
  unsigned flags = 0;
  std::size_t n_values = 0;
  unsigned config = 0;
  const bool found =
      H5Pget_filter_by_id2(dcpl.get(), H5Z_FILTER_FLETCHER32, &flags, &n_values, nullptr, 0, nullptr, &config) >= 0;
  if (!found) {
    H5Eclear2(H5E_DEFAULT);  // "not found" is an answer, not an error
  }
  return found;
}

std::vector<Damage> ResultsFile::find_damage() const {
  std::vector<Damage> damage;
  std::vector<std::byte> block;
  for (std::size_t c = 0; c < columns_.size(); ++c) {
    block.resize(chunk_rows_ * columns_[c].bytes);
    for (TaskIndex b = 0; b < n_tasks_; b += chunk_rows_) {
      const TaskRange r{b, std::min(n_tasks_, b + chunk_rows_)};
      try {
        read_tasks(c, r, block.data());
      } catch (const H5Error& e) {
        damage.push_back({columns_[c].path, r, e.what()});
      }
    }
  }
  // /params: which values each task had (the job text can regenerate them, but a reader uses these).
  if (H5Lexists(file_.get(), "params", H5P_DEFAULT) > 0) {
    GroupHandle params(check_id(H5Gopen2(file_.get(), "params", H5P_DEFAULT), "open /params"));
    H5G_info_t info{};
    check_status(H5Gget_info(params.get(), &info), "H5Gget_info");
    for (hsize_t i = 0; i < info.nlinks; ++i) {
      char name[256] = {};
      if (H5Lget_name_by_idx(params.get(), ".", H5_INDEX_NAME, H5_ITER_INC, i, name, sizeof name, H5P_DEFAULT) < 0) {
        damage.push_back({"/params", {}, "cannot list /params"});
        H5Eclear2(H5E_DEFAULT);
        continue;
      }
      const std::string path = std::string("/params/") + name;
      try {
        DatasetHandle ds(check_id(H5Dopen2(params.get(), name, H5P_DEFAULT), "open " + path));
        DatatypeHandle type(check_id(H5Dget_type(ds.get()), "H5Dget_type"));
        const bool text = H5Tget_class(type.get()) == H5T_STRING;
        DatatypeHandle mem = text ? vlen_string_type() : DatatypeHandle(check_id(H5Tcopy(H5T_NATIVE_DOUBLE), "H5Tcopy"));
        constexpr hsize_t kBlock = kParamsChunkRows;
        std::vector<std::array<std::byte, 8>> values(kBlock);
        for (hsize_t b = 0; b < n_tasks_; b += kBlock) {
          const hsize_t count = std::min<hsize_t>(kBlock, n_tasks_ - b);
          DataspaceHandle file_space(check_id(H5Dget_space(ds.get()), "H5Dget_space"));
          check_status(H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, &b, nullptr, &count, nullptr), "select");
          DataspaceHandle mem_space(check_id(H5Screate_simple(1, &count, nullptr), "H5Screate_simple"));
          if (H5Dread(ds.get(), mem.get(), mem_space.get(), file_space.get(), H5P_DEFAULT, values.data()) < 0) {
            damage.push_back({path, {b, b + count}, fmt::format("read {}: {}", path, "checksum mismatch or unreadable")});
            H5Eclear2(H5E_DEFAULT);
            continue;
          }
          if (text) {
            H5Dvlen_reclaim(mem.get(), mem_space.get(), H5P_DEFAULT, values.data());
          }
        }
      } catch (const H5Error& e) {
        damage.push_back({path, {}, e.what()});
      }
    }
  }
  const auto check_table = [&](const char* name, auto&& read) {
    try {
      read();
    } catch (const H5Error& e) {
      damage.push_back({std::string("/") + name, {}, e.what()});
    }
  };
  check_table("chunks", [&] { (void)read_chunks(); });
  check_table("failures", [&] { (void)read_failures(); });
  if (H5Lexists(file_.get(), "ranks", H5P_DEFAULT) > 0) {
    check_table("ranks", [&] {
      DatasetHandle ds(check_id(H5Dopen2(file_.get(), "ranks", H5P_DEFAULT), "open /ranks"));
      DatatypeHandle type = rank_row_type();
      std::vector<RankDisk> rows(table_size(ds.get()));
      if (!rows.empty()) {
        check_status(H5Dread(ds.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, rows.data()), "read /ranks");
        DataspaceHandle space(check_id(H5Dget_space(ds.get()), "H5Dget_space"));
        H5Dvlen_reclaim(type.get(), space.get(), H5P_DEFAULT, rows.data());
      }
    });
  }
  return damage;
}

}  // namespace taskfarm::io
