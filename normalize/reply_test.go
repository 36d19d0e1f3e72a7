package normalize

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestQuickReplyExpand(t *testing.T) {
	tests := []struct {
		name string
		in   QuickReply
		want QuickReply
	}{
		{"plain title", QuickReply{Title: "Yes"}, QuickReply{Type: "text", Title: "Yes", Payload: "Yes"}},
		{"explicit payload kept", QuickReply{Title: "Yes", Payload: "YES_1"}, QuickReply{Type: "text", Title: "Yes", Payload: "YES_1"}},
		{"explicit text type", QuickReply{Type: "text", Title: "No"}, QuickReply{Type: "text", Title: "No", Payload: "No"}},
		{"user_email title", QuickReply{Title: "user_email"}, QuickReply{Type: "user_email"}},
		{"user_email title with payload", QuickReply{Title: "user_email", Payload: "X"}, QuickReply{Type: "user_email"}},
		{"user_phone_number title", QuickReply{Title: "user_phone_number"}, QuickReply{Type: "user_phone_number"}},
		{"user_phone_number padded", QuickReply{Title: "  user_phone_number "}, QuickReply{Type: "user_phone_number"}},
		{"user_email as explicit type", QuickReply{Type: "user_email"}, QuickReply{Type: "user_email"}},
		{"explicit phone type keeps title", QuickReply{Type: "user_phone_number", Title: "Call me"}, QuickReply{Type: "user_phone_number", Title: "Call me"}},
		{"unknown explicit type untouched", QuickReply{Type: "location", Title: "Where [https://i.png]"}, QuickReply{Type: "location", Title: "Where [https://i.png]"}},
		{"title containing user_email", QuickReply{Title: "my user_email"}, QuickReply{Type: "text", Title: "my user_email", Payload: "my user_email"}},
		{
			"icon shorthand",
			QuickReply{Title: "Red [https://example.com/red.png]"},
			QuickReply{Type: "text", Title: "Red", ImageURL: "https://example.com/red.png", Payload: "Red"},
		},
		{
			"icon shorthand http and payload",
			QuickReply{Title: "Green [http://example.com/g.png?s=1]", Payload: "GREEN"},
			QuickReply{Type: "text", Title: "Green", ImageURL: "http://example.com/g.png?s=1", Payload: "GREEN"},
		},
		{
			"icon shorthand with brackets in label",
			QuickReply{Title: "[x] Blue [https://example.com/b.png]"},
			QuickReply{Type: "text", Title: "[x] Blue", ImageURL: "https://example.com/b.png", Payload: "[x] Blue"},
		},
		{
			"brackets but not a URL",
			QuickReply{Title: "Option [A]"},
			QuickReply{Type: "text", Title: "Option [A]", Payload: "Option [A]"},
		},
		{
			"bracketed non-http scheme",
			QuickReply{Title: "Mail [mailto:a@b.c]"},
			QuickReply{Type: "text", Title: "Mail [mailto:a@b.c]", Payload: "Mail [mailto:a@b.c]"},
		},
		{
			"URL without space before bracket",
			QuickReply{Title: "Red[https://example.com/red.png]"},
			QuickReply{Type: "text", Title: "Red[https://example.com/red.png]", Payload: "Red[https://example.com/red.png]"},
		},
		{
			"bracket not at end",
			QuickReply{Title: "Red [https://example.com/red.png] now"},
			QuickReply{Type: "text", Title: "Red [https://example.com/red.png] now", Payload: "Red [https://example.com/red.png] now"},
		},
		{
			"explicit image_url wins over shorthand",
			QuickReply{Title: "Red [https://example.com/red.png]", ImageURL: "https://example.com/other.png"},
			QuickReply{Type: "text", Title: "Red [https://example.com/red.png]", ImageURL: "https://example.com/other.png", Payload: "Red [https://example.com/red.png]"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Reply{QuickReplies: []QuickReply{tt.in}}
			r.Expand()
			if diff := cmp.Diff(tt.want, r.QuickReplies[0]); diff != "" {
				t.Errorf("Expand (-want +got):\n%s", diff)
			}
			r.Expand()
			if diff := cmp.Diff(tt.want, r.QuickReplies[0]); diff != "" {
				t.Errorf("second Expand changed it (-want +got):\n%s", diff)
			}
		})
	}
}

