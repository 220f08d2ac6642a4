// A private PostgreSQL server for one test program: started by scripts/pg-local in a fresh
// directory on a loopback port, stopped and removed at the end.
#pragma once

#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "support/testing.hpp"

namespace tide::testing {

class PostgresServer {
 public:
  PostgresServer() {
    char name[] = "/tmp/tide-pg-XXXXXX";
    dir_ = mkdtemp(name);
    const CommandResult r = run(" start ");
    if (r.status != 0) throw std::runtime_error("scripts/pg-local start failed: " + r.out);
    url_ = r.out.substr(0, r.out.find('\n'));
  }
  ~PostgresServer() {
    run(" stop ");
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  // The connection string, e.g. "host=127.0.0.1 port=23456 user=tide dbname=postgres".
  const std::string& url() const { return url_; }
  // The command line that restarts it, for scripts run by a test.
  std::string restart_command() const {
    return std::string(TIDE_SOURCE_DIR) + "/scripts/pg-local restart " + dir_;
  }
  // Stops the server (every connection is cut) and starts it again on the same port.
  void restart() {
    const CommandResult r = run(" restart ");
    ASSERT_EQ(r.status, 0) << r.out;
  }
  // psql's output of one SQL command.
  std::string psql(const std::string& sql) const {
    const CommandResult r = run_command("psql -X -q -A -t \"" + url_ + "\" -c \"" + sql + "\"");
    EXPECT_EQ(r.status, 0) << sql << ": " << r.out;
    return r.out;
  }

 private:
  CommandResult run(const char* command) const {
    return run_command(std::string(TIDE_SOURCE_DIR) + "/scripts/pg-local" + command + dir_);
  }

  std::string dir_, url_;
};

}  // namespace tide::testing
