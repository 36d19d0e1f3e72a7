package suite

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/switchboard-gw/switchboard/bench/traffic"
	"github.com/switchboard-gw/switchboard/config"
)

// targetDefaults fills the connection options -target leaves unset from
// the embedded default's Messenger connection and API token: what `go run
// ./gateway` serves, so loading it needs no flags. Each option is filled
// on its own, so a gateway with its own configuration is named with
// -connection, -app-secret, -pages and -api-token.
func (o *Options) targetDefaults() error {
	cfg, err := config.Default()
	if err != nil {
		return fmt.Errorf("bench: the embedded default configuration: %w", err)
	}
	if o.APIToken == "" && len(cfg.APITokens) > 0 {
		o.APIToken = cfg.APITokens[0]
	}
	for _, c := range cfg.Connections {
		if c.Messenger == nil {
			continue
		}
		if o.Connection == "" {
			o.Connection = c.Name
		}
		if o.AppSecret == "" {
			o.AppSecret = c.Messenger.AppSecret
		}
		if len(o.Pages) == 0 {
			for _, p := range c.Messenger.Pages {
				o.Pages = append(o.Pages, p.ID)
			}
		}
		return nil
	}
	return errors.New("bench: the embedded default configuration has no Messenger connection")
}

// preflight sends one signed webhook of each channel of the mix to the
// -target gateway before any phase, so a wrong -connection or -app-secret
// fails the run at once with the gateway's own reason, instead of as a
// phase of errors; with -cpuprofile it checks the API token too. The web
// channel is left to startWeb, whose session requests fail with their
// own reasons.
func (s *suite) preflight(ctx context.Context, channels []traffic.Channel) error {
	client := &fasthttp.Client{ReadTimeout: s.o.Timeout, WriteTimeout: s.o.Timeout}
	rnd := newRand(s.o.Seed, 1<<62)
	seen := map[string]bool{}
	for _, sh := range s.mix {
		if seen[sh.Channel] || sh.Channel == traffic.WebName {
			continue
		}
		seen[sh.Channel] = true
		var ch traffic.Channel
		for _, c := range channels {
			if c.Name() == sh.Channel {
				ch = c
			}
		}
		if ch == nil {
			continue // NewGenerator has refused such a mix already
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		var w traffic.Webhook
		ch.Build(&w, sh.Kind, rnd)
		status, body, err := s.post(client, &w)
		if err != nil {
			return fmt.Errorf("bench: -target %s: a signed %s webhook got no answer: %w (is the gateway running there?)", s.o.Target, sh.Channel, err)
		}
		if status < 200 || status > 299 {
			return fmt.Errorf("bench: -target %s refused a signed %s webhook (POST %s): %d %s%s",
				s.o.Target, sh.Channel, w.Path, status, body, s.hint(sh.Channel, path.Base(w.Path), status))
		}
		ch.Acked(&w)
	}
	if s.o.CPUProfile != nil {
		return s.profileAccess()
	}
	return nil
}

// profileAccess checks that the target serves its /debug/pprof to the
// bench's API token, so that -cpuprofile fails before any phase rather
// than after the main one. No error carries the token.
func (s *suite) profileAccess() error {
	status, body, err := s.env.pprofGet("", time.Now().Add(s.o.Timeout+time.Second))
	switch {
	case err != nil:
		return fmt.Errorf("bench: -cpuprofile: -target %s: GET /debug/pprof got no answer: %w", s.o.Target, err)
	case status == fasthttp.StatusOK:
		return nil
	case status == fasthttp.StatusUnauthorized || status == fasthttp.StatusForbidden:
		return fmt.Errorf("bench: -cpuprofile: -target %s refused the API token for its CPU profile (GET /debug/pprof): %d %.200s"+
			"\n  -api-token (or $SWITCHBOARD_API_TOKEN) must be one of its api_tokens", s.o.Target, status, body)
	default:
		return fmt.Errorf("bench: -cpuprofile: -target %s serves no CPU profile (GET /debug/pprof): %d %.200s", s.o.Target, status, body)
	}
}

// post sends w to the target and returns the answer's status and body.
func (s *suite) post(client *fasthttp.Client, w *traffic.Webhook) (int, []byte, error) {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	fillRequest(req, w)
	req.SetRequestURI(s.env.gatewayURL + w.Path)
	if err := client.DoTimeout(req, resp, s.o.Timeout+time.Second); err != nil {
		return 0, nil, err
	}
	return resp.StatusCode(), append([]byte(nil), resp.Body()...), nil
}

// hint says which flag a refusal points at; connection is the one the
// webhook was addressed to (its route's last segment).
func (s *suite) hint(channel, connection string, status int) string {
	meta := channel == traffic.MessengerName || channel == traffic.InstagramName || channel == traffic.WhatsAppName
	switch {
	case status == fasthttp.StatusNotFound && channel == traffic.MessengerName:
		return "\n  -connection must name one of its Messenger connections (now " + strconv.Quote(connection) + ")"
	case status == fasthttp.StatusNotFound:
		return "\n  the bench's " + channel + " traffic needs a connection named " + strconv.Quote(connection) + " there"
	case (status == fasthttp.StatusUnauthorized || status == fasthttp.StatusForbidden) && meta:
		return "\n  -app-secret (or $SWITCHBOARD_BENCH_APP_SECRET) must be that connection's app secret"
	case status == fasthttp.StatusUnauthorized || status == fasthttp.StatusForbidden:
		return "\n  its " + channel + " connection must have the bench's secret (bench/README.md)"
	}
	return ""
}
