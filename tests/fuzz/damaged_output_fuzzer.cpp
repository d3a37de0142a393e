// libFuzzer target: a real taskfarm output with bytes flipped inside its stored data, read as
// `taskfarm inspect`, `verify` and `resume` read it. The property: nothing crashes, and whatever
// resume carries over from the damaged file equals the undamaged original, task for task (damage
// is found and recomputed, never passed off as results).
//
// The input is a list of 5-byte patches (4 bytes: where, 1 byte: XOR mask) applied inside the
// file's data chunks (found with H5Dget_chunk_info), each byte at most once and never with the
// mask 0xFF: a 16-bit word turned from 0x0000 into 0xFFFF (or back) is the one change Fletcher32
// cannot see (its sums are modulo 65535), a documented limit of the checksum, not of taskfarm.
// HDF5's own metadata parser is not the subject here (HDF5 1.10 is not hardened against crafted
// metadata); metadata damage is covered by the end-to-end refusal tests.

#include <hdf5.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <vector>

#include "taskfarm/io/carry_over.hpp"
#include "taskfarm/io/results_file.hpp"
#include "taskfarm/io/task_state_log.hpp"

namespace {

namespace fs = std::filesystem;
using taskfarm::TaskIndex;
using taskfarm::TaskRange;
namespace io = taskfarm::io;
namespace job = taskfarm::job;

struct Region {
  std::uint64_t offset;
  std::uint64_t size;
};

fs::path g_dir;
std::vector<char> g_original;  // the undamaged file's bytes
std::vector<Region> g_regions;  // its data chunks
const job::ParamSpace g_params({job::Axis::linspace("T", 1.0, 3.0, 40), job::Axis::integer_range("seed", 0, 50)},
                               job::Combine::product);

io::ResultsFile::CreateOptions layout(const fs::path& path) {
  io::ResultsFile::CreateOptions o;
  o.path = path;
  o.n_tasks = g_params.size();
  o.results = {{"energy", taskfarm::ElementType::f64, {}, "1/spin", ""},
               {"hist", taskfarm::ElementType::u32, {5}, "", ""}};
  o.params = &g_params;
  o.overwrite = true;
  return o;
}

std::vector<char> read_all(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void build_original() {
  g_dir = fs::temp_directory_path() / ("taskfarm_fuzz_" + std::to_string(getpid()));
  fs::create_directories(g_dir);
  const fs::path path = g_dir / "original.h5";
  {
    io::ResultsFile f = io::ResultsFile::create(layout(path));
    const TaskIndex n = f.n_tasks();
    std::vector<double> energy(n);
    std::vector<std::uint32_t> hist(5 * n);
    std::vector<std::uint8_t> state(n, 1);
    std::vector<std::int32_t> rank(n);
    std::vector<double> seconds(n);
    for (TaskIndex t = 0; t < n; ++t) {
      energy[t] = -2.0 + 1e-3 * static_cast<double>(t);
      for (int k = 0; k < 5; ++k) {
        hist[5 * t + k] = static_cast<std::uint32_t>(t * 7 + k);
      }
      state[t] = t % 11 == 3 ? 0 : t % 13 == 5 ? 2 : 1;  // some pending, some failed
      rank[t] = static_cast<std::int32_t>(t % 3);
      seconds[t] = 0.25 * static_cast<double>(t % 17);
    }
    f.write_tasks(0, {0, n}, energy.data());
    f.write_tasks(1, {0, n}, hist.data());
    f.write_tasks(f.state_column(), {0, n}, state.data());
    f.write_tasks(f.rank_column(), {0, n}, rank.data());
    f.write_tasks(f.seconds_column(), {0, n}, seconds.data());
    f.append_failures(std::vector<io::FailureRow>{{5, 1, 0, "node1", "diverged"}, {18, 2, 1, "node2", "nan"}});
    f.append_chunks(std::vector<io::ChunkRow>{{0, 1000, 1, 0.0, 0.1, 0.5}, {1000, 2000, 0, 0.1, 0.2, 0.9}});
  }
  g_original = read_all(path);
  const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  for (const char* name : {"/results/energy", "/results/hist", "/tasks/state", "/tasks/rank", "/tasks/seconds",
                           "/params/T", "/params/seed", "/chunks", "/failures"}) {
    const hid_t ds = H5Dopen2(file, name, H5P_DEFAULT);
    const hid_t space = H5Dget_space(ds);  // 1.10 wants the dataset's own space here, not H5S_ALL
    hsize_t n = 0;
    H5Dget_num_chunks(ds, space, &n);
    for (hsize_t i = 0; i < n; ++i) {
      hsize_t offset[2] = {0, 0};
      unsigned mask = 0;
      haddr_t address = 0;
      hsize_t size = 0;
      if (H5Dget_chunk_info(ds, space, i, offset, &mask, &address, &size) >= 0 && size > 0) {
        g_regions.push_back({address, size});
      }
    }
    H5Sclose(space);
    H5Dclose(ds);
  }
  H5Fclose(file);
  if (g_regions.empty()) {
    std::fprintf(stderr, "damaged_output_fuzzer: no data chunks found\n");
    std::abort();
  }
}

/// Every column of every task `copy` says is finished equals the original's, and every task the
/// original finished outside the damaged blocks is finished in `copy` (nothing intact is dropped).
void check_carried(const io::ResultsFile& original, const io::ResultsFile& copy, const std::vector<io::Damage>& damage) {
  const TaskIndex n = original.n_tasks();
  std::vector<std::uint8_t> state(n);
  std::vector<std::uint8_t> was(n);
  copy.read_tasks(copy.state_column(), {0, n}, state.data());
  original.read_tasks(original.state_column(), {0, n}, was.data());
  for (TaskIndex t = 0; t < n; ++t) {
    bool damaged = false;
    for (const io::Damage& d : damage) {
      damaged = damaged || (d.tasks.contains(t) && d.dataset.rfind("/params/", 0) != 0);
    }
    if (!damaged && state[t] != was[t]) {
      std::fprintf(stderr, "damaged_output_fuzzer: intact task %llu has state %d, was %d\n",
                   static_cast<unsigned long long>(t), state[t], was[t]);
      std::abort();
    }
  }
  for (std::size_t c = 0; c < original.column_count(); ++c) {
    const std::size_t w = original.column_bytes(c);
    std::vector<unsigned char> a(n * w);
    std::vector<unsigned char> b(n * w);
    original.read_tasks(c, {0, n}, a.data());
    copy.read_tasks(c, {0, n}, b.data());
    for (TaskIndex t = 0; t < n; ++t) {
      if (state[t] != 0 && std::memcmp(a.data() + t * w, b.data() + t * w, w) != 0) {
        std::fprintf(stderr, "damaged_output_fuzzer: task %llu of %s was carried over with a wrong value\n",
                     static_cast<unsigned long long>(t), original.column(c).name.c_str());
        std::abort();
      }
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  io::silence_hdf5_errors();
  build_original();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::vector<char> bytes = g_original;
  std::set<std::uint64_t> touched;
  for (std::size_t i = 0; i + 5 <= size && touched.size() < 64; i += 5) {
    std::uint32_t where = 0;
    std::memcpy(&where, data + i, 4);
    const std::uint8_t mask = data[i + 4] == 0xFF ? 0xFE : data[i + 4];
    const Region& r = g_regions[where % g_regions.size()];
    const std::uint64_t at = r.offset + (where / g_regions.size()) % r.size;
    if (mask == 0 || at >= bytes.size() || !touched.insert(at).second) {
      continue;
    }
    bytes[at] = static_cast<char>(static_cast<std::uint8_t>(bytes[at]) ^ mask);
  }
  const fs::path damaged = g_dir / "damaged.h5";
  const fs::path rebuilt = g_dir / "rebuilt.h5";
  {
    std::ofstream out(damaged, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  // Only the data changed (never metadata): the file must open, and everything after must work.
  const io::ResultsFile file = io::ResultsFile::open(damaged);
  const std::vector<io::Damage> damage = file.find_damage();  // verify
  try {
    (void)io::count_states(file);  // inspect: a damaged /tasks/state is an error, never a count
  } catch (const io::H5Error&) {
  }
  // resume: carry over what still holds into a fresh file (the identity mapping, as after damage)
  io::ResultsFile copy = io::ResultsFile::create(layout(rebuilt));
  (void)io::carry_over(file, copy, {}, damage);
  if (!copy.find_damage().empty()) {
    std::fprintf(stderr, "damaged_output_fuzzer: the rebuilt file is damaged\n");
    std::abort();
  }
  const io::ResultsFile original = io::ResultsFile::open(g_dir / "original.h5");
  check_carried(original, copy, damage);
  return 0;
}
