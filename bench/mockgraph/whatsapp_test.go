package mockgraph

import (
	"strings"
	"testing"
	"time"
)

const (
	phone   = "106540352242922"
	waToken = "wa-token"
)

func startWA(t *testing.T) (*Server, string) {
	t.Helper()
	s, base := start(t)
	s.AddPhoneNumber(phone, waToken)
	return s, base
}

// waCall posts body to url with auth as the Authorization header ("" for
// none).
func waCall(t *testing.T, url, auth, body string) answer {
	t.Helper()
	var hdr map[string]string
	if auth != "" {
		hdr = map[string]string{"Authorization": auth}
	}
	return callWith(t, "POST", url, body, hdr)
}

func (a answer) details() string {
	e, _ := a.body["error"].(map[string]any)
	d, _ := e["error_data"].(map[string]any)
	s, _ := d["details"].(string)
	return s
}

const waText = `{"messaging_product":"whatsapp","recipient_type":"individual","to":"447700900123","type":"text","text":{"body":"hi"}}`

func TestWhatsAppMessages(t *testing.T) {
	s, base := startWA(t)
	url := base + "/" + phone + "/messages"
	bearer := "Bearer " + waToken

	a := waCall(t, url, bearer, waText)
	msgs, _ := a.body["messages"].([]any)
	contacts, _ := a.body["contacts"].([]any)
	if a.status != 200 || a.body["messaging_product"] != "whatsapp" || len(msgs) != 1 || len(contacts) != 1 {
		t.Fatalf("text: %+v", a)
	}
	if id := msgs[0].(map[string]any)["id"].(string); !strings.HasPrefix(id, "wamid.") {
		t.Errorf("message id %q", id)
	}
	if c := contacts[0].(map[string]any); c["input"] != "447700900123" || c["wa_id"] != "447700900123" {
		t.Errorf("contacts %+v", c)
	}
	a = waCall(t, url, bearer, `{"messaging_product":"whatsapp","recipient":"US.13491208655302741918","type":"text","text":{"body":"hi"}}`)
	if c := a.body["contacts"].([]any)[0].(map[string]any); a.status != 200 || c["user_id"] != "US.13491208655302741918" {
		t.Errorf("BSUID: %+v", a)
	}
	a = waCall(t, url, bearer, `{"messaging_product":"whatsapp","status":"read","message_id":"wamid.X","typing_indicator":{"type":"text"}}`)
	if a.status != 200 || a.body["success"] != true {
		t.Errorf("mark read: %+v", a)
	}

	ok := []string{
		`{"messaging_product":"whatsapp","to":"1","type":"image","image":{"link":"https://x/y.png","caption":"c"}}`,
		`{"messaging_product":"whatsapp","to":"1","type":"document","document":{"id":"1234","filename":"a.pdf"}}`,
		`{"messaging_product":"whatsapp","to":"1","type":"interactive","interactive":{"type":"button","body":{"text":"?"},"action":{"buttons":[{"type":"reply","reply":{"id":"y","title":"Yes"}},{"type":"reply","reply":{"id":"n","title":"No"}}]}}}`,
		`{"messaging_product":"whatsapp","to":"1","type":"interactive","interactive":{"type":"list","body":{"text":"?"},"action":{"button":"Pick","sections":[{"rows":[{"id":"a","title":"A","description":"d"}]}]}}}`,
		`{"messaging_product":"whatsapp","to":"1","type":"interactive","interactive":{"type":"cta_url","body":{"text":"?"},"action":{"name":"cta_url","parameters":{"display_text":"Site","url":"https://x"}}}}`,
		`{"messaging_product":"whatsapp","to":"1","type":"template","template":{"name":"hello_world","language":{"code":"en_US"}}}`,
		`{"messaging_product":"whatsapp","to":"1","type":"reaction","reaction":{"message_id":"wamid.X","emoji":"👍"}}`,
		`{"messaging_product":"whatsapp","to":"1","text":{"body":"type defaults to text"}}`,
	}
	for _, body := range ok {
		if a := waCall(t, url, bearer, body); a.status != 200 {
			t.Errorf("%s: %+v", body, a)
		}
	}

	buttons := func(n int, title string) string {
		var b []string
		for i := range n {
			b = append(b, `{"type":"reply","reply":{"id":"`+string(rune('a'+i))+`","title":"`+title+string(rune('a'+i))+`"}}`)
		}
		return `{"messaging_product":"whatsapp","to":"1","type":"interactive","interactive":{"type":"button","body":{"text":"?"},"action":{"buttons":[` + strings.Join(b, ",") + `]}}}`
	}
	rows := func(n int) string {
		var b []string
		for i := range n {
			b = append(b, `{"id":"r`+string(rune('a'+i))+`","title":"R"}`)
		}
		return `{"messaging_product":"whatsapp","to":"1","type":"interactive","interactive":{"type":"list","body":{"text":"?"},"action":{"button":"Pick","sections":[{"rows":[` + strings.Join(b, ",") + `]}]}}}`
	}
	refused := []struct {
		name, url, auth, body string
		status                int
		code                  float64
	}{
		{"no auth", url, "", waText, 401, 190},
		{"unknown token", url, "Bearer nope", waText, 401, 190},
		{"not bearer", url, waToken, waText, 401, 190},
		{"other phone", base + "/999/messages", bearer, waText, 400, 100},
		{"unknown edge", base + "/" + phone + "/media", bearer, waText, 400, 2500},
		{"not JSON", url, bearer, `{`, 400, 100},
		{"no messaging_product", url, bearer, `{"to":"1","type":"text","text":{"body":"x"}}`, 400, 100},
		{"no to", url, bearer, `{"messaging_product":"whatsapp","type":"text","text":{"body":"x"}}`, 400, 100},
		{"no text object", url, bearer, `{"messaging_product":"whatsapp","to":"1","type":"text"}`, 400, 100},
		{"text too long", url, bearer, `{"messaging_product":"whatsapp","to":"1","type":"text","text":{"body":"` + strings.Repeat("é", 4097) + `"}}`, 400, 100},
		{"media id and link", url, bearer, `{"messaging_product":"whatsapp","to":"1","type":"image","image":{"id":"1","link":"https://x"}}`, 400, 100},
		{"unknown type", url, bearer, `{"messaging_product":"whatsapp","to":"1","type":"hologram","hologram":{}}`, 400, 100},
		{"4 buttons", url, bearer, buttons(4, "B"), 400, 131009},
		{"long button title", url, bearer, buttons(1, strings.Repeat("x", 20)), 400, 131009},
		{"11 rows", url, bearer, rows(11), 400, 131009},
		{"template without language", url, bearer, `{"messaging_product":"whatsapp","to":"1","type":"template","template":{"name":"x"}}`, 400, 100},
		{"read without id", url, bearer, `{"messaging_product":"whatsapp","status":"read"}`, 400, 100},
	}
	for _, r := range refused {
		if a := waCall(t, r.url, r.auth, r.body); a.status != r.status || a.code() != r.code {
			t.Errorf("%s: %d %v, want %d code %v", r.name, a.status, a.body, r.status, r.code)
		}
	}

	reqs := s.Requests()
	if reqs[0].Auth != bearer || reqs[0].Path != "/v25.0/"+phone+"/messages" || string(reqs[0].Body) != waText {
		t.Errorf("recorded %+v", reqs[0])
	}
	// Messenger keeps working beside WhatsApp.
	if a := call(t, "POST", base+"/me/messages?access_token="+token, text); a.status != 200 {
		t.Errorf("messenger: %+v", a)
	}
}

