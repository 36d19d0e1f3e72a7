package mockbackend

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/switchboard-gw/switchboard/gateway/backend"
	"github.com/switchboard-gw/switchboard/normalize"
)

func sign(secret, body string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(body))
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

func post(t *testing.T, url, body, sig, id string) (int, []byte) {
	t.Helper()
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(url)
	req.Header.SetMethod("POST")
	req.Header.Set(backend.HeaderSignature, sig)
	if id != "" {
		req.Header.Set(backend.HeaderEventID, id)
	}
	req.SetBodyString(body)
	if err := fasthttp.DoTimeout(req, resp, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode(), append([]byte(nil), resp.Body()...)
}

func TestEchoesTheEventID(t *testing.T) {
	var mu sync.Mutex
	var got []string
	s := &Server{Secret: []byte("k"), OnEvent: func(id []byte, _ time.Time) {
		mu.Lock()
		got = append(got, string(id))
		mu.Unlock()
	}}
	url, err := s.Start("")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	body := `{"id":"messenger:m_1","type":"text"}`
	status, answer := post(t, url, body, sign("k", body), `messenger:m_"1"`)
	if status != 200 {
		t.Fatalf("status %d", status)
	}
	var a normalize.BackendAnswer
	if err := json.Unmarshal(answer, &a); err != nil || len(a.Messages) != 1 {
		t.Fatalf("answer %s: %v", answer, err)
	}
	id, ok := EventID([]byte(a.Messages[0].Text))
	if !ok || string(id) != `messenger:m_"1"` {
		t.Fatalf("reply text %q names %q", a.Messages[0].Text, id)
	}
	if len(got) != 1 || got[0] != `messenger:m_"1"` {
		t.Fatalf("OnEvent got %q", got)
	}

	if status, _ := post(t, url, body, sign("other", body), "e"); status != 401 {
		t.Fatalf("bad signature: %d", status)
	}
	if status, _ := post(t, url, body, "sha256=zz", "e"); status != 401 {
		t.Fatalf("malformed signature: %d", status)
	}
	if status, _ := post(t, url, body, sign("k", body), ""); status != 400 {
		t.Fatalf("no id: %d", status)
	}
	if s.BadSignature.Load() != 2 || s.MissingID.Load() != 1 || len(got) != 1 {
		t.Fatal("refusals not counted, or refused events reported")
	}
	if _, ok := EventID([]byte("hello")); ok {
		t.Fatal("EventID of a text that is no echo")
	}
}

// TestBatch answers a batched POST with one result per event, in order,
// each naming its event, and refuses a batch with an event lacking an id.
func TestBatch(t *testing.T) {
	var got []string
	s := &Server{Secret: []byte("k"), OnEvent: func(id []byte, _ time.Time) { got = append(got, string(id)) }}
	url, err := s.Start("")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	postBatch := func(body string) (int, []byte) {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		req.SetRequestURI(url)
		req.Header.SetMethod("POST")
		req.Header.Set(backend.HeaderSignature, sign("k", body))
		req.Header.Set(backend.HeaderBatch, "2")
		req.SetBodyString(body)
		if err := fasthttp.DoTimeout(req, resp, 5*time.Second); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode(), append([]byte(nil), resp.Body()...)
	}
	status, answer := postBatch(`{"events":[{"id":"a","type":"text"},{"id":"b","type":"read"}]}`)
	var a struct{ Results []normalize.BackendAnswer }
	if status != 200 || json.Unmarshal(answer, &a) != nil || len(a.Results) != 2 ||
		a.Results[0].Messages[0].Text != ReplyPrefix+"a" || a.Results[1].Messages[0].Text != ReplyPrefix+"b" {
		t.Fatalf("batch answer %d %s", status, answer)
	}
	if fmt.Sprint(got) != "[a b]" {
		t.Fatalf("OnEvent got %v", got)
	}
	if status, _ := postBatch(`{"events":[{"id":"c"},{"type":"text"}]}`); status != 400 {
		t.Fatalf("event without id: %d", status)
	}
}
