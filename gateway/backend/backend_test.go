package backend

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/adapters/meta"

	"github.com/valyala/fasthttp"

	"github.com/switchboard-gw/switchboard/normalize"
)

func serve(t *testing.T, h fasthttp.RequestHandler) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Shutdown() })
	return "http://" + ln.Addr().String() + "/events"
}

// TestHTTPDeliver checks the event is posted signed, with its id, and the
// answer comes back; non-2xx and timeouts are errors.
func TestHTTPDeliver(t *testing.T) {
	secret := []byte("k")
	event := []byte(`{"id":"messenger:m1","type":"text"}`)
	status := 200
	delay := time.Duration(0)
	url := serve(t, func(ctx *fasthttp.RequestCtx) {
		time.Sleep(delay)
		want := (&meta.Signer{Secret: secret}).Sign(nil, ctx.PostBody())
		if !bytes.Equal(ctx.Request.Header.Peek(HeaderSignature), want) {
			t.Errorf("signature %q, want %q", ctx.Request.Header.Peek(HeaderSignature), want)
		}
		if string(ctx.Request.Header.Peek(HeaderEventID)) != "messenger:m1" {
			t.Errorf("event id header %q", ctx.Request.Header.Peek(HeaderEventID))
		}
		ctx.SetStatusCode(status)
		ctx.SetBodyString(`{"messages":[{"text":"ok"}]}`)
	})
	h := NewHTTP(url, secret, 200*time.Millisecond, 4)
	// The answer is appended to the buffer given.
	ans, err := h.Deliver(context.Background(), "messenger:m1", event, []byte("kept:"))
	if err != nil || string(ans) != `kept:{"messages":[{"text":"ok"}]}` {
		t.Fatalf("deliver: %q %v", ans, err)
	}
	status = 500
	_, err = h.Deliver(context.Background(), "messenger:m1", event, nil)
	var se *StatusError
	if !errors.As(err, &se) || se.Status != 500 {
		t.Fatalf("500: %v", err)
	}
	status, delay = 200, 400*time.Millisecond
	if _, err = h.Deliver(context.Background(), "messenger:m1", event, nil); !errors.Is(err, ErrTimeout) {
		t.Fatalf("slow backend: %v, want ErrTimeout", err)
	}
}

// TestSignerKnownVector checks the signature against a value computed
// independently (echo -n body | openssl dgst -sha256 -hmac key).
func TestSignerKnownVector(t *testing.T) {
	got := string((&meta.Signer{Secret: []byte("key")}).Sign(nil, []byte("The quick brown fox jumps over the lazy dog")))
	want := "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
	if got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

// TestEcho checks the built-in bot's answers.
func TestEcho(t *testing.T) {
	for _, c := range []struct{ event, want string }{
		{`{"type":"text","text":"hi"}`, "echo: hi"},
		{`{"type":"postback","payload":"GO"}`, "you picked GO"},
		{`{"type":"read"}`, ""},
		{`not json`, ""},
	} {
		ans, err := Echo{}.Deliver(context.Background(), "id", []byte(c.event), nil)
		if err != nil {
			t.Fatal(err)
		}
		if c.want == "" {
			if len(ans) != 0 {
				t.Errorf("%s: answered %s, want nothing", c.event, ans)
			}
			continue
		}
		var a normalize.BackendAnswer
		if err := json.Unmarshal(ans, &a); err != nil || len(a.Messages) != 1 || a.Messages[0].Text != c.want {
			t.Errorf("%s: answered %s, want text %q", c.event, ans, c.want)
		}
	}
}

// TestHTTPResumesTLS: the backend client takes the gateway's TLS settings,
// so reconnecting to an HTTPS backend resumes the session
// (adapters.TestNewClientResumesTLS shows the resumption itself).
func TestHTTPResumesTLS(t *testing.T) {
	h := NewHTTP("https://backend.example/events", []byte("s"), time.Second, 4)
	if c := h.client.TLSConfig; c == nil || c.ClientSessionCache == nil || c.MinVersion < tls.VersionTLS12 {
		t.Fatalf("backend TLS config %+v", c)
	}
}
