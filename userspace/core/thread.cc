#include "core/thread.h"

#include <sys/capability.h>
#include <sys/prctl.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <utility>

namespace ksight {

namespace {

// Best effort: without CAP_SETPCAP (unit tests as a user) the bounding set stays as it is;
// the effective and permitted sets can always be emptied.
void DropAllCapabilitiesOfThisThread() {
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    std::fprintf(stderr, "ksight: a helper thread could not set no_new_privs: %s\n",
                 std::strerror(errno));
  }
  // Fails only without an ambient set (before 4.3): emptying the permitted set below clears it.
  (void)cap_reset_ambient();
  for (cap_value_t c = 0; c < static_cast<cap_value_t>(cap_max_bits()); ++c) {
    // Fails without CAP_SETPCAP (unit tests as a user): the bounding set stays, see above.
    if (CAP_IS_SUPPORTED(c)) (void)cap_drop_bound(c);
  }
  if (cap_t none = cap_init()) {
    if (cap_set_proc(none) != 0) {
      std::fprintf(stderr, "ksight: a helper thread could not drop its capabilities: %s\n",
                   std::strerror(errno));
    }
    cap_free(none);
  }
}

void* Trampoline(void* arg) {
  std::unique_ptr<std::function<void()>> fn(static_cast<std::function<void()>*>(arg));
  DropAllCapabilitiesOfThisThread();
  (*fn)();
  return nullptr;
}

}  // namespace

Thread::Thread(std::function<void()> fn) {
  auto* heap = new std::function<void()>(std::move(fn));
  const int rc = pthread_create(&tid_, nullptr, Trampoline, heap);
  if (rc != 0) {
    delete heap;
    std::fprintf(stderr, "ksight: cannot start a thread: %s\n", std::strerror(rc));
    std::abort();
  }
  started_ = true;
}

Thread::~Thread() {
  if (started_) {
    std::fprintf(stderr, "ksight: a thread was not joined\n");
    std::abort();
  }
}

Thread::Thread(Thread&& o) noexcept : tid_(o.tid_), started_(std::exchange(o.started_, false)) {}

Thread& Thread::operator=(Thread&& o) noexcept {
  if (this != &o) {
    if (started_) std::abort();  // as std::thread: assigning over a running thread is a bug
    tid_ = o.tid_;
    started_ = std::exchange(o.started_, false);
  }
  return *this;
}

void Thread::join() {
  if (!started_) return;
  // Fails only for a thread that is not joinable or is this one: a bug, as std::thread.
  if (const int rc = pthread_join(tid_, nullptr); rc != 0) {
    std::fprintf(stderr, "ksight: cannot join a thread: %s\n", std::strerror(rc));
    std::abort();
  }
  started_ = false;
}

}  // namespace ksight
