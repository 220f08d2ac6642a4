// The trace recorder: spans land under the step current when they began, only inside the
// window, from every thread under its name, and no more than the limit.
#include <thread>

#include <gtest/gtest.h>

#include "tide/core/trace.hpp"

namespace tide {
namespace {

TEST(Trace, RecordsOnlyTheStepsOfItsWindowUnderTheirStep) {
  trace::start(2, 3);
  for (int64_t step = 1; step <= 4; ++step) {
    trace::set_step(step);
    EXPECT_EQ(trace::recording(), step == 2 || step == 3) << step;
    const TraceSpan span("forward");
  }
  trace::stop();
  EXPECT_FALSE(trace::recording());
  {
    const TraceSpan after("forward");  // stopped: not kept
  }
  const std::vector<TraceEvent> events = trace::events();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].step, 2);
  EXPECT_EQ(events[1].step, 3);
  for (const TraceEvent& e : events) {
    EXPECT_STREQ(e.name, "forward");
    EXPECT_STREQ(e.category, "compute");
    EXPECT_LE(e.begin_us, e.end_us);
  }
  EXPECT_LE(events[0].end_us, events[1].begin_us);
}

TEST(Trace, ThreadsKeepTheirNamesAndASpanEndsWhereItIsEnded) {
  trace::start(1, 1);
  trace::set_step(1);
  std::thread worker([] {
    trace::name_thread("reducer");
    const TraceSpan span("allreduce", "communication", 3, 4096);
  });
  worker.join();  // the thread has ended: its events stay with the trace
  TraceSpan open("backward");
  open.end();
  open.end();  // once only
  trace::stop();
  const std::vector<TraceEvent> events = trace::events();
  const std::vector<std::string> threads = trace::thread_names();
  ASSERT_EQ(events.size(), 2u);
  ASSERT_EQ(threads.size(), 2u);
  const TraceEvent& reduce = std::string(events[0].name) == "allreduce" ? events[0] : events[1];
  EXPECT_EQ(threads.at(static_cast<size_t>(reduce.thread)), "reducer");
  EXPECT_EQ(reduce.arg, 3);
  EXPECT_EQ(reduce.bytes, 4096);
  const TraceEvent& back = &reduce == &events[0] ? events[1] : events[0];
  EXPECT_STREQ(back.name, "backward");
  EXPECT_NE(back.thread, reduce.thread);
}

TEST(Trace, KeepsNoMoreThanItsLimitAndCountsTheRest) {
  trace::start(1, 1, 5);
  trace::set_step(1);
  for (int i = 0; i < 8; ++i) {
    const TraceSpan span("apply");
  }
  trace::stop();
  EXPECT_EQ(trace::events().size(), 5u);
  EXPECT_EQ(trace::dropped(), 3);
  trace::start(1, 1);  // a new trace starts empty, and a span begun in the last is not kept
  trace::set_step(1);
  TraceSpan across("forward");
  trace::start(1, 1);
  trace::set_step(1);
  { const TraceSpan span("backward"); }
  across.end();
  trace::stop();
  ASSERT_EQ(trace::events().size(), 1u);
  EXPECT_STREQ(trace::events()[0].name, "backward");
  EXPECT_EQ(trace::dropped(), 0);
}

}  // namespace
}  // namespace tide
