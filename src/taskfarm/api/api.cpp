// The public kernel API (taskfarm/taskfarm.hpp) on top of the internal one (app::Kernel,
// app::Registry): a user's App becomes a registered app whose kernel adapts each task.
#include "taskfarm/taskfarm.hpp"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <limits>
#include <utility>

#include <fmt/format.h>

#include "taskfarm/api/adapt.hpp"
#include "taskfarm/app/registry.hpp"
#include "taskfarm/cli/cli.hpp"
#include "taskfarm/core/element_type.hpp"
#include "taskfarm/core/utf8.hpp"
#include "taskfarm/farm/stop_signal.hpp"

namespace taskfarm {

namespace detail {

// The public Type and the internal ElementType are one list, in one order.
static_assert(static_cast<int>(Type::u8) == static_cast<int>(ElementType::u8) &&
              static_cast<int>(Type::i32) == static_cast<int>(ElementType::i32) &&
              static_cast<int>(Type::u32) == static_cast<int>(ElementType::u32) &&
              static_cast<int>(Type::i64) == static_cast<int>(ElementType::i64) &&
              static_cast<int>(Type::u64) == static_cast<int>(ElementType::u64) &&
              static_cast<int>(Type::f32) == static_cast<int>(ElementType::f32) &&
              static_cast<int>(Type::f64) == static_cast<int>(ElementType::f64) &&
              static_cast<int>(Type::text) == static_cast<int>(ElementType::text));

class SetupImpl {
 public:
  explicit SetupImpl(app::KernelContext& context) : context_(context), setup_(*this) {}
  Setup& setup() noexcept { return setup_; }

  app::KernelContext& context_;
  std::vector<app::Field> fields_;
  Setup setup_;
};

class TaskImpl {
 public:
  TaskImpl(TaskIndex index, const job::ParamSpace& params, const app::TaskOutput& out, std::size_t n_fields,
           const std::atomic<int>* stop, void (*poll)())
      : index_(index), params_(params), out_(out), n_fields_(n_fields), stop_(stop), poll_(poll) {}
  Task task() const { return Task(*this, index_, out_.slots(), n_fields_); }

  /// The axis `name`, or an Error that fails the task and names the axes there are.
  std::size_t axis(std::string_view name) const {
    if (const auto a = params_.find(name)) {
      return *a;
    }
    std::string names;
    for (const job::Axis& a : params_.axes()) {
      names += names.empty() ? a.name() : ", " + a.name();
    }
    throw Error(fmt::format("task {}: no parameter named '{}' (the job's axes: {})", index_, name, names));
  }
  /// A handle's axis, or an Error when the handle was never made by Setup::param.
  std::size_t resolved(std::size_t axis) const {
    if (axis >= params_.axes().size()) {
      throw Error(fmt::format("task {}: a parameter handle that was never resolved (Setup::param)", index_));
    }
    return axis;
  }
  [[noreturn]] void wrong_kind(std::string_view name, std::string_view wanted) const {
    throw Error(fmt::format("task {}: parameter '{}' holds {} values, not {}", index_, name,
                            kind_name(params_.axes()[axis(name)].kind()), wanted));
  }
  static std::string_view kind_name(job::Axis::Kind k) {
    return k == job::Axis::Kind::integer ? "integer" : k == job::Axis::Kind::real ? "real" : "text";
  }

  TaskIndex index_;
  const job::ParamSpace& params_;
  const app::TaskOutput& out_;
  std::size_t n_fields_;
  const std::atomic<int>* stop_;
  void (*poll_)();
};

/// An app::Kernel running a user's Kernel: builds a Task view per task.
class Adapter final : public app::Kernel {
 public:
  Adapter(std::unique_ptr<taskfarm::Kernel> user, std::vector<app::Field> fields, const job::ParamSpace& params,
          const std::atomic<int>* stop, void (*poll)())
      : user_(std::move(user)), fields_(std::move(fields)), params_(params), stop_(stop), poll_(poll) {}
  [[nodiscard]] std::vector<app::Field> schema() const override { return fields_; }
  void compute(TaskIndex task, const app::TaskOutput& out) override {
    const TaskImpl impl(task, params_, out, fields_.size(), stop_, poll_);
    Task view = impl.task();
    user_->compute(view);
  }
  [[nodiscard]] bool results_follow_parameters() const override { return user_->results_follow_parameters(); }
  [[nodiscard]] std::string describe(TaskIndex task) const override {
    const app::TaskOutput none(nullptr);
    const TaskImpl impl(task, params_, none, 0, nullptr, nullptr);  // no field: out() and set_text() throw
    const Task view = impl.task();
    return user_->describe(view);
  }