func TestButtonExpand(t *testing.T) {
	tests := []struct {
		name string
		in   Button
		want Button
	}{
		{"postback", Button{Title: "Buy", Payload: "BUY_1"}, Button{Type: "postback", Title: "Buy", Payload: "BUY_1"}},
		{"postback payload defaults to title", Button{Title: "Buy"}, Button{Type: "postback", Title: "Buy", Payload: "Buy"}},
		{"https payload", Button{Title: "Site", Payload: "https://example.com/a?b=c"}, Button{Type: "url", Title: "Site", URL: "https://example.com/a?b=c"}},
		{"http payload", Button{Title: "Site", Payload: "http://example.com"}, Button{Type: "url", Title: "Site", URL: "http://example.com"}},
		{"ftp payload is a postback", Button{Title: "F", Payload: "ftp://example.com"}, Button{Type: "postback", Title: "F", Payload: "ftp://example.com"}},
		{"explicit url field", Button{Title: "Site", URL: "https://example.com"}, Button{Type: "url", Title: "Site", URL: "https://example.com"}},
		{"explicit phone field", Button{Title: "Call", Phone: "+15550100"}, Button{Type: "phone", Title: "Call", Phone: "+15550100"}},
		{"phone_number shorthand", Button{Title: "Call", Payload: "phone_number:+1555"}, Button{Type: "phone", Title: "Call", Phone: "+1555"}},
		{"phone_number shorthand with space", Button{Title: "Call", Payload: "phone_number: +1 555 0100"}, Button{Type: "phone", Title: "Call", Phone: "+1 555 0100"}},
		{"account_link shorthand", Button{Payload: "account_link:https://x"}, Button{Type: "account_link", URL: "https://x"}},
		{"account_link shorthand with title", Button{Title: "Log in", Payload: "account_link:https://login.example.com/auth?a=1"}, Button{Type: "account_link", Title: "Log in", URL: "https://login.example.com/auth?a=1"}},
		{"account_unlink title", Button{Title: "account_unlink"}, Button{Type: "account_unlink", Title: "account_unlink"}},
		{"account_unlink payload", Button{Title: "Log out", Payload: "account_unlink"}, Button{Type: "account_unlink", Title: "Log out"}},
		{"explicit account_link with url", Button{Type: "account_link", URL: "https://x"}, Button{Type: "account_link", URL: "https://x"}},
		{"explicit account_link with payload", Button{Type: "account_link", Payload: "https://x"}, Button{Type: "account_link", URL: "https://x"}},
		{"explicit account_link with prefixed payload", Button{Type: "account_link", Payload: "account_link:https://x"}, Button{Type: "account_link", URL: "https://x"}},
		{"explicit account_unlink", Button{Type: "account_unlink"}, Button{Type: "account_unlink"}},
		{"explicit postback payload defaults to title", Button{Type: "postback", Title: "T"}, Button{Type: "postback", Title: "T", Payload: "T"}},
		{"explicit postback untouched", Button{Type: "postback", Title: "T", Payload: "https://x"}, Button{Type: "postback", Title: "T", Payload: "https://x"}},
		{"explicit url untouched", Button{Type: "url", Title: "T", URL: "https://x", Payload: "P"}, Button{Type: "url", Title: "T", URL: "https://x", Payload: "P"}},
		{"explicit phone untouched", Button{Type: "phone", Title: "T", Payload: "phone_number:+1"}, Button{Type: "phone", Title: "T", Payload: "phone_number:+1"}},
		{"url field wins over payload", Button{Title: "T", URL: "https://a", Payload: "P"}, Button{Type: "url", Title: "T", URL: "https://a", Payload: "P"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Reply{Buttons: []Button{tt.in}}
			r.Expand()
			if diff := cmp.Diff(tt.want, r.Buttons[0]); diff != "" {
				t.Errorf("Expand (-want +got):\n%s", diff)
			}
			r.Expand()
			if diff := cmp.Diff(tt.want, r.Buttons[0]); diff != "" {
				t.Errorf("second Expand changed it (-want +got):\n%s", diff)
			}
		})
	}
}

