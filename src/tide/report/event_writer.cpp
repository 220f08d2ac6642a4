#include "tide/report/event_writer.hpp"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

#include "event.pb.h"  // generated from train/event.proto
#include "tide/core/error.hpp"

namespace tide {
namespace {

// The table of the reflected Castagnoli polynomial 0x82F63B78, one byte at a time.
std::array<uint32_t, 256> make_table() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    t[i] = c;
  }
  return t;
}

double unix_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// An Event now at `step`, and one summary value of it named `tag`.
tensorboard::Event event_at(int64_t step) {
  tensorboard::Event e;
  e.set_wall_time(unix_seconds());
  e.set_step(step);
  return e;
}

tensorboard::SummaryValue* add_value(tensorboard::Event& e, const std::string& tag) {
  tensorboard::SummaryValue* v = e.mutable_summary()->add_value();
  v->set_tag(tag);
  return v;
}

template <typename T>
void fill_histogram(tensorboard::HistogramProto* h, const T* values, int64_t n, int buckets) {
  double lo = INFINITY, hi = -INFINITY, sum = 0, squares = 0, count = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double v = static_cast<double>(values[i]);
    if (!std::isfinite(v)) continue;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
    sum += v;
    squares += v * v;
    ++count;
  }
  if (count == 0) lo = hi = 0;
  h->set_min(lo);
  h->set_max(hi);
  h->set_num(count);
  h->set_sum(sum);
  h->set_sum_squares(squares);
  // Bucket i holds (limit[i-1], limit[i]]; the first from min itself.
  int k = hi > lo ? std::max(1, buckets) : 1;
  const double width = hi / k - lo / k;  // hi - lo may overflow
  if (!(width > 0)) k = 1;               // a spread too small for k buckets (subnormals)
  std::vector<double> counts(static_cast<size_t>(k), 0.0);
  for (int64_t i = 0; i < n && k > 1; ++i) {
    const double v = static_cast<double>(values[i]);
    if (!std::isfinite(v)) continue;
    // Halved, so that v - lo cannot overflow either.
    const double at = std::ceil((v / 2 - lo / 2) / (width / 2)) - 1;
    counts[static_cast<size_t>(std::clamp(at, 0.0, static_cast<double>(k - 1)))] += 1;
  }
  if (k == 1) counts[0] = count;
  for (int b = 0; b < k; ++b) {
    h->add_bucket_limit(b == k - 1 ? hi : lo + width * (b + 1));
    h->add_bucket(counts[static_cast<size_t>(b)]);
  }
}

// A histogram's Event, serialized.
template <typename T>
std::string histogram_event(const std::string& tag, int64_t step, const T* values, int64_t n,
                            int buckets) {
  tensorboard::Event e = event_at(step);
  fill_histogram(add_value(e, tag)->mutable_histo(), values, n, buckets);
  return e.SerializeAsString();
}

tensorboard::HParamValue hparam_value(const EventWriter::HParam& v) {
  tensorboard::HParamValue out;
  if (const double* d = std::get_if<double>(&v)) out.set_number_value(*d);
  if (const std::string* t = std::get_if<std::string>(&v)) out.set_string_value(*t);
  if (const bool* b = std::get_if<bool>(&v)) out.set_bool_value(*b);
  return out;
}

}  // namespace

