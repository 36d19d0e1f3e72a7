// Package mockgraph is a mock of the Graph API's Messenger Send API for
// tests and the bench suite: a real fasthttp server on a loopback port that
// answers like graph.facebook.com does.
//
// It serves, under any version prefix (/v25.0/…):
//   - POST /{ver}/me/messages and /{ver}/{page-id}/messages: checks the
//     access_token (unknown → 190 OAuthException, HTTP 400) and the body
//     (recipient plus message or sender_action, text ≤ 2000 characters,
//     ≤ 13 quick replies; else code 100), answers
//     {"recipient_id","message_id":"m_<n>"} and an attachment_id when the
//     attachment payload is_reusable;
//   - POST /{ver}/me/{pass,take,request,release}_thread_control and
//     GET /{ver}/me/thread_owner?recipient=PSID, keeping thread owners per
//     page and PSID.
//
// Tests script failures: FailNext (the next n calls answer a given status
// and body), SetRecipientError (a Graph code for one PSID), SetThrottle
// (every call throttled with 613/80006 and X-Business-Use-Case-Usage),
// SetServerError (every call answers 5xx), SetRateLimit (calls per second
// per page beyond which it answers 613) and SetLatency. Every call is
// recorded (Requests, Count) unless SetRecord(false) says otherwise, as a
// long load test should. A Server is safe for concurrent use.
//
//	s := mockgraph.New()
//	s.AddPage("1061", "page-token")
//	base, err := s.Start("") // http://127.0.0.1:PORT/v25.0
//	defer s.Close()
package mockgraph