// shorthandReply uses every shorthand in every place it may appear.
func shorthandReply() Reply {
	bs := func() []Button {
		return []Button{
			{Title: "Open", Payload: "https://example.com"},
			{Title: "Call", Payload: "phone_number:+15550100"},
			{Title: "Log in", Payload: "account_link:https://login.example.com"},
			{Title: "account_unlink"},
			{Title: "More"},
		}
	}
	return Reply{
		Text: "Pick one",
		QuickReplies: []QuickReply{
			{Title: "user_email"},
			{Title: "user_phone_number"},
			{Title: "Red [https://example.com/red.png]"},
			{Title: "Plain"},
		},
		Buttons: bs(),
		Cards: []Card{
			{Title: "A", Buttons: bs()},
			{Title: "B"},
			{Title: "C", Buttons: bs()[:1]},
		},
		Media: &Media{Type: "image", URL: "https://www.facebook.com/photo.php?fbid=1", Buttons: bs()[4:]},
	}
}

func TestReplyExpandEverywhere(t *testing.T) {
	want := func() []Button {
		return []Button{
			{Type: "url", Title: "Open", URL: "https://example.com"},
			{Type: "phone", Title: "Call", Phone: "+15550100"},
			{Type: "account_link", Title: "Log in", URL: "https://login.example.com"},
			{Type: "account_unlink", Title: "account_unlink"},
			{Type: "postback", Title: "More", Payload: "More"},
		}
	}
	wantReply := Reply{
		Text: "Pick one",
		QuickReplies: []QuickReply{
			{Type: "user_email"},
			{Type: "user_phone_number"},
			{Type: "text", Title: "Red", Payload: "Red", ImageURL: "https://example.com/red.png"},
			{Type: "text", Title: "Plain", Payload: "Plain"},
		},
		Buttons: want(),
		Cards: []Card{
			{Title: "A", Buttons: want()},
			{Title: "B"},
			{Title: "C", Buttons: want()[:1]},
		},
		Media: &Media{Type: "image", URL: "https://www.facebook.com/photo.php?fbid=1", Buttons: want()[4:]},
	}
	r := shorthandReply()
	r.Expand()
	if diff := cmp.Diff(wantReply, r); diff != "" {
		t.Errorf("Expand (-want +got):\n%s", diff)
	}

	// Idempotent: expanding the expanded reply changes nothing.
	twice := shorthandReply()
	twice.Expand()
	twice.Expand()
	if diff := cmp.Diff(r, twice); diff != "" {
		t.Errorf("Expand twice differs from once (-once +twice):\n%s", diff)
	}

	var empty Reply
	empty.Expand() // nothing to expand: must not panic
	if diff := cmp.Diff(Reply{}, empty); diff != "" {
		t.Errorf("Expand of an empty reply changed it:\n%s", diff)
	}
}

