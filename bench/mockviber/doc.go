// Package mockviber is a mock of the Viber REST Bot API for tests and the
// bench suite: a real fasthttp server on a loopback port that answers like
// chatapi.viber.com/pa does, HTTP 200 with a status number in the body.
//
// It serves, under any path prefix (URL returns http://127.0.0.1:PORT/pa):
//   - POST …/send_message: status 2 for a missing or wrong
//     X-Viber-Auth-Token, 3 for a body that is not a JSON object or lacks
//     receiver or type (or a text beyond 7000 characters, or an unknown
//     type), 4 for a missing sender.name or a member the type needs, 14
//     for rich_media below min_api_version 2, 12 beyond the configured
//     messages per second, any status scripted for a receiver
//     (SetReceiverStatus; Unsubscribe scripts 6), else status 0 with a
//     message_token above 2^53;
//   - POST …/set_webhook: like Viber, POSTs the signed {"event":"webhook"}
//     probe to the url and succeeds only on its HTTP 200 (status 1
//     otherwise); an empty url removes the webhook;
//   - POST …/get_account_info: the bot's account with its webhook;
//   - GET and HEAD /media/{name}?size=N: N zero bytes with
//     Content-Length N, for the adapter's size probe of videos and files.
//
// FailNext(n, httpStatus) makes the next n calls answer a bare HTTP status
// (5xx for transient failures); SetLatency delays every answer. Every call
// is recorded (Requests, Count): receiver, type, a copy of the body, time
// and what was answered. A Server is safe for concurrent use.
//
//	s, err := mockviber.Start()
//	defer s.Close()
//	// api_base: s.URL(), auth_token: s.Token()
package mockviber
