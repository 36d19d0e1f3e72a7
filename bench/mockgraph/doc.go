// Package mockgraph is a mock of the Graph API's Messenger Send API and
// of the WhatsApp Cloud API's messages endpoint, for tests and the bench
// suite: a real fasthttp server on a loopback port that answers like
// graph.facebook.com does.
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
//     page and PSID;
//   - Graph batch requests, POST / or /{ver}/ with batch=[…] (at most 50
//     calls; bench/internal/graphbatch): each call is served as above, as
//     a request of its own (scripted failures and rate limits apply per
//     call), its form body read as the JSON object it stands for; the
//     answer is an array of {"code","body"} and the connection is closed;
//   - the WhatsApp Cloud API's POST /{ver}/{phone-number-id}/messages
//     (a call with an Authorization header, or to a phone number id added
//     with AddPhoneNumber): checks "Authorization: Bearer <token>"
//     (unknown → 190 with HTTP 401), messaging_product "whatsapp", to or
//     recipient (a BSUID), and the typed object of type (text ≤ 4096, media
//     by id or link with caption ≤ 1024, interactive reply buttons ≤ 3 with
//     titles ≤ 20 and lists ≤ 10 rows, cta_url, template name and
//     language; 100, or 131009 for interactive, otherwise), and answers
//     {"messaging_product":"whatsapp","contacts":[{"input","wa_id"}],
//     "messages":[{"id":"wamid.MOCK<n>"}]}; a mark-as-read body
//     ({"status":"read","message_id",…}) answers {"success":true}.
//
// Tests script failures: FailNext (the next n calls answer a given status
// and body), SetRecipientError (a Graph code for one PSID, wa_id or BSUID:
// 131047 re-engagement, 131026 undeliverable, 131056 pair rate, 130429
// throughput… with WhatsApp's error_data.details), SetThrottle (every call
// throttled with 613/80006 and X-Business-Use-Case-Usage; 130429 for
// WhatsApp), SetServerError (every call answers 5xx), SetRateLimit (calls
// per second per page or phone number beyond which it answers 613, or
// 130429 for WhatsApp), SetPairRate (WhatsApp sends per recipient, about
// one per 6 s, beyond which it answers 131056) and SetLatency. Every call
// is recorded (Requests, Count) unless SetRecord(false) says otherwise, as
// a long load test should. A Server is safe for concurrent use.
//
//	s := mockgraph.New()
//	s.AddPage("1061", "page-token")
//	s.AddPhoneNumber("106540352242922", "wa-token")
//	base, err := s.Start("") // http://127.0.0.1:PORT/v25.0
//	defer s.Close()
package mockgraph
