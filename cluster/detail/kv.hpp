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

/// A key as its bucket's stream has it, for what the KV API lacks: a read
/// from the stream's leader (kvStore_Get may be answered by a replica that is
/// behind) and a write on condition of the key's revision.
struct kv_key {
  std::string stream;  // the bucket's JetStream stream
  std::string subject; // the key's subject in it
};

kv_key key_in(const std::string& bucket, const std::string& key);

/// A key's last value as the stream's leader has it.
struct kv_entry {
  bool found = false;
  uint64_t revision = 0;
  std::string value; // "" for a KV delete marker
};

/// Reads `key` from its stream's leader, waiting at most `wait`.
natsStatus read_latest(jsCtx* js, const kv_key& key, millis wait,
                       kv_entry& out);

/// Writes `value` if the key is at `expected_revision` (0: it never had a
/// value), waiting at most `wait`; `conflict` tells a lost compare-and-set
/// from other failures.
natsStatus write_if(jsCtx* js, const kv_key& key, std::string_view value,
                    uint64_t expected_revision, millis wait,
                    uint64_t& revision, bool& conflict);

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
