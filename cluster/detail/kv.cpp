#include "cluster/detail/kv.hpp"

#include <algorithm>

#include "cluster/detail/link_core.hpp"

namespace eventcast::cluster::detail {

namespace {

using clock = std::chrono::steady_clock;

std::string what_of(kvStore* kv) {
  return std::string{"KV bucket "} + kvStore_Bucket(kv);
}

expected<void> require_ttl(kvStore* kv) {
  auto ttl = bucket_ttl(kv);
  if (!ttl)
    return ttl.error();
  if (ttl->count() <= 0)
    return error{error_code::internal,
                 what_of(kv) + " has no TTL: its values must expire"};
  return {};
}

expected<std::vector<nats_ptr<kvEntry>>>
read_current(kvWatcher* watcher, kvStore* kv, clock::time_point deadline) {
  std::vector<nats_ptr<kvEntry>> out;
  for (;;) {
    auto left = std::chrono::duration_cast<millis>(deadline - clock::now());
    if (left.count() <= 0)
      return error{error_code::unavailable,
                   "read " + what_of(kv) + ": timed out"};
    kvEntry* e = nullptr;
    auto s = kvWatcher_Next(&e, watcher, to_ms(left));
    nats_ptr<kvEntry> entry{e};
    if (s != NATS_OK)
      return to_error(s, "read " + what_of(kv));
    if (!entry) // the watcher's marker: all current values are in
      return out;
    out.push_back(std::move(entry));
  }
}

} // namespace

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

std::string_view entry_value(kvEntry* e) {
  return {static_cast<const char*>(kvEntry_Value(e)),
          static_cast<size_t>(std::max(0, kvEntry_ValueLen(e)))};
}

expected<std::vector<nats_ptr<kvEntry>>>
live_entries(link_core& core, kvStore* kv, clock::time_point deadline) {
  kvWatchOptions opts;
  kvWatchOptions_Init(&opts);
  opts.IgnoreDeletes = true;
  kvWatcher* raw = nullptr;
  if (auto s = kvStore_WatchAll(&raw, kv, &opts); s != NATS_OK)
    return to_error(s, "read " + what_of(kv));
  nats_ptr<kvWatcher> watcher{raw};
  auto out = read_current(watcher.get(), kv, deadline);
  // Other nodes' puts keep coming to it: NATS's reader may be handling one.
  core.retire(std::move(watcher));
  return out;
}

kv_key key_in(const std::string& bucket, const std::string& key) {
  return {"KV_" + bucket, "$KV." + bucket + "." + key};
}

natsStatus read_latest(jsCtx* js, const kv_key& key, millis wait,
                       kv_entry& out) {
  jsOptions o;
  jsOptions_Init(&o);
  o.Wait = to_ms(wait);
  natsMsg* raw = nullptr;
  auto s = js_GetLastMsg(&raw, js, key.stream.c_str(), key.subject.c_str(),
                         &o, nullptr);
  nats_ptr<natsMsg> msg{raw};
  out = kv_entry{};
  if (s == NATS_NOT_FOUND)
    return NATS_OK;
  if (s != NATS_OK)
    return s;
  out.found = true;
  out.revision = natsMsg_GetSequence(msg.get());
  const char* op = nullptr;
  if (natsMsgHeader_Get(msg.get(), "KV-Operation", &op) != NATS_OK)
    out.value.assign(natsMsg_GetData(msg.get()),
                     static_cast<size_t>(natsMsg_GetDataLength(msg.get())));
  return NATS_OK;
}

natsStatus write_if(jsCtx* js, const kv_key& key, std::string_view value,
                    uint64_t expected_revision, millis wait,
                    uint64_t& revision, bool& conflict) {
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.MaxWait = to_ms(wait);
  if (expected_revision == 0)
    po.ExpectNoMessage = true;
  else
    po.ExpectLastSubjectSeq = expected_revision;
  jsPubAck* raw = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  auto s = js_Publish(&raw, js, key.subject.c_str(), value.data(),
                      static_cast<int>(value.size()), &po, &jerr);
  nats_ptr<jsPubAck> ack{raw};
  conflict = jerr == JSStreamWrongLastSequenceErr;
  if (s == NATS_OK)
    revision = ack->Sequence;
  return s;
}

// -- lazy_bucket --------------------------------------------------------------

lazy_bucket::lazy_bucket(std::shared_ptr<link_core> core, bucket_spec spec)
  : core_(std::move(core)), spec_(std::move(spec)) {
}

expected<std::shared_ptr<kvStore>> lazy_bucket::get() {
  std::lock_guard<std::mutex> guard{mtx_};
  if (kv_)
    return kv_;
  auto bound = bind();
  if (bound)
    kv_ = *bound;
  return bound;
}

millis lazy_bucket::timeout() const {
  return core_->cfg.timeout;
}

void lazy_bucket::forget() {
  std::lock_guard<std::mutex> guard{mtx_};
  kv_.reset();
}

expected<std::shared_ptr<kvStore>> lazy_bucket::bind() {
  if (!core_->connected())
    return unavailable("KV bucket " + spec_.name);
  auto opened = open_bucket(core_->js.get(), spec_);
  if (!opened)
    return opened.error();
  if (spec_.ttl.count() > 0)
    if (auto ok = require_ttl(opened->get()); !ok)
      return ok.error();
  return std::shared_ptr<kvStore>{opened->release(), nats_deleter{}};
}

} // namespace eventcast::cluster::detail
