#include "tide/data/postgres_source.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <optional>
#include <random>
#include <set>
#include <tuple>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <libpq-fe.h>
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

// Creates `table` and its indexes if needed (in `txn`), checks its columns and takes the
// loader's lock (SHARE ROW EXCLUSIVE: one loader at a time, readers go on); the quoted name.
std::string open_for_loading(pqxx::transaction_base& txn, const std::string& table,
                             const std::string& connection) {
  const std::string name = txn.quote_name(table);
  // Created here, with its storage set (ALTER TABLE locks out readers: only for a new table).
  if (!txn.exec_params("SELECT to_regclass($1) IS NOT NULL", name)[0][0].as<bool>())
    txn.exec(fmt::format(
        "CREATE TABLE IF NOT EXISTS {0} (ordinal bigint PRIMARY KEY, series_id bigint NOT NULL "
        "UNIQUE, label integer, t0 double precision NOT NULL, length integer NOT NULL CHECK "
        "(length > 0), samples real[] NOT NULL); ALTER TABLE {0} ALTER COLUMN samples SET "
        "STORAGE EXTERNAL",
        name));
  check_table(txn, table, connection);
  txn.exec(fmt::format("LOCK TABLE {} IN SHARE ROW EXCLUSIVE MODE", name));
  return name;
}

int64_t next_ordinal(pqxx::transaction_base& txn, const std::string& quoted_table) {
  return txn.exec(fmt::format("SELECT coalesce(max(ordinal) + 1, 0) FROM {}", quoted_table))[0][0]
      .as<int64_t>();
}

// The store row of a sharded table (`<table>_store`), if it has one.
std::optional<StoreShard> store_shard_of(pqxx::transaction_base& txn, const std::string& table) {
  const std::string store = txn.quote_name(table + "_store");
  // A table of that name with other columns is the user's, and no store row.
  const int columns = txn.exec_params(
                             "SELECT count(*) FROM pg_attribute WHERE attrelid = "
                             "to_regclass($1) AND attname IN ('store', 'shard', 'shards') "
                             "AND NOT attisdropped",
                             store)[0][0]
                          .as<int>();
  if (columns != 3) return std::nullopt;
  const pqxx::result r = txn.exec(fmt::format("SELECT store, shard, shards FROM {}", store));
  if (r.empty()) return std::nullopt;
  TIDE_CHECK(r.size() == 1, "table \"{}_store\" has {} rows, expected one", table, r.size());
  return StoreShard{
      .store = r[0][0].as<std::string>(), .shard = r[0][1].as<int>(), .shards = r[0][2].as<int>()};
}

// COPY of series rows into a table; the label column only when the file has one (it stays
// NULL otherwise).
class SeriesCopy {
 public:
  SeriesCopy(pqxx::transaction_base& txn, const std::string& quoted_table, bool labelled)
      : labelled_(labelled),
        copy_(txn, quoted_table,  // libpqxx 6 does not quote the name
              labelled
                  ? std::vector<std::string>{"ordinal", "series_id", "label", "t0", "length",
                                             "samples"}
                  : std::vector<std::string>{"ordinal", "series_id", "t0", "length", "samples"}) {}

  void add(int64_t ordinal, const CsvSeries& s, std::string& samples) {
    samples.clear();
    append_array(samples, s.values);
    const auto length = static_cast<int64_t>(s.values.size());
    if (labelled_)
      copy_ << std::make_tuple(ordinal, s.series_id, s.label, s.t0, length, samples);
    else
      copy_ << std::make_tuple(ordinal, s.series_id, s.t0, length, samples);
  }
  void complete() { copy_.complete(); }

