// Package pipeline is the inbound side of the gateway: it takes a
// provider's webhook from verification to the backend's acknowledgement.
//
//	Accept: verify (raw body, constant time) → UTF-8 check → parse
//	Ingest: resolve visitor ids → encode → spool (durable, deduplicated)
//	        → the provider gets its 200 only after this returns
//	forward: per-lane (connection + response path) ordered delivery to
//	        the backend, retried with backoff, then Ack: the event leaves
//	        the spool in the same transaction its replies enter it
//
// Events are durable before they are acknowledged to the provider and stay
// in the spool until the backend acknowledged them, so a crash or restart
// loses nothing: Start replays the spool in order.
package pipeline
