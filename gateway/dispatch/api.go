package dispatch

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/switchboard-gw/switchboard/adapters"
	"github.com/switchboard-gw/switchboard/gateway/connections"
	"github.com/switchboard-gw/switchboard/gateway/identity"
	"github.com/switchboard-gw/switchboard/gateway/store"
	"github.com/switchboard-gw/switchboard/normalize"
)

// RequestError is an API request that cannot be served as asked.
type RequestError struct {
	Status int
	Code   string
	Msg    string
	// RetryAfter is set with 503 breaker_open.
	RetryAfter time.Duration
}

func (e *RequestError) Error() string { return e.Code + ": " + e.Msg }

// MaxMessages caps the replies in one /v1/messages request.
const MaxMessages = 100

// route finds the connection serving the bot of responsePath. name, when
// given, must be that connection; without it the bot id must belong to
// exactly one connection.
func (d *Dispatcher) route(name, responsePath string) (*connections.Conn, string, error) {
	bot, _, err := normalize.ParseResponsePath(responsePath)
	if err != nil {
		return nil, "", &RequestError{Status: 400, Code: "bad_response_path", Msg: "response_path must be {bot_id}/c/{channel_id}"}
	}
	if name != "" {
		c := d.Conns.Get(name)
		if c == nil {
			return nil, "", &RequestError{Status: 404, Code: "unknown_connection", Msg: "no connection named " + name}
		}
		return c, bot, nil
	}
	cs := d.Conns.ByBot(bot)
	switch len(cs) {
	case 0:
		return nil, "", &RequestError{Status: 404, Code: "unknown_bot", Msg: "no connection serves bot " + bot}
	case 1:
		return cs[0], bot, nil
	}
	return nil, "", &RequestError{Status: 400, Code: "ambiguous_bot", Msg: "several connections serve bot " + bot + "; name one in \"connection\""}
}

// Send sends the replies of one /v1/messages request in order and returns
// one result per reply. It fails as a whole only before anything is sent:
// a bad request, or the bot's breaker open (503 with Retry-After).
func (d *Dispatcher) Send(ctx context.Context, connection string, req *normalize.MessagesRequest) ([]normalize.SendResult, error) {
	if req.ResponsePath == "" {
		if req.ProvidedID == "" {
			return nil, &RequestError{Status: 400, Code: "missing_response_path", Msg: "response_path or provided_id is required"}
		}
		path, err := d.pathOf(connection, req.ProvidedID)
		if err != nil {
			return nil, err
		}
		req.ResponsePath = path
	}
	if len(req.Messages) == 0 || len(req.Messages) > MaxMessages {
		return nil, &RequestError{Status: 400, Code: "bad_messages", Msg: fmt.Sprintf("messages must hold 1 to %d replies", MaxMessages)}
	}
	conn, bot, err := d.route(connection, req.ResponsePath)
	if err != nil {
		return nil, err
	}
	if conn.Outbound == nil {
		return nil, &RequestError{Status: 400, Code: "cannot_send", Msg: "connection " + conn.Name + " cannot send"}
	}
	if open := d.openFor(d.breakerFor(conn.Name, bot)); open > 0 {
		return nil, &RequestError{Status: 503, Code: "breaker_open", Msg: "the channel's circuit breaker for this bot is open", RetryAfter: open}
	}
	results := make([]normalize.SendResult, len(req.Messages))
	chans := make([]chan normalize.SendResult, len(req.Messages))
	for i, m := range req.Messages {
		j, err := d.newJob(conn.Name, req.ResponsePath, m)
		if err != nil {
			return nil, &RequestError{Status: 400, Code: "bad_response_path", Msg: err.Error()}
		}
		ch := make(chan normalize.SendResult, 1)
		j.caller, j.done, chans[i] = ctx, ch, ch
		if !d.queue.Push(store.ConversationKey(conn.Name, req.ResponsePath), j) {
			return nil, &RequestError{Status: 503, Code: "shutting_down", Msg: "the gateway is shutting down", RetryAfter: time.Second}
		}
	}
	for i, ch := range chans {
		results[i] = <-ch
	}
	return results, nil
}

