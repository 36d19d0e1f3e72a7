// Package webchat is the browser-facing side of the web channel (DESIGN
// §7, channels/web.md §3): widget sessions, the conversation history, the
// live stream, CORS, the per-address limit on session creation, and the
// widget (embed.js) and demo page it serves. The channel logic — reading
// a browser message, rendering a reply frame, verifying identity proofs —
// is adapters/web; this package is its Transport.
//
// # Model
//
// A widget session is an opaque token (128+ random bits, "wst_…") held by
// the browser in localStorage and by the store only as its SHA-256 (bucket
// web_sessions), with a sliding expiry; expired records are deleted every
// hour (SweepSessions). The token authorises; the visitor
// id names. A session is anonymous (a server-minted visitor id "wv_…" that
// is also its channel id) or identified (the provided id is the channel
// id, the visitor id is identity's ProvidedVisitorID), so an identified
// person's conversation — keyed by connection and response path — is the
// same on every device, while an anonymous one is reachable only with that
// browser's token.
//
// A conversation is a gap-free sequence of frames numbered from 1 (bucket
// web_messages, key conversation + seq). A seq is claimed with
// PutIfAbsent, so two writers (two instances on a shared store included)
// never take the same one. A visitor's message claims its seq in the
// transaction that spools its event (store.KV.IfAbsent): one commit, and
// the history never holds a message the bot will not get. The head is
// found from a hint (web_head,
// written every HeadHintEvery items) by probing forward. The stream and
// history read the same records: a live stream is "send every frame after
// the last seq sent", woken by the hub on every append, so a reconnect
// with after=SEQ (or SSE's Last-Event-ID) replays exactly what was missed
// and every tab gets every frame once. The wake-up carries the frame just
// stored, so a stream that is only that frame behind (the usual case)
// sends it without reading the store; frames other instances store are
// read by the heartbeat's catch-up.
//
// # Transport
//
// Server-Sent Events, not WebSocket: the browser only ever receives on
// this route (it sends with the POST routes DESIGN §7 fixes), SSE is
// plain HTTP through every proxy, its id/Last-Event-ID resume is exactly
// our seq replay, and it needs no library beyond fasthttp's
// SetBodyStreamWriter. The widget reads it with fetch() so the token goes
// in the Authorization header; EventSource users may pass ?token= instead.
package webchat
