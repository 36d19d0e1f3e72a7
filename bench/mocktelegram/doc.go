// Package mocktelegram is a mock of the Telegram Bot API for tests and the
// bench suite: a real fasthttp server on a loopback port that answers like
// api.telegram.org does.
//
// It serves POST (or GET) /bot<token>/<method> for sendMessage, sendPhoto,
// sendDocument, sendVideo, sendAudio, sendLocation, sendChatAction,
// answerCallbackQuery and getMe, with JSON or form parameters:
//   - an unknown token answers 401 {"ok":false,"error_code":401,
//     "description":"Unauthorized"}, an unknown method 404 "Not Found";
//   - it checks chat_id, text (empty → 400 "Bad Request: message text is
//     empty", over 4096 UTF-16 units → 400 "Bad Request: message is too
//     long"), captions (1024), the media field, callback_data (1–64 bytes,
//     else BUTTON_DATA_INVALID), chat actions and coordinates;
//   - it answers {"ok":true,"result":Message} with per-chat message ids,
//     the chat id echoed digit for digit, and file_ids for media sent by
//     URL (a file_id sent back is kept).
//
// Scripted failures: Block (403 "Forbidden: bot was blocked by the user"),
// ChatNotFound (400 "Bad Request: chat not found"), Migrate (400 "Bad
// Request: group chat was upgraded to a supergroup chat" with
// parameters.migrate_to_chat_id), FailNext (the next n calls answer a given
// status and body, e.g. 5xx) and a real per-chat flood limit (Flood;
// DefaultFlood on start): a chat sent to faster than its limit answers 429
// "Too Many Requests: retry after N" with parameters.retry_after. Every
// call is recorded (Requests, Sent, Count). A Server is safe for concurrent
// use.
//
//	s, err := mocktelegram.Start()      // knows DefaultToken
//	defer s.Close()
//	// api_base: s.URL(); token: mocktelegram.DefaultToken
package mocktelegram