func TestWhatsAppScriptedErrors(t *testing.T) {
	s, base := startWA(t)
	url := base + "/" + phone + "/messages"
	bearer := "Bearer " + waToken

	for _, code := range []int{131047, 131026, 131056, 130429} {
		s.SetRecipientError("447700900123", code, 0)
		a := waCall(t, url, bearer, waText)
		if a.status != 400 || a.code() != float64(code) || a.details() == "" {
			t.Errorf("%d: %+v", code, a)
		}
		if a := waCall(t, url, bearer, strings.Replace(waText, "447700900123", "447700900999", 1)); a.status != 200 {
			t.Errorf("%d hit another recipient: %+v", code, a)
		}
	}
	s.SetRecipientError("447700900123", 0, 0)

	s.SetThrottle(&Throttle{RetryAfter: 2 * time.Second})
	if a := waCall(t, url, bearer, waText); a.code() != 130429 || a.header["Retry-After"] != "2" {
		t.Errorf("throttle: %+v", a)
	}
	s.SetThrottle(nil)

	s.SetRateLimit(2)
	limited := 0
	for range 5 {
		if a := waCall(t, url, bearer, waText); a.code() == 130429 {
			limited++
		}
	}
	if limited < 2 {
		t.Errorf("2/s: %d of 5 limited", limited)
	}
	s.SetRateLimit(0)
}

func TestWhatsAppPairRate(t *testing.T) {
	s, base := startWA(t)
	url := base + "/" + phone + "/messages"
	bearer := "Bearer " + waToken
	s.SetPairRate(6*time.Second, 2)
	var codes []float64
	for range 4 {
		codes = append(codes, waCall(t, url, bearer, waText).code())
	}
	if codes[0] != 0 || codes[1] != 0 || codes[2] != 131056 || codes[3] != 131056 {
		t.Errorf("codes %v, want two sends then 131056", codes)
	}
	// Another recipient has its own bucket; marking read is not counted.
	if a := waCall(t, url, bearer, strings.Replace(waText, "447700900123", "447700900999", 1)); a.status != 200 {
		t.Errorf("other recipient: %+v", a)
	}
	if a := waCall(t, url, bearer, `{"messaging_product":"whatsapp","status":"read","message_id":"wamid.X"}`); a.status != 200 {
		t.Errorf("mark read: %+v", a)
	}
	s.Reset()
	if a := waCall(t, url, bearer, waText); a.status != 200 {
		t.Errorf("after Reset: %+v", a)
	}
}
