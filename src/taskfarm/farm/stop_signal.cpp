#include "taskfarm/farm/stop_signal.hpp"

#include <csignal>
#include <thread>
#include <utility>

namespace taskfarm::farm {

namespace {

std::atomic<int> g_stop{0};
static_assert(std::atomic<int>::is_always_lock_free, "the handler may only touch a lock-free atomic");

extern "C" void on_stop_signal(int signo) { g_stop.store(signo, std::memory_order_relaxed); }

std::function<void()> g_poll;     // set and cleared by the thread that runs it
std::thread::id g_poll_thread;

}  // namespace

void install_stop_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  for (int s : {SIGTERM, SIGINT, SIGUSR1}) {
    sigaction(s, &sa, nullptr);
  }
}

int stop_requested() noexcept { return g_stop.load(std::memory_order_relaxed); }

void request_stop(int reason) noexcept {
  int expected = 0;
  g_stop.compare_exchange_strong(expected, reason);
}

void clear_stop() noexcept { g_stop.store(0); }

const std::atomic<int>& stop_flag() noexcept { return g_stop; }

void set_stop_poll(std::function<void()> poll) {
  g_poll = std::move(poll);
  g_poll_thread = std::this_thread::get_id();
}

void poll_stop() {
  if (g_poll && std::this_thread::get_id() == g_poll_thread) {
    g_poll();
  }
}

}  // namespace taskfarm::farm
