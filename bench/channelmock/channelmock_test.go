package channelmock

import (
	"encoding/json"
	"net/url"
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

func TestTelegramSend(t *testing.T) {
	type reply struct{ to, text string }
	var got []reply
	s := &Server{OnReply: func(ch string, to, text []byte, _ time.Time) {
		if ch != "telegram" {
			t.Errorf("channel %q", ch)
		}
		got = append(got, reply{string(to), string(text)})
	}}
	s.AddTelegramBot("7000000001:tok")
	if err := s.Start(""); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	base := s.TelegramBase() + "/bot7000000001:tok/"
	status, body := send(t, base+"sendMessage", `{"chat_id":1000000000001,"text":"echo: telegram:7000000001:5"}`)
	if status != 200 || !strings.Contains(body, `"ok":true`) || !strings.Contains(body, `"chat":{"id":1000000000001`) {
		t.Fatalf("sendMessage: %d %s", status, body)
	}
	if status, body := send(t, base+"sendMessage", `{"chat_id":"@channel","text":"x"}`); status != 200 {
		t.Fatalf("string chat_id: %d %s", status, body)
	}
	if status, body := send(t, base+"answerCallbackQuery", `{"callback_query_id":"q1"}`); status != 200 || body != `{"ok":true,"result":true}` {
		t.Fatalf("answerCallbackQuery: %d %s", status, body)
	}
	if len(got) != 2 || got[0] != (reply{"1000000000001", "echo: telegram:7000000001:5"}) || got[1].to != "@channel" {
		t.Fatalf("replies %+v", got)
	}
	for name, c := range map[string]struct {
		url, body string
		status    int
	}{
		"bad token":      {s.TelegramBase() + "/botnope/sendMessage", `{"chat_id":1,"text":"x"}`, 401},
		"not json":       {base + "sendMessage", `{`, 400},
		"no text":        {base + "sendMessage", `{"chat_id":1}`, 400},
		"unknown method": {base + "sendPigeon", `{"chat_id":1,"text":"x"}`, 404},
	} {
		status, body := send(t, c.url, c.body)
		if status != c.status || !strings.Contains(body, `"ok":false`) {
			t.Errorf("%s: %d %s, want %d", name, status, body, c.status)
		}
	}
	if s.Accepted.Load() != 2 || s.Refused.Load() != 4 {
		t.Fatalf("accepted %d refused %d", s.Accepted.Load(), s.Refused.Load())
	}
}

func TestWhatsAppSend(t *testing.T) {
	type reply struct{ to, text string }
	var got []reply
	s := &Server{OnReply: func(ch string, to, text []byte, _ time.Time) {
		if ch != "whatsapp" {
			t.Errorf("channel %q", ch)
		}
		got = append(got, reply{string(to), string(text)})
	}}
	s.AddWhatsAppNumber("1065", "wtok")
	s.AddMessengerPage("1061", "mtok")
	if err := s.Start(""); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	post := func(path, auth, body string) (int, string) {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		req.SetRequestURI(s.MessengerBase() + path)
		req.Header.SetMethod("POST")
		if auth != "" {
			req.Header.Set("Authorization", "Bearer "+auth)
		}
		req.SetBodyString(body)
		if err := fasthttp.DoTimeout(req, resp, 5*time.Second); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode(), string(resp.Body())
	}
	ok := `{"messaging_product":"whatsapp","recipient_type":"individual","to":"16505551234","type":"text","text":{"body":"echo: whatsapp:wamid.X"}}`
	status, body := post("/1065/messages", "wtok", ok)
	if status != 200 || !strings.Contains(body, `"wa_id":"16505551234"`) || !strings.Contains(body, `"messages":[{"id":"wamid.`) {
		t.Fatalf("send: %d %s", status, body)
	}
	if len(got) != 1 || got[0] != (reply{"16505551234", "echo: whatsapp:wamid.X"}) {
		t.Fatalf("replies %+v", got)
	}
	for name, c := range map[string]struct{ path, auth, body, want string }{
		"bad token":       {"/1065/messages", "nope", ok, `"code":190`},
		"other number":    {"/1066/messages", "wtok", ok, `"code":190`},
		"messenger token": {"/1061/messages", "mtok", ok, `"code":190`},
		"no product":      {"/1065/messages", "wtok", `{"to":"1","type":"text","text":{"body":"x"}}`, `"code":100`},
		"no recipient":    {"/1065/messages", "wtok", `{"messaging_product":"whatsapp","type":"text","text":{"body":"x"}}`, `"code":100`},
	} {
		status, body := post(c.path, c.auth, c.body)
		if status != 400 || !strings.Contains(body, c.want) {
			t.Errorf("%s: %d %s, want 400 with %s", name, status, body, c.want)
		}
	}
	if s.Accepted.Load() != 1 || s.Refused.Load() != 5 {
		t.Fatalf("accepted %d refused %d", s.Accepted.Load(), s.Refused.Load())
	}
}

func TestViberSend(t *testing.T) {
	type reply struct{ to, text string }
	var got []reply
	s := &Server{OnReply: func(ch string, to, text []byte, _ time.Time) {
		if ch != "viber" {
			t.Errorf("channel %q", ch)
		}
		got = append(got, reply{string(to), string(text)})
	}}
	s.AddViberBot("vtok")
	if err := s.Start(""); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	post := func(token, body string) string {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		req.SetRequestURI(s.ViberBase() + "/send_message")
		req.Header.SetMethod("POST")
		req.Header.Set("X-Viber-Auth-Token", token)
		req.SetBodyString(body)
		if err := fasthttp.DoTimeout(req, resp, 5*time.Second); err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode() != 200 {
			t.Fatalf("HTTP %d: Viber answers 200 with a status", resp.StatusCode())
		}
		return string(resp.Body())
	}
	if body := post("vtok", `{"receiver":"r/Zx0w9Q+Pu1tKd8Vm2sLg==","type":"text","text":"echo: viber:message:x:1"}`); !strings.HasPrefix(body, `{"status":0,`) || !strings.Contains(body, `"message_token":5`) {
		t.Fatalf("send: %s", body)
	}
	if len(got) != 1 || got[0] != (reply{"r/Zx0w9Q+Pu1tKd8Vm2sLg==", "echo: viber:message:x:1"}) {
		t.Fatalf("replies %+v", got)
	}
	for name, c := range map[string]struct{ token, body, want string }{
		"bad token":   {"nope", `{"receiver":"a","type":"text","text":"x"}`, `{"status":2,`},
		"not json":    {"vtok", `{`, `{"status":3,`},
		"no receiver": {"vtok", `{"type":"text","text":"x"}`, `{"status":3,`},
	} {
		if body := post(c.token, c.body); !strings.HasPrefix(body, c.want) {
			t.Errorf("%s: %s, want %s", name, body, c.want)
		}
	}
	if s.Accepted.Load() != 1 || s.Refused.Load() != 3 {
		t.Fatalf("accepted %d refused %d", s.Accepted.Load(), s.Refused.Load())
	}
}

// TestMessengerBatch: a Graph batch request's calls are served one by one
// like plain sends (a form body standing for the JSON one, each call's own
// token), answered as an array of {code, body}, and the connection is
// closed as Graph closes it.
func TestMessengerBatch(t *testing.T) {
	var got []string
	s := &Server{OnReply: func(_ string, to, text []byte, _ time.Time) { got = append(got, string(to)+":"+string(text)) }}
	s.AddMessengerPage("1061", "tok")
	if err := s.Start(""); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	call := func(psid, token string) string {
		return `{"method":"POST","relative_url":"me/messages","body":"recipient=` +
			url.QueryEscape(`{"id":"`+psid+`"}`) + `&messaging_type=RESPONSE&message=` +
			url.QueryEscape(`{"text":"hi `+psid+`"}`) + `&access_token=` + token + `"}`
	}
	batch := "[" + call("7001", "tok") + "," + call("7002", "nope") + "," +
		`{"method":"POST","relative_url":"me/messages","body":"recipient=` + url.QueryEscape(`{"id":"7003"}`) + `&message=` + url.QueryEscape(`{"text":"top token"}`) + `"}]`

	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(s.MessengerBase() + "/")
	req.Header.SetMethod("POST")
	req.Header.SetContentType("application/x-www-form-urlencoded")
	req.SetBodyString("access_token=tok&include_headers=false&batch=" + url.QueryEscape(batch))
	if err := fasthttp.DoTimeout(req, resp, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	var results []struct {
		Code    int
		Body    string
		Headers []any
	}
	if err := json.Unmarshal(resp.Body(), &results); err != nil || resp.StatusCode() != 200 {
		t.Fatalf("%d %s: %v", resp.StatusCode(), resp.Body(), err)
	}
	if !resp.ConnectionClose() {
		t.Error("the connection stays open after a batch answer")
	}
	if len(results) != 3 || results[0].Code != 200 || !strings.Contains(results[0].Body, `"recipient_id":"7001"`) ||
		results[1].Code != 400 || !strings.Contains(results[1].Body, `"code":190`) ||
		results[2].Code != 200 || results[0].Headers != nil {
		t.Errorf("results %+v", results)
	}
	if s.Batches.Load() != 1 || s.Accepted.Load() != 2 || s.Refused.Load() != 1 {
		t.Errorf("batches %d accepted %d refused %d", s.Batches.Load(), s.Accepted.Load(), s.Refused.Load())
	}
	if len(got) != 2 || got[0] != "7001:hi 7001" || got[1] != "7003:top token" {
		t.Errorf("replies %q", got)
	}

	// Refused whole: no batch, not an array (in the query, as Graph also
	// takes it), too many calls.
	many := "[" + strings.Repeat(call("1", "tok")+",", 50) + call("1", "tok") + "]"
	for name, c := range map[string]struct{ query, want string }{
		"none":      {"access_token=tok", "batch is required"},
		"not array": {"batch=%7B%7D", "must be a JSON array"},
		"51 calls":  {"", "Maximum batch size is 50"},
	} {
		req.Reset()
		req.SetRequestURI(s.MessengerBase() + "/?" + c.query)
		req.Header.SetMethod("POST")
		if c.query == "" {
			req.Header.SetContentType("application/x-www-form-urlencoded")
			req.SetBodyString("batch=" + url.QueryEscape(many))
		}
		if err := fasthttp.DoTimeout(req, resp, 5*time.Second); err != nil {
			t.Fatal(err)
		}
		status, answer := resp.StatusCode(), string(resp.Body())
		if status != 400 || !strings.Contains(answer, c.want) {
			t.Errorf("%s: %d %s", name, status, answer)
		}
	}
	if s.Accepted.Load() != 2 {
		t.Errorf("a refused batch sent something: accepted %d", s.Accepted.Load())
	}
}