// People finds a person by the customer's own user id; the identity
// resolver satisfies it.
type People interface {
	FindProvided(providedID string) (*identity.Person, error)
}

// pathOf picks the conversation to reach a person by provided id: among
// their response paths that a connection (the named one, when given) can
// send to, the one they last wrote from, so a reply lands where the
// person is talking now.
func (d *Dispatcher) pathOf(connection, providedID string) (string, error) {
	if d.People == nil {
		return "", &RequestError{Status: 422, Code: "provided_id_unsupported", Msg: "no identity resolver: address by response_path"}
	}
	person, err := d.People.FindProvided(providedID)
	if errors.Is(err, identity.ErrNotFound) {
		return "", &RequestError{Status: 404, Code: "unknown_person", Msg: "no person with this provided_id"}
	}
	if err != nil {
		return "", &RequestError{Status: 503, Code: "store", Msg: err.Error(), RetryAfter: time.Second}
	}
	best, bestAt := "", int64(-1)
	for _, p := range person.ResponsePaths {
		conn, _, err := d.route(connection, p)
		if err != nil || conn.Outbound == nil {
			continue
		}
		var at int64
		if b, err := d.Store.Get(store.BucketWindow, store.ConversationKey(conn.Name, p)); err == nil && len(b) == 8 {
			at = int64(binary.BigEndian.Uint64(b))
		}
		if at > bestAt {
			best, bestAt = p, at
		}
	}
	if best == "" {
		return "", &RequestError{Status: 404, Code: "no_reachable_path", Msg: "the person has no conversation a connection can send to"}
	}
	return best, nil
}

// HandoverRequest is the body of POST /v1/handover.
type HandoverRequest struct {
	Connection   string `json:"connection,omitempty"`
	ResponsePath string `json:"response_path"`
	Action       string `json:"action"`
	TargetAppID  string `json:"target_app_id,omitempty"`
	Metadata     string `json:"metadata,omitempty"`
}

var appID = regexp.MustCompile(`^[0-9]{1,20}$`)

// Handover runs one handover-protocol action through the bot's breaker and
// returns the thread owner for action owner.
func (d *Dispatcher) Handover(ctx context.Context, req *HandoverRequest) (string, error) {
	switch req.Action {
	case "inbox", "take", "request", "release", "owner":
	case "pass":
		if !appID.MatchString(req.TargetAppID) {
			return "", &RequestError{Status: 400, Code: "bad_target_app_id", Msg: "pass needs a numeric target_app_id"}
		}
	default:
		return "", &RequestError{Status: 400, Code: "bad_action", Msg: "action must be inbox, pass, take, request, release or owner"}
	}
	conn, bot, err := d.route(req.Connection, req.ResponsePath)
	if err != nil {
		return "", err
	}
	if conn.Handover == nil {
		return "", &RequestError{Status: 400, Code: "no_handover", Msg: "channel " + conn.Channel + " has no handover protocol"}
	}
	b := d.breakerFor(conn.Name, bot)
	if open := d.openFor(b); open > 0 {
		return "", &RequestError{Status: 503, Code: "breaker_open", Msg: "the channel's circuit breaker for this bot is open", RetryAfter: open}
	}
	_, user, _ := normalize.ParseResponsePath(req.ResponsePath)
	var owner string
	_, err = b.cb.Execute(func() (adapters.Sent, error) {
		cctx, cancel := context.WithTimeout(ctx, d.Timeout)
		defer cancel()
		var err error
		owner, err = conn.Handover.Handover(cctx, adapters.Recipient{BotID: bot, ChannelID: user}, req.Action, req.TargetAppID, req.Metadata)
		return adapters.Sent{}, err
	})
	return owner, err
}
