// Package normalize holds Switchboard's own vocabulary: the canonical event a
// backend receives (DESIGN §3), the canonical reply it sends back (§5), and the
// response path that addresses a conversation (§2).
//
// Every channel adapter translates its platform's wire types into these and
// back; nothing platform-specific lives here, and the package imports nothing
// internal so that adapters, the gateway and tools can all depend on it.
//
// Encoding is append-style: Event.AppendJSON writes the canonical JSON into a
// caller-owned buffer without reflection, so the inbound hot path allocates
// only the buffer it reuses. Decoding uses encoding/json through the struct
// tags, which produce the same field names.
package normalize
