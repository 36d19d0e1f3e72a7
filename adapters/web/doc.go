// Package web is Switchboard's own web-chat channel (DESIGN §7): the parts
// of it that are channel logic, as every adapter has. It reads a browser's
// message into a canonical event, renders a canonical reply into the
// widget's JSON frame, and verifies identity proofs (user_hash and the
// customer backend's JWTs).
//
// The browser-facing HTTP side — sessions, history, the live stream, CORS,
// the widget itself — needs the store and the pipeline, so it lives in
// gateway/webchat; it plugs into this adapter as its Transport, which
// Send hands every rendered frame. See README.md.
package web
