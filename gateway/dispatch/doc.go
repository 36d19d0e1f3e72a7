// Package dispatch is the outbound side of the gateway: it sends canonical
// replies to channel APIs without losing or reordering them.
//
//   - Every reply goes through the lanes queue keyed by connection and
//     response path: one conversation's replies go out in order, different
//     conversations in parallel up to Workers.
//   - Every call goes through one gobreaker breaker per (connection, bot).
//     Only transient failures (network, timeouts, 5xx, temporary codes) and
//     configuration errors count; per-recipient errors, request errors and
//     rate limits never trip it.
//   - Rate limits are honoured: a bot-wide limit pauses every lane of that
//     bot until the provider's Retry-After, a per-recipient one only its
//     lane; both with jitter.
//   - Policy runs before any call: the channel's messaging window (tracked
//     per response path from inbound events) and one-time-notification
//     tokens (stored from opt-ins, used once).
//
// Replies the backend returned synchronously are spooled (the same durable
// spool as inbound events) and leave it only once sent or failed for good;
// while a breaker is open they wait there. They are queued for sending
// before that transaction commits, and one already finished when the store
// writes it is not written at all (store.Item.Settled): its event's ack
// then carries nothing more. Replies posted to /v1/messages
// are answered to their caller instead, and refused at once with
// breaker_open while the breaker is open.
package dispatch
