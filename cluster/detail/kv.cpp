#include "cluster/detail/kv.hpp"

namespace eventcast::cluster::detail {

expected<nats_ptr<kvStore>> open_bucket(jsCtx* js, const bucket_spec& spec) {
  kvConfig kc;
  kvConfig_Init(&kc);
  kc.Bucket = spec.name.c_str();
  kc.History = 1;
  kc.TTL = to_ns(spec.ttl);
  kc.Replicas = spec.replicas;
  kvStore* raw = nullptr;
  if (js_CreateKeyValue(&raw, js, &kc) == NATS_OK)
    return nats_ptr<kvStore>{raw};
  // Exists with other settings (another node's configuration): use it.
  auto s = js_KeyValue(&raw, js, spec.name.c_str());
  if (s != NATS_OK)
    return to_error(s, "KV bucket " + spec.name);
  return nats_ptr<kvStore>{raw};
}

expected<millis> bucket_ttl(kvStore* kv) {
  kvStatus* raw = nullptr;
  if (auto s = kvStore_Status(&raw, kv); s != NATS_OK)
    return to_error(s, "KV bucket status");
  nats_ptr<kvStatus> status{raw};
  return millis{kvStatus_TTL(status.get()) / 1000000};
}

bool valid_key(const std::string& key) {
  if (key.empty() || key.front() == '.' || key.back() == '.'
      || key.find("..") != std::string::npos)
    return false;
  for (char c : key) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
              || (c >= '0' && c <= '9') || c == '-' || c == '/' || c == '_'
              || c == '=' || c == '.';
    if (!ok)
      return false;
  }
  return true;
}

} // namespace eventcast::cluster::detail
