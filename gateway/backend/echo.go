package backend

import (
	"context"
	"encoding/json"

	"github.com/switchboard-gw/switchboard/normalize"
)

// Echo is the built-in demo bot: it answers a text with the same text, a
// quick reply or postback with its payload, and shows two quick replies so
// a person trying it sees the round trip. Everything else gets no reply.
type Echo struct{}

// Deliver answers event synchronously, as an HTTP backend would.
func (Echo) Deliver(_ context.Context, _ string, event, dst []byte) ([]byte, error) {
	var ev struct {
		Type    normalize.EventType `json:"type"`
		Text    string              `json:"text"`
		Payload string              `json:"payload"`
	}
	if err := json.Unmarshal(event, &ev); err != nil {
		return dst, nil
	}
	var text string
	switch ev.Type {
	case normalize.TypeText:
		text = "echo: " + ev.Text
	case normalize.TypeQuickReply, normalize.TypePostback:
		text = "you picked " + ev.Payload
	default:
		return dst, nil
	}
	answer, err := json.Marshal(normalize.BackendAnswer{Messages: []normalize.Reply{{
		Text: text,
		QuickReplies: []normalize.QuickReply{
			{Title: "Red", Payload: "RED"},
			{Title: "Blue", Payload: "BLUE"},
		},
	}}})
	return append(dst, answer...), err
}
