// Package ceiling is the bench suite's yardstick: the least a webhook
// receiver can do and still be correct. It reads the body, verifies it as
// its channel requires (Meta's X-Hub-Signature-256 by default, Telegram's
// secret token and Viber's signature on their routes, a session token on
// the web widget's) and answers 200, on a
// plain fasthttp server. The suite drives it with the same generator,
// bodies and settings as the gateway, so every gateway figure can be read
// as a fraction of what the machine, the network stack and fasthttp allow.
// The checks are the gateway's own (meta.Signer, the Telegram and Viber
// adapters' Verify: constant-time, allocation-free), so the yardstick
// verifies exactly as the gateway does.
package ceiling

import (
	"bytes"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync/atomic"

	"github.com/valyala/fasthttp"

	"github.com/switchboard-gw/switchboard/adapters/meta"
	"github.com/switchboard-gw/switchboard/adapters/telegram"
	"github.com/switchboard-gw/switchboard/adapters/viber"
	"github.com/switchboard-gw/switchboard/bench/internal/serve"
	"github.com/switchboard-gw/switchboard/config"
)

var (
	telegramRoute = []byte("/webhooks/telegram/")
	viberRoute    = []byte("/webhooks/viber/")
	webRoute      = []byte("/web/v1/")
)

// webSigner keys the session tokens the ceiling accepts on web routes;
// it is meta.Signer, pooled and allocation-free like the other checks.
var webSigner = &meta.Signer{Secret: []byte("switchboard-bench-ceiling-web")}

var errWebToken = errors.New("ceiling: no valid session token")

// WebToken is the i-th session token the ceiling accepts on web routes:
// "wst_<i>_<hex HMAC-SHA256(key, i)>". Checking one is an HMAC and a
// constant-time compare, about what the gateway's own check of a widget
// session (a SHA-256 and a lookup) costs, and needs no shared state, so
// the ceiling run as a subprocess accepts what the generator sends.
func WebToken(i int) string {
	n := strconv.Itoa(i)
	return "wst_" + n + "_" + string(webSigner.Sign(nil, []byte(n))[len("sha256="):])
}

// verifyWeb checks the Authorization header of a web widget call.
func verifyWeb(h *fasthttp.RequestHeader) error {
	tok, ok := bytes.CutPrefix(h.Peek(fasthttp.HeaderAuthorization), []byte("Bearer wst_"))
	n, sum, ok2 := bytes.Cut(tok, []byte{'_'})
	if !ok || !ok2 {
		return errWebToken
	}
	var buf [7 + 2*32]byte
	want := webSigner.Sign(buf[:0], n)[len("sha256="):]
	if subtle.ConstantTimeCompare(want, sum) != 1 {
		return errWebToken
	}
	return nil
}

// SignatureHeader is where the signature is read.
const SignatureHeader = meta.SignatureHeader

// Server is the minimal receiver. Set Secret (and TelegramSecret) before
// Start.
type Server struct {
	Secret []byte
	// TelegramSecret is the secret_token /webhooks/telegram/ routes must
	// carry; ViberToken keys the signature of /webhooks/viber/ routes.
	// Each is checked by the channel's own adapter, as in the gateway;
	// empty refuses the route.
	TelegramSecret, ViberToken []byte
	// OK and Refused count answers.
	OK, Refused atomic.Uint64

	signer   *meta.Signer
	telegram *telegram.Adapter
	viber    *viber.Adapter
	srv      *fasthttp.Server
	addr     string
}

// Start listens on addr ("" for 127.0.0.1:0) and returns the base URL.
func (s *Server) Start(addr string) (string, error) {
	ln, err := serve.Listen(addr)
	if err != nil {
		return "", fmt.Errorf("ceiling: %w", err)
	}
	s.Serve(ln)
	return "http://" + s.addr, nil
}

// Serve serves on ln in the background.
func (s *Server) Serve(ln net.Listener) {
	s.setup()
	s.srv = serve.LikeGateway("ceiling", s.Handle)
	s.addr = ln.Addr().String()
	go s.srv.Serve(ln) //nolint:errcheck // nil on Shutdown
}

// setup builds the verifiers from the secrets.
func (s *Server) setup() {
	s.signer = &meta.Signer{Secret: s.Secret}
	s.telegram = telegram.New("ceiling", &config.Telegram{Token: "0:ceiling", SecretToken: string(s.TelegramSecret)})
	s.viber = viber.New("ceiling", &config.Viber{BotID: "ceiling", AuthToken: string(s.ViberToken)})
}

// Addr is the listening address.
func (s *Server) Addr() string { return s.addr }

// Close stops the server.
func (s *Server) Close() error {
	return serve.Shutdown(s.srv)
}

// Handle answers one webhook.
func (s *Server) Handle(ctx *fasthttp.RequestCtx) {
	var err error
	switch h, body := &ctx.Request.Header, ctx.PostBody(); {
	case bytes.HasPrefix(ctx.Path(), telegramRoute):
		err = s.telegram.Verify(h, body)
	case bytes.HasPrefix(ctx.Path(), viberRoute):
		err = s.viber.Verify(h, body)
	case bytes.HasPrefix(ctx.Path(), webRoute):
		err = verifyWeb(h)
	default:
		err = s.signer.Verify(h, body)
	}
	if !ctx.IsPost() || err != nil {
		s.Refused.Add(1)
		ctx.SetStatusCode(fasthttp.StatusUnauthorized)
		return
	}
	s.OK.Add(1)
	ctx.SetContentType("application/json")
	ctx.SetBodyString(`{"ok":true}`)
}
