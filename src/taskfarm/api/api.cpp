// The public kernel API (taskfarm/taskfarm.hpp) on top of the internal one (app::Kernel,
// app::Registry): a user's App becomes a registered app whose kernel adapts each task.
#include "taskfarm/taskfarm.hpp"

#include <limits>
#include <utility>

#include <fmt/format.h>

#include "taskfarm/app/registry.hpp"
#include "taskfarm/cli/cli.hpp"
#include "taskfarm/core/element_type.hpp"

namespace taskfarm {

namespace detail {

// The public Type and the internal ElementType are one list, in one order.
static_assert(static_cast<int>(Type::u8) == static_cast<int>(ElementType::u8) &&
              static_cast<int>(Type::i32) == static_cast<int>(ElementType::i32) &&
              static_cast<int>(Type::u32) == static_cast<int>(ElementType::u32) &&
              static_cast<int>(Type::i64) == static_cast<int>(ElementType::i64) &&
              static_cast<int>(Type::u64) == static_cast<int>(ElementType::u64) &&
              static_cast<int>(Type::f32) == static_cast<int>(ElementType::f32) &&
              static_cast<int>(Type::f64) == static_cast<int>(ElementType::f64));

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
  TaskImpl(TaskIndex index, const job::ParamSpace& params, const app::TaskOutput& out, std::size_t n_fields)
      : index_(index), params_(params), out_(out), n_fields_(n_fields) {}
  Task task() const { return Task(*this); }

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
};

/// An app::Kernel running a user's Kernel: builds a Task view per task.
class Adapter final : public app::Kernel {
 public:
  Adapter(std::unique_ptr<taskfarm::Kernel> user, std::vector<app::Field> fields, const job::ParamSpace& params)
      : user_(std::move(user)), fields_(std::move(fields)), params_(params) {}
  [[nodiscard]] std::vector<app::Field> schema() const override { return fields_; }
  void compute(TaskIndex task, const app::TaskOutput& out) override {
    const TaskImpl impl(task, params_, out, fields_.size());
    Task view = impl.task();
    user_->compute(view);
  }
  [[nodiscard]] bool results_follow_parameters() const override { return user_->results_follow_parameters(); }

 private:
  std::unique_ptr<taskfarm::Kernel> user_;
  std::vector<app::Field> fields_;
  const job::ParamSpace& params_;
};

}  // namespace detail

using detail::SetupImpl;
using detail::TaskImpl;

// -- Settings: the job's [app] table ------------------------------------------------------------------

bool Settings::has(std::string_view key) const { return impl_.has(key); }
std::int64_t Settings::integer(std::string_view key, std::optional<std::int64_t> fallback) const {
  return impl_.integer(key, fallback);
}
double Settings::real(std::string_view key, std::optional<double> fallback) const { return impl_.real(key, fallback); }
bool Settings::flag(std::string_view key, std::optional<bool> fallback) const { return impl_.flag(key, fallback); }
std::string Settings::text(std::string_view key, std::optional<std::string> fallback) const {
  return impl_.text(key, std::move(fallback));
}
std::vector<double> Settings::reals(std::string_view key, std::optional<std::vector<double>> fallback) const {
  return impl_.reals(key, std::move(fallback));
}
std::string Settings::input_path(std::string_view key) const { return impl_.input_path(key); }
void Settings::fail(std::string_view key, std::string_view message) const { impl_.fail(key, message); }

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

void Setup::require_param(std::string_view name, ParamKind kind) const {
  const job::ParamSpace& params = impl_.context_.params;
  const auto axis = params.find(name);
  const char* wanted = kind == ParamKind::integer ? "integer"
                       : kind == ParamKind::real  ? "real"
                       : kind == ParamKind::text  ? "text"
                                                  : "numeric";
  if (!axis) {
    throw InputError(fmt::format("{}: [params] {}: missing; app needs a parameter axis '{}' of {} values",
                                 impl_.context_.source, name, name, wanted));
  }
  const job::Axis::Kind k = params.axes()[*axis].kind();
  const bool ok = kind == ParamKind::integer ? k == job::Axis::Kind::integer
                  : kind == ParamKind::real  ? k == job::Axis::Kind::real
                  : kind == ParamKind::text  ? k == job::Axis::Kind::text
                                             : k != job::Axis::Kind::text;
  if (!ok) {
    throw InputError(fmt::format("{}: [params] {}: expected {} values, got {}", impl_.context_.source, name, wanted,
                                 TaskImpl::kind_name(k)));
  }
}

// -- Task -------------------------------------------------------------------------------------------------

std::uint64_t Task::index() const noexcept { return impl_.index_; }

void* Task::slot(std::size_t field) const {
  if (field >= impl_.n_fields_) {
    throw Error(fmt::format("task {}: an output handle that was never declared (Setup::field)", impl_.index_));
  }
  return impl_.out_.field<std::byte>(field);
}

int Task::int_param(std::string_view name) const {
  const std::int64_t v = integer_param(name);
  if (v < std::numeric_limits<int>::min() || v > std::numeric_limits<int>::max()) {
    throw Error(fmt::format("task {}: parameter '{}' = {} does not fit an int; read it as std::int64_t",
                            impl_.index_, name, v));
  }
  return static_cast<int>(v);
}

double Task::real_param(std::string_view name) const {
  const std::size_t a = impl_.axis(name);
  if (impl_.params_.axes()[a].kind() == job::Axis::Kind::text) {
    impl_.wrong_kind(name, "numbers");
  }
  return impl_.params_.real(a, impl_.index_);
}

std::int64_t Task::integer_param(std::string_view name) const {
  const std::size_t a = impl_.axis(name);
  if (impl_.params_.axes()[a].kind() != job::Axis::Kind::integer) {
    impl_.wrong_kind(name, "integers");
  }
  return impl_.params_.integer(a, impl_.index_);
}

const std::string& Task::text_param(std::string_view name) const {
  const std::size_t a = impl_.axis(name);
  if (impl_.params_.axes()[a].kind() != job::Axis::Kind::text) {
    impl_.wrong_kind(name, "text");
  }
  return impl_.params_.text(a, impl_.index_);
}

// -- main -----------------------------------------------------------------------------------------------

int main(int argc, char** argv, std::vector<App> apps) {
  app::Registry registry;
  for (App& a : apps) {
    registry.add({a.name, a.summary, [make = std::move(a.make)](app::KernelContext& context) {
                    SetupImpl impl(context);
                    std::unique_ptr<taskfarm::Kernel> user = make(impl.setup());
                    if (impl.fields_.empty()) {
                      throw Error("the app declared no result field (Setup::field)");
                    }
                    return std::unique_ptr<app::Kernel>(
                        new detail::Adapter(std::move(user), std::move(impl.fields_), context.params));
                  }});
  }
  return cli::main(argc, argv, registry);
}

}  // namespace taskfarm
