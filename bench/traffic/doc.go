// Package traffic makes the signed webhooks the bench suite sends: a Mix of
// channel:kind weights (-mix messenger:text=70,messenger:read=10,…) and,
// per channel, a Channel that writes realistic payloads of each kind and
// says which canonical events the gateway will derive from them (their
// ids and recipients), so the suite can account for every event.
//
// A channel plugs in by implementing Channel, listing its kinds in Kinds
// (what -mix accepts) and adding its Send API to bench/channelmock.
// Messenger, Instagram, WhatsApp, Telegram and Viber exist today (the
// web widget's traffic does not).
package traffic
