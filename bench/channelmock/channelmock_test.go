package channelmock

import (
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

func send(t *testing.T, url, body string) (int, string) {
	t.Helper()
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(url)
	req.Header.SetMethod("POST")
	req.SetBodyString(body)
	if err := fasthttp.DoTimeout(req, resp, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode(), string(resp.Body())
}

func TestMessengerSend(t *testing.T) {
	type reply struct{ to, text string }
	var got []reply
	s := &Server{OnReply: func(ch string, to, text []byte, _ time.Time) {
		if ch != "messenger" {
			t.Errorf("channel %q", ch)
		}
		got = append(got, reply{string(to), string(text)})
	}}
	s.AddMessengerPage("1061", "tok")
	if err := s.Start(""); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	base := s.MessengerBase()
	if !strings.HasSuffix(base, "/"+GraphVersion) {
		t.Fatalf("base %s", base)
	}
	ok := `{"recipient":{"id":"7001"},"messaging_type":"RESPONSE","message":{"text":"echo: messenger:m_1"}}`
	for _, path := range []string{"/me/messages", "/1061/messages"} {
		status, body := send(t, base+path+"?access_token=tok", ok)
		if status != 200 || !strings.Contains(body, `"recipient_id":"7001"`) || !strings.Contains(body, `"message_id":"m_`) {
			t.Fatalf("%s: %d %s", path, status, body)
		}
	}
	if len(got) != 2 || got[0] != (reply{"7001", "echo: messenger:m_1"}) {
		t.Fatalf("replies %+v", got)
	}
	for name, c := range map[string]struct{ path, body, want string }{
		"bad token":    {"/me/messages?access_token=nope", ok, `"code":190`},
		"other page":   {"/1062/messages?access_token=tok", ok, `"code":190`},
		"not json":     {"/me/messages?access_token=tok", `{`, `"code":100`},
		"no recipient": {"/me/messages?access_token=tok", `{"message":{"text":"x"}}`, `"code":100`},
		"no message":   {"/me/messages?access_token=tok", `{"recipient":{"id":"1"}}`, `"code":100`},
		"unknown edge": {"/me/feed?access_token=tok", ok, `"code":2500`},
	} {
		status, body := send(t, base+c.path, c.body)
		if status != 400 || !strings.Contains(body, c.want) {
			t.Errorf("%s: %d %s, want 400 with %s", name, status, body, c.want)
		}
	}
	if s.Accepted.Load() != 2 || s.Refused.Load() != 6 || len(got) != 2 {
		t.Fatalf("accepted %d refused %d", s.Accepted.Load(), s.Refused.Load())
	}
}
