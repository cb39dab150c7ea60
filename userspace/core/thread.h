// thread.h - ksight's helper threads (output writers, backup compression): joinable threads
// that run without any capability from their first instruction.
//
// They only write files the agent already decided to write (as uid 0, in directories root
// owns) and never need a privilege. Capabilities are per thread, and these threads start
// before the agent drops what it no longer needs after attach (core/privileges.h, which
// changes the calling thread only): so each helper thread drops everything itself: effective,
// permitted, inheritable, ambient and bounding sets, and sets no_new_privs.
#pragma once

#include <pthread.h>

#include <functional>

namespace ksight {

class Thread {
 public:
  Thread() = default;
  // Starts fn; aborts the process if no thread can be created (as std::thread would throw).
  explicit Thread(std::function<void()> fn);
  ~Thread();  // must be joined (or never started)
  Thread(Thread&& o) noexcept;
  Thread& operator=(Thread&& o) noexcept;
  Thread(const Thread&) = delete;
  Thread& operator=(const Thread&) = delete;

  bool joinable() const { return started_; }
  void join();
  pthread_t native_handle() const { return tid_; }

 private:
  pthread_t tid_{};
  bool started_ = false;
};

}  // namespace ksight