uint32_t crc32c(std::string_view bytes) {
  static const std::array<uint32_t, 256> table = make_table();
  uint32_t c = 0xFFFFFFFFu;
  for (unsigned char b : bytes) c = table[(c ^ b) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

uint32_t masked_crc32c(std::string_view bytes) {
  const uint32_t c = crc32c(bytes);
  return ((c >> 15) | (c << 17)) + 0xa282ead8u;
}

EventWriter::EventWriter(const std::string& dir) {
  char host[256] = "localhost";
  gethostname(host, sizeof host - 1);
  // A file of its own, never another's: a run resumed within the same second (or a second
  // writer in the directory) takes the next suffix.
  const std::string base =
      fmt::format("{}/events.out.tfevents.{}.{}", dir, static_cast<int64_t>(unix_seconds()), host);
  for (int n = 0; n < 1000 && file_ == nullptr; ++n) {
    path_ = n == 0 ? base : fmt::format("{}.{}", base, n);
    file_ = std::fopen(path_.c_str(), "wbx");
    if (file_ == nullptr && errno != EEXIST) break;
  }
  TIDE_CHECK(file_ != nullptr, "{}: cannot create: {}", path_, std::strerror(errno));
  tensorboard::Event e;
  e.set_wall_time(unix_seconds());
  e.set_file_version("brain.Event:2");
  write_record(e.SerializeAsString());
}

EventWriter::~EventWriter() {
  if (file_) std::fclose(file_);
}

void EventWriter::scalar(const std::string& tag, int64_t step, double value) {
  tensorboard::Event e = event_at(step);
  add_value(e, tag)->set_simple_value(static_cast<float>(value));
  write_record(e.SerializeAsString());
}

void EventWriter::histogram(const std::string& tag, int64_t step, const float* values, int64_t n,
                            int buckets) {
  write_record(histogram_event(tag, step, values, n, buckets));
}

void EventWriter::histogram(const std::string& tag, int64_t step, const double* values, int64_t n,
                            int buckets) {
  write_record(histogram_event(tag, step, values, n, buckets));
}

void EventWriter::session_start(int64_t step, const std::string& message) {
  tensorboard::Event e = event_at(step);
  e.mutable_session_log()->set_status(1);  // START
  e.mutable_session_log()->set_msg(message);
  write_record(e.SerializeAsString());
}

void EventWriter::write_hparams(const std::string& tag, const std::string& plugin_data) {
  tensorboard::Event e = event_at(0);
  tensorboard::SummaryValue* v = add_value(e, tag);
  v->mutable_metadata()->mutable_plugin_data()->set_plugin_name("hparams");
  v->mutable_metadata()->mutable_plugin_data()->set_content(plugin_data);
  tensorboard::TensorProto* t = v->mutable_tensor();
  t->set_dtype(1);
  t->mutable_tensor_shape();
  t->add_float_val(0);
  write_record(e.SerializeAsString());
}

void EventWriter::hparams_session_start(const std::vector<std::pair<std::string, HParam>>& hparams,
                                        const std::string& group) {
  tensorboard::HParamsPluginData d;
  tensorboard::SessionStartInfo* info = d.mutable_session_start_info();
  for (const auto& [name, value] : hparams) (*info->mutable_hparams())[name] = hparam_value(value);
  info->set_group_name(group);
  info->set_start_time_secs(unix_seconds());
  write_hparams("_hparams_/session_start_info", d.SerializeAsString());
}

EventWriter::HParam EventWriter::hparam_from_toml(const std::string& value) {
  if (value == "true" || value == "false") return value == "true";
  if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
    return value.substr(1, value.size() - 2);
  char* end = nullptr;
  const double v = std::strtod(value.c_str(), &end);
  if (end != value.c_str() && *end == '\0' && std::isfinite(v)) return v;
  return value;
}

void EventWriter::hparams_session_end(bool success) {
  tensorboard::HParamsPluginData d;
  d.mutable_session_end_info()->set_status(success ? 1 : 2);
  d.mutable_session_end_info()->set_end_time_secs(unix_seconds());
  write_hparams("_hparams_/session_end_info", d.SerializeAsString());
}

void EventWriter::hparams_experiment(
    const std::string& name,
    const std::vector<std::pair<std::string, std::vector<HParam>>>& hparams,
    const std::vector<std::string>& metric_tags) {
  tensorboard::HParamsPluginData d;
  tensorboard::Experiment* x = d.mutable_experiment();
  x->set_name(name);
  x->set_time_created_secs(unix_seconds());
  for (const auto& [hparam, values] : hparams) {
    tensorboard::HParamInfo* info = x->add_hparam_infos();
    info->set_name(hparam);
    int type = 3;
    if (!values.empty() && std::holds_alternative<std::string>(values[0])) type = 1;
    if (!values.empty() && std::holds_alternative<bool>(values[0])) type = 2;
    info->set_type(type);
    for (const HParam& v : values) *info->mutable_domain_discrete()->add_values() = hparam_value(v);
  }
  for (const std::string& tag : metric_tags) {
    tensorboard::MetricInfo* m = x->add_metric_infos();
    m->mutable_name()->set_tag(tag);
    m->set_dataset_type(tag.rfind("train", 0) == 0 ? 1 : 2);
  }
  write_hparams("_hparams_/experiment", d.SerializeAsString());
}

void EventWriter::write_record(std::string_view data) {
  const uint64_t length = data.size();
  const std::string_view length_bytes(reinterpret_cast<const char*>(&length), 8);
  const uint32_t length_crc = masked_crc32c(length_bytes), data_crc = masked_crc32c(data);
  const bool ok = std::fwrite(&length, 8, 1, file_) == 1 &&
                  std::fwrite(&length_crc, 4, 1, file_) == 1 &&
                  std::fwrite(data.data(), 1, data.size(), file_) == data.size() &&
                  std::fwrite(&data_crc, 4, 1, file_) == 1 && std::fflush(file_) == 0;
  TIDE_CHECK(ok, "{}: write failed: {}", path_, std::strerror(errno));
}

}  // namespace tide
