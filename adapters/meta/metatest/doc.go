// Package metatest is what the Meta channel adapters (Messenger,
// Instagram, WhatsApp) add to adapters/adaptertest: webhooks signed with
// X-Hub-Signature-256 and the hub.challenge handshake, the invariants of
// events parsed from Meta's batched envelopes, the Send API's golden
// renders ({path, body, degraded} or {error, degraded}) and wire types,
// and bench/mockgraph starters. Only _test.go files import it.
//
// The golden layout and the -update flag are adaptertest's. Webhooks are
// signed at test time with a fake secret.
package metatest
