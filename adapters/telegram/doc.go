// Package telegram is the Telegram Bot API channel: it verifies webhook
// deliveries by their secret-token header, parses each Update into one
// canonical event, renders canonical replies into Bot API method calls
// (sendMessage, sendPhoto, …, answerCallbackQuery), classifies the API's
// errors, and tells the gateway how fast one chat may be sent to.
//
// Telegram ids are 64-bit integers; they travel as the exact digits
// Telegram wrote, never through float64, from the webhook to the event and
// from the response path back to chat_id. See README.md for what is
// supported and how replies degrade; channels/telegram-viber.md (Part 1)
// is the reference it follows.
package telegram
