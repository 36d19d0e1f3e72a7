// Package ceiling is the bench suite's yardstick: the least a webhook
// receiver can do and still be correct. It reads the body, verifies
// X-Hub-Signature-256 (HMAC-SHA256 keyed with the app secret, compared with
// hmac.Equal) and answers 200, on a plain fasthttp server. The suite drives
// it with the same generator, bodies and settings as the gateway, so every
// gateway figure can be read as a fraction of what the machine, the
// network stack and fasthttp allow.
package ceiling

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// SignatureHeader is where the signature is read.
const SignatureHeader = "X-Hub-Signature-256"

// Server is the minimal receiver. Set Secret before Start.
type Server struct {
	Secret []byte
	// OK and Refused count answers.
	OK, Refused atomic.Uint64

	macs sync.Pool
	srv  *fasthttp.Server
	addr string
}

// Start listens on addr ("" for 127.0.0.1:0) and returns the base URL.
func (s *Server) Start(addr string) (string, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("ceiling: %w", err)
	}
	s.Serve(ln)
	return "http://" + s.addr, nil
}

// Serve serves on ln in the background.
func (s *Server) Serve(ln net.Listener) {
	s.macs.New = func() any { return hmac.New(sha256.New, s.Secret) }
	// The same server settings as the gateway's (gateway/server).
	s.srv = &fasthttp.Server{
		Handler:               s.Handle,
		Name:                  "ceiling",
		MaxRequestBodySize:    1 << 20,
		ReadTimeout:           30 * time.Second,
		WriteTimeout:          30 * time.Second,
		IdleTimeout:           2 * time.Minute,
		NoDefaultServerHeader: true,
	}
	s.addr = ln.Addr().String()
	go s.srv.Serve(ln) //nolint:errcheck // nil on Shutdown
}

// Addr is the listening address.
func (s *Server) Addr() string { return s.addr }

// Close stops the server.
func (s *Server) Close() error {
	if s.srv == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return s.srv.ShutdownWithContext(ctx)
}

// Handle answers one webhook.
func (s *Server) Handle(ctx *fasthttp.RequestCtx) {
	if !ctx.IsPost() || !s.verify(ctx.Request.Header.Peek(SignatureHeader), ctx.PostBody()) {
		s.Refused.Add(1)
		ctx.SetStatusCode(fasthttp.StatusUnauthorized)
		return
	}
	s.OK.Add(1)
	ctx.SetContentType("application/json")
	ctx.SetBodyString(`{"ok":true}`)
}

func (s *Server) verify(sig, body []byte) bool {
	hexSig, ok := bytes.CutPrefix(sig, []byte("sha256="))
	if !ok || len(hexSig) != 2*sha256.Size {
		return false
	}
	var want [sha256.Size]byte
	if _, err := hex.Decode(want[:], hexSig); err != nil {
		return false
	}
	mac := s.macs.Get().(hash.Hash)
	mac.Reset()
	mac.Write(body)
	var sum [sha256.Size]byte
	got := mac.Sum(sum[:0])
	s.macs.Put(mac)
	return hmac.Equal(got, want[:])
}
