// Package adapters holds the small interfaces every channel adapter
// implements, the errors they share, and the classification of channel API
// errors that the gateway's dispatch acts on.
//
// One package per channel lives below it (adapters/messenger, …), each with
// the same skeleton: <channel>.go (the Adapter, New, const Name), inbound.go
// (verify, parse), outbound.go (render, classify), types.go (the platform's
// wire structs), README.md, tests, benchmarks, fuzz_test.go and testdata/.
// Adapters import normalize and config only; the gateway imports them.
package adapters
