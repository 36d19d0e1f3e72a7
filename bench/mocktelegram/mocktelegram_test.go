package mocktelegram

import (
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

func start(t *testing.T) *Server {
	t.Helper()
	s, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

var client = &fasthttp.Client{ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second}

type answer struct {
	status int
	Ok     bool            `json:"ok"`
	Result json.RawMessage `json:"result"`
	Code   int             `json:"error_code"`
	Desc   string          `json:"description"`
	Params struct {
		RetryAfter int             `json:"retry_after"`
		MigrateTo  json.RawMessage `json:"migrate_to_chat_id"`
	} `json:"parameters"`
}

func call(t *testing.T, s *Server, token, method, body string) answer {
	t.Helper()
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(s.URL() + "/bot" + token + "/" + method)
	req.Header.SetMethod("POST")
	if body != "" {
		req.Header.SetContentType("application/json")
		req.SetBodyString(body)
	}
	if err := client.Do(req, resp); err != nil {
		t.Fatal(err)
	}
	var a answer
	if err := json.Unmarshal(resp.Body(), &a); err != nil {
		t.Fatalf("answer %q: %v", resp.Body(), err)
	}
	a.status = resp.StatusCode()
	if a.status != 200 && (a.Ok || a.Code != a.status) {
		t.Fatalf("error envelope %d does not match the status: %s", a.Code, resp.Body())
	}
	return a
}

func send(t *testing.T, s *Server, method, body string) answer {
	t.Helper()
	return call(t, s, DefaultToken, method, body)
}

func TestSendMessage(t *testing.T) {
	s := start(t)
	a := send(t, s, "sendMessage", `{"chat_id":-1001234567890123,"text":"hi","reply_markup":{"inline_keyboard":[[{"text":"A","callback_data":"a"}]]}}`)
	if a.status != 200 || !a.Ok {
		t.Fatalf("%+v", a)
	}
	var m struct {
		MessageID int64           `json:"message_id"`
		Chat      json.RawMessage `json:"chat"`
		Text      string          `json:"text"`
		Markup    json.RawMessage `json:"reply_markup"`
	}
	if err := json.Unmarshal(a.Result, &m); err != nil {
		t.Fatal(err)
	}
	if m.MessageID != 1 || m.Text != "hi" || !strings.Contains(string(m.Chat), `"id":-1001234567890123,"type":"supergroup"`) || len(m.Markup) == 0 {
		t.Errorf("result %s", a.Result)
	}
	// Message ids count per chat.
	a = send(t, s, "sendMessage", `{"chat_id":-1001234567890123,"text":"again"}`)
	b := send(t, s, "sendMessage", `{"chat_id":"7123456789","text":"other chat"}`)
	if !strings.Contains(string(a.Result), `"message_id":2`) || !strings.Contains(string(b.Result), `"message_id":1,`) || !strings.Contains(string(b.Result), `"type":"private"`) {
		t.Errorf("ids: %s / %s", a.Result, b.Result)
	}
	reqs := s.Requests()
	if len(reqs) != 3 || reqs[0].Method != "sendMessage" || reqs[0].ChatID != "-1001234567890123" || reqs[0].BotID != DefaultBotID || reqs[0].Status != 200 {
		t.Fatalf("recorded %+v", reqs)
	}
	if got := s.Sent("-1001234567890123"); len(got) != 2 {
		t.Errorf("Sent = %d", len(got))
	}
}

func TestValidation(t *testing.T) {
	s := start(t)
	s.SetFlood(Flood{})
	tests := []struct {
		method, body string
		status       int
		desc         string
	}{
		{"sendMessage", `{"text":"hi"}`, 400, "Bad Request: chat_id is empty"},
		{"sendMessage", `{"chat_id":1.5,"text":"hi"}`, 400, "Bad Request: chat_id is empty"},
		{"sendMessage", `{"chat_id":5}`, 400, "Bad Request: message text is empty"},
		{"sendMessage", `{"chat_id":5,"text":"  "}`, 400, "Bad Request: message text is empty"},
		{"sendMessage", `{"chat_id":5,"text":"` + strings.Repeat("a", 4097) + `"}`, 400, "Bad Request: message is too long"},
		{"sendMessage", `{"chat_id":5,"text":"` + strings.Repeat("😀", 2049) + `"}`, 400, "Bad Request: message is too long"},
		{"sendMessage", `{"chat_id":5,"text":"` + strings.Repeat("a", 4096) + `"}`, 200, ""},
		{"sendMessage", `{"chat_id":5,"text":"x","reply_markup":{"inline_keyboard":[[{"text":"A","callback_data":"` + strings.Repeat("d", 65) + `"}]]}}`, 400, "Bad Request: BUTTON_DATA_INVALID"},
		{"sendMessage", `{"chat_id":5,"text":"x","reply_markup":{"inline_keyboard":[[{"text":"A"}]]}}`, 400, "Bad Request: BUTTON_TYPE_INVALID"},
		{"sendMessage", `{"chat_id":5,"text":"x"`, 400, ""},
		{"sendPhoto", `{"chat_id":5}`, 400, "Bad Request: there is no photo in the request"},
		{"sendPhoto", `{"chat_id":5,"photo":"https://x/p.png","caption":"` + strings.Repeat("c", 1025) + `"}`, 400, "Bad Request: message caption is too long"},
		{"sendDocument", `{"chat_id":5,"document":"BQAC"}`, 200, ""},
		{"sendLocation", `{"chat_id":5,"latitude":"1","longitude":2}`, 400, "Bad Request: wrong latitude specified"},
		{"sendLocation", `{"chat_id":5,"latitude":1,"longitude":2}`, 200, ""},
		{"sendChatAction", `{"chat_id":5,"action":"dancing"}`, 400, "Bad Request: wrong parameter action in request"},
		{"sendChatAction", `{"chat_id":5,"action":"typing"}`, 200, ""},
		{"answerCallbackQuery", `{}`, 400, "Bad Request: query is too old and response timeout expired or query ID is invalid"},
		{"answerCallbackQuery", `{"callback_query_id":"q"}`, 200, ""},
		{"sendSticker", `{"chat_id":5}`, 404, "Not Found"},
	}
	for _, tt := range tests {
		a := send(t, s, tt.method, tt.body)
		if a.status != tt.status || (tt.desc != "" && a.Desc != tt.desc) {
			t.Errorf("%s %.60s: %d %q, want %d %q", tt.method, tt.body, a.status, a.Desc, tt.status, tt.desc)
		}
	}
}

func TestTokenAndRoutes(t *testing.T) {
	s := start(t)
	a := call(t, s, "123:wrong", "sendMessage", `{"chat_id":5,"text":"x"}`)
	if a.status != 401 || a.Desc != "Unauthorized" {
		t.Errorf("bad token: %+v", a)
	}
	s.AddToken("123:right")
	if a := call(t, s, "123:right", "getMe", ""); a.status != 200 || !strings.Contains(string(a.Result), `"id":123,"is_bot":true`) {
		t.Errorf("getMe: %+v %s", a, a.Result)
	}
	if a := call(t, s, DefaultToken, "getMe", ""); !strings.Contains(string(a.Result), `"username":"mock`+DefaultBotID+`_bot"`) {
		t.Errorf("getMe: %s", a.Result)
	}
	// Form parameters work too, as with the real API.
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(s.URL() + "/bot" + DefaultToken + "/sendMessage?chat_id=42&text=from+the+query")
	if err := client.Do(req, resp); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode() != 200 || !strings.Contains(string(resp.Body()), `"text":"from the query"`) {
		t.Errorf("query args: %d %s", resp.StatusCode(), resp.Body())
	}
}

func TestScriptedFailures(t *testing.T) {
	s := start(t)
	s.Block("", "7123456789")
	s.ChatNotFound("", "-4000000001")
	s.Migrate("", "-4012345678", "-1001987654321")
	s.FailNext(2, 502, `{"ok":false,"error_code":502,"description":"Bad Gateway"}`)

	for range 2 {
		if a := send(t, s, "sendMessage", `{"chat_id":1,"text":"x"}`); a.status != 502 {
			t.Fatalf("FailNext: %+v", a)
		}
	}
	if a := send(t, s, "sendMessage", `{"chat_id":1,"text":"x"}`); a.status != 200 {
		t.Fatalf("after FailNext: %+v", a)
	}
	if a := send(t, s, "sendMessage", `{"chat_id":7123456789,"text":"x"}`); a.status != 403 || a.Desc != "Forbidden: bot was blocked by the user" {
		t.Errorf("blocked: %+v", a)
	}
	if a := send(t, s, "sendMessage", `{"chat_id":-4000000001,"text":"x"}`); a.status != 400 || a.Desc != "Bad Request: chat not found" {
		t.Errorf("not found: %+v", a)
	}
	a := send(t, s, "sendMessage", `{"chat_id":-4012345678,"text":"x"}`)
	if a.status != 400 || string(a.Params.MigrateTo) != "-1001987654321" || !strings.Contains(a.Desc, "upgraded to a supergroup") {
		t.Errorf("migrated: %+v", a)
	}
	if a := send(t, s, "sendMessage", `{"chat_id":-1001987654321,"text":"x"}`); a.status != 200 {
		t.Errorf("new chat: %+v", a)
	}
	// Rules are per bot.
	s.AddToken("99:other")
	if a := call(t, s, "99:other", "sendMessage", `{"chat_id":7123456789,"text":"x"}`); a.status != 200 {
		t.Errorf("other bot blocked too: %+v", a)
	}
	s.Reset()
	if a := send(t, s, "sendMessage", `{"chat_id":7123456789,"text":"x"}`); a.status != 200 || s.Count() != 1 {
		t.Errorf("after Reset: %+v, count %d", a, s.Count())
	}
}

func TestFlood(t *testing.T) {
	s := start(t)
	// Private chat: a burst of 3, then 429 with retry_after 1.
	for i := range 3 {
		if a := send(t, s, "sendMessage", `{"chat_id":5,"text":"x"}`); a.status != 200 {
			t.Fatalf("burst %d: %+v", i, a)
		}
	}
	a := send(t, s, "sendMessage", `{"chat_id":5,"text":"x"}`)
	if a.status != 429 || a.Params.RetryAfter != 1 || a.Desc != "Too Many Requests: retry after 1" {
		t.Fatalf("flood: %+v", a)
	}
	// Chat actions and other chats are not counted against it.
	if a := send(t, s, "sendChatAction", `{"chat_id":5,"action":"typing"}`); a.status != 200 {
		t.Errorf("chat action: %+v", a)
	}
	if a := send(t, s, "sendMessage", `{"chat_id":6,"text":"x"}`); a.status != 200 {
		t.Errorf("other chat: %+v", a)
	}
	// A group takes 20 at once, then one every 3 s.
	for i := range 20 {
		if a := send(t, s, "sendMessage", `{"chat_id":-4012345678,"text":"x"}`); a.status != 200 {
			t.Fatalf("group message %d: %+v", i, a)
		}
	}
	a = send(t, s, "sendMessage", `{"chat_id":-4012345678,"text":"x"}`)
	if a.status != 429 || a.Params.RetryAfter != 3 {
		t.Fatalf("group flood: %+v", a)
	}
	// A refused message takes no slot: after the wait one goes through.
	s.SetFlood(Flood{PrivateEvery: 100 * time.Millisecond, PrivateBurst: 1})
	send(t, s, "sendMessage", `{"chat_id":5,"text":"x"}`)
	if a := send(t, s, "sendMessage", `{"chat_id":5,"text":"x"}`); a.status != 429 || a.Params.RetryAfter != 1 {
		t.Fatalf("short flood: %+v", a)
	}
	time.Sleep(120 * time.Millisecond)
	if a := send(t, s, "sendMessage", `{"chat_id":5,"text":"x"}`); a.status != 200 {
		t.Fatalf("after the wait: %+v", a)
	}
}

func TestMediaFileIDs(t *testing.T) {
	s := start(t)
	a := send(t, s, "sendPhoto", `{"chat_id":5,"photo":"https://cdn.example/p.png","caption":"c"}`)
	var m struct {
		Photo []struct {
			FileID string `json:"file_id"`
			Width  int    `json:"width"`
		} `json:"photo"`
		Caption string `json:"caption"`
	}
	if err := json.Unmarshal(a.Result, &m); err != nil || len(m.Photo) != 2 || m.Caption != "c" || !strings.HasPrefix(m.Photo[1].FileID, "AgACmock") {
		t.Fatalf("photo result %s (%v)", a.Result, err)
	}
	b := send(t, s, "sendPhoto", `{"chat_id":5,"photo":"`+m.Photo[1].FileID+`"}`)
	if !strings.Contains(string(b.Result), `"file_id":"`+m.Photo[1].FileID+`"`) {
		t.Errorf("file_id not kept: %s", b.Result)
	}
	for _, method := range []string{"sendDocument", "sendVideo", "sendAudio"} {
		field := strings.ToLower(strings.TrimPrefix(method, "send"))
		r := send(t, s, method, `{"chat_id":7,"`+field+`":"https://cdn.example/f"}`)
		if r.status != 200 || !strings.Contains(string(r.Result), `"`+field+`":{"file_id":"BQACmock`) {
			t.Errorf("%s: %s", method, r.Result)
		}
	}
}

func TestConcurrent(t *testing.T) {
	s := start(t)
	s.SetFlood(Flood{})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			for i := range 25 {
				req.SetRequestURI(s.URL() + "/bot" + DefaultToken + "/sendMessage")
				req.Header.SetMethod("POST")
				req.Header.SetContentType("application/json")
				req.SetBodyString(`{"chat_id":` + strconv.Itoa(g+1) + `,"text":"m` + strconv.Itoa(i) + `"}`)
				if err := client.Do(req, resp); err != nil || resp.StatusCode() != 200 {
					t.Errorf("goroutine %d message %d: %v %d", g, i, err, resp.StatusCode())
					return
				}
				_ = s.Requests()
			}
		}()
	}
	wg.Wait()
	if s.Count() != 200 || len(s.Requests()) != 200 {
		t.Fatalf("count %d, recorded %d", s.Count(), len(s.Requests()))
	}
	for g := range 8 {
		if n := len(s.Sent(strconv.Itoa(g + 1))); n != 25 {
			t.Errorf("chat %d: %d messages", g+1, n)
		}
	}
}
