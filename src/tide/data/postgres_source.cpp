#include "tide/data/postgres_source.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <set>
#include <tuple>

#include <fmt/format.h>
#include <pqxx/pqxx>

#include "tide/data/timeseries.hpp"

namespace tide {
namespace {

using Clock = std::chrono::steady_clock;

// PostgreSQL's message on one line, without the "ERROR:  " prefix.
std::string one_line(std::string message) {
  if (message.starts_with("ERROR:  ")) message.erase(0, 8);
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  for (size_t i = message.find('\n'); i != std::string::npos; i = message.find('\n', i))
    message.replace(i, 1, "; ");
  return message;
}

[[noreturn]] void throw_unavailable(std::string message) {
  throw SourceUnavailable(std::move(message), "postgres_source.cpp");
}

// Runs f, turning libpqxx's exceptions into tide's: a lost or refused connection (and the
// server's "terminating connection" on shutdown) is SourceUnavailable, the rest Error.
template <typename F>
auto guarded(const std::string& what, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const pqxx::broken_connection& e) {
    throw_unavailable(
        fmt::format("{}: the connection to PostgreSQL was lost: {}", what, one_line(e.what())));
  } catch (const pqxx::sql_error& e) {
    const std::string& state = e.sqlstate();
    if (state.starts_with("08") || state.starts_with("57P"))  // connection, shutdown
      throw_unavailable(fmt::format("{}: {} (SQL state {})", what, one_line(e.what()), state));
    TIDE_FAIL("{}: {} (SQL state {})", what, one_line(e.what()), state);
  } catch (const pqxx::in_doubt_error& e) {
    throw_unavailable(fmt::format("{}: {}", what, one_line(e.what())));
  } catch (const pqxx::failure& e) {
    TIDE_FAIL("{}: {}", what, one_line(e.what()));
  } catch (const pqxx::usage_error& e) {
    TIDE_FAIL("{}: {}", what, one_line(e.what()));
  }
}

// A connection that waits at most `timeout` seconds to be made; messages show `connection`
// as the user gave it, redacted.
std::unique_ptr<pqxx::connection> connect(const std::string& connection, double timeout) {
  try {
    return std::make_unique<pqxx::connection>(with_connect_timeout(connection, timeout));
  } catch (const pqxx::broken_connection& e) {
    throw_unavailable(fmt::format("cannot connect to PostgreSQL ({}): {}",
                                  redact_connection(connection),
                                  redact_message(one_line(e.what()), connection)));
  } catch (const std::exception& e) {
    TIDE_FAIL("cannot connect to PostgreSQL ({}): {}", redact_connection(connection),
              redact_message(one_line(e.what()), connection));
  }
}

// Runs f(txn) in a read-only transaction on a connection of its own.
template <typename F>
void read_only(const std::string& connection, double timeout, const std::string& what, F&& f) {
  const std::unique_ptr<pqxx::connection> conn = connect(connection, timeout);
  guarded(what, [&] {
    pqxx::read_transaction txn(*conn);
    f(txn);
  });
}

std::string where(const std::string& table, const std::string& connection) {
  return fmt::format("table \"{}\" ({})", table, redact_connection(connection));
}

constexpr const char* kColumns = "ordinal, series_id, label, t0, length, samples";

// Fails unless `table` exists with Tide's columns.
void check_table(pqxx::transaction_base& txn, const std::string& table,
                 const std::string& connection) {
  const std::string name = txn.quote_name(table);
  const pqxx::result found = txn.exec_params("SELECT to_regclass($1) IS NOT NULL", name);
  TIDE_CHECK(found[0][0].as<bool>(),
             "{} does not exist; load series into it with `tide timeseries ingest --table`",
             where(table, connection));
  const pqxx::result columns = txn.exec_params(
      "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass($1) AND attnum > 0 AND "
      "NOT attisdropped",
      name);
  std::set<std::string> missing = {"ordinal", "series_id", "label", "t0", "length", "samples"};
  for (const pqxx::row& r : columns) missing.erase(r[0].as<std::string>());
  TIDE_CHECK(missing.empty(), "{} is not a table of series: it has no column {} (expected {})",
             where(table, connection), *missing.begin(), kColumns);
}

// Parses PostgreSQL's text form of a real[] ("{1.5,-2,3e-05}").
void parse_samples(const char* text, size_t size, int64_t series_id, std::vector<float>& out) {
  out.clear();
  const char* p = text;
  const char* const end = text + size;
  TIDE_CHECK(size >= 2 && *p == '{' && end[-1] == '}',
             "series {}: samples are not a one-dimensional array of reals", series_id);
  ++p;
  while (p < end - 1) {
    float v = 0;
    const auto [next, ec] = std::from_chars(p, end - 1, v);
    TIDE_CHECK(ec == std::errc() && std::isfinite(v) && (*next == ',' || next == end - 1),
               "series {}: sample {} is '{}', expected a finite number", series_id, out.size(),
               std::string(p, std::min<size_t>(static_cast<size_t>(end - 1 - p), 20)));
    out.push_back(v);
    p = *next == ',' ? next + 1 : next;
  }
}

class PostgresCursor : public SeriesCursor {
 public:
  PostgresCursor(const std::string& connection, double timeout, const std::string& table,
                 int64_t begin, int64_t end, double fetch_bytes)
      : what_(where(table, connection)), fetch_bytes_(fetch_bytes) {
    connection_ = connect(connection, timeout);
    guarded(what_, [&] {
      txn_ = std::make_unique<pqxx::read_transaction>(*connection_);
      txn_->exec_params(fmt::format("DECLARE tide_series NO SCROLL CURSOR FOR SELECT ordinal, "
                                    "series_id, label, samples FROM {} WHERE ordinal >= $1 AND "
                                    "ordinal < $2 ORDER BY ordinal",
                                    txn_->quote_name(table)),
                        begin, end);
    });
  }

