#pragma once

// A value or the reason there is none. The cluster library does not depend on
// CAF, so it cannot use caf::expected; actors/ converts at its boundary.

#include <optional>
#include <string>
#include <utility>
#include <variant>

#include "core/errors.hpp"

namespace eventcast::cluster {

/// Why a cluster call failed. `unavailable` means NATS or JetStream did not
/// answer (the HTTP layer's 503); the outcome of a write that failed this way
/// is unknown, never a success.
struct error {
  error_code code = error_code::internal;
  std::string message;
};

template <class T>
class expected {
public:
  expected(T value) : value_(std::move(value)) {}
  expected(cluster::error err) : value_(std::move(err)) {}

  explicit operator bool() const { return value_.index() == 0; }

  T& operator*() { return std::get<0>(value_); }
  const T& operator*() const { return std::get<0>(value_); }
  T* operator->() { return &std::get<0>(value_); }
  const T* operator->() const { return &std::get<0>(value_); }

  const cluster::error& error() const { return std::get<1>(value_); }

private:
  std::variant<T, cluster::error> value_;
};

template <>
class expected<void> {
public:
  expected() = default;
  expected(cluster::error err) : error_(std::move(err)) {}

  explicit operator bool() const { return !error_; }

  const cluster::error& error() const { return *error_; }

private:
  std::optional<cluster::error> error_;
};

} // namespace eventcast::cluster
