package web

import (
	"context"
	"errors"
	"testing"

	"github.com/switchboard-gw/switchboard/adapters"
	"github.com/switchboard-gw/switchboard/normalize"
)

// fakeTransport records delivered frames.
type fakeTransport struct {
	frames []Frame
	to     []string
	err    error
}

func (f *fakeTransport) Deliver(_ context.Context, conn, channelID string, fr *Frame) (string, error) {
	if f.err != nil {
		return "", f.err
	}
	f.frames = append(f.frames, *fr)
	f.to = append(f.to, conn+"|"+channelID)
	return "wm_test_1", nil
}

func TestSend(t *testing.T) {
	a := testAdapter()
	to := adapters.Recipient{BotID: "acme-site", ChannelID: "cust_1"}
	if _, err := a.Send(context.Background(), to, &normalize.Reply{Text: "hi"}); err == nil {
		t.Fatal("sent without a transport")
	} else if ae := new(adapters.APIError); !errors.As(err, &ae) || ae.Class != adapters.ClassConfig {
		t.Fatalf("no transport: %v, want a configuration error", err)
	}
	ft := &fakeTransport{}
	a.Transport = ft
	sent, err := a.Send(context.Background(), to, &normalize.Reply{Text: "hi", QuickReplies: []normalize.QuickReply{{Title: "user_email"}}})
	if err != nil || sent.MessageID != "wm_test_1" || len(sent.Degraded) != 1 {
		t.Fatalf("send: %+v %v", sent, err)
	}
	if len(ft.frames) != 1 || ft.frames[0].Text != "hi" || ft.frames[0].From != FromBot || ft.to[0] != "site|cust_1" {
		t.Fatalf("delivered %+v to %v", ft.frames, ft.to)
	}
	// mark_seen shows nothing and calls nothing.
	if sent, err := a.Send(context.Background(), to, &normalize.Reply{SenderAction: "mark_seen"}); err != nil || sent.MessageID != "" || len(ft.frames) != 1 {
		t.Fatalf("mark_seen: %+v %v", sent, err)
	}
	// Another bot's recipient is refused before any delivery.
	if _, err := a.Send(context.Background(), adapters.Recipient{BotID: "other", ChannelID: "x"}, &normalize.Reply{Text: "hi"}); err == nil {
		t.Fatal("sent for another bot")
	}
	// A store failure is transient: dispatch retries it.
	ft.err = errors.New("disk full")
	_, err = a.Send(context.Background(), to, &normalize.Reply{Text: "hi"})
	if ae := new(adapters.APIError); !errors.As(err, &ae) || ae.Class != adapters.ClassTransient {
		t.Fatalf("store failure: %v, want transient", err)
	}
}
