package suite

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fastjson"

	"github.com/switchboard-gw/switchboard/bench/ceiling"
	"github.com/switchboard-gw/switchboard/bench/ledger"
	"github.com/switchboard-gw/switchboard/bench/mockbackend"
	"github.com/switchboard-gw/switchboard/bench/traffic"
)

// ceilingWebSessions are sessions the ceiling accepts (ceiling.WebToken).
func ceilingWebSessions(n int) []traffic.WebSession {
	out := make([]traffic.WebSession, n)
	for i := range out {
		out[i] = traffic.WebSession{Token: ceiling.WebToken(i), ChannelID: "wv_ceiling" + strconv.Itoa(i)}
	}
	return out
}

// openWebSessions opens n widget sessions on the gateway, as the widget
// does (POST /web/v1/{conn}/sessions), eight at a time.
func openWebSessions(ctx context.Context, c *http.Client, base string, n int) ([]traffic.WebSession, error) {
	out := make([]traffic.WebSession, n)
	errs := make(chan error, 8)
	var wg sync.WaitGroup
	next := make(chan int)
	for range 8 {
		wg.Go(func() {
			for i := range next {
				ss, err := openWebSession(ctx, c, base)
				if err != nil {
					errs <- err
					return
				}
				out[i] = ss
			}
		})
	}
	var err error
feed:
	for i := range n {
		select {
		case next <- i:
		case err = <-errs:
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err == nil {
		select {
		case err = <-errs:
		default:
		}
	}
	return out, err
}

func openWebSession(ctx context.Context, c *http.Client, base string) (traffic.WebSession, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/web/v1/"+WebConnection+"/sessions", strings.NewReader(`{}`))
	if err != nil {
		return traffic.WebSession{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return traffic.WebSession{}, fmt.Errorf("bench: web session: %w", err)
	}
	defer resp.Body.Close()
	var a struct {
		VisitorID string `json:"visitor_id"`
		Token     string `json:"token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil || resp.StatusCode != http.StatusOK || a.Token == "" {
		return traffic.WebSession{}, fmt.Errorf("bench: web session: HTTP %d (%v)", resp.StatusCode, err)
	}
	return traffic.WebSession{Token: a.Token, ChannelID: a.VisitorID}, nil
}

// readWebStream reads one session's live stream until ctx ends,
// reconnecting after the last frame seen when it drops, and hands every
// bot message naming an event (mockbackend's echo) to the ledger as that
// event's reply to the session's visitor. ready is closed once the first
// connection is open (or ctx ended).
func readWebStream(ctx context.Context, c *http.Client, base string, ss traffic.WebSession, l *ledger.Ledger, ready chan<- struct{}) {
	var last string
	for ctx.Err() == nil {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/web/v1/"+WebConnection+"/stream", nil)
		if err != nil {
			return
		}
		req.Header.Set("Authorization", "Bearer "+ss.Token)
		if last != "" {
			req.Header.Set("Last-Event-ID", last)
		}
		resp, err := c.Do(req)
		if ready != nil {
			close(ready)
			ready = nil
		}
		if err == nil {
			last = readFrames(resp, ss, l, last)
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
	if ready != nil {
		close(ready)
	}
}

// readFrames reads an SSE body and returns the last event id seen.
func readFrames(resp *http.Response, ss traffic.WebSession, l *ledger.Ledger, last string) string {
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return last
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	var p fastjson.Parser
	for sc.Scan() {
		line := sc.Bytes()
		if id, ok := bytes.CutPrefix(line, []byte("id: ")); ok {
			last = string(id)
			continue
		}
		data, ok := bytes.CutPrefix(line, []byte("data: "))
		if !ok {
			continue
		}
		v, err := p.ParseBytes(data)
		if err != nil || string(v.GetStringBytes("from")) != "bot" {
			continue
		}
		if id, ok := mockbackend.EventID(v.GetStringBytes("text")); ok {
			l.Reply(id, []byte(ss.ChannelID), time.Now())
		} else {
			l.UnknownReplies.Add(1)
		}
	}
	return last
}

// startWeb opens the gateway's widget sessions and hands them to gen; with
// a ledger (not -target) it also reads each session's live stream, whose
// bot messages are the replies, until the env closes, and has the ledger
// take events the gateway's answers name (ledger.Late).
func (e *env) startWeb(ctx context.Context, n int, gen *traffic.Web) error {
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: n + 16, DisableCompression: true}}
	sessions, err := openWebSessions(ctx, c, e.gatewayURL, n)
	if err != nil {
		return err
	}
	if e.ledger == nil {
		gen.SetSessions(sessions)
		return nil
	}
	e.ledger.Late = true
	sctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	e.closers = append(e.closers, func() { cancel(); wg.Wait() })
	readies := make([]chan struct{}, n)
	for i, ss := range sessions {
		readies[i] = make(chan struct{})
		wg.Go(func() { withRole("mock", func() { readWebStream(sctx, c, e.gatewayURL, ss, e.ledger, readies[i]) }) })
	}
	for _, r := range readies {
		select {
		case <-r:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	gen.SetSessions(sessions)
	return nil
}
