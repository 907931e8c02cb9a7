#pragma once

// Internal to cluster/: creating or binding a KV bucket, and reading it.

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/detail/nats.hpp"

namespace eventcast::cluster::detail {

struct link_core;

struct bucket_spec {
  std::string name;
  millis ttl{0}; // 0: values never expire
  int replicas = 1;
};

/// Creates the bucket, or binds to it when it exists (with whatever
/// settings the first node gave it).
expected<nats_ptr<kvStore>> open_bucket(jsCtx* js, const bucket_spec& spec);

/// The bucket's TTL as the server has it.
expected<millis> bucket_ttl(kvStore* kv);

/// KV keys: [-/_=.A-Za-z0-9]+, no leading or trailing '.', no "..".
bool valid_key(const std::string& key);

/// An entry's value, without copying it.
std::string_view entry_value(kvEntry* e);

/// The current value of every key (deleted keys left out), read through one
/// watcher, which `core` retires; fails when they are not all in by
/// `deadline`.
expected<std::vector<nats_ptr<kvEntry>>>
live_entries(link_core& core, kvStore* kv,
             std::chrono::steady_clock::time_point deadline);

/// A bucket bound on first use, so that its owner can be made while NATS is
/// down. A spec with a TTL refuses an existing bucket without one. forget()
/// makes the next use bind again, e.g. after the server lost the bucket.
/// Thread-safe; a handle from get() stays valid after forget().
class lazy_bucket {
public:
  lazy_bucket(std::shared_ptr<link_core> core, bucket_spec spec);

  expected<std::shared_ptr<kvStore>> get();

  void forget();

  const bucket_spec& spec() const { return spec_; }

  const std::shared_ptr<link_core>& core() const { return core_; }

  /// The link's request timeout.
  millis timeout() const;

private:
  expected<std::shared_ptr<kvStore>> bind();

  std::shared_ptr<link_core> core_;
  bucket_spec spec_;
  std::mutex mtx_;
  std::shared_ptr<kvStore> kv_;
};

} // namespace eventcast::cluster::detail