func TestMessagesRequestDecode(t *testing.T) {
	body := `{
	  "response_path": "1061234567890123/c/2345678901234567",
	  "messages": [
	    {"text": "Pick one",
	     "quick_replies": [{"title": "user_email"}, {"title": "Red [https://example.com/red.png]", "payload": "RED"}, {"type": "user_phone_number"}],
	     "buttons": [{"title": "Open", "payload": "https://example.com"}, {"title": "Call", "phone": "+15550100"}, {"type": "account_unlink"}],
	     "messaging_type": "MESSAGE_TAG", "tag": "ACCOUNT_UPDATE"},
	    {"cards": [{"title": "T", "subtitle": "S", "image_url": "https://i/x.png", "default_url": "https://d",
	                "buttons": [{"title": "Go", "url": "https://go"}, {"type": "account_link", "url": "https://login"}]}]},
	    {"attachment": {"type": "image", "url": "https://i/y.png", "reusable": true}},
	    {"attachment": {"type": "file", "attachment_id": "1857777774821032"}},
	    {"media": {"type": "video", "attachment_id": "123", "buttons": [{"title": "Watch", "url": "https://w"}]}},
	    {"sender_action": "typing_on"},
	    {"text": "again", "otn": true},
	    {"otn_request": {"title": "Notify me?", "payload": "NOTIFY"}},
	    {"text": "raw", "channel_data": {"notification_type": "SILENT_PUSH", "n": [1, 2]}}
	  ]
	}`
	var got MessagesRequest
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	want := MessagesRequest{
		ResponsePath: "1061234567890123/c/2345678901234567",
		Messages: []Reply{
			{
				Text: "Pick one",
				QuickReplies: []QuickReply{
					{Title: "user_email"},
					{Title: "Red [https://example.com/red.png]", Payload: "RED"},
					{Type: QuickReplyUserPhone},
				},
				Buttons: []Button{
					{Title: "Open", Payload: "https://example.com"},
					{Title: "Call", Phone: "+15550100"},
					{Type: ButtonAccountUnlink},
				},
				MessagingType: "MESSAGE_TAG",
				Tag:           "ACCOUNT_UPDATE",
			},
			{Cards: []Card{{
				Title: "T", Subtitle: "S", ImageURL: "https://i/x.png", DefaultURL: "https://d",
				Buttons: []Button{{Title: "Go", URL: "https://go"}, {Type: ButtonAccountLink, URL: "https://login"}},
			}}},
			{Attachment: &OutAttachment{Type: "image", URL: "https://i/y.png", Reusable: true}},
			{Attachment: &OutAttachment{Type: "file", AttachmentID: "1857777774821032"}},
			{Media: &Media{Type: "video", AttachmentID: "123", Buttons: []Button{{Title: "Watch", URL: "https://w"}}}},
			{SenderAction: SenderActionTypingOn},
			{Text: "again", OTN: true},
			{OTNRequest: &OTNRequest{Title: "Notify me?", Payload: "NOTIFY"}},
			{Text: "raw", ChannelData: json.RawMessage(`{"notification_type": "SILENT_PUSH", "n": [1, 2]}`)},
		},
	}
	if diff := cmp.Diff(want, got, compactRaw); diff != "" {
		t.Fatalf("decoded request (-want +got):\n%s", diff)
	}

	// After expansion the shorthand is explicit.
	got.Messages[0].Expand()
	if q := got.Messages[0].QuickReplies; q[0].Type != QuickReplyUserEmail || q[1].Title != "Red" || q[1].ImageURL == "" || q[1].Payload != "RED" {
		t.Errorf("expanded quick replies: %+v", q)
	}
	if b := got.Messages[0].Buttons; b[0].Type != ButtonURL || b[1].Type != ButtonPhone || b[2].Type != ButtonAccountUnlink {
		t.Errorf("expanded buttons: %+v", b)
	}

	// Encoding omits what is empty and round-trips.
	out, err := json.Marshal(&got)
	if err != nil {
		t.Fatal(err)
	}
	var again MessagesRequest
	if err := json.Unmarshal(out, &again); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(got, again, compactRaw); diff != "" {
		t.Errorf("encode/decode round trip (-before +after):\n%s", diff)
	}
}

func TestMessagesRequestByProvidedID(t *testing.T) {
	var got MessagesRequest
	if err := json.Unmarshal([]byte(`{"provided_id":"user-42","messages":[{"text":"hi"}]}`), &got); err != nil {
		t.Fatal(err)
	}
	want := MessagesRequest{ProvidedID: "user-42", Messages: []Reply{{Text: "hi"}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestSendResultJSON(t *testing.T) {
	tests := []struct {
		in   SendResult
		want string
	}{
		{SendResult{MessageID: "m_1", AttachmentID: "a_1"}, `{"message_id":"m_1","attachment_id":"a_1"}`},
		{SendResult{MessageID: "m_2", Degraded: []string{"quick_replies: 14 > 13, kept 13"}}, `{"message_id":"m_2","degraded":["quick_replies: 14 \u003e 13, kept 13"]}`},
		{
			SendResult{Error: &SendError{Code: "rate_limited", Message: "slow down", Retryable: true, ChannelCode: "613"}},
			`{"error":{"code":"rate_limited","message":"slow down","retryable":true,"channel_code":"613"}}`,
		},
		{SendResult{Error: &SendError{Code: "bad_recipient", Message: "no such user"}}, `{"error":{"code":"bad_recipient","message":"no such user","retryable":false}}`},
	}
	for _, tt := range tests {
		out, err := json.Marshal(tt.in)
		if err != nil {
			t.Fatal(err)
		}
		if string(out) != tt.want {
			t.Errorf("got  %s\nwant %s", out, tt.want)
		}
	}
}
