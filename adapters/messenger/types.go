package messenger

import "github.com/switchboard-gw/switchboard/adapters/meta"

// Send API and handover wire types (channels/meta.md §7). They are the
// Send API's, shared with Instagram, and live in adapters/meta; these
// names keep Messenger's package API.
type (
	SendRequest          = meta.SendRequest
	SendRecipient        = meta.SendRecipient
	SendMessage          = meta.SendMessage
	SendQuickReply       = meta.SendQuickReply
	SendAttachment       = meta.SendAttachment
	SendPayload          = meta.SendPayload
	SendButton           = meta.SendButton
	SendElement          = meta.SendElement
	SendDefaultAction    = meta.SendDefaultAction
	SendResponse         = meta.SendResponse
	ThreadControlRequest = meta.ThreadControlRequest
	ThreadOwnerResponse  = meta.ThreadOwnerResponse
)