  bool next(SeriesRecord& out) override {
    if (row_ >= result_.size()) {
      if (done_) return false;
      guarded(what_, [&] {
        result_ = txn_->exec(fmt::format("FETCH {} FROM tide_series", rows_per_fetch_));
      });
      row_ = 0;
      if (result_.empty()) {
        done_ = true;
        return false;
      }
      // The next FETCH brings about fetch_bytes_ of text, whatever the series' length.
      size_t bytes = 0;
      for (const pqxx::row& r : result_) bytes += r[3].size() + 32;
      const double per_row = static_cast<double>(bytes) / static_cast<double>(result_.size());
      rows_per_fetch_ = std::clamp<int64_t>(static_cast<int64_t>(fetch_bytes_ / per_row), 1, 10000);
    }
    const pqxx::row r = result_[static_cast<pqxx::result::size_type>(row_++)];
    out.ordinal = r[0].as<int64_t>();
    out.series_id = r[1].as<int64_t>();
    out.label = r[2].is_null() ? -1 : r[2].as<int64_t>();
    parse_samples(r[3].c_str(), r[3].size(), out.series_id, out.values);
    return true;
  }

 private:
  std::string what_;
  double fetch_bytes_;
  int64_t rows_per_fetch_ = 4;
  std::unique_ptr<pqxx::connection> connection_;
  std::unique_ptr<pqxx::read_transaction> txn_;
  pqxx::result result_;
  size_t row_ = 0;
  bool done_ = false;
};

// Appends `values` as the text of a real[]; each float in its shortest exact form.
void append_array(std::string& out, const std::vector<float>& values) {
  out += '{';
  char buffer[32];
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ',';
    const auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, values[i]);
    out.append(buffer, end);
  }
  out += '}';
}

}  // namespace

namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

