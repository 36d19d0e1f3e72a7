// Package adapters holds the small interfaces every channel adapter
// implements, the errors they share, and the classification of channel API
// errors that the gateway's dispatch acts on.
//
// One package per channel lives below it (adapters/messenger, …), each with
// the same skeleton: <channel>.go (the Adapter, New, const Name), inbound.go
// (verify, parse), outbound.go (render, classify), types.go (the platform's
// wire structs), README.md, tests, benchmarks, fuzz_test.go and testdata/.
// Adapters import normalize and config only; the gateway imports them.
//
// What several adapters would otherwise write twice lives here too, each
// with its contract: rendering checks (text.go: Truncate, IsWebURL,
// IsE164), the channel_data merge (MergePatch), the pooled expanded copy of
// a reply (ExpandedReply), the HTTP plumbing of outbound calls (http.go:
// Doer, DeadlineDoer, NewClient, Do, NetworkError) and the exact copy of
// JSON values into event metadata (json.go). Rules one platform sets
// (Telegram's UTF-16 lengths, Facebook-only URLs) stay in its adapter. The
// test harness they share is adapters/adaptertest.
package adapters
