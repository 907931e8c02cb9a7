#pragma once

// Internal to cluster/: creating or binding a KV bucket.

#include <memory>
#include <string>

#include "cluster/detail/nats.hpp"

namespace eventcast::cluster::detail {

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

} // namespace eventcast::cluster::detail