// Where the passwords of a connection string are, as [begin, end) ranges: the URI's
// userinfo (postgresql://user:PASSWORD@host), a URI parameter (?password=... or
// &password=...), and the keyword form (password=... or password = '...'), wherever it
// stands after a blank (a newline included).
std::vector<std::pair<size_t, size_t>> password_ranges(const std::string& s) {
  std::vector<std::pair<size_t, size_t>> out;
  if (const size_t scheme = s.find("://"); scheme != std::string::npos) {
    const size_t host = scheme + 3;
    const size_t authority_end = std::min(s.find_first_of("/?", host), s.size());
    const size_t at = s.rfind('@', authority_end == 0 ? 0 : authority_end - 1);
    if (at != std::string::npos && at >= host) {
      const size_t colon = s.find(':', host);
      if (colon != std::string::npos && colon < at) out.emplace_back(colon + 1, at);
    }
  }
  for (size_t at = 0; (at = s.find("password", at)) != std::string::npos; at += 8) {
    const char before = at == 0 ? ' ' : s[at - 1];
    const bool uri_parameter = before == '?' || before == '&';
    if (!uri_parameter && !is_space(before)) continue;
    size_t v = at + 8;
    while (v < s.size() && (s[v] == ' ' || s[v] == '\t')) ++v;
    if (v == s.size() || s[v] != '=') continue;
    ++v;
    while (v < s.size() && (s[v] == ' ' || s[v] == '\t')) ++v;
    size_t end = v;
    if (v < s.size() && s[v] == '\'' && !uri_parameter) {
      end = v + 1;
      while (end < s.size() && s[end] != '\'') end += s[end] == '\\' ? 2 : 1;
      end = std::min(end + 1, s.size());
    } else {
      while (end < s.size() && !is_space(s[end]) && !(uri_parameter && s[end] == '&')) ++end;
    }
    out.emplace_back(v, end);
  }
  return out;
}

}  // namespace

std::string redact_connection(const std::string& connection) {
  std::vector<std::pair<size_t, size_t>> ranges = password_ranges(connection);
  std::sort(ranges.begin(), ranges.end());
  std::string out;
  size_t from = 0;
  for (const auto& [begin, end] : ranges) {
    if (begin < from) continue;  // inside a range already replaced
    out += connection.substr(from, begin - from) + "***";
    from = end;
  }
  return out + connection.substr(from);
}

std::string redact_message(std::string message, const std::string& connection) {
  for (const auto& [begin, end] : password_ranges(connection)) {
    std::string secret = connection.substr(begin, end - begin);
    if (secret.size() >= 2 && secret.front() == '\'' && secret.back() == '\'')
      secret = secret.substr(1, secret.size() - 2);
    if (secret.size() < 3) continue;  // too short to tell from the rest of the message
    for (size_t at = message.find(secret); at != std::string::npos;
         at = message.find(secret, at + 3))
      message.replace(at, secret.size(), "***");
  }
  return redact_connection(message);
}

std::string with_connect_timeout(const std::string& connection, double seconds) {
  // The user's own setting wins, in the string or in the environment.
  if (connection.find("connect_timeout") != std::string::npos ||
      std::getenv("PGCONNECT_TIMEOUT") != nullptr)
    return connection;
  // libpq counts whole seconds and treats less than 2 as 2.
  const auto whole = static_cast<int64_t>(std::ceil(std::clamp(seconds, 2.0, 86400.0)));
  if (connection.starts_with("postgresql://") || connection.starts_with("postgres://"))
    return fmt::format("{}{}connect_timeout={}", connection,
                       connection.find('?') == std::string::npos ? "?" : "&", whole);
  return fmt::format("{}{}connect_timeout={}", connection, connection.empty() ? "" : " ", whole);
}

