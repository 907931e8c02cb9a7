#pragma once

// Where an Eventcast stream lives in JetStream, and how names of services,
// streams and leases become JetStream stream names, subjects and KV keys.
// Pure functions, no NATS.
//
// Layout: ONE JetStream stream per Eventcast stream. JetStream numbers
// messages per JetStream stream, not per subject, so this is what makes the
// ack's sequence the Eventcast event id: consecutive per Eventcast stream,
// the same on every node, with events_missed plain arithmetic and retention
// (max_msgs) exact per stream. The price, measured on nats-server 2.9.10
// (3 servers, 2 cores): creating a 3-replica stream takes ~450 ms (a Raft
// election; 8 in parallel: 76 ms each), 1 replica ~3 ms, and each
// 3-replica stream holds ~0.2 MB on every server.

#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace eventcast::cluster {

/// A JetStream stream name (no '.', '*', '>', whitespace) and its subject.
struct stream_names {
  std::string stream;  // "EC_<service>_<stream id>", encoded
  std::string subject; // "ec.<service>.<stream id>", encoded
};

/// Keeps [A-Za-z0-9-] and writes any other byte as "=XX" (upper-case hex), so
/// the result is one subject token, a valid stream name part and a valid KV
/// key part, and distinct inputs stay distinct.
std::string encode_token(std::string_view text);

/// The inverse of encode_token; nullopt for text it cannot have produced.
std::optional<std::string> decode_token(std::string_view token);

/// Stream names longer than this become a prefix plus a hash: the server
/// stores each stream in a directory named after it.
inline constexpr size_t max_stream_name_length = 200;

stream_names names_for(std::string_view service, std::string_view stream_id);

/// "<service>.<stream id>", encoded: the KV key of a generator's lease and
/// desired state.
std::string generator_key(std::string_view service, std::string_view stream_id);

/// The service and stream id in a generator_key; nullopt for other keys.
std::optional<std::pair<std::string, std::string>>
parse_generator_key(std::string_view key);

/// "ec.<service>.*", encoded: the subject filter that matches the subjects
/// of all of a service's streams.
std::string service_subjects(std::string_view service);

/// The service and stream id whose names_for().stream is `name`; nullopt for
/// other names and for names shortened to a hash (then read its subject).
std::optional<std::pair<std::string, std::string>>
parse_stream_name(std::string_view name);

/// The service and stream id whose names_for().subject is `subject`.
std::optional<std::pair<std::string, std::string>>
parse_stream_subject(std::string_view subject);

/// A node's KV key in the presence bucket: its name, encoded.
std::string node_key(std::string_view node);

} // namespace eventcast::cluster
