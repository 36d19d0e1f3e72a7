// Package viber is the Viber channel (REST Bot API): it verifies and parses
// Viber callbacks into canonical events, and renders canonical replies into
// send_message calls, classifying Viber's status codes for dispatch.
//
// Viber posts one callback per request, signed with the bot's auth token
// (X-Viber-Content-Signature); it answers every API call with HTTP 200 and
// a status number in the body, which Send reads. The bot id in response
// paths is the configured bot_id: Viber sends none. See README.md for what
// it supports, how it degrades and the status table.
package viber