 private:
  bool labelled_;
  pqxx::stream_to copy_;
};

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
    const std::string name = open_for_loading(txn, table, connection);
    TIDE_CHECK(!store_shard_of(txn, table).has_value(),
               "{} is a shard of a sharded store: load it with `tide timeseries ingest --sharded` "
               "and a --db for every shard",
               what);
    int64_t ordinal = next_ordinal(txn, name);
    CsvSeries s;
    std::string samples;
    {
      SeriesCopy copy(txn, name, reader.labelled());
      while (reader.next(s)) {
        copy.add(ordinal++, s, samples);
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

namespace {

// `bytes` random bytes as hex: a new store's id, and the name of one load's transactions.
std::string random_hex(int bytes) {
  std::random_device device;
  std::string out;
  for (int i = 0; i < bytes; ++i) out += fmt::format("{:02x}", device() & 0xff);
  return out;
}

// The ids as the text of a bigint[] parameter.
std::string bigint_array(const std::vector<int64_t>& ids) {
  std::string out = "{";
  for (size_t i = 0; i < ids.size(); ++i) out += fmt::format("{}{}", i > 0 ? "," : "", ids[i]);
  return out + "}";
}

// One shard's part of a sharded load: its connection and open transaction block.
struct ShardLoad {
  std::string what;  // the table and server, for messages
  std::unique_ptr<pqxx::connection> connection;
  std::unique_ptr<pqxx::nontransaction> txn;  // BEGIN and PREPARE TRANSACTION by hand
  std::string name;                           // the quoted table
  std::optional<StoreShard> shard;            // the store row already there
  std::string gid;                            // the prepared transaction, once prepared
};

// Opens shard `s`'s transaction: the table (created if needed) locked for loading, after a
// check that the server can prepare transactions.
// Opens shard `s`'s transaction, after a check that the server can prepare transactions.
// Nothing is locked yet: the order of the --db is checked first, so that two loads given the
// servers in different orders cannot wait on each other across servers.
void begin_shard_load(ShardLoad& load, const std::string& table) {
  guarded(load.what, [&] {
    load.txn = std::make_unique<pqxx::nontransaction>(*load.connection);
    const int prepared = load.txn->exec("SHOW max_prepared_transactions")[0][0].as<int>();
    TIDE_CHECK(prepared >= 1,
               "{}: max_prepared_transactions is 0, and a sharded load commits on every server "
               "together by two-phase commit: set max_prepared_transactions to 8 or more in "
               "postgresql.conf and restart the server",
               load.what);
    load.txn->exec("BEGIN");
    // A lock held by another load, or by a prepared transaction a failed load left, is
    // waited for 30 s, then named.
    load.txn->exec("SET LOCAL lock_timeout = '30s'");
    load.shard = store_shard_of(*load.txn, table);
  });
}

// The table locked for loading (created if needed), and its store row read again under it.
void lock_shard_load(ShardLoad& load, const std::string& connection, const std::string& table) {
  guarded(load.what, [&] {
    try {
      load.name = open_for_loading(*load.txn, table, connection);
    } catch (const pqxx::sql_error& e) {
      if (e.sqlstate() != "55P03") throw;  // lock_not_available
      TIDE_FAIL(
          "{}: the table stayed locked for 30 s: another load holds it, or a load that "
          "failed left a prepared transaction (SELECT gid FROM pg_prepared_xacts WHERE "
          "gid LIKE 'tide-ingest-%'; docs/timeseries.md says which to commit or roll back)",
          load.what);
    }
    load.shard = store_shard_of(*load.txn, table);
  });
}

// Every shard's store row must name the same store, in this place and of this many shards;
// or none has one and (once `locked`) every table is empty: a new store. The store's id.
std::string check_store(const std::vector<ShardLoad>& loads, bool locked) {
  const int shards = static_cast<int>(loads.size());
  const std::optional<StoreShard>& first = loads[0].shard;
  for (int s = 0; s < shards; ++s) {
    const ShardLoad& load = loads[static_cast<size_t>(s)];
    if (!first) {
      TIDE_CHECK(!load.shard,
                 "{} is shard {} of a store but {} is no shard: give the store's --db "
                 "in its order, or a new table",
                 load.what, load.shard ? load.shard->shard + 1 : 0, loads[0].what);
      if (!locked) continue;  // the tables' contents once they are locked
      const bool empty =
          load.txn->exec(fmt::format("SELECT NOT EXISTS (SELECT 1 FROM {})", load.name))[0][0]
              .as<bool>();
      TIDE_CHECK(empty,
                 "{} already holds series of its own, not of a sharded store: give another "
                 "--table for the sharded store",
                 load.what);
      continue;
    }
    TIDE_CHECK(load.shard && load.shard->store == first->store,
               "{} is not a shard of the store of {} (store {}): give every shard's --db, in "
               "the order of the first load",
               load.what, loads[0].what, first->store);
    TIDE_CHECK(load.shard->shard == s && load.shard->shards == shards,
               "{} is shard {} of {} of store {}, but it was given as --db {} of {}: give every "
               "shard's --db, in the order of the first load",
               load.what, load.shard->shard + 1, load.shard->shards, first->store, s + 1, shards);
  }
  return first ? first->store : random_hex(8);
}

}  // namespace

IngestResult ingest_series_csv_sharded(const std::vector<std::string>& connections,
                                       const std::string& table, const std::string& csv_path,
                                       double connect_timeout) {
  TIDE_CHECK(!table.empty(), "--table must not be empty");
  TIDE_CHECK(!connections.empty(), "a sharded load needs the --db of every shard");
  const size_t shards = connections.size();
  const auto started = Clock::now();
  // A first reading of the file, checked as the load checks it: its ids and points, so that
  // the split is known and every server checked before a row is sent.
  std::vector<int64_t> ids;
  int64_t file_points = 0;
  {
    SeriesCsvReader reader(csv_path);
    CsvSeries s;
    while (reader.next(s)) {
      ids.push_back(s.series_id);
      file_points += static_cast<int64_t>(s.values.size());
    }
  }
  TIDE_CHECK(!ids.empty(), "{}: no rows, expected series_id,t,value[,label]", csv_path);

  std::vector<ShardLoad> loads(shards);
  // Every server first: one that is down stops the load before any transaction begins.
  for (size_t s = 0; s < shards; ++s) {
    loads[s].what = fmt::format("shard {} of {}, {}", s + 1, shards, where(table, connections[s]));
    loads[s].connection = connect(connections[s], connect_timeout);
  }
  IngestResult result;
  try {
    // The store rows first, checked, then each shard's table locked in the store's order.
    for (ShardLoad& load : loads) begin_shard_load(load, table);
    guarded(loads[0].what, [&] { check_store(loads, false); });
    for (size_t s = 0; s < shards; ++s) lock_shard_load(loads[s], connections[s], table);
    const std::string store = guarded(loads[0].what, [&] { return check_store(loads, true); });
    int64_t ordinal = 0;
    const std::string id_array = bigint_array(ids);
    for (ShardLoad& load : loads) {
      guarded(load.what, [&] {
        if (!load.shard) {
          load.txn->exec(fmt::format(
              "CREATE TABLE IF NOT EXISTS {0} (store text NOT NULL, shard integer NOT NULL, "
              "shards integer NOT NULL); INSERT INTO {0} VALUES ({1}, {2}, {3})",
              load.txn->quote_name(table + "_store"), load.txn->quote(store), &load - loads.data(),
              shards));
        }
        ordinal = std::max(ordinal, next_ordinal(*load.txn, load.name));
        const pqxx::result clash = load.txn->exec_params(
            fmt::format("SELECT series_id FROM {} WHERE series_id = ANY($1::bigint[]) LIMIT 1",
                        load.name),
            id_array);
        TIDE_CHECK(clash.empty(),
                   "{}: series_id {} of the file is already in {}; nothing was added", csv_path,
                   clash.empty() ? 0 : clash[0][0].as<int64_t>(), load.what);
      });
    }
    // The rows: shard s takes the series whose points before them are in its s-th share.
    SeriesCsvReader reader(csv_path);
    CsvSeries s;
    std::string samples;
    std::unique_ptr<SeriesCopy> copy;
    size_t current = shards;
    int64_t points_before = 0;
    const auto finish = [&] {
      if (copy) guarded(loads[current].what, [&] { copy->complete(); });
      copy.reset();
    };
    while (reader.next(s)) {
      const auto target = static_cast<size_t>(std::min<__int128>(
          static_cast<__int128>(points_before) * static_cast<__int128>(shards) / file_points,
          static_cast<__int128>(shards - 1)));
      if (target != current) {
        finish();
        current = target;
        guarded(loads[current].what, [&] {
          copy = std::make_unique<SeriesCopy>(*loads[current].txn, loads[current].name,
                                              reader.labelled());
        });
      }
      guarded(loads[current].what, [&] { copy->add(ordinal++, s, samples); });
      points_before += static_cast<int64_t>(s.values.size());
      ++result.series;
    }
    finish();
    result.rows = reader.rows();
    result.labelled = reader.labelled();
    TIDE_CHECK(result.series == static_cast<int64_t>(ids.size()),
               "{} changed while it was loaded ({} series, then {})", csv_path, ids.size(),
               result.series);
    // Phase one: every shard ready to commit, or none commits.
    const std::string load_id = random_hex(6);
    for (size_t i = 0; i < shards; ++i) {
      guarded(loads[i].what, [&] {
        loads[i].txn->exec(fmt::format("ANALYZE {}", loads[i].name));
        // Named before it is sent: a PREPARE whose answer is lost may have happened.
        loads[i].gid = fmt::format("tide-ingest-{}-{}-{}", store, load_id, i + 1);
        loads[i].txn->exec("PREPARE TRANSACTION " + loads[i].txn->quote(loads[i].gid));
      });
    }
  } catch (...) {
    // Nothing is committed: every shard rolls back. An open transaction ends with its
    // connection; a prepared one outlives it (and a server restart), so it is rolled back by
    // name, on a new connection where the old one is gone. What cannot be is named.
    std::vector<std::string> left;
    for (size_t i = 0; i < shards; ++i) {
      ShardLoad& load = loads[i];
      load.txn.reset();
      if (load.gid.empty()) {
        load.connection.reset();  // the server rolls the open transaction back
        continue;
      }
      try {
        if (!load.connection || !load.connection->is_open())
          load.connection = connect(connections[i], connect_timeout);
        pqxx::nontransaction txn(*load.connection);
        txn.exec("ROLLBACK PREPARED " + txn.quote(load.gid));
      } catch (const pqxx::sql_error& e) {
        if (e.sqlstate() != "42704")  // undefined_object: it never was prepared
          left.push_back(fmt::format("'{}' on {}", load.gid, load.what));
      } catch (const std::exception&) {
        left.push_back(fmt::format("'{}' on {}", load.gid, load.what));
      }
    }
    if (!left.empty()) {
      try {
        throw;
      } catch (const std::exception& e) {
        TIDE_FAIL(
            "{}; and the prepared transaction{} {} could not be rolled back: run ROLLBACK "
            "PREPARED there, or the table stays locked",
            e.what(), left.size() > 1 ? "s" : "", fmt::join(left, ", "));
      }
    }
    throw;
  }
  // Phase two: each shard commits what it prepared.
  std::vector<std::string> open;
  for (ShardLoad& load : loads) {
    try {
      load.txn->exec("COMMIT PREPARED " + load.txn->quote(load.gid));
    } catch (const std::exception& e) {
      open.push_back(fmt::format("{} ({}): COMMIT PREPARED '{}' there completes it", load.what,
                                 one_line(e.what()), load.gid));
    }
  }
  TIDE_CHECK(open.empty(), "{}: every shard prepared the load, but {} did not commit: {}", csv_path,
             open.size(), fmt::join(open, "; "));
  result.seconds = std::chrono::duration<double>(Clock::now() - started).count();
  return result;
}

namespace {

constexpr const char* kFederatedComment = "a sharded store of tide, federated";

// A connection string's parts, as libpq reads it: (keyword, value) for each one given.
std::vector<std::pair<std::string, std::string>> conninfo_parts(const std::string& connection) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(connection.c_str(), &error);
  if (options == nullptr) {
    const std::string why = error != nullptr ? one_line(error) : "out of memory";
    PQfreemem(error);
    TIDE_FAIL("the connection string {} does not parse: {}", redact_connection(connection), why);
  }
  std::vector<std::pair<std::string, std::string>> parts;
  for (PQconninfoOption* o = options; o->keyword != nullptr; ++o)
    if (o->val != nullptr && *o->val != '\0') parts.emplace_back(o->keyword, o->val);
  PQconninfoFree(options);
  return parts;
}

}  // namespace

void federate_store(const std::string& coordinator, const std::vector<std::string>& shards,
                    const std::string& table, double connect_timeout) {
  TIDE_CHECK(!table.empty(), "--table must not be empty");
  TIDE_CHECK(!shards.empty(), "federate needs the --db of every shard");
  // Each shard's place in the store, checked before anything is made.
  std::optional<StoreShard> store;
  std::vector<int> place(shards.size());
  for (size_t s = 0; s < shards.size(); ++s) {
    const std::string what = where(table, shards[s]);
    read_only(shards[s], connect_timeout, what, [&](pqxx::read_transaction& txn) {
      check_table(txn, table, shards[s]);
      const std::optional<StoreShard> shard = store_shard_of(txn, table);
      TIDE_CHECK(shard.has_value(), "{} is not a shard of a sharded store", what);
      TIDE_CHECK(!store || store->store == shard->store, "{} is a shard of store {}, not of {}",
                 what, shard->store, store->store);
      store = shard;
      place[s] = shard->shard;
    });
  }
  std::vector<int> sorted = place;
  std::sort(sorted.begin(), sorted.end());
  bool each_once = static_cast<int>(sorted.size()) == store->shards;
  for (size_t s = 0; each_once && s < sorted.size(); ++s)
    each_once = sorted[s] == static_cast<int>(s);
  TIDE_CHECK(each_once, "store {} has {} shards: give the --db of each exactly once", store->store,
             store->shards);

  const std::unique_ptr<pqxx::connection> conn = connect(coordinator, connect_timeout);
  const std::string what = where(table, coordinator);
  guarded(what, [&] {
    pqxx::work txn(*conn);
    const std::string name = txn.quote_name(table);
    const pqxx::result existing = txn.exec_params(
        "SELECT c.relkind, obj_description(c.oid, 'pg_class') FROM pg_class c WHERE c.oid = "
        "to_regclass($1)",
        name);
    if (!existing.empty()) {
      TIDE_CHECK(existing[0][1].c_str() == std::string(kFederatedComment),
                 "{} already exists and is not a federated store: give the coordinator another "
                 "database, or federate under another --table",
                 what);
      txn.exec(fmt::format("DROP TABLE {} CASCADE", name));
    }
    // On each shard, a view of its series with its shard number.
    for (size_t s = 0; s < shards.size(); ++s) {
      const std::unique_ptr<pqxx::connection> shard = connect(shards[s], connect_timeout);
      guarded(where(table, shards[s]), [&] {
        pqxx::work view(*shard);
        view.exec(fmt::format(
            "CREATE OR REPLACE VIEW {} AS SELECT {}::integer AS shard, {} FROM {}",
            view.quote_name(table + "_federated"), place[s], kColumns, view.quote_name(table)));
        view.commit();
      });
    }
    txn.exec("CREATE EXTENSION IF NOT EXISTS postgres_fdw");
    txn.exec(fmt::format(
        "CREATE TABLE {} (shard integer NOT NULL, ordinal bigint NOT NULL, series_id bigint NOT "
        "NULL, label integer, t0 double precision NOT NULL, length integer NOT NULL, samples "
        "real[] NOT NULL) PARTITION BY LIST (shard)",
        name));
    txn.exec(fmt::format("COMMENT ON TABLE {} IS {}", name, txn.quote(kFederatedComment)));
    for (size_t s = 0; s < shards.size(); ++s) {
      const std::string server = txn.quote_name(fmt::format("tide_{}_shard{}", table, place[s]));
      std::string server_options, mapping_options;
      for (const auto& [key, value] : conninfo_parts(shards[s])) {
        // Credentials go into the user mapping (postgres_fdw takes them nowhere else).
        const bool credential = key == "user" || key == "password" || key == "sslpassword";
        std::string& to = credential ? mapping_options : server_options;
        to += fmt::format("{}{} {}", to.empty() ? "" : ", ", key, txn.quote(value));
      }
      txn.exec(fmt::format("DROP SERVER IF EXISTS {} CASCADE", server));
      txn.exec(fmt::format("CREATE SERVER {} FOREIGN DATA WRAPPER postgres_fdw{}", server,
                           server_options.empty() ? "" : " OPTIONS (" + server_options + ")"));
      txn.exec(fmt::format("CREATE USER MAPPING FOR CURRENT_USER SERVER {}{}", server,
                           mapping_options.empty() ? "" : " OPTIONS (" + mapping_options + ")"));
      txn.exec(fmt::format(
          "CREATE FOREIGN TABLE {} PARTITION OF {} FOR VALUES IN ({}) SERVER {} OPTIONS "
          "(table_name {})",
          txn.quote_name(fmt::format("{}_shard{}", table, place[s])), name, place[s], server,
          txn.quote(table + "_federated")));
    }
    txn.commit();
  });
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
  std::vector<SeriesRange> ranges(static_cast<size_t>(std::max(parts, 0)));
  for (const auto& [part, range] : split(parts, windows, begin, end, 0, -1))
    ranges[static_cast<size_t>(part)] = range;
  close_empty_parts(ranges, begin, end);
  return ranges;
}

namespace {

// The windows of each series row as SQL, of ($1, $2) = (length, step), for the rows of
// [$3, $4).
constexpr const char* kWindowsSql =
    "SELECT ordinal, CASE WHEN length >= $1 THEN (length - $1) / $2 + 1 ELSE 0 END::bigint AS n "
    "FROM {} WHERE ordinal >= $3 AND ordinal < $4";

void check_split(int parts, const WindowSpec& windows) {
  TIDE_CHECK(parts >= 1, "shards: {} parts", parts);
  TIDE_CHECK(windows.length >= 1 && windows.step() >= 1, "the window must be at least 1 point");
}

}  // namespace

std::vector<std::pair<int, SeriesRange>> PostgresSource::split(int parts, const WindowSpec& windows,
                                                               int64_t begin, int64_t end,
                                                               int64_t before, int64_t total) {
  check_split(parts, windows);
  std::vector<std::pair<int, SeriesRange>> pieces;
  read_only(connection_string_, connect_timeout_, describe(), [&](pqxx::read_transaction& txn) {
    // A series is in part floor(windows before it x parts / total), as one table would say.
    const pqxx::result rows = txn.exec_params(
        fmt::format("WITH w AS ({}), c AS (SELECT n, ordinal, $5::bigint + (sum(n) OVER (ORDER "
                    "BY ordinal) - n) AS before, CASE WHEN $6::bigint < 0 THEN sum(n) OVER () "
                    "ELSE $6::bigint END AS total FROM w) SELECT CASE WHEN total = 0 THEN 0 ELSE "
                    "div(before * $7, total)::bigint END AS part, min(ordinal), max(ordinal), "
                    "count(*), sum(n)::bigint FROM c GROUP BY 1 ORDER BY 1",
                    fmt::format(kWindowsSql, txn.quote_name(table_))),
        windows.length, windows.step(), begin, end, before, total, parts);
    for (const pqxx::row& r : rows) {
      const auto p = r[0].as<int64_t>();
      TIDE_CHECK(p >= 0 && p < parts, "shards: part {} of {}", p, parts);
      pieces.emplace_back(static_cast<int>(p), SeriesRange{.begin = r[1].as<int64_t>(),
                                                           .end = r[2].as<int64_t>() + 1,
                                                           .series = r[3].as<int64_t>(),
                                                           .windows = r[4].as<int64_t>()});
    }
  });
  return pieces;
}

std::vector<SeriesRange> PostgresSource::runs(const WindowSpec& windows, int64_t begin,
                                              int64_t end) {
  check_split(1, windows);
  std::vector<SeriesRange> runs;
  read_only(connection_string_, connect_timeout_, describe(), [&](pqxx::read_transaction& txn) {
    // Gaps and islands: within a run, ordinal - row number is constant.
    const pqxx::result rows = txn.exec_params(
        fmt::format("WITH w AS ({}) SELECT min(ordinal), max(ordinal) + 1, count(*), "
                    "sum(n)::bigint FROM (SELECT ordinal, n, ordinal - row_number() OVER (ORDER "
                    "BY ordinal) AS g FROM w) x GROUP BY g ORDER BY 1",
                    fmt::format(kWindowsSql, txn.quote_name(table_))),
        windows.length, windows.step(), begin, end);
    for (const pqxx::row& r : rows)
      runs.push_back(SeriesRange{.begin = r[0].as<int64_t>(),
                                 .end = r[1].as<int64_t>(),
                                 .series = r[2].as<int64_t>(),
                                 .windows = r[3].as<int64_t>()});
  });
  return runs;
}

int64_t PostgresSource::bytes() {
  int64_t size = 0;
  read_only(connection_string_, connect_timeout_, describe(), [&](pqxx::read_transaction& txn) {
    size = txn.exec_params("SELECT pg_total_relation_size(to_regclass($1))",
                           txn.quote_name(table_))[0][0]
               .as<int64_t>();
  });
  return size;
}

std::optional<StoreShard> PostgresSource::store_shard() {
  std::optional<StoreShard> shard;
  read_only(connection_string_, connect_timeout_, describe(),
            [&](pqxx::read_transaction& txn) { shard = store_shard_of(txn, table_); });
  return shard;
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
    const std::string name = txn.quote_name(table_ + "_clusters");
    txn.exec(fmt::format(
        "CREATE TABLE IF NOT EXISTS {0} (series_id bigint PRIMARY KEY, cluster integer NOT "
        "NULL, distance real NOT NULL); TRUNCATE {0}; CREATE TEMPORARY TABLE tide_clusters "
        "(LIKE {0}) ON COMMIT DROP",
        name));
    {
      pqxx::stream_to copy(txn, "tide_clusters",
                           std::vector<std::string>{"series_id", "cluster", "distance"});
      for (const SeriesCluster& c : clusters)
        copy << std::make_tuple(c.series_id, c.cluster, c.distance);
      copy.complete();
    }
    // Only this table's series: a shard keeps the clusters of the series it holds.
    txn.exec(
        fmt::format("INSERT INTO {} SELECT c.* FROM tide_clusters c WHERE EXISTS (SELECT 1 "
                    "FROM {} s WHERE s.series_id = c.series_id)",
                    name, txn.quote_name(table_)));
    txn.commit();
  });
}

}  // namespace tide