IngestResult ingest_series_csv(const std::string& connection, const std::string& table,
                               const std::string& csv_path, double connect_timeout) {
  TIDE_CHECK(!table.empty(), "--table must not be empty");
  const auto started = Clock::now();
  SeriesCsvReader reader(csv_path);
  std::unique_ptr<pqxx::connection> conn = connect(connection, connect_timeout);
  const std::string what = where(table, connection);
  IngestResult result;
  guarded(what, [&] {
    pqxx::work txn(*conn);
    const std::string name = txn.quote_name(table);
    txn.exec(fmt::format(
        "CREATE TABLE IF NOT EXISTS {0} (ordinal bigint PRIMARY KEY, series_id bigint NOT NULL "
        "UNIQUE, label integer, t0 double precision NOT NULL, length integer NOT NULL CHECK "
        "(length > 0), samples real[] NOT NULL); ALTER TABLE {0} ALTER COLUMN samples SET "
        "STORAGE EXTERNAL",
        name));
    check_table(txn, table, connection);
    txn.exec(fmt::format("LOCK TABLE {} IN SHARE ROW EXCLUSIVE MODE", name));  // one loader
    int64_t ordinal =
        txn.exec(fmt::format("SELECT coalesce(max(ordinal) + 1, 0) FROM {}", name))[0][0]
            .as<int64_t>();
    CsvSeries s;
    std::string samples;
    {
      // The label column only when the file has one: it stays NULL otherwise.
      const bool labelled = reader.labelled();
      const std::vector<std::string> columns =
          labelled
              ? std::vector<std::string>{"ordinal", "series_id", "label", "t0", "length", "samples"}
              : std::vector<std::string>{"ordinal", "series_id", "t0", "length", "samples"};
      pqxx::stream_to copy(txn, name, columns);  // libpqxx 6 does not quote the name
      while (reader.next(s)) {
        samples.clear();
        append_array(samples, s.values);
        const auto length = static_cast<int64_t>(s.values.size());
        if (labelled)
          copy << std::make_tuple(ordinal, s.series_id, s.label, s.t0, length, samples);
        else
          copy << std::make_tuple(ordinal, s.series_id, s.t0, length, samples);
        ++ordinal;
        ++result.series;
      }
      try {
        copy.complete();
      } catch (const pqxx::unique_violation& e) {
        TIDE_FAIL("{}: a series_id of the file is already in {}: {}; nothing was added", csv_path,
                  what, one_line(e.what()));
      }
    }
    TIDE_CHECK(result.series > 0, "{}: no rows, expected series_id,t,value[,label]", csv_path);
    txn.exec(fmt::format("ANALYZE {}", name));
    txn.commit();
  });
  result.rows = reader.rows();
  result.labelled = reader.labelled();
  result.seconds = std::chrono::duration<double>(Clock::now() - started).count();
  return result;
}

PostgresSource::PostgresSource(std::string connection, std::string table, double fetch_bytes,
                               double connect_timeout)
    : connection_string_(std::move(connection)),
      table_(std::move(table)),
      fetch_bytes_(fetch_bytes),
      connect_timeout_(connect_timeout) {
  TIDE_CHECK(!table_.empty(), "--table must not be empty");
  read_only(connection_string_, connect_timeout_, describe(),
            [&](pqxx::read_transaction& txn) { check_table(txn, table_, connection_string_); });
}

PostgresSource::~PostgresSource() = default;

std::string PostgresSource::describe() const {
  return where(table_, connection_string_);
}

SourceSummary PostgresSource::summary() {
  SourceSummary s;
  read_only(connection_string_, connect_timeout_, describe(), [&](pqxx::read_transaction& txn) {
    const pqxx::row r =
        txn.exec(fmt::format("SELECT count(*), coalesce(sum(length), 0), coalesce(min(length), "
                             "0), coalesce(max(length), 0), count(label) FROM {}",
                             txn.quote_name(table_)))[0];
    s = SourceSummary{.series = r[0].as<int64_t>(),
                      .points = r[1].as<int64_t>(),
                      .min_length = r[2].as<int64_t>(),
                      .max_length = r[3].as<int64_t>(),
                      .labelled = r[4].as<int64_t>()};
  });
  return s;
}