 private:
  std::unique_ptr<taskfarm::Kernel> user_;
  std::vector<app::Field> fields_;
  const job::ParamSpace& params_;
  const std::atomic<int>* stop_;
  void (*poll_)();
};

}  // namespace detail

using detail::SetupImpl;
using detail::TaskImpl;

// -- Setup ----------------------------------------------------------------------------------------------

Setup::Setup(SetupImpl& impl) : impl_(impl), settings_(impl.context_.settings) {}

int Setup::rank() const noexcept { return impl_.context_.rank; }
int Setup::threads() const noexcept { return impl_.context_.threads; }

std::size_t Setup::declare(std::string name, Type type, std::vector<std::uint64_t> shape, std::string unit,
                           std::string description) {
  for (const app::Field& f : impl_.fields_) {
    if (f.name == name) {
      throw Error(fmt::format("result field '{}' declared twice", name));
    }
  }
  impl_.fields_.push_back(
      {std::move(name), static_cast<ElementType>(type), std::move(shape), std::move(unit), std::move(description)});
  return impl_.fields_.size() - 1;
}

bool Setup::has_param(std::string_view name) const { return impl_.context_.params.find(name).has_value(); }

std::vector<std::string> Setup::param_names() const {
  std::vector<std::string> names;
  for (const job::Axis& a : impl_.context_.params.axes()) {
    names.push_back(a.name());
  }
  return names;
}

void Setup::default_params(std::string name, std::int64_t begin, std::int64_t end) {
  job::ParamSpace& params = impl_.context_.params;
  if (params.empty()) {
    params = job::ParamSpace({job::Axis::integer_range(std::move(name), begin, end)}, job::Combine::product);
  }
}

std::uint64_t Setup::tasks() const noexcept { return impl_.context_.params.size(); }

void Setup::fail_param(std::string_view name, std::string_view message) const {
  throw InputError(fmt::format("{}: [params] {}: {}", impl_.context_.source, name, message));
}

std::size_t Setup::resolve(std::string_view name, Holds holds) const {
  const job::ParamSpace& params = impl_.context_.params;
  const char* wanted = holds == Holds::real ? "numeric" : holds == Holds::text ? "text" : "integer";
  const auto axis = params.find(name);
  if (!axis) {
    fail_param(name, fmt::format("missing; app needs a parameter axis '{}' of {} values", name, wanted));
  }
  const job::Axis::Kind k = params.axes()[*axis].kind();
  const bool ok = holds == Holds::real   ? k != job::Axis::Kind::text
                  : holds == Holds::text ? k == job::Axis::Kind::text
                                         : k == job::Axis::Kind::integer;
  if (!ok) {
    fail_param(name, fmt::format("expected {} values, got {}", wanted, TaskImpl::kind_name(k)));
  }
  if (holds == Holds::int32 && params.axes()[*axis].size() > 0) {
    const auto [lo, hi] = params.axes()[*axis].integer_bounds();
    for (const std::int64_t v : {lo, hi}) {
      if (v < std::numeric_limits<int>::min() || v > std::numeric_limits<int>::max()) {
        fail_param(name, fmt::format("value {} does not fit an int (the kernel reads it as int)", v));
      }
    }
  }
  return *axis;
}

std::pair<double, double> Setup::real_bounds(std::size_t axis) const {
  return impl_.context_.params.axes().at(axis).real_bounds();
}

std::pair<std::int64_t, std::int64_t> Setup::integer_bounds(std::size_t axis) const {
  return impl_.context_.params.axes().at(axis).integer_bounds();
}

ParamKind Setup::param_kind(std::string_view name) const {
  const auto axis = impl_.context_.params.find(name);
  if (!axis) {
    fail_param(name, "missing; the job has no parameter axis of that name");
  }
  const job::Axis::Kind k = impl_.context_.params.axes()[*axis].kind();
  return k == job::Axis::Kind::integer ? ParamKind::integer : k == job::Axis::Kind::real ? ParamKind::real : ParamKind::text;
}

void Setup::require_param(std::string_view name, ParamKind kind) const {
  if (kind != ParamKind::real) {  // the others are what param<T>() accepts
    (void)resolve(name, kind == ParamKind::integer ? Holds::integer : kind == ParamKind::text ? Holds::text : Holds::real);
    return;
  }
  const job::ParamSpace& params = impl_.context_.params;
  const auto axis = params.find(name);
  if (!axis) {
    fail_param(name, fmt::format("missing; app needs a parameter axis '{}' of real values", name));
  }
  if (const job::Axis::Kind k = params.axes()[*axis].kind(); k != job::Axis::Kind::real) {
    fail_param(name, fmt::format("expected real values, got {}", TaskImpl::kind_name(k)));
  }
}

// -- Task -------------------------------------------------------------------------------------------------

bool Task::set_text(const TextOutput& field, std::string_view text, Keep keep) const {
  if (field.index() >= n_fields_) {
    undeclared_output();
  }
  const std::string valid = valid_utf8(text);
  const std::size_t room = field.max_bytes();
  std::size_t begin = 0;
  std::size_t end = valid.size();
  auto continuation = [&](std::size_t i) { return (static_cast<unsigned char>(valid[i]) & 0xC0U) == 0x80U; };
  if (end - begin > room) {  // cut between characters: never in the middle of a UTF-8 sequence
    if (keep == Keep::head) {
      end = room;
      while (end > 0 && continuation(end)) {
        --end;
      }
    } else {
      begin = valid.size() - room;
      while (begin < valid.size() && continuation(begin)) {
        ++begin;
      }
    }
  }
  auto* slot = reinterpret_cast<char*>(slots_[field.index()]);
  std::memcpy(slot, valid.data() + begin, end - begin);
  std::memset(slot + (end - begin), 0, room - (end - begin));
  return begin == 0 && end == valid.size();
}

int Task::stop_signal() const {
  if (impl_.poll_ != nullptr) {
    impl_.poll_();  // a worker hears the master's stop order (fail_fast) while its task waits
  }
  const int reason = impl_.stop_ != nullptr ? impl_.stop_->load(std::memory_order_relaxed) : 0;
  // A signal, or fail_fast: cut short. A deadline (or a rank's own) lets tasks it allowed to start finish.
  return reason > 0 || reason == farm::kStopFailFast ? reason : 0;
}

void Task::undeclared_output() const {
  throw Error(fmt::format("task {}: an output handle that was never declared (Setup::field)", impl_.index_));
}

int Task::int_param(std::string_view name) const {
  const std::int64_t v = integer_param(name);
  if (v < std::numeric_limits<int>::min() || v > std::numeric_limits<int>::max()) {
    throw Error(fmt::format("task {}: parameter '{}' = {} does not fit an int; read it as std::int64_t",
                            impl_.index_, name, v));
  }
  return static_cast<int>(v);
}

// By name: find the axis, check its kind, then read it as a handle would.
double Task::real_param(std::string_view name) const {
  const std::size_t a = impl_.axis(name);
  if (impl_.params_.axes()[a].kind() == job::Axis::Kind::text) {
    impl_.wrong_kind(name, "numbers");
  }
  return real_at(a);
}

std::int64_t Task::integer_param(std::string_view name) const {
  const std::size_t a = impl_.axis(name);
  if (impl_.params_.axes()[a].kind() != job::Axis::Kind::integer) {
    impl_.wrong_kind(name, "integers");
  }
  return integer_at(a);
}

const std::string& Task::text_param(std::string_view name) const {
  const std::size_t a = impl_.axis(name);
  if (impl_.params_.axes()[a].kind() != job::Axis::Kind::text) {
    impl_.wrong_kind(name, "text");
  }
  return text_at(a);
}

double Task::real_at(std::size_t axis) const { return impl_.params_.real(impl_.resolved(axis), impl_.index_); }

std::int64_t Task::integer_at(std::size_t axis) const {
  return impl_.params_.integer(impl_.resolved(axis), impl_.index_);
}

const std::string& Task::text_at(std::size_t axis) const {
  return impl_.params_.text(impl_.resolved(axis), impl_.index_);
}

// -- main -----------------------------------------------------------------------------------------------

app::AppInfo detail::adapt(App a) {
  return {a.name, a.summary, [make = std::move(a.make)](app::KernelContext& context) {
            SetupImpl impl(context);
            std::unique_ptr<taskfarm::Kernel> user = make(impl.setup());
            if (impl.fields_.empty()) {
              throw Error("the app declared no result field (Setup::field)");
            }
            return std::unique_ptr<app::Kernel>(
                new detail::Adapter(std::move(user), std::move(impl.fields_), context.params, context.stop,
                                    context.poll_stop));
          },
          a.side_effects};
}

int main(int argc, char** argv, std::vector<App> apps) {
  app::Registry registry;
  for (App& a : apps) {
    registry.add(detail::adapt(std::move(a)));
  }
  return cli::main(argc, argv, registry);
}

}  // namespace taskfarm