std::vector<SeriesRange> PostgresSource::shards(int parts, const WindowSpec& windows, int64_t begin,
                                                int64_t end) {
  TIDE_CHECK(parts >= 1, "shards: {} parts", parts);
  TIDE_CHECK(windows.length >= 1 && windows.step() >= 1, "the window must be at least 1 point");
  std::vector<SeriesRange> ranges(static_cast<size_t>(parts));  // series 0: no row for it
  int64_t last = -1;
  read_only(connection_string_, connect_timeout_, describe(), [&](pqxx::read_transaction& txn) {
    const pqxx::result rows = txn.exec_params(
        fmt::format(
            "WITH w AS (SELECT ordinal, CASE WHEN length >= $1 THEN (length - $1) / $2 + 1 ELSE "
            "0 END::bigint AS n FROM {} WHERE ordinal >= $4 AND ordinal < $5), c AS (SELECT n, "
            "ordinal, (sum(n) OVER (ORDER BY "
            "ordinal) - n) AS before, sum(n) OVER () AS total FROM w) SELECT CASE WHEN total = "
            "0 THEN 0 ELSE div(before * $3, total)::bigint END AS part, min(ordinal), "
            "max(ordinal), count(*), sum(n)::bigint FROM c GROUP BY 1 ORDER BY 1",
            txn.quote_name(table_)),
        windows.length, windows.step(), parts, begin, end);
    for (const pqxx::row& r : rows) {
      const auto p = r[0].as<int64_t>();
      TIDE_CHECK(p >= 0 && p < parts, "shards: part {} of {}", p, parts);
      SeriesRange& range = ranges[static_cast<size_t>(p)];
      range = SeriesRange{.begin = r[1].as<int64_t>(),
                          .end = r[2].as<int64_t>() + 1,
                          .series = r[3].as<int64_t>(),
                          .windows = r[4].as<int64_t>()};
      last = range.end;
    }
  });
  // Parts with no series are empty ranges where the next part starts.
  int64_t next_begin = last >= 0 ? last : std::min(begin, end);
  for (int p = parts - 1; p >= 0; --p) {
    SeriesRange& range = ranges[static_cast<size_t>(p)];
    if (range.series == 0) range = SeriesRange{.begin = next_begin, .end = next_begin};
    range.end = next_begin;
    next_begin = range.begin;
  }
  return ranges;
}

std::unique_ptr<SeriesCursor> PostgresSource::open(int64_t begin, int64_t end) {
  return std::make_unique<PostgresCursor>(connection_string_, connect_timeout_, table_, begin, end,
                                          fetch_bytes_);
}

std::unique_ptr<TimeSeriesSource> PostgresSource::clone() const {
  return std::make_unique<PostgresSource>(connection_string_, table_, fetch_bytes_,
                                          connect_timeout_);
}

void PostgresSource::write_clusters(const std::vector<SeriesCluster>& clusters) {
  const std::unique_ptr<pqxx::connection> conn = connect(connection_string_, connect_timeout_);
  guarded(describe(), [&] {
    pqxx::work txn(*conn);
    const std::string name = table_ + "_clusters";
    txn.exec(fmt::format(
        "CREATE TABLE IF NOT EXISTS {0} (series_id bigint PRIMARY KEY, cluster integer NOT "
        "NULL, distance real NOT NULL); TRUNCATE {0}",
        txn.quote_name(name)));
    {
      pqxx::stream_to copy(txn, txn.quote_name(name),
                           std::vector<std::string>{"series_id", "cluster", "distance"});
      for (const SeriesCluster& c : clusters)
        copy << std::make_tuple(c.series_id, c.cluster, c.distance);
      copy.complete();
    }
    txn.commit();
  });
}

}  // namespace tide
